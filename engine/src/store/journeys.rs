//! The journey row.

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use sqlx::{FromRow, PgExecutor};
use uuid::Uuid;

use crate::waiting::WaitingFor;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum JourneyStatus {
    Running,
    Waiting,
    Paused,
    Failed,
    Completed,
    Cancelled,
}

impl JourneyStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Running => "running",
            Self::Waiting => "waiting",
            Self::Paused => "paused",
            Self::Failed => "failed",
            Self::Completed => "completed",
            Self::Cancelled => "cancelled",
        }
    }

    pub fn is_terminal(self) -> bool {
        matches!(self, Self::Completed | Self::Cancelled)
    }
}

impl fmt::Display for JourneyStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for JourneyStatus {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(match s {
            "running" => Self::Running,
            "waiting" => Self::Waiting,
            "paused" => Self::Paused,
            "failed" => Self::Failed,
            "completed" => Self::Completed,
            "cancelled" => Self::Cancelled,
            other => return Err(format!("unknown journey status {other:?}")),
        })
    }
}

impl TryFrom<String> for JourneyStatus {
    type Error = String;

    fn try_from(s: String) -> Result<Self, Self::Error> {
        s.parse()
    }
}

#[derive(Debug, Clone, Serialize, FromRow)]
pub struct Journey {
    pub id: Uuid,
    pub workflow: String,
    pub version: i32,
    pub idempotency_key: String,
    #[sqlx(try_from = "String")]
    pub status: JourneyStatus,
    pub phase: String,
    pub waiting_for: Option<WaitingFor>,
    pub wake_at: Option<DateTime<Utc>>,
    pub output: Option<Value>,
    pub last_error: Option<String>,
    pub attempts: i32,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub finished_at: Option<DateTime<Utc>>,
}

/// The columns of [`Journey`], for `concat!` into static SQL. The input (PHI,
/// and the largest value) is not among them: reading a journey's state never
/// needs it, so an operator can still see and act on a journey whose input
/// cannot be read; [`input`] reads it where it is needed.
#[macro_export]
macro_rules! journey_columns {
    () => {
        "id, workflow, version, idempotency_key, status, phase, waiting_for, wake_at, \
         output, last_error, attempts, created_at, updated_at, finished_at"
    };
}

/// When a journey (the row aliased `j`) is overdue — it should have moved and
/// has not: it waits and its wake time passed more than a minute ago; it has been running
/// without recording anything for `CAREPATH_STUCK_AFTER_SECS` (15 minutes;
/// a session setting every connection carries); or it has an open alert (a
/// decision past its SLA, an order stuck) that it has not got past.
#[macro_export]
macro_rules! overdue_condition {
    () => {
        "(j.status IN ('running', 'waiting') AND (
             (j.status = 'waiting' AND j.wake_at < now() - interval '1 minute')
          OR (j.status = 'running' AND greatest(j.wake_at, j.updated_at) < now() - make_interval(secs =>
                coalesce(nullif(current_setting('carepath.stuck_after_secs', true), '')::float8, 900)))
          OR EXISTS (SELECT 1 FROM carepath.alerts a
                      WHERE a.journey_id = j.id AND a.resolved_at IS NULL)))"
    };
}

pub async fn get(db: impl PgExecutor<'_>, id: Uuid) -> Result<Option<Journey>, sqlx::Error> {
    sqlx::query_as(concat!(
        "SELECT ",
        journey_columns!(),
        " FROM carepath.journeys WHERE id = $1"
    ))
    .bind(id)
    .fetch_optional(db)
    .await
}

/// The journey's input, as it was started (`None` when no such journey).
pub async fn input(db: impl PgExecutor<'_>, id: Uuid) -> Result<Option<Value>, sqlx::Error> {
    sqlx::query_scalar("SELECT input FROM carepath.journeys WHERE id = $1")
        .bind(id)
        .fetch_optional(db)
        .await
}

/// Reads the journey and locks its row for the rest of the transaction.
pub async fn get_for_update(
    db: impl PgExecutor<'_>,
    id: Uuid,
) -> Result<Option<Journey>, sqlx::Error> {
    sqlx::query_as(concat!(
        "SELECT ",
        journey_columns!(),
        " FROM carepath.journeys WHERE id = $1 FOR UPDATE"
    ))
    .bind(id)
    .fetch_optional(db)
    .await
}

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
    /// The canonical input.
    pub input: &'a Value,
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
                 encode(sha256(convert_to($5::jsonb::text, 'UTF8')), 'hex'))
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
                claim_seq = history_seq
          WHERE id = $1
            AND (status = 'running' OR (status = 'waiting' AND wake_at <= now()))
          RETURNING workflow, version, input, phase, attempts, stalled_runs, last_error, trace_context",
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
                SELECT 1 FROM apalis.jobs t
                 WHERE t.job_type = $1
                   AND t.idempotency_key = j.id::text || ':' || j.fence::text
                   AND (t.status IN ('Pending', 'Queued', 'Running')
                        OR (t.status = 'Failed' AND t.attempts < t.max_attempts)))
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

/// What a journey's `waiting_for` starts with while it waits on a vendor on
/// hold ([`WaitingFor::Vendor`]'s text), for `concat!` into static SQL;
/// [`waiting_on_vendor_condition!`] is built on it.
#[macro_export]
macro_rules! vendor_wait_prefix {
    () => {
        "vendor:"
    };
}

