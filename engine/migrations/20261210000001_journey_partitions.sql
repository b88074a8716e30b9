-- journey_steps and journey_history, the tables that grow with every step,
-- become partitioned (PostgreSQL declarative partitioning) by journey: one
-- range of journey ids per calendar month (UTC). Journey ids are UUIDv7,
-- whose first 48 bits are the Unix time in milliseconds when the journey
-- started (RFC 9562 §5.7), so all of a journey's rows lie in the partition of
-- the month it started, every lookup by journey reads one partition, and a
-- month whose journeys have all ended and had their PHI erased can be
-- detached whole (`carepath_engine::retention`) instead of deleted row by
-- row. Ids in no month's range (a month not made in time, or an id of
-- another version whose bits fall outside every month made) go to the
-- default partition, which is never detached.
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

-- The month (`YYYY_MM`, UTC) whose range holds the id: for a UUIDv7, the
-- month it was made in. Ranges look at the bits only, so an id of another
-- version lands in whichever month its first 48 bits read as (most of them
-- centuries away, in the default partition).
CREATE FUNCTION carepath.v7_month(id uuid) RETURNS text
LANGUAGE sql STABLE STRICT AS $$
    SELECT to_char(to_timestamp(('x' || substr(replace(id::text, '-', ''), 1, 12))::bit(48)::bigint
                                / 1000.0) AT TIME ZONE 'UTC', 'YYYY_MM')
$$;

-- The months whose partitions retention archived (moved to
-- carepath_archive), so that a history dumped and dropped from there reads
-- as retired rather than broken.
CREATE TABLE carepath.archived_months (
    month       text        PRIMARY KEY,
    archived_at timestamptz NOT NULL DEFAULT now()
);

-- Creates the month partitions of both tables from the month of `first` to
-- that of `last` (UTC) that do not exist yet; how many it created. One
-- caller at a time: another finds the lock taken and makes none (workers'
-- reconcilers all call it). A month some of whose rows already sit in
-- either default partition (ids of a month not made in time) is left there
-- for both tables, with a warning: making it would mean moving them under
-- the tables' lock. That is found through the defaults' primary keys,
-- before the tables' lock is asked for.
CREATE FUNCTION carepath.create_journey_partitions(first timestamptz, last timestamptz)
RETURNS integer LANGUAGE plpgsql AS $$
DECLARE
    month timestamp := date_trunc('month', first AT TIME ZONE 'UTC');
    low uuid;
    high uuid;
    table_name text;
    partition text;
    made integer := 0;
    month_made integer;
BEGIN
    IF NOT pg_try_advisory_xact_lock(hashtext('carepath.journey_partitions')) THEN
        RETURN 0;
    END IF;
    WHILE month <= last AT TIME ZONE 'UTC' LOOP
        low := carepath.v7_floor(month AT TIME ZONE 'UTC');
        high := carepath.v7_floor((month + interval '1 month') AT TIME ZONE 'UTC');
        IF EXISTS (SELECT 1 FROM carepath.journey_steps_default
                    WHERE journey_id >= low AND journey_id < high)
           OR EXISTS (SELECT 1 FROM carepath.journey_history_default
                       WHERE journey_id >= low AND journey_id < high) THEN
            RAISE WARNING 'month % not made: the default partitions hold rows of it',
                to_char(month, 'YYYY_MM');
            month := month + interval '1 month';
            CONTINUE;
        END IF;
        -- Both tables of a month or neither: a row arriving in a default
        -- meanwhile undoes the month's two partitions together.
        month_made := 0;
        BEGIN
            FOREACH table_name IN ARRAY ARRAY['journey_steps', 'journey_history'] LOOP
                partition := table_name || '_' || to_char(month, 'YYYY_MM');
                -- A month archived before (moved to carepath_archive) is not
                -- made again: its ids are past.
                IF to_regclass('carepath.' || partition) IS NULL
                   AND to_regclass('carepath_archive.' || partition) IS NULL THEN
                    EXECUTE format(
                        'CREATE TABLE carepath.%I PARTITION OF carepath.%I FOR VALUES FROM (%L) TO (%L)',
                        partition, table_name, low, high);
                    -- Statement triggers are not inherited: a partition of the
                    -- history refuses TRUNCATE itself.
                    IF table_name = 'journey_history' THEN
                        EXECUTE format(
                            'CREATE TRIGGER journey_history_no_truncate BEFORE TRUNCATE ON carepath.%I
                             FOR EACH STATEMENT EXECUTE FUNCTION carepath.history_is_append_only()',
                            partition);
                    END IF;
                    month_made := month_made + 1;
                END IF;
            END LOOP;
            made := made + month_made;
        EXCEPTION WHEN check_violation THEN
            RAISE WARNING 'month % not made: the default partitions hold rows of it',
                to_char(month, 'YYYY_MM');
        END;
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
CREATE TRIGGER journey_history_no_truncate
    BEFORE TRUNCATE ON carepath.journey_history_default
    FOR EACH STATEMENT EXECUTE FUNCTION carepath.history_is_append_only();
CREATE INDEX journey_history_at ON carepath.journey_history (at, journey_id, seq);

-- A journey's history wherever it is: attached, or in `carepath_archive`
-- once its month was archived.
CREATE FUNCTION carepath.journey_history_of(journey uuid) RETURNS SETOF carepath.journey_history
LANGUAGE plpgsql STABLE AS $$
DECLARE
    archived regclass := to_regclass('carepath_archive.journey_history_' || carepath.v7_month(journey));
BEGIN
    RETURN QUERY SELECT * FROM carepath.journey_history WHERE journey_id = journey;
    IF archived IS NOT NULL THEN
        RETURN QUERY EXECUTE format('SELECT * FROM %s WHERE journey_id = $1', archived) USING journey;
    END IF;
END
$$;

-- Every month from the first journey's (of those with v7 ids) to three
-- months ahead, before the rows are copied, so they land in their months.
SELECT carepath.create_journey_partitions(
    coalesce(
        (SELECT to_date(min(carepath.v7_month(id)), 'YYYY_MM')::timestamp AT TIME ZONE 'UTC'
           FROM carepath.journeys
          WHERE substr(id::text, 15, 1) = '7'
            AND id >= carepath.v7_floor('2020-01-01') AND id < carepath.v7_floor(now())),
        now()),
    (date_trunc('month', now() AT TIME ZONE 'UTC') + interval '3 months') AT TIME ZONE 'UTC');

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
