//! `ctx.step`: work done once per journey, its outcome recorded — success,
//! a retry after backoff (or after a vendor's hold, counting no attempt), or
//! failure.

use std::future::Future;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};
use uuid::Uuid;

use super::{JourneyCtx, storable, suspend_in};
use crate::checkpoint::NotRecorded;
use crate::error::{StepError, WorkflowError};
use crate::metrics;
use crate::store::checkpoints::{Completed, Ownership};
use crate::store::journeys::JourneyStatus;
use crate::store::steps::{self, Position, StepKind, StepStatus};
use crate::store::{history, journeys};
use crate::vault::Payload;
use crate::waiting::WaitingFor;

/// A vendor's Retry-After beyond a week is not believed.
const MAX_RETRY_AFTER: Duration = Duration::from_secs(7 * 24 * 3600);

/// Handed to a step's closure: who is calling, and the key that makes a
/// vendor recognise a retried call as the same call.
#[derive(Debug, Clone)]
pub struct StepCtx {
    /// The journey the step belongs to.
    pub journey_id: Uuid,
    /// The step's key at its position (`notify#2` for the second `notify`).
    pub key: String,
    /// 1 on the first execution; counts failed attempts before this one plus one.
    pub attempt: u32,
    /// How many times an operator rewound the journey before this run
    /// ([`Engine::rewind`](crate::Engine::rewind)); 0 for most journeys.
    pub rewinds: u32,
}

impl StepCtx {
    /// `<journey id>:<step key>`: stable across retries and crashes of this
    /// step of this journey, so a vendor sees one call however often it is
    /// made. After the journey was rewound `n` times, `<journey id>:<step
    /// key>:rewind<n>`: a step run again after a rewind is a new call, which
    /// a vendor must not answer from the superseded one.
    pub fn idempotency_key(&self) -> String {
        match self.rewinds {
            0 => format!("{}:{}", self.journey_id, self.key),
            n => format!("{}:{}:rewind{n}", self.journey_id, self.key),
        }
    }
}

/// A failed attempt to record, and what the journey waits for meanwhile.
struct Retry<'a> {
    attempts: u32,
    message: &'a str,
    delay: Duration,
    waiting_for: WaitingFor,
}

/// The attempt under way: where, which, and since when.
struct Attempt<'a> {
    seq: i32,
    key: &'a str,
    attempt: u32,
    /// Failed attempts before this one.
    prior: u32,
    started_at: DateTime<Utc>,
}

impl Attempt<'_> {
    fn position(&self, journey_id: Uuid) -> Position<'_> {
        Position {
            journey_id,
            seq: self.seq,
            key: self.key,
        }
    }
}

impl JourneyCtx {
    /// Runs `work` once for this journey and remembers its output. On resume
    /// the stored output is returned and `work` is not called.
    ///
    /// # Errors
    /// [`WorkflowError::Suspended`] when the step will be retried later (the
    /// workflow function must return it as is); `Failed` when the step failed
    /// for good or its output cannot be recorded; `NonDeterminism` when history
    /// recorded something else here; `Stopped`/`Released` when an operator or
    /// a shutdown stopped the run; database errors.
    pub async fn step<T, F, Fut>(&mut self, key: &str, work: F) -> Result<T, WorkflowError>
    where
        T: Serialize + DeserializeOwned,
        F: FnOnce(super::StepCtx) -> Fut,
        Fut: Future<Output = Result<T, StepError>>,
    {
        let (seq, key) = self.next_position(key);
        let mut prior = 0;
        if let Some(rec) = self.recorded_at(seq, &key, StepKind::Step)? {
            match rec.status {
                StepStatus::Completed => {
                    return Ok(serde_json::from_value(rec.output.unwrap_or(Value::Null))?);
                }
                StepStatus::Retrying if !rec.due => {
                    return self.suspend(&WaitingFor::Retry { key }, rec.due_at).await;
                }
                StepStatus::Retrying => prior = rec.attempts as u32,
                StepStatus::Failed | StepStatus::Waiting | StepStatus::Cancelled => {
                    let error = rec.last_error.unwrap_or_else(|| "step failed".into());
                    return Err(WorkflowError::Failed(format!("step {key}: {error}")));
                }
            }
        }
        if self.shutdown.is_cancelled() {
            return Err(WorkflowError::Released);
        }
        // An operator's pause or cancel stops the journey before its next step:
        // a step already under way finishes, none starts after the pause.
        self.ensure_running().await?;
        let attempt = Attempt {
            seq,
            key: &key,
            attempt: prior + 1,
            prior,
            started_at: Utc::now(),
        };
        let result = self.run_work(&attempt, work).await;
        self.settle(&attempt, result).await
    }

