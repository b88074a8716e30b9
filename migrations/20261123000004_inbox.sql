-- The webhook inbox: every verified webhook is stored here, raw, before it is
-- acknowledged; routing to journeys happens afterwards, from the stored row.
CREATE TABLE carepath.webhook_inbox (
    id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    vendor       text        NOT NULL,
    -- The vendor's event id, or a SHA-256 of the body when it gives none.
    dedup_key    text        NOT NULL,
    event_type   text,
    body         bytea       NOT NULL,
    headers      jsonb       NOT NULL DEFAULT '{}',
    received_at  timestamptz NOT NULL DEFAULT now(),
    deliveries   integer     NOT NULL DEFAULT 1,
    status       text        NOT NULL DEFAULT 'received'
        CHECK (status IN ('received', 'applied', 'unmatched')),
    journey_id   uuid,
    note         text,
    processed_at timestamptz,
    CONSTRAINT webhook_inbox_dedup UNIQUE (vendor, dedup_key)
);

CREATE INDEX webhook_inbox_pending ON carepath.webhook_inbox (id) WHERE status = 'received';
CREATE INDEX webhook_inbox_unmatched ON carepath.webhook_inbox (id) WHERE status = 'unmatched';

-- Webhooks refused at the door (bad signature, stale timestamp, malformed body).
CREATE TABLE carepath.webhook_rejections (
    id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    vendor       text        NOT NULL,
    received_at  timestamptz NOT NULL DEFAULT now(),
    status_code  integer     NOT NULL,
    reason       text        NOT NULL,
    body_sha256  text        NOT NULL,
    body_bytes   integer     NOT NULL
);

-- Which journey a vendor's resource belongs to (a case, an order), so that
-- the vendor's webhooks about it reach that journey.
CREATE TABLE carepath.journey_refs (
    vendor      text NOT NULL,
    kind        text NOT NULL,
    ref         text NOT NULL,
    journey_id  uuid NOT NULL REFERENCES carepath.journeys (id),
    PRIMARY KEY (vendor, kind, ref)
);
