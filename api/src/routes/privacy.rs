//! PHI at rest, for admins: a patient erased on a deletion request
//! (`POST /v1/patients/{id}/erase`), and where the data keys stand
//! (`GET /v1/keys`: how many are wrapped under each key-encryption key,
//! what `carepath keys rotate` has left to do).

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;

use carepath_workflows::engine::store::data_keys;
use carepath_workflows::erasure::{self, EraseError};

use crate::AppState;
use crate::auth::AsAdmin;
use crate::error::{ApiError, ErrorBody, ErrorCode};
use crate::extract::{Body, PatientId};
use crate::routes::journeys::bounded;
use crate::views::{ActionRequest, KeysView, MAX_REASON, PatientErasedView};

#[utoipa::path(post, path = "/v1/patients/{id}/erase", tag = "privacy",
    params(("id" = Uuid, Path, description = "Patient id (the registry's)")),
    request_body = ActionRequest,
    responses((status = 200, description = "Erased (or erased before): its data key and its journeys' destroyed, its blocking keys forgotten; recorded in the operator audit and each journey's history", body = PatientErasedView),
              (status = 401, description = "Missing or unknown bearer token", body = ErrorBody),
              (status = 403, description = "The token's role does not allow this", body = ErrorBody),
              (status = 404, description = "No such patient", body = ErrorBody),
              (status = 409, description = "Some of its journeys have not ended (named): cancel them first", body = ErrorBody),
              (status = 422, description = "Invalid request; the failing fields are named", body = ErrorBody)))]
/// Erases a patient (a deletion request): irreversible.
pub async fn erase_patient(
    State(state): State<AppState>,
    caller: AsAdmin,
    PatientId(id): PatientId,
    Body(req): Body<ActionRequest>,
) -> Result<Json<PatientErasedView>, ApiError> {
    bounded("reason", &req.reason, MAX_REASON)?;
    let actor = caller.actor().0;
    match erasure::erase_patient(state.engine.pool(), id, &actor, &req.reason).await {
        Ok(done) => Ok(Json(done.into())),
        Err(EraseError::NotFound(_)) => Err(ApiError::not_found(format!("no patient {id}"))),
        Err(e @ EraseError::Active { .. }) => Err(ApiError::new(
            StatusCode::CONFLICT,
            ErrorCode::Conflict,
            e.to_string(),
        )),
        Err(EraseError::Database(e)) => Err(e.into()),
    }
}

#[utoipa::path(get, path = "/v1/keys", tag = "privacy",
    responses((status = 200, description = "Live data keys per key-encryption key, and the current one", body = KeysView),
              (status = 401, description = "Missing or unknown bearer token", body = ErrorBody),
              (status = 403, description = "The token's role does not allow this", body = ErrorBody)))]
/// Where the data keys stand.
pub async fn keys(
    State(state): State<AppState>,
    _caller: AsAdmin,
) -> Result<Json<KeysView>, ApiError> {
    let per_kek = data_keys::count_by_kek(state.engine.pool()).await?;
    let current = state
        .engine
        .vault()
        .wrapper()
        .map(|w| w.current().to_owned());
    Ok(Json(KeysView::new(current, per_kek)))
}
