-- A patient erased (`carepath patients erase`, `POST /v1/patients/{id}/erase`,
-- or retention of patients without journeys): when, and why. Its row stays,
-- so that what refers to it (claims, prescriptions) still does; what
-- identified the person is unreadable (its data key destroyed) and no
-- longer findable (its blocking keys forgotten).
ALTER TABLE carepath.patients ADD COLUMN erased_at timestamptz;
ALTER TABLE carepath.patients ADD COLUMN erase_reason text;

-- Retention looks for patients not erased and older than its period.
CREATE INDEX patients_retained ON carepath.patients (created_at) WHERE erased_at IS NULL;
