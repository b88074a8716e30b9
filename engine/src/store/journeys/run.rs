//! The statements a journey's life runs on its row: started, claimed by a
//! worker, parked waiting, completed or failed, made due again; and the
//! reconciler's look for journeys whose task was lost.

use chrono::{DateTime, Utc};
use serde_json::Value;
use sqlx::PgExecutor;
use uuid::Uuid;

use super::{Journey, JourneyStatus};
use crate::waiting::WaitingFor;

/// A new journey's row. `input` is the canonical input; its digest is kept
/// to tell a retried start request from a different one under the same key.
#[derive(Debug, Clone, Copy)]
pub struct NewJourney<'a> {
    /// The journey's id (UUIDv7: ordered by creation).
    pub id: Uuid,
    /// The workflow's name.
    pub workflow: &'a str,
    /// The workflow version it is pinned to.
    pub version: i32,
    /// The caller's idempotency key, unique per workflow.
    pub idempotency_key: &'a str,
    /// The input as stored: sealed, or the canonical input itself.
    pub input: &'a Value,
    /// The canonical input, for the request's digest (not stored).
    pub request: &'a Value,
    /// The starting request's W3C `traceparent`.
    pub trace_context: Option<&'a str>,
}

/// Inserts the journey, due now; `None` when the workflow already has a
/// journey under this idempotency key.
///
/// # Errors
/// A database error.
pub async fn insert(
    db: impl PgExecutor<'_>,
    new: NewJourney<'_>,
) -> Result<Option<Journey>, sqlx::Error> {
    sqlx::query_as(concat!(
        "INSERT INTO carepath.journeys
             (id, workflow, version, idempotency_key, input, wake_at, trace_context,
              request_digest)
         VALUES ($1, $2, $3, $4, $5, now(), $6,
                 encode(sha256(convert_to($7::jsonb::text, 'UTF8')), 'hex'))
         ON CONFLICT ON CONSTRAINT journeys_idempotency_key DO NOTHING
         RETURNING ",
        journey_columns!()
    ))
    .bind(new.id)
    .bind(new.workflow)
    .bind(new.version)
    .bind(new.idempotency_key)
    .bind(new.input)
    .bind(new.trace_context)
    .bind(new.request)
    .fetch_optional(db)
    .await
}

/// Whether the journey under (`workflow`, `idempotency_key`) was started by
/// the same canonical `input` (or predates digests).
///
/// # Errors
/// A database error, or no such journey.
pub async fn same_request(
    db: impl PgExecutor<'_>,
    workflow: &str,
    idempotency_key: &str,
    input: &Value,
) -> Result<bool, sqlx::Error> {
    sqlx::query_scalar(
        "SELECT request_digest IS NULL
                OR request_digest = encode(sha256(convert_to($3::jsonb::text, 'UTF8')), 'hex')
           FROM carepath.journeys WHERE workflow = $1 AND idempotency_key = $2",
    )
    .bind(workflow)
    .bind(idempotency_key)
    .bind(input)
    .fetch_one(db)
    .await
}

/// The journey under (`workflow`, `idempotency_key`).
///
/// # Errors
/// A database error, or no such journey.
pub async fn by_key(
    db: impl PgExecutor<'_>,
    workflow: &str,
    idempotency_key: &str,
) -> Result<Journey, sqlx::Error> {
    sqlx::query_as(concat!(
        "SELECT ",
        journey_columns!(),
        " FROM carepath.journeys WHERE workflow = $1 AND idempotency_key = $2"
    ))
    .bind(workflow)
    .bind(idempotency_key)
    .fetch_one(db)
    .await
}

/// The journey's status; `lock` also locks its row for the transaction.
///
/// # Errors
/// A database error, or no such journey.
pub async fn status(
    db: impl PgExecutor<'_>,
    id: Uuid,
    lock: bool,
) -> Result<JourneyStatus, sqlx::Error> {
    let sql = if lock {
        "SELECT status FROM carepath.journeys WHERE id = $1 FOR UPDATE"
    } else {
        "SELECT status FROM carepath.journeys WHERE id = $1"
    };
    let status: String = sqlx::query_scalar(sql).bind(id).fetch_one(db).await?;
    status
        .parse()
        .map_err(|e: String| sqlx::Error::Decode(e.into()))
}

