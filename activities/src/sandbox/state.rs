//! The sandbox's memory: resources, issued tokens, idempotency records, the
//! request log and the counters tests read.

use std::collections::{BTreeMap, HashMap};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::faults::Faults;

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ClinicianSettings {
    /// Delay from case submission to `case.assigned`.
    pub assign_ms: u64,
    /// Delay from assignment (or from the patient's answer) to a decision.
    pub decide_ms: u64,
    /// Decision mix for cases that name no scenario: weights.
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

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SandboxSettings {
    pub clinician: ClinicianSettings,
    pub webhooks: WebhookSettings,
}

#[derive(Debug, Clone, Serialize)]
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
    /// A second resource created for the same thing (the same case for one
    /// journey, the same patient, order or record): what carepath must never cause.
    pub duplicate_side_effects: BTreeMap<String, u64>,
    pub webhooks_sent: u64,
    pub webhooks_failed: u64,
}

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
}

/// The request log is bounded; tests read recent windows.
const LOG_LIMIT: usize = 200_000;

impl State {
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

    pub fn get(&self, kind: &str, id: &str) -> Option<&Value> {
        self.resources.get(kind)?.get(id)
    }

    pub fn get_mut(&mut self, kind: &str, id: &str) -> Option<&mut Value> {
        self.resources.get_mut(kind)?.get_mut(id)
    }

    pub fn reset(&mut self) {
        let settings = self.settings.clone();
        *self = State {
            settings,
            ..State::default()
        };
    }
}
