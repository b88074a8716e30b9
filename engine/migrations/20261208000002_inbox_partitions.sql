-- The inbox is routed in partitions side by side (`carepath_engine::inbox`):
-- each stored event carries the partition its first resource maps to
-- (`webhook_source::inbox_partition`), computed when it is stored. Events
-- stored before this migration are routed in partition 0, in order.
ALTER TABLE carepath.webhook_inbox ADD COLUMN route_partition smallint NOT NULL DEFAULT 0;