/// Parks a running journey: waiting for `waiting_for` until `wake_at` (or
/// until a signal or an operator moves it, when `None`). A timed wait bumps
/// the fence, whose new value is returned for its wake-up task; `None` when
/// the journey is no longer running (an operator paused or cancelled it).
///
/// # Errors
/// A database error.
pub async fn suspend(
    db: impl PgExecutor<'_>,
    id: Uuid,
    phase: &str,
    waiting_for: &WaitingFor,
    wake_at: Option<DateTime<Utc>>,
) -> Result<Option<i64>, sqlx::Error> {
    sqlx::query_scalar(
        "UPDATE carepath.journeys
            SET status = 'waiting', waiting_for = $2, wake_at = $3, phase = $4,
                fence = fence + CASE WHEN $3 IS NULL THEN 0 ELSE 1 END
          WHERE id = $1 AND status = 'running'
          RETURNING fence",
    )
    .bind(id)
    .bind(waiting_for)
    .bind(wake_at)
    .bind(phase)
    .fetch_optional(db)
    .await
}

/// Sets the journey's phase and attempt count and clears its last error
/// (a step succeeded).
///
/// # Errors
/// A database error.
pub async fn set_progress(
    db: impl PgExecutor<'_>,
    id: Uuid,
    phase: &str,
    attempts: i32,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE carepath.journeys SET phase = $2, attempts = $3, last_error = NULL WHERE id = $1",
    )
    .bind(id)
    .bind(phase)
    .bind(attempts)
    .execute(db)
    .await?;
    Ok(())
}

/// Records a failing step's attempts and error on the journey.
///
/// # Errors
/// A database error.
pub async fn set_failing(
    db: impl PgExecutor<'_>,
    id: Uuid,
    attempts: i32,
    error: &str,
) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE carepath.journeys SET attempts = $2, last_error = $3 WHERE id = $1")
        .bind(id)
        .bind(attempts)
        .bind(error)
        .execute(db)
        .await?;
    Ok(())
}

/// Says why a run was interrupted (it will run again).
///
/// # Errors
/// A database error.
pub async fn set_last_error(
    db: impl PgExecutor<'_>,
    id: Uuid,
    error: &str,
) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE carepath.journeys SET last_error = $2 WHERE id = $1")
        .bind(id)
        .bind(error)
        .execute(db)
        .await?;
    Ok(())
}

/// What a worker needs to run a journey it claimed.
#[derive(Debug, sqlx::FromRow)]
pub struct Claimed {
    /// The workflow's name.
    pub workflow: String,
    /// Its pinned version.
    pub version: i32,
    /// The canonical input.
    pub input: Value,
    /// The phase last stored.
    pub phase: String,
    /// Attempts of the step being retried.
    pub attempts: i32,
    /// Runs since the journey's history last grew, this one included.
    pub stalled_runs: i32,
    /// Why the last run ended badly, if it did.
    pub last_error: Option<String>,
    /// The starting request's `traceparent`.
    pub trace_context: Option<String>,
    /// How many times an operator rewound it.
    pub rewinds: i32,
    /// This run's number: the journey's claims so far, this one included.
    /// Checkpoints written away from the lock's connection carry it
    /// ([`crate::store::checkpoints`]).
    pub runs: i64,
}

