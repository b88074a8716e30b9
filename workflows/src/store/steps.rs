//! A journey's recorded positions: steps, timers and signal waits.

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::Value;
use sqlx::{FromRow, PgExecutor};
use uuid::Uuid;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum StepKind {
    Step,
    Sleep,
    Signal,
}

impl StepKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Step => "step",
            Self::Sleep => "sleep",
            Self::Signal => "signal",
        }
    }
}

/// A recorded position, as loaded when a journey run starts.
#[derive(Debug, Clone, FromRow, Serialize)]
pub struct StepRecord {
    pub seq: i32,
    pub key: String,
    pub kind: String,
    pub status: String,
    pub output: Option<Value>,
    pub attempts: i32,
    pub last_error: Option<String>,
    pub due_at: Option<DateTime<Utc>>,
    /// Whether `due_at` had passed when the run loaded its history (database time).
    #[serde(skip)]
    pub due: bool,
    pub started_at: DateTime<Utc>,
    pub finished_at: Option<DateTime<Utc>>,
}

pub async fn load(
    db: impl PgExecutor<'_>,
    journey_id: Uuid,
) -> Result<Vec<StepRecord>, sqlx::Error> {
    sqlx::query_as(
        "SELECT seq, key, kind, status, output, attempts, last_error, due_at,
                coalesce(due_at <= now(), true) AS due, started_at, finished_at
           FROM carepath.journey_steps WHERE journey_id = $1 ORDER BY seq",
    )
    .bind(journey_id)
    .fetch_all(db)
    .await
}

/// The journey's positions without their outputs, for people: what a step
/// returned is the workflow's business (and may be PHI), and a journey whose
/// recorded output cannot be read can still be looked at.
pub async fn summaries(
    db: impl PgExecutor<'_>,
    journey_id: Uuid,
) -> Result<Vec<StepRecord>, sqlx::Error> {
    sqlx::query_as(
        "SELECT seq, key, kind, status, NULL::jsonb AS output, attempts, last_error, due_at,
                coalesce(due_at <= now(), true) AS due, started_at, finished_at
           FROM carepath.journey_steps WHERE journey_id = $1 ORDER BY seq",
    )
    .bind(journey_id)
    .fetch_all(db)
    .await
}

/// What the completed step `key` of the journey returned; `None` when the
/// step has not completed (or returned nothing).
///
/// # Errors
/// The database's.
pub async fn completed_output(
    db: impl PgExecutor<'_>,
    journey_id: Uuid,
    key: &str,
) -> Result<Option<Value>, sqlx::Error> {
    let output: Option<Option<Value>> = sqlx::query_scalar(
        "SELECT output FROM carepath.journey_steps
          WHERE journey_id = $1 AND key = $2 AND status = 'completed'",
    )
    .bind(journey_id)
    .bind(key)
    .fetch_optional(db)
    .await?;
    Ok(output.flatten())
}

/// What the latest completed run of step `key` returned, counting the runs
/// the workflow made again under the same key (`key#2`, `key#3`, ...);
/// `None` when none has completed.
///
/// # Errors
/// The database's.
pub async fn latest_completed_output(
    db: impl PgExecutor<'_>,
    journey_id: Uuid,
    key: &str,
) -> Result<Option<Value>, sqlx::Error> {
    let output: Option<Option<Value>> = sqlx::query_scalar(
        "SELECT output FROM carepath.journey_steps
          WHERE journey_id = $1 AND status = 'completed' AND (key = $2 OR key LIKE $3)
          ORDER BY seq DESC LIMIT 1",
    )
    .bind(journey_id)
    .bind(key)
    .bind(format!("{}#%", like_escaped(key)))
    .fetch_optional(db)
    .await?;
    Ok(output.flatten())
}

/// `text` matched literally by `LIKE` (whose escape character is `\`).
fn like_escaped(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if matches!(c, '\\' | '%' | '_') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::like_escaped;

    #[test]
    fn like_patterns_match_the_key_literally() {
        assert_eq!(like_escaped("claim_consult"), "claim\\_consult");
        assert_eq!(like_escaped("a%b\\c"), "a\\%b\\\\c");
        assert_eq!(like_escaped("notify"), "notify");
    }
}
