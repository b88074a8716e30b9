-- Rewinding a journey to a step (`Engine::rewind`): the positions after it
-- move here, kept for the record and shown as superseded, and the journey
-- runs again from there. `rewinds` counts a journey's rewinds; steps run
-- after one call vendors with fresh idempotency keys
-- (`StepCtx::idempotency_key`).
ALTER TABLE carepath.journeys ADD COLUMN rewinds integer NOT NULL DEFAULT 0;

CREATE TABLE carepath.journey_steps_superseded (
    journey_id      uuid        NOT NULL REFERENCES carepath.journeys (id),
    -- Which rewind superseded it (the journey's `rewinds` after it).
    rewind          integer     NOT NULL,
    seq             integer     NOT NULL,
    key             text        NOT NULL,
    kind            text        NOT NULL,
    status          text        NOT NULL,
    output          jsonb,
    attempts        integer     NOT NULL,
    last_error      text,
    due_at          timestamptz,
    started_at      timestamptz NOT NULL,
    finished_at     timestamptz,
    superseded_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (journey_id, rewind, seq)
);
