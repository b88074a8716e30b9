//! Errors: what a step reports, what a workflow run ends with, and what the
//! engine's operations refuse.

use std::time::Duration;

use uuid::Uuid;

use crate::store::journeys::JourneyStatus;

/// How a step's work failed. The engine decides what happens next.
#[derive(Debug, thiserror::Error)]
pub enum StepError {
    /// Worth trying again later (a timeout, a 5xx, a vendor on hold). `retry_after`
    /// overrides the backoff when the failure says when to come back.
    #[error("{message}")]
    Transient {
        message: String,
        retry_after: Option<Duration>,
    },
    /// Will fail the same way every time (a vendor rejected the payload): the journey fails.
    #[error("{message}")]
    Permanent { message: String },
    /// Nothing to try until `retry_after` has passed (a vendor on hold). The
    /// journey waits with `waiting_for` shown, and no attempt is counted.
    #[error("{message}")]
    Unavailable {
        message: String,
        retry_after: Duration,
        waiting_for: String,
    },
}

impl StepError {
    pub fn transient(message: impl Into<String>) -> Self {
        Self::Transient {
            message: message.into(),
            retry_after: None,
        }
    }

    pub fn permanent(message: impl Into<String>) -> Self {
        Self::Permanent {
            message: message.into(),
        }
    }
}

/// A vendor's failure, as the engine should treat it: a vendor on hold makes
/// the journey wait (no attempt counted), a transient failure is retried with
/// backoff, a rejection fails the step with the vendor's message.
impl From<carepath_activities::VendorError> for StepError {
    fn from(e: carepath_activities::VendorError) -> Self {
        use carepath_activities::VendorError as V;
        match e {
            V::Held {
                ref vendor, until, ..
            } => StepError::Unavailable {
                message: e.to_string(),
                retry_after: (until - chrono::Utc::now()).to_std().unwrap_or_default(),
                waiting_for: format!("vendor:{vendor}"),
            },
            V::Transient {
                ref message,
                ref vendor,
                retry_after,
            } => StepError::Transient {
                message: format!("{vendor}: {message}"),
                retry_after,
            },
            V::Rejected { .. } => StepError::Permanent {
                message: e.to_string(),
            },
        }
    }
}

impl From<sqlx::Error> for StepError {
    fn from(e: sqlx::Error) -> Self {
        StepError::transient(format!("database: {e}"))
    }
}

/// Why a workflow function returned without an output. Workflows propagate it
/// with `?` and never need to construct one except [`WorkflowError::fail`].
#[derive(Debug, thiserror::Error)]
pub enum WorkflowError {
    /// The journey now waits (timer, signal or retry); its state is already stored.
    #[error("suspended")]
    Suspended,
    /// The journey was paused or cancelled while it ran; nothing more to do here.
    #[error("journey is no longer running")]
    Stopped,
    /// This worker is shutting down; the journey was handed back to the queue.
    #[error("released for shutdown")]
    Released,
    /// The journey cannot go on: it is failed, visibly, with this message.
    #[error("{0}")]
    Failed(String),
    /// The code asked for something other than what history recorded.
    #[error("non-determinism: {0}")]
    NonDeterminism(String),
    #[error("database: {0}")]
    Database(#[from] sqlx::Error),
    /// The run was cut short by something other than the database (the queue);
    /// like a database error, the journey stays due and runs again.
    #[error("interrupted: {0}")]
    Interrupted(String),
}

impl WorkflowError {
    pub fn fail(message: impl Into<String>) -> Self {
        Self::Failed(message.into())
    }
}

impl From<serde_json::Error> for WorkflowError {
    fn from(e: serde_json::Error) -> Self {
        WorkflowError::Failed(format!(
            "stored value does not match the workflow's type: {e}"
        ))
    }
}

/// Why an engine operation (start, signal, pause, ...) was refused.
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    #[error("journey {0} not found")]
    JourneyNotFound(Uuid),
    #[error("workflow {0:?} is not registered")]
    UnknownWorkflow(String),
    #[error("cannot {action} a journey that is {status}")]
    NotApplicable {
        action: &'static str,
        status: JourneyStatus,
    },
    #[error("cannot {action}: {detail}")]
    Conflict {
        action: &'static str,
        detail: String,
    },
    #[error("database: {0}")]
    Database(#[from] sqlx::Error),
    #[error("queue: {0}")]
    Queue(#[from] apalis_postgres::Error),
    /// A journey's run was cut short; it stays due and runs again.
    #[error("run interrupted: {0}")]
    Interrupted(String),
}
