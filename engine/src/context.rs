//! What a workflow sees: `step`, `sleep` and `wait_signal`, each memoized by
//! its key and its position in the journey's history.
//!
//! The workflow function is re-run from the top on every resume. Each call
//! takes the next position: if history recorded it, the recorded outcome is
//! returned (and the key must match, or the run is non-deterministic); if not,
//! the work is done now and its outcome committed before the call returns.

use std::collections::HashMap;
use std::future::Future;
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};
use sqlx::PgConnection;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use crate::metrics;

use crate::config::RetryPolicy;
use crate::error::{StepError, WorkflowError};
use crate::queue::{JourneyTask, RunAt, push_task};
use crate::store::steps::{StepKind, StepRecord};
use crate::store::{history, signals};
use crate::waiting::WaitingFor;

/// Longer timers and timeouts are clamped: ten years is "never" for a journey,
/// and PostgreSQL intervals overflow not far beyond.
const MAX_WAIT: Duration = Duration::from_secs(10 * 365 * 24 * 3600);
/// A vendor's Retry-After beyond a week is not believed.
const MAX_RETRY_AFTER: Duration = Duration::from_secs(7 * 24 * 3600);

/// A failed attempt to record, and what the journey waits for meanwhile.
struct Retry<'a> {
    attempts: u32,
    message: &'a str,
    delay: Duration,
    waiting_for: WaitingFor,
}

/// Text PostgreSQL will store: NUL is the one character it refuses.
fn storable(text: &str) -> String {
    text.replace('\0', "\u{fffd}")
}

/// Handed to a step's closure: who is calling, and the key that makes a
/// vendor recognise a retried call as the same call.
#[derive(Debug, Clone)]
pub struct StepCtx {
    pub journey_id: Uuid,
    pub key: String,
    /// 1 on the first execution; counts failed attempts before this one plus one.
    pub attempt: u32,
}

impl StepCtx {
    /// Stable across retries and crashes of this step of this journey.
    pub fn idempotency_key(&self) -> String {
        format!("{}:{}", self.journey_id, self.key)
    }
}

pub struct JourneyCtx {
    journey_id: Uuid,
    workflow: String,
    conn: crate::runner::JourneyLock,
    recorded: Vec<StepRecord>,
    position: usize,
    occurrences: HashMap<String, u32>,
    retry: RetryPolicy,
    shutdown: CancellationToken,
    stored_phase: String,
    phase: String,
    stored_attempts: i32,
}

impl JourneyCtx {
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn new(
        journey_id: Uuid,
        workflow: String,
        conn: crate::runner::JourneyLock,
        recorded: Vec<StepRecord>,
        retry: RetryPolicy,
        shutdown: CancellationToken,
        phase: String,
        attempts: i32,
    ) -> Self {
        Self {
            journey_id,
            workflow,
            conn,
            recorded,
            position: 0,
            occurrences: HashMap::new(),
            retry,
            shutdown,
            stored_phase: phase.clone(),
            phase,
            stored_attempts: attempts,
        }
    }

    pub(crate) fn into_lock(self) -> crate::runner::JourneyLock {
        self.conn
    }

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

