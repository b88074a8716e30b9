//! A vendor's [`WebhookSource`]: its profile's signature scheme and secrets
//! (`carepath_activities::webhook_signature`), its profile's event-id
//! pointer, and the telehealth routing.

use std::borrow::Cow;

use carepath_activities::config::WebhooksConfig;
use carepath_activities::webhook_signature::{Refused, Secret, Verifier};
use serde_json::Value;

use super::routing;
use crate::engine::webhook_source::{self, Headers, Invalid, Route, Unverified, WebhookSource};

/// One vendor's webhooks as its profile configures them.
pub struct VendorSource {
    vendor: String,
    /// Whether any secret is configured: without one, every delivery is
    /// refused as such ([`Unverified::NoSecret`]), not as a bad signature.
    has_secret: bool,
    verifier: Verifier,
    /// Where its events carry their id: a JSON pointer.
    event_id: String,
    kept: Vec<String>,
}

impl VendorSource {
    /// `vendor`'s source, verifying with `secrets` (current first) by the
    /// scheme `config` names.
    ///
    /// # Errors
    ///
    /// A secret the scheme cannot use, naming its variable.
    pub fn new(vendor: &str, config: &WebhooksConfig, secrets: &[Secret]) -> anyhow::Result<Self> {
        let verifier = Verifier::new(config, secrets)?;
        let kept = ["content-type", "user-agent"]
            .into_iter()
            .map(str::to_owned)
            .chain(verifier.headers())
            .collect();
        Ok(Self {
            vendor: vendor.to_owned(),
            has_secret: !secrets.is_empty(),
            verifier,
            event_id: config.event_id.clone(),
            kept,
        })
    }
}

impl WebhookSource for VendorSource {
    fn verify(&self, headers: &dyn Headers, body: &[u8], now: i64) -> Result<(), Unverified> {
        if !self.has_secret {
            return Err(Unverified::NoSecret);
        }
        let lookup = |name: &str| headers.get(name);
        self.verifier
            .verify(&lookup, body, now)
            .map_err(|refused| match refused {
                Refused::Signature => Unverified::Signature,
                Refused::Stale { skew_secs } => Unverified::Stale { skew_secs },
            })
    }

    /// The id at the profile's pointer; without one there, the id the
    /// scheme gives the message (Standard Webhooks' `webhook-id`); without
    /// either, the body's digest. The body's id comes first so that an
    /// event read from the vendor's feed (no headers) is keyed as its
    /// webhook was.
    fn dedup_key(&self, headers: &dyn Headers, event: &Value, body: &[u8]) -> String {
        let lookup = |name: &str| headers.get(name);
        let id = webhook_source::event_id(event, &self.event_id)
            .or_else(|| self.verifier.message_id(&lookup).map(Cow::Borrowed));
        webhook_source::dedup_key(id.as_deref(), body)
    }

    fn route(&self, event: &Value, event_type: Option<&str>) -> Result<Route, Invalid> {
        routing::route(&self.vendor, event, event_type)
    }

    fn kept_headers(&self) -> &[String] {
        &self.kept
    }
}
