//! The vendors' webhooks as carepath's journeys understand them: one
//! [`WebhookSource`](crate::engine::webhook_source::WebhookSource) per
//! vendor, built from its profile (`webhooks = { scheme, header, event_id,
//! tolerance_secs }`) and its secrets from the environment, routing events
//! to the signals the journeys wait on ([`signals`]) by the resources they
//! link ([`CASE`], [`ORDER`], [`PATIENT`]).

mod routing;
pub mod signals;
mod source;

use std::sync::Arc;

use anyhow::Context;
use carepath_activities::VendorsConfig;
use carepath_activities::webhook_signature::Secrets;

use crate::engine::webhook_source::WebhookSources;

pub use routing::{CASE, ORDER, PATIENT};
pub use source::VendorSource;

/// A source for every vendor `vendors` has a profile for, verifying with
/// `secrets` (a vendor without any has every delivery refused).
///
/// # Errors
///
/// A secret a vendor's scheme cannot use (a Standard Webhooks secret that
/// is not base64), naming the vendor and the variable.
pub fn sources(vendors: &VendorsConfig, secrets: &Secrets) -> anyhow::Result<WebhookSources> {
    vendors
        .vendors
        .iter()
        .try_fold(WebhookSources::new(), |all, (vendor, profile)| {
            let source = VendorSource::new(vendor, &profile.webhooks, secrets.of(vendor))
                .with_context(|| format!("vendors.{vendor}.webhooks"))?;
            Ok(all.with(vendor.clone(), Arc::new(source)))
        })
}

#[cfg(test)]
mod tests {
    use carepath_activities::config::{SignatureScheme, WebhooksConfig};
    use serde_json::json;

    use super::*;
    use crate::engine::webhook_source::{NoHeaders, Unverified};

    fn config(scheme: SignatureScheme, event_id: &str) -> VendorsConfig {
        let mut config = VendorsConfig::default();
        if let Some(profile) = config.vendors.get_mut("clinical") {
            profile.webhooks = WebhooksConfig {
                scheme,
                header: (scheme == SignatureScheme::HmacHex).then(|| "X-Signature".into()),
                event_id: event_id.into(),
                tolerance_secs: None,
            };
        }
        config
    }

    #[test]
    fn every_vendor_has_a_source_and_a_bad_secret_stops_the_start() {
        let all = sources(&VendorsConfig::default(), &Secrets::default())
            .unwrap_or_else(|e| panic!("{e:#}"));
        assert_eq!(
            all.vendors().collect::<Vec<_>>(),
            ["clinical", "crm", "ehr", "notify", "pharmacy"]
        );
        let standard = config(SignatureScheme::Standard, "/event_id");
        let refused = sources(&standard, &Secrets::for_all(&["not base64!"]))
            .map(|_| ())
            .unwrap_err();
        let text = format!("{refused:#}");
        assert!(
            text.contains("vendors.clinical.webhooks")
                && text.contains("CAREPATH_CLINICAL_WEBHOOK_SECRET")
                && !text.contains("not base64!"),
            "{text}"
        );
    }

    #[test]
    fn the_dedup_key_is_the_configured_id_else_the_messages_else_the_bodys() {
        let secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
        let standard = sources(
            &config(SignatureScheme::Standard, "/id"),
            &Secrets::for_all(&[secret]),
        )
        .unwrap_or_else(|e| panic!("{e:#}"));
        let clinical = standard
            .get("clinical")
            .unwrap_or_else(|| panic!("clinical"));
        let headers = &[("webhook-id", "msg_1")];
        let body = br#"{"type":"case.approved"}"#;
        let event = json!({ "type": "case.approved" });
        assert_eq!(clinical.dedup_key(headers, &event, body), "msg_1");
        assert_eq!(
            clinical.dedup_key(headers, &json!({ "id": "evt_9" }), body),
            "evt_9"
        );
        // A feed item of a vendor that gives no id: its body's digest, as
        // for the same body by webhook without a webhook-id.
        let by_body = clinical.dedup_key(&NoHeaders, &event, body);
        assert!(by_body.starts_with("sha256:"), "{by_body}");
        assert_eq!(
            clinical.dedup_key(&[("webhook-id", "")], &event, body),
            by_body
        );
        assert_eq!(
            clinical.verify(headers, body, 0),
            Err(Unverified::Signature)
        );
        assert!(
            clinical
                .kept_headers()
                .iter()
                .any(|h| h == "webhook-signature")
        );
    }
}
