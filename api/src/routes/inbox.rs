//! `/v1/inbox`: stored webhooks, the unmatched ones parked for operators, and replay.

use axum::Json;
use axum::extract::State;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use crate::AppState;
use crate::auth::AsOperator;
use crate::error::{ApiError, ErrorBody};
use crate::extract::{Body, QueryParams, path_param};
use crate::routes::vendors::audit;
use crate::views::ActionRequest;

#[derive(Debug, Serialize, ToSchema, sqlx::FromRow)]
pub struct InboxItem {
    pub id: i64,
    pub vendor: String,
    pub dedup_key: String,
    pub event_type: Option<String>,
    /// received (waiting to be routed), applied, or unmatched (parked).
    pub status: String,
    pub journey_id: Option<Uuid>,
    pub note: Option<String>,
    pub deliveries: i32,
    pub received_at: DateTime<Utc>,
    pub processed_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct InboxPage {
    pub items: Vec<InboxItem>,
    pub next_cursor: Option<String>,
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct InboxQuery {
    /// Default `unmatched`.
    pub status: Option<String>,
    pub vendor: Option<String>,
    pub limit: Option<i64>,
    pub cursor: Option<String>,
}

#[utoipa::path(get, path = "/v1/inbox", tag = "webhooks", operation_id = "list_inbox", params(InboxQuery),
    responses((status = 200, description = "OK", body = InboxPage),
              (status = 401, description = "Missing or unknown bearer token", body = ErrorBody),
              (status = 403, description = "The token's role does not allow this", body = ErrorBody),
              (status = 422, description = "Invalid request; the failing fields are named", body = ErrorBody)))]
pub async fn list(
    State(state): State<AppState>,
    _caller: AsOperator,
    QueryParams(q): QueryParams<InboxQuery>,
) -> Result<Json<InboxPage>, ApiError> {
    let status = q.status.unwrap_or_else(|| "unmatched".into());
    if !matches!(status.as_str(), "received" | "applied" | "unmatched") {
        return Err(ApiError::field(
            "status",
            "must be received, applied or unmatched",
        ));
    }
    let limit = q.limit.unwrap_or(50);
    if !(1..=500).contains(&limit) {
        return Err(ApiError::field("limit", "must be between 1 and 500"));
    }
    let cursor = match q.cursor {
        Some(c) => Some(
            c.parse::<i64>()
                .map_err(|_| ApiError::field("cursor", "is not a cursor"))?,
        ),
        None => None,
    };
    let mut items: Vec<InboxItem> = sqlx::query_as(
        "SELECT id, vendor, dedup_key, event_type, status, journey_id, note, deliveries, received_at, processed_at
           FROM carepath.webhook_inbox
          WHERE status = $1 AND ($2::text IS NULL OR vendor = $2) AND ($3::bigint IS NULL OR id < $3)
          ORDER BY id DESC LIMIT $4",
    )
    .bind(&status)
    .bind(&q.vendor)
    .bind(cursor)
    .bind(limit + 1)
    .fetch_all(state.engine.pool())
    .await?;
    let next_cursor = if items.len() as i64 > limit {
        items.truncate(limit as usize);
        items.last().map(|i| i.id.to_string())
    } else {
        None
    };
    Ok(Json(InboxPage { items, next_cursor }))
}

#[utoipa::path(post, path = "/v1/inbox/{id}/replay", tag = "webhooks", operation_id = "replay_inbox", request_body = ActionRequest,
    params(("id" = i64, Path, description = "Inbox entry")),
    responses((status = 200, description = "Queued for routing again", body = InboxItem),
              (status = 401, description = "Missing or unknown bearer token", body = ErrorBody),
              (status = 403, description = "The token's role does not allow this", body = ErrorBody),
              (status = 404, description = "Not found", body = ErrorBody),
              (status = 422, description = "Invalid request; the failing fields are named", body = ErrorBody)))]
pub async fn replay(
    State(state): State<AppState>,
    caller: AsOperator,
    InboxId(id): InboxId,
    Body(req): Body<ActionRequest>,
) -> Result<Json<InboxItem>, ApiError> {
    if req.reason.trim().is_empty() {
        return Err(ApiError::field("reason", "must not be empty"));
    }
    // A replayed event becomes the same signal (same event id): a journey
    // that already has it does not get it twice.
    let item: Option<InboxItem> = sqlx::query_as(
        "UPDATE carepath.webhook_inbox SET status = 'received', note = NULL, processed_at = NULL,
                route_after = now()
          WHERE id = $1
          RETURNING id, vendor, dedup_key, event_type, status, journey_id, note, deliveries, received_at, processed_at",
    )
    .bind(id)
    .fetch_optional(state.engine.pool())
    .await?;
    let item = item.ok_or_else(|| ApiError::not_found(format!("no inbox entry {id}")))?;
    audit(
        &state,
        &caller,
        "inbox_replay",
        &id.to_string(),
        &req.reason,
    )
    .await?;
    Ok(Json(item))
}

/// An inbox entry id in the path.
pub struct InboxId(pub i64);

impl<S: Send + Sync> axum::extract::FromRequestParts<S> for InboxId {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        state: &S,
    ) -> Result<Self, Self::Rejection> {
        let id = path_param(parts, state, "id", "no such inbox entry").await?;
        id.parse()
            .map(InboxId)
            .map_err(|_| ApiError::not_found("no such inbox entry"))
    }
}
