//! `GET /v1/journeys/{id}/steps`: what happened at each step, what the
//! journey waits on and the alerts it raised, PHI redacted; and
//! `GET /v1/journeys/{id}/steps/{key}/output`: one step's output revealed,
//! with a reason recorded in the journey's history.

use axum::Json;
use axum::extract::State;
use serde_json::json;

use carepath_workflows::engine::EngineError;
use carepath_workflows::engine::redact::redact;
use carepath_workflows::engine::vault::{ERASED, JourneySeal, Place};
use carepath_workflows::store::detail;
use carepath_workflows::store::steps::{self, StepKind, StepRecord, StepStatus};
use carepath_workflows::store::{history, journeys};

use crate::AppState;
use crate::auth::AsOperator;
use crate::error::{ApiError, ErrorBody};
use crate::extract::{JourneyId, QueryParams, StepKeyParam};
use crate::routes::journeys::{ReasonQuery, bounded};
use crate::views::{
    AlertView, JourneyDetail, MAX_REASON, StepDetail, StepOutputView, SupersededStep, WaitView,
    outcome_of,
};

#[utoipa::path(get, path = "/v1/journeys/{id}/steps", tag = "journeys",
    params(("id" = Uuid, Path, description = "Journey id")),
    responses((status = 200, description = "Steps (outputs redacted), waits, alerts and superseded steps", body = JourneyDetail),
              (status = 401, description = "Missing or unknown bearer token", body = ErrorBody),
              (status = 403, description = "The token's role does not allow this", body = ErrorBody),
              (status = 404, description = "Not found", body = ErrorBody)))]
pub async fn steps_of(
    State(state): State<AppState>,
    _caller: AsOperator,
    JourneyId(id): JourneyId,
) -> Result<Json<JourneyDetail>, ApiError> {
    let pool = state.engine.pool();
    let journey = journeys::get(pool, id)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("journey {id} not found")))?;
    let code = state
        .engine
        .registry()
        .get(&journey.workflow, journey.version);
    let shown: &[&str] = code.as_deref().map_or(&[], |c| c.shown_output_fields());
    let recorded = opened(&state, id, steps::load(pool, id).await?).await?;
    let waits = recorded.iter().filter_map(wait_of).collect();
    let steps = recorded
        .into_iter()
        .map(|s| step_detail(s, shown))
        .collect();
    let alerts = detail::alerts(pool, id).await?;
    let superseded = detail::superseded(pool, id).await?;
    Ok(Json(JourneyDetail {
        journey_id: id,
        status: journey.status.to_string(),
        outcome: outcome_of(&journey),
        phase: journey.phase,
        steps,
        waits,
        alerts: alerts.into_iter().map(AlertView::from).collect(),
        superseded: superseded.into_iter().map(SupersededStep::from).collect(),
    }))
}

/// `recorded` with each output opened in memory (an erased one reading as
/// `erased`).
async fn opened(
    state: &AppState,
    id: uuid::Uuid,
    mut recorded: Vec<StepRecord>,
) -> Result<Vec<StepRecord>, ApiError> {
    let seal = JourneySeal::for_reading(state.engine.vault(), state.engine.pool(), id)
        .await
        .map_err(EngineError::from)?;
    for s in &mut recorded {
        if let Some(output) = s.output.take() {
            let place = Place::step_output(id, s.seq, &s.key);
            s.output = Some(seal.open_for_display(&place, output));
        }
    }
    Ok(recorded)
}

/// A recorded position as an operator reads it, its output redacted.
fn step_detail(s: StepRecord, shown: &[&str]) -> StepDetail {
    let (output, redacted) = match &s.output {
        Some(o) if o.as_str() == Some(ERASED) => (Some(o.clone()), false),
        Some(o) => {
            let (o, r) = redact(o, shown);
            (Some(o), r)
        }
        None => (None, false),
    };
    StepDetail {
        seq: s.seq,
        duration_ms: s.finished_at.map(|f| (f - s.started_at).num_milliseconds()),
        key: s.key,
        kind: s.kind.to_string(),
        status: s.status.to_string(),
        attempts: s.attempts,
        last_error: s.last_error,
        started_at: s.started_at,
        finished_at: s.finished_at,
        due_at: s.due_at,
        output,
        redacted,
    }
}

/// What an open position waits for, in words.
fn wait_of(s: &StepRecord) -> Option<WaitView> {
    let waits_for = match (s.kind, s.status) {
        (StepKind::Sleep, StepStatus::Waiting) => format!("the timer {}", s.key),
        (StepKind::Signal, StepStatus::Waiting) if s.due_at.is_some() => {
            format!("signal {} (or its timeout)", signal_name(&s.key))
        }
        (StepKind::Signal, StepStatus::Waiting) => format!("signal {}", signal_name(&s.key)),
        (StepKind::Step, StepStatus::Retrying) => format!("a retry of {}", s.key),
        _ => return None,
    };
    Some(WaitView {
        key: s.key.clone(),
        waits_for,
        until: s.due_at,
    })
}

/// A signal wait's key is `signal:<name>`, with `#n` from its second wait.
fn signal_name(key: &str) -> &str {
    let key = key.split('#').next().unwrap_or(key);
    key.strip_prefix("signal:").unwrap_or(key)
}

#[utoipa::path(get, path = "/v1/journeys/{id}/steps/{key}/output", tag = "journeys",
    params(("id" = Uuid, Path, description = "Journey id"),
           ("key" = String, Path, description = "The step's key (`notify#2` is `notify%232`)"), ReasonQuery),
    responses((status = 200, description = "The step's output, whole (PHI); the read is recorded", body = StepOutputView),
              (status = 401, description = "Missing or unknown bearer token", body = ErrorBody),
              (status = 403, description = "The token's role does not allow this", body = ErrorBody),
              (status = 404, description = "No such journey or step", body = ErrorBody),
              (status = 422, description = "Invalid request; the failing fields are named", body = ErrorBody)))]
pub async fn reveal_output(
    State(state): State<AppState>,
    caller: AsOperator,
    JourneyId(id): JourneyId,
    StepKeyParam(key): StepKeyParam,
    QueryParams(q): QueryParams<ReasonQuery>,
) -> Result<Json<StepOutputView>, ApiError> {
    bounded("reason", &q.reason, MAX_REASON)?;
    let recorded = steps::load(state.engine.pool(), id).await?;
    let recorded = opened(&state, id, recorded).await?;
    let Some(step) = recorded.into_iter().find(|s| s.key == key) else {
        return Err(ApiError::not_found(format!(
            "journey {id} has no step {key:?}"
        )));
    };
    history::append(
        state.engine.pool(),
        id,
        &caller.actor().0,
        "output_read",
        json!({ "reason": q.reason, "step": key }),
    )
    .await?;
    Ok(Json(StepOutputView {
        journey_id: id,
        key,
        output: step.output,
    }))
}
