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

mod listing;
mod run;

pub use listing::*;
pub use run::*;
