//! Where a vendor's event goes in the telehealth journeys: the signal its
//! type's topic names (`case.approved` → [`CLINICAL_CASE`]: a journey
//! waits on the resource and reads what happened from the payload), and
//! the resources in its `data` that a journey may own.

use serde_json::Value;

use super::signals::{self, CLINICAL_CASE, PHARMACY_ORDER};
use crate::engine::webhook_source::{Invalid, Reference, Route};

/// A clinical network's case: what a consult records when it submits one
/// (`store::refs::link`), and what the network's events name as `data.case_id`.
pub const CASE: &str = "case";
/// A pharmacy's order (`data.order_id`).
pub const ORDER: &str = "order";
/// A vendor's patient (`data.patient_id`).
pub const PATIENT: &str = "patient";

/// The resources an event may be about, by the field of its `data` naming
/// them, in the order they are looked up.
const REFERENCES: [(&str, &str); 3] = [
    (CASE, "case_id"),
    (ORDER, "order_id"),
    (PATIENT, "patient_id"),
];

/// The signals journeys receive from vendors: (vendor, topic, signal).
const SIGNALS: [(&str, &str, &str); 2] = [
    ("clinical", "case", CLINICAL_CASE),
    ("pharmacy", "order", PHARMACY_ORDER),
];

/// The topic of an event type becomes part of a signal name: a short
/// identifier or nothing.
const MAX_TOPIC: usize = 64;

/// Where `vendor`'s `event` of type `event_type` goes.
///
/// # Errors
///
/// [`Invalid`] (`type`) when the type does not start with a short
/// identifier to name a signal after; without a type, the topic is `event`.
pub fn route(vendor: &str, event: &Value, event_type: Option<&str>) -> Result<Route, Invalid> {
    let topic = match event_type {
        None => "event",
        Some(t) => t.split('.').next().unwrap_or_default(),
    };
    if topic.is_empty()
        || topic.len() > MAX_TOPIC
        || !topic
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
    {
        return Err(Invalid {
            path: "type".into(),
            problem: "does not start with a short identifier (letters, digits, _ or -) \
                      to name a signal after"
                .into(),
        });
    }
    let signal = SIGNALS
        .iter()
        .find(|(v, t, _)| *v == vendor && *t == topic)
        .map_or_else(
            || signals::named_after(vendor, topic),
            |(_, _, s)| (*s).to_owned(),
        );
    let references = REFERENCES
        .iter()
        .filter_map(|(kind, field)| {
            event["data"][field].as_str().map(|id| Reference {
                kind: (*kind).to_owned(),
                id: id.to_owned(),
            })
        })
        .collect();
    Ok(Route { signal, references })
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn an_event_becomes_its_topics_signal_about_the_resources_it_names() {
        let event = json!({ "data": { "case_id": "c1", "patient_id": "p1", "order_id": 7 } });
        let route =
            route("clinical", &event, Some("case.approved")).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(route.signal, CLINICAL_CASE);
        let refs: Vec<(&str, &str)> = route
            .references
            .iter()
            .map(|r| (r.kind.as_str(), r.id.as_str()))
            .collect();
        assert_eq!(refs, [(CASE, "c1"), (PATIENT, "p1")]);
        let shipped = json!({ "data": { "order_id": "o1" } });
        let route = super::route("pharmacy", &shipped, Some("order.shipped"))
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            (route.signal.as_str(), route.references[0].kind.as_str()),
            (PHARMACY_ORDER, ORDER)
        );
    }

    #[test]
    fn the_known_signals_follow_the_form_every_other_topic_is_named_in() {
        // Signals stored before this table, and journeys waiting on them,
        // keep matching.
        for (vendor, topic, signal) in SIGNALS {
            assert_eq!(signals::named_after(vendor, topic), signal);
        }
        let other = route("clinical", &json!({}), Some("order.created"));
        assert_eq!(
            other.map(|r| r.signal).ok().as_deref(),
            Some("clinical.order")
        );
        let untyped = route("crm", &json!({}), None);
        assert_eq!(untyped.map(|r| r.signal).ok().as_deref(), Some("crm.event"));
    }

    #[test]
    fn a_type_that_names_no_signal_is_invalid() {
        for bad in ["", ".approved", "case approved", "cäse.x", &"x".repeat(65)] {
            let refused = route("clinical", &json!({}), Some(bad));
            assert!(
                matches!(&refused, Err(Invalid { path, .. }) if path == "type"),
                "{bad:?}"
            );
        }
    }
}
