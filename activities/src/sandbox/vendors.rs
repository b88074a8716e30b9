//! The fake vendors' routes, behind one dispatcher that applies what every
//! vendor shares: faults, authentication, idempotency keys and the request log.

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use chrono::Utc;
use serde_json::{Value, json};

use super::App;
use super::faults::Verdict;
use super::state::Stored;

/// US states the fake clinical network has licensed clinicians in.
const SERVED_STATES: &[&str] = &[
    "AL", "AZ", "CA", "CO", "CT", "FL", "GA", "IL", "IN", "MA", "MD", "MI", "MN", "MO", "NC", "NJ",
    "NV", "NY", "OH", "OR", "PA", "TN", "TX", "UT", "VA", "WA", "WI",
];

pub async fn handle(
    State(app): State<Arc<App>>,
    Path((vendor, rest)): Path<(String, String)>,
    method: Method,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let segments: Vec<&str> = rest.split('/').filter(|s| !s.is_empty()).collect();
    let route = format!("/{}", segments.join("/"));
    let is_token = vendor == "clinical" && segments == ["v1", "partner", "auth", "token"];
    let mutating = method != Method::GET;

    let (latency, verdict) = {
        let mut s = app.lock();
        if is_token {
            s.counters.token_requests += 1;
        }
        (
            s.faults.latency(&vendor),
            s.faults.judge(&vendor, is_token, mutating),
        )
    };
    if !latency.is_zero() {
        tokio::time::sleep(latency).await;
    }
    let lose_response = match verdict {
        Verdict::Fail {
            status,
            retry_after,
        } => {
            app.lock()
                .record(&vendor, method.as_str(), &route, status, retry_after);
            return error(status, "injected fault", retry_after);
        }
        Verdict::Pass { lose_response } => lose_response,
    };

    let parsed: Value = if body.is_empty() {
        Value::Null
    } else {
        match serde_json::from_slice(&body) {
            Ok(v) => v,
            Err(e) => {
                app.lock()
                    .record(&vendor, method.as_str(), &route, 400, None);
                return error(400, &format!("body is not JSON: {e}"), None);
            }
        }
    };

    if is_token {
        let (status, body) = issue_token(&app, &parsed);
        app.lock()
            .record(&vendor, method.as_str(), &route, status, None);
        return json_response(status, body);
    }
    if !authorised(&app, &vendor, &headers) {
        app.lock()
            .record(&vendor, method.as_str(), &route, 401, None);
        return error(401, "missing or expired credentials", None);
    }

    let key = headers
        .get("idempotency-key")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let (stored, events) = {
        let mut s = app.lock();
        let replay = key
            .as_ref()
            .filter(|_| mutating)
            .and_then(|k| s.idempotency.get(&(vendor.clone(), k.clone())).cloned());
        if let Some(stored) = replay {
            s.counters.idempotent_replays += 1;
            s.record(&vendor, method.as_str(), &route, stored.status, None);
            return json_response(stored.status, stored.body);
        }
        let mut events = Vec::new();
        let (status, body) = dispatch(&mut s, &vendor, &method, &segments, parsed, &mut events);
        if let (true, Some(k)) = (mutating, &key)
            && status < 500
        {
            s.idempotency.insert(
                (vendor.clone(), k.clone()),
                Stored {
                    status,
                    body: body.clone(),
                },
            );
        }
        let shown = if lose_response { 504 } else { status };
        s.record(&vendor, method.as_str(), &route, shown, None);
        (Stored { status, body }, events)
    };
    for event in events {
        app.spawn_event(event);
    }
    if lose_response {
        return error(504, "upstream timeout (the request was processed)", None);
    }
    json_response(stored.status, stored.body)
}

/// Something the simulated world does next, after a request.
pub enum Event {
    /// A case was submitted: a clinician will pick it up.
    CaseSubmitted { case_id: String },
    /// The patient answered a more-information request.
    PatientAnswered { case_id: String },
    /// A pharmacy order was placed: it will be filled, shipped and delivered.
    OrderPlaced { order_id: String },
}

