//! `carepath.journey_steps`: a journey's recorded positions — steps, timers
//! and signal waits — one row per position, written as the journey runs and
//! read back on every replay.

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::Value;
use sqlx::{FromRow, PgConnection, PgExecutor};
use uuid::Uuid;

/// What a position records (the `kind` column).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum StepKind {
    /// `ctx.step`: work done once, its output remembered.
    Step,
    /// `ctx.sleep`: a durable timer.
    Sleep,
    /// `ctx.wait_signal`: a wait for a signal, with or without a timeout.
    Signal,
}

/// Where a position is (the `status` column).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum StepStatus {
    /// Done: its output is what every replay returns.
    Completed,
    /// Failed, to be tried again at `due_at`.
    Retrying,
    /// Failed for good: the journey failed with it.
    Failed,
    /// A timer or a signal wait not yet over.
    Waiting,
    /// Waiting or due to be retried when an operator cancelled the journey:
    /// it will never run.
    Cancelled,
}

macro_rules! text_enum {
    ($ty:ident, $what:literal, $($variant:ident => $text:literal),+ $(,)?) => {
        impl $ty {
            /// As stored and shown.
            pub fn as_str(self) -> &'static str {
                match self { $(Self::$variant => $text),+ }
            }
        }

        impl fmt::Display for $ty {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl FromStr for $ty {
            type Err = String;

            fn from_str(s: &str) -> Result<Self, Self::Err> {
                match s {
                    $($text => Ok(Self::$variant),)+
                    other => Err(format!(concat!("unknown ", $what, " {:?}"), other)),
                }
            }
        }

        impl TryFrom<String> for $ty {
            type Error = String;

            fn try_from(s: String) -> Result<Self, Self::Error> {
                s.parse()
            }
        }
    };
}

text_enum!(StepKind, "step kind", Step => "step", Sleep => "sleep", Signal => "signal");
text_enum!(StepStatus, "step status",
    Completed => "completed", Retrying => "retrying", Failed => "failed", Waiting => "waiting",
    Cancelled => "cancelled");

/// A recorded position, as loaded when a journey run starts.
#[derive(Debug, Clone, FromRow, Serialize)]
pub struct StepRecord {
    /// 1-based position in the journey's run.
    pub seq: i32,
    /// The step's key; a key used again gets `#2`, `#3`; signal waits are
    /// `signal:<name>`.
    pub key: String,
    /// What the position records.
    #[sqlx(try_from = "String")]
    pub kind: StepKind,
    /// Where it is.
    #[sqlx(try_from = "String")]
    pub status: StepStatus,
    /// What a completed position returned (`None` in [`summaries`]).
    pub output: Option<Value>,
    /// Failed attempts so far (a step's).
    pub attempts: i32,
    /// The last failure's message.
    pub last_error: Option<String>,
    /// A timer's firing time, a signal wait's timeout, a retry's next attempt.
    pub due_at: Option<DateTime<Utc>>,
    /// Whether `due_at` had passed when the run loaded its history (database time).
    #[serde(skip)]
    pub due: bool,
    /// When the position was first reached.
    pub started_at: DateTime<Utc>,
    /// When it completed or failed.
    pub finished_at: Option<DateTime<Utc>>,
}

/// The journey's positions, in order, with their outputs: what a run replays.
///
/// # Errors
/// A database error, or a stored value that cannot be decoded.
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
///
/// # Errors
/// A database error.
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

/// A position's identity: the journey, its place in the run, its key.
#[derive(Debug, Clone, Copy)]
pub struct Position<'a> {
    /// The journey.
    pub journey_id: Uuid,
    /// 1-based place in the run.
    pub seq: i32,
    /// The step key at that place.
    pub key: &'a str,
}

/// Records a failed attempt to be tried again after `delay`; returns when.
///
/// # Errors
/// A database error.
pub async fn record_retrying(
    db: impl PgExecutor<'_>,
    at: Position<'_>,
    attempts: i32,
    error: &str,
    started_at: DateTime<Utc>,
    delay: Duration,
) -> Result<DateTime<Utc>, sqlx::Error> {
    sqlx::query_scalar(
        "INSERT INTO carepath.journey_steps
             (journey_id, seq, key, kind, status, attempts, last_error, started_at, due_at)
         VALUES ($1, $2, $3, 'step', 'retrying', $4, $5, $6, now() + make_interval(secs => $7))
         ON CONFLICT (journey_id, seq) DO UPDATE
            SET status = 'retrying', attempts = EXCLUDED.attempts,
                last_error = EXCLUDED.last_error, due_at = EXCLUDED.due_at
         RETURNING due_at",
    )
    .bind(at.journey_id)
    .bind(at.seq)
    .bind(at.key)
    .bind(attempts)
    .bind(error)
    .bind(started_at)
    .bind(delay.as_secs_f64())
    .fetch_one(db)
    .await
}

/// Records a step that failed for good.
///
/// # Errors
/// A database error.
pub async fn record_failed(
    db: impl PgExecutor<'_>,
    at: Position<'_>,
    attempts: i32,
    error: &str,
    started_at: DateTime<Utc>,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO carepath.journey_steps
             (journey_id, seq, key, kind, status, attempts, last_error, started_at, finished_at)
         VALUES ($1, $2, $3, 'step', 'failed', $4, $5, $6, now())
         ON CONFLICT (journey_id, seq) DO UPDATE
            SET status = 'failed', attempts = EXCLUDED.attempts,
                last_error = EXCLUDED.last_error, due_at = NULL, finished_at = now()",
    )
    .bind(at.journey_id)
    .bind(at.seq)
    .bind(at.key)
    .bind(attempts)
    .bind(error)
    .bind(started_at)
    .execute(db)
    .await?;
    Ok(())
}

