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

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ErrorDetail {
    /// Stable, for programs: `unauthorized`, `forbidden`, `not_found`,
    /// `conflict`, `invalid`, `malformed`, `payload_too_large`, `internal`.
    pub code: String,
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
    pub fn new(status: StatusCode, code: &str, message: impl Into<String>) -> Self {
        Self {
            status,
            body: ErrorBody {
                error: ErrorDetail {
                    code: code.to_owned(),
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
        let mut e = Self::new(StatusCode::UNPROCESSABLE_ENTITY, "invalid", message);
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
        Self::new(StatusCode::NOT_FOUND, "not_found", what)
    }

    pub fn unauthorized() -> Self {
        Self::new(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "a valid bearer token is required",
        )
    }

    pub fn forbidden(needed: &str) -> Self {
        Self::new(
            StatusCode::FORBIDDEN,
            "forbidden",
            format!("this needs the {needed} role"),
        )
    }

    pub fn internal(e: impl std::fmt::Display) -> Self {
        tracing::error!(error = %e, "request failed");
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
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
                Self::new(StatusCode::CONFLICT, "conflict", e.to_string())
            }
            EngineError::IdempotencyKeyReused => {
                let mut error = Self::new(
                    StatusCode::CONFLICT,
                    "idempotency_key_reused",
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
