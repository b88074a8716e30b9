//! What the engine asks of a vendor's webhooks, and nothing more: the
//! engine knows no vendor, no signature scheme and no domain. The
//! application supplies one [`WebhookSource`] per vendor — it verifies a
//! delivery, names the event's dedup key, and says which signal the event
//! becomes and which resources may name its journey — and hands them to the
//! engine as [`WebhookSources`]. The webhook door (the API) asks a vendor's
//! source whether to believe a delivery and what to store it under; the
//! inbox router (`Engine::route_partition_once`) asks it where a stored
//! event goes, and the door which resources to choose its partition by
//! ([`routable_references`]).
//!
//! The inbox's guarantees stay the engine's: stored before acknowledged,
//! deduplicated by (vendor, dedup key), routed one event per savepoint, data
//! errors parked, unmatched events retried through a grace period.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;

use serde_json::Value;
use sha2::{Digest, Sha256};

/// Event ids up to this many characters are kept as the vendor sent them;
/// longer ones are kept as their SHA-256 (a dedup key reaches a unique
/// index, whose entries are bounded).
pub const MAX_EVENT_ID: usize = 200;

/// A reference longer than this names nothing a journey recorded (their
/// keys are bounded the same way), so it is not looked up or kept.
pub const MAX_REFERENCE: usize = 200;

/// A delivery's headers, looked up by name.
pub trait Headers {
    /// The value of header `name` (matched case-insensitively), when the
    /// delivery has it and it is text; the first one of a repeated header.
    fn get(&self, name: &str) -> Option<&str>;
}

/// No headers at all: an event read from a vendor's feed.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoHeaders;

impl Headers for NoHeaders {
    fn get(&self, _name: &str) -> Option<&str> {
        None
    }
}

/// Headers as `(name, value)` pairs, as a test may give them.
impl<const N: usize> Headers for [(&str, &str); N] {
    fn get(&self, name: &str) -> Option<&str> {
        self.iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| *v)
    }
}

/// Why a delivery is not believed to come from its vendor (answered 401 and
/// recorded as a rejection). The text names what failed — never a secret or
/// the signature expected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Unverified {
    /// No signature, one that cannot be read, or none that a secret of the
    /// vendor's (current or previous) made over this body.
    #[error("signature missing or invalid")]
    Signature,
    /// The vendor has no webhook secret configured, so no delivery can be
    /// verified: every one is refused, and kept for replay once the secret
    /// is set. (The answer does not name the setting; the process's start-up
    /// warning does.)
    #[error("no webhook secret is configured for this vendor")]
    NoSecret,
    /// A good signature made `skew_secs` seconds (either way) from now,
    /// beyond the vendor's tolerance: a replay, or a clock far off.
    #[error("timestamp {skew_secs} s away from now, beyond the tolerance")]
    Stale {
        /// How far the signed timestamp is from the receiving time, in seconds.
        skew_secs: u64,
    },
}

/// The inbox is routed in this many partitions, each by one router at a
/// time, side by side. Fixed, not configured: the partition is chosen once,
/// when an event is stored, so every door (API pod, feed reader) must
/// choose alike; and lowering it would strand stored events in partitions
/// no router reads.
pub const INBOX_PARTITIONS: i16 = 8;

/// The partition of the events about journey `id`: every event whose
/// owner is known when it is stored is routed there, so one journey's
/// events keep their arrival order whatever resources and vendors they name.
pub fn journey_partition(id: uuid::Uuid) -> i16 {
    partition_of(id.as_bytes())
}

/// The partition of an event no journey owns yet, by `vendor`'s resource
/// `r` (its first): one resource's early events keep their order.
pub fn reference_partition(vendor: &str, r: &Reference) -> i16 {
    partition_of(format!("{vendor}\0{}\0{}", r.kind, r.id).as_bytes())
}

fn partition_of(bytes: &[u8]) -> i16 {
    // A digest, not `DefaultHasher`, whose output may change between Rust
    // releases while doors of two builds store side by side.
    i16::from(Sha256::digest(bytes)[0]) % INBOX_PARTITIONS
}

