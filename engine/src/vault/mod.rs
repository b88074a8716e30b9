//! Envelope encryption of PHI at rest. Each journey (and each patient, and
//! each day's webhook bodies) has its own data key; values are sealed with
//! it ([`envelope`], XChaCha20-Poly1305 from RustCrypto's audited
//! `chacha20poly1305`), and the data key is stored only wrapped by a
//! key-encryption key ([`ring`]) that never enters the database. Rotation
//! re-wraps data keys under a new KEK without touching what they sealed
//! ([`rotate`]); erasure destroys a data key, which makes everything sealed
//! under it unreadable at once, in the live database and in every backup
//! taken after the KEK that wrapped it is retired (crypto-shredding).

pub mod bodies;
pub mod envelope;
pub mod erase;
pub mod journey;
pub mod marking;
pub mod ring;
pub mod rotate;
pub mod verify;

use std::fmt;
use std::sync::Arc;

use rand::RngCore;
use sqlx::PgExecutor;
use uuid::Uuid;
use zeroize::Zeroizing;

pub use envelope::Place;
pub use journey::{ERASED, JourneySeal};
pub use marking::{Payload, Sensitivity};
pub use ring::{KeyRing, KeyWrapper, Wrapped};

use crate::store::data_keys;

/// Bytes of a data key and of a key-encryption key (256 bits).
pub const KEY_BYTES: usize = 32;
/// Bytes of an XChaCha20-Poly1305 nonce.
pub const NONCE_BYTES: usize = 24;

/// A key's bytes, wiped from memory when dropped.
pub type Secret = Zeroizing<[u8; KEY_BYTES]>;

/// What goes wrong sealing or opening. No variant carries key material or
/// what was sealed.
#[derive(Debug, thiserror::Error)]
pub enum VaultError {
    /// `CAREPATH_KEY_RING` is malformed (which entry, and why).
    #[error("key ring: {0}")]
    Ring(String),
    /// A data key is wrapped under a KEK the ring does not hold.
    #[error("the key ring has no key-encryption key {0:?} (add it back as an older key)")]
    UnknownKek(String),
    /// A data key does not unwrap with the ring's KEK of the id it names:
    /// the ring holds another key under that id (or the wrapped key was
    /// altered).
    #[error(
        "a data key does not unwrap with the key ring's key-encryption key {0:?}: the ring \
         holds another key under that id"
    )]
    KekMismatch(String),
    /// The KEK could not be used.
    #[error("key-encryption key: {0}")]
    Wrapper(String),
    /// A ciphertext or wrapped key did not authenticate: altered, or moved
    /// from the row it was sealed for.
    #[error("a sealed value does not open: it was altered or moved from its row")]
    Tampered,
    /// What opened is not what was sealed (not JSON).
    #[error("a sealed value opened to something unreadable")]
    Corrupt,
    /// The data key was destroyed: the value was erased.
    #[error("erased")]
    Erased,
    /// A sealed value names a data key that does not exist.
    #[error("a sealed value's data key {0} does not exist")]
    MissingKey(Uuid),
    /// The database.
    #[error(transparent)]
    Database(#[from] sqlx::Error),
}

impl VaultError {
    /// Whether this is the key ring's doing (a KEK missing, wrong, or
    /// unusable): fixed by configuration, not by the data, so whatever met
    /// it waits rather than fails.
    pub fn is_key_ring_problem(&self) -> bool {
        matches!(
            self,
            Self::Ring(_) | Self::UnknownKek(_) | Self::KekMismatch(_) | Self::Wrapper(_)
        )
    }
}

/// Who a data key belongs to (`carepath.data_keys.owner`): what it seals
/// is erased with it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Owner {
    /// A journey: its input, output, step outputs and signal payloads.
    Journey(Uuid),
    /// A patient of the registry: the identifying fields of its records.
    Patient(Uuid),
    /// The webhook bodies received on one day (UTC), erased together when
    /// the retention of webhook bodies has passed.
    InboxDay(chrono::NaiveDate),
    /// The matching models estimated on the registry (their name
    /// frequencies are names of the registry's patients).
    MatchModels,
}

