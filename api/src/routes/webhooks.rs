//! `POST /webhooks/{vendor}`: verify, store, acknowledge. Routing to journeys
//! happens afterwards, from the stored row (the workers' inbox router).

use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::extract::rejection::BytesRejection;
use axum::http::{HeaderMap, StatusCode};
use serde::Serialize;
use serde_json::{Value, json};
use utoipa::ToSchema;

use carepath_activities::webhook_signature;
use carepath_workflows::store::inbox::{self, RefusedBody, Source};

use crate::AppState;
use crate::error::{ApiError, ErrorBody};
use crate::extract::{VendorParam, body_rejection};

#[derive(Debug, Serialize, ToSchema)]
pub struct WebhookAck {
    /// `stored`, or `duplicate` when this event was already received.
    pub status: String,
    pub dedup_key: String,
}

/// Headers worth keeping with the stored event (never the signature secret's input alone).
const KEPT_HEADERS: [&str; 3] = ["content-type", "user-agent", webhook_signature::HEADER];

#[utoipa::path(post, path = "/webhooks/{vendor}", tag = "webhooks", operation_id = "receive_webhook", security(()),
    params(("vendor" = String, Path, description = "The sending vendor")),
    request_body(content = Value, description = "The vendor's event, signed with X-Carepath-Signature"),
    responses((status = 200, description = "Stored (or already stored); routed afterwards", body = WebhookAck),
              (status = 400, description = "Not JSON", body = ErrorBody),
              (status = 401, description = "Bad or missing signature, or a timestamp outside the tolerance", body = ErrorBody),
              (status = 404, description = "Unknown vendor", body = ErrorBody),
              (status = 413, description = "Body too large", body = ErrorBody)))]
pub async fn receive(
    State(state): State<AppState>,
    VendorParam(vendor): VendorParam,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<WebhookAck>, ApiError> {
    let Some(secrets) = state.webhooks.secrets.get(&vendor) else {
        return Err(ApiError::not_found(format!("no vendor named {vendor:?}")));
    };
    // A body the API will not read (too large, cut off) is a rejection like
    // any other: recorded and counted, so a vendor stuck on it is seen.
    let body = match body {
        Ok(body) => body,
        Err(e) => {
            // Recorded by its declared size, without a digest.
            let unread = RefusedBody::Unread {
                declared: declared_length(&headers),
            };
            return Err(reject(&state, &vendor, Refusal::unread(e), unread).await);
        }
    };
    let event = match admit(secrets, state.webhooks.tolerance, &headers, &body) {
        Ok(event) => event,
        Err(refusal) => {
            return Err(reject(&state, &vendor, refusal, RefusedBody::Read(&body)).await);
        }
    };
    let dedup_key = inbox::dedup_key(&event, &body);
    let stored = inbox::store(
        state.engine.pool(),
        &vendor,
        Source::Webhook,
        &dedup_key,
        event["type"].as_str(),
        &body,
        &kept_headers(&headers),
    )
    .await?;
    let status = if stored { "stored" } else { "duplicate" };
    carepath_activities::metrics::WEBHOOKS
        .with_label_values(&[vendor.as_str(), status])
        .inc();
    Ok(Json(WebhookAck {
        status: status.into(),
        dedup_key,
    }))
}

/// Why a webhook is refused, as its answer says it.
struct Refusal {
    status: StatusCode,
    code: &'static str,
    reason: String,
}

impl Refusal {
    fn new(status: StatusCode, code: &'static str, reason: impl Into<String>) -> Self {
        Self {
            status,
            code,
            reason: reason.into(),
        }
    }

    /// A body that could not be read: too large, or cut off.
    fn unread(e: BytesRejection) -> Self {
        let refused = body_rejection(e);
        let code = if refused.status == StatusCode::PAYLOAD_TOO_LARGE {
            "payload_too_large"
        } else {
            "malformed"
        };
        Self::new(refused.status, code, refused.body.error.message)
    }
}

/// The event in `body`, when it is signed with one of `secrets` within
/// `tolerance` of now and is a JSON object storage accepts.
fn admit(
    secrets: &[String],
    tolerance: std::time::Duration,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<Value, Refusal> {
    let signature = headers
        .get(webhook_signature::HEADER)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    let keys: Vec<&[u8]> = secrets.iter().map(String::as_bytes).collect();
    let unauthorized =
        |reason: String| Refusal::new(StatusCode::UNAUTHORIZED, "unauthorized", reason);
    let Some(signed_at) = webhook_signature::verify(&keys, signature, body) else {
        return Err(unauthorized("signature missing or invalid".into()));
    };
    // abs_diff: a timestamp at either end of the range cannot overflow it.
    let skew = chrono::Utc::now().timestamp().abs_diff(signed_at);
    if skew > tolerance.as_secs() {
        return Err(unauthorized(format!(
            "timestamp {skew} s away from now, beyond the tolerance"
        )));
    }
    // What storage would refuse, or could not read back, is refused here:
    // stored, it would be a row no one can process.
    let malformed = |reason: String| Refusal::new(StatusCode::BAD_REQUEST, "malformed", reason);
    let event = match serde_json::from_slice(body) {
        Ok(v @ Value::Object(_)) => v,
        _ => return Err(malformed("the body is not a JSON object".into())),
    };
    if let Err(e) = carepath_workflows::storable::check(&event) {
        return Err(malformed(format!("the body cannot be stored: {e}")));
    }
    Ok(event)
}

/// Records the refusal (reason, size and digest: never the body), logs and
/// counts it, and answers with it.
async fn reject(
    state: &AppState,
    vendor: &str,
    refusal: Refusal,
    body: RefusedBody<'_>,
) -> ApiError {
    let Refusal {
        status,
        code,
        reason,
    } = refusal;
    let recorded = inbox::reject(state.engine.pool(), vendor, status.as_u16(), &reason, body).await;
    if let Err(e) = recorded {
        return ApiError::internal(e);
    }
    tracing::warn!(%vendor, %reason, "webhook rejected");
    carepath_activities::metrics::WEBHOOKS
        .with_label_values(&[vendor, "rejected"])
        .inc();
    ApiError::new(status, code, reason)
}

/// The body's declared `Content-Length`, or 0.
fn declared_length(headers: &HeaderMap) -> i64 {
    headers
        .get(axum::http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<i64>().ok())
        .unwrap_or(0)
}

/// The [`KEPT_HEADERS`] the request has, as a JSON object.
fn kept_headers(headers: &HeaderMap) -> Value {
    let kept: serde_json::Map<String, Value> = KEPT_HEADERS
        .iter()
        .filter_map(|h| {
            headers
                .get(*h)
                .and_then(|v| v.to_str().ok())
                .map(|v| ((*h).to_owned(), json!(v)))
        })
        .collect();
    Value::Object(kept)
}
