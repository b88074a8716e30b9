//! `/v1/inbox`: stored webhooks by status, the webhooks refused at the door,
//! and the operator's repairs — replay or skip one or many, audited with a reason.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;

use carepath_workflows::store::inbox;

use crate::AppState;
use crate::auth::{AsOperator, Caller};
use crate::error::{ApiError, ErrorBody, ErrorCode};
use crate::extract::{Body, QueryParams, numeric_id};
use crate::routes::journeys::bounded;
use crate::routes::vendors::audit;
use crate::views::{ActionRequest, INBOX_STATUSES, MAX_REASON};
pub use crate::views::{
    InboxBulkRequest, InboxBulkResult, InboxItem, InboxPage, InboxQuery, InboxStatus, Rejection,
    RejectionPage, RejectionQuery,
};

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
    let status = match q.status.as_deref() {
        None => inbox::InboxStatus::Unmatched,
        Some(s) => s.parse().map_err(|_| {
            ApiError::field(
                "status",
                format!("must be one of {}", INBOX_STATUSES.join(", ")),
            )
        })?,
    };
    let (limit, cursor) = page_of(q.limit, q.cursor.as_deref())?;
    let mut items: Vec<InboxItem> = inbox::list(
        state.engine.pool(),
        status,
        q.vendor.as_deref(),
        cursor,
        limit + 1,
    )
    .await?
    .into_iter()
    .map(InboxItem::from)
    .collect();
    let next_cursor = next_page(&mut items, limit, |i| i.id);
    Ok(Json(InboxPage { items, next_cursor }))
}

#[utoipa::path(get, path = "/v1/inbox/rejections", tag = "webhooks", operation_id = "list_rejections", params(RejectionQuery),
    responses((status = 200, description = "Webhooks refused at the door, newest first", body = RejectionPage),
              (status = 401, description = "Missing or unknown bearer token", body = ErrorBody),
              (status = 403, description = "The token's role does not allow this", body = ErrorBody),
              (status = 422, description = "Invalid request; the failing fields are named", body = ErrorBody)))]
pub async fn rejections(
    State(state): State<AppState>,
    _caller: AsOperator,
    QueryParams(q): QueryParams<RejectionQuery>,
) -> Result<Json<RejectionPage>, ApiError> {
    let (limit, cursor) = page_of(q.limit, q.cursor.as_deref())?;
    let mut items: Vec<Rejection> =
        inbox::rejections(state.engine.pool(), q.vendor.as_deref(), cursor, limit + 1)
            .await?
            .into_iter()
            .map(Rejection::from)
            .collect();
    let next_cursor = next_page(&mut items, limit, |i| i.id);
    Ok(Json(RejectionPage { items, next_cursor }))
}

/// A listing's `limit` (1 to 500, default 50) and `cursor` (the last id of
/// the previous page), checked.
fn page_of(limit: Option<i64>, cursor: Option<&str>) -> Result<(i64, Option<i64>), ApiError> {
    let limit = limit.unwrap_or(50);
    if !(1..=500).contains(&limit) {
        return Err(ApiError::field("limit", "must be between 1 and 500"));
    }
    let cursor = cursor
        .map(|c| {
            c.parse::<i64>()
                .map_err(|_| ApiError::field("cursor", "is not a cursor"))
        })
        .transpose()?;
    Ok((limit, cursor))
}

/// Newest first, `limit + 1` rows fetched: the page, and the cursor of the
/// next one when there is one.
fn next_page<T>(items: &mut Vec<T>, limit: i64, id: impl Fn(&T) -> i64) -> Option<String> {
    if items.len() as i64 <= limit {
        return None;
    }
    items.truncate(limit as usize);
    items.last().map(|i| id(i).to_string())
}

/// What an operator can do to stored events.
#[derive(Debug, Clone, Copy)]
enum InboxAction {
    /// Route again: the same event id becomes the same signal, so a journey
    /// that already has it does not get it twice.
    Replay,
    /// Set aside for good, with the operator's reason: it is not routed
    /// (until replayed), and no longer counts as needing attention.
    Skip,
}

impl InboxAction {
    fn audit_name(self) -> &'static str {
        match self {
            InboxAction::Replay => "inbox_replay",
            InboxAction::Skip => "inbox_skip",
        }
    }
}

/// Applies `action` to the entries `ids` in one statement; the ids it
/// applied to, in order. An applied event is not skipped (it was delivered);
/// an event waiting to be routed is not replayed (it is about to be).
async fn act(
    state: &AppState,
    caller: &Caller,
    action: InboxAction,
    ids: &[i64],
    reason: &str,
) -> Result<Vec<i64>, ApiError> {
    let pool = state.engine.pool();
    let mut done = match action {
        InboxAction::Replay => inbox::replay(pool, ids).await?,
        InboxAction::Skip => {
            let note = format!("skipped by {}: {reason}", caller.actor().0);
            inbox::skip(pool, ids, &note).await?
        }
    };
    done.sort_unstable();
    if !done.is_empty() {
        let target = done
            .iter()
            .map(i64::to_string)
            .collect::<Vec<_>>()
            .join(",");
        audit(state, caller, action.audit_name(), &target, reason).await?;
    }
    Ok(done)
}