fn dispatch(
    s: &mut super::state::State,
    vendor: &str,
    method: &Method,
    segments: &[&str],
    body: Value,
    events: &mut Vec<Event>,
) -> (u16, Value) {
    match (vendor, method.as_str(), segments) {
        ("clinical", "POST", ["v1", "partner", "patients"]) => {
            if let Some(problem) = invalid_patient(&body) {
                return (422, problem);
            }
            let ext = body["external_id"].as_str().map(str::to_owned);
            (201, s.create("patient", ext.as_deref(), body))
        }
        ("clinical", "PATCH", ["v1", "partner", "patients", id]) => {
            if let Some(problem) = invalid_patient_update(&body) {
                return (422, problem);
            }
            match s.get_mut("patient", id) {
                Some(p) => {
                    merge(p, &body);
                    (200, p.clone())
                }
                None => not_found("patient"),
            }
        }
        ("clinical", "GET", ["v1", "partner", "patients"]) => (200, json!({ "items": [] })),
        ("clinical", "POST", ["v1", "partner", "cases"]) => {
            let Some(patient_id) = body["patient_id"].as_str() else {
                return unprocessable("patient_id", "is required");
            };
            if s.get("patient", patient_id).is_none() {
                return unprocessable("patient_id", "no such patient");
            }
            let ext = body["external_id"].as_str().map(str::to_owned);
            let mut case = body.clone();
            case["status"] = json!("submitted");
            case["more_info_rounds"] = json!(0);
            let case = s.create_case(ext.as_deref(), case);
            if let Some(id) = case["id"].as_str() {
                events.push(Event::CaseSubmitted {
                    case_id: id.to_owned(),
                });
            }
            (201, case)
        }
        ("clinical", "GET", ["v1", "partner", "cases", id]) => match s.get("case", id) {
            Some(c) => (200, c.clone()),
            None => not_found("case"),
        },
        ("clinical", "POST", ["v1", "partner", "cases", id, "withdraw"]) => {
            let Some(case) = s.get_mut("case", id) else {
                return not_found("case");
            };
            match case["status"].as_str() {
                // Withdrawing twice changes nothing, as a retry should.
                Some("withdrawn") => (200, case.clone()),
                Some(decided @ ("approved" | "declined")) => (
                    409,
                    json!({ "error": { "message": format!("the case is already {decided}") } }),
                ),
                _ => {
                    case["status"] = json!("withdrawn");
                    case["withdrawn_reason"] = body["reason"].clone();
                    (200, case.clone())
                }
            }
        }
        ("clinical", "POST", ["v1", "partner", "cases", id, "files"]) => {
            if s.get("case", id).is_none() {
                return not_found("case");
            }
            let ext = body["external_id"].as_str().map(str::to_owned);
            (
                201,
                s.create(
                    "case_file",
                    ext.as_deref(),
                    json!({ "case_id": id, "name": body["name"] }),
                ),
            )
        }
        ("clinical", "POST", ["v1", "partner", "cases", id, "messages"]) => {
            let Some(case) = s.get_mut("case", id) else {
                return not_found("case");
            };
            let answering = case["status"] == "more_info_requested" && body["from"] == "patient";
            if answering {
                case["status"] = json!("info_received");
            }
            let ext = body["external_id"].as_str().map(str::to_owned);
            let message = s.create(
                "message",
                ext.as_deref(),
                json!({ "case_id": id, "from": body["from"] }),
            );
            if answering {
                events.push(Event::PatientAnswered {
                    case_id: (*id).to_owned(),
                });
            }
            (201, message)
        }
        ("pharmacy", "POST", ["v1", "orders"]) => {
            if body["prescription_id"].as_str().is_none() {
                return unprocessable("prescription_id", "is required");
            }
            let ext = body["external_id"].as_str().map(str::to_owned);
            let mut order = body.clone();
            order["status"] = json!("received");
            let order = s.create_order(ext.as_deref(), order);
            if let Some(id) = order["id"].as_str() {
                events.push(Event::OrderPlaced {
                    order_id: id.to_owned(),
                });
            }
            (201, order)
        }
        ("pharmacy", "GET", ["v1", "orders", id]) => match s.get("order", id) {
            Some(o) => (200, o.clone()),
            None => not_found("order"),
        },
        ("ehr", "POST", ["fhir", resource_type]) => {
            if body["resourceType"].as_str() != Some(resource_type) {
                return unprocessable("resourceType", "must match the URL");
            }
            // `identifier` is a list on most resources, a single one on some.
            let ext = body["identifier"][0]["value"]
                .as_str()
                .or_else(|| body["identifier"]["value"].as_str())
                .map(str::to_owned);
            (
                201,
                s.create(&format!("fhir_{resource_type}"), ext.as_deref(), body),
            )
        }
        ("crm", "POST", ["v1", "events"]) => {
            let ext = body["event_id"].as_str().map(str::to_owned);
            (202, s.create("crm_event", ext.as_deref(), body))
        }
        ("notify", "POST", ["v1", "messages"]) => {
            if !matches!(body["channel"].as_str(), Some("email" | "sms")) {
                return unprocessable("channel", "must be email or sms");
            }
            let ext = body["external_id"].as_str().map(str::to_owned);
            (202, s.create("notification", ext.as_deref(), body))
        }
        _ => (404, json!({ "error": { "message": "no such route" } })),
    }
}

