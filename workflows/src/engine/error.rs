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
                waiting_for: crate::store::journeys::vendor_wait(vendor),
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

/// Errors that the same work will meet again, however often it is retried:
/// data the database will not store (SQLSTATE class 22), a broken constraint
/// (23), a limit exceeded (54), or a stored value that cannot be decoded.
pub fn refuses_forever(e: &sqlx::Error) -> bool {
    match e {
        sqlx::Error::Database(db) => db
            .code()
            .is_some_and(|c| c.starts_with("22") || c.starts_with("23") || c.starts_with("54")),
        sqlx::Error::ColumnDecode { .. } | sqlx::Error::Decode(_) => true,
        _ => false,
    }
}

/// A database error in a step: data the database refuses will be refused on
/// every attempt, so it fails the step at once; anything else is retried.
impl From<sqlx::Error> for StepError {
    fn from(e: sqlx::Error) -> Self {
        if refuses_forever(&e) {
            StepError::permanent(format!("the database refused it: {e}"))
        } else {
            StepError::transient(format!("database: {e}"))
        }
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
    /// This idempotency key already started a journey of this workflow with a
    /// different request (input).
    #[error("this idempotency key was already used for a different request")]
    IdempotencyKeyReused,
    /// The workflow does not receive a signal of this name.
    #[error("{workflow} does not receive a signal named {name:?}")]
    UnknownSignal {
        workflow: String,
        name: String,
        /// The names it does receive.
        accepted: Vec<String>,
    },
    /// A value the engine was asked to store or process breaks its rules
    /// (such as [`crate::storable`]): where (`payload.a.b`, `body`), and what.
    #[error("{path}: {problem}")]
    Invalid { path: String, problem: String },
    #[error("database: {0}")]
    Database(#[from] sqlx::Error),
    #[error("queue: {0}")]
    Queue(#[from] apalis_postgres::Error),
    /// A journey's run was cut short; it stays due and runs again.
    #[error("run interrupted: {0}")]
    Interrupted(String),
}

impl EngineError {
    /// Whether this error is about the data being handled (and so will recur
    /// however often it is retried), rather than about the database's
    /// availability: such work is parked or failed, never retried in a loop.
    pub fn is_data_error(&self) -> bool {
        match self {
            EngineError::Database(e) => refuses_forever(e),
            EngineError::Invalid { .. } => true,
            _ => false,
        }
    }
}

impl EngineError {
    /// A value that breaks the storable rule, found at `path` under `root`.
    pub fn unstorable(root: &str, e: crate::storable::Unstorable) -> Self {
        Self::Invalid {
            path: e.path_under(root),
            problem: e.problem.to_owned(),
        }
    }
}
