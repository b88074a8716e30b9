//! The registry's records: each a person as one intake or import line gave
//! them, normalised, filed under the keyed hashes of its blocking keys, its
//! compared fields sealed under its patient's data key (see [`super::keys`]).
//! Every query is named.

use std::collections::HashMap;

use carepath_engine::store::data_keys;
use carepath_engine::vault::{DataKey, KeyState, VaultError};
use carepath_identity::Record;
use carepath_identity::blocking::{BlockKey, MAX_ROWS_PER_KEY, lookup_keys};
use sha2::{Digest, Sha256};
use sqlx::postgres::PgRow;
use sqlx::{PgConnection, PgPool, Postgres, Row as _, Transaction};
use uuid::Uuid;

use super::keys::{self, Keys};
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

/// A stored record with its patient, opened.
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

/// Opens the records a read returned — rows of `(key, id, patient_id,
/// fields, key_id, kek_id, wrapped)`: each patient's data key is unwrapped
/// once, and only when one of its records is sealed.
pub(super) struct Opener<'k> {
    keys: &'k Keys,
    states: HashMap<Uuid, KeyState>,
}

impl<'k> Opener<'k> {
    pub(super) fn new(keys: &'k Keys) -> Self {
        Self {
            keys,
            states: HashMap::new(),
        }
    }

    /// The record a row holds; `None` when its patient was erased (their
    /// key destroyed) or the row is not converted yet.
    pub(super) async fn open(&mut self, row: &PgRow) -> Result<Option<Stored>, sqlx::Error> {
        let id: i64 = row.try_get(1)?;
        let patient_id: Uuid = row.try_get(2)?;
        let Some(fields) = row.try_get::<Option<Vec<u8>>, _>(3)? else {
            return Ok(None);
        };
        let state = if keys::is_sealed(&fields) {
            self.state(row, patient_id).await?
        } else {
            KeyState::None
        };
        let text = match keys::open_fields(&state, patient_id, &fields) {
            Ok(text) => zeroize::Zeroizing::new(text),
            Err(VaultError::Erased) => return Ok(None),
            // The id only in the error: the fields are PHI.
            Err(e) => {
                return Err(sqlx::Error::Decode(
                    format!("patient_records.fields of record {id} do not open: {e}").into(),
                ));
            }
        };
        match match_fields::decode(&text) {
            Some((p, external_id, record)) if p == patient_id => Ok(Some(Stored {
                id,
                patient_id,
                external_id,
                record,
            })),
            _ => Err(sqlx::Error::Decode(
                format!("patient_records.fields of record {id} are malformed").into(),
            )),
        }
    }

    /// The patient's key as the row carries it, unwrapped once per patient.
    async fn state(&mut self, row: &PgRow, patient_id: Uuid) -> Result<KeyState, sqlx::Error> {
        if let Some(state) = self.states.get(&patient_id) {
            return Ok(state.clone());
        }
        let key_row = match row.try_get::<Option<Uuid>, _>(4)? {
            Some(id) => Some(data_keys::Row {
                id,
                owner: format!("patient:{patient_id}"),
                kek_id: row.try_get(5)?,
                wrapped: row.try_get(6)?,
            }),
            None => None,
        };
        let state = self
            .keys
            .vault()
            .unwrap_row(key_row)
            .await
            .map_err(keys::db_error)?;
        self.states.insert(patient_id, state.clone());
        Ok(state)
    }

    /// The live key of a patient whose records were opened, if any.
    pub(super) fn live(&self, patient_id: Uuid) -> Option<DataKey> {
        match self.states.get(&patient_id) {
            Some(KeyState::Live(k)) => Some(k.clone()),
            _ => None,
        }
    }

