//! Erasing a patient (a deletion request: `carepath patients erase`,
//! `POST /v1/patients/{id}/erase`), and retention of patients without
//! journeys. The patient's data key and the data keys of every journey it
//! took are destroyed (crypto-shredding), the registry forgets the blocking
//! keys the matcher and search found it by, each journey's history records
//! `phi_erased` (the hash chain, over what was stored, still verifies), and
//! the operator audit records who asked and why. Erasing a patient again
//! changes nothing.

use std::time::Duration;

use chrono::{DateTime, Utc};
use serde_json::json;
use sqlx::{PgConnection, PgPool};
use uuid::Uuid;

use carepath_engine::store::data_keys;
use carepath_engine::vault::erase::{Erasure, erase_journeys};

use crate::consult::patients;
use crate::search::PHI_KINDS;
use crate::store::audit;

/// Why a patient was not erased.
#[derive(Debug, thiserror::Error)]
pub enum EraseError {
    /// No patient has this id.
    #[error("no patient {0}")]
    NotFound(Uuid),
    /// Some of its journeys have not ended: erasing would strand them.
    /// Cancel (or let them end) first.
    #[error(
        "patient {patient} has journeys that have not ended ({}): cancel them first",
        journeys.iter().map(Uuid::to_string).collect::<Vec<_>>().join(", ")
    )]
    Active {
        /// The patient.
        patient: Uuid,
        /// Its journeys still running, waiting, paused or failed.
        journeys: Vec<Uuid>,
    },
    /// The database.
    #[error(transparent)]
    Database(#[from] sqlx::Error),
}

/// What erasing a patient did.
#[derive(Debug, Clone, serde::Serialize)]
pub struct PatientErased {
    /// The patient.
    pub patient_id: Uuid,
    /// When it was erased (the first time, if it already was).
    pub erased_at: DateTime<Utc>,
    /// Whether this request erased it (false: it already was).
    pub erased_now: bool,
    /// Its journeys, each of whose PHI is erased.
    pub journeys: Vec<Uuid>,
    /// Registry records whose blocking keys were forgotten.
    pub records: u64,
}

/// Erases `patient` for `actor` with `reason` (see the module).
///
/// # Errors
/// [`EraseError::NotFound`], [`EraseError::Active`], or the database's.
pub async fn erase_patient(
    pool: &PgPool,
    patient: Uuid,
    actor: &str,
    reason: &str,
) -> Result<PatientErased, EraseError> {
    let mut tx = pool.begin().await?;
    let erased: Option<Option<DateTime<Utc>>> =
        sqlx::query_scalar("SELECT erased_at FROM carepath.patients WHERE id = $1 FOR UPDATE")
            .bind(patient)
            .fetch_optional(&mut *tx)
            .await?;
    let Some(erased) = erased else {
        return Err(EraseError::NotFound(patient));
    };
    let journeys = journeys_of(&mut tx, patient).await?;
    if let Some(at) = erased {
        return Ok(PatientErased {
            patient_id: patient,
            erased_at: at,
            erased_now: false,
            journeys,
            records: 0,
        });
    }
    let active = unended(&mut tx, &journeys).await?;
    if !active.is_empty() {
        return Err(EraseError::Active {
            patient,
            journeys: active,
        });
    }
    let (records, erased_at) = forget(&mut tx, patient, &journeys, actor, reason).await?;
    audit::record(
        &mut *tx,
        actor,
        "patient_erase",
        &patient.to_string(),
        &json!({ "reason": reason, "journeys": journeys.len(), "records": records }),
    )
    .await?;
    tx.commit().await?;
    Ok(PatientErased {
        patient_id: patient,
        erased_at,
        erased_now: true,
        journeys,
        records,
    })
}

/// Forgets the patient in the registry, destroys its key and its journeys'
/// PHI, and marks it erased; returns the records forgotten and when.
async fn forget(
    tx: &mut PgConnection,
    patient: Uuid,
    journeys: &[Uuid],
    actor: &str,
    reason: &str,
) -> Result<(u64, DateTime<Utc>), sqlx::Error> {
    let records = patients::forget(&mut *tx, patient).await?;
    data_keys::destroy(&mut *tx, &[format!("patient:{patient}")], reason).await?;
    let erasure = Erasure {
        actor,
        reason,
        forget_kinds: &PHI_KINDS,
    };
    erase_journeys(&mut *tx, journeys, &erasure).await?;
    let at = sqlx::query_scalar(
        "UPDATE carepath.patients SET erased_at = now(), erase_reason = $2
          WHERE id = $1 RETURNING erased_at",
    )
    .bind(patient)
    .bind(reason)
    .fetch_one(&mut *tx)
    .await?;
    Ok((records, at))
}

/// Every journey that took the patient: whose intake it is, whose consult
/// or prescription it holds, or that created it.
async fn journeys_of(tx: &mut PgConnection, patient: Uuid) -> Result<Vec<Uuid>, sqlx::Error> {
    sqlx::query_scalar(
        "SELECT journey_id FROM carepath.patient_records WHERE patient_id = $1 AND journey_id IS NOT NULL
         UNION SELECT journey_id FROM carepath.consult_claims WHERE patient_id = $1
         UNION SELECT journey_id FROM carepath.prescriptions WHERE patient_id = $1
         UNION SELECT created_by_journey FROM carepath.patients
                WHERE id = $1 AND created_by_journey IS NOT NULL
         ORDER BY 1",
    )
    .bind(patient)
    .fetch_all(&mut *tx)
    .await
}

/// Those of `journeys` that have not ended.
async fn unended(tx: &mut PgConnection, journeys: &[Uuid]) -> Result<Vec<Uuid>, sqlx::Error> {
    sqlx::query_scalar(
        "SELECT id FROM carepath.journeys
          WHERE id = ANY($1) AND status NOT IN ('completed', 'cancelled') ORDER BY id",
    )
    .bind(journeys)
    .fetch_all(&mut *tx)
    .await
}

/// Erases up to `batch` patients created more than `keep` ago that no
/// journey holds PHI of any more (an import's patients nobody came back
/// as, or patients whose journeys' PHI retention erased); returns how many.
///
/// # Errors
/// The database's.
pub async fn retain_unlinked(
    pool: &PgPool,
    keep: Duration,
    batch: i64,
) -> Result<u64, sqlx::Error> {
    let stale: Vec<Uuid> = sqlx::query_scalar(
        "SELECT p.id FROM carepath.patients p
          WHERE p.erased_at IS NULL
            AND p.created_at < now() - make_interval(secs => $1)
            AND NOT EXISTS (SELECT 1 FROM carepath.patient_records r
                              JOIN carepath.journeys j ON j.id = r.journey_id
                             WHERE r.patient_id = p.id AND j.phi_erased_at IS NULL)
            AND NOT EXISTS (SELECT 1 FROM carepath.consult_claims c
                              JOIN carepath.journeys j ON j.id = c.journey_id
                             WHERE c.patient_id = p.id AND j.phi_erased_at IS NULL)
          ORDER BY p.created_at LIMIT $2",
    )
    .bind(keep.as_secs_f64())
    .bind(batch)
    .fetch_all(pool)
    .await?;
    let mut erased = 0;
    for patient in stale {
        let reason = "retention period of patients without journeys passed";
        match erase_patient(pool, patient, "retention", reason).await {
            Ok(done) if done.erased_now => erased += 1,
            Ok(_) | Err(EraseError::NotFound(_) | EraseError::Active { .. }) => {}
            Err(EraseError::Database(e)) => return Err(e),
        }
    }
    Ok(erased)
}