/// The references of `event` the router looks up, in its order: those
/// `source` names, without empty or over-long ids. Empty when the source
/// cannot route the event (it will be parked).
pub fn routable_references(
    source: &dyn WebhookSource,
    event: &Value,
    event_type: Option<&str>,
) -> Vec<Reference> {
    source
        .route(event, event_type)
        .map(|route| {
            route
                .references
                .into_iter()
                .filter(|r| !r.id.is_empty() && r.id.chars().count() <= MAX_REFERENCE)
                .collect()
        })
        .unwrap_or_default()
}

/// A resource an event may be about, as a journey records it
/// (`crate::store::refs::link`): its `kind` (`case`) and the vendor's `id`
/// for it (`case_123`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reference {
    /// The kind of resource (`case`, `order`), as the journey linked it.
    pub kind: String,
    /// The vendor's id for it (`case_123`).
    pub id: String,
}

/// Where a stored event goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Route {
    /// The signal the event becomes on its journey (`clinical.case`): the
    /// name the journey waits on, which it reads the event's payload from.
    pub signal: String,
    /// The resources that may name the journey, in the order they are
    /// looked up; the first that a journey owns decides. Empty ids and ids
    /// longer than [`MAX_REFERENCE`] characters name nothing a journey
    /// records and are not looked up. None: the event is unmatched.
    pub references: Vec<Reference>,
}

/// Why an event cannot be routed: something in it (`path`, such as `type`
/// or `data.case_id`) that no retry will change. The router parks the event
/// with this as its note; an operator replays it after a fix.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{path}: {problem}")]
pub struct Invalid {
    /// Where in the event (`type`, `data.case_id`).
    pub path: String,
    /// What is wrong there (`names no signal`).
    pub problem: String,
}

/// One vendor's webhooks, as the application understands them.
pub trait WebhookSource: Send + Sync {
    /// Whether `body` (the raw bytes received), delivered with `headers`,
    /// was signed by the vendor, recently: `now` is the receiving time in
    /// Unix seconds, against which a signed timestamp is held to the
    /// vendor's tolerance.
    ///
    /// # Errors
    ///
    /// [`Unverified::Signature`] for a missing, unreadable or wrong
    /// signature; [`Unverified::Stale`] for a good one made too long ago
    /// (or ahead); [`Unverified::NoSecret`] when the vendor has no secret
    /// to check with.
    fn verify(&self, headers: &dyn Headers, body: &[u8], now: i64) -> Result<(), Unverified>;

    /// The key a verified event is stored under, deduplicated within its
    /// vendor: the same event delivered again — or read from the vendor's
    /// feed, which has no headers ([`NoHeaders`]) — gets the same key. At
    /// most [`MAX_EVENT_ID`] characters, or `sha256:<hex>`; see
    /// [`dedup_key`] for the rule most vendors follow.
    fn dedup_key(&self, headers: &dyn Headers, event: &Value, body: &[u8]) -> String;

    /// The event's type (`case.approved`), stored beside it and given back
    /// to [`route`](Self::route); by default its `type` field.
    fn event_type(&self, event: &Value) -> Option<String> {
        event["type"].as_str().map(str::to_owned)
    }

    /// Where a stored event goes, from its body (`event`, a JSON object)
    /// and its stored type (`event_type`: what [`event_type`](Self::event_type)
    /// said when it arrived).
    ///
    /// # Errors
    ///
    /// [`Invalid`] when the event names no signal (a type that is not one,
    /// or none where one is needed): it is parked.
    fn route(&self, event: &Value, event_type: Option<&str>) -> Result<Route, Invalid>;

    /// The headers worth keeping with a stored event (lowercase): those its
    /// signature was read from, for an operator's inquiry. None by default.
    fn kept_headers(&self) -> &[String] {
        &[]
    }
}

/// Every vendor's [`WebhookSource`], by vendor name. Cheap to clone.
#[derive(Clone, Default)]
pub struct WebhookSources {
    by_vendor: BTreeMap<String, Arc<dyn WebhookSource>>,
}

