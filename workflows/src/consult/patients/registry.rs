//! The `patients` table: one row per patient, with the newest contact on
//! file and the clinical network's id.

use carepath_identity::{Person, Record};
use chrono::NaiveDate;
use sqlx::{PgConnection, PgPool};
use uuid::Uuid;

use super::records::{self, Source};

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

/// Creates a patient from `who` and files `record` as its first record
/// (unless the journey filed one already), in one statement.
pub(super) async fn create(
    tx: &mut PgConnection,
    who: &Person,
    record: &Record,
    source: Source,
) -> Result<Uuid, sqlx::Error> {
    let dob = record
        .dob
        .or_else(|| NaiveDate::from_ymd_opt(1900, 1, 1))
        .unwrap_or_default();
    let (source, journey) = source.as_columns();
    let id = Uuid::now_v7();
    sqlx::query_scalar(
        "WITH patient AS (
             INSERT INTO carepath.patients
                 (id, first_name, last_name, date_of_birth, phone, email, created_by_journey)
             VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id
         ), filed AS (
             INSERT INTO carepath.patient_records
                 (patient_id, external_id, source, journey_id, given, given_code, family,
                  family_code, date_of_birth, phone, email, address_line, postal_code, sex,
                  birth_year, given_initial, match_fields)
             SELECT patient.id, $8, $9, $7, $10, $11, $12, $13, $14, $5, $6, $15, $16, $17,
                    $18, $19, $20
               FROM patient
              WHERE $7::uuid IS NULL
                 OR NOT EXISTS (SELECT 1 FROM carepath.patient_records WHERE journey_id = $7)
         )
         SELECT id FROM patient",
    )
    .bind(id)
    .bind(who.first_name.trim())
    .bind(who.last_name.trim())
    .bind(dob)
    .bind(&record.phone)
    .bind(&record.email)
    .bind(journey)
    .bind(Some(&who.external_id))
    .bind(source)
    .bind(&record.given)
    .bind(&record.given_code)
    .bind(&record.family)
    .bind(&record.family_code)
    .bind(record.dob)
    .bind(&record.address_line)
    .bind(&record.postal_code)
    .bind(record.sex.map(String::from))
    .bind(record.birth_year())
    .bind(records::given_initial(record))
    .bind(super::match_fields::encode(
        id,
        Some(&who.external_id),
        record,
    ))
    .fetch_one(tx)
    .await
}

pub(super) async fn refresh_contact(
    tx: &mut PgConnection,
    id: Uuid,
    record: &Record,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE carepath.patients SET phone = coalesce($2, phone), email = coalesce($3, email),
                updated_at = now()
          WHERE id = $1",
    )
    .bind(id)
    .bind(&record.phone)
    .bind(&record.email)
    .execute(tx)
    .await?;
    Ok(())
}

/// A patient row: the names as first written, the newest contact on file.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct PatientRow {
    /// The patient.
    pub id: Uuid,
    /// Given name, as the intake that created the patient wrote it.
    pub first_name: String,
    /// Family name, likewise.
    pub last_name: String,
    /// Date of birth.
    pub date_of_birth: NaiveDate,
    /// E.164 phone, the newest on file.
    pub phone: Option<String>,
    /// Email, the newest on file.
    pub email: Option<String>,
}

/// The rows of these patients (those that exist), in no order.
pub(super) async fn rows(
    conn: &mut PgConnection,
    ids: &[Uuid],
) -> Result<Vec<PatientRow>, sqlx::Error> {
    sqlx::query_as(
        "SELECT id, first_name, last_name, date_of_birth, phone, email
           FROM carepath.patients WHERE id = ANY($1)",
    )
    .bind(ids)
    .fetch_all(conn)
    .await
}

pub(super) async fn backfill(pool: &PgPool) -> Result<u64, sqlx::Error> {
    // One transaction under one lock: two `carepath migrate` at once file
    // each patient once.
    let mut tx = pool.begin().await?;
    sqlx::query("SELECT pg_advisory_xact_lock(hashtext('carepath.patient_records.backfill'))")
        .execute(&mut *tx)
        .await?;
    let unfiled: Vec<PatientRow> = sqlx::query_as(
        "SELECT p.id, p.first_name, p.last_name, p.date_of_birth, p.phone, p.email
           FROM carepath.patients p
          WHERE NOT EXISTS (SELECT 1 FROM carepath.patient_records r WHERE r.patient_id = p.id)",
    )
    .fetch_all(&mut *tx)
    .await?;
    let mut filed = 0;
    for p in unfiled {
        let person = Person {
            external_id: String::new(),
            first_name: p.first_name,
            last_name: p.last_name,
            date_of_birth: p.date_of_birth.format("%Y-%m-%d").to_string(),
            sex: String::new(),
            email: p.email.unwrap_or_default(),
            phone: p.phone.unwrap_or_default(),
            address: carepath_identity::Address {
                line1: String::new(),
                line2: None,
                city: String::new(),
                state: String::new(),
                postal_code: String::new(),
            },
        };
        records::insert(&mut tx, p.id, None, Source::Registry, &Record::of(&person)).await?;
        filed += 1;
    }
    tx.commit().await?;
    Ok(filed)
}