    /// Runs `work` once for this journey and remembers its output. On resume
    /// the stored output is returned and `work` is not called.
    pub async fn step<T, F, Fut>(&mut self, key: &str, work: F) -> Result<T, WorkflowError>
    where
        T: Serialize + DeserializeOwned,
        F: FnOnce(StepCtx) -> Fut,
        Fut: Future<Output = Result<T, StepError>>,
    {
        let (seq, key) = self.next_position(key);
        let mut prior_attempts = 0;
        if let Some(rec) = self.recorded_at(seq, &key, StepKind::Step)? {
            match rec.status.as_str() {
                "completed" => {
                    return Ok(serde_json::from_value(rec.output.unwrap_or(Value::Null))?);
                }
                "retrying" if !rec.due => {
                    return self.suspend(&WaitingFor::Retry { key }, rec.due_at).await;
                }
                "retrying" => prior_attempts = rec.attempts,
                _ => {
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
        let attempt = prior_attempts as u32 + 1;
        let started_at = Utc::now();
        let step = StepCtx {
            journey_id: self.journey_id,
            key: key.clone(),
            attempt,
        };
        // By step name: `notify#2` counts as `notify`.
        let name = key.split('#').next().unwrap_or(&key).to_owned();
        let count = |outcome: &str| {
            metrics::STEPS
                .with_label_values(&[self.workflow.as_str(), &name, outcome])
                .inc();
        };
        count("started");
        let timer = std::time::Instant::now();
        let span = tracing::info_span!("step", journey_id = %self.journey_id,
            workflow = %self.workflow, step = %key, attempt);
        let result = tracing::Instrument::instrument(work(step), span).await;
        metrics::STEP_SECONDS
            .with_label_values(&[self.workflow.as_str(), &name])
            .observe(timer.elapsed().as_secs_f64());
        count(match &result {
            Ok(_) => "succeeded",
            Err(StepError::Permanent { .. }) => "failed",
            Err(StepError::Transient { .. }) if attempt >= self.retry.max_attempts => "failed",
            Err(_) => "retried",
        });
        match result {
            Ok(value) => {
                let output = serde_json::to_value(&value)?;
                // Recorded output is read back on every later run: what could
                // not be stored or decoded fails the step now, visibly.
                if let Err(e) = crate::storable::check(&output) {
                    let message = format!("its output cannot be recorded: {}", e.under("output"));
                    self.record_failure(seq, &key, attempt, &message, started_at)
                        .await?;
                    return Err(WorkflowError::Failed(format!("step {key}: {message}")));
                }
                self.record_success(seq, &key, output, attempt, started_at)
                    .await?;
                Ok(value)
            }
            Err(StepError::Transient {
                message,
                retry_after,
            }) if attempt < self.retry.max_attempts => {
                let delay = retry_after
                    .map(|d| d.min(MAX_RETRY_AFTER))
                    .unwrap_or_else(|| self.retry.delay_after(attempt));
                let retry = Retry {
                    attempts: attempt,
                    message: &message,
                    delay,
                    waiting_for: WaitingFor::Retry { key: key.clone() },
                };
                self.record_retry(seq, &key, retry, started_at).await
            }
            Err(StepError::Unavailable {
                message,
                retry_after,
                waiting_for,
            }) => {
                // The vendor is on hold: waiting for it is not a failed attempt,
                // so an outage of any length never exhausts the step's budget.
                let retry = Retry {
                    attempts: prior_attempts as u32,
                    message: &message,
                    delay: retry_after.min(MAX_RETRY_AFTER),
                    waiting_for,
                };
                self.record_retry(seq, &key, retry, started_at).await
            }
            Err(e) => {
                let message = match &e {
                    StepError::Transient { message, .. } => {
                        format!("gave up after {attempt} attempts: {message}")
                    }
                    StepError::Permanent { message } | StepError::Unavailable { message, .. } => {
                        message.clone()
                    }
                };
                self.record_failure(seq, &key, attempt, &message, started_at)
                    .await?;
                Err(WorkflowError::Failed(format!("step {key}: {message}")))
            }
        }
    }

    /// Waits `duration` of real time, durably: the timer is a row, so it
    /// survives restarts and fires once. An operator's `wake` fires it early.
    pub async fn sleep(&mut self, key: &str, duration: Duration) -> Result<(), WorkflowError> {
        let (seq, key) = self.next_position(key);
        if let Some(rec) = self.recorded_at(seq, &key, StepKind::Sleep)? {
            return match rec.status.as_str() {
                "completed" => Ok(()),
                _ if rec.due => self.fire_timer(seq, &key).await,
                _ => self.suspend(&WaitingFor::Timer { key }, rec.due_at).await,
            };
        }
        let mut tx = sqlx::Connection::begin(self.conn.conn()).await?;
        let (due_at, due): (DateTime<Utc>, bool) = sqlx::query_as(
            "INSERT INTO carepath.journey_steps (journey_id, seq, key, kind, status, due_at)
             VALUES ($1, $2, $3, 'sleep', 'waiting', now() + make_interval(secs => $4))
             RETURNING due_at, due_at <= now()",
        )
        .bind(self.journey_id)
        .bind(seq)
        .bind(&key)
        .bind(duration.min(MAX_WAIT).as_secs_f64())
        .fetch_one(&mut *tx)
        .await?;
        history::append(
            &mut *tx,
            self.journey_id,
            "engine",
            "timer_set",
            json!({ "step": key, "until": due_at }),
        )
        .await?;
        if due {
            tx.commit().await?;
            return self.fire_timer(seq, &key).await;
        }
        let outcome = suspend_in(
            &mut tx,
            self.journey_id,
            &self.phase,
            &WaitingFor::Timer { key: key.clone() },
            Some(due_at),
        )
        .await;
        tx.commit().await?;
        self.stored_phase.clone_from(&self.phase);
        Err(outcome)
    }

    /// Waits for the signal `name`; `None` when `timeout` passes first. A signal
    /// that arrived before the journey got here is kept and returned now.
    pub async fn wait_signal(
        &mut self,
        name: &str,
        timeout: Option<Duration>,
    ) -> Result<Option<Value>, WorkflowError> {
        let (seq, key) = self.next_position(&format!("signal:{name}"));
        let recorded = self.recorded_at(seq, &key, StepKind::Signal)?;
        if let Some(rec) = &recorded
            && rec.status == "completed"
        {
            let output = rec.output.clone().unwrap_or(Value::Null);
            return Ok(output.get("signal").map(|s| s["payload"].clone()));
        }
        // The journey row is locked before looking for the signal, so a signal
        // stored concurrently either is seen here or sees the journey waiting
        // and wakes it: it can never slip between the look and the wait.
        let mut tx = sqlx::Connection::begin(self.conn.conn()).await?;
        let status: String =
            sqlx::query_scalar("SELECT status FROM carepath.journeys WHERE id = $1 FOR UPDATE")
                .bind(self.journey_id)
                .fetch_one(&mut *tx)
                .await?;
        if status != "running" {
            return Err(WorkflowError::Stopped);
        }
        if recorded.is_none() {
            sqlx::query(
                "INSERT INTO carepath.journey_steps (journey_id, seq, key, kind, status, due_at)
                 VALUES ($1, $2, $3, 'signal', 'waiting', now() + make_interval(secs => $4))",
            )
            .bind(self.journey_id)
            .bind(seq)
            .bind(&key)
            .bind(timeout.map(|t| t.min(MAX_WAIT).as_secs_f64()))
            .execute(&mut *tx)
            .await?;
        }
        if let Some(signal) = signals::consume_next(&mut *tx, self.journey_id, name, seq).await? {
            let output = json!({ "signal": {
                "event_id": signal.event_id, "source": signal.source, "payload": signal.payload,
            }});
            complete_position(&mut tx, self.journey_id, seq, &output).await?;
            history::append(
                &mut *tx,
                self.journey_id,
                "engine",
                "signal_applied",
                json!({ "name": name, "source": signal.source, "event_id": signal.event_id }),
            )
            .await?;
            tx.commit().await?;
            return Ok(Some(signal.payload));
        }
        let (due_at, due): (Option<DateTime<Utc>>, bool) = sqlx::query_as(
            "SELECT due_at, coalesce(due_at <= now(), false) FROM carepath.journey_steps
              WHERE journey_id = $1 AND seq = $2",
        )
        .bind(self.journey_id)
        .bind(seq)
        .fetch_one(&mut *tx)
        .await?;
        if due {
            complete_position(&mut tx, self.journey_id, seq, &json!({ "timed_out": true })).await?;
            history::append(
                &mut *tx,
                self.journey_id,
                "engine",
                "signal_timed_out",
                json!({ "name": name }),
            )
            .await?;
            tx.commit().await?;
            return Ok(None);
        }
        let outcome = suspend_in(
            &mut tx,
            self.journey_id,
            &self.phase,
            &WaitingFor::signal(name),
            due_at,
        )
        .await;
        tx.commit().await?;
        self.stored_phase.clone_from(&self.phase);
        Err(outcome)
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

    fn recorded_at(
        &self,
        seq: i32,
        key: &str,
        kind: StepKind,
    ) -> Result<Option<StepRecord>, WorkflowError> {
        let Some(rec) = self.recorded.get(seq as usize - 1) else {
            return Ok(None);
        };
        if rec.key != key || rec.kind != kind.as_str() {
            return Err(WorkflowError::NonDeterminism(format!(
                "at position {seq} the code asks for {} {key:?} but history recorded {} {:?}",
                kind.as_str(),
                rec.kind,
                rec.key
            )));
        }
        Ok(Some(rec.clone()))
    }

    /// The journey fields that change rarely; written with the next commit only when they did.
    fn journey_changes(&self) -> Option<(String, i32)> {
        (self.phase != self.stored_phase || self.stored_attempts != 0)
            .then(|| (self.phase.clone(), 0))
    }

    async fn record_success(
        &mut self,
        seq: i32,
        key: &str,
        output: Value,
        attempt: u32,
        started_at: DateTime<Utc>,
    ) -> Result<(), WorkflowError> {
        // One statement, so one commit: the step's output and its history event.
        const RECORD: &str = "
            WITH step AS (
                INSERT INTO carepath.journey_steps
                    (journey_id, seq, key, kind, status, output, attempts, started_at, finished_at)
                VALUES ($1, $2, $3, 'step', 'completed', $4, $5, $6, now())
                ON CONFLICT (journey_id, seq) DO UPDATE
                   SET status = 'completed', output = EXCLUDED.output,
                       attempts = EXCLUDED.attempts, last_error = NULL, due_at = NULL,
                       finished_at = now()
                RETURNING seq
            ), event AS (
                INSERT INTO carepath.journey_history (journey_id, actor, kind, detail)
                SELECT $1, 'engine', 'step_completed',
                       jsonb_build_object('step', $3::text, 'attempt', $5::int)
                  FROM step
                RETURNING seq
            )
            SELECT count(*) FROM event";
        let journey_id = self.journey_id;
        let changes = self.journey_changes();
        if let Some((phase, attempts)) = changes {
            let mut tx = sqlx::Connection::begin(self.conn.conn()).await?;
            sqlx::query("UPDATE carepath.journeys SET phase = $2, attempts = $3, last_error = NULL WHERE id = $1")
                .bind(journey_id)
                .bind(&phase)
                .bind(attempts)
                .execute(&mut *tx)
                .await?;
            record_query(RECORD, journey_id, seq, key, &output, attempt, started_at)
                .fetch_one(&mut *tx)
                .await?;
            tx.commit().await?;
            self.stored_phase = phase;
            self.stored_attempts = attempts;
        } else {
            record_query(RECORD, journey_id, seq, key, &output, attempt, started_at)
                .fetch_one(self.conn())
                .await?;
        }
        Ok(())
    }

    async fn record_retry<T>(
        &mut self,
        seq: i32,
        key: &str,
        retry: Retry<'_>,
        started_at: DateTime<Utc>,
    ) -> Result<T, WorkflowError> {
        let journey_id = self.journey_id;
        let message = storable(retry.message);
        let mut tx = sqlx::Connection::begin(self.conn.conn()).await?;
        let due_at: DateTime<Utc> = sqlx::query_scalar(
            "INSERT INTO carepath.journey_steps
                 (journey_id, seq, key, kind, status, attempts, last_error, started_at, due_at)
             VALUES ($1, $2, $3, 'step', 'retrying', $4, $5, $6, now() + make_interval(secs => $7))
             ON CONFLICT (journey_id, seq) DO UPDATE
                SET status = 'retrying', attempts = EXCLUDED.attempts,
                    last_error = EXCLUDED.last_error, due_at = EXCLUDED.due_at
             RETURNING due_at",
        )
        .bind(journey_id)
        .bind(seq)
        .bind(key)
        .bind(retry.attempts as i32)
        .bind(&message)
        .bind(started_at)
        .bind(retry.delay.as_secs_f64())
        .fetch_one(&mut *tx)
        .await?;
        sqlx::query("UPDATE carepath.journeys SET attempts = $2, last_error = $3 WHERE id = $1")
            .bind(journey_id)
            .bind(retry.attempts as i32)
            .bind(&message)
            .execute(&mut *tx)
            .await?;
        self.stored_attempts = retry.attempts as i32;
        history::append(
            &mut *tx,
            journey_id,
            "engine",
            "step_retry_scheduled",
            json!({ "step": key, "attempt": retry.attempts, "error": message,
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

    /// Whether an operator stopped the journey since this run claimed it.
    async fn ensure_running(&mut self) -> Result<(), WorkflowError> {
        let status: String =
            sqlx::query_scalar("SELECT status FROM carepath.journeys WHERE id = $1")
                .bind(self.journey_id)
                .fetch_one(self.conn.conn())
                .await?;
        if status == "running" {
            Ok(())
        } else {
            Err(WorkflowError::Stopped)
        }
    }

    async fn record_failure(
        &mut self,
        seq: i32,
        key: &str,
        attempt: u32,
        message: &str,
        started_at: DateTime<Utc>,
    ) -> Result<(), WorkflowError> {
        sqlx::query(
            "INSERT INTO carepath.journey_steps
                 (journey_id, seq, key, kind, status, attempts, last_error, started_at, finished_at)
             VALUES ($1, $2, $3, 'step', 'failed', $4, $5, $6, now())
             ON CONFLICT (journey_id, seq) DO UPDATE
                SET status = 'failed', attempts = EXCLUDED.attempts,
                    last_error = EXCLUDED.last_error, due_at = NULL, finished_at = now()",
        )
        .bind(self.journey_id)
        .bind(seq)
        .bind(key)
        .bind(attempt as i32)
        .bind(storable(message))
        .bind(started_at)
        .execute(self.conn())
        .await?;
        Ok(())
    }

    async fn fire_timer(&mut self, seq: i32, key: &str) -> Result<(), WorkflowError> {
        let journey_id = self.journey_id;
        let mut tx = sqlx::Connection::begin(self.conn.conn()).await?;
        complete_position(&mut tx, journey_id, seq, &Value::Null).await?;
        history::append(
            &mut *tx,
            journey_id,
            "engine",
            "timer_fired",
            json!({ "step": key }),
        )
        .await?;
        tx.commit().await?;
        Ok(())
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
    let fence: Option<i64> = match sqlx::query_scalar(
        "UPDATE carepath.journeys
            SET status = 'waiting', waiting_for = $2, wake_at = $3, phase = $4,
                fence = fence + CASE WHEN $3 IS NULL THEN 0 ELSE 1 END
          WHERE id = $1 AND status = 'running'
          RETURNING fence",
    )
    .bind(journey_id)
    .bind(waiting_for)
    .bind(wake_at)
    .bind(phase)
    .fetch_optional(&mut *tx)
    .await
    {
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

fn record_query<'q>(
    sql: &'static str,
    journey_id: Uuid,
    seq: i32,
    key: &'q str,
    output: &'q Value,
    attempt: u32,
    started_at: DateTime<Utc>,
) -> sqlx::query::QueryScalar<'q, sqlx::Postgres, i64, sqlx::postgres::PgArguments> {
    sqlx::query_scalar(sql)
        .bind(journey_id)
        .bind(seq)
        .bind(key)
        .bind(output)
        .bind(attempt as i32)
        .bind(started_at)
}

async fn complete_position(
    tx: &mut PgConnection,
    journey_id: Uuid,
    seq: i32,
    output: &Value,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE carepath.journey_steps SET status = 'completed', output = $3, finished_at = now()
          WHERE journey_id = $1 AND seq = $2",
    )
    .bind(journey_id)
    .bind(seq)
    .bind(output)
    .execute(tx)
    .await?;
    Ok(())
}
