//! `/v1/journeys`: start, read, list, history, signals and operator actions.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde_json::json;
use uuid::Uuid;

use carepath_workflows::engine::vault::{JourneySeal, Place};
use carepath_workflows::store::{history, journeys, steps};
use carepath_workflows::{Engine, EngineError, Journey, JourneyStatus, SignalOutcome};

use crate::AppState;
use crate::auth::{AsOperator, AsProduct, Caller};
use crate::error::{ApiError, ErrorBody, FieldError};
use crate::extract::{Body, JourneyId, NameParam, QueryParams};
use crate::views::*;

/// Text the API stores or looks up: not blank, no NUL, at most `max`
/// characters. The document says the same through the [`Key`], [`Reason`]
/// and [`TokenName`] schemas.
pub(crate) fn bounded(path: &str, value: &str, max: usize) -> Result<(), ApiError> {
    if value.trim().is_empty() {
        return Err(ApiError::field(path, "must not be empty"));
    }
    if value.contains('\0') {
        return Err(ApiError::field(path, "must not contain the NUL character"));
    }
    if value.chars().count() > max {
        return Err(ApiError::field(
            path,
            format!("must be at most {max} characters"),
        ));
    }
    Ok(())
}

#[utoipa::path(post, path = "/v1/journeys", tag = "journeys", request_body = StartRequest,
    responses(
        (status = 201, description = "Started", body = JourneyView),
        (status = 200, description = "This idempotency key already started this journey", body = JourneyView),
        (status = 401, description = "Missing or unknown bearer token", body = ErrorBody), (status = 403, description = "The token's role does not allow this", body = ErrorBody),
        (status = 404, description = "Unknown workflow", body = ErrorBody),
        (status = 409, description = "This idempotency key already started a journey of this workflow with a different request", body = ErrorBody),
        (status = 422, description = "Invalid input, with the failing fields", body = ErrorBody),
    ))]
pub async fn start(
    State(state): State<AppState>,
    caller: AsProduct,
    Body(req): Body<StartRequest>,
) -> Result<(StatusCode, Json<JourneyView>), ApiError> {
    bounded("workflow", &req.workflow, MAX_KEY)?;
    bounded("idempotency_key", &req.idempotency_key, MAX_KEY)?;
    let (_, workflow) = state
        .engine
        .registry()
        .latest(&req.workflow)
        .ok_or_else(|| {
            ApiError::not_found(format!("workflow {:?} is not registered", req.workflow))
        })?;
    if !req.input.is_object() {
        return Err(ApiError::field("input", "must be an object"));
    }
    let input = workflow.validate(req.input).map_err(|problems| {
        ApiError::invalid(
            problems
                .into_iter()
                .map(|(path, message)| FieldError {
                    path: if path.is_empty() {
                        "input".into()
                    } else {
                        format!("input.{path}")
                    },
                    message,
                })
                .collect(),
        )
    })?;
    // The journey's trace starts here; the journey keeps its context, and
    // every later run of it links back to this span.
    let span = tracing::info_span!("start journey", workflow = %req.workflow);
    let started = tracing::Instrument::instrument(
        state
            .engine
            .start(&req.workflow, &req.idempotency_key, input, &caller.actor()),
        span,
    )
    .await?;
    let status = if started.created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((status, Json(started.journey.into())))
}

#[utoipa::path(get, path = "/v1/journeys/{id}", tag = "journeys",
    params(("id" = Uuid, Path, description = "Journey id")),
    responses((status = 200, description = "OK", body = JourneyView), (status = 401, description = "Missing or unknown bearer token", body = ErrorBody),
              (status = 403, description = "The token's role does not allow this", body = ErrorBody), (status = 404, description = "Not found", body = ErrorBody)))]
pub async fn get(
    State(state): State<AppState>,
    _caller: AsProduct,
    JourneyId(id): JourneyId,
) -> Result<Json<JourneyView>, ApiError> {
    let journey = journeys::get_with_overdue(state.engine.pool(), id)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("journey {id} not found")))?;
    let mut view = JourneyView::from(journey);
    view.steps = Some(
        steps::summaries(state.engine.pool(), id)
            .await?
            .into_iter()
            .map(StepView::from)
            .collect(),
    );
    Ok(Json(view))
}

