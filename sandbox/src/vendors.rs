//! The fake vendors' routes, behind one handler that applies what every
//! vendor shares: faults, authentication, idempotency keys and the request
//! log. The clinical network's and the pharmacy's routes live in modules of
//! their own; the EHR's, the CRM's and the notification sender's are here.

use std::sync::Arc;

use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use chrono::Utc;
use serde_json::{Value, json};

use super::App;
use super::faults::Verdict;
use super::state::{self, Stored};
use super::{clinical, pharmacy};

/// One request to a fake vendor, as the handler and the routes see it.
pub struct Call<'a> {
    pub vendor: &'a str,
    pub method: &'a Method,
    /// The path under the vendor, split on `/` (`["v1", "orders", "o_1"]`).
    pub segments: &'a [&'a str],
    /// The raw query string, without the `?`.
    pub query: Option<&'a str>,
    /// The path under the vendor as the request log shows it.
    route: String,
}

impl Call<'_> {
    fn is_token(&self) -> bool {
        self.vendor == "clinical" && self.segments == ["v1", "partner", "auth", "token"]
    }

    fn mutating(&self) -> bool {
        *self.method != Method::GET
    }

    fn record(&self, s: &mut state::State, status: u16, retry_after: Option<u64>) {
        s.record(
            self.vendor,
            self.method.as_str(),
            &self.route,
            status,
            retry_after,
        );
    }

    /// Logs the request as answered with `status`, and that error.
    fn refuse(&self, app: &App, status: u16, message: &str, retry_after: Option<u64>) -> Response {
        self.record(&mut app.lock(), status, retry_after);
        error(status, message, retry_after)
    }
}

/// What the handler answers a request that got past faults and authentication.
enum Answer {
    /// The request repeated an idempotency key: the first answer, again.
    Replayed(Stored),
    /// The route's answer, and what the simulated world does next.
    Fresh(Stored, Vec<Event>),
}

pub async fn handle(
    State(app): State<Arc<App>>,
    Path((vendor, rest)): Path<(String, String)>,
    RawQuery(query): RawQuery,
    method: Method,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let segments: Vec<&str> = rest.split('/').filter(|s| !s.is_empty()).collect();
    let call = Call {
        vendor: &vendor,
        method: &method,
        segments: &segments,
        query: query.as_deref(),
        route: format!("/{}", segments.join("/")),
    };
    let lose_response = match pass_faults(&app, &call).await {
        Ok(lose_response) => lose_response,
        Err(refused) => return refused,
    };
    let parsed: Value = if body.is_empty() {
        Value::Null
    } else {
        match serde_json::from_slice(&body) {
            Ok(v) => v,
            Err(e) => return call.refuse(&app, 400, &format!("body is not JSON: {e}"), None),
        }
    };
    if call.is_token() {
        let (status, body) = issue_token(&app, &parsed);
        call.record(&mut app.lock(), status, None);
        return json_response(status, body);
    }
    if !authorised(&app, &vendor, &headers) {
        return call.refuse(&app, 401, "missing or expired credentials", None);
    }
    let key = headers
        .get("idempotency-key")
        .and_then(|v| v.to_str().ok())
        .filter(|_| call.mutating());
    match answer(&app, &call, key, parsed, lose_response) {
        Answer::Replayed(stored) => json_response(stored.status, stored.body),
        Answer::Fresh(stored, events) => {
            for event in events {
                app.spawn_event(event);
            }
            if lose_response {
                return error(504, "upstream timeout (the request was processed)", None);
            }
            json_response(stored.status, stored.body)
        }
    }
}

/// The vendor's injected latency and faults: whether the answer to a request
/// that passes is to be lost, or the injected failure (logged).
async fn pass_faults(app: &App, call: &Call<'_>) -> Result<bool, Response> {
    let (latency, verdict) = {
        let mut s = app.lock();
        if call.is_token() {
            s.counters.token_requests += 1;
        }
        (
            s.faults.latency(call.vendor),
            s.faults
                .judge(call.vendor, call.is_token(), call.mutating()),
        )
    };
    if !latency.is_zero() {
        tokio::time::sleep(latency).await;
    }
    match verdict {
        Verdict::Fail {
            status,
            retry_after,
        } => Err(call.refuse(app, status, "injected fault", retry_after)),
        Verdict::Pass { lose_response } => Ok(lose_response),
    }
}

