//! The journey row.

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use sqlx::{FromRow, PgExecutor};
use uuid::Uuid;

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
    pub waiting_for: Option<String>,
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

/// What a journey's `waiting_for` starts with while it waits on a vendor on
/// hold, for `concat!` into static SQL; [`vendor_wait`], [`waited_vendor`]
/// and [`waiting_on_vendor_condition!`] are built on it.
#[macro_export]
macro_rules! vendor_wait_prefix {
    () => {
        "vendor:"
    };
}

/// The SQL condition that a journey waits on a vendor: its `waiting_for`
/// column (`$waiting_for`, e.g. `"waiting_for"` or `"j.waiting_for"`) is
/// [`vendor_wait`] of the vendor named by the SQL expression `$vendor` (a
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

/// The `waiting_for` of a journey waiting on `vendor` (on hold: a breaker
/// open, a 429, an operator's pause).
pub fn vendor_wait(vendor: &str) -> String {
    format!("{}{vendor}", vendor_wait_prefix!())
}

/// The vendor a journey whose `waiting_for` is `waiting_for` waits on, when
/// it waits on one.
pub fn waited_vendor(waiting_for: &str) -> Option<&str> {
    waiting_for.strip_prefix(vendor_wait_prefix!())
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