async fn find(pool: &sqlx::PgPool, id: Uuid) -> Result<Journey, ApiError> {
    journeys::get(pool, id)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("journey {id} not found")))
}

#[utoipa::path(get, path = "/v1/journeys", tag = "journeys", params(ListQuery),
    responses((status = 200, description = "OK", body = Page), (status = 401, description = "Missing or unknown bearer token", body = ErrorBody),
              (status = 403, description = "The token's role does not allow this", body = ErrorBody), (status = 422, description = "Invalid request; the failing fields are named", body = ErrorBody)))]
pub async fn list(
    State(state): State<AppState>,
    _caller: AsOperator,
    QueryParams(q): QueryParams<ListQuery>,
) -> Result<Json<Page>, ApiError> {
    let limit = q.limit.unwrap_or(50);
    if !(1..=500).contains(&limit) {
        return Err(ApiError::field("limit", "must be between 1 and 500"));
    }
    let status = q
        .status
        .as_deref()
        .map(str::parse::<JourneyStatus>)
        .transpose()
        .map_err(|_| ApiError::field("status", "is not a journey status"))?;
    let cursor = match &q.cursor {
        Some(c) => {
            Some(Uuid::parse_str(c).map_err(|_| ApiError::field("cursor", "is not a cursor"))?)
        }
        None => None,
    };
    let filter = journeys::ListFilter {
        status,
        phase: q.phase.as_deref(),
        workflow: q.workflow.as_deref(),
        vendor: q.vendor.as_deref(),
        overdue: q.overdue.unwrap_or(false),
        error_contains: q.error_contains.as_deref(),
    };
    if filter.overdue {
        carepath_workflows::gauge_snapshot::refresh_if_stale(
            state.engine.pool(),
            state.engine.config().gauges_every,
        )
        .await;
    }
    // One more than the page, to know whether another follows.
    let mut rows = journeys::list(state.engine.pool(), &filter, cursor, limit + 1).await?;
    let next_cursor = if rows.len() as i64 > limit {
        rows.truncate(limit as usize);
        rows.last().map(|j| j.id.to_string())
    } else {
        None
    };
    Ok(Json(Page {
        items: rows.into_iter().map(JourneyView::from).collect(),
        next_cursor,
    }))
}

#[utoipa::path(get, path = "/v1/journeys/{id}/history", tag = "journeys",
    params(("id" = Uuid, Path, description = "Journey id")),
    responses((status = 200, description = "OK", body = HistoryView), (status = 401, description = "Missing or unknown bearer token", body = ErrorBody),
              (status = 403, description = "The token's role does not allow this", body = ErrorBody), (status = 404, description = "Not found", body = ErrorBody)))]
pub async fn history_of(
    State(state): State<AppState>,
    _caller: AsOperator,
    JourneyId(id): JourneyId,
) -> Result<Json<HistoryView>, ApiError> {
    find(state.engine.pool(), id).await?;
    let events = history::list(state.engine.pool(), id).await?;
    Ok(Json(HistoryView {
        events: events.into_iter().map(HistoryEventView::from).collect(),
    }))
}

#[utoipa::path(get, path = "/v1/journeys/{id}/history/verify", tag = "journeys",
    params(("id" = Uuid, Path, description = "Journey id")),
    responses((status = 200, description = "OK", body = VerifyView), (status = 401, description = "Missing or unknown bearer token", body = ErrorBody),
              (status = 403, description = "The token's role does not allow this", body = ErrorBody), (status = 404, description = "Not found", body = ErrorBody)))]
pub async fn verify(
    State(state): State<AppState>,
    _caller: AsOperator,
    JourneyId(id): JourneyId,
) -> Result<Json<VerifyView>, ApiError> {
    find(state.engine.pool(), id).await?;
    let v = history::verify(state.engine.pool(), id).await?;
    Ok(Json(VerifyView {
        ok: v.ok,
        events: v.events,
        broken_at: v.broken_at,
        retired: v.retired,
    }))
}

#[derive(Debug, serde::Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ReasonQuery {
    /// Why PHI is read (the input, the people of a patient match): recorded
    /// in the journey's history with the caller.
    #[param(inline, value_type = Reason)]
    pub reason: String,
}