/// Answers from the idempotency record when `key` was seen, otherwise runs
/// the route and records its answer under `key` (not a 5xx, which a retry
/// must be able to get past); logs the request either way, a lost answer as
/// the 504 the caller sees.
fn answer(
    app: &App,
    call: &Call<'_>,
    key: Option<&str>,
    body: Value,
    lose_response: bool,
) -> Answer {
    let mut s = app.lock();
    let recorded = key.map(|k| (call.vendor.to_owned(), k.to_owned()));
    if let Some(stored) = recorded.as_ref().and_then(|k| s.idempotency.get(k)) {
        let stored = stored.clone();
        s.counters.idempotent_replays += 1;
        *s.counters
            .idempotent_replays_by_vendor
            .entry(call.vendor.to_owned())
            .or_default() += 1;
        call.record(&mut s, stored.status, None);
        return Answer::Replayed(stored);
    }
    let mut events = Vec::new();
    let (status, body) = dispatch(&mut s, call, body, &mut events);
    if let Some(k) = recorded
        && status < 500
    {
        let stored = Stored {
            status,
            body: body.clone(),
        };
        s.idempotency.insert(k, stored);
    }
    call.record(&mut s, if lose_response { 504 } else { status }, None);
    Answer::Fresh(Stored { status, body }, events)
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

/// The vendor's route for the request: its status and body.
fn dispatch(
    s: &mut state::State,
    call: &Call<'_>,
    body: Value,
    events: &mut Vec<Event>,
) -> (u16, Value) {
    match (call.vendor, call.method.as_str(), call.segments) {
        ("clinical", ..) => clinical::route(s, call, body, events),
        ("pharmacy", ..) => pharmacy::route(s, call, body, events),
        ("ehr", "POST", ["fhir", resource_type]) => ehr_resource(s, resource_type, body),
        ("crm", "POST", ["v1", "events"]) => {
            let ext = body["event_id"].as_str().map(str::to_owned);
            (202, s.create("crm_event", ext.as_deref(), body))
        }
        ("notify", "POST", ["v1", "messages"]) => notification(s, body),
        _ => no_route(),
    }
}

/// `POST /ehr/fhir/{type}`: a FHIR resource of that type, recognised again
/// by its first identifier.
fn ehr_resource(s: &mut state::State, resource_type: &str, body: Value) -> (u16, Value) {
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

/// `POST /notify/v1/messages`: an email or a text to the patient.
fn notification(s: &mut state::State, body: Value) -> (u16, Value) {
    if !matches!(body["channel"].as_str(), Some("email" | "sms")) {
        return unprocessable("channel", "must be email or sms");
    }
    let ext = body["external_id"].as_str().map(str::to_owned);
    (202, s.create("notification", ext.as_deref(), body))
}

/// Copies `patch`'s fields over `target`'s and stamps `updated_at`.
pub fn merge(target: &mut Value, patch: &Value) {
    if let (Some(t), Some(p)) = (target.as_object_mut(), patch.as_object()) {
        for (k, v) in p {
            t.insert(k.clone(), v.clone());
        }
        t.insert("updated_at".into(), json!(Utc::now().to_rfc3339()));
    }
}

/// A 422 naming `field`, as vendors refuse a payload.
pub fn unprocessable(field: &str, message: &str) -> (u16, Value) {
    (
        422,
        json!({ "error": {
            "message": format!("{field} {message}"),
            "fields": [{ "path": field, "message": message }],
        }}),
    )
}

/// A 404 for a `kind` (`case`, `order`, ...) the vendor does not hold.
pub fn not_found(kind: &str) -> (u16, Value) {
    (
        404,
        json!({ "error": { "message": format!("no such {kind}") } }),
    )
}

/// A 404 for a path no vendor serves.
pub fn no_route() -> (u16, Value) {
    (404, json!({ "error": { "message": "no such route" } }))
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
