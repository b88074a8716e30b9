//! `/v1/journeys/{id}/patient-match`: the review of an uncertain patient
//! match. An operator sees the candidates (ids, scores and how each field
//! compared: no PHI), with a reason the people side by side
//! (`.../patient-match/people`: PHI, the read audited), and links the journey
//! to one of them or has a new patient created.

use axum::Json;
use axum::extract::State;
use serde_json::json;
use uuid::Uuid;

use carepath_workflows::consult::input::Patient;
use carepath_workflows::consult::patients::{self, Candidate, MatchOutcome};
use carepath_workflows::store::{history, journeys, steps};
use carepath_workflows::{EngineError, JourneyStatus, WaitingFor};

use crate::AppState;
use crate::auth::AsOperator;
use crate::error::{ApiError, ErrorBody};
use crate::extract::{Body, JourneyId, QueryParams};
use crate::routes::journeys::{ReasonQuery, bounded};
use crate::views::{JourneyView, MAX_REASON, MatchDecisionRequest, MatchPeopleView, MatchView};
use carepath_workflows::Engine;

use carepath_workflows::consult::journey::{MATCH_STEP, REVIEW_SIGNAL};

/// A journey's recorded match, and whether the journey waits for its review.
struct Review {
    awaiting_review: bool,
    outcome: MatchOutcome,
}

/// The match the journey recorded; 404 when there is no such journey or it
/// has not matched its patient.
async fn recorded(engine: &Engine, id: Uuid) -> Result<Review, ApiError> {
    let pool = engine.pool();
    let journey = journeys::get(pool, id)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("journey {id} not found")))?;
    let stored = steps::completed_output(pool, id, MATCH_STEP).await?;
    let recorded = engine
        .opened_output(id, stored)
        .await
        .map_err(EngineError::from)?;
    let outcome: MatchOutcome = recorded
        .and_then(|o| serde_json::from_value(o).ok())
        .ok_or_else(|| ApiError::not_found(format!("journey {id} has not matched its patient")))?;
    Ok(Review {
        awaiting_review: journey.waiting_for == Some(WaitingFor::signal(REVIEW_SIGNAL)),
        outcome,
    })
}

/// The patient the journey's input describes. Only the patient is read, so
/// a journey stored with a field since retired from the start request
/// (`scenario`) is still reviewed. The error says nothing of the input.
async fn patient_of(engine: &Engine, id: Uuid) -> Result<Patient, ApiError> {
    let input = engine
        .opened_input(id)
        .await
        .map_err(EngineError::from)?
        .unwrap_or_default();
    serde_json::from_value(input["patient"].clone())
        .map_err(|_| ApiError::internal("the journey's input no longer parses"))
}

/// The registry's candidates for `patient` as of now: what a journey that
/// waits for review shows (a patient created since the journey matched —
/// another intake of the same person — must be offered); once decided, a
/// journey shows the candidates it recorded.
async fn current(engine: &Engine, patient: &Patient) -> Result<Vec<Candidate>, ApiError> {
    let models = patients::ModelCache::default();
    let who = patients::person_of(patient);
    let keys = registry_keys(engine)?;
    Ok(patients::current_candidates(engine.pool(), &keys, &models, &who).await?)
}

/// The deployment's registry keys; a process without them cannot read the
/// registry (it would not have started: `Settings::registry_keys`).
fn registry_keys(engine: &Engine) -> Result<patients::Keys, ApiError> {
    patients::Keys::of_engine(engine).map_err(|e| ApiError::internal(e.to_string()))
}

#[utoipa::path(get, path = "/v1/journeys/{id}/patient-match", tag = "operations",
    params(("id" = Uuid, Path, description = "Journey id")),
    responses((status = 200, description = "The match and its candidates: ids, scores and comparison levels, no PHI", body = MatchView),
              (status = 401, description = "Missing or unknown bearer token", body = ErrorBody),
              (status = 403, description = "The token's role does not allow this", body = ErrorBody),
              (status = 404, description = "No such journey, or it has not matched its patient", body = ErrorBody)))]
pub async fn show(
    State(state): State<AppState>,
    _caller: AsOperator,
    JourneyId(id): JourneyId,
) -> Result<Json<MatchView>, ApiError> {
    let mut review = recorded(&state.engine, id).await?;
    if review.awaiting_review {
        let patient = patient_of(&state.engine, id).await?;
        review.outcome.candidates = current(&state.engine, &patient).await?;
    }
    let Review {
        awaiting_review,
        outcome,
    } = review;
    Ok(Json(MatchView {
        journey_id: id,
        awaiting_review,
        decision: outcome.decision.as_str().to_owned(),
        patient_id: outcome.patient_id,
        hold: outcome.hold.map(|h| h.as_str()),
        candidates: outcome.candidates.into_iter().map(Into::into).collect(),
    }))
}

#[utoipa::path(get, path = "/v1/journeys/{id}/patient-match/people", tag = "operations",
    operation_id = "show_match_people",
    params(("id" = Uuid, Path, description = "Journey id"), ReasonQuery),
    responses((status = 200, description = "The incoming person and each candidate side by side, field by field (PHI); the read is recorded in the journey's history with the reason", body = MatchPeopleView),
              (status = 401, description = "Missing or unknown bearer token", body = ErrorBody),
              (status = 403, description = "The token's role does not allow this", body = ErrorBody),
              (status = 404, description = "No such journey, or it has not matched its patient", body = ErrorBody),
              (status = 422, description = "Invalid request; the failing fields are named", body = ErrorBody)))]
pub async fn people(
    State(state): State<AppState>,
    caller: AsOperator,
    JourneyId(id): JourneyId,
    QueryParams(q): QueryParams<ReasonQuery>,
) -> Result<Json<MatchPeopleView>, ApiError> {
    bounded("reason", &q.reason, MAX_REASON)?;
    let pool = state.engine.pool();
    let mut review = recorded(&state.engine, id).await?;
    let patient = patient_of(&state.engine, id).await?;
    if review.awaiting_review {
        review.outcome.candidates = current(&state.engine, &patient).await?;
    }
    let candidates = patients::review::side_by_side(
        pool,
        &registry_keys(&state.engine)?,
        &patients::person_of(&patient),
        review.outcome.candidates,
    )
    .await?;
    let shown: Vec<Uuid> = candidates.iter().map(|c| c.candidate.patient_id).collect();
    // Recorded before anything is shown: a read that cannot be audited is refused.
    history::append(
        pool,
        id,
        &caller.actor().0,
        "match_people_read",
        json!({ "reason": q.reason, "patients": shown }),
    )
    .await?;
    Ok(Json(MatchPeopleView {
        journey_id: id,
        awaiting_review: review.awaiting_review,
        incoming: patient.into(),
        candidates: candidates.into_iter().map(Into::into).collect(),
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
    bounded("reason", &req.reason, MAX_REASON)?;
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
            let pool = state.engine.pool();
            if !patients::exists(pool, patient).await? {
                return Err(ApiError::field("patient_id", "no such patient"));
            }
            // Only a patient the review shows: linking an intake to anyone
            // else's chart is the error this review exists to prevent.
            let patient_in = patient_of(&state.engine, id).await?;
            let candidates = current(&state.engine, &patient_in).await?;
            if !candidates.iter().any(|c| c.patient_id == patient) {
                return Err(ApiError::field(
                    "patient_id",
                    "is not one of this review's candidates",
                ));
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
