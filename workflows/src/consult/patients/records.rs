//! The registry's records: each a person as one intake or import line gave
//! them, normalised, filed under its blocking keys. Every query is named.

use carepath_identity::Record;
use carepath_identity::blocking::{self, BlockKey, MAX_ROWS_PER_KEY};
use chrono::NaiveDate;
use sha2::{Digest, Sha256};
use sqlx::postgres::PgRow;
use sqlx::{PgConnection, PgPool, Postgres, Row as _, Transaction};
use uuid::Uuid;

use super::match_fields;

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

impl Source {
    /// `patient_records.source` and `.journey_id`.
    pub fn as_columns(self) -> (&'static str, Option<Uuid>) {
        match self {
            Source::Journey(j) => ("journey", Some(j)),
            Source::Import => ("import", None),
            Source::Registry => ("registry", None),
        }
    }
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

/// A candidate row (key, id, `match_fields`)'s record.
fn stored_of(row: &PgRow) -> Result<Stored, sqlx::Error> {
    let id: i64 = row.try_get(1)?;
    let text: &str = row.try_get(2)?;
    // The id only in the error: the text is PHI.
    let (patient_id, external_id, record) = match_fields::decode(text).ok_or_else(|| {
        sqlx::Error::Decode(
            format!("patient_records.match_fields of record {id} is malformed").into(),
        )
    })?;
    Ok(Stored {
        id,
        patient_id,
        external_id,
        record,
    })
}

/// Begins a match's transaction, whose commit will not wait for the disk
/// (see `patients::match_or_create`): one round trip. The block locks are
/// taken by [`candidates`], in the same statement as the read.
///
/// # Errors
/// A database error.
pub async fn begin(pool: &PgPool) -> Result<Transaction<'static, Postgres>, sqlx::Error> {
    pool.begin_with("BEGIN; SET LOCAL synchronous_commit TO off")
        .await
}

/// The advisory lock ids of a person's blocking keys, sorted: one order for
/// everybody, so two matches cannot deadlock.
fn lock_ids(keys: &[BlockKey]) -> Vec<i64> {
    let mut hashes: Vec<i64> = keys.iter().map(|k| lock_id(&k.text())).collect();
    hashes.sort_unstable();
    hashes.dedup();
    hashes
}

/// A 64-bit lock id for a key's text, namespaced to carepath's registry.
fn lock_id(text: &str) -> i64 {
    let digest = Sha256::digest(format!("carepath.patient_block:{text}").as_bytes());
    let mut bytes = [0u8; 8];
    bytes.copy_from_slice(&digest[..8]);
    i64::from_be_bytes(bytes)
}

/// What the registry holds for an incoming person.
#[derive(Debug, Default)]
pub struct Candidates {
    /// The records sharing any blocking key with them, each once.
    pub found: Vec<Stored>,
    /// The kinds of key whose rows reached [`MAX_ROWS_PER_KEY`] (the cap:
    /// such a key may hide the true record, so the caller must not create
    /// on it).
    pub capped: Vec<&'static str>,
    /// The patient the asking journey's own record was filed for, when an
    /// earlier run of its match filed one.
    pub filed: Option<Uuid>,
}

/// Whether a read of candidates takes the block locks first.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Locks {
    /// Take this transaction's advisory lock on each of the person's blocking
    /// keys before reading, so two matches of one person (who share a key)
    /// run one after the other and the second sees the first's record, while
    /// matches of different people run side by side. Inside a transaction
    /// only ([`begin`]): the locks are held until it ends.
    Take,
    /// Read only (nothing will be written on what is read).
    None,
}

/// The registry's records for `who` (see [`Candidates`]), read by
/// `carepath.locked_candidates` (migration `20261203000001`) after taking
/// the block locks when `locks` says so; `journey`: the journey asking,
/// whose own record is looked up in the same round trip.
///
/// # Errors
/// A database error.
pub async fn candidates(
    conn: &mut PgConnection,
    who: &Record,
    journey: Option<Uuid>,
    locks: Locks,
) -> Result<Candidates, sqlx::Error> {
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
    let lock_ids = match locks {
        Locks::Take => lock_ids(&keys),
        Locks::None => Vec::new(),
    };
    let rows = sqlx::query("SELECT key, id, fields FROM carepath.locked_candidates($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)")
        .bind(&lock_ids)
        .bind(&dobs)
        .bind(family_year.as_ref().map(|f| f.0.as_str()))
        .bind(family_year.as_ref().map(|f| f.1))
        .bind(postal_initial.as_ref().map(|p| p.0.as_str()))
        .bind(postal_initial.as_ref().map(|p| p.1.as_str()))
        .bind(&who.phone)
        .bind(&who.email)
        .bind(cap + 1)
        .bind(journey)
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
    let mut seen = std::collections::HashSet::with_capacity(rows.len());
    let mut out = Candidates::default();
    for row in &rows {
        let key: i32 = row.try_get(0)?;
        if key == 5 {
            out.filed = Some(stored_of(row)?.patient_id);
            continue;
        }
        let k = usize::try_from(key).unwrap_or(0).min(4);
        per_key[k] += 1;
        // A record found by several keys is decoded once.
        let id: i64 = row.try_get(1)?;
        if per_key[k] > MAX_ROWS_PER_KEY || !seen.insert(id) {
            continue;
        }
        out.found.push(stored_of(row)?);
    }
    out.capped = KINDS
        .iter()
        .zip(per_key)
        .filter(|(_, n)| *n > MAX_ROWS_PER_KEY)
        .map(|(k, _)| *k)
        .collect();
    Ok(out)
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
    let (source, journey) = source.as_columns();
    sqlx::query_scalar(
        "INSERT INTO carepath.patient_records
             (patient_id, external_id, source, journey_id, given, given_code, family, family_code,
              date_of_birth, phone, email, address_line, postal_code, sex,
              birth_year, given_initial, match_fields)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17)
         RETURNING id",
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
    .bind(record.birth_year())
    .bind(given_initial(record))
    .bind(match_fields::encode(patient_id, external_id, record))
    .fetch_one(tx)
    .await
}

/// `patient_records.given_initial`: the given name's first letter (empty
/// when there is no given name), a blocking key's column.
pub fn given_initial(record: &Record) -> String {
    record.given.chars().take(1).collect()
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
    let rows = sqlx::query(
        "SELECT 0, r.id, r.match_fields FROM carepath.patient_records r WHERE id = ANY($1)",
    )
    .bind(ids)
    .fetch_all(conn)
    .await?;
    rows.iter().map(stored_of).collect()
}

/// Up to `limit` records at random (all of them when there are fewer).
///
/// # Errors
/// A database error.
pub async fn sample(conn: &mut PgConnection, limit: i64) -> Result<Vec<Stored>, sqlx::Error> {
    let rows = sqlx::query(
        "SELECT 0, r.id, r.match_fields FROM carepath.patient_records r ORDER BY random() LIMIT $1",
    )
    .bind(limit)
    .fetch_all(conn)
    .await?;
    rows.iter().map(stored_of).collect()
}
