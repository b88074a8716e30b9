//! Guarantees about the patient, across journeys: one open consult per
//! patient and offering, and no new consult while the patient holds an
//! active prescription for the offering without a person deciding so.
//!
//! Every decision about one patient's consults is taken under that patient's
//! own advisory lock (transaction-scoped), so two intakes of one person in
//! the same millisecond are ordered, and intakes of different people never
//! wait on each other.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sqlx::{PgConnection, PgPool};
use uuid::Uuid;

/// What claiming the (patient, offering) pair found; the output of the
/// journey's `claim_consult` step.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(tag = "claim", rename_all = "snake_case")]
pub enum Claim {
    /// This journey holds the patient's open consult for the offering.
    Claimed,
    /// Parallel consults are allowed for the offering: nothing was claimed.
    Unclaimed,
    /// Another journey holds the open consult.
    Open { journey_id: Uuid },
    /// The patient holds a prescription for the offering that is still
    /// within its refill period.
    ActiveTreatment { prescription: ActivePrescription },
}

/// A prescription still within its refill period (ids and times only).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, sqlx::FromRow)]
pub struct ActivePrescription {
    pub prescription_id: String,
    pub medication: String,
    pub journey_id: Uuid,
    pub written_at: DateTime<Utc>,
    pub active_until: DateTime<Utc>,
}

async fn lock_patient(conn: &mut PgConnection, patient_id: Uuid) -> Result<(), sqlx::Error> {
    sqlx::query(
        "SELECT pg_advisory_xact_lock(hashtextextended('carepath.consult:' || $1::text, 0))",
    )
    .bind(patient_id)
    .execute(conn)
    .await?;
    Ok(())
}

/// The patient's active prescription for the offering, newest first.
async fn active_prescription(
    conn: &mut PgConnection,
    patient_id: Uuid,
    offering_id: &str,
) -> Result<Option<ActivePrescription>, sqlx::Error> {
    sqlx::query_as(
        "SELECT prescription_id, medication, journey_id, written_at, active_until
           FROM carepath.prescriptions
          WHERE patient_id = $1 AND offering_id = $2 AND active_until > now()
          ORDER BY written_at DESC LIMIT 1",
    )
    .bind(patient_id)
    .bind(offering_id)
    .fetch_optional(conn)
    .await
}

/// Claims the patient's open consult for `offering_id` for `journey_id`.
///
/// In order, under the patient's lock: a consult held by another journey
/// that has not ended is [`Claim::Open`] (a failed journey still holds it:
/// an operator's retry must not meet a second case); an active prescription
/// is [`Claim::ActiveTreatment`] (unless `despite_treatment`, an operator's
/// decision); otherwise the pair is claimed — or, when `exclusive` is false
/// (the offering allows parallel consults), left unclaimed. Idempotent: a
/// re-run for the journey that holds the claim answers [`Claim::Claimed`].
pub async fn claim(
    pool: &PgPool,
    patient_id: Uuid,
    offering_id: &str,
    journey_id: Uuid,
    exclusive: bool,
    despite_treatment: bool,
) -> Result<Claim, sqlx::Error> {
    let mut tx = pool.begin().await?;
    lock_patient(&mut tx, patient_id).await?;
    let holder: Option<(Uuid, bool)> = sqlx::query_as(
        "SELECT c.journey_id,
                c.closed_at IS NULL AND j.status NOT IN ('completed', 'cancelled')
           FROM carepath.consult_claims c JOIN carepath.journeys j ON j.id = c.journey_id
          WHERE c.patient_id = $1 AND c.offering_id = $2",
    )
    .bind(patient_id)
    .bind(offering_id)
    .fetch_optional(&mut *tx)
    .await?;
    match holder {
        Some((holder, _)) if holder == journey_id => {
            tx.commit().await?;
            return Ok(Claim::Claimed);
        }
        Some((holder, true)) if exclusive => {
            tx.commit().await?;
            return Ok(Claim::Open { journey_id: holder });
        }
        _ => {}
    }
    if !despite_treatment
        && let Some(prescription) = active_prescription(&mut tx, patient_id, offering_id).await?
    {
        tx.commit().await?;
        return Ok(Claim::ActiveTreatment { prescription });
    }
    if !exclusive {
        tx.commit().await?;
        return Ok(Claim::Unclaimed);
    }
    sqlx::query(
        "INSERT INTO carepath.consult_claims (patient_id, offering_id, journey_id)
         VALUES ($1, $2, $3)
         ON CONFLICT (patient_id, offering_id) DO UPDATE
            SET journey_id = EXCLUDED.journey_id, opened_at = now(), closed_at = NULL",
    )
    .bind(patient_id)
    .bind(offering_id)
    .bind(journey_id)
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(Claim::Claimed)
}

/// Records the prescription the clinician wrote for this journey's consult
/// (active until `active_until`) and closes the consult's claim, in one
/// transaction under the patient's lock: an intake that finds the consult
/// closed always finds the prescription. Idempotent.
pub async fn record_prescription_and_close(
    pool: &PgPool,
    patient_id: Uuid,
    offering_id: &str,
    journey_id: Uuid,
    prescription: (&str, &str),
    active_until: DateTime<Utc>,
) -> Result<(), sqlx::Error> {
    let (prescription_id, medication) = prescription;
    let mut tx = pool.begin().await?;
    lock_patient(&mut tx, patient_id).await?;
    sqlx::query(
        "INSERT INTO carepath.prescriptions
             (prescription_id, patient_id, offering_id, medication, journey_id, active_until)
         VALUES ($1, $2, $3, $4, $5, $6)
         ON CONFLICT (prescription_id) DO NOTHING",
    )
    .bind(prescription_id)
    .bind(patient_id)
    .bind(offering_id)
    .bind(medication)
    .bind(journey_id)
    .bind(active_until)
    .execute(&mut *tx)
    .await?;
    close_in(&mut tx, journey_id).await?;
    tx.commit().await
}

/// Closes the consult this journey holds, if it holds one (the clinician
/// declined, the patient went silent). Idempotent.
pub async fn close(pool: &PgPool, patient_id: Uuid, journey_id: Uuid) -> Result<(), sqlx::Error> {
    let mut tx = pool.begin().await?;
    lock_patient(&mut tx, patient_id).await?;
    close_in(&mut tx, journey_id).await?;
    tx.commit().await
}

async fn close_in(conn: &mut PgConnection, journey_id: Uuid) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE carepath.consult_claims SET closed_at = now()
          WHERE journey_id = $1 AND closed_at IS NULL",
    )
    .bind(journey_id)
    .execute(conn)
    .await?;
    Ok(())
}

/// Where an intake merged into another journey's consult stands: the open
/// journey's case at the clinical network, once it has one, and whether that
/// journey has ended.
pub async fn case_of(
    pool: &PgPool,
    journey_id: Uuid,
) -> Result<(Option<String>, bool), sqlx::Error> {
    sqlx::query_as(
        "SELECT (SELECT ref FROM carepath.journey_refs
                  WHERE journey_id = j.id AND vendor = 'clinical' AND kind = 'case' LIMIT 1),
                j.status IN ('completed', 'cancelled')
           FROM carepath.journeys j WHERE j.id = $1",
    )
    .bind(journey_id)
    .fetch_one(pool)
    .await
}
