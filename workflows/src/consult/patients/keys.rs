//! What the registry hashes and seals with: the deployment's search key,
//! for the blind indexes its records are looked up by, and its vault, for
//! the compared fields of each record, sealed under the patient's data key.
//! Neither is in the database, so neither the blocking keys nor the fields
//! can be read from it (nor from a backup) alone.

use carepath_engine::vault::{DataKey, KeyState, Owner, Place, Vault, VaultError, envelope};
use carepath_engine::{Engine, SearchKey};
use carepath_identity::Record;
use carepath_identity::blocking::{self, BlockKey};
use uuid::Uuid;

// Published: what the registry falls back to with encryption off, where its
// hashes hide nothing the fields beside them do not show anyway.
use crate::settings::DEVELOPMENT_SEARCH_KEY;

/// The deployment's keys for the patient registry. Cheap to clone.
#[derive(Clone, Debug)]
pub struct Keys {
    vault: Vault,
    search: SearchKey,
}

/// Encryption is on but no search key is configured: the registry's blind
/// indexes cannot be written or looked up.
#[derive(Debug, Clone, Copy, thiserror::Error)]
#[error(
    "CAREPATH_SEARCH_KEY is not set: with PHI encrypted at rest, the patient registry's \
     blocking keys are stored only as keyed hashes under it, so patients cannot be matched \
     without it (set it: 32 bytes or more, the same in every process)"
)]
pub struct NoSearchKey;

impl Keys {
    /// The registry's keys: `vault` and `search`.
    pub fn new(vault: Vault, search: SearchKey) -> Self {
        Self { vault, search }
    }

    /// The keys of a deployment whose search key may be unset. Without one,
    /// matching is refused while encryption is on (a published key would
    /// make the blind indexes as good as clear, and a deployment that loses
    /// its key must not file records nobody can find again); with
    /// encryption off the records are stored in clear anyway, and the
    /// published development key stands in, with a warning.
    ///
    /// # Errors
    /// [`NoSearchKey`] with encryption on and no search key.
    pub fn for_deployment(vault: Vault, search: Option<SearchKey>) -> Result<Self, NoSearchKey> {
        match search {
            Some(search) => Ok(Self::new(vault, search)),
            None if vault.is_on() => Err(NoSearchKey),
            None => {
                tracing::warn!(
                    "CAREPATH_SEARCH_KEY is not set and PHI encryption is off: the patient \
                     registry's blocking keys are hashed with the published development key"
                );
                let search =
                    SearchKey::new(DEVELOPMENT_SEARCH_KEY.as_bytes()).map_err(|_| NoSearchKey)?;
                Ok(Self::new(vault, search))
            }
        }
    }

    /// The keys of `engine`'s deployment (see [`Keys::for_deployment`]).
    ///
    /// # Errors
    /// [`NoSearchKey`].
    pub fn of_engine(engine: &Engine) -> Result<Self, NoSearchKey> {
        Self::for_deployment(engine.vault().clone(), engine.search_key().cloned())
    }

    /// The vault.
    pub fn vault(&self) -> &Vault {
        &self.vault
    }

    /// The keyed hash of a blocking key: HMAC-SHA-256 of its text, under a
    /// kind of its own (`block_dob`, …).
    pub fn block(&self, key: &BlockKey) -> Vec<u8> {
        self.hash(&format!("block_{}", key.kind()), &key.text())
    }

    /// The keyed hash of an imported line's external id.
    pub fn import_key(&self, external_id: &str) -> Vec<u8> {
        self.hash("import_external_id", external_id)
    }

    fn hash(&self, kind: &str, value: &str) -> Vec<u8> {
        // `SearchKey::hash` is lowercase hex: it always decodes.
        hex::decode(self.search.hash(kind, value)).unwrap_or_default()
    }

    /// The blind indexes a record is filed under.
    pub fn filed(&self, record: &Record) -> Blocks {
        let mut blocks = Blocks::default();
        for key in blocking::stored_keys(record) {
            let hash = Some(self.block(&key));
            match key {
                BlockKey::Dob(_) => blocks.dob = hash,
                BlockKey::FamilyCodeYear(..) => blocks.family_year = hash,
                BlockKey::PostalInitial(..) => blocks.postal_initial = hash,
                BlockKey::Phone(_) => blocks.phone = hash,
                BlockKey::Email(_) => blocks.email = hash,
            }
        }
        blocks
    }

    /// The blind indexes an incoming person is looked up by: their own, the
    /// date of birth's day–month swap too.
    pub fn lookup(&self, record: &Record) -> (Vec<Vec<u8>>, Blocks) {
        let dobs = blocking::lookup_keys(record)
            .iter()
            .filter(|k| matches!(k, BlockKey::Dob(_)))
            .map(|k| self.block(k))
            .collect();
        (dobs, self.filed(record))
    }
}

