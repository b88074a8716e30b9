//! The sandbox's memory: resources, issued tokens, idempotency records, the
//! request log and the counters tests read.

use std::collections::{BTreeMap, HashMap, HashSet};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::faults::Faults;
use super::feed::Feed;
use super::scenarios::Scenarios;

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ClinicianSettings {
    /// Delay from case submission to `case.assigned`.
    pub assign_ms: u64,
    /// Delay from assignment (or from the patient's answer) to a decision.
    pub decide_ms: u64,
    /// Decision mix for cases no scenario rule covers: weights.
    pub approve: u32,
    pub decline: u32,
    pub more_info: u32,
}

impl Default for ClinicianSettings {
    fn default() -> Self {
        Self {
            assign_ms: 200,
            decide_ms: 500,
            approve: 8,
            decline: 1,
            more_info: 1,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct WebhookSettings {
    /// Fraction of webhooks delivered twice.
    pub duplicate_rate: f64,
    /// Each delivery waits a random 0..max_delay_ms, which also reorders them.
    pub max_delay_ms: u64,
    /// Token lifetime for the OAuth endpoint, seconds.
    pub token_ttl_secs: u64,
}

impl Default for WebhookSettings {
    fn default() -> Self {
        Self {
            duplicate_rate: 0.0,
            max_delay_ms: 0,
            token_ttl_secs: 3600,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SandboxSettings {
    pub clinician: ClinicianSettings,
    pub webhooks: WebhookSettings,
    /// How long a written prescription stays active, in seconds: a second
    /// prescription for the same patient and medication written within it
    /// is counted in `cross_journey_duplicates.active_prescription`. 0
    /// counts none. Default: one year (365 days), a typical prescription's
    /// validity.
    pub prescription_active_secs: u64,
}

impl Default for SandboxSettings {
    fn default() -> Self {
        Self {
            clinician: ClinicianSettings::default(),
            webhooks: WebhookSettings::default(),
            prescription_active_secs: 365 * 24 * 3600,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RequestRecord {
    pub vendor: String,
    pub method: String,
    pub route: String,
    pub at: DateTime<Utc>,
    pub status: u16,
    /// The Retry-After this answer named, in seconds.
    pub retry_after: Option<u64>,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct Counters {
    /// Requests by vendor.
    pub requests: BTreeMap<String, u64>,
    /// Responses by "vendor status".
    pub responses: BTreeMap<String, u64>,
    pub token_requests: u64,
    pub tokens_issued: u64,
    /// Requests that repeated an idempotency key and were answered from the record.
    pub idempotent_replays: u64,
    /// The same, by vendor.
    pub idempotent_replays_by_vendor: BTreeMap<String, u64>,
    /// A second resource created for the same thing (the same case for one
    /// journey, the same patient, order or record): what carepath must never cause.
    pub duplicate_side_effects: BTreeMap<String, u64>,
    /// What a clinical network or a pharmacy would call duplicates although
    /// each came from a journey of its own (so its external id is new).
    pub cross_journey_duplicates: CrossJourneyDuplicates,
    pub webhooks_sent: u64,
    pub webhooks_failed: u64,
    /// Webhooks a fault dropped (`drop_webhooks_secs`, `drop_webhook_types`):
    /// never delivered unless redelivered by `POST /_sandbox/webhooks/redeliver`.
    pub webhooks_dropped: u64,
}

/// A webhook a fault dropped, kept for a late redelivery.
#[derive(Debug, Clone, Serialize)]
pub struct DroppedWebhook {
    pub vendor: String,
    pub event_id: String,
    /// RFC 3339, as in the body.
    pub occurred_at: String,
    /// The JSON body exactly as it would have been sent (it is signed when
    /// it is sent).
    pub body: String,
}

/// Resources a vendor would call duplicates across journeys, counted when
/// the second one is created. Serialised with all three keys, zeros
/// included: `{"open_case": 0, "active_prescription": 0, "order_per_fill": 0}`.
#[derive(Debug, Clone, Default, Serialize, PartialEq, Eq)]
pub struct CrossJourneyDuplicates {
    /// Cases created for a (patient, offering) while another case of the
    /// same pair was still open (not approved, declined, withdrawn or cancelled).
    pub open_case: u64,
    /// Prescriptions written for a (patient, medication) while another one
    /// for the same pair was still active (see `prescription_active_secs`).
    pub active_prescription: u64,
    /// Pharmacy orders created for a (prescription, fill) that already had one.
    pub order_per_fill: u64,
}

/// Case states after which a case is no longer open: a new case for the
/// same patient and offering is then a new consult, not a duplicate.
pub const CLOSED_CASE_STATES: [&str; 4] = ["approved", "declined", "withdrawn", "cancelled"];

#[derive(Debug, Clone)]
pub struct Stored {
    pub status: u16,
    pub body: Value,
}

#[derive(Debug, Default)]
pub struct State {
    pub settings: SandboxSettings,
    pub faults: Faults,
    pub counters: Counters,
    pub log: Vec<RequestRecord>,
    pub tokens: HashMap<String, DateTime<Utc>>,
    /// (vendor, idempotency key) → the first answer.
    pub idempotency: HashMap<(String, String), Stored>,
    /// (kind, external id) → resource id: how duplicates are recognised.
    pub natural_keys: HashMap<(String, String), String>,
    /// Resources by kind ("patient", "case", "order", "fhir", ...) and id.
    pub resources: HashMap<String, BTreeMap<String, Value>>,
    /// (patient id, offering id) → the ids of its cases, whose states tell
    /// whether one is still open.
    cases_by_offering: HashMap<(String, String), Vec<String>>,
    /// (patient id, medication) → when its latest prescription was written.
    latest_prescription: HashMap<(String, String), DateTime<Utc>>,
    /// (prescription id, fill) of every pharmacy order.
    order_fills: HashSet<(String, u64)>,
    /// Every event the pharmacy generated, for `GET /pharmacy/v1/events`.
    pub pharmacy_feed: Feed,
    /// Webhooks dropped by a fault, oldest first, until redelivered.
    pub dropped_webhooks: Vec<DroppedWebhook>,
    /// What the clinicians decide for which patient (`/_sandbox/scenarios`).
    pub scenarios: Scenarios,
}

/// The request log is bounded; tests read recent windows.
const LOG_LIMIT: usize = 200_000;

impl State {
    /// An empty world with these settings.
    pub fn new(settings: SandboxSettings) -> Self {
        Self {
            settings,
            ..Self::default()
        }
    }

    pub fn record(
        &mut self,
        vendor: &str,
        method: &str,
        route: &str,
        status: u16,
        retry_after: Option<u64>,
    ) {
        *self.counters.requests.entry(vendor.to_owned()).or_default() += 1;
        *self
            .counters
            .responses
            .entry(format!("{vendor} {status}"))
            .or_default() += 1;
        if self.log.len() >= LOG_LIMIT {
            self.log.drain(..LOG_LIMIT / 2);
        }
        self.log.push(RequestRecord {
            vendor: vendor.to_owned(),
            method: method.to_owned(),
            route: route.to_owned(),
            at: Utc::now(),
            status,
            retry_after,
        });
    }

    /// Stores a new resource; counts a duplicate when its external id was
    /// already used by another resource of the same kind.
    pub fn create(&mut self, kind: &str, external_id: Option<&str>, mut body: Value) -> Value {
        let id = format!("{kind}_{}", uuid::Uuid::new_v4().simple());
        body["id"] = Value::String(id.clone());
        body["created_at"] = Value::String(Utc::now().to_rfc3339());
        if let Some(ext) = external_id {
            match self.natural_keys.entry((kind.to_owned(), ext.to_owned())) {
                std::collections::hash_map::Entry::Occupied(_) => {
                    *self
                        .counters
                        .duplicate_side_effects
                        .entry(kind.to_owned())
                        .or_default() += 1;
                }
                std::collections::hash_map::Entry::Vacant(slot) => {
                    slot.insert(id.clone());
                }
            }
        }
        self.resources
            .entry(kind.to_owned())
            .or_default()
            .insert(id, body.clone());
        body
    }

    /// Stores a new case (its body names `patient_id` and `offering_id`);
    /// counts `open_case` when another case of the same patient and
    /// offering is still open.
    pub fn create_case(&mut self, external_id: Option<&str>, case: Value) -> Value {
        let pair = pair_of(&case, "patient_id", "offering_id");
        if pair.as_ref().is_some_and(|p| self.has_open_case(p)) {
            self.counters.cross_journey_duplicates.open_case += 1;
        }
        let case = self.create("case", external_id, case);
        if let (Some(pair), Some(id)) = (pair, case["id"].as_str()) {
            self.cases_by_offering
                .entry(pair)
                .or_default()
                .push(id.to_owned());
        }
        case
    }

    fn has_open_case(&self, pair: &(String, String)) -> bool {
        self.cases_by_offering.get(pair).is_some_and(|ids| {
            ids.iter().any(|id| {
                self.get("case", id)
                    .and_then(|c| c["status"].as_str())
                    .is_some_and(|status| !CLOSED_CASE_STATES.contains(&status))
            })
        })
    }

    /// Stores the prescription written on approving case `case_id` (its body
    /// names `patient_id` and `medication`); counts `active_prescription`
    /// when the same patient's latest prescription for that medication was
    /// written less than `prescription_active_secs` ago.
    pub fn create_prescription(&mut self, case_id: &str, rx: Value) -> Value {
        let pair = pair_of(&rx, "patient_id", "medication");
        let rx = self.create("prescription", Some(case_id), rx);
        if let Some(pair) = pair {
            let now = Utc::now();
            let active = std::time::Duration::from_secs(self.settings.prescription_active_secs);
            if let Some(written) = self.latest_prescription.insert(pair, now) {
                // A clock that went back leaves the earlier one active.
                if (now - written).to_std().map_or(true, |age| age < active) {
                    self.counters.cross_journey_duplicates.active_prescription += 1;
                }
            }
        }
        rx
    }

    /// Stores a pharmacy order (its body names `prescription_id` and
    /// `fill`); counts `order_per_fill` when that fill already has an order.
    pub fn create_order(&mut self, external_id: Option<&str>, order: Value) -> Value {
        let fill = order["prescription_id"]
            .as_str()
            .zip(order["fill"].as_u64())
            .map(|(rx, fill)| (rx.to_owned(), fill));
        let order = self.create("order", external_id, order);
        if let Some(fill) = fill
            && !self.order_fills.insert(fill)
        {
            self.counters.cross_journey_duplicates.order_per_fill += 1;
        }
        order
    }

    pub fn get(&self, kind: &str, id: &str) -> Option<&Value> {
        self.resources.get(kind)?.get(id)
    }

    pub fn get_mut(&mut self, kind: &str, id: &str) -> Option<&mut Value> {
        self.resources.get_mut(kind)?.get_mut(id)
    }

    /// Clears everything but the settings: resources, counters, faults, log,
    /// the pharmacy's feed, the dropped webhooks and the scenario rules.
    pub fn reset(&mut self) {
        *self = State::new(self.settings.clone());
    }
}

/// The two text fields `a` and `b` of `body`, when both are there.
fn pair_of(body: &Value, a: &str, b: &str) -> Option<(String, String)> {
    Some((body[a].as_str()?.to_owned(), body[b].as_str()?.to_owned()))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn case(s: &mut State, ext: &str, patient: &str, offering: &str) -> String {
        let body = json!({ "patient_id": patient, "offering_id": offering, "status": "submitted" });
        let created = s.create_case(Some(ext), body);
        created["id"].as_str().unwrap_or_default().to_owned()
    }

    fn set_status(s: &mut State, id: &str, status: &str) {
        if let Some(c) = s.get_mut("case", id) {
            c["status"] = json!(status);
        }
    }

    #[test]
    fn a_second_case_counts_only_while_another_of_its_patient_and_offering_is_open() {
        let mut s = State::default();
        let first = case(&mut s, "j1", "p1", "glp1");
        case(&mut s, "j2", "p1", "other");
        case(&mut s, "j3", "p2", "glp1");
        assert_eq!(s.counters.cross_journey_duplicates.open_case, 0);
        set_status(&mut s, &first, "more_info_requested");
        case(&mut s, "j4", "p1", "glp1");
        assert_eq!(s.counters.cross_journey_duplicates.open_case, 1);

        for (n, closed) in CLOSED_CASE_STATES.iter().enumerate() {
            let mut s = State::default();
            let first = case(&mut s, "j1", "p1", "glp1");
            set_status(&mut s, &first, closed);
            case(&mut s, &format!("j{n}"), "p1", "glp1");
            assert_eq!(s.counters.cross_journey_duplicates.open_case, 0, "{closed}");
        }
        assert!(s.counters.duplicate_side_effects.is_empty());
    }

    #[test]
    fn a_prescription_counts_while_the_patients_last_for_that_medication_is_active() {
        let rx = |patient: &str, medication: &str| json!({ "patient_id": patient, "medication": medication, "refills": 1 });
        let mut s = State::default();
        s.create_prescription("c1", rx("p1", "glp1"));
        s.create_prescription("c2", rx("p1", "other"));
        s.create_prescription("c3", rx("p2", "glp1"));
        assert_eq!(s.counters.cross_journey_duplicates.active_prescription, 0);
        s.create_prescription("c4", rx("p1", "glp1"));
        assert_eq!(s.counters.cross_journey_duplicates.active_prescription, 1);

        // Prescriptions that are active for no time at all never overlap.
        let mut s = State::new(SandboxSettings {
            prescription_active_secs: 0,
            ..SandboxSettings::default()
        });
        s.create_prescription("c1", rx("p1", "glp1"));
        s.create_prescription("c2", rx("p1", "glp1"));
        assert_eq!(s.counters.cross_journey_duplicates.active_prescription, 0);
    }

    #[test]
    fn an_order_counts_when_its_prescription_fill_already_has_one() {
        let order = |rx: &str, fill: u32| json!({ "prescription_id": rx, "fill": fill });
        let mut s = State::default();
        s.create_order(Some("j1:fill:0"), order("rx1", 0));
        s.create_order(Some("j1:fill:1"), order("rx1", 1));
        s.create_order(Some("j2:fill:0"), order("rx2", 0));
        assert_eq!(s.counters.cross_journey_duplicates.order_per_fill, 0);
        s.create_order(Some("j3:fill:0"), order("rx1", 0));
        assert_eq!(s.counters.cross_journey_duplicates.order_per_fill, 1);
        // The same external id again is the other kind of duplicate, and this one too.
        s.create_order(Some("j1:fill:1"), order("rx1", 1));
        assert_eq!(s.counters.cross_journey_duplicates.order_per_fill, 2);
        assert_eq!(s.counters.duplicate_side_effects.get("order"), Some(&1));
    }

    #[test]
    fn the_counters_always_show_all_three_and_reset_forgets_what_was_seen() {
        let mut s = State::default();
        let shown = serde_json::to_value(&s.counters).unwrap_or_default();
        assert_eq!(
            shown["cross_journey_duplicates"],
            json!({ "open_case": 0, "active_prescription": 0, "order_per_fill": 0 })
        );
        s.create_order(None, json!({ "prescription_id": "rx1", "fill": 0 }));
        s.reset();
        s.create_order(None, json!({ "prescription_id": "rx1", "fill": 0 }));
        assert_eq!(s.counters.cross_journey_duplicates.order_per_fill, 0);
    }
}