fn invalid_patient(p: &Value) -> Option<Value> {
    for field in ["first_name", "last_name", "date_of_birth", "state"] {
        if p[field].as_str().is_none_or(str::is_empty) {
            return Some(unprocessable(field, "is required").1);
        }
    }
    invalid_patient_update(p)
}

fn invalid_patient_update(p: &Value) -> Option<Value> {
    match p["state"].as_str() {
        Some(st) if !SERVED_STATES.contains(&st) => {
            Some(unprocessable("state", "is not a US state this network serves").1)
        }
        _ => None,
    }
}

fn merge(target: &mut Value, patch: &Value) {
    if let (Some(t), Some(p)) = (target.as_object_mut(), patch.as_object()) {
        for (k, v) in p {
            t.insert(k.clone(), v.clone());
        }
        t.insert("updated_at".into(), json!(Utc::now().to_rfc3339()));
    }
}

fn unprocessable(field: &str, message: &str) -> (u16, Value) {
    (
        422,
        json!({ "error": {
            "message": format!("{field} {message}"),
            "fields": [{ "path": field, "message": message }],
        }}),
    )
}

fn not_found(kind: &str) -> (u16, Value) {
    (
        404,
        json!({ "error": { "message": format!("no such {kind}") } }),
    )
}

fn issue_token(app: &App, body: &Value) -> (u16, Value) {
    let mut s = app.lock();
    if body["grant_type"] != "client_credentials" || body["client_id"].as_str().is_none() {
        return (
            400,
            json!({ "error": "invalid_request", "error_description": "client_credentials with client_id required" }),
        );
    }
    let ttl = s.settings.webhooks.token_ttl_secs;
    let token = format!("tok_{}", uuid::Uuid::new_v4().simple());
    s.tokens.insert(
        token.clone(),
        Utc::now() + chrono::Duration::seconds(ttl as i64),
    );
    s.counters.tokens_issued += 1;
    (
        200,
        json!({ "access_token": token, "token_type": "Bearer", "expires_in": ttl }),
    )
}

fn authorised(app: &App, vendor: &str, headers: &HeaderMap) -> bool {
    if vendor == "clinical" {
        let bearer = headers
            .get("authorization")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "));
        let s = app.lock();
        bearer
            .and_then(|t| s.tokens.get(t))
            .is_some_and(|exp| *exp > Utc::now())
    } else {
        headers.get("x-api-key").is_some_and(|v| !v.is_empty())
    }
}

fn json_response(status: u16, body: Value) -> Response {
    let code = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    (code, axum::Json(body)).into_response()
}

fn error(status: u16, message: &str, retry_after: Option<u64>) -> Response {
    let mut resp = json_response(status, json!({ "error": { "message": message } }));
    if let Some(secs) = retry_after
        && let Ok(v) = HeaderValue::from_str(&secs.to_string())
    {
        resp.headers_mut().insert("retry-after", v);
    }
    resp
}
