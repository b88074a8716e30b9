-- An operator's bulk action over the journeys a filter selects
-- (`POST /v1/ops/bulk`): planned by a dry run, which counts and samples the
-- selection and hands back a confirmation token (kept here only as its
-- SHA-256), then run once with that token, in bounded batches.
CREATE TABLE carepath.bulk_operations (
    id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    token_sha256  text        NOT NULL UNIQUE,
    actor         text        NOT NULL,
    action        text        NOT NULL,
    -- The filter, the rewind's step and force, and the reason, as planned.
    plan          jsonb       NOT NULL,
    -- Journeys created after the dry run are not swept in: the selection
    -- is re-read at confirmation among ids up to this one (UUIDv7 order).
    upto_id       uuid        NOT NULL,
    matched       bigint      NOT NULL,
    created_at    timestamptz NOT NULL DEFAULT now(),
    expires_at    timestamptz NOT NULL,
    -- planned, running, done
    status        text        NOT NULL DEFAULT 'planned'
        CHECK (status IN ('planned', 'running', 'done')),
    done          bigint      NOT NULL DEFAULT 0,
    skipped       bigint      NOT NULL DEFAULT 0,
    finished_at   timestamptz
);
