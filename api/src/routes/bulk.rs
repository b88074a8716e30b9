//! Bulk actions by filter: `POST /v1/ops/bulk` is a dry run — it counts and
//! samples the journeys the filter selects and hands back a confirmation
//! token — and `POST /v1/ops/bulk/confirm` runs that plan once, in batches,
//! each journey's action audited in its history (the reason naming the
//! operation) and the whole operation once in the operator audit.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use rand::RngCore;
use serde_json::json;
use sha2::{Digest, Sha256};
use uuid::Uuid;

use carepath_workflows::store::{audit, bulk, journeys};
use carepath_workflows::{Actor, Engine, EngineError, JourneyStatus, RewindTo};

use crate::AppState;
use crate::auth::AsOperator;
use crate::error::{ApiError, ErrorBody, ErrorCode};
use crate::extract::Body;
use crate::routes::journeys::bounded;
use crate::views::{
    BulkAction, BulkConfirm, BulkFilter, BulkOutcome, BulkPlan, BulkRequest, JourneyView, MAX_KEY,
    MAX_REASON, SkippedJourney,
};

/// Journeys acted on per batch: each is its own transaction, and a batch is
/// read afresh, so a long operation never holds a long transaction.
const BATCH: i64 = 100;
/// How long a dry run's token may be confirmed.
const TOKEN_TTL_SECS: i64 = 600;
const SAMPLE: i64 = 20;
const SKIPPED_SAMPLE: usize = 50;

#[utoipa::path(post, path = "/v1/ops/bulk", tag = "operations", request_body = BulkRequest,
    responses((status = 200, description = "Dry run: the count, a sample and the token that runs it", body = BulkPlan),
              (status = 401, description = "Missing or unknown bearer token", body = ErrorBody),
              (status = 403, description = "The token's role does not allow this", body = ErrorBody),
              (status = 422, description = "Invalid request; the failing fields are named", body = ErrorBody)))]
pub async fn plan(
    State(state): State<AppState>,
    caller: AsOperator,
    Body(req): Body<BulkRequest>,
) -> Result<Json<BulkPlan>, ApiError> {
    bounded("reason", &req.reason, MAX_REASON)?;
    match (req.action, &req.to_step) {
        (BulkAction::Rewind, None) => {
            return Err(ApiError::field("to_step", "is required to rewind"));
        }
        (BulkAction::Rewind, Some(step)) => bounded("to_step", step, MAX_KEY)?,
        (_, Some(_)) => return Err(ApiError::field("to_step", "is only for rewind")),
        (_, None) => {}
    }
    let status = parse_status(&req.filter)?;
    let filter = list_filter(&req.filter, status);
    let pool = state.engine.pool();
    if filter.overdue {
        carepath_workflows::gauge_snapshot::refresh_if_stale(
            pool,
            state.engine.config().gauges_every,
        )
        .await;
    }
    let (matched, newest) = journeys::count(pool, &filter).await?;
    let sample = journeys::list(pool, &filter, None, SAMPLE).await?;
    let mut plan = BulkPlan {
        action: req.action,
        matched,
        sample: sample.into_iter().map(JourneyView::from).collect(),
        confirm_token: None,
        expires_at: None,
    };
    let Some(upto_id) = newest else {
        return Ok(Json(plan));
    };
    let mut bytes = [0u8; 24];
    rand::rng().fill_bytes(&mut bytes);
    let token = format!("bulk_{}", hex::encode(bytes));
    let stored = json!({ "filter": req.filter, "to_step": req.to_step, "force": req.force,
                         "reason": req.reason });
    let new = bulk::NewPlan {
        token_sha256: &digest(&token),
        actor: &caller.actor().0,
        action: req.action.as_str(),
        plan: &stored,
        upto_id,
        matched,
        ttl_secs: TOKEN_TTL_SECS,
    };
    let (_, expires_at) = bulk::plan(pool, &new).await?;
    plan.confirm_token = Some(token);
    plan.expires_at = Some(expires_at);
    Ok(Json(plan))
}

#[utoipa::path(post, path = "/v1/ops/bulk/confirm", tag = "operations", request_body = BulkConfirm,
    responses((status = 200, description = "Run: how many journeys it applied to and which it skipped", body = BulkOutcome),
              (status = 401, description = "Missing or unknown bearer token", body = ErrorBody),
              (status = 403, description = "The token's role does not allow this", body = ErrorBody),
              (status = 409, description = "The token is unknown, expired, already used, another caller's or for another `action`", body = ErrorBody),
              (status = 422, description = "Invalid request; the failing fields are named", body = ErrorBody)))]
