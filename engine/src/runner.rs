//! Runs one wake-up of one journey: take the journey's lock, replay its
//! workflow from history, and do new work until it waits, ends or fails.

use std::panic::AssertUnwindSafe;
use std::sync::Arc;

use tracing::Instrument;

use futures::FutureExt;
use serde_json::{Value, json};
use sqlx::pool::PoolConnection;
use sqlx::{PgConnection, PgPool, Postgres};
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use crate::Engine;
use crate::context::{JourneyCtx, RunStart};
use crate::error::{EngineError, WorkflowError, refuses_forever};
use crate::queue::{JourneyTask, push_wakeup};
use crate::registry::Workflow;
use crate::store::steps::StepRecord;
use crate::store::{alerts, history, journeys, steps};
use crate::vault::{JourneySeal, Payload, Place, VaultError};
use crate::waiting::WaitingFor;

/// Exclusive ownership of a journey while it runs: a session advisory lock held
/// on a connection of the run's own, which its waits and its end commit
/// through (its completed steps go through the group checkpoint writer,
/// fenced by the run's number: [`crate::checkpoint`]). If the worker dies,
/// its connection dies with it and PostgreSQL releases the lock at once.
pub struct JourneyLock {
    conn: PoolConnection<Postgres>,
    journey_id: Uuid,
    released: bool,
}

impl JourneyLock {
    async fn try_acquire(pool: &PgPool, journey_id: Uuid) -> Result<Option<Self>, sqlx::Error> {
        let mut conn = pool.acquire().await?;
        let locked: bool =
            sqlx::query_scalar("SELECT pg_try_advisory_lock(hashtextextended($1::text, 0))")
                .bind(journey_id)
                .fetch_one(&mut *conn)
                .await?;
        Ok(locked.then_some(Self {
            conn,
            journey_id,
            released: false,
        }))
    }

    pub(crate) fn conn(&mut self) -> &mut PgConnection {
        &mut self.conn
    }

    async fn release(mut self) -> Result<(), sqlx::Error> {
        sqlx::query("SELECT pg_advisory_unlock(hashtextextended($1::text, 0))")
            .bind(self.journey_id)
            .execute(&mut *self.conn)
            .await?;
        self.released = true;
        Ok(())
    }
}

impl Drop for JourneyLock {
    fn drop(&mut self) {
        // A connection that still holds the lock must not go back to the pool:
        // closing it is what releases the lock.
        if !self.released {
            self.conn.close_on_drop();
        }
    }
}

/// What one wake-up did, for logs and tests.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RunOutcome {
    /// Nothing to do: the journey is not due, or already finished.
    NotDue,
    /// Another worker is running the journey; a re-check was queued.
    Busy,
    /// The journey now waits: a timer, a signal, a retry, a vendor on hold or
    /// a worker with its code.
    Suspended,
    /// The workflow returned; its output is stored.
    Completed,
    /// The journey failed (a step failed for good, the workflow gave up, its
    /// code disagrees with history, its records cannot be read, or too many
    /// runs made no progress); an operator may retry it.
    Failed,
    /// An operator paused or cancelled it while it ran.
    Stopped,
    /// Handed back to the queue because this worker is shutting down.
    Released,
}

