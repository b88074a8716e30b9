-- journey_steps and journey_history, the tables that grow with every step,
-- become partitioned (PostgreSQL declarative partitioning) by journey: one
-- range of journey ids per calendar month (UTC). Journey ids are UUIDv7,
-- whose first 48 bits are the Unix time in milliseconds when the journey
-- started (RFC 9562 §5.7), so all of a journey's rows lie in the partition of
-- the month it started, every lookup by journey reads one partition, and a
-- month whose journeys have all ended and had their PHI erased can be
-- detached whole (`carepath_engine::retention`) instead of deleted row by
-- row. Ids in no month's range (not v7, or a month not yet created) go to
-- the default partition, which is never detached.
--
-- Upgrading copies both tables once, under this migration's lock: its
-- time grows with their size.

-- The smallest UUIDv7 of the millisecond `t`: the lower bound of the ids of
-- journeys started at or after `t`.
CREATE FUNCTION carepath.v7_floor(t timestamptz) RETURNS uuid
LANGUAGE sql IMMUTABLE STRICT AS $$
    SELECT (lpad(to_hex(floor(extract(epoch FROM t) * 1000)::bigint), 12, '0')
            || '00000000000000000000')::uuid
$$;

-- Creates the month partitions of both tables from the month of `first` to
-- that of `last` (UTC) that do not exist yet; how many it created. One
-- caller at a time (an advisory lock), so workers may all call it.
CREATE FUNCTION carepath.create_journey_partitions(first timestamptz, last timestamptz)
RETURNS integer LANGUAGE plpgsql AS $$
DECLARE
    month timestamp := date_trunc('month', first AT TIME ZONE 'UTC');
    table_name text;
    partition text;
    made integer := 0;
BEGIN
    PERFORM pg_advisory_xact_lock(hashtext('carepath.journey_partitions'));
    WHILE month <= last AT TIME ZONE 'UTC' LOOP
        FOREACH table_name IN ARRAY ARRAY['journey_steps', 'journey_history'] LOOP
            partition := table_name || '_' || to_char(month, 'YYYY_MM');
            -- A month archived before (moved to carepath_archive) is not
            -- made again: its ids are past.
            IF to_regclass('carepath.' || partition) IS NULL
               AND to_regclass('carepath_archive.' || partition) IS NULL THEN
                EXECUTE format(
                    'CREATE TABLE carepath.%I PARTITION OF carepath.%I FOR VALUES FROM (%L) TO (%L)',
                    partition, table_name,
                    carepath.v7_floor(month AT TIME ZONE 'UTC'),
                    carepath.v7_floor((month + interval '1 month') AT TIME ZONE 'UTC'));
                made := made + 1;
            END IF;
        END LOOP;
        month := month + interval '1 month';
    END LOOP;
    RETURN made;
END
$$;

CREATE SCHEMA IF NOT EXISTS carepath_archive;

ALTER TABLE carepath.journey_steps RENAME TO journey_steps_unpartitioned;
ALTER TABLE carepath.journey_steps_unpartitioned
    RENAME CONSTRAINT journey_steps_pkey TO journey_steps_unpartitioned_pkey;
CREATE TABLE carepath.journey_steps (
    journey_id  uuid        NOT NULL
        CONSTRAINT journey_steps_journey_id_fkey REFERENCES carepath.journeys (id),
    seq         integer     NOT NULL,
    key         text        NOT NULL,
    kind        text        NOT NULL
        CONSTRAINT journey_steps_kind_check CHECK (kind IN ('step', 'sleep', 'signal')),
    status      text        NOT NULL
        CONSTRAINT journey_steps_status_check
        CHECK (status IN ('completed', 'retrying', 'failed', 'waiting', 'cancelled')),
    output      jsonb,
    attempts    integer     NOT NULL DEFAULT 0,
    last_error  text,
    -- Timers: when it fires. Signal waits: the timeout. Retries: the next attempt.
    due_at      timestamptz,
    started_at  timestamptz NOT NULL DEFAULT now(),
    finished_at timestamptz,
    CONSTRAINT journey_steps_pkey PRIMARY KEY (journey_id, seq)
) PARTITION BY RANGE (journey_id);
CREATE TABLE carepath.journey_steps_default PARTITION OF carepath.journey_steps DEFAULT;

ALTER TABLE carepath.journey_history RENAME TO journey_history_unpartitioned;
ALTER TABLE carepath.journey_history_unpartitioned
    RENAME CONSTRAINT journey_history_pkey TO journey_history_unpartitioned_pkey;
ALTER INDEX carepath.journey_history_at RENAME TO journey_history_unpartitioned_at;
CREATE TABLE carepath.journey_history (
    journey_id  uuid        NOT NULL
        CONSTRAINT journey_history_journey_id_fkey REFERENCES carepath.journeys (id),
    seq         bigint      NOT NULL,
    at          timestamptz NOT NULL,
    actor       text        NOT NULL,
    kind        text        NOT NULL,
    detail      jsonb       NOT NULL DEFAULT '{}',
    prev_hash   text        NOT NULL,
    hash        text        NOT NULL,
    CONSTRAINT journey_history_pkey PRIMARY KEY (journey_id, seq)
) PARTITION BY RANGE (journey_id);
CREATE TABLE carepath.journey_history_default PARTITION OF carepath.journey_history DEFAULT;
CREATE INDEX journey_history_at ON carepath.journey_history (at, journey_id, seq);

-- Every month from the first journey's (of those with v7 ids) to three
-- months ahead, before the rows are copied, so they land in their months.
SELECT carepath.create_journey_partitions(
    coalesce(
        (SELECT min(to_timestamp(('x' || substr(replace(id::text, '-', ''), 1, 12))::bit(48)::bigint
                                 / 1000.0))
           FROM carepath.journeys
          WHERE substr(id::text, 15, 1) = '7' AND id >= carepath.v7_floor('2020-01-01')),
        now()),
    now() + interval '3 months');

INSERT INTO carepath.journey_steps SELECT * FROM carepath.journey_steps_unpartitioned;
DROP TABLE carepath.journey_steps_unpartitioned;

-- The chain trigger is attached after the copy: copied events keep the
-- sequence numbers and hashes they were chained with.
INSERT INTO carepath.journey_history SELECT * FROM carepath.journey_history_unpartitioned;
DROP TABLE carepath.journey_history_unpartitioned;
CREATE TRIGGER journey_history_chain BEFORE INSERT ON carepath.journey_history
    FOR EACH ROW EXECUTE FUNCTION carepath.history_chain();
CREATE TRIGGER journey_history_append_only
    BEFORE UPDATE OR DELETE ON carepath.journey_history
    FOR EACH ROW EXECUTE FUNCTION carepath.history_is_append_only();
CREATE TRIGGER journey_history_no_truncate
    BEFORE TRUNCATE ON carepath.journey_history
    FOR EACH STATEMENT EXECUTE FUNCTION carepath.history_is_append_only();
