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
