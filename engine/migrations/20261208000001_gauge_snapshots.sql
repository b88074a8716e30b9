-- Gauges computed once for the whole deployment (`carepath_engine::store::snapshots`):
-- one process at a time, under a transaction-scoped advisory lock, computes
-- the database-derived gauges and the set of overdue journeys on an interval
-- and stores them here; `/metrics` and `overdue=true` listings read them
-- instead of scanning `journeys` on every scrape and every request.
CREATE TABLE carepath.gauge_snapshots (
    name        text PRIMARY KEY,
    body        text NOT NULL,
    computed_at timestamptz NOT NULL,
    took_secs   double precision NOT NULL
);

-- The journeys that were overdue when the snapshot was taken, with why.
-- A listing re-checks each against the live condition, so one that has moved
-- since drops out; one that has become overdue since shows at the next pass.
CREATE TABLE carepath.overdue_journeys (
    journey_id uuid PRIMARY KEY,
    reason     text NOT NULL
);
