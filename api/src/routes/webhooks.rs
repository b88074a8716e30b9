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
    // A body too large to read is recorded by its declared size, without a digest.
    let declared = headers
        .get(axum::http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<i64>().ok())
        .unwrap_or(0);
    let reject = |status: StatusCode, code: &'static str, reason: String, body: Option<Bytes>| {
        let (state, vendor) = (state.clone(), vendor.clone());
        async move {
            let refused = match &body {
                Some(b) => RefusedBody::Read(b),
                None => RefusedBody::Unread { declared },
            };
            let recorded = inbox::reject(
                state.engine.pool(),
                &vendor,
                status.as_u16(),
                &reason,
                refused,
            )
            .await;
            if let Err(e) = recorded {
                return ApiError::internal(e);
            }
            tracing::warn!(%vendor, %reason, "webhook rejected");
            carepath_activities::metrics::WEBHOOKS
                .with_label_values(&[vendor.as_str(), "rejected"])
                .inc();
            ApiError::new(status, code, reason)
        }
    };
    // A body the API will not read (too large, cut off) is a rejection like
    // any other: recorded and counted, so a vendor stuck on it is seen.
    let body = match body {
        Ok(body) => body,
        Err(e) => {
            let refused = body_rejection(e);
            let code = if refused.status == StatusCode::PAYLOAD_TOO_LARGE {
                "payload_too_large"
            } else {
                "malformed"
            };
            let reason = refused.body.error.message;
            return Err(reject(refused.status, code, reason, None).await);
        }
    };
    let signature = headers
        .get(webhook_signature::HEADER)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    let keys: Vec<&[u8]> = secrets.iter().map(String::as_bytes).collect();
    let Some(signed_at) = webhook_signature::verify(&keys, signature, &body) else {
        return Err(reject(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "signature missing or invalid".into(),
            Some(body.clone()),
        )
        .await);
    };
    // abs_diff: a timestamp at either end of the range cannot overflow it.
    let skew = chrono::Utc::now().timestamp().abs_diff(signed_at);
    if skew > state.webhooks.tolerance.as_secs() {
        return Err(reject(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            format!("timestamp {skew} s away from now, beyond the tolerance"),
            Some(body.clone()),
        )
        .await);
    }
    // What storage would refuse, or could not read back, is refused here:
    // stored, it would be a row no one can process.
    let event: Value = match serde_json::from_slice(&body) {
        Ok(v @ Value::Object(_)) => v,
        _ => {
            return Err(reject(
                StatusCode::BAD_REQUEST,
                "malformed",
                "the body is not a JSON object".into(),
                Some(body.clone()),
            )
            .await);
        }
    };
    if let Err(e) = carepath_workflows::storable::check(&event) {
        return Err(reject(
            StatusCode::BAD_REQUEST,
            "malformed",
            format!("the body cannot be stored: {e}"),
            Some(body.clone()),
        )
        .await);
    }
    let dedup_key = inbox::dedup_key(&event, &body);
    let kept: serde_json::Map<String, Value> = KEPT_HEADERS
        .iter()
        .filter_map(|h| {
            headers
                .get(*h)
                .and_then(|v| v.to_str().ok())
                .map(|v| ((*h).to_owned(), json!(v)))
        })
        .collect();
    let stored = inbox::store(
        state.engine.pool(),
        &vendor,
        Source::Webhook,
        &dedup_key,
        event["type"].as_str(),
        &body,
        &Value::Object(kept),
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
