//! The apalis-postgres side: the task that wakes a journey, and pushing it in
//! the caller's transaction so that a state change and its wake-up commit together.

use apalis::prelude::TaskBuilder;
use apalis_postgres::PgTask;
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sqlx::PgConnection;
use uuid::Uuid;

use crate::error::EngineError;

/// Set explicitly: apalis would otherwise name the queue after a Rust type path,
/// which changes when code moves.
pub const JOURNEY_QUEUE: &str = "carepath.journeys";

/// "Look at journey X." Everything else is read from the journey's row, so a
/// duplicate or stale task finds nothing to do.
#[derive(Debug, Clone, Copy, Serialize, Deserialize)]
pub struct JourneyTask {
    /// The journey to look at.
    pub journey_id: Uuid,
    /// The journey's `fence` when this task was pushed, bumped on every push:
    /// it makes the task's idempotency key ([`JourneyTask::key`]) name one
    /// wake-up, so the reconciler can ask whether the latest is live and a new
    /// push can drop the one it supersedes.
    pub fence: i64,
}

impl JourneyTask {
    /// The task's idempotency key in apalis.jobs: how the reconciler asks whether
    /// a journey's latest wake-up is still live.
    pub fn key(&self) -> String {
        format!("{}:{}", self.journey_id, self.fence)
    }
}

/// Bumps the journey's fence and pushes its wake-up task, due `delay` after
/// the database's now (all times come from the database, never a worker's
/// clock), inside `conn`'s transaction.
///
/// # Errors
/// [`EngineError::Database`] (`RowNotFound` when no journey has
/// `journey_id`); [`EngineError::Queue`] when apalis-postgres refuses the task.
pub async fn push_wakeup(
    conn: &mut PgConnection,
    journey_id: Uuid,
    delay: Duration,
) -> Result<(), EngineError> {
    let (fence, at) = crate::store::journeys::bump_fence(&mut *conn, journey_id, delay).await?;
    let run_at = if delay.is_zero() {
        RunAt::Now(at)
    } else {
        RunAt::NotBefore(at)
    };
    push_task(conn, JourneyTask { journey_id, fence }, run_at).await
}

/// When a task may run, in database time.
#[derive(Debug, Clone, Copy)]
pub enum RunAt {
    /// At once: rounded down to the second, so apalis fetches it immediately.
    Now(DateTime<Utc>),
    /// Not before this instant: rounded up, so the journey is never woken early.
    NotBefore(DateTime<Utc>),
}

/// Pushes `task` (whose fence the caller has just stored) in `conn`'s
/// transaction, and drops the journey's previous wake-up if it has not run.
///
/// # Errors
/// [`EngineError::Queue`] when apalis-postgres refuses the task;
/// [`EngineError::Database`] when dropping the superseded one fails;
/// [`EngineError::Conflict`] if the task cannot be serialised (it always can).
pub async fn push_task(
    conn: &mut PgConnection,
    task: JourneyTask,
    run_at: RunAt,
) -> Result<(), EngineError> {
    let superseded = JourneyTask {
        fence: task.fence - 1,
        ..task
    };
    let args = serde_json::to_vec(&task).map_err(|e| EngineError::Conflict {
        action: "enqueue",
        detail: e.to_string(),
    })?;
    let timestamp = match run_at {
        RunAt::Now(at) => at.timestamp().max(0) as u64,
        RunAt::NotBefore(at) => ceil_seconds(at),
    };
    let task = TaskBuilder::new(args)
        .idempotency_key(task.key())
        // Failures are the engine's business (durable backoff); apalis must not
        // re-run a failed task immediately.
        .max_attempts(1)
        .run_at_timestamp(timestamp)
        .build();
    let tasks: Vec<PgTask> = vec![task];
    apalis_postgres::queries::push_tasks(&mut *conn, JOURNEY_QUEUE, tasks).await?;
    // The wake-up this one supersedes (a timeout a signal came before, a
    // retry an operator ran early) would only find nothing to do when its
    // time came; until then it would sit in the queue as Pending work.
    // Found by its key alone, so by the unique (job_type, idempotency_key)
    // index: with `status` beside it the planner takes apalis's partial index
    // of pending tasks and reads every pending task of the queue.
    sqlx::query(
        "DELETE FROM apalis.jobs
          WHERE id = (SELECT id FROM apalis.jobs WHERE job_type = $1 AND idempotency_key = $2)
            AND status = 'Pending'",
    )
    .bind(JOURNEY_QUEUE)
    .bind(superseded.key())
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// apalis stores `run_at` in whole seconds and fetches tasks with `run_at < now()`;
/// rounding up guarantees the task never runs before the journey is due.
fn ceil_seconds(at: DateTime<Utc>) -> u64 {
    let secs = at.timestamp();
    let rounded = if at.timestamp_subsec_nanos() > 0 {
        secs + 1
    } else {
        secs
    };
    rounded.max(0) as u64
}

/// Deletes up to 5,000 of `queue`'s finished tasks (done, killed, or failed
/// for good) that finished more than `keep` ago; returns how many.
///
/// # Errors
/// A database error.
pub async fn prune_done(
    db: impl sqlx::PgExecutor<'_>,
    queue: &str,
    keep: Duration,
) -> Result<u64, sqlx::Error> {
    Ok(sqlx::query(
        "DELETE FROM apalis.jobs WHERE id IN (
             SELECT id FROM apalis.jobs
              WHERE job_type = $1
                AND (status IN ('Done', 'Killed')
                     OR (status = 'Failed' AND attempts >= max_attempts))
                AND done_at < now() - make_interval(secs => $2)
              LIMIT 5000)",
    )
    .bind(queue)
    .bind(keep.as_secs_f64())
    .execute(db)
    .await?
    .rows_affected())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn run_at_rounds_up_to_the_next_second() {
        let at = DateTime::from_timestamp(100, 1).unwrap_or_default();
        assert_eq!(ceil_seconds(at), 101);
        let exact = DateTime::from_timestamp(100, 0).unwrap_or_default();
        assert_eq!(ceil_seconds(exact), 100);
    }
}
