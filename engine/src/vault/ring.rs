//! Key-encryption keys (KEKs): what wraps every data key. [`KeyWrapper`] is
//! the interface — a cloud KMS can implement it later — and [`KeyRing`] the
//! implementation from configuration: one current key that wraps new data
//! keys, older ones kept only to unwrap what they wrapped until
//! `carepath keys rotate` has re-wrapped it.

use async_trait::async_trait;
use base64::Engine as _;
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use rand::RngCore;
use zeroize::Zeroizing;

use super::{KEY_BYTES, NONCE_BYTES, Secret, VaultError};

/// A data key wrapped by a key-encryption key: the ciphertext stored in
/// `carepath.data_keys.wrapped`, and the name of the KEK that can unwrap it.
#[derive(Debug, Clone)]
pub struct Wrapped {
    /// The KEK's id in the ring (`kek_id`).
    pub kek_id: String,
    /// Opaque to the engine: for [`KeyRing`], a 24-byte nonce and the
    /// XChaCha20-Poly1305 ciphertext of the 32-byte key with its tag.
    pub bytes: Vec<u8>,
}

/// Wraps and unwraps data keys. `aad` binds a wrapped key to its row (the
/// data key's id and owner): a wrapped key copied to another row does not
/// unwrap.
#[async_trait]
pub trait KeyWrapper: Send + Sync {
    /// The KEK new data keys are wrapped under, and that rotation moves
    /// every data key to.
    fn current(&self) -> &str;

    /// `secret` wrapped under the current KEK.
    ///
    /// # Errors
    /// [`VaultError::Wrapper`] when the KEK cannot be used (a KMS that
    /// cannot be reached, say).
    async fn wrap(&self, secret: &Secret, aad: &[u8]) -> Result<Wrapped, VaultError>;

    /// The data key `wrapped` holds.
    ///
    /// # Errors
    /// [`VaultError::UnknownKek`] when the ring lacks `wrapped.kek_id`;
    /// [`VaultError::KekMismatch`] when it does not unwrap with `aad` under
    /// the ring's key of that id.
    async fn unwrap(&self, wrapped: &Wrapped, aad: &[u8]) -> Result<Secret, VaultError>;
}

/// KEKs from configuration (`CAREPATH_KEY_RING`): `id:base64` entries,
/// comma-separated, the first the current one. Each key is 32 random bytes
/// (`openssl rand -base64 32`); ids are 1–32 of `A-Z a-z 0-9 _ -`.
pub struct KeyRing {
    keys: Vec<(String, Zeroizing<[u8; KEY_BYTES]>)>,
}

impl std::fmt::Debug for KeyRing {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let ids: Vec<&str> = self.keys.iter().map(|(id, _)| id.as_str()).collect();
        f.debug_struct("KeyRing").field("ids", &ids).finish()
    }
}

impl KeyRing {
    /// The ring `text` describes (see [`KeyRing`]).
    ///
    /// # Errors
    /// [`VaultError::Ring`] naming the entry that is malformed, a key that
    /// is not 32 bytes of base64, an id given twice, or an empty ring. The
    /// message never contains key material.
    pub fn parse(text: &str) -> Result<Self, VaultError> {
        let mut keys: Vec<(String, Zeroizing<[u8; KEY_BYTES]>)> = Vec::new();
        for (n, entry) in text.split(',').map(str::trim).enumerate() {
            let bad = |why: &str| VaultError::Ring(format!("entry {}: {why}", n + 1));
            let (id, key) = entry
                .split_once(':')
                .ok_or_else(|| bad("expected id:base64-key"))?;
            let id = id.trim();
            let id_ok = !id.is_empty()
                && id.len() <= 32
                && id
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
            if !id_ok {
                return Err(bad("the id must be 1-32 of A-Z a-z 0-9 _ -"));
            }
            if keys.iter().any(|(k, _)| k == id) {
                return Err(bad(&format!("the id {id} is given twice")));
            }
            let bytes = Zeroizing::new(
                base64::engine::general_purpose::STANDARD
                    .decode(key.trim())
                    .map_err(|_| bad("the key is not base64"))?,
            );
            let key: [u8; KEY_BYTES] = bytes
                .as_slice()
                .try_into()
                .map_err(|_| bad(&format!("the key must be {KEY_BYTES} bytes")))?;
            keys.push((id.to_owned(), Zeroizing::new(key)));
        }
        if keys.is_empty() {
            return Err(VaultError::Ring("no key".into()));
        }
        Ok(Self { keys })
    }

    /// The ids of the ring's keys, the current one first.
    pub fn ids(&self) -> impl Iterator<Item = &str> {
        self.keys.iter().map(|(id, _)| id.as_str())
    }