/// A record's blind indexes, one per kind of blocking key.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Blocks {
    /// Date of birth.
    pub dob: Option<Vec<u8>>,
    /// Family name's code and birth year.
    pub family_year: Option<Vec<u8>>,
    /// ZIP and the given name's initial.
    pub postal_initial: Option<Vec<u8>>,
    /// Phone.
    pub phone: Option<Vec<u8>>,
    /// Email.
    pub email: Option<Vec<u8>>,
}

/// Where a record's fields are sealed: bound to the patient, so fields
/// moved to another patient's record do not open.
fn place(patient_id: Uuid) -> Place {
    Place::other("patient_records", "match_fields", &patient_id.to_string())
}

/// A record's compared fields (`match_fields::encode`'s text) as stored:
/// sealed under `key`, or the text itself without one (encryption off).
pub fn seal_fields(key: Option<&DataKey>, patient_id: Uuid, text: &str) -> Vec<u8> {
    match key {
        Some(key) => envelope::seal(key, &place(patient_id), text.as_bytes()),
        None => text.as_bytes().to_vec(),
    }
}

/// Whether stored fields are sealed (else they are the plain text).
pub fn is_sealed(stored: &[u8]) -> bool {
    envelope::key_id(stored).is_some()
}

/// The text of stored fields, opened with the patient's `key` when sealed.
///
/// # Errors
/// [`VaultError::Erased`] when the key was destroyed; [`VaultError::Tampered`]
/// when the fields were altered or moved; [`VaultError::Corrupt`] when they
/// are not text.
pub fn open_fields(key: &KeyState, patient_id: Uuid, stored: &[u8]) -> Result<String, VaultError> {
    let plain = if is_sealed(stored) {
        envelope::open(key.key_for(stored)?, &place(patient_id), stored)?
    } else {
        stored.to_vec()
    };
    String::from_utf8(plain).map_err(|_| VaultError::Corrupt)
}

/// The patient's data key, made if they have none (`None`: encryption off).
///
/// # Errors
/// [`VaultError::Erased`] for a patient whose key was destroyed; a KEK or
/// database error.
pub async fn patient_key(
    keys: &Keys,
    conn: &mut sqlx::PgConnection,
    patient_id: Uuid,
) -> Result<Option<DataKey>, VaultError> {
    keys.vault
        .key_or_create(conn, &Owner::Patient(patient_id))
        .await
}

/// A vault error as the registry's callers take errors: the database's
/// own, or a protocol error naming no PHI (vault errors never carry any).
pub fn db_error(error: VaultError) -> sqlx::Error {
    match error {
        VaultError::Database(e) => e,
        other => sqlx::Error::Protocol(format!("patient registry: {other}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys() -> Keys {
        let search = SearchKey::new(&[7; 32]).unwrap_or_else(|e| panic!("{e}"));
        Keys::new(Vault::off(), search)
    }

    #[test]
    fn a_record_is_filed_under_the_hashes_it_is_looked_up_by() {
        let people = carepath_identity::synth::population(3, 5);
        let keys = keys();
        for p in &people {
            let r = Record::of(p);
            let filed = keys.filed(&r);
            let (dobs, looked) = keys.lookup(&r);
            assert_eq!(filed, looked);
            assert!(filed.dob.as_ref().is_none_or(|d| dobs.contains(d)));
            assert!(filed.dob.as_ref().is_none_or(|d| d.len() == 32));
        }
        let other = Keys::new(
            Vault::off(),
            SearchKey::new(&[8; 32]).unwrap_or_else(|e| panic!("{e}")),
        );
        let r = Record::of(&people[0]);
        assert_ne!(keys.filed(&r), other.filed(&r));
    }

    #[test]
    fn fields_seal_to_their_patient() {
        let key = DataKey::generate();
        let (a, b) = (Uuid::now_v7(), Uuid::now_v7());
        let sealed = seal_fields(Some(&key), a, "ada\u{1f}lovelace");
        assert!(is_sealed(&sealed));
        let live = KeyState::Live(key);
        assert_eq!(
            open_fields(&live, a, &sealed).ok().as_deref(),
            Some("ada\u{1f}lovelace")
        );
        assert!(open_fields(&live, b, &sealed).is_err());
        assert!(matches!(
            open_fields(&KeyState::Erased, a, &sealed),
            Err(VaultError::Erased)
        ));
        let plain = seal_fields(None, a, "x");
        assert!(!is_sealed(&plain));
        assert_eq!(
            open_fields(&KeyState::None, a, &plain).ok().as_deref(),
            Some("x")
        );
    }
}
