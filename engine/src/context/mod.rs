//! What a workflow sees: `step`, `sleep` and `wait_signal`, each memoized by
//! its key and its position in the journey's history.
//!
//! The workflow function is re-run from the top on every resume. Each call
//! takes the next position: if history recorded it, the recorded outcome is
//! returned (and the key must match, or the run is non-deterministic); if not,
//! the work is done now and its outcome committed before the call returns.
//! One file per kind of position: [`step`](JourneyCtx::step) in `step.rs`,
//! [`sleep`](JourneyCtx::sleep) in `sleep.rs`,
//! [`wait_signal`](JourneyCtx::wait_signal) in `signal.rs`.

mod signal;
mod sleep;
mod step;

use std::collections::HashMap;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use serde_json::Value;
use sqlx::PgConnection;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

pub use step::StepCtx;

use crate::checkpoint::Checkpoints;
use crate::config::RetryPolicy;
use crate::error::WorkflowError;
use crate::queue::{JourneyTask, RunAt, push_task};
use crate::runner::JourneyLock;
use crate::store::journeys::{self, JourneyStatus};
use crate::store::steps::{StepKind, StepRecord};
use crate::vault::{JourneySeal, Payload, Place};
use crate::waiting::WaitingFor;

/// Longer timers and timeouts are clamped: ten years is "never" for a journey,
/// and PostgreSQL intervals overflow not far beyond.
const MAX_WAIT: Duration = Duration::from_secs(10 * 365 * 24 * 3600);

/// How long a journey's status, read by its claim or by its last step's
/// checkpoint, stands for "still running" before the next step: the
/// checkpoint reads it at its commit, and the next step follows at once, so
/// a separate read per step would only cost a round trip. An operator's
/// pause or cancel committed within this window after a checkpoint may let
/// one more step start.
const STATUS_FRESH: Duration = Duration::from_millis(5);

/// How long a run goes on without using the connection that holds its
/// journey's lock. Checkpoints commit elsewhere, so a killed lock connection
/// would otherwise go unnoticed until the run ends; the check before a step
/// reads on it at least this often, and a dead one ends the run.
const LOCK_CHECK_EVERY: Duration = Duration::from_secs(1);

/// Text PostgreSQL will store: NUL is the one character it refuses.
fn storable(text: &str) -> String {
    text.replace('\0', "\u{fffd}")
}

/// A journey's run, as its workflow function sees it: the positions history
/// recorded, the one it is at, and the journey's lock (a connection every
/// checkpoint commits through). Made by the engine for each run; a workflow
/// only calls [`step`](Self::step), [`sleep`](Self::sleep),
/// [`wait_signal`](Self::wait_signal) and [`set_phase`](Self::set_phase).
pub struct JourneyCtx {
    journey_id: Uuid,
    workflow: String,
    conn: JourneyLock,
    recorded: Vec<StepRecord>,
    position: usize,
    occurrences: HashMap<String, u32>,
    retry: RetryPolicy,
    shutdown: CancellationToken,
    stored_phase: String,
    phase: String,
    stored_attempts: i32,
    /// Whether the row carries a `last_error` (a retry's, a vendor hold's, an
    /// interrupted run's) that the next completed step must clear.
    stored_error: bool,
    /// The journey's rewinds so far (see [`StepCtx::rewinds`]).
    rewinds: u32,
    /// What seals the outputs it records.
    seal: JourneySeal,
    /// This run's number ([`crate::store::journeys::Claimed::runs`]).
    run: i64,
    /// The process's group checkpoint writer.
    checkpoints: Checkpoints,
    /// When the journey was last seen running (its claim, its last checkpoint).
    running_seen: Option<Instant>,
    /// When the lock's connection last answered.
    lock_seen: Instant,
}

/// Where a run starts from: what the claim read off the journey's row.
pub(crate) struct RunStart {
    pub journey_id: Uuid,
    pub workflow: String,
    pub recorded: Vec<StepRecord>,
    pub retry: RetryPolicy,
    pub shutdown: CancellationToken,
    pub phase: String,
    pub attempts: i32,
    /// Whether the journey's row has a `last_error`.
    pub erred: bool,
    /// The journey's `rewinds`.
    pub rewinds: u32,
    /// The journey's data key and its workflow's marking.
    pub seal: JourneySeal,
    /// The run's number, from its claim.
    pub run: i64,
    /// When the claim saw the journey running.
    pub claimed_at: Instant,
    /// The process's group checkpoint writer.
    pub checkpoints: Checkpoints,
}

impl JourneyCtx {
    pub(crate) fn new(conn: JourneyLock, start: RunStart) -> Self {
        Self {
            journey_id: start.journey_id,
            workflow: start.workflow,
            conn,
            recorded: start.recorded,
            position: 0,
            occurrences: HashMap::new(),
            retry: start.retry,
            shutdown: start.shutdown,
            stored_phase: start.phase.clone(),
            phase: start.phase,
            stored_attempts: start.attempts,
            stored_error: start.erred,
            rewinds: start.rewinds,
            seal: start.seal,
            run: start.run,
            checkpoints: start.checkpoints,
            running_seen: Some(start.claimed_at),
            lock_seen: start.claimed_at,
        }
    }

    /// What seals this journey's payloads.
    pub(crate) fn seal(&self) -> &JourneySeal {
        &self.seal
    }