/// Marks a due journey running; `None` when it is not due (a stale or
/// duplicate task, or a journey an operator paused, cancelled or finished).
///
/// # Errors
/// A database error, or a stored input that cannot be decoded.
pub async fn claim(db: impl PgExecutor<'_>, id: Uuid) -> Result<Option<Claimed>, sqlx::Error> {
    sqlx::query_as(
        "UPDATE carepath.journeys
            SET status = 'running', waiting_for = NULL, wake_at = now(),
                stalled_runs = CASE WHEN history_seq > claim_seq THEN 1 ELSE stalled_runs + 1 END,
                claim_seq = history_seq, runs = runs + 1
          WHERE id = $1
            AND (status = 'running' OR (status = 'waiting' AND wake_at <= now()))
          RETURNING workflow, version, input, phase, attempts, stalled_runs, last_error, trace_context,
                    rewinds, runs",
    )
    .bind(id)
    .fetch_optional(db)
    .await
}

/// Completes a running journey with `output`; `false` when it was not running.
///
/// # Errors
/// A database error (an output the database refuses is one).
pub async fn complete(
    db: impl PgExecutor<'_>,
    id: Uuid,
    phase: &str,
    output: &Value,
) -> Result<bool, sqlx::Error> {
    let done = sqlx::query(
        "UPDATE carepath.journeys
            SET status = 'completed', phase = $2, output = $3, waiting_for = NULL, wake_at = NULL,
                attempts = 0, last_error = NULL, finished_at = now()
          WHERE id = $1 AND status = 'running'",
    )
    .bind(id)
    .bind(phase)
    .bind(output)
    .execute(db)
    .await?
    .rows_affected();
    Ok(done == 1)
}

/// Fails a running journey with `error`; `false` when it was not running.
///
/// # Errors
/// A database error.
pub async fn fail(db: impl PgExecutor<'_>, id: Uuid, error: &str) -> Result<bool, sqlx::Error> {
    let done = sqlx::query(
        "UPDATE carepath.journeys
            SET status = 'failed', last_error = $2, waiting_for = NULL, wake_at = NULL
          WHERE id = $1 AND status = 'running'",
    )
    .bind(id)
    .bind(error)
    .execute(db)
    .await?
    .rows_affected();
    Ok(done == 1)
}

/// Leaves the journey waiting for `waiting_for` for `recheck`.
///
/// # Errors
/// A database error.
pub async fn wait_for(
    db: impl PgExecutor<'_>,
    id: Uuid,
    waiting_for: &WaitingFor,
    recheck: std::time::Duration,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE carepath.journeys
            SET status = 'waiting', waiting_for = $2, wake_at = now() + make_interval(secs => $3)
          WHERE id = $1",
    )
    .bind(id)
    .bind(waiting_for)
    .bind(recheck.as_secs_f64())
    .execute(db)
    .await?;
    Ok(())
}

/// Parks a journey whose data key this process cannot unwrap until
/// `recheck` from now, with `error` (the key ring's problem, no value) as
/// its `last_error`; the run does not count as one without progress.
///
/// # Errors
/// A database error.
pub async fn wait_for_key_ring(
    db: impl PgExecutor<'_>,
    id: Uuid,
    waiting_for: &WaitingFor,
    recheck: std::time::Duration,
    error: &str,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE carepath.journeys
            SET status = 'waiting', waiting_for = $2, wake_at = now() + make_interval(secs => $3),
                last_error = $4, stalled_runs = 0
          WHERE id = $1",
    )
    .bind(id)
    .bind(waiting_for)
    .bind(recheck.as_secs_f64())
    .bind(error)
    .execute(db)
    .await?;
    Ok(())
}

/// Makes a running journey due now; `false` when it is not running.
///
/// # Errors
/// A database error.
pub async fn due_now_if_running(db: impl PgExecutor<'_>, id: Uuid) -> Result<bool, sqlx::Error> {
    let running: Option<Uuid> = sqlx::query_scalar(
        "UPDATE carepath.journeys SET wake_at = now() WHERE id = $1 AND status = 'running' RETURNING id",
    )
    .bind(id)
    .fetch_optional(db)
    .await?;
    Ok(running.is_some())
}

/// Makes the journey running and due now (an operator's or a signal's doing).
///
/// # Errors
/// A database error.
pub async fn run_now(db: impl PgExecutor<'_>, id: Uuid) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE carepath.journeys SET status = 'running', waiting_for = NULL, wake_at = now()
          WHERE id = $1",
    )
    .bind(id)
    .execute(db)
    .await?;
    Ok(())
}

