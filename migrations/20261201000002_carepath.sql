-- carepath's own schema beside the engine's (which `carepath-engine` creates
-- first, in its own migrations): vendor state shared by the workers, API
-- tokens and operator audit, the patient registry and the consult's records,
-- vendor feeds, and the built-in probe's stand-in vendor. It is the end state
-- of the application's part of migrations 20261123000001..20261130000002,
-- which a database migrated before the engine's split has already applied
-- (see `carepath_workflows::db`).

-- Vendor state shared by every worker process.

-- A vendor on hold: no process calls it before `until`. Set when a vendor
-- answers 429 with Retry-After, when a circuit breaker opens, or by an operator.
CREATE TABLE carepath.vendor_holds (
    vendor      text PRIMARY KEY,
    until       timestamptz NOT NULL,
    reason      text        NOT NULL,
    set_by      text        NOT NULL,
    set_at      timestamptz NOT NULL DEFAULT now()
);

-- One token bucket per vendor: the vendor's rate limit, for all processes together.
CREATE TABLE carepath.vendor_limits (
    vendor        text PRIMARY KEY,
    tokens        double precision NOT NULL,
    refreshed_at  timestamptz      NOT NULL DEFAULT clock_timestamp()
);

-- API bearer tokens, stored as SHA-256 hashes (tokens are 256-bit random, so
-- a fast hash is enough; the plain token is shown once, at creation).
CREATE TABLE carepath.api_tokens (
    id          uuid PRIMARY KEY,
    name        text        NOT NULL UNIQUE,
    role        text        NOT NULL CHECK (role IN ('product', 'operator', 'admin')),
    token_hash  text        NOT NULL UNIQUE,
    created_at  timestamptz NOT NULL DEFAULT now(),
    revoked_at  timestamptz
);

-- Operator actions that belong to no single journey (vendor pause and resume,
-- bulk retries, token management). Append-only like journey history.
CREATE TABLE carepath.operator_audit (
    id      bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    at      timestamptz NOT NULL DEFAULT now(),
    actor   text        NOT NULL,
    action  text        NOT NULL,
    target  text        NOT NULL,
    detail  jsonb       NOT NULL DEFAULT '{}'
);

CREATE TRIGGER operator_audit_append_only
    BEFORE UPDATE OR DELETE ON carepath.operator_audit
    FOR EACH ROW EXECUTE FUNCTION carepath.history_is_append_only();

-- The telehealth journey's own records: carepath's patient registry, which
-- matching searches before any chart is created at a vendor.

CREATE TABLE carepath.patients (
    id                   uuid PRIMARY KEY,
    first_name           text        NOT NULL,
    last_name            text        NOT NULL,
    date_of_birth        date        NOT NULL,
    -- Normalised for matching: E.164 phone, lower-case email without tags.
    phone                text,
    email                text,
    -- The clinical network's id for this patient, once synced.
    clinical_patient_id  text,
    -- The journey that created this record: a re-run of its step finds it again.
    created_by_journey   uuid        NOT NULL UNIQUE,
    created_at           timestamptz NOT NULL DEFAULT now(),
    updated_at           timestamptz NOT NULL DEFAULT now()
);

-- Candidate search (blocking): any of date of birth, phone or email agreeing.
CREATE INDEX patients_dob ON carepath.patients (date_of_birth);
CREATE INDEX patients_phone ON carepath.patients (phone) WHERE phone IS NOT NULL;
CREATE INDEX patients_email ON carepath.patients (email) WHERE email IS NOT NULL;

-- One patient, one open consult, one prescription (issue 11): guarantees
-- across journeys, not only within one.

-- The consults opened for each (patient, offering): a row per journey that
-- opened one, written right after the patient is matched, and closed when the
-- clinician decides or the consult ends. A second intake meanwhile finds the
-- open one here and is merged into it (or held for review), never a second
-- case; an operator may open a second one on purpose, which is then open too.
CREATE TABLE carepath.consult_claims (
    journey_id   uuid        PRIMARY KEY REFERENCES carepath.journeys (id),
    patient_id   uuid        NOT NULL REFERENCES carepath.patients (id),
    offering_id  text        NOT NULL,
    opened_at    timestamptz NOT NULL DEFAULT now(),
    closed_at    timestamptz
);
CREATE INDEX consult_claims_open ON carepath.consult_claims (patient_id, offering_id)
    WHERE closed_at IS NULL;

-- Prescriptions written for carepath's patients: a new intake while one for
-- the same offering is within its refill period waits for review.
CREATE TABLE carepath.prescriptions (
    prescription_id  text        PRIMARY KEY,
    patient_id       uuid        NOT NULL REFERENCES carepath.patients (id),
    offering_id      text        NOT NULL,
    medication       text        NOT NULL,
    journey_id       uuid        NOT NULL REFERENCES carepath.journeys (id),
    written_at       timestamptz NOT NULL DEFAULT now(),
    active_until     timestamptz NOT NULL
);
CREATE INDEX prescriptions_patient ON carepath.prescriptions (patient_id, offering_id, active_until);

-- A lost webhook never strands a journey: vendors give up on webhooks, and a
-- vendor that offers a cursor-based "events since" feed lets carepath learn
-- what it missed by asking. What the feed gives goes into the engine's inbox
-- with the webhooks, under the same dedup key, so an event that arrives both
-- ways is stored and routed once.

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

-- The built-in `probe` workflow's stand-in for a vendor: one row per
-- (journey, step) idempotency key, and how often that key was presented.
CREATE TABLE carepath.probe_effects (
    journey_id  uuid    NOT NULL,
    step_key    text    NOT NULL,
    nonce       uuid    NOT NULL,
    calls       integer NOT NULL DEFAULT 1,
    PRIMARY KEY (journey_id, step_key)
);
