//! Webhook bodies at rest: sealed under the data key of the day they
//! arrived (UTC), so that erasing a day's key erases that day's bodies at
//! once when their retention has passed. A stored body is a JSON object
//! (its first byte `{` or white space) or a sealed value (its first byte
//! 1): the two never meet.

use std::sync::Mutex;

use chrono::{NaiveDate, Utc};
use sqlx::{PgConnection, PgExecutor};

use super::{DataKey, KeyState, Owner, Place, Vault, VaultError, envelope};
use crate::Engine;

/// Today's day key, kept by each process once read (a day's key is only
/// ever destroyed after that day).
#[derive(Default)]
pub(crate) struct DayKey(Mutex<Option<(NaiveDate, DataKey)>>);

impl Engine {
    /// `body` as the inbox (or the rejections) stores it at `place`: sealed
    /// under today's key when encryption is on.
    ///
    /// # Errors
    /// A KEK or database error.
    pub async fn seal_body(
        &self,
        db: &mut PgConnection,
        place: &Place,
        body: &[u8],
    ) -> Result<Vec<u8>, VaultError> {
        if !self.vault().is_on() {
            return Ok(body.to_vec());
        }
        let key = self.day_key(db).await?;
        Ok(envelope::seal(&key, place, body))
    }

    /// What a stored `body` at `place` holds: itself when plain.
    ///
    /// # Errors
    /// [`VaultError::Erased`] when its day's key was destroyed (its
    /// retention passed); [`VaultError::Tampered`] when it was sealed for
    /// another place; a KEK or database error.
    pub async fn open_body(
        &self,
        db: impl PgExecutor<'_>,
        place: &Place,
        body: Vec<u8>,
    ) -> Result<Vec<u8>, VaultError> {
        let Some(id) = envelope::key_id(&body) else {
            return Ok(body);
        };
        match self.vault().key_by_id(db, id).await? {
            KeyState::Live(key) => envelope::open(&key, place, &body),
            KeyState::Erased => Err(VaultError::Erased),
            KeyState::None => Err(VaultError::MissingKey(id)),
        }
    }

    /// As [`Engine::seal_body`], with a connection from the engine's pool
    /// only when today's key is not yet held (once a day per process): the
    /// webhook door seals without a round trip.
    ///
    /// # Errors
    /// A KEK or database error.
    pub async fn seal_body_pooled(
        &self,
        place: &Place,
        body: &[u8],
    ) -> Result<Vec<u8>, VaultError> {
        if !self.vault().is_on() {
            return Ok(body.to_vec());
        }
        let key = match self.held_day_key(Utc::now().date_naive()) {
            Some(key) => key,
            None => {
                let mut conn = self.pool().acquire().await.map_err(VaultError::Database)?;
                self.day_key(&mut conn).await?
            }
        };
        Ok(envelope::seal(&key, place, body))
    }

    fn held_day_key(&self, today: NaiveDate) -> Option<DataKey> {
        let cached = self.day_key.0.lock().ok()?;
        let (day, key) = cached.as_ref()?;
        (*day == today).then(|| key.clone())
    }

    async fn day_key(&self, db: &mut PgConnection) -> Result<DataKey, VaultError> {
        let today = Utc::now().date_naive();
        if let Some(key) = self.held_day_key(today) {
            return Ok(key);
        }
        let key = key_of_day(self.vault(), db, today).await?;
        if let Ok(mut cached) = self.day_key.0.lock() {
            *cached = Some((today, key.clone()));
        }
        Ok(key)
    }
}

/// `body` sealed at `place` under today's key, as [`Engine::seal_body`],
/// without its cache (for a process that stores few bodies, such as a feed
/// reader).
///
/// # Errors
/// A KEK or database error.
pub async fn seal(
    vault: &Vault,
    db: &mut PgConnection,
    place: &Place,
    body: &[u8],
) -> Result<Vec<u8>, VaultError> {
    if !vault.is_on() {
        return Ok(body.to_vec());
    }
    let key = key_of_day(vault, db, Utc::now().date_naive()).await?;
    Ok(envelope::seal(&key, place, body))
}

async fn key_of_day(
    vault: &Vault,
    db: &mut PgConnection,
    day: NaiveDate,
) -> Result<DataKey, VaultError> {
    let owner = Owner::InboxDay(day);
    vault
        .key_or_create(db, &owner)
        .await?
        .ok_or_else(|| VaultError::Wrapper("encryption is off".into()))
}