impl fmt::Display for Owner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Journey(id) => write!(f, "journey:{id}"),
            Self::Patient(id) => write!(f, "patient:{id}"),
            Self::InboxDay(day) => write!(f, "inbox:{day}"),
            Self::MatchModels => f.write_str("match_models"),
        }
    }
}

/// An unwrapped data key. Its bytes are wiped when the last clone drops.
#[derive(Clone)]
pub struct DataKey {
    /// `carepath.data_keys.id`, also in every sealed value's header.
    pub id: Uuid,
    secret: Arc<Secret>,
}

impl fmt::Debug for DataKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "DataKey({})", self.id)
    }
}

impl DataKey {
    /// A new random data key (from the operating system's CSPRNG, through
    /// `rand`'s thread generator).
    pub fn generate() -> Self {
        let mut secret = Zeroizing::new([0u8; KEY_BYTES]);
        rand::rng().fill_bytes(secret.as_mut_slice());
        Self {
            id: Uuid::now_v7(),
            secret: Arc::new(secret),
        }
    }
}

/// A data key as the database has it.
#[derive(Debug, Clone)]
pub enum KeyState {
    /// Readable.
    Live(DataKey),
    /// Destroyed: what it sealed reads as erased.
    Erased,
    /// The owner has no key: its values were stored plain (encryption off).
    None,
}

impl KeyState {
    /// The key, or why there is none to open `sealed` with.
    ///
    /// # Errors
    /// [`VaultError::Erased`], or [`VaultError::MissingKey`] when a sealed
    /// value names a key the owner does not have.
    pub fn key_for(&self, sealed: &[u8]) -> Result<&DataKey, VaultError> {
        let named = envelope::key_id(sealed).ok_or(VaultError::Corrupt)?;
        match self {
            Self::Live(k) if k.id == named => Ok(k),
            Self::Erased => Err(VaultError::Erased),
            _ => Err(VaultError::MissingKey(named)),
        }
    }
}

/// The deployment's encryption at rest: the KEK ring, or nothing when
/// encryption is off (`CAREPATH_PHI_ENCRYPTION=off`, or an engine made
/// without [`crate::Engine::with_vault`]). Cheap to clone.
#[derive(Clone, Default)]
pub struct Vault {
    wrapper: Option<Arc<dyn KeyWrapper>>,
}

impl fmt::Debug for Vault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.wrapper {
            Some(w) => write!(f, "Vault(current KEK {})", w.current()),
            None => f.write_str("Vault(off)"),
        }
    }
}

impl Vault {
    /// Encryption with `wrapper`'s KEKs.
    pub fn new(wrapper: Arc<dyn KeyWrapper>) -> Self {
        Self {
            wrapper: Some(wrapper),
        }
    }

    /// No encryption: values are stored plain (what was sealed before
    /// still opens only with a vault that has its KEK).
    pub fn off() -> Self {
        Self { wrapper: None }
    }

    /// Whether new values are sealed.
    pub fn is_on(&self) -> bool {
        self.wrapper.is_some()
    }

    /// The KEKs, when encryption is on.
    pub fn wrapper(&self) -> Option<&Arc<dyn KeyWrapper>> {
        self.wrapper.as_ref()
    }

    /// A new data key for `owner`, wrapped and not yet stored (see
    /// [`Fresh::store`]): a journey's is stored only if the journey is.
    /// `None` when encryption is off.
    ///
    /// # Errors
    /// A KEK error.
    pub async fn fresh(&self, owner: &Owner) -> Result<Option<Fresh>, VaultError> {
        let Some(wrapper) = &self.wrapper else {
            return Ok(None);
        };
        let key = DataKey::generate();
        let owner = owner.to_string();
        let wrapped = wrapper.wrap(&key.secret, &wrap_aad(key.id, &owner)).await?;
        Ok(Some(Fresh {
            key,
            owner,
            wrapped,
        }))
    }

