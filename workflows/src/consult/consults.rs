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

/// The patient's active prescription for the offering, newest first: one
/// whose journey is still filling it, or whose supply has not run out.
async fn active_prescription(
    conn: &mut PgConnection,
    patient_id: Uuid,
    offering_id: &str,
) -> Result<Option<ActivePrescription>, sqlx::Error> {
    sqlx::query_as(
        "SELECT prescription_id, medication, journey_id, written_at, active_until
           FROM carepath.prescriptions
          WHERE patient_id = $1 AND offering_id = $2
            AND (active_until > now()
                 OR EXISTS (SELECT 1 FROM carepath.journeys j
                             WHERE j.id = prescriptions.journey_id
                               AND j.status NOT IN ('completed', 'cancelled')))
          ORDER BY written_at DESC LIMIT 1",
    )
    .bind(patient_id)
    .bind(offering_id)
    .fetch_optional(conn)
    .await
}

/// How [`claim`] decides.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClaimMode {
    /// One open consult per patient and offering: another open one is
    /// [`Claim::Open`].
    Exclusive,
    /// The offering allows parallel consults: nothing is claimed, only an
    /// active prescription is looked for.
    Parallel,
    /// An operator decided this intake opens a consult, whatever else is open
    /// or active: it is claimed regardless.
    Forced,
}

/// Claims a consult of `offering_id` for the patient, for `journey_id`.
///
/// In order, under the patient's lock: another journey's consult that is
/// open — not closed, its journey not completed or cancelled (a failed one
/// still holds it: an operator's retry must not meet a second case; a live
/// one is preferred, then the newest) — is [`Claim::Open`] in
/// [`ClaimMode::Exclusive`]; an active prescription is
/// [`Claim::ActiveTreatment`] (except when [`ClaimMode::Forced`]); otherwise
/// the consult is recorded as this journey's — except in
/// [`ClaimMode::Parallel`], which records nothing. Idempotent: a re-run for a
/// journey whose consult is recorded answers [`Claim::Claimed`].
pub async fn claim(
    pool: &PgPool,
    patient_id: Uuid,
    offering_id: &str,
    journey_id: Uuid,
    mode: ClaimMode,
) -> Result<Claim, sqlx::Error> {
    let mut tx = pool.begin().await?;
    lock_patient(&mut tx, patient_id).await?;
    let mine: bool = sqlx::query_scalar(
        "SELECT EXISTS (SELECT 1 FROM carepath.consult_claims WHERE journey_id = $1)",
    )
    .bind(journey_id)
    .fetch_one(&mut *tx)
    .await?;
    if mine {
        tx.commit().await?;
        return Ok(Claim::Claimed);
    }
    if mode == ClaimMode::Exclusive {
        let open: Option<Uuid> = sqlx::query_scalar(
            "SELECT c.journey_id
               FROM carepath.consult_claims c JOIN carepath.journeys j ON j.id = c.journey_id
              WHERE c.patient_id = $1 AND c.offering_id = $2 AND c.closed_at IS NULL
                AND j.status NOT IN ('completed', 'cancelled')
              ORDER BY j.status IN ('failed', 'paused'), c.opened_at DESC LIMIT 1",
        )
        .bind(patient_id)
        .bind(offering_id)
        .fetch_optional(&mut *tx)
        .await?;
        if let Some(open) = open {
            tx.commit().await?;
            return Ok(Claim::Open { journey_id: open });
        }
    }
    if mode != ClaimMode::Forced
        && let Some(prescription) = active_prescription(&mut tx, patient_id, offering_id).await?
    {
        tx.commit().await?;
        return Ok(Claim::ActiveTreatment { prescription });
    }
    if mode == ClaimMode::Parallel {
        tx.commit().await?;
        return Ok(Claim::Unclaimed);
    }
    sqlx::query(
        "INSERT INTO carepath.consult_claims (journey_id, patient_id, offering_id)
         VALUES ($1, $2, $3)",
    )
    .bind(journey_id)
    .bind(patient_id)
    .bind(offering_id)
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

/// The last fill of this journey's prescription was delivered: its supply
/// lasts until `until`, and the prescription is active until then at least.
pub async fn supply_ends(
    pool: &PgPool,
    journey_id: Uuid,
    until: DateTime<Utc>,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE carepath.prescriptions SET active_until = greatest(active_until, $2)
          WHERE journey_id = $1",
    )
    .bind(journey_id)
    .bind(until)
    .execute(pool)
    .await?;
    Ok(())
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

/// The open consult an intake would merge into, as it stands now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpenConsult {
    /// Its case at the clinical network, once submitted.
    pub case_id: Option<String>,
    /// Its journey's status (`running`, `waiting`, `failed`, ...).
    pub status: String,
}

/// Where the consult of `journey_id` stands.
pub async fn open_consult(pool: &PgPool, journey_id: Uuid) -> Result<OpenConsult, sqlx::Error> {
    let (case_id, status): (Option<String>, String) = sqlx::query_as(
        "SELECT (SELECT ref FROM carepath.journey_refs
                  WHERE journey_id = j.id AND vendor = 'clinical' AND kind = 'case' LIMIT 1),
                j.status
           FROM carepath.journeys j WHERE j.id = $1",
    )
    .bind(journey_id)
    .fetch_one(pool)
    .await?;
    Ok(OpenConsult { case_id, status })
}