    /// `value` as the position `seq` (key `key`) stores it: sealed when
    /// `payload` is.
    pub(crate) fn stored_output(
        &self,
        payload: Payload<'_>,
        seq: i32,
        key: &str,
        value: &Value,
    ) -> Value {
        let place = Place::step_output(self.journey_id, seq, key);
        self.seal.seal(payload, &place, value)
    }

    pub(crate) fn into_lock(self) -> JourneyLock {
        self.conn
    }

    /// The journey this run is of.
    pub fn journey_id(&self) -> Uuid {
        self.journey_id
    }

    /// Names where the journey is, for people (`awaiting_clinician_review`).
    /// Stored with the next thing the journey records, not on replay.
    pub fn set_phase(&mut self, phase: &str) {
        phase.clone_into(&mut self.phase);
    }

    /// The phase as it will be stored.
    pub(crate) fn phase(&self) -> &str {
        &self.phase
    }

    /// The key history recorded at the journey's next position (`check_case`,
    /// `signal:clinical.case#3`), when this run is replaying one; `None` past
    /// the end of history. Lets code that learnt to act on something it used
    /// to pass over keep the path a journey already took.
    pub fn recorded_next(&self) -> Option<&str> {
        self.recorded.get(self.position).map(|r| r.key.as_str())
    }

    /// Positions recorded in history that this run has not reached: non-empty at
    /// the end of a run means the code no longer does what history says it did.
    pub(crate) fn unreached(&self) -> &[StepRecord] {
        &self.recorded[self.position.min(self.recorded.len())..]
    }

    pub(crate) fn conn(&mut self) -> &mut PgConnection {
        self.conn.conn()
    }

    /// Takes the next position for `key`; a key used again gets `#2`, `#3`, ...
    fn next_position(&mut self, key: &str) -> (i32, String) {
        let n = self.occurrences.entry(key.to_owned()).or_insert(0);
        *n += 1;
        let key = if *n == 1 {
            key.to_owned()
        } else {
            format!("{key}#{n}")
        };
        self.position += 1;
        (self.position as i32, key)
    }

    /// What history recorded at `seq`, which must be `kind` `key`.
    fn recorded_at(
        &self,
        seq: i32,
        key: &str,
        kind: StepKind,
    ) -> Result<Option<StepRecord>, WorkflowError> {
        let Some(rec) = self.recorded.get(seq as usize - 1) else {
            return Ok(None);
        };
        if rec.key != key || rec.kind != kind {
            return Err(WorkflowError::NonDeterminism(format!(
                "at position {seq} the code asks for {kind} {key:?} but history recorded {} {:?}",
                rec.kind, rec.key
            )));
        }
        Ok(Some(rec.clone()))
    }

    /// Whether an operator stopped the journey since this run claimed it:
    /// read afresh, on the lock's connection, unless the claim or the last
    /// checkpoint saw it running within [`STATUS_FRESH`] and that connection
    /// answered within [`LOCK_CHECK_EVERY`].
    async fn ensure_running(&mut self) -> Result<(), WorkflowError> {
        let seen = self
            .running_seen
            .is_some_and(|at| at.elapsed() < STATUS_FRESH);
        if seen && self.lock_seen.elapsed() < LOCK_CHECK_EVERY {
            return Ok(());
        }
        let status = journeys::status(self.conn.conn(), self.journey_id, false).await?;
        self.lock_seen = Instant::now();
        match status {
            JourneyStatus::Running => {
                self.running_seen = Some(Instant::now());
                Ok(())
            }
            _ => Err(WorkflowError::Stopped),
        }
    }

    /// Parks the journey until `wake_at` (or until a signal or an operator
    /// moves it, when `None`).
    async fn suspend<T>(
        &mut self,
        waiting_for: &WaitingFor,
        wake_at: Option<DateTime<Utc>>,
    ) -> Result<T, WorkflowError> {
        let mut tx = sqlx::Connection::begin(self.conn.conn()).await?;
        let outcome = suspend_in(&mut tx, self.journey_id, &self.phase, waiting_for, wake_at).await;
        tx.commit().await?;
        self.stored_phase.clone_from(&self.phase);
        Err(outcome)
    }
}

/// The journey's new state and its wake-up task commit together, so a journey
/// is never waiting without the task that will wake it. Returns what the
/// workflow call must return: `Suspended`, or `Stopped` when an operator
/// paused or cancelled the journey meanwhile.
async fn suspend_in(
    tx: &mut PgConnection,
    journey_id: Uuid,
    phase: &str,
    waiting_for: &WaitingFor,
    wake_at: Option<DateTime<Utc>>,
) -> WorkflowError {
    let fence = match journeys::suspend(&mut *tx, journey_id, phase, waiting_for, wake_at).await {
        Ok(fence) => fence,
        Err(e) => return e.into(),
    };
    let Some(fence) = fence else {
        return WorkflowError::Stopped;
    };
    if let Some(at) = wake_at {
        let task = JourneyTask { journey_id, fence };
        if let Err(e) = push_task(tx, task, RunAt::NotBefore(at)).await {
            return WorkflowError::Interrupted(format!("could not enqueue the wake-up: {e}"));
        }
    }
    WorkflowError::Suspended
}
