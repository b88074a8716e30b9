//! The fake vendors' routes, behind one dispatcher that applies what every
//! vendor shares: faults, authentication, idempotency keys and the request log.

use std::sync::Arc;

use axum::extract::{Path, RawQuery, State};
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
    RawQuery(query): RawQuery,
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
        let (status, body) = dispatch(
            &mut s,
            &vendor,
            &method,
            &segments,
            query.as_deref(),
            parsed,
            &mut events,
        );
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

/// `query` is the raw query string, without the `?`.
fn dispatch(
    s: &mut super::state::State,
    vendor: &str,
    method: &Method,
    segments: &[&str],
    query: Option<&str>,
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
                json!({ "case_id": id, "from": body["from"], "text": body["text"] }),
            );
            if answering {
                events.push(Event::PatientAnswered {
                    case_id: (*id).to_owned(),
                });
            }
            (201, message)
        }
        ("clinical", "GET", ["v1", "partner", "cases", id, "messages"]) => {
            if s.get("case", id).is_none() {
                return not_found("case");
            }
            let mut items: Vec<Value> = s
                .resources
                .get("message")
                .map(|m| {
                    m.values()
                        .filter(|m| m["case_id"] == *id)
                        .cloned()
                        .collect()
                })
                .unwrap_or_default();
            // Oldest first; RFC 3339 times of one clock sort as text.
            items.sort_by(|a, b| a["created_at"].as_str().cmp(&b["created_at"].as_str()));
            (200, json!({ "items": items }))
        }
        ("pharmacy", "POST", ["v1", "orders"]) => {
            if let Some(problem) = invalid_order(&body) {
                return problem;
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
        ("pharmacy", "GET", ["v1", "events"]) => s.pharmacy_feed.answer(query),
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

/// What a pharmacy needs to dispense and ship, as a real one checks it:
/// the prescription and fill, who the parcel is for, and a US address it
/// can be sent to (state a two-letter code, ZIP `12345` or `12345-6789`).
/// The first problem, naming its field by path (`ship_to.postal_code`).
fn invalid_order(order: &Value) -> Option<(u16, Value)> {
    let text = |v: &Value| {
        v.as_str()
            .filter(|t| !t.trim().is_empty())
            .map(str::to_owned)
    };
    if text(&order["prescription_id"]).is_none() {
        return Some(unprocessable("prescription_id", "is required"));
    }
    if order["fill"]
        .as_u64()
        .is_none_or(|f| f > u64::from(u32::MAX))
    {
        return Some(unprocessable(
            "fill",
            "is required: 0 for the first fill, then 1, 2, ...",
        ));
    }
    for (group, field) in [
        ("patient_name", "first_name"),
        ("patient_name", "last_name"),
        ("ship_to", "line1"),
        ("ship_to", "city"),
        ("ship_to", "state"),
        ("ship_to", "postal_code"),
    ] {
        if text(&order[group][field]).is_none() {
            return Some(unprocessable(&format!("{group}.{field}"), "is required"));
        }
    }
    let line2 = &order["ship_to"]["line2"];
    if !(line2.is_null() || line2.is_string()) {
        return Some(unprocessable("ship_to.line2", "must be text"));
    }
    let state = order["ship_to"]["state"].as_str().unwrap_or_default();
    if !(state.len() == 2 && state.bytes().all(|b| b.is_ascii_uppercase())) {
        return Some(unprocessable(
            "ship_to.state",
            "must be a two-letter state code in capitals",
        ));
    }
    let zip = order["ship_to"]["postal_code"].as_str().unwrap_or_default();
    if !is_zip(zip) {
        return Some(unprocessable(
            "ship_to.postal_code",
            "must be a US ZIP code: 12345 or 12345-6789",
        ));
    }
    None
}

fn is_zip(code: &str) -> bool {
    let digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
    match code.split_once('-') {
        Some((zip, plus4)) => zip.len() == 5 && plus4.len() == 4 && digits(zip) && digits(plus4),
        None => code.len() == 5 && digits(code),
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

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn order() -> Value {
        json!({
            "prescription_id": "rx_1", "patient_id": "pat_1", "external_id": "j:fill:0", "fill": 0,
            "patient_name": { "first_name": "Ann", "last_name": "Lee" },
            "ship_to": { "line1": "1 Main St", "city": "Oakland", "state": "CA", "postal_code": "94601" },
        })
    }

    /// The field path a refusal names.
    fn refused(order: &Value) -> Option<String> {
        let (status, body) = invalid_order(order)?;
        assert_eq!(status, 422);
        body["error"]["fields"][0]["path"]
            .as_str()
            .map(str::to_owned)
    }

    #[test]
    fn an_order_the_pharmacy_could_ship_is_accepted() {
        assert_eq!(refused(&order()), None);
        let mut plus4 = order();
        plus4["ship_to"]["postal_code"] = json!("94601-1234");
        plus4["ship_to"]["line2"] = json!("Apt 4");
        plus4["fill"] = json!(2);
        assert_eq!(refused(&plus4), None);
    }

    #[test]
    fn an_order_without_a_name_or_a_shippable_address_is_refused_naming_the_field() {
        for (group, field) in [
            ("patient_name", "first_name"),
            ("patient_name", "last_name"),
            ("ship_to", "line1"),
            ("ship_to", "city"),
            ("ship_to", "state"),
            ("ship_to", "postal_code"),
        ] {
            let path = format!("{group}.{field}");
            for missing in [Value::Null, json!(""), json!("  "), json!(7)] {
                let mut o = order();
                o[group][field] = missing.clone();
                assert_eq!(refused(&o).as_deref(), Some(path.as_str()), "{missing}");
            }
        }
        let mut no_address = order();
        no_address.as_object_mut().map(|o| o.remove("ship_to"));
        assert_eq!(refused(&no_address).as_deref(), Some("ship_to.line1"));
        for (field, bad) in [
            ("state", "ca"),
            ("state", "C"),
            ("state", "CAL"),
            ("state", "C1"),
            ("postal_code", "9460"),
            ("postal_code", "946011234"),
            ("postal_code", "94601 1234"),
            ("postal_code", "94601-123"),
            ("postal_code", "ABCDE"),
            ("line2", "x"),
        ] {
            let mut o = order();
            o["ship_to"][field] = if field == "line2" {
                json!(2)
            } else {
                json!(bad)
            };
            let path = format!("ship_to.{field}");
            assert_eq!(refused(&o).as_deref(), Some(path.as_str()), "{bad}");
        }
        for (field, bad) in [
            ("prescription_id", Value::Null),
            ("fill", Value::Null),
            ("fill", json!(-1)),
            ("fill", json!("0")),
        ] {
            let mut o = order();
            o[field] = bad.clone();
            assert_eq!(refused(&o).as_deref(), Some(field), "{bad}");
        }
    }
}
