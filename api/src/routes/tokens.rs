//! `/v1/tokens`: admins create and revoke API tokens.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;

use crate::AppState;
use crate::auth::{self, AsAdmin, TokenError};
use crate::error::{ApiError, ErrorBody, ErrorCode};
use crate::extract::{Body, NameParam};
use crate::routes::vendors::audit;
use crate::views::{
    EndSessionsRequest, MAX_TOKEN_NAME, SessionsEnded, TokenCreated, TokenName, TokenRequest,
};
use carepath_workflows::store::console_sessions::{self, Holder};

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

#[utoipa::path(post, path = "/v1/console-sessions/end", tag = "tokens", request_body = EndSessionsRequest,
    responses((status = 200, description = "The holder's open console sessions are ended (none is fine)", body = SessionsEnded),
              (status = 401, description = "Missing or unknown bearer token", body = ErrorBody), (status = 403, description = "The token's role does not allow this", body = ErrorBody),
              (status = 422, description = "Invalid request; the failing fields are named", body = ErrorBody)))]
/// Ends every open console session of a person (signed in through OpenID
/// Connect, whom no token revocation reaches) or of a token.
pub async fn end_console_sessions(
    State(state): State<AppState>,
    caller: AsAdmin,
    Body(req): Body<EndSessionsRequest>,
) -> Result<Json<SessionsEnded>, ApiError> {
    crate::routes::journeys::bounded("reason", &req.reason, crate::views::MAX_REASON)?;
    let holder = match req.holder.split_once(':') {
        Some(("token", name)) if !name.is_empty() => Holder::Token(name),
        Some(("oidc", person)) if !person.is_empty() => Holder::Person(person),
        _ => {
            return Err(ApiError::field(
                "holder",
                "must be token:<name> or oidc:<email>",
            ));
        }
    };
    if req.holder.chars().count() > 300 {
        return Err(ApiError::field("holder", "must be at most 300 characters"));
    }
    let ended = console_sessions::end_all(state.engine.pool(), holder).await?;
    audit(
        &state,
        &caller,
        "console_sessions_end",
        &req.holder,
        &req.reason,
    )
    .await?;
    Ok(Json(SessionsEnded {
        holder: req.holder,
        ended,
    }))
}
