//! `/_sandbox/*`: set and clear faults, read counters and the request log,
//! change the simulated world's settings, redeliver dropped webhooks, add a
//! raw item to the pharmacy's feed, reset everything.

use std::collections::HashMap;
use std::sync::Arc;

use axum::Json;
use axum::extract::{Query, State};
use serde::Deserialize;
use serde_json::{Value, json};

use super::App;
use super::faults::{FaultRequest, VendorFaults};
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