impl Engine {
    /// Handles one queue task: claims the journey if it is due, replays its
    /// workflow from history and does new work until it waits, ends or fails.
    ///
    /// # Errors
    /// Database errors: the journey stays due and the reconciler queues it
    /// again once this task is no longer live.
    pub async fn run_task(
        &self,
        task: JourneyTask,
        shutdown: &CancellationToken,
    ) -> Result<RunOutcome, EngineError> {
        let Some(mut lock) = JourneyLock::try_acquire(&self.pool, task.journey_id).await? else {
            self.recheck_later(task.journey_id).await?;
            return Ok(RunOutcome::Busy);
        };
        let journey_id = task.journey_id;
        // What was recorded must be readable; if it is not (a value stored
        // before the door refused it, a hand-edited row), every run would die
        // the same way, so the journey fails visibly with the reason instead.
        let claimed = match journeys::claim(lock.conn(), journey_id).await {
            Ok(Some(claimed)) => claimed,
            Ok(None) => {
                lock.release().await?;
                return Ok(RunOutcome::NotDue);
            }
            Err(e) if refuses_forever(&e) => return unreadable(lock, journey_id, &e).await,
            Err(e) => return Err(e.into()),
        };
        let claimed_at = std::time::Instant::now();
        if let Some(message) = self.stalled(&claimed) {
            fail(lock.conn(), journey_id, &message).await?;
            lock.release().await?;
            return Ok(RunOutcome::Failed);
        }
        let Some(code) = self.registry.get(&claimed.workflow, claimed.version) else {
            return self.leave_for_newer_code(lock, journey_id, &claimed).await;
        };
        let recorded = match steps::load(lock.conn(), journey_id).await {
            Ok(recorded) => recorded,
            Err(e) if refuses_forever(&e) => return unreadable(lock, journey_id, &e).await,
            Err(e) => return Err(e.into()),
        };
        let opened = self
            .open_run(
                lock.conn(),
                journey_id,
                code.clone(),
                claimed.input,
                recorded,
            )
            .await;
        let (seal, input, recorded) = match opened {
            Ok(opened) => opened,
            Err(e) => return sealed_unreadable(lock, journey_id, e).await,
        };
        let start = RunStart {
            journey_id,
            workflow: claimed.workflow.clone(),
            recorded,
            retry: self.config.retry.clone(),
            shutdown: shutdown.clone(),
            phase: claimed.phase,
            attempts: claimed.attempts,
            erred: claimed.last_error.is_some(),
            rewinds: claimed.rewinds.max(0) as u32,
            seal,
            run: claimed.runs,
            claimed_at,
            checkpoints: self.checkpoints.clone(),
        };
        let mut ctx = JourneyCtx::new(lock, start);
        let span = crate::tracecontext::run_span(
            journey_id,
            &claimed.workflow,
            claimed.trace_context.as_deref(),
        );
        let result = run_workflow(&*code, &mut ctx, input).instrument(span).await;
        let outcome = record_outcome(&mut ctx, journey_id, result).await?;
        ctx.into_lock().release().await?;
        Ok(outcome)
    }

    /// During a rolling deploy an older worker may meet a journey started on
    /// a version only newer workers have: it leaves it for them.
    async fn leave_for_newer_code(
        &self,
        mut lock: JourneyLock,
        journey_id: Uuid,
        claimed: &journeys::Claimed,
    ) -> Result<RunOutcome, EngineError> {
        let waiting_for = WaitingFor::Code {
            workflow: claimed.workflow.clone(),
            version: claimed.version,
        };
        let recheck = self.config.unknown_version_recheck;
        wait_for_code(lock.conn(), journey_id, &waiting_for, recheck).await?;
        lock.release().await?;
        Ok(RunOutcome::Suspended)
    }

    /// Why a claimed journey is failed rather than run again: too many runs
    /// in a row got nowhere.
    fn stalled(&self, claimed: &journeys::Claimed) -> Option<String> {
        (claimed.stalled_runs > self.config.max_stalled_runs as i32).then(|| {
            format!(
                "run interrupted {} times in a row without progress (worker crashes or database \
                 errors); last error: {}",
                claimed.stalled_runs - 1,
                claimed.last_error.as_deref().unwrap_or("none recorded")
            )
        })
    }

    /// The journey's seal, and its input and recorded outputs opened.
    async fn open_run(
        &self,
        conn: &mut PgConnection,
        journey_id: Uuid,
        code: Arc<dyn Workflow>,
        input: Value,
        recorded: Vec<StepRecord>,
    ) -> Result<(JourneySeal, Value, Vec<StepRecord>), VaultError> {
        let unmarked = self.config.seal_unmarked;
        let seal =
            JourneySeal::for_writing(&self.vault, conn, journey_id, Some(code), unmarked).await?;
        let (input, recorded) = open_recorded(&seal, journey_id, input, recorded)?;
        Ok((seal, input, recorded))
    }

