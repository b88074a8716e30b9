//! The one error shape of the API (ARCHITECTURE §6):
//! `{"error": {"code", "message", "fields": [{"path", "message"}]}}`.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use carepath_workflows::EngineError;
use serde::Serialize;
use utoipa::ToSchema;

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct FieldError {
    /// Where in the request: `input.patient.email`, `reason`, `event_id`.
    pub path: String,
    pub message: String,
}

/// The error's code: stable, for programs; the same text on the wire as
/// before it was typed (ARCHITECTURE §6).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    /// 401: no valid bearer token.
    Unauthorized,
    /// 403: the token's role may not do this.
    Forbidden,
    /// 404: no such journey, vendor, route, ...
    NotFound,
    /// 409: the resource is not in a state this applies to.
    Conflict,
    /// 409: the idempotency key started a different request.
    IdempotencyKeyReused,
    /// 422: a field is wrong; `fields` says which and why.
    Invalid,
    /// 400: the body is not what it must be (not JSON, not an object).
    Malformed,
    /// 413: the body is too large.
    PayloadTooLarge,
    /// 503: not ready to serve (the database is unreachable or unmigrated).
    NotReady,
    /// 500: the request changed nothing; the server's log says why.
    Internal,
}

/// The error itself: what a program branches on (`code`), what a person reads
/// (`message`), and which fields were wrong.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ErrorDetail {
    /// Stable, for programs.
    pub code: ErrorCode,
    pub message: String,
    pub fields: Vec<FieldError>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ErrorBody {
    pub error: ErrorDetail,
}

#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub body: ErrorBody,
}

impl ApiError {
    /// An error answered with `status`, `code` and `message` (no PHI: it
    /// reaches logs and the caller).
    pub fn new(status: StatusCode, code: ErrorCode, message: impl Into<String>) -> Self {
        Self {
            status,
            body: ErrorBody {
                error: ErrorDetail {
                    code,
                    message: message.into(),
                    fields: Vec::new(),
                },
            },
        }
    }

    pub fn invalid(fields: Vec<FieldError>) -> Self {
        let message = match fields.first() {
            Some(f) => format!("{}: {}", f.path, f.message),
            None => "invalid request".into(),
        };
        let mut e = Self::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            ErrorCode::Invalid,
            message,
        );
        e.body.error.fields = fields;
        e
    }

    pub fn field(path: &str, message: impl Into<String>) -> Self {
        Self::invalid(vec![FieldError {
            path: path.to_owned(),
            message: message.into(),
        }])
    }

    pub fn not_found(what: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, ErrorCode::NotFound, what)
    }

    pub fn unauthorized() -> Self {
        Self::new(
            StatusCode::UNAUTHORIZED,
            ErrorCode::Unauthorized,
            "a valid bearer token is required",
        )
    }

    pub fn forbidden(needed: &str) -> Self {
        Self::new(
            StatusCode::FORBIDDEN,
            ErrorCode::Forbidden,
            format!("this needs the {needed} role"),
        )
    }

    pub fn internal(e: impl std::fmt::Display) -> Self {
        tracing::error!(error = %e, "request failed");
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            ErrorCode::Internal,
            "the request could not be completed; it changed nothing",
        )
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (self.status, Json(self.body)).into_response()
    }
}

impl From<EngineError> for ApiError {
    fn from(e: EngineError) -> Self {
        match e {
            EngineError::JourneyNotFound(_) => Self::not_found(e.to_string()),
            EngineError::UnknownWorkflow(_) => Self::not_found(e.to_string()),
            EngineError::NotApplicable { .. } | EngineError::Conflict { .. } => {
                Self::new(StatusCode::CONFLICT, ErrorCode::Conflict, e.to_string())
            }
            EngineError::IdempotencyKeyReused => {
                let mut error = Self::new(
                    StatusCode::CONFLICT,
                    ErrorCode::IdempotencyKeyReused,
                    "this idempotency key already started a journey of this workflow with a \
                     different request; use a new key for a new request",
                );
                error.body.error.fields = vec![FieldError {
                    path: "idempotency_key".into(),
                    message: "was already used for a different request".into(),
                }];
                error
            }
            EngineError::UnknownSignal {
                ref workflow,
                ref accepted,
                ..
            } => Self::field(
                "name",
                if accepted.is_empty() {
                    format!("is not a signal {workflow} receives; it receives none")
                } else {
                    format!(
                        "is not a signal {workflow} receives; it receives {}",
                        accepted.join(", ")
                    )
                },
            ),
            EngineError::Invalid { path, problem } => Self::field(&path, problem),
            EngineError::Vault(carepath_engine::vault::VaultError::Erased) => Self::new(
                StatusCode::CONFLICT,
                ErrorCode::Conflict,
                "this journey's PHI was erased: it takes nothing more",
            ),
            EngineError::Vault(_) => Self::internal(e),
            EngineError::Database(_) | EngineError::Queue(_) | EngineError::Interrupted(_) => {
                Self::internal(e)
            }
        }
    }
}

impl From<sqlx::Error> for ApiError {
    fn from(e: sqlx::Error) -> Self {
        Self::internal(e)
    }
}
