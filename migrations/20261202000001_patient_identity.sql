-- Patient identity (issue 12): every intake's person is kept as a record of
-- its patient, in the normalised form matching compares, filed under the
-- blocking keys it is looked up by. A patient is the cluster of its records.

-- Patients created by an import have no journey.
ALTER TABLE carepath.patients ALTER COLUMN created_by_journey DROP NOT NULL;

CREATE TABLE carepath.patient_records (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    patient_id      uuid        NOT NULL REFERENCES carepath.patients (id),
    -- The brand's id for the person, as this record gave it.
    external_id     text,
    -- `journey` (an intake), `import` (`carepath patients import`) or
    -- `registry` (a patient that predates records).
    source          text        NOT NULL CHECK (source IN ('journey', 'import', 'registry')),
    -- The journey whose intake this is: one record per journey.
    journey_id      uuid        UNIQUE,
    -- Normalised as `carepath_identity::Record` (names lower-case ASCII,
    -- Double Metaphone codes, E.164 phone, tagless email, USPS street line,
    -- five-digit ZIP).
    given           text        NOT NULL,
    given_code      text        NOT NULL,
    family          text        NOT NULL,
    family_code     text        NOT NULL,
    date_of_birth   date,
    phone           text,
    email           text,
    address_line    text,
    postal_code     text,
    sex             text        CHECK (sex IN ('f', 'm')),
    -- Blocking keys that are not a column of their own.
    birth_year      integer     GENERATED ALWAYS AS (extract(year FROM date_of_birth)::integer) STORED,
    given_initial   text        GENERATED ALWAYS AS (left(given, 1)) STORED,
    created_at      timestamptz NOT NULL DEFAULT now()
);

-- One index per blocking key (carepath_identity::blocking).
CREATE INDEX patient_records_dob ON carepath.patient_records (date_of_birth);
CREATE INDEX patient_records_family_year ON carepath.patient_records (family_code, birth_year);
CREATE INDEX patient_records_postal_initial ON carepath.patient_records (postal_code, given_initial)
    WHERE postal_code IS NOT NULL;
CREATE INDEX patient_records_phone ON carepath.patient_records (phone) WHERE phone IS NOT NULL;
CREATE INDEX patient_records_email ON carepath.patient_records (email) WHERE email IS NOT NULL;
CREATE INDEX patient_records_patient ON carepath.patient_records (patient_id);
-- An import run again skips the lines it already imported.
CREATE UNIQUE INDEX patient_records_imported ON carepath.patient_records (external_id)
    WHERE source = 'import';

-- Fellegi–Sunter models estimated on the registry; the newest is used.
CREATE TABLE carepath.match_models (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    created_at  timestamptz NOT NULL DEFAULT now(),
    records     bigint      NOT NULL,
    model       jsonb       NOT NULL
);
