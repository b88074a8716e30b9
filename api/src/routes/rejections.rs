//! `POST /v1/inbox/rejections/{id}/replay`: a webhook refused at the door —
//! say, before its vendor's secret was set — sent through the door's checks
//! again, as kept (its body and headers, for a while: see
//! `store::rejections`). Its signed timestamp is judged against the time it
//! arrived, not now: the tolerance guards against a delivery captured and
//! sent later by someone else, and this one arrived when it said.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde_json::Value;

use carepath_workflows::EngineError;
use carepath_workflows::engine::vault::{Place, VaultError};
use carepath_workflows::engine::webhook_source::Headers;
use carepath_workflows::store::rejections;

use crate::AppState;
use crate::auth::AsOperator;
use crate::error::{ApiError, ErrorBody, ErrorCode};
use crate::extract::{Body, numeric_id};
use crate::routes::journeys::bounded;
use crate::routes::vendors::audit;
use crate::routes::webhooks::{WebhookAck, admit, store};
use crate::views::{ActionRequest, MAX_REASON};

#[utoipa::path(post, path = "/v1/inbox/rejections/{id}/replay", tag = "webhooks", operation_id = "replay_rejection",
    request_body = ActionRequest,
    params(("id" = i64, Path, description = "Rejection (from GET /v1/inbox/rejections)")),
    responses((status = 200, description = "Admitted this time: stored in the inbox (or already there) and routed from it", body = WebhookAck),
              (status = 401, description = "Missing or unknown bearer token", body = ErrorBody),
              (status = 403, description = "The token's role does not allow this", body = ErrorBody),
              (status = 404, description = "No such rejection", body = ErrorBody),
              (status = 409, description = "Refused again (the message says why), already admitted by an earlier replay, or its body no longer kept", body = ErrorBody),
              (status = 422, description = "Invalid request; the failing fields are named", body = ErrorBody)))]
pub async fn replay(
    State(state): State<AppState>,
    caller: AsOperator,
    RejectionId(id): RejectionId,
    Body(req): Body<ActionRequest>,
) -> Result<Json<WebhookAck>, ApiError> {
    bounded("reason", &req.reason, MAX_REASON)?;
    let pool = state.engine.pool();
    let kept = rejections::kept(pool, id)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("no rejection {id}")))?;
    let conflict =
        |message: String| ApiError::new(StatusCode::CONFLICT, ErrorCode::Conflict, message);
    if let Some(done @ ("stored" | "duplicate")) = kept.replay_outcome.as_deref() {
        return Err(conflict(format!(
            "rejection {id} was already replayed ({done})"
        )));
    }
    let (Some(body), Some(Value::Object(headers))) = (kept.body, kept.headers) else {
        return Err(conflict(format!(
            "rejection {id} no longer keeps its body (too large, or older than {} hours)",
            rejections::KEEP_HOURS
        )));
    };
    let place = Place::rejected_body(&kept.vendor, &kept.body_sha256);
    let body = match state.engine.open_body(pool, &place, body).await {
        Ok(body) => body,
        Err(VaultError::Erased) => {
            return Err(conflict(format!(
                "rejection {id} no longer keeps its body (erased: its retention passed)"
            )));
        }
        Err(e) => return Err(EngineError::from(e).into()),
    };
    let Some(source) = state.engine.webhook_sources().get(&kept.vendor).cloned() else {
        return Err(conflict(format!(
            "no vendor named {:?} any more",
            kept.vendor
        )));
    };
    audit(
        &state,
        &caller,
        "rejection_replay",
        &id.to_string(),
        &req.reason,
    )
    .await?;
    let headers = KeptHeaders(&headers);
    match admit(
        source.as_ref(),
        &headers,
        &body,
        kept.received_at.timestamp(),
    ) {
        Ok(event) => {
            let ack = store(
                &state,
                &kept.vendor,
                source.as_ref(),
                &headers,
                &event,
                &body,
            )
            .await?;
            rejections::replayed(pool, id, &ack.status).await?;
            Ok(Json(ack))
        }
        Err(refusal) => {
            rejections::replayed(pool, id, &format!("refused: {}", refusal.reason)).await?;
            Err(conflict(format!("refused again: {}", refusal.reason)))
        }
    }
}

/// Headers as kept with a rejection: a JSON object, name to value.
struct KeptHeaders<'a>(&'a serde_json::Map<String, Value>);

impl Headers for KeptHeaders<'_> {
    fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .and_then(|(_, v)| v.as_str())
    }
}

/// A rejection id in the path.
pub struct RejectionId(pub i64);

impl<S: Send + Sync> axum::extract::FromRequestParts<S> for RejectionId {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        state: &S,
    ) -> Result<Self, Self::Rejection> {
        numeric_id(parts, state, "no such rejection")
            .await
            .map(RejectionId)
    }
}