    fn cipher(&self, id: &str) -> Option<XChaCha20Poly1305> {
        let (_, key) = self.keys.iter().find(|(k, _)| k == id)?;
        XChaCha20Poly1305::new_from_slice(key.as_slice()).ok()
    }
}

#[async_trait]
impl KeyWrapper for KeyRing {
    fn current(&self) -> &str {
        // `parse` refuses an empty ring.
        self.keys.first().map_or("", |(id, _)| id.as_str())
    }

    async fn wrap(&self, secret: &Secret, aad: &[u8]) -> Result<Wrapped, VaultError> {
        let kek_id = self.current().to_owned();
        let cipher = self
            .cipher(&kek_id)
            .ok_or_else(|| VaultError::UnknownKek(kek_id.clone()))?;
        let mut nonce = [0u8; NONCE_BYTES];
        rand::rng().fill_bytes(&mut nonce);
        let sealed = cipher
            .encrypt(
                &XNonce::from(nonce),
                Payload {
                    msg: secret.as_slice(),
                    aad,
                },
            )
            .map_err(|_| VaultError::Wrapper("encryption failed".into()))?;
        let mut bytes = nonce.to_vec();
        bytes.extend_from_slice(&sealed);
        Ok(Wrapped { kek_id, bytes })
    }

    async fn unwrap(&self, wrapped: &Wrapped, aad: &[u8]) -> Result<Secret, VaultError> {
        let cipher = self
            .cipher(&wrapped.kek_id)
            .ok_or_else(|| VaultError::UnknownKek(wrapped.kek_id.clone()))?;
        let mismatch = || VaultError::KekMismatch(wrapped.kek_id.clone());
        if wrapped.bytes.len() < NONCE_BYTES {
            return Err(mismatch());
        }
        let (nonce, sealed) = wrapped.bytes.split_at(NONCE_BYTES);
        let nonce: [u8; NONCE_BYTES] = nonce.try_into().map_err(|_| mismatch())?;
        let plain = Zeroizing::new(
            cipher
                .decrypt(&XNonce::from(nonce), Payload { msg: sealed, aad })
                .map_err(|_| mismatch())?,
        );
        let key: [u8; KEY_BYTES] = plain.as_slice().try_into().map_err(|_| mismatch())?;
        Ok(Zeroizing::new(key))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const K1: &str = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";
    const K2: &str = "ICEiIyQlJicoKSorLC0uLzAxMjM0NTY3ODk6Ozw9Pj8=";

    #[test]
    fn a_ring_names_what_is_wrong_with_an_entry_and_never_its_key() {
        let err = |t: &str| {
            KeyRing::parse(t)
                .err()
                .map(|e| e.to_string())
                .unwrap_or_default()
        };
        assert!(err("k1").contains("entry 1: expected id:base64-key"));
        assert!(err(&format!("k1:{K1},k2:c2hvcnQ=")).contains("entry 2: the key must be 32 bytes"));
        assert!(err(&format!("k1:{K1},k1:{K2}")).contains("given twice"));
        assert!(err("bad id!:AAAA").contains("the id must be"));
        assert!(!err(&format!("k1:{K1},k2:c2hvcnQ=")).contains(K1));
        let ring = KeyRing::parse(&format!("new:{K2}, old:{K1}")).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(ring.current(), "new");
        assert_eq!(ring.ids().collect::<Vec<_>>(), ["new", "old"]);
        assert!(!format!("{ring:?}").contains(K2));
    }

    #[tokio::test]
    async fn a_wrapped_key_unwraps_with_its_own_kek_and_aad_only() {
        let old = KeyRing::parse(&format!("old:{K1}")).unwrap_or_else(|e| panic!("{e}"));
        let both = KeyRing::parse(&format!("new:{K2},old:{K1}")).unwrap_or_else(|e| panic!("{e}"));
        let secret: Secret = Zeroizing::new([7u8; KEY_BYTES]);
        let wrapped = old
            .wrap(&secret, b"row 1")
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(wrapped.kek_id, "old");
        let back = both
            .unwrap(&wrapped, b"row 1")
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(*back, *secret);
        assert!(matches!(
            both.unwrap(&wrapped, b"row 2").await,
            Err(VaultError::KekMismatch(_))
        ));
        let only_new = KeyRing::parse(&format!("new:{K2}")).unwrap_or_else(|e| panic!("{e}"));
        assert!(matches!(
            only_new.unwrap(&wrapped, b"row 1").await,
            Err(VaultError::UnknownKek(_))
        ));
    }
}
