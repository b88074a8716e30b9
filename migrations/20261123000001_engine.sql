-- The durable journey engine: journeys, their memoized steps, their signals and
-- their append-only, hash-chained history. apalis-postgres's own tables live in
-- the `apalis` schema and are created by its bundled migrations (see README).

CREATE SCHEMA IF NOT EXISTS carepath;

CREATE TABLE carepath.journeys (
    id               uuid PRIMARY KEY,
    workflow         text        NOT NULL,
    version          integer     NOT NULL,
    idempotency_key  text        NOT NULL,
    status           text        NOT NULL DEFAULT 'running'
        CHECK (status IN ('running', 'waiting', 'paused', 'failed', 'completed', 'cancelled')),
    phase            text        NOT NULL DEFAULT 'started',
    -- What a waiting or paused journey waits for: `timer:<step>`, `signal:<name>`,
    -- `retry:<step>` (a vendor name may follow in later issues).
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
    CONSTRAINT journeys_idempotency_key UNIQUE (idempotency_key)
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

-- The built-in `probe` workflow's stand-in for a vendor: one row per
-- (journey, step) idempotency key, and how often that key was presented.
CREATE TABLE carepath.probe_effects (
    journey_id  uuid    NOT NULL,
    step_key    text    NOT NULL,
    nonce       uuid    NOT NULL,
    calls       integer NOT NULL DEFAULT 1,
    PRIMARY KEY (journey_id, step_key)
);