/// The SQL condition that a journey waits on a vendor: its `waiting_for`
/// column (`$waiting_for`, e.g. `"waiting_for"` or `"j.waiting_for"`) is
/// [`WaitingFor::Vendor`] of the vendor named by the SQL expression `$vendor` (a
/// parameter such as `"$1"`, or a column), for `concat!` into static SQL.
/// It says nothing of the status: a paused journey keeps the `waiting_for`
/// it had.
#[macro_export]
macro_rules! waiting_on_vendor_condition {
    ($waiting_for:literal, $vendor:literal) => {
        concat!(
            $waiting_for,
            " = '",
            $crate::vendor_wait_prefix!(),
            "' || ",
            $vendor
        )
    };
}

/// The ids of the journeys waiting on `vendor`, in no particular order.
///
/// # Errors
/// The database's.
pub async fn waiting_on_vendor(
    db: impl PgExecutor<'_>,
    vendor: &str,
) -> Result<Vec<Uuid>, sqlx::Error> {
    sqlx::query_scalar(concat!(
        "SELECT id FROM carepath.journeys WHERE status = 'waiting' AND ",
        waiting_on_vendor_condition!("waiting_for", "$1")
    ))
    .bind(vendor)
    .fetch_all(db)
    .await
}

/// How many journeys wait on a vendor, and the error the most recently
/// updated of them recorded.
#[derive(Debug, Clone, FromRow)]
pub struct VendorWaits {
    /// How many journeys wait on the vendor.
    pub waiting: i64,
    /// The `last_error` of the one updated last (`None` when none waits, or
    /// it recorded none).
    pub last_error: Option<String>,
}

/// The journeys waiting on `vendor`: how many, and the latest error among them.
///
/// # Errors
/// The database's.
pub async fn vendor_waits(
    db: impl PgExecutor<'_>,
    vendor: &str,
) -> Result<VendorWaits, sqlx::Error> {
    sqlx::query_as(concat!(
        "SELECT count(*) AS waiting,
                (array_agg(last_error ORDER BY updated_at DESC))[1] AS last_error
           FROM carepath.journeys WHERE status = 'waiting' AND ",
        waiting_on_vendor_condition!("waiting_for", "$1")
    ))
    .bind(vendor)
    .fetch_one(db)
    .await
}

/// What a listing of journeys keeps; `None` (and `false`) keeps all.
#[derive(Debug, Clone, Copy, Default)]
pub struct ListFilter<'a> {
    /// Journeys in this status.
    pub status: Option<JourneyStatus>,
    /// Journeys in this phase.
    pub phase: Option<&'a str>,
    /// Journeys of this workflow (any version).
    pub workflow: Option<&'a str>,
    /// Journeys waiting on this vendor.
    pub vendor: Option<&'a str>,
    /// Only overdue journeys ([`overdue_condition!`]).
    pub overdue: bool,
}

/// Up to `limit` journeys that `filter` keeps, newest first, from those
/// created before the journey `before` (a page's cursor) when given.
///
/// # Errors
/// The database's.
pub async fn list(
    db: impl PgExecutor<'_>,
    filter: &ListFilter<'_>,
    before: Option<Uuid>,
    limit: i64,
) -> Result<Vec<Journey>, sqlx::Error> {
    // By id (UUIDv7, so by creation): journeys created while a client pages
    // sort before its cursor and can never push one it has not seen onto a
    // page it already read.
    sqlx::query_as(concat!(
        "SELECT ",
        journey_columns!(),
        " FROM carepath.journeys j
          WHERE ($1::text IS NULL OR status = $1)
            AND ($2::text IS NULL OR phase = $2)
            AND ($3::text IS NULL OR workflow = $3)
            AND ($4::text IS NULL OR ",
        waiting_on_vendor_condition!("waiting_for", "$4"),
        ")
            AND (NOT $5 OR ",
        overdue_condition!(),
        ")
            AND ($6::uuid IS NULL OR id < $6)
          ORDER BY id DESC
          LIMIT $7"
    ))
    .bind(filter.status.map(JourneyStatus::as_str))
    .bind(filter.phase)
    .bind(filter.workflow)
    .bind(filter.vendor)
    .bind(filter.overdue)
    .bind(before)
    .bind(limit)
    .fetch_all(db)
    .await
}

/// Which journeys a bulk retry selects.
#[derive(Debug, Clone, Copy)]
pub struct RetrySelection<'a> {
    /// Journeys in this status (a bulk retry takes `failed` or `waiting`).
    pub status: JourneyStatus,
    /// Journeys in this phase.
    pub phase: Option<&'a str>,
    /// Journeys waiting on this vendor.
    pub vendor: Option<&'a str>,
    /// Journeys whose last error contains this text.
    pub error_contains: Option<&'a str>,
}

/// The ids of the journeys `selection` keeps, in id order, at most 10,000
/// of them.
///
/// # Errors
/// The database's.
pub async fn select_for_retry(
    db: impl PgExecutor<'_>,
    selection: &RetrySelection<'_>,
) -> Result<Vec<Uuid>, sqlx::Error> {
    sqlx::query_scalar(concat!(
        "SELECT id FROM carepath.journeys
          WHERE status = $1
            AND ($2::text IS NULL OR phase = $2)
            AND ($3::text IS NULL OR ",
        waiting_on_vendor_condition!("waiting_for", "$3"),
        ")
            AND ($4::text IS NULL OR strpos(coalesce(last_error, ''), $4) > 0)
          ORDER BY id LIMIT 10000"
    ))
    .bind(selection.status.as_str())
    .bind(selection.phase)
    .bind(selection.vendor)
    .bind(selection.error_contains)
    .fetch_all(db)
    .await
}
