//! An operator's repairs of one journey: fire its wait, inject a vendor
//! event it never received, rewind it to a step. Each is audited in the
//! journey's history with the caller and the reason.

use axum::Json;
use axum::extract::State;

use carepath_workflows::{EngineError, RewindTo, SignalOutcome, VendorEvent};

use crate::AppState;
use crate::auth::AsOperator;
use crate::error::{ApiError, ErrorBody};
use crate::extract::{Body, JourneyId};
use crate::routes::journeys::bounded;
use crate::views::{
    ActionRequest, InjectRequest, InjectResult, JourneyView, MAX_KEY, MAX_REASON, RewindRequest,
    RewindResult,
};

#[utoipa::path(post, path = "/v1/journeys/{id}/fire-wait", tag = "operations", request_body = ActionRequest,
    params(("id" = Uuid, Path, description = "Journey id")),
    responses((status = 200, description = "The wait fired; the journey runs its timer's or timeout's branch now", body = JourneyView),
              (status = 401, description = "Missing or unknown bearer token", body = ErrorBody), (status = 403, description = "The token's role does not allow this", body = ErrorBody),
              (status = 404, description = "Not found", body = ErrorBody),
              (status = 409, description = "It waits on nothing with a timeout (inject the event it waits for instead)", body = ErrorBody),
              (status = 422, description = "Invalid request; the failing fields are named", body = ErrorBody)))]
pub async fn fire_wait(
    State(state): State<AppState>,
    caller: AsOperator,
    JourneyId(id): JourneyId,
    Body(req): Body<ActionRequest>,
) -> Result<Json<JourneyView>, ApiError> {
    bounded("reason", &req.reason, MAX_REASON)?;
    let journey = state
        .engine
        .fire_wait(id, &caller.actor(), &req.reason)
        .await?;
    Ok(Json(journey.into()))
}

#[utoipa::path(post, path = "/v1/journeys/{id}/inject", tag = "operations", request_body = InjectRequest,
    params(("id" = Uuid, Path, description = "Journey id")),
    responses((status = 200, description = "Delivered as the webhook's signal would be (or already had: `applied` false)", body = InjectResult),
              (status = 401, description = "Missing or unknown bearer token", body = ErrorBody), (status = 403, description = "The token's role does not allow this", body = ErrorBody),
              (status = 404, description = "Not found", body = ErrorBody),
              (status = 409, description = "The journey has ended", body = ErrorBody),
              (status = 422, description = "Not an event of the vendor's, one the journey does not receive, or about another journey's resource", body = ErrorBody)))]
pub async fn inject(
    State(state): State<AppState>,
    caller: AsOperator,
    JourneyId(id): JourneyId,
    Body(req): Body<InjectRequest>,
) -> Result<Json<InjectResult>, ApiError> {
    bounded("vendor", &req.vendor, MAX_KEY)?;
    bounded("reason", &req.reason, MAX_REASON)?;
    if let Err(e) = carepath_workflows::storable::check(&req.event) {
        return Err(EngineError::unstorable("event", e).into());
    }
    let given = VendorEvent {
        vendor: &req.vendor,
        event: &req.event,
    };
    let injected = state
        .engine
        .inject(id, given, &caller.actor(), &req.reason)
        .await?;
    Ok(Json(InjectResult {
        journey: injected.journey.into(),
        signal: injected.signal,
        event_id: injected.event_id,
        applied: injected.outcome == SignalOutcome::Accepted,
    }))
}

#[utoipa::path(post, path = "/v1/journeys/{id}/rewind", tag = "operations", request_body = RewindRequest,
    params(("id" = Uuid, Path, description = "Journey id")),
    responses((status = 200, description = "Rewound: it runs again from after the step", body = RewindResult),
              (status = 401, description = "Missing or unknown bearer token", body = ErrorBody), (status = 403, description = "The token's role does not allow this", body = ErrorBody),
              (status = 404, description = "Not found", body = ErrorBody),
              (status = 409, description = "Cancelled, nothing after the step, a worker running it this moment, or an irreversible step in the way without `force`", body = ErrorBody),
              (status = 422, description = "Invalid request; the failing fields are named", body = ErrorBody)))]
pub async fn rewind(
    State(state): State<AppState>,
    caller: AsOperator,
    JourneyId(id): JourneyId,
    Body(req): Body<RewindRequest>,
) -> Result<Json<RewindResult>, ApiError> {
    bounded("to_step", &req.to_step, MAX_KEY)?;
    bounded("reason", &req.reason, MAX_REASON)?;
    let to = RewindTo {
        step: &req.to_step,
        force: req.force,
    };
    let rewound = state
        .engine
        .rewind(id, to, &caller.actor(), &req.reason)
        .await?;
    Ok(Json(RewindResult {
        journey: rewound.journey.into(),
        superseded: rewound.superseded,
        irreversible: rewound.irreversible,
    }))
}
