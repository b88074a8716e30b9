-- carepath-engine's schema, as of the split of the engine into its own crate
-- (it is the end state of the engine's part of the application migrations
-- 20261123000001..20261130000002, which a database migrated before the split
-- has already applied: see `carepath_engine::migrate`).
--
-- The durable journey engine: journeys, their memoized steps, their signals and
-- their append-only, hash-chained history; the webhook inbox; the alerts
-- journeys raise for people. apalis-postgres's own tables live in the `apalis`
-- schema and are created by its bundled migrations.

CREATE SCHEMA IF NOT EXISTS carepath;

CREATE TABLE carepath.journeys (
    id               uuid PRIMARY KEY,
    workflow         text        NOT NULL,
    version          integer     NOT NULL,
    idempotency_key  text        NOT NULL,
    status           text        NOT NULL DEFAULT 'running'
        CHECK (status IN ('running', 'waiting', 'paused', 'failed', 'completed', 'cancelled')),
    phase            text        NOT NULL DEFAULT 'started',
    -- What a waiting or paused journey waits for (`carepath_engine::WaitingFor`):
    -- `timer:<step>`, `signal:<name>`, `retry:<step>`, `vendor:<vendor>`,
    -- `code:<workflow>@v<version>`, or what the application names.
    waiting_for      text,
    -- When the journey must run next; NULL when only a signal or an operator can move it.
    wake_at          timestamptz,
    input            jsonb       NOT NULL,
    output           jsonb,
    last_error       text,
    -- Attempts of the step currently being retried (0 when nothing fails).
    attempts         integer     NOT NULL DEFAULT 0,
    -- Bumped on every push of a wake-up task; the task carries it and its
    -- idempotency key is `<id>:<fence>`, which is how "has a live task" is asked.
    fence            bigint      NOT NULL DEFAULT 0,
    history_seq      bigint      NOT NULL DEFAULT 0,
    -- The history_seq when the journey was last claimed, and how many claims
    -- in a row found it unchanged: a run that never gets anywhere is failed.
    claim_seq        bigint      NOT NULL DEFAULT 0,
    stalled_runs     integer     NOT NULL DEFAULT 0,
    history_head     text        NOT NULL DEFAULT '',
    created_at       timestamptz NOT NULL DEFAULT now(),
    updated_at       timestamptz NOT NULL DEFAULT now(),
    finished_at      timestamptz,
    -- The W3C traceparent of the request that started the journey: every later
    -- run, on whatever worker and however much later, links back to it.
    trace_context    text,
    -- Idempotency keys are scoped to their workflow, and a key names one
    -- request: the digest of the canonical input it started (jsonb's text
    -- form is canonical), so a reuse with a different request is refused.
    -- NULL for journeys started before digests were kept.
    request_digest   text,
    CONSTRAINT journeys_idempotency_key UNIQUE (workflow, idempotency_key)
-- Every history append updates the row (chain head, updated_at); free space on
-- each page keeps those updates HOT, off the indexes.
) WITH (fillfactor = 80);

CREATE INDEX journeys_due ON carepath.journeys (wake_at)
    WHERE status IN ('running', 'waiting');
CREATE INDEX journeys_status_created ON carepath.journeys (status, created_at, id);
CREATE INDEX journeys_created ON carepath.journeys (created_at, id);

-- One row per position in a journey's execution: steps, timers and signal waits.
CREATE TABLE carepath.journey_steps (
    journey_id      uuid        NOT NULL REFERENCES carepath.journeys (id),
    seq             integer     NOT NULL,
    key             text        NOT NULL,
    kind            text        NOT NULL CHECK (kind IN ('step', 'sleep', 'signal')),
    status          text        NOT NULL
        CHECK (status IN ('completed', 'retrying', 'failed', 'waiting')),
    output          jsonb,
    attempts        integer     NOT NULL DEFAULT 0,
    last_error      text,
    -- Timers: when it fires. Signal waits: the timeout. Retries: the next attempt.
    due_at          timestamptz,
    started_at      timestamptz NOT NULL DEFAULT now(),
    finished_at     timestamptz,
    PRIMARY KEY (journey_id, seq)
);

CREATE TABLE carepath.signals (
    id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    journey_id    uuid        NOT NULL REFERENCES carepath.journeys (id),
    name          text        NOT NULL,
    source        text        NOT NULL,
    event_id      text        NOT NULL,
    payload       jsonb       NOT NULL DEFAULT 'null',
    received_at   timestamptz NOT NULL DEFAULT now(),
    consumed_at   timestamptz,
    consumed_seq  integer,
    CONSTRAINT signals_dedup UNIQUE (journey_id, source, event_id)
);

CREATE INDEX signals_pending ON carepath.signals (journey_id, name, id)
    WHERE consumed_at IS NULL;

CREATE TABLE carepath.journey_history (
    journey_id  uuid        NOT NULL REFERENCES carepath.journeys (id),
    seq         bigint      NOT NULL,
    at          timestamptz NOT NULL,
    actor       text        NOT NULL,
    kind        text        NOT NULL,
    detail      jsonb       NOT NULL DEFAULT '{}',
    prev_hash   text        NOT NULL,
    hash        text        NOT NULL,
    PRIMARY KEY (journey_id, seq)
);

