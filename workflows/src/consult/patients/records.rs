//! The registry's records: each a person as one intake or import line gave
//! them, normalised, filed under its blocking keys. Every query is named.

use carepath_identity::Record;
use carepath_identity::blocking::{self, BlockKey, MAX_ROWS_PER_KEY};
use chrono::NaiveDate;
use sha2::{Digest, Sha256};
use sqlx::PgConnection;
use uuid::Uuid;

/// Where a record came from (`patient_records.source`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    /// A journey's intake.
    Journey(Uuid),
    /// A line of `carepath patients import`.
    Import,
    /// A patient that predates records.
    Registry,
}

/// A stored record with its patient.
#[derive(Debug, Clone)]
pub struct Stored {
    /// `patient_records.id`.
    pub id: i64,
    /// Its patient.
    pub patient_id: Uuid,
    /// The brand's id for the person, as this record gave it.
    pub external_id: Option<String>,
    /// The normalised person.
    pub record: Record,
}

#[derive(sqlx::FromRow)]
struct Row {
    key: i32,
    id: i64,
    patient_id: Uuid,
    external_id: Option<String>,
    given: String,
    given_code: String,
    family: String,
    family_code: String,
    date_of_birth: Option<NaiveDate>,
    phone: Option<String>,
    email: Option<String>,
    address_line: Option<String>,
    postal_code: Option<String>,
    sex: Option<String>,
}

impl Row {
    fn into_stored(self) -> Stored {
        Stored {
            id: self.id,
            patient_id: self.patient_id,
            external_id: self.external_id,
            record: Record {
                given: self.given,
                given_code: self.given_code,
                family: self.family,
                family_code: self.family_code,
                dob: self.date_of_birth,
                phone: self.phone,
                email: self.email,
                address_line: self.address_line,
                postal_code: self.postal_code,
                sex: self.sex.and_then(|s| s.chars().next()),
            },
        }
    }
}

/// Takes this transaction's advisory lock on each of `who`'s blocking keys,
/// in one order for everybody, so two matches of one person (who share a
/// key) run one after the other and the second sees the first's record,
/// while matches of different people run side by side. The transaction's
/// commit will not wait for the disk (see `patients::match_or_create`).
/// Returns the patient `journey`'s record was filed for, if it was: one
/// round trip for all three.
///
/// # Errors
/// A database error.
pub async fn lock_blocks(
    tx: &mut PgConnection,
    who: &Record,
    journey: Option<Uuid>,
) -> Result<Option<Uuid>, sqlx::Error> {
    let mut hashes: Vec<i64> = blocking::lookup_keys(who)
        .iter()
        .map(|k| lock_id(&k.text()))
        .collect();
    hashes.sort_unstable();
    hashes.dedup();
    // unnest yields the array in order, and each row's lock is taken as it
    // is read; the count makes the locks' subquery run in full.
    let (_, _, filed): (String, i64, Option<Uuid>) = sqlx::query_as(
        "SELECT set_config('synchronous_commit', 'off', true),
                (SELECT count(*) FROM (SELECT pg_advisory_xact_lock(h)
                                         FROM unnest($1::bigint[]) AS h) AS locked),
                (SELECT patient_id FROM carepath.patient_records WHERE journey_id = $2)",
    )
    .bind(&hashes)
    .bind(journey)
    .fetch_one(tx)
    .await?;
    Ok(filed)
}

/// A 64-bit lock id for a key's text, namespaced to carepath's registry.
fn lock_id(text: &str) -> i64 {
    let digest = Sha256::digest(format!("carepath.patient_block:{text}").as_bytes());
    let mut bytes = [0u8; 8];
    bytes.copy_from_slice(&digest[..8]);
    i64::from_be_bytes(bytes)
}

/// The columns a candidate is read with (what [`Row`] holds).
macro_rules! candidate_columns {
    () => {
        "r.id, r.patient_id, r.external_id, r.given, r.given_code, r.family, r.family_code,
         r.date_of_birth, r.phone, r.email, r.address_line, r.postal_code, r.sex"
    };
}

const CANDIDATES: &str = concat!(
    "WITH k AS (SELECT $1::date[] AS dobs, $2::text AS family_code, $3::int AS birth_year,
                       $4::text AS postal_code, $5::text AS given_initial,
                       $6::text AS phone, $7::text AS email, $8::bigint AS cap)
     SELECT c.* FROM k, LATERAL (
        (SELECT 0 AS key, ",
    candidate_columns!(),
    " FROM carepath.patient_records r
          WHERE r.date_of_birth = ANY(k.dobs) LIMIT k.cap)
        UNION ALL
        (SELECT 1, ",
    candidate_columns!(),
    " FROM carepath.patient_records r
          WHERE r.family_code = k.family_code AND r.birth_year = k.birth_year LIMIT k.cap)
        UNION ALL
        (SELECT 2, ",
    candidate_columns!(),
    " FROM carepath.patient_records r
          WHERE r.postal_code = k.postal_code AND r.given_initial = k.given_initial LIMIT k.cap)
        UNION ALL
        (SELECT 3, ",
    candidate_columns!(),
    " FROM carepath.patient_records r
          WHERE r.phone = k.phone LIMIT k.cap)
        UNION ALL
        (SELECT 4, ",
    candidate_columns!(),
    " FROM carepath.patient_records r
          WHERE r.email = k.email LIMIT k.cap)
    ) c"
);

