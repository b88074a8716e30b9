//! The signals vendors' webhooks become, each named once: the inbox router
//! delivers an event under this name (see [`super::routing`]) and the
//! journey waits on the same constant, so searching for either side finds
//! the other.

/// The clinical network's word on a case (`case.assigned`,
/// `case.more_info_requested`, `case.approved`, ...): what a consult's
/// clinician phase waits on.
pub const CLINICAL_CASE: &str = "clinical.case";

/// The pharmacy's word on an order (`order.filled`, `order.shipped`, ...):
/// what a consult's fulfilment waits on.
pub const PHARMACY_ORDER: &str = "pharmacy.order";

/// The name an event of a topic no journey receives is delivered under,
/// `<vendor>.<topic>` (`clinical.order`), the form the names above follow
/// too: its journey's workflow refuses it, and the inbox keeps the event
/// as `ignored` with the name in its note, so an operator sees what came.
pub fn named_after(vendor: &str, topic: &str) -> String {
    format!("{vendor}.{topic}")
}
