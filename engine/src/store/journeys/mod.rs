//! The journey row.

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use sqlx::{FromRow, PgExecutor};
use uuid::Uuid;

use crate::waiting::WaitingFor;

/// Where a journey is in its life, stored in `journeys.status` as lowercase
/// text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum JourneyStatus {
    /// Due now, or being run by a worker.
    Running,
    /// Parked until its wake time, a signal or an operator (see
    /// [`Journey::waiting_for`]).
    Waiting,
    /// Stopped by an operator; only `resume` or `cancel` moves it.
    Paused,
    /// Stopped by a failure (`last_error` says which). Not terminal: an
    /// operator's `retry` runs it again with a fresh attempt budget.
    Failed,
    /// Its workflow returned; `output` holds what. Terminal.
    Completed,
    /// Ended by an operator. Terminal.
    Cancelled,
}

impl JourneyStatus {
    /// The status as stored and shown (`running`, `waiting`, ...).
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

    /// Whether the journey has ended for good (completed or cancelled):
    /// nothing can move it any more, whereas a failed one can be retried.
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

/// A journey's row, without its input (see [`input`]). Times are the
/// database's.
#[derive(Debug, Clone, Serialize, FromRow)]
pub struct Journey {
    /// The journey's id: a UUIDv7, so ids sort by creation time.
    pub id: Uuid,
    /// The workflow's registered name.
    pub workflow: String,
    /// The workflow version the journey is pinned to: the latest registered
    /// when it started.
    pub version: i32,
    /// The key it was started with, unique per workflow: a start repeated
    /// with it returns this journey.
    pub idempotency_key: String,
    /// Where the journey is in its life.
    #[sqlx(try_from = "String")]
    pub status: JourneyStatus,
    /// Where it is in its workflow's words
    /// ([`JourneyCtx::set_phase`](crate::JourneyCtx::set_phase)); `started`
    /// until the workflow names one.
    pub phase: String,
    /// What a waiting journey waits for, left as it was when an operator
    /// pauses or cancels it; `None` while it runs and once it fails or
    /// completes.
    pub waiting_for: Option<WaitingFor>,
    /// When it must run next (its timer, its signal's timeout, its next
    /// retry); `None` when only a signal or an operator can move it, and once
    /// it has failed or ended.
    pub wake_at: Option<DateTime<Utc>>,
    /// What the workflow returned; `None` until the journey completes.
    pub output: Option<Value>,
    /// The latest failure: of the step being retried, or why the journey
    /// failed; `None` when nothing is failing.
    pub last_error: Option<String>,
    /// Failed attempts of the step being retried (0 when nothing fails),
    /// against [`RetryPolicy::max_attempts`](crate::RetryPolicy::max_attempts).
    pub attempts: i32,
    /// When it was started.
    pub created_at: DateTime<Utc>,
    /// When its last history event was appended: its last activity.
    pub updated_at: DateTime<Utc>,
    /// When it completed or was cancelled; `None` until then (a failed
    /// journey has not finished).
    pub finished_at: Option<DateTime<Utc>>,
    /// Why it is overdue ([`overdue_condition!`]), as listings say it:
    /// `alert: <kind>` (the oldest open one), `wake time passed`, or
    /// `no progress`; `None` when it is not overdue, or was not read by a
    /// listing.
    #[sqlx(default)]
    pub overdue: Option<String>,
}

/// Why the journey aliased `j` is overdue, as SQL giving a text or NULL, for
/// `concat!` into a listing's columns (see [`Journey::overdue`]).
#[macro_export]
macro_rules! overdue_reason {
    () => {
        concat!(
            "CASE WHEN NOT ",
            $crate::overdue_condition!(),
            " THEN NULL
                  WHEN EXISTS (SELECT 1 FROM carepath.alerts a
                                WHERE a.journey_id = j.id AND a.resolved_at IS NULL)
                  THEN 'alert: ' || (SELECT a.kind FROM carepath.alerts a
                                      WHERE a.journey_id = j.id AND a.resolved_at IS NULL
                                      ORDER BY a.raised_at LIMIT 1)
                  WHEN j.status = 'waiting' THEN 'wake time passed'
                  ELSE 'no progress' END AS overdue"
        )
    };
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

/// The journey `id` (without its input); `None` when there is none.
///
/// # Errors
/// A database error, or a row that cannot be decoded (a status or
/// `waiting_for` this code cannot read).
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

/// The journey `id` as an operator is shown it: [`get`] with
/// [`Journey::overdue`] read in the same statement.
///
/// # Errors
/// As [`get`].
pub async fn get_with_overdue(
    db: impl PgExecutor<'_>,
    id: Uuid,
) -> Result<Option<Journey>, sqlx::Error> {
    sqlx::query_as(concat!(
        "SELECT ",
        journey_columns!(),
        ", ",
        overdue_reason!(),
        " FROM carepath.journeys j WHERE j.id = $1"
    ))
    .bind(id)
    .fetch_optional(db)
    .await
}

/// The journey's input, as it was started (`None` when no such journey).
///
/// # Errors
/// A database error.
pub async fn input(db: impl PgExecutor<'_>, id: Uuid) -> Result<Option<Value>, sqlx::Error> {
    sqlx::query_scalar("SELECT input FROM carepath.journeys WHERE id = $1")
        .bind(id)
        .fetch_optional(db)
        .await
}

/// Reads the journey and locks its row for the rest of the transaction
/// (`None` when no such journey).
///
/// # Errors
/// As [`get`].
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

mod listing;
mod run;

pub use listing::*;
pub use run::*;