#[utoipa::path(get, path = "/v1/journeys/{id}/input", tag = "journeys",
    params(("id" = Uuid, Path, description = "Journey id"), ReasonQuery),
    responses((status = 200, description = "The journey's input (PHI); the read is recorded", body = InputView),
              (status = 401, description = "Missing or unknown bearer token", body = ErrorBody), (status = 403, description = "The token's role does not allow this", body = ErrorBody),
              (status = 404, description = "Not found", body = ErrorBody), (status = 422, description = "Invalid request; the failing fields are named", body = ErrorBody)))]
pub async fn input(
    State(state): State<AppState>,
    caller: AsOperator,
    JourneyId(id): JourneyId,
    QueryParams(q): QueryParams<ReasonQuery>,
) -> Result<Json<InputView>, ApiError> {
    bounded("reason", &q.reason, MAX_REASON)?;
    let input = journeys::input(state.engine.pool(), id)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("journey {id} not found")))?;
    let seal = JourneySeal::for_reading(state.engine.vault(), state.engine.pool(), id)
        .await
        .map_err(EngineError::from)?;
    let input = seal.open_for_display(&Place::journey_input(id), input);
    history::append(
        state.engine.pool(),
        id,
        &caller.actor().0,
        "input_read",
        json!({ "reason": q.reason }),
    )
    .await?;
    Ok(Json(InputView {
        journey_id: id,
        input,
    }))
}

#[utoipa::path(post, path = "/v1/journeys/{id}/signals/{name}", tag = "journeys",
    params(("id" = Uuid, Path, description = "Journey id"), ("name" = inline(SignalName), Path, description = "Signal name")),
    request_body = SignalRequest,
    responses((status = 202, description = "Stored; applied when the journey waits for it", body = SignalAccepted),
              (status = 200, description = "This event id was already received", body = SignalAccepted),
              (status = 401, description = "Missing or unknown bearer token", body = ErrorBody), (status = 403, description = "The token's role does not allow this", body = ErrorBody),
              (status = 404, description = "Not found", body = ErrorBody), (status = 409, description = "Does not apply to the current state", body = ErrorBody),
              (status = 422, description = "Invalid request; the failing fields are named", body = ErrorBody)))]
pub async fn signal(
    State(state): State<AppState>,
    caller: AsProduct,
    JourneyId(id): JourneyId,
    NameParam(name): NameParam,
    Body(req): Body<SignalRequest>,
) -> Result<(StatusCode, Json<SignalAccepted>), ApiError> {
    bounded("name", &name, MAX_KEY)?;
    bounded("event_id", &req.event_id, MAX_KEY)?;
    if name.contains('.') {
        // `<vendor>.<topic>` signals come from verified webhooks only.
        return Err(ApiError::field(
            "name",
            "names with a dot are vendor events, accepted only through /webhooks/{vendor}",
        ));
    }
    let journey = journeys::get(state.engine.pool(), id)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("journey {id} not found")))?;
    if let Some(workflow) = state
        .engine
        .registry()
        .get(&journey.workflow, journey.version)
        && let Err(problems) = workflow.validate_signal(&name, &req.payload)
    {
        return Err(ApiError::invalid(
            problems
                .into_iter()
                .map(|(path, message)| FieldError { path, message })
                .collect(),
        ));
    }
    let outcome = state
        .engine
        .signal(
            id,
            &name,
            "api",
            &req.event_id,
            &req.payload,
            &caller.actor(),
        )
        .await?;
    let applied = outcome == SignalOutcome::Accepted;
    let status = if applied {
        StatusCode::ACCEPTED
    } else {
        StatusCode::OK
    };
    Ok((
        status,
        Json(SignalAccepted {
            journey_id: id,
            event_id: req.event_id,
            applied,
        }),
    ))
}

