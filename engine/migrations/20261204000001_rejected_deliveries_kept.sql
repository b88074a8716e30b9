-- A webhook refused at the door (a secret not yet set, a clock out of step)
-- keeps its body and headers for a while, so that once the cause is fixed an
-- operator can replay it through the door's own checks
-- (POST /v1/inbox/rejections/{id}/replay). Bounded: bodies up to 64 KiB, of
-- the last 1,000 rejections, for 72 hours (`store::inbox::reject` clears older
-- ones); after that only the digest and size stay, as before.
ALTER TABLE carepath.webhook_rejections
    ADD COLUMN body           bytea,
    ADD COLUMN headers        jsonb,
    ADD COLUMN replayed_at    timestamptz,
    ADD COLUMN replay_outcome text;

CREATE INDEX webhook_rejections_kept ON carepath.webhook_rejections (received_at)
    WHERE body IS NOT NULL;
