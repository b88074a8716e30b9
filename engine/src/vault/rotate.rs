//! `carepath keys rotate`: every live data key re-wrapped under the ring's
//! current KEK, in batches that each commit, so it runs while workers run
//! (they unwrap with whichever KEK a key names, the old ones staying in the
//! ring) and, stopped anywhere, resumes where it was. What the data keys
//! sealed is not touched.

use sqlx::PgPool;

use super::{Vault, VaultError, Wrapped, wrap_aad};
use crate::store::data_keys;

/// What a rotation did.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct Rotated {
    /// The KEK every live key is now wrapped under.
    pub current: String,
    /// Keys re-wrapped by this run.
    pub rewrapped: u64,
}

/// Re-wraps every live data key not under the current KEK, `batch` per
/// transaction.
///
/// # Errors
/// [`VaultError::Wrapper`] when encryption is off; a key whose KEK the
/// ring lacks ([`VaultError::UnknownKek`]: the run stops there, everything
/// before it done); the database.
pub async fn run(pool: &PgPool, vault: &Vault, batch: i64) -> Result<Rotated, VaultError> {
    let Some(wrapper) = vault.wrapper() else {
        return Err(VaultError::Wrapper(
            "encryption is off: nothing to rotate".into(),
        ));
    };
    let current = wrapper.current().to_owned();
    let mut rewrapped = 0;
    loop {
        let mut tx = pool.begin().await?;
        let rows = data_keys::lock_not_under(&mut *tx, &current, batch.max(1)).await?;
        if rows.is_empty() {
            tx.commit().await?;
            return Ok(Rotated { current, rewrapped });
        }
        for row in rows {
            let (Some(kek_id), Some(bytes)) = (row.kek_id, row.wrapped) else {
                continue;
            };
            let aad = wrap_aad(row.id, &row.owner);
            let secret = wrapper.unwrap(&Wrapped { kek_id, bytes }, &aad).await?;
            let again = wrapper.wrap(&secret, &aad).await?;
            data_keys::rewrap(&mut *tx, row.id, &again).await?;
            rewrapped += 1;
        }
        tx.commit().await?;
    }
}