    /// `owner`'s data key, made and stored if it has none. `None` when
    /// encryption is off and it has none.
    ///
    /// # Errors
    /// [`VaultError::Erased`] when the owner's key was destroyed; a KEK or
    /// database error.
    pub async fn key_or_create(
        &self,
        db: &mut sqlx::PgConnection,
        owner: &Owner,
    ) -> Result<Option<DataKey>, VaultError> {
        match self.key_of(&mut *db, owner).await? {
            KeyState::Live(k) => return Ok(Some(k)),
            KeyState::Erased => return Err(VaultError::Erased),
            KeyState::None => {}
        }
        let Some(fresh) = self.fresh(owner).await? else {
            return Ok(None);
        };
        if fresh.store(&mut *db).await? {
            return Ok(Some(fresh.key));
        }
        // Another transaction made it meanwhile.
        match self.key_of(&mut *db, owner).await? {
            KeyState::Live(k) => Ok(Some(k)),
            KeyState::Erased => Err(VaultError::Erased),
            KeyState::None => Err(VaultError::MissingKey(fresh.key.id)),
        }
    }

    /// `owner`'s data key.
    ///
    /// # Errors
    /// A KEK the ring lacks, a wrapped key that does not unwrap, the database.
    pub async fn key_of(
        &self,
        db: impl PgExecutor<'_>,
        owner: &Owner,
    ) -> Result<KeyState, VaultError> {
        let row = data_keys::by_owner(db, &owner.to_string()).await?;
        self.unwrap_row(row).await
    }

    /// The data key `id`.
    ///
    /// # Errors
    /// As [`Vault::key_of`].
    pub async fn key_by_id(
        &self,
        db: impl PgExecutor<'_>,
        id: Uuid,
    ) -> Result<KeyState, VaultError> {
        let row = data_keys::by_id(db, id).await?;
        self.unwrap_row(row).await
    }

    /// The key a stored row describes, unwrapped.
    ///
    /// # Errors
    /// As [`Vault::key_of`]; a live key while encryption is off is
    /// [`VaultError::UnknownKek`].
    pub async fn unwrap_row(&self, row: Option<data_keys::Row>) -> Result<KeyState, VaultError> {
        let Some(row) = row else {
            return Ok(KeyState::None);
        };
        let (Some(kek_id), Some(bytes)) = (row.kek_id, row.wrapped) else {
            return Ok(KeyState::Erased);
        };
        let Some(wrapper) = &self.wrapper else {
            return Err(VaultError::UnknownKek(kek_id));
        };
        let wrapped = Wrapped { kek_id, bytes };
        let secret = wrapper
            .unwrap(&wrapped, &wrap_aad(row.id, &row.owner))
            .await?;
        Ok(KeyState::Live(DataKey {
            id: row.id,
            secret: Arc::new(secret),
        }))
    }
}

/// A data key made by [`Vault::fresh`], not yet stored.
pub struct Fresh {
    /// The key, to seal with once stored.
    pub key: DataKey,
    owner: String,
    wrapped: Wrapped,
}

impl Fresh {
    /// Whose key it is (`carepath.data_keys.owner`).
    pub fn owner(&self) -> &str {
        &self.owner
    }

    /// The key wrapped under the current KEK, as `carepath.data_keys`
    /// stores it (for a writer that stores the key in a statement of its
    /// own, with what it seals).
    pub fn wrapped(&self) -> &Wrapped {
        &self.wrapped
    }

    /// Stores the key; false (nothing stored) when its owner already has one.
    ///
    /// # Errors
    /// A database error.
    pub async fn store(&self, db: impl PgExecutor<'_>) -> Result<bool, sqlx::Error> {
        data_keys::insert(db, self.key.id, &self.owner, &self.wrapped).await
    }
}

/// The associated data a data key is wrapped with: its id and owner, so a
/// wrapped key copied to another row does not unwrap.
pub(crate) fn wrap_aad(id: Uuid, owner: &str) -> Vec<u8> {
    format!("carepath.data_key.v1|{id}|{owner}").into_bytes()
}