-- The text that is hashed; carepath-workflows' history verifier rebuilds the same
-- text from the stored columns, so the two must stay in step. Free-text fields
-- are length-prefixed so that no shift of characters between them keeps the hash.
CREATE FUNCTION carepath.history_hash_input(
    prev_hash text, seq bigint, journey_id uuid, at timestamptz,
    actor text, kind text, detail jsonb
) RETURNS text LANGUAGE sql IMMUTABLE AS $$
    SELECT prev_hash || '|' || seq::text || '|' || journey_id::text || '|'
        || (extract(epoch FROM at) * 1000000)::bigint::text || '|'
        || length(actor)::text || ':' || actor || '|'
        || length(kind)::text || ':' || kind || '|'
        || length(detail::text)::text || ':' || detail::text
$$;

-- Chains each new event to the journey's previous one. Updating the journey row
-- takes its lock, so concurrent appends to one journey are serialised and the
-- chain never forks; it also records the journey's last activity.
CREATE FUNCTION carepath.history_chain() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    prev text;
    next_seq bigint;
BEGIN
    NEW.at := clock_timestamp();
    SELECT history_seq + 1, history_head INTO next_seq, prev
      FROM carepath.journeys WHERE id = NEW.journey_id FOR UPDATE;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'history for unknown journey %', NEW.journey_id;
    END IF;
    NEW.seq := next_seq;
    NEW.prev_hash := prev;
    NEW.hash := encode(sha256(convert_to(carepath.history_hash_input(
        prev, next_seq, NEW.journey_id, NEW.at, NEW.actor, NEW.kind, NEW.detail), 'UTF8')), 'hex');
    UPDATE carepath.journeys
       SET history_seq = next_seq, history_head = NEW.hash, updated_at = NEW.at
     WHERE id = NEW.journey_id;
    RETURN NEW;
END;
$$;

CREATE TRIGGER journey_history_chain BEFORE INSERT ON carepath.journey_history
    FOR EACH ROW EXECUTE FUNCTION carepath.history_chain();

CREATE FUNCTION carepath.history_is_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'journey_history is append-only: % is refused', TG_OP
        USING ERRCODE = 'insufficient_privilege';
END;
$$;

CREATE TRIGGER journey_history_append_only
    BEFORE UPDATE OR DELETE ON carepath.journey_history
    FOR EACH ROW EXECUTE FUNCTION carepath.history_is_append_only();

CREATE TRIGGER journey_history_no_truncate
    BEFORE TRUNCATE ON carepath.journey_history
    FOR EACH STATEMENT EXECUTE FUNCTION carepath.history_is_append_only();

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
    -- Rows that cannot be processed are parked with their error (never retried
    -- ahead of the rows behind them); events about a resource whose journey
    -- does not receive them are ignored, visibly; an operator may set one
    -- aside for good (skipped).
    status       text        NOT NULL DEFAULT 'received'
        CONSTRAINT webhook_inbox_status_check
        CHECK (status IN ('received', 'applied', 'unmatched', 'parked', 'ignored', 'skipped')),
    journey_id   uuid,
    note         text,
    processed_at timestamptz,
    -- An event can outrun the journey's record of the resource it is about: it
    -- is looked at again, with growing pauses, for a grace period before it is
    -- parked as unmatched.
    route_attempts integer     NOT NULL DEFAULT 0,
    route_after    timestamptz NOT NULL DEFAULT now(),
    -- The resources an unmatched event names (`case:<id>`), written by the
    -- router that read them, so linking a resource later finds its early events.
    refs         text[]      NOT NULL DEFAULT '{}',
    -- How the row first arrived: pushed by its vendor or read from its feed.
    source       text        NOT NULL DEFAULT 'webhook'
        CONSTRAINT webhook_inbox_source_check CHECK (source IN ('webhook', 'feed')),
    CONSTRAINT webhook_inbox_dedup UNIQUE (vendor, dedup_key)
);

CREATE INDEX webhook_inbox_pending ON carepath.webhook_inbox (id) WHERE status = 'received';
CREATE INDEX webhook_inbox_unmatched ON carepath.webhook_inbox (id) WHERE status = 'unmatched';
CREATE INDEX webhook_inbox_parked ON carepath.webhook_inbox (id) WHERE status = 'parked';
CREATE INDEX webhook_inbox_unmatched_refs ON carepath.webhook_inbox USING gin (refs)
    WHERE status = 'unmatched';

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

-- Alerts journeys raise for people (a decision past its SLA, a stuck order).
-- An alert stays open until the journey gets past its cause or ends; overdue
-- lists and the open-alert gauge count only open ones.
CREATE TABLE carepath.alerts (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    journey_id  uuid        NOT NULL REFERENCES carepath.journeys (id),
    kind        text        NOT NULL,
    detail      jsonb       NOT NULL DEFAULT '{}',
    raised_at   timestamptz NOT NULL DEFAULT now(),
    -- One alert of a kind per journey and occasion (a step key): re-runs do not repeat it.
    occasion    text        NOT NULL,
    resolved_at timestamptz,
    resolution  text,
    CONSTRAINT alerts_once UNIQUE (journey_id, kind, occasion)
);
CREATE INDEX alerts_kind_raised ON carepath.alerts (kind, raised_at);
CREATE INDEX alerts_open ON carepath.alerts (journey_id) WHERE resolved_at IS NULL;