    /// Every row's record, erased ones left out.
    async fn open_all(&mut self, rows: &[PgRow]) -> Result<Vec<Stored>, sqlx::Error> {
        let mut out = Vec::with_capacity(rows.len());
        for row in rows {
            out.extend(self.open(row).await?);
        }
        Ok(out)
    }
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
/// everybody, so two matches cannot deadlock. (They hash the key's text
/// for the lock only: nothing of it is stored.)
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
    /// The records sharing any blocking key with them, each once (those of
    /// erased patients left out).
    pub found: Vec<Stored>,
    /// The kinds of key whose rows reached [`MAX_ROWS_PER_KEY`] (the cap:
    /// such a key may hide the true record, so the caller must not create
    /// on it).
    pub capped: Vec<&'static str>,
    /// The patient the asking journey's own record was filed for, when an
    /// earlier run of its match filed one.
    pub filed: Option<Uuid>,
    /// The data keys of the candidates' patients, unwrapped while reading
    /// (a link files its record under its patient's without asking again).
    pub patient_keys: HashMap<Uuid, DataKey>,
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

const KINDS: [&str; 5] = [
    "dob",
    "family_code_year",
    "postal_initial",
    "phone",
    "email",
];

/// The registry's records for `who` (see [`Candidates`]), read by
/// `carepath.locked_candidates` (migration `20261207000002`) by the keyed
/// hashes of their blocking keys, after taking the block locks when `locks`
/// says so, and opened in memory; `journey`: the journey asking, whose own
/// record is looked up in the same round trip.
///
/// # Errors
/// A database error; a record that does not open (altered or moved), or a
/// patient key the ring cannot unwrap.
pub async fn candidates(
    conn: &mut PgConnection,
    keys: &Keys,
    who: &Record,
    journey: Option<Uuid>,
    locks: Locks,
) -> Result<Candidates, sqlx::Error> {
    let (dobs, blocks) = keys.lookup(who);
    let cap = i64::try_from(MAX_ROWS_PER_KEY).unwrap_or(i64::MAX);
    let lock_ids = match locks {
        Locks::Take => lock_ids(&lookup_keys(who)),
        Locks::None => Vec::new(),
    };
    let rows = sqlx::query(
        "SELECT key, id, patient_id, fields, key_id, kek_id, wrapped
           FROM carepath.locked_candidates($1, $2, $3, $4, $5, $6, $7, $8)",
    )
    .bind(&lock_ids)
    .bind(&dobs)
    .bind(&blocks.family_year)
    .bind(&blocks.postal_initial)
    .bind(&blocks.phone)
    .bind(&blocks.email)
    .bind(cap + 1)
    .bind(journey)
    .fetch_all(conn)
    .await?;
    let mut per_key = [0usize; 5];
    let mut seen = std::collections::HashSet::with_capacity(rows.len());
    let mut out = Candidates::default();
    let mut opener = Opener::new(keys);
    for row in &rows {
        let key: i32 = row.try_get(0)?;
        if key == 5 {
            out.filed = Some(row.try_get(2)?);
            continue;
        }
        let k = usize::try_from(key).unwrap_or(0).min(4);
        per_key[k] += 1;
        // A record found by several keys is opened once.
        let id: i64 = row.try_get(1)?;
        if per_key[k] > MAX_ROWS_PER_KEY || !seen.insert(id) {
            continue;
        }
        out.found.extend(opener.open(row).await?);
    }
    out.capped = KINDS
        .iter()
        .zip(per_key)
        .filter(|(_, n)| *n > MAX_ROWS_PER_KEY)
        .map(|(k, _)| *k)
        .collect();
    out.patient_keys = out
        .found
        .iter()
        .filter_map(|s| Some((s.patient_id, opener.live(s.patient_id)?)))
        .collect();
    Ok(out)
}

/// Files `record` for `patient_id`, its fields sealed under `key` (the
/// patient's; `None` with encryption off).
///
/// # Errors
/// A database error; a unique violation when the journey (or the imported
/// external id) already has a record.
pub async fn insert(
    tx: &mut PgConnection,
    keys: &Keys,
    key: Option<&DataKey>,
    patient_id: Uuid,
    external_id: Option<&str>,
    source: Source,
    record: &Record,
) -> Result<i64, sqlx::Error> {
    let (source_name, journey) = source.as_columns();
    let blocks = keys.filed(record);
    let text = zeroize::Zeroizing::new(match_fields::encode(patient_id, external_id, record));
    let import_key = match (source, external_id) {
        (Source::Import, Some(e)) => Some(keys.import_key(e)),
        _ => None,
    };
    // Only to a patient not erased, whose row is share-locked until this
    // transaction ends: an erasure (which locks it for update) either
    // waits for this record and forgets it too, or has committed first and
    // this insert finds no patient (the match is tried again, and the
    // erased patient is no candidate any more).
    sqlx::query_scalar(
        "WITH live AS (SELECT id FROM carepath.patients
                        WHERE id = $1 AND erased_at IS NULL FOR SHARE)
         INSERT INTO carepath.patient_records
             (patient_id, source, journey_id, block_dob, block_family_year, block_postal_initial,
              block_phone, block_email, import_key, fields)
         SELECT $1, $2, $3, $4, $5, $6, $7, $8, $9, $10 FROM live
         RETURNING id",
    )
    .bind(patient_id)
    .bind(source_name)
    .bind(journey)
    .bind(&blocks.dob)
    .bind(&blocks.family_year)
    .bind(&blocks.postal_initial)
    .bind(&blocks.phone)
    .bind(&blocks.email)
    .bind(import_key)
    .bind(keys::seal_fields(key, patient_id, &text))
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

/// Whether an import already filed a record with this external id (looked
/// up by its keyed hash).
///
/// # Errors
/// A database error.
pub async fn imported(
    conn: &mut PgConnection,
    keys: &Keys,
    external_id: &str,
) -> Result<bool, sqlx::Error> {
    sqlx::query_scalar(
        "SELECT EXISTS (SELECT 1 FROM carepath.patient_records WHERE import_key = $1)",
    )
    .bind(keys.import_key(external_id))
    .fetch_one(conn)
    .await
}

/// The columns every read of opened records selects (see [`Opener`]).
macro_rules! opened_select {
    ($rest:literal) => {
        concat!(
            "SELECT 0, r.id, r.patient_id, r.fields, k.id, k.kek_id, k.wrapped
               FROM carepath.patient_records r
               LEFT JOIN carepath.data_keys k ON k.owner = 'patient:' || r.patient_id ",
            $rest
        )
    };
}

/// The records with these ids, opened (for a review: the candidates'
/// fields); erased ones left out.
///
/// # Errors
/// A database error; a record that does not open.
pub async fn by_ids(
    conn: &mut PgConnection,
    keys: &Keys,
    ids: &[i64],
) -> Result<Vec<Stored>, sqlx::Error> {
    let rows = sqlx::query(opened_select!("WHERE r.id = ANY($1)"))
        .bind(ids)
        .fetch_all(conn)
        .await?;
    Opener::new(keys).open_all(&rows).await
}

/// The newest record of each of these patients, opened (a review of an
/// outcome recorded before candidates named their record).
///
/// # Errors
/// A database error; a record that does not open.
pub async fn newest_of(
    conn: &mut PgConnection,
    keys: &Keys,
    patients: &[Uuid],
) -> Result<Vec<Stored>, sqlx::Error> {
    let rows = sqlx::query(opened_select!(
        "WHERE r.id IN (SELECT max(id) FROM carepath.patient_records
                         WHERE patient_id = ANY($1) AND fields IS NOT NULL GROUP BY patient_id)"
    ))
    .bind(patients)
    .fetch_all(conn)
    .await?;
    Opener::new(keys).open_all(&rows).await
}