    async fn recheck_later(&self, journey_id: Uuid) -> Result<(), EngineError> {
        let mut tx = self.pool.begin().await?;
        if journeys::is_due_for_update(&mut *tx, journey_id).await? == Some(true) {
            push_wakeup(&mut tx, journey_id, self.config.busy_recheck).await?;
        }
        tx.commit().await?;
        Ok(())
    }
}

/// Runs the workflow function, a panic becoming a failure; a run that ends
/// before reaching everything history recorded is non-deterministic.
async fn run_workflow(
    code: &dyn Workflow,
    ctx: &mut JourneyCtx,
    input: Value,
) -> Result<Value, WorkflowError> {
    let result = AssertUnwindSafe(code.run(ctx, input))
        .catch_unwind()
        .await
        .unwrap_or_else(|panic| {
            let message = panic
                .downcast_ref::<&str>()
                .map(|s| (*s).to_owned())
                .or_else(|| panic.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "unknown panic".into());
            Err(WorkflowError::Failed(format!(
                "workflow panicked: {message}"
            )))
        });
    match result {
        Ok(_) if !ctx.unreached().is_empty() => {
            let next = &ctx.unreached()[0];
            Err(WorkflowError::NonDeterminism(format!(
                "the code finished but history recorded more: {} {:?} at position {}",
                next.kind, next.key, next.seq
            )))
        }
        other => other,
    }
}

/// Records how the run ended on the journey.
async fn record_outcome(
    ctx: &mut JourneyCtx,
    journey_id: Uuid,
    result: Result<Value, WorkflowError>,
) -> Result<RunOutcome, EngineError> {
    let phase = ctx.phase().to_owned();
    let sealed = match &result {
        Ok(output) => Some(ctx.seal().seal(
            Payload::Output,
            &Place::journey_output(journey_id),
            output,
        )),
        Err(_) => None,
    };
    let conn = ctx.conn();
    Ok(match result {
        Ok(output) => match crate::storable::check(&output) {
            Ok(()) => {
                let stored = sealed.as_ref().unwrap_or(&output);
                complete(conn, journey_id, &phase, stored).await?;
                RunOutcome::Completed
            }
            Err(e) => {
                let message = format!("its output cannot be recorded: {}", e.under("output"));
                fail(conn, journey_id, &message).await?;
                RunOutcome::Failed
            }
        },
        Err(WorkflowError::Suspended) => RunOutcome::Suspended,
        Err(WorkflowError::Stopped) => RunOutcome::Stopped,
        Err(WorkflowError::Released) => {
            release_for_shutdown(conn, journey_id).await?;
            RunOutcome::Released
        }
        Err(e @ (WorkflowError::Failed(_) | WorkflowError::NonDeterminism(_))) => {
            fail(conn, journey_id, &e.to_string()).await?;
            RunOutcome::Failed
        }
        Err(WorkflowError::Database(e)) if refuses_forever(&e) => {
            let message = format!("the database refused what this journey produced: {e}");
            fail(conn, journey_id, &message).await?;
            RunOutcome::Failed
        }
        Err(e @ (WorkflowError::Database(_) | WorkflowError::Interrupted(_))) => {
            // Best effort: if the connection still works, say why the
            // journey will run again (and, if it keeps happening, fail).
            let _ =
                journeys::set_last_error(conn, journey_id, &e.to_string().replace('\0', "")).await;
            return Err(EngineError::Interrupted(e.to_string()));
        }
    })
}

async fn unreadable(
    mut lock: JourneyLock,
    journey_id: Uuid,
    e: &sqlx::Error,
) -> Result<RunOutcome, EngineError> {
    let message = format!("this journey's recorded data cannot be read: {e}");
    fail(lock.conn(), journey_id, &message.replace('\0', "")).await?;
    lock.release().await?;
    Ok(RunOutcome::Failed)
}

/// The journey's input and recorded outputs, opened where sealed.
fn open_recorded(
    seal: &JourneySeal,
    journey_id: Uuid,
    input: Value,
    mut recorded: Vec<StepRecord>,
) -> Result<(Value, Vec<StepRecord>), VaultError> {
    let input = seal.open(&Place::journey_input(journey_id), input)?;
    for step in &mut recorded {
        if let Some(output) = step.output.take() {
            let place = Place::step_output(journey_id, step.seq, &step.key);
            step.output = Some(seal.open(&place, output)?);
        }
    }
    Ok((input, recorded))
}

