//! `/_sandbox/*`: set and clear faults, read counters and the request log,
//! change the simulated world's settings, say what the clinicians decide for
//! a patient, redeliver dropped webhooks, add a raw item to the pharmacy's
//! feed, reset everything.

use std::collections::HashMap;
use std::sync::Arc;

use axum::Json;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use serde::Deserialize;
use serde_json::{Value, json};

use super::App;
use super::faults::{FaultRequest, VendorFaults};
use super::scenarios::ScenarioRule;
use super::state::{Counters, DroppedWebhook, RequestRecord, SandboxSettings};

pub async fn set_fault(
    State(app): State<Arc<App>>,
    Json(req): Json<FaultRequest>,
) -> Json<HashMap<String, VendorFaults>> {
    let mut s = app.lock();
    s.faults.set(req);
    Json(s.faults.snapshot())
}

pub async fn clear_faults(State(app): State<Arc<App>>) -> Json<HashMap<String, VendorFaults>> {
    let mut s = app.lock();
    s.faults.clear();
    Json(s.faults.snapshot())
}

pub async fn faults(State(app): State<Arc<App>>) -> Json<HashMap<String, VendorFaults>> {
    Json(app.lock().faults.snapshot())
}

pub async fn counters(State(app): State<Arc<App>>) -> Json<Counters> {
    Json(app.lock().counters.clone())
}

#[derive(Debug, Deserialize)]
pub struct RequestFilter {
    vendor: Option<String>,
}

pub async fn requests(
    State(app): State<Arc<App>>,
    Query(f): Query<RequestFilter>,
) -> Json<Vec<RequestRecord>> {
    let s = app.lock();
    Json(
        s.log
            .iter()
            .filter(|r| f.vendor.as_ref().is_none_or(|v| *v == r.vendor))
            .cloned()
            .collect(),
    )
}

pub async fn reset(State(app): State<Arc<App>>) -> Json<Counters> {
    let mut s = app.lock();
    s.reset();
    Json(s.counters.clone())
}

pub async fn settings(State(app): State<Arc<App>>) -> Json<SandboxSettings> {
    Json(app.lock().settings.clone())
}

pub async fn put_settings(
    State(app): State<Arc<App>>,
    Json(new): Json<SandboxSettings>,
) -> Json<SandboxSettings> {
    let mut s = app.lock();
    s.settings = new;
    Json(s.settings.clone())
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ResourceFilter {
    kind: String,
}

/// What the fake vendors hold of one kind (`patient`, `case`, `order`,
/// `prescription`, `crm_event`, `fhir_Encounter`, ...): what tests inspect to
/// see exactly what crossed to a vendor.
pub async fn resources(
    State(app): State<Arc<App>>,
    Query(f): Query<ResourceFilter>,
) -> Json<Vec<serde_json::Value>> {
    let s = app.lock();
    Json(
        s.resources
            .get(&f.kind)
            .map(|r| r.values().cloned().collect())
            .unwrap_or_default(),
    )
}

/// `POST /_sandbox/webhooks/redeliver`: every webhook a fault dropped is
/// delivered now (late), unchanged but freshly signed; answers
/// `{"redelivered": n}` once each was delivered or given up on.
pub async fn redeliver(State(app): State<Arc<App>>) -> Json<Value> {
    let n = app.redeliver().await;
    Json(json!({ "redelivered": n }))
}

/// `GET /_sandbox/webhooks/dropped`: the webhooks dropped and not yet
/// redelivered, oldest first.
pub async fn dropped(State(app): State<Arc<App>>) -> Json<Vec<DroppedWebhook>> {
    Json(app.lock().dropped_webhooks.clone())
}

/// `POST /_sandbox/feed` with any JSON value: appends it, as it is, to the
/// pharmacy's feed (to show what a reader does with an item it cannot
/// store); answers `{"cursor"}`, the feed's cursor just after it.
pub async fn feed_item(State(app): State<Arc<App>>, Json(item): Json<Value>) -> Json<Value> {
    let cursor = app.lock().pharmacy_feed.push(item);
    Json(json!({ "cursor": cursor }))
}

/// `POST /_sandbox/scenarios` with `{"email", "offering" (optional),
/// "scenario"}`: cases created from now on for the patient with that email
/// (for that offering, when named) go as `scenario`; a rule for the same
/// email and offering replaces the one before, and `reset` forgets them all.
/// Answers 200 with every rule (as `GET` does), or 400 naming the field at
/// fault: `{"error": {"message", "fields": [{"path", "message"}]}}`.
pub async fn set_scenario(State(app): State<Arc<App>>, body: Bytes) -> Response {
    let rule = serde_json::from_slice::<Value>(&body)
        .map_err(|_| ("body".to_owned(), "must be a JSON object".to_owned()))
        .and_then(|v| ScenarioRule::from_json(&v));
    match rule {
        Ok(rule) => {
            let mut s = app.lock();
            s.scenarios.set(rule);
            Json(s.scenarios.rules()).into_response()
        }
        Err((field, message)) => (
            StatusCode::BAD_REQUEST,
            Json(json!({ "error": {
                "message": format!("{field} {message}"),
                "fields": [{ "path": field, "message": message }],
            }})),
        )
            .into_response(),
    }
}

/// `GET /_sandbox/scenarios`: every rule set since the last reset, by email
/// (trimmed, in lower case) and offering.
pub async fn scenarios(State(app): State<Arc<App>>) -> Json<Vec<ScenarioRule>> {
    Json(app.lock().scenarios.rules())
}
