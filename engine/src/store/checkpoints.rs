//! Completed steps of many journeys written in one transaction (the group
//! checkpoint writer, [`crate::checkpoint`]), each only while the run that
//! did it is still its journey's latest.

use chrono::{DateTime, Utc};
use serde_json::Value;
use sqlx::PgConnection;
use uuid::Uuid;

/// A step a run completed, as it is to be recorded.
#[derive(Debug, Clone)]
pub struct Completed {
    /// The journey.
    pub journey_id: Uuid,
    /// The run that did the step ([`super::journeys::Claimed::runs`]).
    pub run: i64,
    /// The step's position (1-based).
    pub seq: i32,
    /// The step's key at that position (`notify#2`).
    pub key: String,
    /// Its output as stored (sealed when PHI).
    pub output: Value,
    /// Which attempt succeeded (1-based).
    pub attempt: i32,
    /// When that attempt began.
    pub started_at: DateTime<Utc>,
    /// The journey's phase, when it changed (or a retry's error must be
    /// cleared) since the journey row last stored it.
    pub phase: Option<String>,
}

/// A journey whose run is still its latest: id, run, status (`running`,
/// `paused`, ...).
pub type Fenced = (Uuid, i64, String);

/// How a checkpoint knows that its run still owns the journey.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ownership {
    /// Written on the connection that holds the journey's lock: nothing to
    /// check, nothing to lock.
    LockHeld,
    /// Written elsewhere (the group checkpoint writer): only while the run
    /// is still the journey's latest, its row locked until the commit.
    RunFenced,
}

/// The statement of [`record`], around the query that says which journeys'
/// steps are written.
macro_rules! record_sql {
    ($owned:literal) => {
        concat!(
            "WITH fenced AS (", $owned, "), done AS (
                 SELECT d.*
                   FROM unnest($1::uuid[], $2::bigint[], $3::int[], $4::text[], $5::jsonb[],
                               $6::int[], $7::timestamptz[])
                        AS d(journey_id, run, seq, key, output, attempts, started_at)
                   JOIN fenced f ON f.id = d.journey_id AND f.runs = d.run
             ), step AS (
                 INSERT INTO carepath.journey_steps
                     (journey_id, seq, key, kind, status, output, attempts, started_at, finished_at)
                 SELECT journey_id, seq, key, 'step', 'completed', output, attempts, started_at, now()
                   FROM done
                 ON CONFLICT (journey_id, seq) DO UPDATE
                    SET status = 'completed', output = EXCLUDED.output,
                        attempts = EXCLUDED.attempts, last_error = NULL, due_at = NULL,
                        finished_at = now()
                 RETURNING journey_id, key, attempts
             ), event AS (
                 INSERT INTO carepath.journey_history (journey_id, actor, kind, detail)
                 SELECT journey_id, 'engine', 'step_completed',
                        jsonb_build_object('step', key, 'attempt', attempts)
                   FROM step
                 RETURNING journey_id
             )
             SELECT id, runs, status FROM fenced"
        )
    };
}

/// Records `steps` completed, each with its `step_completed` history event,
/// in one statement (one commit when run alone). With
/// [`Ownership::RunFenced`], only the steps whose run is still their
/// journey's latest are written, and those journeys' rows are locked, in id
/// order. Returns the journeys whose steps were written, with their status;
/// a journey missing from the answer was claimed again since.
///
/// # Errors
/// A database error; nothing of the group is written then.
pub async fn record(
    conn: &mut PgConnection,
    steps: &[&Completed],
    ownership: Ownership,
) -> Result<Vec<Fenced>, sqlx::Error> {
    let sql = match ownership {
        // FOR UPDATE: the lock the history trigger takes on the same rows anyway.
        Ownership::RunFenced => record_sql!(
            "SELECT j.id, j.runs, j.status
               FROM carepath.journeys j
               JOIN unnest($1::uuid[], $2::bigint[]) AS r(id, runs)
                 ON j.id = r.id AND j.runs = r.runs
              ORDER BY j.id
                FOR UPDATE OF j"
        ),
        Ownership::LockHeld => record_sql!(
            "SELECT j.id, j.runs, j.status
               FROM carepath.journeys j
               JOIN unnest($1::uuid[], $2::bigint[]) AS r(id, runs) ON j.id = r.id"
        ),
    };
    sqlx::query_as(sql)
        .bind(steps.iter().map(|s| s.journey_id).collect::<Vec<_>>())
        .bind(steps.iter().map(|s| s.run).collect::<Vec<_>>())
        .bind(steps.iter().map(|s| s.seq).collect::<Vec<_>>())
        .bind(steps.iter().map(|s| s.key.as_str()).collect::<Vec<_>>())
        .bind(steps.iter().map(|s| &s.output).collect::<Vec<_>>())
        .bind(steps.iter().map(|s| s.attempt).collect::<Vec<_>>())
        .bind(steps.iter().map(|s| s.started_at).collect::<Vec<_>>())
        .fetch_all(conn)
        .await
}

/// Stores the phases of `steps` that carry one, clearing their journeys'
/// attempts and last error (a step succeeded).
///
/// # Errors
/// A database error.
pub async fn set_phases(conn: &mut PgConnection, steps: &[&Completed]) -> Result<(), sqlx::Error> {
    let (ids, phases): (Vec<Uuid>, Vec<&str>) = steps
        .iter()
        .filter_map(|s| s.phase.as_deref().map(|p| (s.journey_id, p)))
        .unzip();
    if ids.is_empty() {
        return Ok(());
    }
    sqlx::query(
        "UPDATE carepath.journeys j
            SET phase = p.phase, attempts = 0, last_error = NULL
           FROM unnest($1::uuid[], $2::text[]) AS p(id, phase)
          WHERE j.id = p.id",
    )
    .bind(ids)
    .bind(phases)
    .execute(conn)
    .await?;
    Ok(())
}
