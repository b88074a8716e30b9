//! Finding a journey by what a support ticket names: a business identifier
//! the journey learned (a case, an order, a prescription, the patient's
//! external id, email or phone), its idempotency key, or the first or last
//! hex digits of its id (the last are what people are shown as a short id).
//!
//! Workflows say which identifiers a journey is known by: those in its input
//! through [`Workflow::search_terms`](crate::Workflow::search_terms), written
//! as the journey starts, and those it learns later through [`index`], from
//! the step that learns them. An identifier that is PHI is a
//! [`SearchTerm::keyed`] term: only its keyed hash — HMAC-SHA-256 under the
//! deployment's [`SearchKey`] (RFC 2104) — is stored, so the table names no
//! patient to whoever reads it, and a search hashes what it is given the
//! same way.

use hmac::{Hmac, Mac};
use sha2::Sha256;
use uuid::Uuid;

use crate::Engine;
use crate::error::EngineError;
use crate::store::keys::{self, Lookup};

/// The fewest bytes a search key may have: HMAC-SHA-256's block of output,
/// as RFC 2104 §3 recommends for a key's length.
pub const MIN_KEY_BYTES: usize = 32;

/// The fewest hex digits of a journey id a search takes as a prefix: fewer
/// would name too many journeys to be of use.
pub const MIN_ID_PREFIX: usize = 6;

/// The fewest characters of a journey id's end a search takes: its last
/// digits are random (a UUIDv7's first are its creation time), so eight
/// name one journey among millions with few collisions, and are what people
/// are shown as a short id.
pub const MIN_ID_TAIL: usize = 8;

/// The deployment's secret for keyed hashes of PHI identifiers. Every
/// process (workers and API) must have the same one, or searches miss what
/// workers indexed; changing it leaves what was indexed under the old one
/// unfindable by PHI.
#[derive(Clone)]
pub struct SearchKey(Vec<u8>);

impl std::fmt::Debug for SearchKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SearchKey(..)")
    }
}

/// A search key shorter than [`MIN_KEY_BYTES`].
#[derive(Debug, Clone, Copy, thiserror::Error)]
#[error("a search key must have at least {MIN_KEY_BYTES} bytes, this one has {0}")]
pub struct KeyTooShort(pub usize);

impl SearchKey {
    /// The key `secret`, as bytes.
    ///
    /// # Errors
    /// [`KeyTooShort`] below [`MIN_KEY_BYTES`].
    pub fn new(secret: &[u8]) -> Result<Self, KeyTooShort> {
        if secret.len() < MIN_KEY_BYTES {
            return Err(KeyTooShort(secret.len()));
        }
        Ok(Self(secret.to_vec()))
    }

    /// The keyed hash of `value` as an identifier of `kind`: lowercase hex of
    /// HMAC-SHA-256 over `kind`, a NUL and `value` (the kind is bound in, so
    /// equal values of different kinds do not share a hash).
    pub fn hash(&self, kind: &str, value: &str) -> String {
        // HMAC takes a key of any length (RFC 2104 §2): this cannot fail.
        let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(&self.0) else {
            unreachable!("HMAC accepts keys of any length")
        };
        mac.update(kind.as_bytes());
        mac.update(&[0]);
        mac.update(value.as_bytes());
        hex::encode(mac.finalize().into_bytes())
    }
}

/// One identifier a journey is known by.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SearchTerm {
    /// What it identifies: `case`, `order`, `patient`, `email`…
    pub kind: String,
    /// The identifier, in the canonical form the workflow stores and
    /// searches by (a lower-cased email domain, an E.164 phone).
    pub value: String,
    /// Stored only as its keyed hash ([`SearchKey::hash`]).
    pub keyed: bool,
}

impl SearchTerm {
    /// An identifier that is not PHI (a vendor's case or order id), stored
    /// as it is.
    pub fn clear(kind: impl Into<String>, value: impl Into<String>) -> Self {
        Self {
            kind: kind.into(),
            value: value.into(),
            keyed: false,
        }
    }

    /// An identifier that is PHI (a patient's external id, email, phone),
    /// stored only as its keyed hash.
    pub fn keyed(kind: impl Into<String>, value: impl Into<String>) -> Self {
        Self {
            kind: kind.into(),
            value: value.into(),
            keyed: true,
        }
    }

    /// What is stored and looked up for this term: the value, or its keyed
    /// hash; `None` for a keyed term without a key (it is neither stored nor
    /// searched).
    fn stored(&self, key: Option<&SearchKey>) -> Option<String> {
        if self.keyed {
            key.map(|k| k.hash(&self.kind, &self.value))
        } else {
            Some(self.value.clone())
        }
    }
}

/// Records `terms` as identifiers of `journey_id`, in one statement.
/// Idempotent, so a step may call it every time it runs. Keyed terms need
/// `key`; without one they are skipped.
///
/// # Errors
/// The database's.
pub async fn index(
    db: impl sqlx::PgExecutor<'_>,
    key: Option<&SearchKey>,
    journey_id: Uuid,
    terms: &[SearchTerm],
) -> Result<(), sqlx::Error> {
    let (mut kinds, mut stored) = (Vec::new(), Vec::new());
    for term in terms {
        if let Some(s) = term.stored(key) {
            kinds.push(term.kind.clone());
            stored.push(s);
        }
    }
    if kinds.is_empty() {
        return Ok(());
    }
    keys::insert(db, journey_id, &kinds, &stored).await
}

