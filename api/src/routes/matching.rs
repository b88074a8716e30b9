//! `/v1/journeys/{id}/patient-match`: the review of an uncertain patient
//! match. An operator sees the candidates (ids and scores, no PHI) and links
//! the journey to one of them or has a new patient created.

use axum::Json;
use axum::extract::State;
use serde_json::json;

use carepath_workflows::consult::input::Patient;
use carepath_workflows::consult::patients::{self, MatchOutcome};
use carepath_workflows::store::{journeys, steps};
use carepath_workflows::{EngineError, JourneyStatus, WaitingFor};

use crate::AppState;
use crate::auth::AsOperator;
use crate::error::{ApiError, ErrorBody};
use crate::extract::{Body, JourneyId};
use crate::views::{JourneyView, MAX_REASON, MatchDecisionRequest, MatchView};

use carepath_workflows::consult::journey::{MATCH_STEP, REVIEW_SIGNAL};

#[utoipa::path(get, path = "/v1/journeys/{id}/patient-match", tag = "operations",
    params(("id" = Uuid, Path, description = "Journey id")),
    responses((status = 200, description = "The match and its candidates", body = MatchView),
              (status = 401, description = "Missing or unknown bearer token", body = ErrorBody),
              (status = 403, description = "The token's role does not allow this", body = ErrorBody),
              (status = 404, description = "No such journey, or it has not matched its patient", body = ErrorBody)))]
pub async fn show(
    State(state): State<AppState>,
    _caller: AsOperator,
    JourneyId(id): JourneyId,
) -> Result<Json<MatchView>, ApiError> {
    let pool = state.engine.pool();
    let journey = journeys::get(pool, id)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("journey {id} not found")))?;
    let recorded = steps::completed_output(pool, id, MATCH_STEP).await?;
    let mut outcome: MatchOutcome = recorded
        .and_then(|o| serde_json::from_value(o).ok())
        .ok_or_else(|| ApiError::not_found(format!("journey {id} has not matched its patient")))?;
    let awaiting_review = journey.waiting_for == Some(WaitingFor::signal(REVIEW_SIGNAL));
    if awaiting_review {
        // As the registry is now: a patient created since the journey
        // matched (another intake of the same person) must be offered.
        let input = journeys::input(pool, id).await?.unwrap_or_default();
        // Only the patient is read, so a journey stored with a field since
        // retired from the start request (`scenario`) is still reviewed.
        let patient: Patient = serde_json::from_value(input["patient"].clone())
            .map_err(|_| ApiError::internal("the journey's input no longer parses"))?;
        let models = patients::ModelCache::default();
        outcome.candidates =
            patients::current_candidates(pool, &models, &patients::person_of(&patient)).await?;
    }
    Ok(Json(MatchView {
        journey_id: id,
        awaiting_review,
        decision: outcome.decision.as_str().to_owned(),
        patient_id: outcome.patient_id,
        candidates: outcome
            .candidates
            .into_iter()
            .map(|c| json!({ "patient_id": c.patient_id, "score": c.score }))
            .collect(),
    }))
}

#[utoipa::path(post, path = "/v1/journeys/{id}/patient-match", tag = "operations",
    params(("id" = Uuid, Path, description = "Journey id")), request_body = MatchDecisionRequest,
    responses((status = 200, description = "Decided; the journey goes on", body = JourneyView),
              (status = 401, description = "Missing or unknown bearer token", body = ErrorBody),
              (status = 403, description = "The token's role does not allow this", body = ErrorBody),
              (status = 404, description = "Not found", body = ErrorBody),
              (status = 409, description = "The journey is not waiting for a match review", body = ErrorBody),
              (status = 422, description = "Invalid request; the failing fields are named", body = ErrorBody)))]
pub async fn decide(
    State(state): State<AppState>,
    caller: AsOperator,
    JourneyId(id): JourneyId,
    Body(req): Body<MatchDecisionRequest>,
) -> Result<Json<JourneyView>, ApiError> {
    super::journeys::bounded("reason", &req.reason, MAX_REASON)?;
    // The journey first: a request about a journey that does not exist, or
    // does not wait for this review, is answered as such (404, 409) whatever
    // patient it names. `decide` checks again, atomically.
    let journey = journeys::get(state.engine.pool(), id)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("journey {id} not found")))?;
    if journey.status != JourneyStatus::Waiting
        || journey.waiting_for != Some(WaitingFor::signal(REVIEW_SIGNAL))
    {
        return Err(EngineError::NotApplicable {
            action: "decide",
            status: journey.status,
        }
        .into());
    }
    let payload = match (req.action.as_str(), req.patient_id) {
        ("link", Some(patient)) => {
            if !patients::exists(state.engine.pool(), patient).await? {
                return Err(ApiError::field("patient_id", "no such patient"));
            }
            json!({ "action": "link", "patient_id": patient })
        }
        ("link", None) => return Err(ApiError::field("patient_id", "is required to link")),
        ("create", None) => json!({ "action": "create" }),
        ("create", Some(_)) => {
            return Err(ApiError::field(
                "patient_id",
                "must be absent to create a new patient",
            ));
        }
        _ => return Err(ApiError::field("action", "must be link or create")),
    };
    let journey = state
        .engine
        .decide(id, REVIEW_SIGNAL, &payload, &caller.actor(), &req.reason)
        .await?;
    Ok(Json(journey.into()))
}