#[utoipa::path(post, path = "/v1/inbox/{id}/replay", tag = "webhooks", operation_id = "replay_inbox", request_body = ActionRequest,
    params(("id" = i64, Path, description = "Inbox entry")),
    responses((status = 200, description = "Queued for routing again", body = InboxItem),
              (status = 401, description = "Missing or unknown bearer token", body = ErrorBody),
              (status = 403, description = "The token's role does not allow this", body = ErrorBody),
              (status = 404, description = "Not found", body = ErrorBody),
              (status = 409, description = "Already waiting to be routed", body = ErrorBody),
              (status = 422, description = "Invalid request; the failing fields are named", body = ErrorBody)))]
pub async fn replay(
    State(state): State<AppState>,
    caller: AsOperator,
    InboxId(id): InboxId,
    Body(req): Body<ActionRequest>,
) -> Result<Json<InboxItem>, ApiError> {
    one(&state, &caller, InboxAction::Replay, id, &req.reason).await
}

#[utoipa::path(post, path = "/v1/inbox/{id}/skip", tag = "webhooks", operation_id = "skip_inbox", request_body = ActionRequest,
    params(("id" = i64, Path, description = "Inbox entry")),
    responses((status = 200, description = "Set aside; it is not routed until replayed", body = InboxItem),
              (status = 401, description = "Missing or unknown bearer token", body = ErrorBody),
              (status = 403, description = "The token's role does not allow this", body = ErrorBody),
              (status = 404, description = "Not found", body = ErrorBody),
              (status = 409, description = "Already applied to its journey, or already skipped", body = ErrorBody),
              (status = 422, description = "Invalid request; the failing fields are named", body = ErrorBody)))]
pub async fn skip(
    State(state): State<AppState>,
    caller: AsOperator,
    InboxId(id): InboxId,
    Body(req): Body<ActionRequest>,
) -> Result<Json<InboxItem>, ApiError> {
    one(&state, &caller, InboxAction::Skip, id, &req.reason).await
}

async fn one(
    state: &AppState,
    caller: &Caller,
    action: InboxAction,
    id: i64,
    reason: &str,
) -> Result<Json<InboxItem>, ApiError> {
    bounded("reason", reason, MAX_REASON)?;
    let done = act(state, caller, action, &[id], reason).await?;
    let item = inbox::get(state.engine.pool(), id)
        .await?
        .map(InboxItem::from)
        .ok_or_else(|| ApiError::not_found(format!("no inbox entry {id}")))?;
    if done.is_empty() {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            ErrorCode::Conflict,
            format!("inbox entry {id} is {}", item.status),
        ));
    }
    Ok(Json(item))
}

async fn bulk(
    state: &AppState,
    caller: &Caller,
    action: InboxAction,
    req: InboxBulkRequest,
) -> Result<Json<InboxBulkResult>, ApiError> {
    bounded("reason", &req.reason, MAX_REASON)?;
    if req.ids.is_empty() || req.ids.len() > 500 {
        return Err(ApiError::field("ids", "must list 1 to 500 inbox entries"));
    }
    let done = act(state, caller, action, &req.ids, &req.reason).await?;
    let mut not_done: Vec<i64> = req
        .ids
        .iter()
        .copied()
        .filter(|id| done.binary_search(id).is_err())
        .collect();
    not_done.sort_unstable();
    not_done.dedup();
    Ok(Json(InboxBulkResult { done, not_done }))
}

#[utoipa::path(post, path = "/v1/inbox/replay", tag = "webhooks", operation_id = "replay_inbox_many", request_body = InboxBulkRequest,
    responses((status = 200, description = "The entries queued for routing again, and those skipped", body = InboxBulkResult),
              (status = 401, description = "Missing or unknown bearer token", body = ErrorBody),
              (status = 403, description = "The token's role does not allow this", body = ErrorBody),
              (status = 422, description = "Invalid request; the failing fields are named", body = ErrorBody)))]
pub async fn replay_many(
    State(state): State<AppState>,
    caller: AsOperator,
    Body(req): Body<InboxBulkRequest>,
) -> Result<Json<InboxBulkResult>, ApiError> {
    bulk(&state, &caller, InboxAction::Replay, req).await
}

#[utoipa::path(post, path = "/v1/inbox/skip", tag = "webhooks", operation_id = "skip_inbox_many", request_body = InboxBulkRequest,
    responses((status = 200, description = "The entries set aside, and those left as they were", body = InboxBulkResult),
              (status = 401, description = "Missing or unknown bearer token", body = ErrorBody),
              (status = 403, description = "The token's role does not allow this", body = ErrorBody),
              (status = 422, description = "Invalid request; the failing fields are named", body = ErrorBody)))]
pub async fn skip_many(
    State(state): State<AppState>,
    caller: AsOperator,
    Body(req): Body<InboxBulkRequest>,
) -> Result<Json<InboxBulkResult>, ApiError> {
    bulk(&state, &caller, InboxAction::Skip, req).await
}

/// An inbox entry id in the path.
pub struct InboxId(pub i64);

impl<S: Send + Sync> axum::extract::FromRequestParts<S> for InboxId {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        state: &S,
    ) -> Result<Self, Self::Rejection> {
        numeric_id(parts, state, "no such inbox entry")
            .await
            .map(InboxId)
    }
}
