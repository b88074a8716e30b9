-- The patient registry holds no PHI in clear (issue 17). A record's blocking
-- keys are stored only as keyed hashes (HMAC-SHA-256 under the deployment's
-- CAREPATH_SEARCH_KEY: blind indexes), and its compared fields only sealed
-- under its patient's data key (`carepath.data_keys`, owner
-- `patient:<id>`), so destroying that key erases them, in this database
-- and in every backup taken after the KEK that wrapped it is retired.
--
-- Neither the search key nor the key-encryption keys are in the database,
-- so the rows already stored cannot be converted here: this migration adds
-- the new columns and lets the old ones be NULL; a worker converts the rows
-- at start (`patients::seal_registry`, in batches, resumable: a row is
-- converted when its `fields` is set, and its plain columns are NULLed in
-- the same statement). Until then an unconverted record is not a candidate.

-- Patients: their names, date of birth and contact are no longer kept on
-- the patient (nothing reads them: a patient's records hold them, sealed);
-- NULL once converted, and on every patient created from now on.
ALTER TABLE carepath.patients ALTER COLUMN first_name DROP NOT NULL;
ALTER TABLE carepath.patients ALTER COLUMN last_name DROP NOT NULL;
ALTER TABLE carepath.patients ALTER COLUMN date_of_birth DROP NOT NULL;
DROP INDEX IF EXISTS carepath.patients_dob;
DROP INDEX IF EXISTS carepath.patients_phone;
DROP INDEX IF EXISTS carepath.patients_email;

ALTER TABLE carepath.patient_records ALTER COLUMN given DROP NOT NULL;
ALTER TABLE carepath.patient_records ALTER COLUMN given_code DROP NOT NULL;
ALTER TABLE carepath.patient_records ALTER COLUMN family DROP NOT NULL;
ALTER TABLE carepath.patient_records ALTER COLUMN family_code DROP NOT NULL;
ALTER TABLE carepath.patient_records ALTER COLUMN match_fields DROP NOT NULL;

-- The blocking keys (`carepath_identity::blocking`), each the keyed hash of
-- the key's text (`patients::keys`); NULL when the record has no such key,
-- and on every record of a forgotten patient (`patients::forget`).
ALTER TABLE carepath.patient_records
    ADD COLUMN block_dob             bytea,
    ADD COLUMN block_family_year     bytea,
    ADD COLUMN block_postal_initial  bytea,
    ADD COLUMN block_phone           bytea,
    ADD COLUMN block_email           bytea,
    -- An imported line's external id, hashed likewise: an import run again
    -- skips the lines it already imported.
    ADD COLUMN import_key            bytea,
    -- The compared fields (`match_fields.rs`'s text), sealed under the
    -- patient's data key for `patient_records.match_fields|<patient_id>`;
    -- the text itself only when encryption is off. NULL: not converted yet.
    ADD COLUMN fields                bytea;

DROP INDEX carepath.patient_records_dob;
DROP INDEX carepath.patient_records_family_year;
DROP INDEX carepath.patient_records_postal_initial;
DROP INDEX carepath.patient_records_phone;
DROP INDEX carepath.patient_records_email;
DROP INDEX carepath.patient_records_imported;

-- One index per blocking key, carrying what a candidate is read as, so that
-- candidates are still read by index-only scans.
CREATE INDEX patient_records_block_dob ON carepath.patient_records (block_dob)
    INCLUDE (id, patient_id, fields) WHERE block_dob IS NOT NULL;
CREATE INDEX patient_records_block_family_year ON carepath.patient_records (block_family_year)
    INCLUDE (id, patient_id, fields) WHERE block_family_year IS NOT NULL;
CREATE INDEX patient_records_block_postal_initial ON carepath.patient_records (block_postal_initial)
    INCLUDE (id, patient_id, fields) WHERE block_postal_initial IS NOT NULL;
CREATE INDEX patient_records_block_phone ON carepath.patient_records (block_phone)
    INCLUDE (id, patient_id, fields) WHERE block_phone IS NOT NULL;
CREATE INDEX patient_records_block_email ON carepath.patient_records (block_email)
    INCLUDE (id, patient_id, fields) WHERE block_email IS NOT NULL;
CREATE UNIQUE INDEX patient_records_import_key ON carepath.patient_records (import_key)
    WHERE import_key IS NOT NULL;
-- What the conversion at start has left to do.
CREATE INDEX patient_records_unsealed ON carepath.patient_records (id) WHERE fields IS NULL;

-- One incoming person's candidates, as before (`20261203000001`), looked
-- up by the hashes of their blocking keys, each with its patient's data key
-- as `carepath.data_keys` has it (wrapped; NULL when the patient has none,
-- encryption off): the caller unwraps the keys of the block it read and
-- opens its fields in memory. Key 5 is the record `journey` filed already.
DROP FUNCTION carepath.locked_candidates;
CREATE FUNCTION carepath.locked_candidates(
    locks bigint[], dobs bytea[], family_year bytea, postal_initial bytea, ph bytea, em bytea,
    cap bigint, journey uuid
) RETURNS TABLE (key integer, id bigint, patient_id uuid, fields bytea,
                 key_id uuid, kek_id text, wrapped bytea)
LANGUAGE plpgsql VOLATILE AS $$
BEGIN
    PERFORM pg_advisory_xact_lock(h) FROM unnest(locks) WITH ORDINALITY AS l(h, n) ORDER BY n;
    RETURN QUERY
    WITH found AS (
        SELECT 5 AS key, r.id, r.patient_id, NULL::bytea AS fields
          FROM carepath.patient_records r WHERE r.journey_id = journey
        UNION ALL
        (SELECT 0, r.id, r.patient_id, r.fields FROM carepath.patient_records r
          WHERE r.block_dob = ANY(dobs) LIMIT cap)
        UNION ALL
        (SELECT 1, r.id, r.patient_id, r.fields FROM carepath.patient_records r
          WHERE r.block_family_year = family_year LIMIT cap)
        UNION ALL
        (SELECT 2, r.id, r.patient_id, r.fields FROM carepath.patient_records r
          WHERE r.block_postal_initial = postal_initial LIMIT cap)
        UNION ALL
        (SELECT 3, r.id, r.patient_id, r.fields FROM carepath.patient_records r
          WHERE r.block_phone = ph LIMIT cap)
        UNION ALL
        (SELECT 4, r.id, r.patient_id, r.fields FROM carepath.patient_records r
          WHERE r.block_email = em LIMIT cap)
    )
    SELECT f.key, f.id, f.patient_id, f.fields, k.id, k.kek_id, k.wrapped
      FROM found f
      LEFT JOIN carepath.data_keys k ON f.key <> 5 AND k.owner = 'patient:' || f.patient_id;
END
$$;
