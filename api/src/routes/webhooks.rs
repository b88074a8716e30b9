//! `POST /webhooks/{vendor}`: verify, store, acknowledge. Routing to journeys
//! happens afterwards, from the stored row (the workers' inbox router). How
//! a vendor signs, and what its events are keyed by, its webhook source
//! says (`carepath_workflows::webhooks`, configured per vendor).

use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::extract::rejection::BytesRejection;
use axum::http::{HeaderMap, StatusCode};
use serde::Serialize;
use serde_json::{Value, json};
use utoipa::ToSchema;

use carepath_workflows::EngineError;
use carepath_workflows::engine::vault::Place;
use carepath_workflows::engine::webhook_source::{Headers, WebhookSource, routable_references};
use carepath_workflows::store::arrivals::Arrival;
use carepath_workflows::store::inbox::{self, RefusedBody, Source};
use carepath_workflows::store::rejections;

use crate::AppState;
use crate::error::{ApiError, ErrorBody, ErrorCode};
use crate::extract::{VendorParam, body_rejection};

#[derive(Debug, Serialize, ToSchema)]
pub struct WebhookAck {
    /// `stored`, or `duplicate` when this event was already received.
    pub status: String,
    pub dedup_key: String,
}

/// A request's headers, as the vendor's webhook source reads them.
struct HttpHeaders<'a>(&'a HeaderMap);

impl Headers for HttpHeaders<'_> {
    fn get(&self, name: &str) -> Option<&str> {
        self.0.get(name).and_then(|v| v.to_str().ok())
    }
}

#[utoipa::path(post, path = "/webhooks/{vendor}", tag = "webhooks", operation_id = "receive_webhook", security(()),
    params(("vendor" = String, Path, description = "The sending vendor")),
    request_body(content = Value, description = "The vendor's event, signed by the vendor's configured scheme (X-Carepath-Signature by default)"),
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
    let Some(source) = state.engine.webhook_sources().get(&vendor).cloned() else {
        return Err(ApiError::not_found(format!("no vendor named {vendor:?}")));
    };
    // A body the API will not read (too large, cut off) is a rejection like
    // any other: recorded and counted, so a vendor stuck on it is seen.
    let body = match body {
        Ok(body) => body,
        Err(e) => {
            // Recorded by its declared size, without a digest.
            let declared = headers
                .get(axum::http::header::CONTENT_LENGTH)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.parse::<i64>().ok())
                .unwrap_or(0);
            let unread = RefusedBody::Unread { declared };
            return Err(reject(&state, &vendor, Refusal::unread(e), unread).await);
        }
    };
    let now = chrono::Utc::now().timestamp();
    match admit(source.as_ref(), &HttpHeaders(&headers), &body, now) {
        Ok(event) => {
            let ack = store(
                &state,
                &vendor,
                source.as_ref(),
                &HttpHeaders(&headers),
                &event,
                &body,
            )
            .await?;
            Ok(Json(ack))
        }
        Err(refusal) => {
            let kept = kept_headers(source.as_ref(), &HttpHeaders(&headers));
            let place = Place::rejected_body(&vendor, &rejections::digest(&body));
            let sealed = match state.engine.pool().acquire().await {
                Ok(mut conn) => state.engine.seal_body(&mut conn, &place, &body).await,
                Err(e) => Err(e.into()),
            };
            let sealed = match sealed {
                Ok(sealed) => sealed,
                Err(e) => return Err(ApiError::from(EngineError::from(e))),
            };
            let delivery = RefusedBody::Delivery {
                body: &body,
                kept: &sealed,
                headers: &kept,
            };
            Err(reject(&state, &vendor, refusal, delivery).await)
        }
    }
}

/// Stores an admitted `event` (its raw `body`, the headers its source keeps)
/// in the inbox, deduplicated by the source's key, and counts it.
///
/// # Errors
/// The database's.
pub(crate) async fn store(
    state: &AppState,
    vendor: &str,
    source: &dyn WebhookSource,
    headers: &(dyn Headers + Sync),
    event: &Value,
    body: &[u8],
) -> Result<WebhookAck, ApiError> {
    let dedup_key = source.dedup_key(headers, event, body);
    let headers = kept_headers(source, headers);
    let place = Place::inbox_body(vendor, &dedup_key);
    let body = state
        .engine
        .seal_body_pooled(&place, body)
        .await
        .map_err(EngineError::from)?;
    let event_type = source.event_type(event);
    let references = routable_references(source, event, event_type.as_deref());
    let stored = state
        .engine
        .store_arrival(Arrival {
            vendor: vendor.to_owned(),
            source: Source::Webhook,
            dedup_key: dedup_key.clone(),
            event_type,
            body,
            headers,
            references,
        })
        .await?;
    let status = if stored { "stored" } else { "duplicate" };
    carepath_activities::metrics::WEBHOOKS
        .with_label_values(&[vendor, status])
        .inc();
    Ok(WebhookAck {
        status: status.into(),
        dedup_key,
    })
}

/// The headers kept with a delivery, stored or refused (for its replay):
/// those its vendor's source reads (the signature's, content type, user
/// agent) and no other — no credential, no proxy's client address — of up
/// to 1 KiB each.
fn kept_headers(source: &dyn WebhookSource, headers: &dyn Headers) -> Value {
    let kept: serde_json::Map<String, Value> = source
        .kept_headers()
        .iter()
        .filter_map(|name| Some((name, headers.get(name.as_str())?)))
        .filter(|(_, value)| value.len() <= 1024)
        .map(|(name, value)| (name.clone(), json!(value)))
        .collect();
    Value::Object(kept)
}

/// Why the door refuses a delivery: the answer's status, code and reason.
pub(crate) struct Refusal {
    pub(crate) status: StatusCode,
    pub(crate) code: ErrorCode,
    pub(crate) reason: String,
}

impl Refusal {
    fn new(status: StatusCode, code: ErrorCode, reason: impl Into<String>) -> Self {
        Self {
            status,
            code,
            reason: reason.into(),
        }
    }

    /// A body the API would not read.
    fn unread(e: BytesRejection) -> Self {
        let refused = body_rejection(e);
        let code = if refused.status == StatusCode::PAYLOAD_TOO_LARGE {
            ErrorCode::PayloadTooLarge
        } else {
            ErrorCode::Malformed
        };
        Self::new(refused.status, code, refused.body.error.message)
    }
}

/// The event in `body`, if the door takes it: signed by the vendor, as its
/// source checks (a signed timestamp against `now`, Unix seconds), and a JSON
/// object that storage can keep and read back (stored, anything else would
/// be a row no one can process).
pub(crate) fn admit(
    source: &dyn WebhookSource,
    headers: &dyn Headers,
    body: &[u8],
    now: i64,
) -> Result<Value, Refusal> {
    source.verify(headers, body, now).map_err(|e| {
        Refusal::new(
            StatusCode::UNAUTHORIZED,
            ErrorCode::Unauthorized,
            e.to_string(),
        )
    })?;
    let malformed =
        |reason: String| Refusal::new(StatusCode::BAD_REQUEST, ErrorCode::Malformed, reason);
    let event = match serde_json::from_slice(body) {
        Ok(v @ Value::Object(_)) => v,
        _ => return Err(malformed("the body is not a JSON object".into())),
    };
    carepath_workflows::storable::check(&event)
        .map_err(|e| malformed(format!("the body cannot be stored: {e}")))?;
    Ok(event)
}

/// Records `refusal` of `vendor`'s delivery in the rejections, counts it, and
/// makes it the answer.
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
