//! The sealed form of a value: `version (1) | data key id (16) | nonce (24)
//! | XChaCha20-Poly1305 ciphertext and tag`. The associated data is the
//! data key's id and the value's place (its table, column and row, see
//! [`Place`]), so a sealed value moved to another row, or to another
//! journey, does not open.
//!
//! In a `jsonb` column a sealed value is `{"$sealed": "<base64>"}`; in a
//! `bytea` column it is the bytes themselves.

use base64::Engine as _;
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use rand::RngCore;
use serde_json::{Value, json};
use uuid::Uuid;

use super::{DataKey, NONCE_BYTES, VaultError};

const VERSION: u8 = 1;
const HEADER: usize = 1 + 16 + NONCE_BYTES;
/// The one member of a sealed value in a `jsonb` column.
pub const SEALED_MEMBER: &str = "$sealed";

/// Where a sealed value lives: bound into its ciphertext as associated
/// data. Built by the functions below, one per sealed column.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Place(String);

impl Place {
    /// `journeys.input` of `journey`.
    pub fn journey_input(journey: Uuid) -> Self {
        Self(format!("journeys.input|{journey}"))
    }

    /// `journeys.output` of `journey`.
    pub fn journey_output(journey: Uuid) -> Self {
        Self(format!("journeys.output|{journey}"))
    }

    /// `journey_steps.output` of the position `seq` of `journey`, whose key is `key`.
    pub fn step_output(journey: Uuid, seq: i32, key: &str) -> Self {
        Self(format!("journey_steps.output|{journey}|{seq}|{key}"))
    }

    /// `signals.payload` of the signal `(source, event_id)` of `journey`.
    pub fn signal_payload(journey: Uuid, source: &str, event_id: &str) -> Self {
        Self(format!(
            "signals.payload|{journey}|{}:{source}|{event_id}",
            source.len()
        ))
    }

    /// `webhook_inbox.body` of `vendor`'s event `dedup_key`.
    pub fn inbox_body(vendor: &str, dedup_key: &str) -> Self {
        Self(format!(
            "webhook_inbox.body|{}:{vendor}|{dedup_key}",
            vendor.len()
        ))
    }

    /// `webhook_rejections.body` of a delivery from `vendor` whose body's
    /// SHA-256 is `sha256` (hex).
    pub fn rejected_body(vendor: &str, sha256: &str) -> Self {
        Self(format!(
            "webhook_rejections.body|{}:{vendor}|{sha256}",
            vendor.len()
        ))
    }

    /// A place of the application's own (a registry column, say): `table`,
    /// `column` and the row's identity, however the application names it.
    pub fn other(table: &str, column: &str, row: &str) -> Self {
        Self(format!("{table}.{column}|{row}"))
    }

    fn aad(&self, key: Uuid) -> Vec<u8> {
        let mut aad = b"carepath.v1|".to_vec();
        aad.extend_from_slice(key.as_bytes());
        aad.push(b'|');
        aad.extend_from_slice(self.0.as_bytes());
        aad
    }
}

/// `plain` sealed under `key` for `place`.
pub fn seal(key: &DataKey, place: &Place, plain: &[u8]) -> Vec<u8> {
    let mut nonce = [0u8; NONCE_BYTES];
    rand::rng().fill_bytes(&mut nonce);
    let cipher = cipher(key);
    let aad = place.aad(key.id);
    // XChaCha20-Poly1305 fails only on messages over 256 GiB.
    let sealed = cipher
        .encrypt(
            &XNonce::from(nonce),
            Payload {
                msg: plain,
                aad: &aad,
            },
        )
        .unwrap_or_default();
    let mut out = Vec::with_capacity(HEADER + sealed.len());
    out.push(VERSION);
    out.extend_from_slice(key.id.as_bytes());
    out.extend_from_slice(&nonce);
    out.extend_from_slice(&sealed);
    out
}

