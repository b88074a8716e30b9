-- The smallest durable queue PostgreSQL allows: a row per job, a partial
-- index over the ready ones. Seeded so the dequeuers never find it empty
-- (each transaction adds as many as it takes).
CREATE TABLE jobs (
    id bigserial PRIMARY KEY,
    status text NOT NULL DEFAULT 'ready',
    payload jsonb NOT NULL DEFAULT '{}',
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX jobs_ready ON jobs (id) WHERE status = 'ready';
INSERT INTO jobs (status) SELECT 'ready' FROM generate_series(1, 10000);

-- For insert.sql: the floor of any durable write, one row per commit.
CREATE TABLE inserts (
    id bigserial PRIMARY KEY,
    payload jsonb NOT NULL DEFAULT '{}',
    created_at timestamptz NOT NULL DEFAULT now()
);
VACUUM ANALYZE;
