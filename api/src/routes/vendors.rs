//! `/v1/vendors`: what each vendor's state is, and the operator's pause.

use axum::Json;
use axum::extract::State;
use serde_json::json;

use carepath_activities::config::VENDORS;
use carepath_activities::resilience::holds;
use carepath_workflows::store::journeys;

use crate::AppState;
use crate::auth::{AsOperator, Caller};
use crate::error::{ApiError, ErrorBody};
use crate::extract::{Body, NameParam};
use crate::routes::journeys::bounded;
use crate::views::{ActionRequest, MAX_REASON, VendorName, VendorView, VendorsView};

#[utoipa::path(get, path = "/v1/vendors", tag = "vendors", operation_id = "list_vendors",
    responses((status = 200, description = "OK", body = VendorsView), (status = 401, description = "Missing or unknown bearer token", body = ErrorBody), (status = 403, description = "The token's role does not allow this", body = ErrorBody)))]
pub async fn list(
    State(state): State<AppState>,
    _caller: AsOperator,
) -> Result<Json<VendorsView>, ApiError> {
    let pool = state.engine.pool();
    let mut vendors = Vec::new();
    for name in VENDORS {
        let hold = holds::current(pool, name).await?;
        let waits = journeys::vendor_waits(pool, name).await?;
        let profile = state.vendors.vendors.get(name);
        let paused = hold.as_ref().is_some_and(holds::Hold::by_operator);
        let status = match (&hold, paused) {
            (None, _) => "available",
            (Some(_), false) => "held",
            (Some(_), true) => "paused",
        };
        vendors.push(VendorView {
            name: name.to_owned(),
            status: status.to_owned(),
            breaker: if status == "held" { "open" } else { "closed" }.to_owned(),
            on_hold_until: hold.as_ref().filter(|_| !paused).map(|h| h.until),
            paused_by: hold.as_ref().filter(|_| paused).map(|h| h.set_by.clone()),
            hold_reason: hold.map(|h| h.reason),
            rate_per_sec: profile.map_or(0.0, |p| p.rate_per_sec),
            burst: profile.map_or(0, |p| p.burst),
            waiting_journeys: waits.waiting,
            last_error: waits.last_error,
        });
    }
    Ok(Json(VendorsView { vendors }))
}

/// What a vendor action needs besides an operator: a known vendor, a reason.
fn admit(name: &str, reason: &str) -> Result<(), ApiError> {
    if !VENDORS.contains(&name) {
        return Err(ApiError::not_found(format!("no vendor named {name:?}")));
    }
    // The same rule as every other operator reason: the document's `Reason`.
    bounded("reason", reason, MAX_REASON)
}

/// Audits the action and answers with the vendors as they now are.
async fn finish(
    state: AppState,
    caller: AsOperator,
    action: &str,
    name: &str,
    reason: &str,
) -> Result<Json<VendorsView>, ApiError> {
    audit(&state, &caller, action, name, reason).await?;
    list(State(state), caller).await
}

/// An operator's pause lasts until resumed: a hold a century long.
fn indefinitely() -> std::time::Duration {
    std::time::Duration::from_secs(100 * 365 * 24 * 3600)
}

#[utoipa::path(post, path = "/v1/vendors/{name}/pause", tag = "vendors", operation_id = "pause_vendor", request_body = ActionRequest,
    params(("name" = inline(VendorName), Path, description = "Vendor")),
    responses((status = 200, description = "OK", body = VendorsView), (status = 401, description = "Missing or unknown bearer token", body = ErrorBody), (status = 403, description = "The token's role does not allow this", body = ErrorBody),
              (status = 404, description = "Not found", body = ErrorBody), (status = 422, description = "Invalid request; the failing fields are named", body = ErrorBody)))]
pub async fn pause(
    State(state): State<AppState>,
    caller: AsOperator,
    NameParam(name): NameParam,
    Body(req): Body<ActionRequest>,
) -> Result<Json<VendorsView>, ApiError> {
    admit(&name, &req.reason)?;
    let reason = format!("paused by {}: {}", caller.name, req.reason);
    holds::hold(
        state.engine.pool(),
        &name,
        indefinitely(),
        &reason,
        &caller.actor().0,
    )
    .await?;
    finish(state, caller, "vendor_pause", &name, &req.reason).await
}

#[utoipa::path(post, path = "/v1/vendors/{name}/resume", tag = "vendors", operation_id = "resume_vendor", request_body = ActionRequest,
    params(("name" = inline(VendorName), Path, description = "Vendor")),
    responses((status = 200, description = "OK", body = VendorsView), (status = 401, description = "Missing or unknown bearer token", body = ErrorBody), (status = 403, description = "The token's role does not allow this", body = ErrorBody),
              (status = 404, description = "Not found", body = ErrorBody), (status = 422, description = "Invalid request; the failing fields are named", body = ErrorBody)))]
pub async fn resume(
    State(state): State<AppState>,
    caller: AsOperator,
    NameParam(name): NameParam,
    Body(req): Body<ActionRequest>,
) -> Result<Json<VendorsView>, ApiError> {
    admit(&name, &req.reason)?;
    holds::release(state.engine.pool(), &name).await?;
    // Journeys parked on the vendor go now (its rate limit spaces them out)
    // rather than at the end of the hold they saw.
    let waiting = journeys::waiting_on_vendor(state.engine.pool(), &name).await?;
    crate::routes::journeys::retry_each(&state.engine, &waiting, &caller, &req.reason).await?;
    finish(state, caller, "vendor_resume", &name, &req.reason).await
}

/// Records in the operator audit that `caller` did `action` to `target`,
/// with `reason`.
pub(crate) async fn audit(
    state: &AppState,
    caller: &Caller,
    action: &str,
    target: &str,
    reason: &str,
) -> Result<(), ApiError> {
    let detail = json!({ "reason": reason });
    carepath_workflows::store::audit::record(
        state.engine.pool(),
        &caller.actor().0,
        action,
        target,
        &detail,
    )
    .await?;
    Ok(())
}