/// The operator actions share one shape; each is its own route in the document.
macro_rules! action {
    ($name:ident, $path:literal, $method:ident, $doc:literal) => {
        #[doc = $doc]
        #[utoipa::path(post, path = $path, tag = "operations", request_body = ActionRequest,
            params(("id" = Uuid, Path, description = "Journey id")),
            responses((status = 200, description = "OK", body = JourneyView), (status = 401, description = "Missing or unknown bearer token", body = ErrorBody),
                      (status = 403, description = "The token's role does not allow this", body = ErrorBody), (status = 404, description = "Not found", body = ErrorBody),
                      (status = 409, description = "Does not apply to the journey's status", body = ErrorBody),
                      (status = 422, description = "Invalid request; the failing fields are named", body = ErrorBody)))]
        pub async fn $name(
            State(state): State<AppState>,
            caller: AsOperator,
            JourneyId(id): JourneyId,
            Body(req): Body<ActionRequest>,
        ) -> Result<Json<JourneyView>, ApiError> {
            bounded("reason", &req.reason, MAX_REASON)?;
            let journey = state.engine.$method(id, &caller.actor(), &req.reason).await?;
            Ok(Json(journey.into()))
        }
    };
}

action!(
    pause,
    "/v1/journeys/{id}/pause",
    pause,
    "Stops a running or waiting journey where it is."
);
action!(
    resume,
    "/v1/journeys/{id}/resume",
    resume,
    "Lets a paused journey go on."
);
action!(
    retry,
    "/v1/journeys/{id}/retry",
    retry,
    "Retries a failed journey, or a waiting step now."
);
action!(
    cancel,
    "/v1/journeys/{id}/cancel",
    cancel,
    "Ends a journey that has not finished."
);
action!(
    wake,
    "/v1/journeys/{id}/wake",
    wake,
    "Fires the timer a journey sleeps on now, or ends now the timeout of the signal it waits for (a journey waiting on a silent vendor then asks it at once); 409 for a wait with no timeout."
);

#[utoipa::path(post, path = "/v1/ops/retry", tag = "operations", request_body = BulkRetryRequest,
    responses((status = 200, description = "OK", body = BulkRetryResult), (status = 401, description = "Missing or unknown bearer token", body = ErrorBody),
              (status = 403, description = "The token's role does not allow this", body = ErrorBody), (status = 422, description = "Invalid request; the failing fields are named", body = ErrorBody)))]
pub async fn bulk_retry(
    State(state): State<AppState>,
    caller: AsOperator,
    Body(req): Body<BulkRetryRequest>,
) -> Result<Json<BulkRetryResult>, ApiError> {
    bounded("reason", &req.reason, MAX_REASON)?;
    let f = req.filter;
    let status = f.status.as_deref().unwrap_or("failed");
    let status = RETRYABLE_STATUSES
        .contains(&status)
        .then(|| status.parse::<JourneyStatus>().ok())
        .flatten()
        .ok_or_else(|| ApiError::field("filter.status", "must be failed or waiting"))?;
    let selection = journeys::RetrySelection {
        status,
        phase: f.phase.as_deref(),
        vendor: f.vendor.as_deref(),
        error_contains: f.error_contains.as_deref(),
    };
    let ids = journeys::select_for_retry(state.engine.pool(), &selection).await?;
    let result = retry_each(&state.engine, &ids, &caller, &req.reason).await?;
    let detail = json!({ "reason": req.reason, "retried": result.retried.len(),
                         "skipped": result.skipped.len() });
    carepath_workflows::store::audit::record(
        state.engine.pool(),
        &caller.actor().0,
        "bulk_retry",
        "journeys",
        &detail,
    )
    .await?;
    Ok(Json(result))
}

/// Retries each of the journeys `ids` for `caller` with `reason`: those
/// retried, and those skipped because retry no longer applied to them (or
/// they are gone).
pub(crate) async fn retry_each(
    engine: &Engine,
    ids: &[Uuid],
    caller: &Caller,
    reason: &str,
) -> Result<BulkRetryResult, ApiError> {
    let mut result = BulkRetryResult {
        retried: Vec::new(),
        skipped: Vec::new(),
    };
    for id in ids {
        match engine.retry(*id, &caller.actor(), reason).await {
            Ok(_) => result.retried.push(*id),
            Err(EngineError::NotApplicable { .. } | EngineError::JourneyNotFound(_)) => {
                result.skipped.push(*id)
            }
            Err(e) => return Err(e.into()),
        }
    }
    Ok(result)
}