    /// Does the work, counted and timed by step name (`notify#2` counts as
    /// `notify`) and traced.
    async fn run_work<T, F, Fut>(&self, at: &Attempt<'_>, work: F) -> Result<T, StepError>
    where
        F: FnOnce(super::StepCtx) -> Fut,
        Fut: Future<Output = Result<T, StepError>>,
    {
        let name = at.key.split('#').next().unwrap_or(at.key);
        let count = |outcome: &str| {
            metrics::STEPS
                .with_label_values(&[self.workflow.as_str(), name, outcome])
                .inc();
        };
        count("started");
        let timer = std::time::Instant::now();
        let span = tracing::info_span!("step", journey_id = %self.journey_id,
            workflow = %self.workflow, step = %at.key, attempt = at.attempt);
        let step = super::StepCtx {
            journey_id: self.journey_id,
            key: at.key.to_owned(),
            attempt: at.attempt,
            rewinds: self.rewinds,
        };
        let result = tracing::Instrument::instrument(work(step), span).await;
        metrics::STEP_SECONDS
            .with_label_values(&[self.workflow.as_str(), name])
            .observe(timer.elapsed().as_secs_f64());
        count(match &result {
            Ok(_) => "succeeded",
            Err(StepError::Permanent { .. }) => "failed",
            Err(StepError::Transient { .. }) if at.attempt >= self.retry.max_attempts => "failed",
            Err(_) => "retried",
        });
        result
    }

    /// Records what the work came to and says what the workflow sees.
    async fn settle<T: Serialize>(
        &mut self,
        at: &Attempt<'_>,
        result: Result<T, StepError>,
    ) -> Result<T, WorkflowError> {
        let key = at.key;
        match result {
            Ok(value) => {
                let output = serde_json::to_value(&value)?;
                // Recorded output is read back on every later run: what could
                // not be stored or decoded fails the step now, visibly.
                if let Err(e) = crate::storable::check(&output) {
                    let message = format!("its output cannot be recorded: {}", e.under("output"));
                    self.record_failure(at, &message).await?;
                    return Err(WorkflowError::Failed(format!("step {key}: {message}")));
                }
                self.record_success(at, output).await?;
                Ok(value)
            }
            Err(StepError::Transient {
                message,
                retry_after,
            }) if at.attempt < self.retry.max_attempts => {
                let delay = retry_after
                    .map(|d| d.min(MAX_RETRY_AFTER))
                    .unwrap_or_else(|| self.retry.delay_after(at.attempt));
                let retry = Retry {
                    attempts: at.attempt,
                    message: &message,
                    delay,
                    waiting_for: WaitingFor::Retry {
                        key: key.to_owned(),
                    },
                };
                self.record_retry(at, retry).await
            }
            Err(StepError::Unavailable {
                message,
                retry_after,
                waiting_for,
            }) => {
                // The vendor is on hold: waiting for it is not a failed attempt,
                // so an outage of any length never exhausts the step's budget.
                let retry = Retry {
                    attempts: at.prior,
                    message: &message,
                    delay: retry_after.min(MAX_RETRY_AFTER),
                    waiting_for,
                };
                self.record_retry(at, retry).await
            }
            Err(e) => {
                let message = match &e {
                    StepError::Transient { message, .. } => {
                        format!("gave up after {} attempts: {message}", at.attempt)
                    }
                    StepError::Permanent { message } | StepError::Unavailable { message, .. } => {
                        message.clone()
                    }
                };
                self.record_failure(at, &message).await?;
                Err(WorkflowError::Failed(format!("step {key}: {message}")))
            }
        }
    }

    /// The phase to store with the step (its attempts reset, its error
    /// cleared), when any of those differ from what the row holds.
    fn journey_changes(&self) -> Option<String> {
        (self.phase != self.stored_phase || self.stored_attempts != 0 || self.stored_error)
            .then(|| self.phase.clone())
    }

    async fn record_success(
        &mut self,
        at: &Attempt<'_>,
        output: Value,
    ) -> Result<(), WorkflowError> {
        let output = self.stored_output(Payload::Step(at.key), at.seq, at.key, &output);
        let phase = self.journey_changes();
        let step = Completed {
            journey_id: self.journey_id,
            run: self.run,
            seq: at.seq,
            key: at.key.to_owned(),
            output,
            attempt: at.attempt as i32,
            started_at: at.started_at,
            phase: phase.clone(),
        };
        match self.checkpoints.record(step).await {
            // What the checkpoint read stands for the next step's check; a
            // journey no longer running is read again there, and stops.
            Ok(status) => {
                self.running_seen = (status == JourneyStatus::Running).then(Instant::now);
            }
            Err(NotRecorded::NoWriter(step)) => self.record_success_here(&step).await?,
            Err(NotRecorded::Superseded) => {
                tracing::warn!(journey_id = %self.journey_id,
                    "another run took this journey over; this run's step is not recorded");
                return Err(WorkflowError::Stopped);
            }
            Err(NotRecorded::Refused(e)) => return Err(e.into()),
            Err(NotRecorded::Interrupted(message)) => {
                return Err(WorkflowError::Interrupted(message));
            }
        }
        if let Some(phase) = phase {
            self.stored_phase = phase;
            self.stored_attempts = 0;
            self.stored_error = false;
        }
        Ok(())
    }

    /// The step's checkpoint on the journey's own connection (group
    /// checkpoints off, or no runtime to run their writer).
    async fn record_success_here(&mut self, step: &Completed) -> Result<(), WorkflowError> {
        let held = Ownership::LockHeld;
        let written = crate::checkpoint::write_group(self.conn(), &[step], held).await?;
        if written.is_empty() {
            return Err(WorkflowError::Stopped);
        }
        Ok(())
    }

    async fn record_retry<T>(
        &mut self,
        at: &Attempt<'_>,
        retry: Retry<'_>,
    ) -> Result<T, WorkflowError> {
        let journey_id = self.journey_id;
        let message = storable(retry.message);
        let attempts = retry.attempts as i32;
        let mut tx = sqlx::Connection::begin(self.conn.conn()).await?;
        let due_at = steps::record_retrying(
            &mut *tx,
            at.position(journey_id),
            attempts,
            &message,
            at.started_at,
            retry.delay,
        )
        .await?;
        journeys::set_failing(&mut *tx, journey_id, attempts, &message).await?;
        self.stored_attempts = attempts;
        self.stored_error = true;
        history::append(
            &mut *tx,
            journey_id,
            "engine",
            "step_retry_scheduled",
            json!({ "step": at.key, "attempt": retry.attempts, "error": message,
                    "retry_at": due_at, "waiting_for": retry.waiting_for }),
        )
        .await?;
        let outcome = suspend_in(
            &mut tx,
            journey_id,
            &self.phase,
            &retry.waiting_for,
            Some(due_at),
        )
        .await;
        tx.commit().await?;
        self.stored_phase.clone_from(&self.phase);
        Err(outcome)
    }

    async fn record_failure(
        &mut self,
        at: &Attempt<'_>,
        message: &str,
    ) -> Result<(), WorkflowError> {
        let position = at.position(self.journey_id);
        steps::record_failed(
            self.conn(),
            position,
            at.attempt as i32,
            &storable(message),
            at.started_at,
        )
        .await?;
        Ok(())
    }
}