/// How long a journey whose data key this process cannot unwrap waits
/// before it is looked at again (by whichever worker, maybe one with the
/// right key ring).
const KEY_RING_RECHECK: std::time::Duration = std::time::Duration::from_secs(30);

/// A journey whose sealed data does not open (erased, or altered) would
/// fail the same way on every run: it fails now, saying why. One whose data
/// key this process's key ring cannot unwrap (a KEK missing or different:
/// a rolling restart half done, a rotation run ahead of the workers) waits
/// for a worker that can, saying why, and is not counted as a run without
/// progress. A database error leaves it due.
async fn sealed_unreadable(
    mut lock: JourneyLock,
    journey_id: Uuid,
    e: VaultError,
) -> Result<RunOutcome, EngineError> {
    if let VaultError::Database(e) = e {
        return Err(e.into());
    }
    if e.is_key_ring_problem() {
        tracing::warn!(%journey_id, error = %e, "journey waits for a worker whose key ring unwraps its data key");
        let waiting_for = WaitingFor::Other("key_ring".into());
        let mut tx = sqlx::Connection::begin(lock.conn()).await?;
        journeys::wait_for_key_ring(
            &mut *tx,
            journey_id,
            &waiting_for,
            KEY_RING_RECHECK,
            &e.to_string(),
        )
        .await?;
        push_wakeup(&mut tx, journey_id, KEY_RING_RECHECK).await?;
        tx.commit().await?;
        lock.release().await?;
        return Ok(RunOutcome::Suspended);
    }
    let message = match &e {
        VaultError::Erased => "this journey's PHI was erased: it cannot run again".to_owned(),
        other => format!("this journey's recorded data cannot be read: {other}"),
    };
    fail(lock.conn(), journey_id, &message).await?;
    lock.release().await?;
    Ok(RunOutcome::Failed)
}

async fn complete(
    conn: &mut PgConnection,
    journey_id: Uuid,
    phase: &str,
    output: &Value,
) -> Result<(), sqlx::Error> {
    let mut tx = sqlx::Connection::begin(conn).await?;
    if journeys::complete(&mut *tx, journey_id, phase, output).await? {
        history::append(&mut *tx, journey_id, "engine", "completed", json!({})).await?;
        // What it raised no longer waits for anyone.
        alerts::resolve_in(&mut tx, journey_id, &[], None, "the journey completed").await?;
    }
    tx.commit().await
}

async fn fail(conn: &mut PgConnection, journey_id: Uuid, message: &str) -> Result<(), sqlx::Error> {
    let mut tx = sqlx::Connection::begin(conn).await?;
    if journeys::fail(&mut *tx, journey_id, message).await? {
        history::append(
            &mut *tx,
            journey_id,
            "engine",
            "failed",
            json!({ "error": message }),
        )
        .await?;
    }
    tx.commit().await
}

async fn wait_for_code(
    conn: &mut PgConnection,
    journey_id: Uuid,
    waiting_for: &WaitingFor,
    recheck: std::time::Duration,
) -> Result<(), EngineError> {
    let mut tx = sqlx::Connection::begin(conn).await?;
    journeys::wait_for(&mut *tx, journey_id, waiting_for, recheck).await?;
    push_wakeup(&mut tx, journey_id, recheck).await?;
    tx.commit().await?;
    Ok(())
}

/// Leaves the journey running and due now, with a fresh task, so another
/// worker picks it up at once instead of after orphan recovery.
async fn release_for_shutdown(
    conn: &mut PgConnection,
    journey_id: Uuid,
) -> Result<(), EngineError> {
    let mut tx = sqlx::Connection::begin(conn).await?;
    if journeys::due_now_if_running(&mut *tx, journey_id).await? {
        push_wakeup(&mut tx, journey_id, std::time::Duration::ZERO).await?;
    }
    tx.commit().await?;
    Ok(())
}
