//! A journey's sealing: its data key and its workflow's marking, as a run,
//! a signal or an audited read uses them.

use std::sync::Arc;

use serde_json::Value;
use uuid::Uuid;

use super::{
    DataKey, KeyState, Owner, Payload, Place, Sensitivity, Vault, VaultError, envelope,
    marking::base_key,
};
use crate::Workflow;

/// What seals and opens one journey's payloads.
#[derive(Clone)]
pub struct JourneySeal {
    key: KeyState,
    code: Option<Arc<dyn Workflow>>,
    seal_unmarked: bool,
}

impl JourneySeal {
    /// For writing `journey`'s payloads of workflow `code`: its data key,
    /// made if it has none (a journey started with encryption off) while
    /// encryption is on.
    ///
    /// # Errors
    /// [`VaultError::Erased`] when its key was destroyed; a KEK or database
    /// error.
    pub async fn for_writing(
        vault: &Vault,
        db: &mut sqlx::PgConnection,
        journey: Uuid,
        code: Option<Arc<dyn Workflow>>,
        seal_unmarked: bool,
    ) -> Result<Self, VaultError> {
        let key = match vault.key_or_create(db, &Owner::Journey(journey)).await? {
            Some(k) => KeyState::Live(k),
            None => KeyState::None,
        };
        Ok(Self {
            key,
            code,
            seal_unmarked,
        })
    }

    /// For reading `journey`'s payloads (an erased key reads as erased).
    ///
    /// # Errors
    /// A KEK or database error.
    pub async fn for_reading(
        vault: &Vault,
        db: impl sqlx::PgExecutor<'_>,
        journey: Uuid,
    ) -> Result<Self, VaultError> {
        Ok(Self {
            key: vault.key_of(db, &Owner::Journey(journey)).await?,
            code: None,
            seal_unmarked: false,
        })
    }

    /// For a journey that was just given `key` (or none, encryption off).
    pub fn with_key(key: Option<DataKey>, code: Arc<dyn Workflow>, seal_unmarked: bool) -> Self {
        Self {
            key: key.map_or(KeyState::None, KeyState::Live),
            code: Some(code),
            seal_unmarked,
        }
    }

    /// `value` as it is stored at `place`: sealed when `payload` is to be
    /// sealed and the journey has a key, as given otherwise.
    pub fn seal(&self, payload: Payload<'_>, place: &Place, value: &Value) -> Value {
        let KeyState::Live(key) = &self.key else {
            return value.clone();
        };
        let payload = match payload {
            Payload::Step(k) => Payload::Step(base_key(k)),
            other => other,
        };
        // A workflow this process lacks marks nothing: the default decides.
        let marking = self
            .code
            .as_ref()
            .map_or(Sensitivity::Unmarked, |c| c.sensitivity(payload));
        let sealed = marking.sealed(self.seal_unmarked);
        if sealed {
            envelope::seal_json(key, place, value)
        } else {
            value.clone()
        }
    }

    /// What a stored `value` at `place` holds: itself when plain.
    ///
    /// # Errors
    /// [`VaultError::Erased`] when its key was destroyed;
    /// [`VaultError::Tampered`] when it was sealed for another place.
    pub fn open(&self, place: &Place, value: Value) -> Result<Value, VaultError> {
        match envelope::sealed_json(&value) {
            None => Ok(value),
            Some(bytes) => envelope::open_json(self.key.key_for(&bytes)?, place, &bytes),
        }
    }

    /// As [`JourneySeal::open`], an erased value reading as the string
    /// `"erased"` (what the API shows).
    ///
    /// # Errors
    /// As [`JourneySeal::open`], but never [`VaultError::Erased`].
    pub fn open_or_erased(&self, place: &Place, value: Value) -> Result<Value, VaultError> {
        match self.open(place, value) {
            Err(VaultError::Erased) => Ok(Value::String(ERASED.into())),
            other => other,
        }
    }
}

impl JourneySeal {
    /// What a stored `value` at `place` shows to a reader: itself when
    /// plain or opened, [`ERASED`] when its key was destroyed, and
    /// `[unreadable: <why>]` when it does not open (the why names no value).
    pub fn open_for_display(&self, place: &Place, value: Value) -> Value {
        match self.open(place, value) {
            Ok(v) => v,
            Err(VaultError::Erased) => Value::String(ERASED.into()),
            Err(e) => Value::String(format!("[unreadable: {e}]")),
        }
    }
}

impl crate::Engine {
    /// A step output `stored` of `journey`, opened in memory; `None` when
    /// there is none.
    ///
    /// # Errors
    /// [`VaultError::Erased`] when the journey's PHI was erased; a sealed
    /// value that does not open; a KEK or database error.
    pub async fn opened_output(
        &self,
        journey: Uuid,
        stored: Option<crate::store::steps::StoredOutput>,
    ) -> Result<Option<Value>, VaultError> {
        let Some(crate::store::steps::StoredOutput {
            seq,
            key,
            output: Some(output),
        }) = stored
        else {
            return Ok(None);
        };
        let seal = JourneySeal::for_reading(self.vault(), self.pool(), journey).await?;
        seal.open(&Place::step_output(journey, seq, &key), output)
            .map(Some)
    }

    /// The journey's input, opened in memory; `None` when there is no such
    /// journey.
    ///
    /// # Errors
    /// As [`crate::Engine::opened_output`].
    pub async fn opened_input(&self, journey: Uuid) -> Result<Option<Value>, VaultError> {
        let Some(input) = crate::store::journeys::input(self.pool(), journey).await? else {
            return Ok(None);
        };
        let seal = JourneySeal::for_reading(self.vault(), self.pool(), journey).await?;
        seal.open(&Place::journey_input(journey), input).map(Some)
    }
}

/// What an erased value reads as through the API.
pub const ERASED: &str = "erased";
