//! `POST /v1/journeys/search`: the journeys a business identifier names.

use axum::Json;
use axum::extract::State;

use carepath_workflows::SearchTerm;
use carepath_workflows::store::journeys;

use crate::AppState;
use crate::auth::AsOperator;
use crate::error::{ApiError, ErrorBody};
use crate::extract::Body;
use crate::routes::journeys::bounded;
use crate::views::{JourneyView, MAX_KEY, SearchHit, SearchRequest, SearchResult};

#[utoipa::path(post, path = "/v1/journeys/search", tag = "journeys", request_body = SearchRequest,
    responses((status = 200, description = "The journeys it names, newest first (none is an empty list)", body = SearchResult),
              (status = 401, description = "Missing or unknown bearer token", body = ErrorBody),
              (status = 403, description = "The token's role does not allow this", body = ErrorBody),
              (status = 422, description = "Invalid request; the failing fields are named", body = ErrorBody)))]
pub async fn search(
    State(state): State<AppState>,
    _caller: AsOperator,
    Body(req): Body<SearchRequest>,
) -> Result<Json<SearchResult>, ApiError> {
    bounded("query", &req.query, MAX_KEY)?;
    let limit = req.limit.unwrap_or(20);
    if !(1..=100).contains(&limit) {
        return Err(ApiError::field("limit", "must be between 1 and 100"));
    }
    // Every workflow reads the query as the identifiers it indexes.
    let mut candidates: Vec<SearchTerm> = Vec::new();
    for code in state.engine.registry().all() {
        for term in code.search_candidates(&req.query) {
            if !candidates.contains(&term) {
                candidates.push(term);
            }
        }
    }
    let found = state
        .engine
        .search(req.query.trim(), &candidates, limit)
        .await?;
    let mut items = Vec::with_capacity(found.len());
    for f in found {
        if let Some(journey) = journeys::get(state.engine.pool(), f.journey_id).await? {
            items.push(SearchHit {
                journey: JourneyView::from(journey),
                matched_by: f.matched,
            });
        }
    }
    Ok(Json(SearchResult { items }))
}
