//! Erasing journeys' PHI (crypto-shredding): their data keys destroyed, so
//! their input, step outputs, signal payloads and superseded positions can
//! no longer be read, in the database or in any backup once the KEK that
//! wrapped those keys is retired. Nothing of the history is changed: its
//! chain is over what was stored, and still verifies; a `phi_erased` event
//! says when, by whom and why.

use serde_json::json;
use sqlx::PgConnection;
use uuid::Uuid;

use crate::store::{data_keys, history};

/// Who erases, why, and which kinds of search identifier are PHI.
#[derive(Debug, Clone, Copy)]
pub struct Erasure<'a> {
    /// Recorded in each journey's history (`retention`, `token:<name>`, ...).
    pub actor: &'a str,
    /// Recorded with it, and on each destroyed key.
    pub reason: &'a str,
    /// Kinds of `carepath.journey_keys` that are keyed hashes of PHI (the
    /// patient's external id, email, phone): deleted, so a search by them
    /// no longer finds the journeys. Business ids (a case, an order) stay.
    pub forget_kinds: &'a [&'a str],
}

/// Erases the PHI of `journeys` within the caller's transaction; returns
/// how many had PHI left to erase (a journey erased before is passed over).
///
/// # Errors
/// A database error.
pub async fn erase_journeys(
    tx: &mut PgConnection,
    journeys: &[Uuid],
    erasure: &Erasure<'_>,
) -> Result<u64, sqlx::Error> {
    let fresh: Vec<Uuid> = sqlx::query_scalar(
        "UPDATE carepath.journeys SET phi_erased_at = now()
          WHERE id = ANY($1) AND phi_erased_at IS NULL RETURNING id",
    )
    .bind(journeys)
    .fetch_all(&mut *tx)
    .await?;
    if fresh.is_empty() {
        return Ok(0);
    }
    let owners: Vec<String> = fresh.iter().map(|id| format!("journey:{id}")).collect();
    data_keys::destroy(&mut *tx, &owners, erasure.reason).await?;
    sqlx::query("DELETE FROM carepath.journey_keys WHERE journey_id = ANY($1) AND kind = ANY($2)")
        .bind(&fresh)
        .bind(erasure.forget_kinds)
        .execute(&mut *tx)
        .await?;
    // Superseded positions are kept for the record only; sealed under the
    // destroyed key, they are kept no longer.
    sqlx::query("DELETE FROM carepath.journey_steps_superseded WHERE journey_id = ANY($1)")
        .bind(&fresh)
        .execute(&mut *tx)
        .await?;
    for id in &fresh {
        history::append(
            &mut *tx,
            *id,
            erasure.actor,
            "phi_erased",
            json!({ "reason": erasure.reason }),
        )
        .await?;
    }
    Ok(fresh.len() as u64)
}