/// A journey a search found, and what named it.
#[derive(Debug, Clone)]
pub struct Found {
    /// The journey.
    pub journey_id: Uuid,
    /// The kinds of identifier that named it (`case`, `idempotency_key`,
    /// `journey_id`…), without repeats.
    pub matched: Vec<String>,
}

impl Engine {
    /// The journeys (newest first, at most `limit`) that `query` names: as
    /// one of `candidates` (the terms the application reads `query` as —
    /// keyed ones hashed with this engine's key), as an idempotency key of
    /// any registered workflow, or as the first hex digits (at least
    /// [`MIN_ID_PREFIX`], dashes allowed) or the last characters (at least
    /// [`MIN_ID_TAIL`]) of a journey id.
    ///
    /// # Errors
    /// The database's.
    pub async fn search(
        &self,
        query: &str,
        candidates: &[SearchTerm],
        limit: i64,
    ) -> Result<Vec<Found>, EngineError> {
        let (mut kinds, mut stored) = (Vec::new(), Vec::new());
        for term in candidates {
            if let Some(s) = term.stored(self.search_key.as_deref()) {
                kinds.push(term.kind.clone());
                stored.push(s);
            }
        }
        let workflows = self.registry.names();
        let tail = id_tail(query);
        let lookup = Lookup {
            kinds: &kinds,
            keys: &stored,
            workflows: &workflows,
            idempotency_key: query,
            id_range: id_range(query),
            id_tail: tail.as_deref(),
        };
        let hits = keys::find(&self.pool, &lookup, limit.saturating_mul(4)).await?;
        let mut found: Vec<Found> = Vec::new();
        for hit in hits {
            if let Some(f) = found.iter_mut().find(|f| f.journey_id == hit.journey_id) {
                if !f.matched.contains(&hit.kind) {
                    f.matched.push(hit.kind);
                }
            } else if found.len() < limit as usize {
                found.push(Found {
                    journey_id: hit.journey_id,
                    matched: vec![hit.kind],
                });
            }
        }
        Ok(found)
    }

    /// This engine with `key` for keyed search terms (see [`SearchKey`]).
    #[must_use]
    pub fn with_search_key(mut self, key: SearchKey) -> Self {
        self.search_key = Some(std::sync::Arc::new(key));
        self
    }

    /// The key keyed search terms are hashed with, when one was given.
    pub fn search_key(&self) -> Option<&SearchKey> {
        self.search_key.as_deref()
    }
}

/// The end of a journey id that `query` may be: at least [`MIN_ID_TAIL`]
/// characters of hex digits and dashes, lowercased.
fn id_tail(query: &str) -> Option<String> {
    let q = query.trim().to_ascii_lowercase();
    (q.len() >= MIN_ID_TAIL
        && q.len() <= 36
        && q.chars().all(|c| c.is_ascii_hexdigit() || c == '-'))
    .then_some(q)
}

/// The ids `query` is a prefix of, as the lowest and highest such id: hex
/// digits (dashes ignored), at least [`MIN_ID_PREFIX`] of them.
fn id_range(query: &str) -> Option<(Uuid, Uuid)> {
    let digits: String = query.trim().chars().filter(|c| *c != '-').collect();
    if digits.len() < MIN_ID_PREFIX
        || digits.len() > 32
        || !digits.chars().all(|c| c.is_ascii_hexdigit())
    {
        return None;
    }
    let padded = |fill: char| {
        let mut s = digits.to_ascii_lowercase();
        while s.len() < 32 {
            s.push(fill);
        }
        Uuid::parse_str(&s).ok()
    };
    Some((padded('0')?, padded('f')?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_keyed_hash_depends_on_the_key_the_kind_and_the_value() {
        let key = SearchKey::new(&[7; 32]).unwrap_or_else(|e| panic!("{e}"));
        let other = SearchKey::new(&[8; 32]).unwrap_or_else(|e| panic!("{e}"));
        let h = key.hash("email", "ann@example.com");
        assert_eq!(h.len(), 64);
        assert!(!h.contains("ann"));
        assert_eq!(h, key.hash("email", "ann@example.com"));
        assert_ne!(h, other.hash("email", "ann@example.com"));
        assert_ne!(h, key.hash("patient", "ann@example.com"));
        assert!(SearchKey::new(b"short").is_err());
    }

    #[test]
    fn an_id_prefix_is_six_or_more_hex_digits() {
        let (low, high) = id_range("0193ab").unwrap_or_else(|| panic!("a prefix"));
        assert_eq!(low.to_string(), "0193ab00-0000-0000-0000-000000000000");
        assert_eq!(high.to_string(), "0193abff-ffff-ffff-ffff-ffffffffffff");
        assert!(id_range("0193a").is_none());
        assert!(id_range("case_12").is_none());
        let full = "0193ab12-3456-7890-abcd-ef0123456789";
        assert_eq!(
            id_range(full).map(|r| r.0.to_string()).as_deref(),
            Some(full)
        );
    }
}
