//! `/v1/tokens`: admins create and revoke API tokens.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;

use crate::AppState;
use crate::auth::{self, AsAdmin, TokenError};
use crate::error::{ApiError, ErrorBody, ErrorCode};
use crate::extract::{Body, NameParam};
use crate::routes::vendors::audit;
use crate::views::{MAX_TOKEN_NAME, TokenCreated, TokenName, TokenRequest};

#[utoipa::path(post, path = "/v1/tokens", tag = "tokens", request_body = TokenRequest,
    responses((status = 201, description = "Created", body = TokenCreated), (status = 401, description = "Missing or unknown bearer token", body = ErrorBody), (status = 403, description = "The token's role does not allow this", body = ErrorBody),
              (status = 409, description = "Does not apply to the current state", body = ErrorBody), (status = 422, description = "Invalid request; the failing fields are named", body = ErrorBody)))]
pub async fn create(
    State(state): State<AppState>,
    caller: AsAdmin,
    Body(req): Body<TokenRequest>,
) -> Result<(StatusCode, Json<TokenCreated>), ApiError> {
    // Characters, not bytes: the document's `maxLength` counts characters.
    if req.name.trim().is_empty() || req.name.chars().count() > MAX_TOKEN_NAME {
        return Err(ApiError::field("name", "must be 1 to 100 characters"));
    }
    let token = auth::create_token(state.engine.pool(), &req.name, req.role)
        .await
        .map_err(|e| match e {
            TokenError::NameTaken(_) => {
                ApiError::new(StatusCode::CONFLICT, ErrorCode::Conflict, e.to_string())
            }
            TokenError::Database(e) => ApiError::internal(e),
        })?;
    audit(
        &state,
        &caller,
        "token_create",
        &req.name,
        req.role.as_str(),
    )
    .await?;
    Ok((
        StatusCode::CREATED,
        Json(TokenCreated {
            name: req.name,
            role: req.role,
            token,
        }),
    ))
}

#[utoipa::path(delete, path = "/v1/tokens/{name}", tag = "tokens",
    params(("name" = inline(TokenName), Path, description = "Token name")),
    responses((status = 204, description = "Revoked"), (status = 401, description = "Missing or unknown bearer token", body = ErrorBody),
              (status = 403, description = "The token's role does not allow this", body = ErrorBody), (status = 404, description = "Not found", body = ErrorBody)))]
pub async fn revoke(
    State(state): State<AppState>,
    caller: AsAdmin,
    NameParam(name): NameParam,
) -> Result<StatusCode, ApiError> {
    if !auth::revoke_token(state.engine.pool(), &name).await? {
        return Err(ApiError::not_found(format!("no live token named {name:?}")));
    }
    audit(&state, &caller, "token_revoke", &name, "").await?;
    Ok(StatusCode::NO_CONTENT)
}
