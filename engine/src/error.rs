//! Errors: what a step reports, what a workflow run ends with, and what the
//! engine's operations refuse.

use std::time::Duration;

use uuid::Uuid;

use crate::store::journeys::JourneyStatus;
use crate::waiting::WaitingFor;

/// How a step's work failed. The engine decides what happens next.
#[derive(Debug, thiserror::Error)]
pub enum StepError {
    /// Worth trying again later (a timeout, a 5xx, a vendor on hold). `retry_after`
    /// overrides the backoff when the failure says when to come back.
    #[error("{message}")]
    Transient {
        /// What went wrong: the journey's `last_error` while it retries,
        /// shown to operators.
        message: String,
        /// When the failure says when to come back (a 429's `Retry-After`),
        /// capped at seven days; `None`: the [`RetryPolicy`](crate::RetryPolicy)'s
        /// backoff.
        retry_after: Option<Duration>,
    },
    /// Will fail the same way every time (a vendor rejected the payload): the journey fails.
    #[error("{message}")]
    Permanent {
        /// Why: the failed journey's `last_error`, shown to operators.
        message: String,
    },
    /// Nothing to try until `retry_after` has passed (a vendor on hold). The
    /// journey waits with `waiting_for` shown, and no attempt is counted.
    #[error("{message}")]
    Unavailable {
        /// Why nothing can be tried (`clinical is on hold`), shown to operators.
        message: String,
        /// How long to wait before the step is tried again, capped at seven days.
        retry_after: Duration,
        /// What the journey is shown waiting for meanwhile (usually
        /// [`WaitingFor::Vendor`]).
        waiting_for: WaitingFor,
    },
}

impl StepError {
    /// A [`Transient`](Self::Transient) failure, retried on the policy's
    /// backoff (no `retry_after`).
    pub fn transient(message: impl Into<String>) -> Self {
        Self::Transient {
            message: message.into(),
            retry_after: None,
        }
    }

    /// A [`Permanent`](Self::Permanent) failure: the journey fails with `message`.
    pub fn permanent(message: impl Into<String>) -> Self {
        Self::Permanent {
            message: message.into(),
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
    /// A database error during the run. One the database will repeat however
    /// often it is retried ([`refuses_forever`]) fails the journey; any other
    /// leaves it due, to run again.
    #[error("database: {0}")]
    Database(#[from] sqlx::Error),
    /// The run was cut short by something other than the database (the queue);
    /// like a database error, the journey stays due and runs again.
    #[error("interrupted: {0}")]
    Interrupted(String),
}

impl WorkflowError {
    /// Gives the journey up as failed with `message` (its `last_error`, shown
    /// to operators); an operator may still retry it.
    pub fn fail(message: impl Into<String>) -> Self {
        Self::Failed(message.into())
    }
}

/// Sealed values a run cannot open fail the journey (they will not open on
/// another try); a KEK that cannot be used leaves it due, to run again once
/// the key ring is fixed.
impl From<crate::vault::VaultError> for WorkflowError {
    fn from(e: crate::vault::VaultError) -> Self {
        use crate::vault::VaultError as V;
        match e {
            V::Database(e) => Self::Database(e),
            V::Ring(_) | V::UnknownKek(_) | V::KekMismatch(_) | V::Wrapper(_) => {
                Self::Interrupted(e.to_string())
            }
            V::Erased => Self::Failed("the journey's PHI was erased: it cannot run again".into()),
            V::Tampered | V::Corrupt | V::MissingKey(_) => {
                Self::Failed(format!("a stored value cannot be read: {e}"))
            }
        }
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
    /// No journey has this id.
    #[error("journey {0} not found")]
    JourneyNotFound(Uuid),
    /// No version of a workflow of this name is registered in this process.
    #[error("workflow {0:?} is not registered")]
    UnknownWorkflow(String),
    /// The journey's status does not allow the action (cancelling a completed
    /// journey, signalling a cancelled one, a decision it does not wait for).
    /// The API answers it with 409.
    #[error("cannot {action} a journey that is {status}")]
    NotApplicable {
        /// The action refused: `signal`, `decide`, `pause`, `resume`,
        /// `cancel`, `retry` or `wake`.
        action: &'static str,
        /// The journey's status when it was refused.
        status: JourneyStatus,
    },
    /// The action could not be carried out for a reason other than the
    /// journey's status (a wake-up task that cannot be serialised).
    #[error("cannot {action}: {detail}")]
    Conflict {
        /// The action that failed (`enqueue`).
        action: &'static str,
        /// What stood in the way.
        detail: String,
    },
    /// This idempotency key already started a journey of this workflow with a
    /// different request (input).
    #[error("this idempotency key was already used for a different request")]
    IdempotencyKeyReused,
    /// The workflow does not receive a signal of this name.
    #[error("{workflow} does not receive a signal named {name:?}")]
    UnknownSignal {
        /// The journey's workflow.
        workflow: String,
        /// The signal name refused.
        name: String,
        /// The names it does receive.
        accepted: Vec<String>,
    },
    /// A value the engine was asked to store or process breaks its rules
    /// (such as [`crate::storable`]): where (`payload.a.b`, `body`), and what.
    #[error("{path}: {problem}")]
    Invalid {
        /// Where, under the value's root: `payload.a.b`, `input[3]`, `body`.
        path: String,
        /// What is wrong there (`must not contain the NUL character`).
        problem: String,
    },
    /// Sealing or opening PHI failed (see [`crate::vault`]).
    #[error("encryption at rest: {0}")]
    Vault(#[from] crate::vault::VaultError),
    /// A database error: worth retrying unless [`EngineError::is_data_error`]
    /// says it will recur.
    #[error("database: {0}")]
    Database(#[from] sqlx::Error),
    /// apalis-postgres could not push a journey's wake-up task.
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
            // A value erased, altered or moved will not open on another try;
            // the key ring's problems are fixed by configuration.
            EngineError::Vault(crate::vault::VaultError::Database(e)) => refuses_forever(e),
            EngineError::Vault(v) => !v.is_key_ring_problem(),
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::vault::VaultError;

    /// The inbox router parks an event whose data error will recur and goes
    /// on; any other error rolls its pass back to try again. An event for a
    /// journey whose PHI was erased must be parked, or it would hold every
    /// event behind it; a key ring that cannot unwrap is everybody's
    /// problem, fixed by configuration, and parks nothing.
    #[test]
    fn erased_or_altered_values_are_data_errors_and_key_ring_problems_are_not() {
        for e in [
            VaultError::Erased,
            VaultError::Tampered,
            VaultError::Corrupt,
        ] {
            assert!(EngineError::Vault(e).is_data_error());
        }
        for e in [
            VaultError::UnknownKek("k1".into()),
            VaultError::KekMismatch("k1".into()),
            VaultError::Wrapper("down".into()),
        ] {
            assert!(!EngineError::Vault(e).is_data_error());
        }
    }
}