impl WebhookSources {
    /// None: every delivery is refused as from no vendor, and every stored
    /// event is parked.
    pub fn new() -> Self {
        Self::default()
    }

    /// These sources and `vendor`'s (replacing any it had).
    pub fn with(mut self, vendor: impl Into<String>, source: Arc<dyn WebhookSource>) -> Self {
        self.by_vendor.insert(vendor.into(), source);
        self
    }

    /// `vendor`'s source, if it has one.
    pub fn get(&self, vendor: &str) -> Option<&Arc<dyn WebhookSource>> {
        self.by_vendor.get(vendor)
    }

    /// The vendors that have a source, in name order.
    pub fn vendors(&self) -> impl Iterator<Item = &str> {
        self.by_vendor.keys().map(String::as_str)
    }
}

impl fmt::Debug for WebhookSources {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_set().entries(self.by_vendor.keys()).finish()
    }
}

/// The event id at `pointer` (a JSON pointer, RFC 6901: `/event_id`) in
/// `event`: text as it is, a number written out (vendors that number their
/// events are deduplicated by the number); nothing for an empty text,
/// another kind of value or no value.
pub fn event_id<'a>(event: &'a Value, pointer: &str) -> Option<Cow<'a, str>> {
    match event.pointer(pointer)? {
        Value::String(id) if !id.is_empty() => Some(Cow::Borrowed(id)),
        Value::Number(n) => Some(Cow::Owned(n.to_string())),
        _ => None,
    }
}

/// The dedup key of an event whose id is `id`: the id itself up to
/// [`MAX_EVENT_ID`] characters, `sha256:<hex>` of it beyond; without an id
/// (none, or empty), `sha256:<hex>` of `body`, the event's raw bytes — the
/// same body, the same key.
pub fn dedup_key(id: Option<&str>, body: &[u8]) -> String {
    match id {
        Some(id) if !id.is_empty() && id.chars().count() <= MAX_EVENT_ID => id.to_owned(),
        Some(id) if !id.is_empty() => format!("sha256:{}", hex::encode(Sha256::digest(id))),
        _ => format!("sha256:{}", hex::encode(Sha256::digest(body))),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn key(event: &Value, body: &[u8]) -> String {
        dedup_key(event_id(event, "/event_id").as_deref(), body)
    }

    #[test]
    fn events_are_keyed_by_their_id_a_long_one_by_its_digest_and_none_by_the_body() {
        let body = b"{}";
        assert_eq!(key(&json!({ "event_id": "evt_1" }), body), "evt_1");
        assert_eq!(key(&json!({ "event_id": 42 }), body), "42");
        let long = "x".repeat(MAX_EVENT_ID + 1);
        assert_eq!(
            key(&json!({ "event_id": long }), body),
            format!("sha256:{}", hex::encode(Sha256::digest(&long)))
        );
        let by_body = format!("sha256:{}", hex::encode(Sha256::digest(body)));
        for id in [json!(""), json!(null), json!(["a"])] {
            assert_eq!(key(&json!({ "event_id": id }), body), by_body);
        }
        assert_eq!(key(&json!({}), body), by_body);
    }

    #[test]
    fn an_id_is_found_where_its_pointer_says() {
        let event = json!({ "id": "top", "meta": { "id": 7 }, "event_id": "" });
        assert_eq!(event_id(&event, "/id").as_deref(), Some("top"));
        assert_eq!(event_id(&event, "/meta/id").as_deref(), Some("7"));
        assert_eq!(event_id(&event, "/event_id"), None);
        assert_eq!(event_id(&event, "/missing"), None);
    }

    #[test]
    fn headers_given_as_pairs_are_found_whatever_their_case() {
        let headers = [("Webhook-Id", "msg_1"), ("webhook-id", "msg_2")];
        assert_eq!(headers.get("webhook-id"), Some("msg_1"));
        assert_eq!(headers.get("webhook-signature"), None);
        assert_eq!(NoHeaders.get("webhook-id"), None);
    }
}