/// Up to `limit` records at random (all of them when there are fewer),
/// opened; erased ones left out.
///
/// # Errors
/// A database error; a record that does not open.
pub async fn sample(
    conn: &mut PgConnection,
    keys: &Keys,
    limit: i64,
) -> Result<Vec<Stored>, sqlx::Error> {
    let rows = sqlx::query(opened_select!(
        "WHERE r.fields IS NOT NULL ORDER BY random() LIMIT $1"
    ))
    .bind(limit)
    .fetch_all(conn)
    .await?;
    Opener::new(keys).open_all(&rows).await
}

/// Up to `limit` records after record `after`, in id order, opened (a walk
/// over the whole registry, a page at a time); erased ones left out. The
/// last id read, for the next page: `None` at the end.
///
/// # Errors
/// A database error; a record that does not open.
pub async fn page(
    conn: &mut PgConnection,
    keys: &Keys,
    after: i64,
    limit: i64,
) -> Result<(Vec<Stored>, Option<i64>), sqlx::Error> {
    let rows = sqlx::query(opened_select!(
        "WHERE r.id > $1 AND r.fields IS NOT NULL ORDER BY r.id LIMIT $2"
    ))
    .bind(after)
    .bind(limit)
    .fetch_all(conn)
    .await?;
    let last = rows.last().map(|r| r.try_get::<i64, _>(1)).transpose()?;
    Ok((Opener::new(keys).open_all(&rows).await?, last))
}

/// Forgets patient `patient_id` for matching (erasure, issue 17): every
/// blind index of their records (and the import's hash of their external
/// id) is set to NULL, so no blocking key, lookup or import finds them
/// again, and any plain field left from before the conversion goes too.
/// Their sealed fields stay: the caller destroys the patient's data key
/// (`carepath.data_keys`, owner `patient:<id>`), which makes them
/// unreadable, and every read of records leaves them out from then on.
/// Returns how many records it touched.
///
/// # Errors
/// A database error.
pub async fn forget(conn: &mut PgConnection, patient_id: Uuid) -> Result<u64, sqlx::Error> {
    let done = sqlx::query(
        "WITH patient AS (
             UPDATE carepath.patients
                SET first_name = NULL, last_name = NULL, date_of_birth = NULL, phone = NULL,
                    email = NULL, updated_at = now()
              WHERE id = $1
         )
         UPDATE carepath.patient_records
            SET block_dob = NULL, block_family_year = NULL, block_postal_initial = NULL,
                block_phone = NULL, block_email = NULL, import_key = NULL,
                external_id = NULL, given = NULL, given_code = NULL, family = NULL,
                family_code = NULL, date_of_birth = NULL, phone = NULL, email = NULL,
                address_line = NULL, postal_code = NULL, sex = NULL, birth_year = NULL,
                given_initial = NULL, match_fields = NULL
          WHERE patient_id = $1",
    )
    .bind(patient_id)
    .execute(conn)
    .await?;
    Ok(done.rows_affected())
}