pub async fn confirm(
    State(state): State<AppState>,
    caller: AsOperator,
    Body(req): Body<BulkConfirm>,
) -> Result<Json<BulkOutcome>, ApiError> {
    bounded("confirm_token", &req.confirm_token, MAX_KEY)?;
    let actor = caller.actor();
    let pool = state.engine.pool();
    let meant = req.action.map(BulkAction::as_str);
    let claimed = bulk::claim(pool, &digest(&req.confirm_token), &actor.0, meant)
        .await?
        .ok_or_else(|| {
            ApiError::new(
                StatusCode::CONFLICT,
                ErrorCode::Conflict,
                "this confirmation token is unknown, expired, already used, another caller's or \
                 for another action: run the dry run again",
            )
        })?;
    let planned: Planned = serde_json::from_value(claimed.plan.clone())
        .map_err(|e| ApiError::internal(format!("a stored plan cannot be read: {e}")))?;
    let action: BulkAction = serde_json::from_value(json!(claimed.action))
        .map_err(|e| ApiError::internal(format!("a stored action cannot be read: {e}")))?;
    let reason = format!("{} [bulk operation {}]", planned.reason, claimed.id);
    let status = parse_status(&planned.filter)?;
    let filter = list_filter(&planned.filter, status);
    let run = Run {
        engine: &state.engine,
        actor: &actor,
        action,
        planned: &planned,
        reason: &reason,
    };
    let mut tally = Tally::default();
    let mut after = None;
    loop {
        let ids = journeys::select_ids(pool, &filter, after, claimed.upto_id, BATCH).await?;
        let Some(last) = ids.last().copied() else {
            break;
        };
        for id in ids {
            match run.one(id).await {
                Ok(()) => tally.done += 1,
                Err(e) if skippable(&e) => tally.skip(id, e.to_string()),
                Err(e) => {
                    // What was done stays audited, with why it stopped.
                    bulk::finish(pool, claimed.id, tally.done, tally.skipped).await?;
                    let detail = json!({ "operation": claimed.id, "reason": planned.reason,
                                         "done": tally.done, "skipped": tally.skipped,
                                         "stopped": "a database error; the rest was not done" });
                    let action = format!("bulk_{}", action.as_str());
                    audit::record(pool, &actor.0, &action, "journeys", &detail).await?;
                    return Err(e.into());
                }
            }
        }
        after = Some(last);
    }
    bulk::finish(pool, claimed.id, tally.done, tally.skipped).await?;
    let detail = json!({ "operation": claimed.id, "reason": planned.reason,
                         "filter": planned.filter, "to_step": planned.to_step,
                         "force": planned.force, "matched": claimed.matched,
                         "done": tally.done, "skipped": tally.skipped });
    audit::record(
        pool,
        &actor.0,
        &format!("bulk_{}", action.as_str()),
        "journeys",
        &detail,
    )
    .await?;
    Ok(Json(BulkOutcome {
        operation_id: claimed.id,
        action,
        matched: claimed.matched,
        done: tally.done,
        skipped: tally.skipped,
        skipped_sample: tally.sample,
    }))
}

/// A plan as stored by the dry run.
#[derive(Debug, serde::Deserialize)]
struct Planned {
    filter: BulkFilter,
    to_step: Option<String>,
    force: bool,
    reason: String,
}

struct Run<'a> {
    engine: &'a Engine,
    actor: &'a Actor,
    action: BulkAction,
    planned: &'a Planned,
    reason: &'a str,
}

impl Run<'_> {
    async fn one(&self, id: Uuid) -> Result<(), EngineError> {
        let (e, a, r) = (self.engine, self.actor, self.reason);
        match self.action {
            BulkAction::Pause => e.pause(id, a, r).await.map(drop),
            BulkAction::Resume => e.resume(id, a, r).await.map(drop),
            BulkAction::Cancel => e.cancel(id, a, r).await.map(drop),
            BulkAction::Retry => e.retry(id, a, r).await.map(drop),
            BulkAction::Wake => e.wake(id, a, r).await.map(drop),
            BulkAction::Rewind => {
                let to = RewindTo {
                    step: self.planned.to_step.as_deref().unwrap_or_default(),
                    force: self.planned.force,
                };
                e.rewind(id, to, a, r).await.map(drop)
            }
        }
    }
}

/// Errors that say the action does not apply to this journey (any more):
/// it is skipped and the operation goes on.
fn skippable(e: &EngineError) -> bool {
    matches!(
        e,
        EngineError::NotApplicable { .. }
            | EngineError::JourneyNotFound(_)
            | EngineError::Conflict { .. }
            | EngineError::Invalid { .. }
    )
}

#[derive(Default)]
struct Tally {
    done: i64,
    skipped: i64,
    sample: Vec<SkippedJourney>,
}

impl Tally {
    fn skip(&mut self, id: Uuid, why: String) {
        self.skipped += 1;
        if self.sample.len() < SKIPPED_SAMPLE {
            self.sample.push(SkippedJourney { id, why });
        }
    }
}

fn parse_status(f: &BulkFilter) -> Result<Option<JourneyStatus>, ApiError> {
    f.status
        .as_deref()
        .map(str::parse::<JourneyStatus>)
        .transpose()
        .map_err(|_| ApiError::field("filter.status", "is not a journey status"))
}

fn list_filter(f: &BulkFilter, status: Option<JourneyStatus>) -> journeys::ListFilter<'_> {
    journeys::ListFilter {
        status,
        phase: f.phase.as_deref(),
        workflow: f.workflow.as_deref(),
        vendor: f.vendor.as_deref(),
        overdue: f.overdue.unwrap_or(false),
        error_contains: f.error_contains.as_deref(),
    }
}

fn digest(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}
