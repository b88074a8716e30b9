//! A process's key ring checked against the database before it starts: for
//! every KEK live data keys are wrapped under, the ring must hold it and
//! unwrap one of them. A worker started with a ring that lacks the KEK of
//! some keys, or holds another key under its id, would otherwise park
//! every journey it meets (see the runner) or park good webhooks.

use sqlx::PgPool;

use super::{Vault, VaultError};
use crate::store::data_keys;

/// Checks `vault`'s ring against the live data keys (see the module). With
/// encryption off, there must be none: what they sealed could not be read.
///
/// # Errors
/// [`VaultError::UnknownKek`] naming a KEK live keys are wrapped under that
/// the ring lacks (any, with encryption off); [`VaultError::KekMismatch`]
/// when the ring's key of that id does not unwrap them; the database.
pub async fn key_ring(pool: &PgPool, vault: &Vault) -> Result<(), VaultError> {
    let keks = data_keys::live_keks(pool).await?;
    if !vault.is_on() {
        return match keks.into_iter().next() {
            Some(kek) => Err(VaultError::UnknownKek(kek)),
            None => Ok(()),
        };
    }
    for kek in keks {
        let sample = data_keys::one_under(pool, &kek).await?;
        vault.unwrap_row(sample).await?;
    }
    Ok(())
}
