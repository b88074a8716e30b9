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

-- Consults opened before this guard existed (version 1 of async_consult keeps
-- no claim): recorded once, here, so an intake on the new version finds them.
-- Open until their journey ends, or closed by the decision already made.
INSERT INTO carepath.consult_claims (journey_id, patient_id, offering_id, opened_at, closed_at)
SELECT j.id, (m.output->>'patient_id')::uuid, j.input->'offering'->>'id', j.created_at,
       CASE WHEN EXISTS (SELECT 1 FROM carepath.journey_steps d
                          WHERE d.journey_id = j.id AND d.key = 'decision_time'
                            AND d.status = 'completed')
            THEN now() END
  FROM carepath.journeys j
  JOIN carepath.journey_steps m
    ON m.journey_id = j.id AND m.key = 'match_patient' AND m.status = 'completed'
 WHERE j.workflow = 'async_consult' AND j.status NOT IN ('completed', 'cancelled')
   AND m.output->>'patient_id' IS NOT NULL
   AND j.input->'offering'->>'id' IS NOT NULL
   AND EXISTS (SELECT 1 FROM carepath.patients p WHERE p.id = (m.output->>'patient_id')::uuid);

-- Their prescriptions likewise, active for the production refill interval
-- (30 days) per fill from the decision.
INSERT INTO carepath.prescriptions
    (prescription_id, patient_id, offering_id, medication, journey_id, written_at, active_until)
SELECT rx.output->>'id', (m.output->>'patient_id')::uuid, j.input->'offering'->>'id',
       coalesce(rx.output->>'medication', j.input->'offering'->>'id'), j.id, t.at,
       t.at + interval '30 days' * (coalesce((rx.output->>'refills')::int, 0) + 1)
  FROM carepath.journeys j
  JOIN carepath.journey_steps m
    ON m.journey_id = j.id AND m.key = 'match_patient' AND m.status = 'completed'
  JOIN carepath.journey_steps rx
    ON rx.journey_id = j.id AND rx.key = 'fetch_prescription' AND rx.status = 'completed'
  LEFT JOIN carepath.journey_steps d
    ON d.journey_id = j.id AND d.key = 'decision_time' AND d.status = 'completed'
 CROSS JOIN LATERAL (SELECT coalesce((d.output #>> '{}')::timestamptz, rx.finished_at, j.created_at) AS at) t
 WHERE j.workflow = 'async_consult'
   AND m.output->>'patient_id' IS NOT NULL
   AND rx.output->>'id' IS NOT NULL
   AND j.input->'offering'->>'id' IS NOT NULL
   AND EXISTS (SELECT 1 FROM carepath.patients p WHERE p.id = (m.output->>'patient_id')::uuid)
ON CONFLICT (prescription_id) DO NOTHING;
