//! The registry as it was before issue 17 — PHI in clear — converted to
//! blind indexes and sealed fields. The keys are not in the database, so
//! this runs in a process that has them: a worker at start (and the
//! `patients` commands), before it matches anyone. In batches, each its own
//! transaction under one advisory lock: resumable after a crash or a stop,
//! one process at a time, and a process waiting its turn returns only once
//! nothing is left.

use carepath_identity::{Address, Person, Record};
use chrono::NaiveDate;
use sqlx::{PgConnection, PgPool};
use uuid::Uuid;

use super::keys::{self, Keys};
use super::match_fields;
use super::records::{self, Source};

/// Rows converted per transaction.
const BATCH: i64 = 500;

/// Converts what is left to convert: patients that predate records are
/// filed as records, every record's blocking keys are hashed and its
/// fields sealed, and the plain columns of both tables are emptied.
/// Returns how many rows it converted. Idempotent.
///
/// # Errors
/// A database error; a KEK error.
pub async fn seal_registry(pool: &PgPool, keys: &Keys) -> Result<u64, sqlx::Error> {
    let mut converted = 0;
    loop {
        let mut tx = pool.begin().await?;
        sqlx::query("SELECT pg_advisory_xact_lock(hashtext('carepath.patient_registry.seal'))")
            .execute(&mut *tx)
            .await?;
        let done = backfill_batch(&mut tx, keys).await? + records_batch(&mut tx, keys).await?;
        tx.commit().await?;
        if done == 0 {
            return Ok(converted);
        }
        converted += done;
        tracing::info!(converted, "patient registry: sealing rows stored in clear");
    }
}

/// A patient row from before the conversion.
#[derive(sqlx::FromRow)]
struct PlainPatient {
    id: Uuid,
    first_name: String,
    last_name: String,
    date_of_birth: Option<NaiveDate>,
    phone: Option<String>,
    email: Option<String>,
    has_record: bool,
}

/// Patients whose row still holds their name: filed as a record when they
/// have none (patients from before issue 12), then emptied.
async fn backfill_batch(tx: &mut PgConnection, keys: &Keys) -> Result<u64, sqlx::Error> {
    let plain: Vec<PlainPatient> = sqlx::query_as(
        "SELECT p.id, p.first_name, coalesce(p.last_name, '') AS last_name, p.date_of_birth,
                p.phone, p.email,
                EXISTS (SELECT 1 FROM carepath.patient_records r WHERE r.patient_id = p.id)
                    AS has_record
           FROM carepath.patients p WHERE p.first_name IS NOT NULL LIMIT $1",
    )
    .bind(BATCH)
    .fetch_all(&mut *tx)
    .await?;
    let ids: Vec<Uuid> = plain.iter().map(|p| p.id).collect();
    for p in plain.into_iter().filter(|p| !p.has_record) {
        let person = Person {
            external_id: String::new(),
            first_name: p.first_name,
            last_name: p.last_name,
            date_of_birth: p
                .date_of_birth
                .map(|d| d.format("%Y-%m-%d").to_string())
                .unwrap_or_default(),
            sex: String::new(),
            email: p.email.unwrap_or_default(),
            phone: p.phone.unwrap_or_default(),
            address: Address {
                line1: String::new(),
                line2: None,
                city: String::new(),
                state: String::new(),
                postal_code: String::new(),
            },
        };
        let key = keys::patient_key(keys, tx, p.id)
            .await
            .map_err(keys::db_error)?;
        let record = Record::of(&person);
        records::insert(
            tx,
            keys,
            key.as_ref(),
            p.id,
            None,
            Source::Registry,
            &record,
        )
        .await?;
    }
    sqlx::query(
        "UPDATE carepath.patients
            SET first_name = NULL, last_name = NULL, date_of_birth = NULL, phone = NULL,
                email = NULL
          WHERE id = ANY($1)",
    )
    .bind(&ids)
    .execute(&mut *tx)
    .await?;
    Ok(ids.len() as u64)
}

/// Records not yet converted: read as `carepath.match_fields_of` writes
/// them (migration `20261203000001`), filed under their hashes and sealed.
async fn records_batch(tx: &mut PgConnection, keys: &Keys) -> Result<u64, sqlx::Error> {
    let plain: Vec<(i64, Uuid, String, Option<String>)> = sqlx::query_as(
        "SELECT r.id, r.patient_id, r.source, carepath.match_fields_of(r)
           FROM carepath.patient_records r
          WHERE r.fields IS NULL AND r.given IS NOT NULL
          ORDER BY r.id LIMIT $1 FOR UPDATE",
    )
    .bind(BATCH)
    .fetch_all(&mut *tx)
    .await?;
    let n = plain.len() as u64;
    for (id, patient_id, source, text) in plain {
        let text = text.unwrap_or_default();
        let Some((_, external_id, record)) = match_fields::decode(&text) else {
            // The id only: the text is PHI.
            return Err(sqlx::Error::Decode(
                format!("patient_records record {id} does not read as a record").into(),
            ));
        };
        let key = keys::patient_key(keys, tx, patient_id)
            .await
            .map_err(keys::db_error)?;
        let blocks = keys.filed(&record);
        let import_key = external_id
            .as_deref()
            .filter(|_| source == "import")
            .map(|e| keys.import_key(e));
        sqlx::query(
            "UPDATE carepath.patient_records
                SET block_dob = $2, block_family_year = $3, block_postal_initial = $4,
                    block_phone = $5, block_email = $6, import_key = $7, fields = $8,
                    external_id = NULL, given = NULL, given_code = NULL, family = NULL,
                    family_code = NULL, date_of_birth = NULL, phone = NULL, email = NULL,
                    address_line = NULL, postal_code = NULL, sex = NULL, birth_year = NULL,
                    given_initial = NULL, match_fields = NULL
              WHERE id = $1",
        )
        .bind(id)
        .bind(&blocks.dob)
        .bind(&blocks.family_year)
        .bind(&blocks.postal_initial)
        .bind(&blocks.phone)
        .bind(&blocks.email)
        .bind(import_key)
        .bind(keys::seal_fields(key.as_ref(), patient_id, &text))
        .execute(&mut *tx)
        .await?;
    }
    Ok(n)
}