/// Whether the journey is due (running, or waiting past its wake time),
/// locking its row; `None` when there is no such journey.
///
/// # Errors
/// A database error.
pub async fn is_due_for_update(
    db: impl PgExecutor<'_>,
    id: Uuid,
) -> Result<Option<bool>, sqlx::Error> {
    sqlx::query_scalar(
        "SELECT status = 'running' OR (status = 'waiting' AND wake_at <= now())
           FROM carepath.journeys WHERE id = $1 FOR UPDATE",
    )
    .bind(id)
    .fetch_optional(db)
    .await
}

/// Sets an operator's status: `paused`, `waiting` (resumed) or `cancelled`
/// (which also ends the journey).
///
/// # Errors
/// A database error.
pub async fn set_status(
    db: impl PgExecutor<'_>,
    id: Uuid,
    status: JourneyStatus,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE carepath.journeys
            SET status = $2,
                wake_at = CASE WHEN $3 THEN NULL ELSE wake_at END,
                finished_at = CASE WHEN $3 THEN now() ELSE finished_at END
          WHERE id = $1",
    )
    .bind(id)
    .bind(status.as_str())
    .bind(status == JourneyStatus::Cancelled)
    .execute(db)
    .await?;
    Ok(())
}

/// A failed journey's attempt budget starts again.
///
/// # Errors
/// A database error.
pub async fn reset_attempts_if_failed(
    db: impl PgExecutor<'_>,
    id: Uuid,
) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE carepath.journeys SET attempts = 0 WHERE id = $1 AND status = 'failed'")
        .bind(id)
        .execute(db)
        .await?;
    Ok(())
}

/// Bumps the journey's fence for a new wake-up task; the new fence and the
/// database's now plus `delay` (all times come from the database, never a
/// worker's clock).
///
/// # Errors
/// A database error, or no such journey.
pub async fn bump_fence(
    db: impl PgExecutor<'_>,
    id: Uuid,
    delay: std::time::Duration,
) -> Result<(i64, DateTime<Utc>), sqlx::Error> {
    sqlx::query_as(
        "UPDATE carepath.journeys SET fence = fence + 1 WHERE id = $1
         RETURNING fence, now() + make_interval(secs => $2)",
    )
    .bind(id)
    .bind(delay.as_secs_f64())
    .fetch_one(db)
    .await
}

/// Journeys due for more than `grace` with no live task in `queue` (its
/// task was lost: pruned, killed, never pushed), oldest first, up to
/// `batch`, locked (skipping rows another reconciler holds).
///
/// # Errors
/// A database error.
pub async fn lost(
    db: impl PgExecutor<'_>,
    queue: &str,
    grace: std::time::Duration,
    batch: i64,
) -> Result<Vec<Uuid>, sqlx::Error> {
    sqlx::query_scalar(
        "SELECT j.id FROM carepath.journeys j
          WHERE j.status IN ('running', 'waiting')
            AND j.wake_at <= now() - make_interval(secs => $2)
            AND NOT EXISTS (
                SELECT 1 FROM (
                    -- LIMIT keeps this a lookup of the unique key per journey:
                    -- flattened into an anti-join, with statistics that lag
                    -- a burst, it became a scan of every task per journey.
                    SELECT t.status, t.attempts, t.max_attempts FROM apalis.jobs t
                     WHERE t.job_type = $1
                       AND t.idempotency_key = j.id::text || ':' || j.fence::text
                     LIMIT 1) t
                 WHERE t.status IN ('Pending', 'Queued', 'Running')
                    OR (t.status = 'Failed' AND t.attempts < t.max_attempts))
          ORDER BY j.wake_at
          LIMIT $3
          FOR UPDATE OF j SKIP LOCKED",
    )
    .bind(queue)
    .bind(grace.as_secs_f64())
    .bind(batch)
    .fetch_all(db)
    .await
}
