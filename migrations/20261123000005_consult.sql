-- The telehealth journey's own records: carepath's patient registry, which
-- matching searches before any chart is created at a vendor, and the alerts
-- journeys raise (a decision past its SLA).

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

CREATE TABLE carepath.alerts (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    journey_id  uuid        NOT NULL REFERENCES carepath.journeys (id),
    kind        text        NOT NULL,
    detail      jsonb       NOT NULL DEFAULT '{}',
    raised_at   timestamptz NOT NULL DEFAULT now(),
    -- One alert of a kind per journey and occasion (a step key): re-runs do not repeat it.
    occasion    text        NOT NULL,
    CONSTRAINT alerts_once UNIQUE (journey_id, kind, occasion)
);
CREATE INDEX alerts_kind_raised ON carepath.alerts (kind, raised_at);

-- A webhook can outrun the journey's record of the resource it is about (the
-- clinician's first event may arrive before the case id is stored): such an
-- event is looked at again, with growing pauses, for a grace period before it
-- is parked as unmatched.
ALTER TABLE carepath.webhook_inbox
    ADD COLUMN route_attempts integer     NOT NULL DEFAULT 0,
    ADD COLUMN route_after    timestamptz NOT NULL DEFAULT now();
