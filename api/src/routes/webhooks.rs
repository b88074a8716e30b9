//! `POST /webhooks/{vendor}`: verify, store, acknowledge. Routing to journeys
//! happens afterwards, from the stored row (the workers' inbox router).

use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::extract::rejection::BytesRejection;
use axum::http::{HeaderMap, StatusCode};
use serde::Serialize;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use utoipa::ToSchema;

use carepath_activities::webhook_signature;

use crate::AppState;
use crate::error::{ApiError, ErrorBody};
use crate::extract::{VendorParam, body_rejection};

#[derive(Debug, Serialize, ToSchema)]
pub struct WebhookAck {
    /// `stored`, or `duplicate` when this event was already received.
    pub status: String,
    pub dedup_key: String,
}

/// Event ids up to this many characters are kept as the vendor sent them;
/// longer ones are kept as their SHA-256.
const MAX_EVENT_ID: usize = 200;

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
        let (digest, size) = match &body {
            Some(b) => (hex::encode(Sha256::digest(b)), b.len() as i64),
            None => (String::new(), declared),
        };
        async move {
            let recorded = sqlx::query(
                "INSERT INTO carepath.webhook_rejections (vendor, status_code, reason, body_sha256, body_bytes)
                 VALUES ($1, $2, $3, $4, $5)",
            )
            .bind(&vendor)
            .bind(i32::from(status.as_u16()))
            .bind(&reason)
            .bind(digest)
            .bind(i32::try_from(size).unwrap_or(i32::MAX))
            .execute(state.engine.pool())
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
    let skew = (chrono::Utc::now().timestamp() - signed_at).unsigned_abs();
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
    // Vendors that number their events are deduplicated by the number.
    let numbered = event["event_id"]
        .as_number()
        .map(serde_json::Number::to_string);
    let dedup_key = match event["event_id"].as_str().or(numbered.as_deref()) {
        Some(id) if !id.is_empty() && id.chars().count() <= MAX_EVENT_ID => id.to_owned(),
        // An over-long id still deduplicates, by its digest: it reaches a
        // unique index, whose entries are bounded.
        Some(id) if !id.is_empty() => format!("sha256:{}", hex::encode(Sha256::digest(id))),
        _ => format!("sha256:{}", hex::encode(Sha256::digest(&body))),
    };
    let kept: serde_json::Map<String, Value> = KEPT_HEADERS
        .iter()
        .filter_map(|h| {
            headers
                .get(*h)
                .and_then(|v| v.to_str().ok())
                .map(|v| ((*h).to_owned(), json!(v)))
        })
        .collect();
    let stored: Option<i64> = sqlx::query_scalar(
        "INSERT INTO carepath.webhook_inbox (vendor, dedup_key, event_type, body, headers)
         VALUES ($1, $2, $3, $4, $5)
         ON CONFLICT ON CONSTRAINT webhook_inbox_dedup
         DO UPDATE SET deliveries = carepath.webhook_inbox.deliveries + 1
         RETURNING (xmax = 0)::int::bigint",
    )
    .bind(&vendor)
    .bind(&dedup_key)
    .bind(event["type"].as_str())
    .bind(body.as_ref())
    .bind(Value::Object(kept))
    .fetch_optional(state.engine.pool())
    .await?;
    let status = if stored == Some(1) {
        "stored"
    } else {
        "duplicate"
    };
    carepath_activities::metrics::WEBHOOKS
        .with_label_values(&[vendor.as_str(), status])
        .inc();
    Ok(Json(WebhookAck {
        status: status.into(),
        dedup_key,
    }))
}
