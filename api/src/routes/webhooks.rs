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
    let body = body.map_err(body_rejection)?;
    let reject = |status: StatusCode, code: &'static str, reason: String| {
        let (state, vendor, body) = (state.clone(), vendor.clone(), body.clone());
        async move {
            let recorded = sqlx::query(
                "INSERT INTO carepath.webhook_rejections (vendor, status_code, reason, body_sha256, body_bytes)
                 VALUES ($1, $2, $3, $4, $5)",
            )
            .bind(&vendor)
            .bind(i32::from(status.as_u16()))
            .bind(&reason)
            .bind(hex::encode(Sha256::digest(&body)))
            .bind(body.len() as i32)
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
        )
        .await);
    };
    let skew = (chrono::Utc::now().timestamp() - signed_at).unsigned_abs();
    if skew > state.webhooks.tolerance.as_secs() {
        return Err(reject(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            format!("timestamp {skew} s away from now, beyond the tolerance"),
        )
        .await);
    }
    let event: Value = match serde_json::from_slice(&body) {
        Ok(v @ Value::Object(_)) => v,
        _ => {
            return Err(reject(
                StatusCode::BAD_REQUEST,
                "malformed",
                "the body is not a JSON object".into(),
            )
            .await);
        }
    };
    let dedup_key = event["event_id"]
        .as_str()
        .filter(|id| !id.is_empty() && !id.contains('\0'))
        .map_or_else(
            || format!("sha256:{}", hex::encode(Sha256::digest(&body))),
            str::to_owned,
        );
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
    .bind(event["type"].as_str().filter(|t| !t.contains('\0')))
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
