-- A lost webhook never strands a journey: vendors give up on webhooks, and a
-- vendor that offers a cursor-based "events since" feed lets carepath learn
-- what it missed by asking. What the feed gives goes into the same inbox as
-- the webhooks, under the same dedup key (the vendor's event id), so an event
-- that arrives both ways is stored and routed once.

-- Where carepath has read each vendor's feed up to. Of several workers, one
-- reads a vendor's feed at a time: it takes the lease with one UPDATE, holds
-- no transaction open across the vendor call, and writes the cursor back only
-- while the lease is still its own — so a reader that lost its lease (it took
-- longer than the lease, another took over) cannot move the cursor back.
CREATE TABLE carepath.vendor_feeds (
    vendor        text PRIMARY KEY,
    -- The vendor's own opaque cursor, after the last event stored; NULL
    -- reads from the vendor's first event.
    cursor        text,
    leased_until  timestamptz,
    lease_holder  uuid,
    -- The last read, good or failed.
    polled_at     timestamptz,
    -- The last read without error (how long a feed has been failing:
    -- `carepath_feed_last_success_age_seconds`); NULL before the first.
    succeeded_at  timestamptz,
    -- Why the last read failed, for operators (statuses and the vendor's
    -- message, never an event's content); NULL after a good read.
    last_error    text,
    events_stored bigint NOT NULL DEFAULT 0
);

-- How an inbox row first arrived: pushed by its vendor or read from its feed.
-- The same event arriving later the other way only counts a delivery, so this
-- tells operators how many events the feed recovered.
ALTER TABLE carepath.webhook_inbox ADD COLUMN source text NOT NULL DEFAULT 'webhook';
-- NOT VALID: every existing row has the default, so there is nothing to check,
-- and checking would scan the inbox under this migration's exclusive lock.
ALTER TABLE carepath.webhook_inbox ADD CONSTRAINT webhook_inbox_source_check
    CHECK (source IN ('webhook', 'feed')) NOT VALID;