/// The records sharing any blocking key with `who` (each once), and the
/// kinds of key whose rows reached [`MAX_ROWS_PER_KEY`] (the cap: such a key
/// may hide the true record, so the caller must not create on it).
///
/// # Errors
/// A database error.
pub async fn candidates(
    conn: &mut PgConnection,
    who: &Record,
) -> Result<(Vec<Stored>, Vec<&'static str>), sqlx::Error> {
    let keys = blocking::lookup_keys(who);
    let dobs: Vec<NaiveDate> = keys
        .iter()
        .filter_map(|k| match k {
            BlockKey::Dob(d) => Some(*d),
            _ => None,
        })
        .collect();
    let family_year = keys.iter().find_map(|k| match k {
        BlockKey::FamilyCodeYear(c, y) => Some((c.clone(), *y)),
        _ => None,
    });
    let postal_initial = keys.iter().find_map(|k| match k {
        BlockKey::PostalInitial(p, i) => Some((p.clone(), i.to_string())),
        _ => None,
    });
    let cap = i64::try_from(MAX_ROWS_PER_KEY).unwrap_or(i64::MAX);
    let rows: Vec<Row> = sqlx::query_as(CANDIDATES)
        .bind(&dobs)
        .bind(family_year.as_ref().map(|f| f.0.as_str()))
        .bind(family_year.as_ref().map(|f| f.1))
        .bind(postal_initial.as_ref().map(|p| p.0.as_str()))
        .bind(postal_initial.as_ref().map(|p| p.1.as_str()))
        .bind(&who.phone)
        .bind(&who.email)
        .bind(cap + 1)
        .fetch_all(conn)
        .await?;
    const KINDS: [&str; 5] = [
        "dob",
        "family_code_year",
        "postal_initial",
        "phone",
        "email",
    ];
    let mut per_key = [0usize; 5];
    let mut seen = std::collections::HashSet::new();
    let mut found = Vec::new();
    for row in rows {
        let k = usize::try_from(row.key).unwrap_or(0).min(4);
        per_key[k] += 1;
        if per_key[k] > MAX_ROWS_PER_KEY || !seen.insert(row.id) {
            continue;
        }
        found.push(row.into_stored());
    }
    let capped = KINDS
        .iter()
        .zip(per_key)
        .filter(|(_, n)| *n > MAX_ROWS_PER_KEY)
        .map(|(k, _)| *k)
        .collect();
    Ok((found, capped))
}

/// Files `record` for `patient_id`.
///
/// # Errors
/// A database error; a unique violation when the journey (or the imported
/// external id) already has a record.
pub async fn insert(
    tx: &mut PgConnection,
    patient_id: Uuid,
    external_id: Option<&str>,
    source: Source,
    record: &Record,
) -> Result<i64, sqlx::Error> {
    let (source, journey) = match source {
        Source::Journey(j) => ("journey", Some(j)),
        Source::Import => ("import", None),
        Source::Registry => ("registry", None),
    };
    sqlx::query_scalar(
        "INSERT INTO carepath.patient_records
             (patient_id, external_id, source, journey_id, given, given_code, family, family_code,
              date_of_birth, phone, email, address_line, postal_code, sex)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14) RETURNING id",
    )
    .bind(patient_id)
    .bind(external_id)
    .bind(source)
    .bind(journey)
    .bind(&record.given)
    .bind(&record.given_code)
    .bind(&record.family)
    .bind(&record.family_code)
    .bind(record.dob)
    .bind(&record.phone)
    .bind(&record.email)
    .bind(&record.address_line)
    .bind(&record.postal_code)
    .bind(record.sex.map(String::from))
    .fetch_one(tx)
    .await
}

/// The patient the journey's record was filed for, if it was.
///
/// # Errors
/// A database error.
pub async fn of_journey(
    conn: &mut PgConnection,
    journey_id: Uuid,
) -> Result<Option<Uuid>, sqlx::Error> {
    sqlx::query_scalar("SELECT patient_id FROM carepath.patient_records WHERE journey_id = $1")
        .bind(journey_id)
        .fetch_optional(conn)
        .await
}

/// Whether an import already filed a record with this external id.
///
/// # Errors
/// A database error.
pub async fn imported(conn: &mut PgConnection, external_id: &str) -> Result<bool, sqlx::Error> {
    sqlx::query_scalar(
        "SELECT EXISTS (SELECT 1 FROM carepath.patient_records
                         WHERE source = 'import' AND external_id = $1)",
    )
    .bind(external_id)
    .fetch_one(conn)
    .await
}

/// The records with these ids (for a review: the candidates' fields).
///
/// # Errors
/// A database error.
pub async fn by_ids(conn: &mut PgConnection, ids: &[i64]) -> Result<Vec<Stored>, sqlx::Error> {
    let rows: Vec<Row> =
        sqlx::query_as("SELECT 0 AS key, r.* FROM carepath.patient_records r WHERE id = ANY($1)")
            .bind(ids)
            .fetch_all(conn)
            .await?;
    Ok(rows.into_iter().map(Row::into_stored).collect())
}

/// Up to `limit` records at random (all of them when there are fewer).
///
/// # Errors
/// A database error.
pub async fn sample(conn: &mut PgConnection, limit: i64) -> Result<Vec<Stored>, sqlx::Error> {
    let rows: Vec<Row> = sqlx::query_as(
        "SELECT 0 AS key, r.* FROM carepath.patient_records r ORDER BY random() LIMIT $1",
    )
    .bind(limit)
    .fetch_all(conn)
    .await?;
    Ok(rows.into_iter().map(Row::into_stored).collect())
}
