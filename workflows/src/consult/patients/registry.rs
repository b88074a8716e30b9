//! The `patients` table: one row per patient, with the clinical network's
//! id. It holds no PHI (issue 17): who a patient is lives in their records,
//! sealed under their data key.

use carepath_engine::vault::DataKey;
use carepath_identity::{Person, Record};
use sqlx::{PgConnection, PgPool};
use uuid::Uuid;

use super::keys::{self, Keys};
use super::match_fields;
use super::records::Source;

/// Whether the patient exists.
///
/// # Errors
/// A database error.
pub async fn exists(pool: &PgPool, id: Uuid) -> Result<bool, sqlx::Error> {
    sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM carepath.patients WHERE id = $1)")
        .bind(id)
        .fetch_one(pool)
        .await
}

/// The clinical network's id for the patient, once synced.
///
/// # Errors
/// A database error.
pub async fn clinical_id(pool: &PgPool, id: Uuid) -> Result<Option<String>, sqlx::Error> {
    sqlx::query_scalar("SELECT clinical_patient_id FROM carepath.patients WHERE id = $1")
        .bind(id)
        .fetch_one(pool)
        .await
}

/// Records the clinical network's id; the first one recorded wins and is returned.
///
/// # Errors
/// A database error.
pub async fn set_clinical_id(
    pool: &PgPool,
    id: Uuid,
    clinical: &str,
) -> Result<String, sqlx::Error> {
    sqlx::query_scalar(
        "UPDATE carepath.patients SET clinical_patient_id = coalesce(clinical_patient_id, $2),
                updated_at = now()
          WHERE id = $1 RETURNING clinical_patient_id",
    )
    .bind(id)
    .bind(clinical)
    .fetch_one(pool)
    .await
}

pub(super) async fn created_by(
    tx: &mut PgConnection,
    journey_id: Uuid,
) -> Result<Option<Uuid>, sqlx::Error> {
    sqlx::query_scalar("SELECT id FROM carepath.patients WHERE created_by_journey = $1")
        .bind(journey_id)
        .fetch_optional(tx)
        .await
}

/// Creates a patient from `who`, with a new data key, and files `record`
/// as its first record (unless the journey filed one already), in one
/// statement.
pub(super) async fn create(
    tx: &mut PgConnection,
    keys: &Keys,
    who: &Person,
    record: &Record,
    source: Source,
) -> Result<Uuid, sqlx::Error> {
    let id = Uuid::now_v7();
    let fresh = keys
        .vault()
        .fresh(&carepath_engine::Owner::Patient(id))
        .await
        .map_err(keys::db_error)?;
    let key: Option<&DataKey> = fresh.as_ref().map(|f| &f.key);
    let (source, journey) = source.as_columns();
    let blocks = keys.filed(record);
    let external_id = Some(who.external_id.as_str());
    let text = match_fields::encode(id, external_id, record);
    let import_key = (source == "import").then(|| keys.import_key(&who.external_id));
    let wrapped = fresh.as_ref().map(|f| f.wrapped());
    sqlx::query_scalar(
        "WITH dk AS (
             INSERT INTO carepath.data_keys (id, owner, kek_id, wrapped)
             SELECT $10, $14, $11, $12 WHERE $10::uuid IS NOT NULL
         ), patient AS (
             INSERT INTO carepath.patients (id, created_by_journey)
             VALUES ($1, $2) RETURNING id
         ), filed AS (
             INSERT INTO carepath.patient_records
                 (patient_id, source, journey_id, block_dob, block_family_year,
                  block_postal_initial, block_phone, block_email, import_key, fields)
             SELECT patient.id, $3, $2, $4, $5, $6, $7, $8, $9, $13
               FROM patient
              WHERE $2::uuid IS NULL
                 OR NOT EXISTS (SELECT 1 FROM carepath.patient_records WHERE journey_id = $2)
         )
         SELECT id FROM patient",
    )
    .bind(id)
    .bind(journey)
    .bind(source)
    .bind(&blocks.dob)
    .bind(&blocks.family_year)
    .bind(&blocks.postal_initial)
    .bind(&blocks.phone)
    .bind(&blocks.email)
    .bind(import_key)
    .bind(key.map(|k| k.id))
    .bind(wrapped.map(|w| w.kek_id.clone()))
    .bind(wrapped.map(|w| w.bytes.clone()))
    .bind(keys::seal_fields(key, id, &text))
    .bind(fresh.as_ref().map(|f| f.owner().to_owned()))
    .fetch_one(tx)
    .await
}