/// The data key `sealed` was sealed under, read from its header; `None`
/// when it is not a sealed value.
pub fn key_id(sealed: &[u8]) -> Option<Uuid> {
    if sealed.len() < HEADER || sealed[0] != VERSION {
        return None;
    }
    Uuid::from_slice(&sealed[1..17]).ok()
}

/// What `sealed` holds.
///
/// # Errors
/// [`VaultError::Tampered`] when it was not sealed under `key` for `place`
/// or was altered.
pub fn open(key: &DataKey, place: &Place, sealed: &[u8]) -> Result<Vec<u8>, VaultError> {
    if key_id(sealed) != Some(key.id) {
        return Err(VaultError::Tampered);
    }
    let nonce: [u8; NONCE_BYTES] = sealed[17..HEADER]
        .try_into()
        .map_err(|_| VaultError::Tampered)?;
    let nonce = XNonce::from(nonce);
    let aad = place.aad(key.id);
    cipher(key)
        .decrypt(
            &nonce,
            Payload {
                msg: &sealed[HEADER..],
                aad: &aad,
            },
        )
        .map_err(|_| VaultError::Tampered)
}

/// `value` sealed under `key` for `place`, as a `jsonb` column holds it.
pub fn seal_json(key: &DataKey, place: &Place, value: &Value) -> Value {
    let plain = value.to_string();
    let sealed = seal(key, place, plain.as_bytes());
    json!({ SEALED_MEMBER: base64::engine::general_purpose::STANDARD.encode(sealed) })
}

/// The sealed bytes of a `jsonb` value, `None` when the value is plain
/// (written with encryption off, or before it existed).
pub fn sealed_json(value: &Value) -> Option<Vec<u8>> {
    let object = value.as_object()?;
    if object.len() != 1 {
        return None;
    }
    let text = object.get(SEALED_MEMBER)?.as_str()?;
    base64::engine::general_purpose::STANDARD.decode(text).ok()
}

/// What a sealed `jsonb` value holds.
///
/// # Errors
/// [`VaultError::Tampered`] as [`open`]; [`VaultError::Corrupt`] when what
/// opens is not JSON.
pub fn open_json(key: &DataKey, place: &Place, sealed: &[u8]) -> Result<Value, VaultError> {
    let plain = zeroize::Zeroizing::new(open(key, place, sealed)?);
    serde_json::from_slice(&plain).map_err(|_| VaultError::Corrupt)
}

fn cipher(key: &DataKey) -> XChaCha20Poly1305 {
    // A 32-byte key is what XChaCha20-Poly1305 takes.
    XChaCha20Poly1305::new_from_slice(key.secret.as_slice())
        .unwrap_or_else(|_| unreachable!("a data key has 32 bytes"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sealed_value_opens_only_in_its_place_under_its_key() {
        let key = DataKey::generate();
        let other = DataKey::generate();
        let journey = Uuid::now_v7();
        let here = Place::step_output(journey, 3, "submit_case");
        let value = json!({ "name": "Ada Lovelace" });
        let sealed = seal_json(&key, &here, &value);
        assert!(!sealed.to_string().contains("Ada"));
        let bytes = sealed_json(&sealed).unwrap_or_default();
        assert_eq!(key_id(&bytes), Some(key.id));
        assert_eq!(open_json(&key, &here, &bytes).ok(), Some(value));
        let moved = Place::step_output(Uuid::now_v7(), 3, "submit_case");
        assert!(matches!(
            open_json(&key, &moved, &bytes),
            Err(VaultError::Tampered)
        ));
        let next = Place::step_output(journey, 4, "submit_case");
        assert!(matches!(
            open_json(&key, &next, &bytes),
            Err(VaultError::Tampered)
        ));
        assert!(matches!(
            open_json(&other, &here, &bytes),
            Err(VaultError::Tampered)
        ));
        let mut flipped = bytes.clone();
        if let Some(last) = flipped.last_mut() {
            *last ^= 1;
        }
        assert!(matches!(
            open_json(&key, &here, &flipped),
            Err(VaultError::Tampered)
        ));
        assert_eq!(sealed_json(&json!({ "name": "plain" })), None);
    }
}