/// Records a waiting timer or signal wait of `kind`, due after `wait` (a
/// signal wait without a timeout: `None`); returns its due time and whether
/// it is already due.
///
/// # Errors
/// A database error.
pub async fn insert_waiting(
    db: impl PgExecutor<'_>,
    at: Position<'_>,
    kind: StepKind,
    wait: Option<Duration>,
) -> Result<(Option<DateTime<Utc>>, bool), sqlx::Error> {
    sqlx::query_as(
        "INSERT INTO carepath.journey_steps (journey_id, seq, key, kind, status, due_at)
         VALUES ($1, $2, $3, $4, 'waiting', now() + make_interval(secs => $5))
         RETURNING due_at, coalesce(due_at <= now(), false)",
    )
    .bind(at.journey_id)
    .bind(at.seq)
    .bind(at.key)
    .bind(kind.as_str())
    .bind(wait.map(|w| w.as_secs_f64()))
    .fetch_one(db)
    .await
}

/// A waiting position's due time, and whether it has passed (database time).
///
/// # Errors
/// A database error, or no such position.
pub async fn due(
    db: impl PgExecutor<'_>,
    journey_id: Uuid,
    seq: i32,
) -> Result<(Option<DateTime<Utc>>, bool), sqlx::Error> {
    sqlx::query_as(
        "SELECT due_at, coalesce(due_at <= now(), false) FROM carepath.journey_steps
          WHERE journey_id = $1 AND seq = $2",
    )
    .bind(journey_id)
    .bind(seq)
    .fetch_one(db)
    .await
}

/// Completes a timer or signal wait with `output`.
///
/// # Errors
/// A database error.
pub async fn complete(
    db: &mut PgConnection,
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
    .execute(db)
    .await?;
    Ok(())
}

/// What an operator's action does to a journey's positions before it runs
/// again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Hurry {
    /// `retry`: a failed or retrying step is due now; a failed one starts a
    /// fresh attempt budget, a retrying one keeps its count.
    RetryNow,
    /// `wake`: the timer the journey sleeps on fires now.
    FireTimer,
    /// `wake`: the timeout of the signal wait (one with a timeout) ends now.
    EndSignalTimeout,
}

/// Applies `hurry` to the journey's waiting positions.
///
/// # Errors
/// A database error.
pub async fn hurry(
    db: impl PgExecutor<'_>,
    journey_id: Uuid,
    hurry: Hurry,
) -> Result<(), sqlx::Error> {
    let sql = match hurry {
        Hurry::RetryNow => {
            "UPDATE carepath.journey_steps
                SET status = 'retrying', due_at = now(), finished_at = NULL,
                    attempts = CASE WHEN status = 'failed' THEN 0 ELSE attempts END
              WHERE journey_id = $1 AND status IN ('retrying', 'failed')"
        }
        Hurry::FireTimer => {
            "UPDATE carepath.journey_steps SET due_at = now()
              WHERE journey_id = $1 AND kind = 'sleep' AND status = 'waiting'"
        }
        Hurry::EndSignalTimeout => {
            "UPDATE carepath.journey_steps SET due_at = now()
              WHERE journey_id = $1 AND kind = 'signal' AND status = 'waiting'
                AND due_at IS NOT NULL"
        }
    };
    sqlx::query(sql).bind(journey_id).execute(db).await?;
    Ok(())
}

/// A completed step's output as stored (sealed or plain: open it with
/// [`crate::vault::JourneySeal`] at [`crate::vault::Place::step_output`]).
#[derive(Debug, Clone, FromRow)]
pub struct StoredOutput {
    /// The step's position.
    pub seq: i32,
    /// The step's key, `#n` included.
    pub key: String,
    /// Its output as stored.
    pub output: Option<Value>,
}

/// What the completed step `key` of the journey returned, as stored; `None`
/// when the step has not completed.
///
/// # Errors
/// The database's.
pub async fn completed_output(
    db: impl PgExecutor<'_>,
    journey_id: Uuid,
    key: &str,
) -> Result<Option<StoredOutput>, sqlx::Error> {
    sqlx::query_as(
        "SELECT seq, key, output FROM carepath.journey_steps
          WHERE journey_id = $1 AND key = $2 AND status = 'completed'",
    )
    .bind(journey_id)
    .bind(key)
    .fetch_optional(db)
    .await
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
) -> Result<Option<StoredOutput>, sqlx::Error> {
    sqlx::query_as(
        "SELECT seq, key, output FROM carepath.journey_steps
          WHERE journey_id = $1 AND status = 'completed' AND (key = $2 OR key LIKE $3)
          ORDER BY seq DESC LIMIT 1",
    )
    .bind(journey_id)
    .bind(key)
    .bind(format!("{}#%", like_escaped(key)))
    .fetch_optional(db)
    .await
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

/// Marks journey `id`'s steps that were waiting or due to be retried as
/// cancelled (its cancellation: none of them will run); how many.
///
/// # Errors
/// The database's.
pub async fn cancel_open(db: impl PgExecutor<'_>, id: Uuid) -> Result<u64, sqlx::Error> {
    let done = sqlx::query(
        "UPDATE carepath.journey_steps SET status = 'cancelled', due_at = NULL
          WHERE journey_id = $1 AND status IN ('waiting', 'retrying')",
    )
    .bind(id)
    .execute(db)
    .await?;
    Ok(done.rows_affected())
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
