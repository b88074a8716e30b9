-- The inbox is routed in partitions side by side (`carepath_engine::inbox`):
-- each stored event carries its partition, chosen when it is stored by the
-- journey that owns what it is about (else by its first resource). NULL: an
-- event stored before this migration, or by a build that does not know
-- partitions (a rolling upgrade); those are routed first, in order, by one
-- router holding the whole inbox's lock, and no partition is routed while
-- one of them is due.
ALTER TABLE carepath.webhook_inbox ADD COLUMN route_partition smallint;
CREATE INDEX webhook_inbox_pending_partition ON carepath.webhook_inbox (route_partition, id)
    WHERE status = 'received';
