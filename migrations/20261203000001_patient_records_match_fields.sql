-- Candidates are read from the blocking keys' indexes alone (index-only
-- scans of one column). At a million records a match reads ~130 candidate
-- rows; read from the heap, each was on its own page, and sent as thirteen
-- columns each, those rows were most of PostgreSQL's work per decision
-- (`carepath bench match`).

-- Records are normalised as `carepath_identity::Record::of` now does: names
-- and street lines kept to 120 bytes (they are ASCII), no control
-- characters in an email (input refuses them; older records may hold some).
UPDATE carepath.patient_records SET given = rtrim(left(given, 120)) WHERE octet_length(given) > 120;
UPDATE carepath.patient_records SET family = rtrim(left(family, 120)) WHERE octet_length(family) > 120;
UPDATE carepath.patient_records SET address_line = rtrim(left(address_line, 120))
 WHERE octet_length(address_line) > 120;
UPDATE carepath.patient_records SET email = regexp_replace(email, '[\u0001-\u001f\u007f-\u009f]', '', 'g')
 WHERE email ~ '[\u0001-\u001f\u007f-\u009f]';

-- The blocking keys' columns that were generated become plain columns the
-- writer fills (`records::insert`, `registry::create`, the benchmark's
-- loader): PostgreSQL re-reads a stored generated
-- column's expression on every INSERT statement, which was ~3% of a match
-- decision's time.
ALTER TABLE carepath.patient_records ALTER COLUMN birth_year DROP EXPRESSION;
ALTER TABLE carepath.patient_records ALTER COLUMN given_initial DROP EXPRESSION;

-- `match_fields` is the record's compared fields in one text, separated by
-- U+001F, in the order `patients/match_fields.rs` writes them: patient_id, given,
-- given_code, family, family_code, date of birth (days since 2000-01-01),
-- phone, email, address_line, postal_code, sex, external_id (last: the only
-- field that may hold the separator). An empty field is a missing one.
-- Written by `match_fields::encode` with the record; this function is the same
-- layout in SQL, for the rows already stored and for the test that keeps
-- the two equal (`tests/patients.rs`).
CREATE FUNCTION carepath.match_fields_of(r carepath.patient_records) RETURNS text
LANGUAGE sql IMMUTABLE AS $$
    SELECT r.patient_id::text || chr(31) || r.given || chr(31) || r.given_code
        || chr(31) || r.family || chr(31) || r.family_code
        || chr(31) || coalesce((r.date_of_birth - DATE '2000-01-01')::text, '')
        || chr(31) || coalesce(r.phone, '') || chr(31) || coalesce(r.email, '')
        || chr(31) || coalesce(r.address_line, '')
        || chr(31) || coalesce(r.postal_code, '') || chr(31) || coalesce(r.sex, '')
        || chr(31) || coalesce(r.external_id, '')
$$;
ALTER TABLE carepath.patient_records ADD COLUMN match_fields text;
UPDATE carepath.patient_records r SET match_fields = carepath.match_fields_of(r);
ALTER TABLE carepath.patient_records ALTER COLUMN match_fields SET NOT NULL;

DROP INDEX carepath.patient_records_dob;
DROP INDEX carepath.patient_records_family_year;
DROP INDEX carepath.patient_records_postal_initial;
CREATE INDEX patient_records_dob ON carepath.patient_records (date_of_birth)
    INCLUDE (id, match_fields);
CREATE INDEX patient_records_family_year ON carepath.patient_records (family_code, birth_year)
    INCLUDE (id, match_fields);
CREATE INDEX patient_records_postal_initial ON carepath.patient_records (postal_code, given_initial)
    INCLUDE (id, match_fields) WHERE postal_code IS NOT NULL;

-- Index-only scans skip the heap only on pages the visibility map marks
-- all-visible, which vacuum sets: vacuum after 1% new records, not 20%.
ALTER TABLE carepath.patient_records SET (autovacuum_vacuum_insert_scale_factor = 0.01);

-- One incoming person's candidates, read after taking the transaction's
-- advisory locks on their blocking keys (`locks`, sorted: one order for
-- everybody). Each query of a VOLATILE function takes a new snapshot, so the
-- read sees every record committed by whoever held one of those locks
-- before; the locks are held until the caller's transaction ends. Key 5 is
-- the record `journey` filed already, if any; keys 0–4 are date of birth
-- (and its swap), family code + birth year, ZIP + initial, phone, email,
-- each read to at most `cap` rows.
CREATE FUNCTION carepath.locked_candidates(
    locks bigint[], dobs date[], fcode text, byear integer, postal text, initial text,
    ph text, em text, cap bigint, journey uuid
) RETURNS TABLE (key integer, id bigint, fields text)
LANGUAGE plpgsql VOLATILE AS $$
BEGIN
    PERFORM pg_advisory_xact_lock(h) FROM unnest(locks) WITH ORDINALITY AS l(h, n) ORDER BY n;
    RETURN QUERY
        SELECT 5, r.id, r.match_fields FROM carepath.patient_records r WHERE r.journey_id = journey
        UNION ALL
        (SELECT 0, r.id, r.match_fields FROM carepath.patient_records r
          WHERE r.date_of_birth = ANY(dobs) LIMIT cap)
        UNION ALL
        (SELECT 1, r.id, r.match_fields FROM carepath.patient_records r
          WHERE r.family_code = fcode AND r.birth_year = byear LIMIT cap)
        UNION ALL
        (SELECT 2, r.id, r.match_fields FROM carepath.patient_records r
          WHERE r.postal_code = postal AND r.given_initial = initial LIMIT cap)
        UNION ALL
        (SELECT 3, r.id, r.match_fields FROM carepath.patient_records r WHERE r.phone = ph LIMIT cap)
        UNION ALL
        (SELECT 4, r.id, r.match_fields FROM carepath.patient_records r WHERE r.email = em LIMIT cap);
END
$$;
