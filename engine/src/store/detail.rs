//! What an operator reads about one journey beyond its row: the positions a
//! rewind superseded, and the alerts it raised.

use chrono::{DateTime, Utc};
use serde_json::Value;
use sqlx::{FromRow, PgExecutor};
use uuid::Uuid;

/// A position a rewind superseded (its output is not read here: it may be PHI).
#[derive(Debug, Clone, FromRow)]
pub struct Superseded {
    /// Which rewind (1 for the journey's first).
    pub rewind: i32,
    /// Its position in the run it belonged to.
    pub seq: i32,
    /// Its key.
    pub key: String,
    /// `step`, `sleep` or `signal`.
    pub kind: String,
    /// Its status when it was superseded.
    pub status: String,
    /// Failed attempts.
    pub attempts: i32,
    /// The last failure's message.
    pub last_error: Option<String>,
    /// When it was first reached.
    pub started_at: DateTime<Utc>,
    /// When it completed or failed.
    pub finished_at: Option<DateTime<Utc>>,
    /// When the rewind superseded it.
    pub superseded_at: DateTime<Utc>,
}

/// The journey's superseded positions, by rewind then position.
///
/// # Errors
/// The database's.
pub async fn superseded(
    db: impl PgExecutor<'_>,
    journey_id: Uuid,
) -> Result<Vec<Superseded>, sqlx::Error> {
    sqlx::query_as(
        "SELECT rewind, seq, key, kind, status, attempts, last_error, started_at, finished_at,
                superseded_at
           FROM carepath.journey_steps_superseded
          WHERE journey_id = $1 ORDER BY rewind, seq",
    )
    .bind(journey_id)
    .fetch_all(db)
    .await
}

/// An alert the journey raised.
#[derive(Debug, Clone, FromRow)]
pub struct Alert {
    /// What it is about (`decision_sla_exceeded`).
    pub kind: String,
    /// The step it was raised at.
    pub occasion: String,
    /// What the workflow recorded with it (ids and times, no PHI).
    pub detail: Value,
    /// When it was raised.
    pub raised_at: DateTime<Utc>,
    /// When it was resolved; `None` while open.
    pub resolved_at: Option<DateTime<Utc>>,
    /// How it was resolved.
    pub resolution: Option<String>,
}

/// The journey's alerts, oldest first.
///
/// # Errors
/// The database's.
pub async fn alerts(db: impl PgExecutor<'_>, journey_id: Uuid) -> Result<Vec<Alert>, sqlx::Error> {
    sqlx::query_as(
        "SELECT kind, occasion, detail, raised_at, resolved_at, resolution
           FROM carepath.alerts WHERE journey_id = $1 ORDER BY raised_at, id",
    )
    .bind(journey_id)
    .fetch_all(db)
    .await
}
