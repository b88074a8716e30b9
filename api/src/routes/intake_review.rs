//! `/v1/journeys/{id}/intake-review`: intakes held for a person's decision
//! (ARCHITECTURE §2.9) — a second intake while the patient's consult for the
//! offering is open (offerings with the `review` policy), or an intake over
//! an active prescription. An operator sees what it collides with (ids and
//! times, no PHI) and attaches it to the open consult, lets it proceed, or
//! closes it; the decision is recorded with the reason.

use axum::Json;
use axum::extract::State;
use serde_json::json;
use uuid::Uuid;

use carepath_workflows::WaitingFor;
use carepath_workflows::consult::consults::Claim;
use carepath_workflows::consult::journey::{CLAIM_STEP, INTAKE_REVIEW, ReviewAction};
use carepath_workflows::store::{journeys, steps};

use crate::AppState;
use crate::auth::AsOperator;
use crate::error::{ApiError, ErrorBody, ErrorCode};
use crate::extract::{Body, JourneyId};
use crate::routes::journeys::bounded;
pub use crate::views::{IntakeReviewRequest, IntakeReviewView, ReviewActionWord};
use crate::views::{JourneyView, MAX_REASON};
use carepath_workflows::{Engine, EngineError};

/// The collision the journey's latest claim recorded, if any (a journey
/// claims again when the consult it was merging into ended).
async fn collision(engine: &Engine, id: Uuid) -> Result<Option<Claim>, ApiError> {
    let stored = steps::latest_completed_output(engine.pool(), id, CLAIM_STEP).await?;
    let output = engine
        .opened_output(id, stored)
        .await
        .map_err(EngineError::from)?;
    Ok(output.and_then(|o| serde_json::from_value(o).ok()))
}

fn view(id: Uuid, awaiting_review: bool, claim: Option<Claim>) -> IntakeReviewView {
    let (kind, open, prescription) = match claim {
        Some(Claim::Open { journey_id }) => (Some("duplicate_intake"), Some(journey_id), None),
        Some(Claim::ActiveTreatment { prescription }) => {
            (Some("active_treatment"), None, Some(prescription))
        }
        _ => (None, None, None),
    };
    let mut actions = Vec::new();
    if awaiting_review {
        if kind == Some("duplicate_intake") {
            actions.push("attach".to_owned());
        }
        actions.extend(["proceed".to_owned(), "close".to_owned()]);
    }
    IntakeReviewView {
        journey_id: id,
        awaiting_review,
        kind: kind.map(str::to_owned),
        open_journey_id: open,
        prescription,
        actions,
    }
}

fn waits_for_review(journey: &carepath_workflows::Journey) -> bool {
    journey.waiting_for == Some(WaitingFor::signal(INTAKE_REVIEW))
}

#[utoipa::path(get, path = "/v1/journeys/{id}/intake-review", tag = "operations", operation_id = "show_intake_review",
    params(("id" = Uuid, Path, description = "Journey id")),
    responses((status = 200, description = "What the intake collided with, and the actions that apply", body = IntakeReviewView),
              (status = 401, description = "Missing or unknown bearer token", body = ErrorBody),
              (status = 403, description = "The token's role does not allow this", body = ErrorBody),
              (status = 404, description = "Not found", body = ErrorBody)))]
pub async fn show(
    State(state): State<AppState>,
    _caller: AsOperator,
    JourneyId(id): JourneyId,
) -> Result<Json<IntakeReviewView>, ApiError> {
    let pool = state.engine.pool();
    let journey = journeys::get(pool, id)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("journey {id} not found")))?;
    let claim = collision(&state.engine, id).await?;
    Ok(Json(view(id, waits_for_review(&journey), claim)))
}

#[utoipa::path(post, path = "/v1/journeys/{id}/intake-review", tag = "operations", operation_id = "decide_intake_review",
    params(("id" = Uuid, Path, description = "Journey id")), request_body = IntakeReviewRequest,
    responses((status = 200, description = "Decided; the journey goes on", body = JourneyView),
              (status = 401, description = "Missing or unknown bearer token", body = ErrorBody),
              (status = 403, description = "The token's role does not allow this", body = ErrorBody),
              (status = 404, description = "Not found", body = ErrorBody),
              (status = 409, description = "The journey is not waiting for an intake review", body = ErrorBody),
              (status = 422, description = "Invalid request; the failing fields are named", body = ErrorBody)))]
pub async fn decide(
    State(state): State<AppState>,
    caller: AsOperator,
    JourneyId(id): JourneyId,
    Body(req): Body<IntakeReviewRequest>,
) -> Result<Json<JourneyView>, ApiError> {
    bounded("reason", &req.reason, MAX_REASON)?;
    let pool = state.engine.pool();
    let journey = journeys::get(pool, id)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("journey {id} not found")))?;
    // Whether it waits for a review comes first: an action that would apply
    // to a review is not wrong, only too early or too late.
    if !waits_for_review(&journey) {
        return Err(ApiError::new(
            axum::http::StatusCode::CONFLICT,
            ErrorCode::Conflict,
            format!(
                "journey {id} is {} in phase {}, not waiting for an intake review",
                journey.status, journey.phase
            ),
        ));
    }
    if req.action == ReviewAction::Attach
        && !matches!(
            collision(&state.engine, id).await?,
            Some(Claim::Open { .. })
        )
    {
        return Err(ApiError::field(
            "action",
            "attach applies only to a duplicate intake (an open consult to attach to)",
        ));
    }
    let journey = state
        .engine
        .decide(
            id,
            INTAKE_REVIEW,
            &json!({ "action": req.action }),
            &caller.actor(),
            &req.reason,
        )
        .await?;
    Ok(Json(journey.into()))
}
