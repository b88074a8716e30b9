//! The statements of a rewind ([`crate::Engine::rewind`]): the positions
//! after the chosen step move to `journey_steps_superseded`, and the
//! journey is due from there.

use sqlx::{FromRow, PgConnection};
use uuid::Uuid;

/// A recorded position of a journey, as a rewind weighs it.
#[derive(Debug, Clone, FromRow)]
pub struct Recorded {
    /// Its position in the journey.
    pub seq: i32,
    /// Its key (`notify#2`).
    pub key: String,
    /// `step`, `sleep` or `signal`.
    pub kind: String,
    /// `completed`, `retrying`, `failed`, `waiting` or `cancelled`.
    pub status: String,
}

/// The journey's position with `key`, if it recorded one.
///
/// # Errors
/// The database's.
pub async fn position(
    db: &mut PgConnection,
    journey_id: Uuid,
    key: &str,
) -> Result<Option<Recorded>, sqlx::Error> {
    sqlx::query_as(
        "SELECT seq, key, kind, status FROM carepath.journey_steps
          WHERE journey_id = $1 AND key = $2",
    )
    .bind(journey_id)
    .bind(key)
    .fetch_optional(db)
    .await
}

/// The journey's positions after `seq`, in order.
///
/// # Errors
/// The database's.
pub async fn after(
    db: &mut PgConnection,
    journey_id: Uuid,
    seq: i32,
) -> Result<Vec<Recorded>, sqlx::Error> {
    sqlx::query_as(
        "SELECT seq, key, kind, status FROM carepath.journey_steps
          WHERE journey_id = $1 AND seq > $2 ORDER BY seq",
    )
    .bind(journey_id)
    .bind(seq)
    .fetch_all(db)
    .await
}

/// Counts one more rewind of the journey; the count after it.
///
/// # Errors
/// The database's.
pub async fn count(db: &mut PgConnection, journey_id: Uuid) -> Result<i32, sqlx::Error> {
    sqlx::query_scalar(
        "UPDATE carepath.journeys SET rewinds = rewinds + 1 WHERE id = $1 RETURNING rewinds",
    )
    .bind(journey_id)
    .fetch_one(db)
    .await
}

/// Moves the positions after `seq` to `journey_steps_superseded` under
/// rewind number `rewind`. The signals they consumed stay consumed (kept,
/// with their history): they told of the world before the rewind — a case
/// the re-run may submit again is not the case they were about — so the
/// re-run learns it afresh, from new events or the lookups a workflow makes
/// when its vendor is silent.
///
/// # Errors
/// The database's.
pub async fn supersede(
    db: &mut PgConnection,
    journey_id: Uuid,
    seq: i32,
    rewind: i32,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO carepath.journey_steps_superseded
                (journey_id, rewind, seq, key, kind, status, output, attempts, last_error,
                 due_at, started_at, finished_at)
         SELECT journey_id, $3, seq, key, kind, status, output, attempts, last_error,
                due_at, started_at, finished_at
           FROM carepath.journey_steps WHERE journey_id = $1 AND seq > $2",
    )
    .bind(journey_id)
    .bind(seq)
    .bind(rewind)
    .execute(&mut *db)
    .await?;
    sqlx::query("DELETE FROM carepath.journey_steps WHERE journey_id = $1 AND seq > $2")
        .bind(journey_id)
        .bind(seq)
        .execute(&mut *db)
        .await?;
    Ok(())
}

/// Makes the rewound journey due to run from its first unrecorded position,
/// as if it had never got further: no output, no error, no wait. Counts a
/// run, so that a run whose lock was lost before the rewind cannot record
/// into the rewound positions ([`crate::store::checkpoints`]).
///
/// # Errors
/// The database's.
pub async fn restart(db: &mut PgConnection, journey_id: Uuid) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE carepath.journeys
            SET status = 'running', waiting_for = NULL, wake_at = now(), output = NULL,
                last_error = NULL, attempts = 0, stalled_runs = 0, finished_at = NULL,
                runs = runs + 1
          WHERE id = $1",
    )
    .bind(journey_id)
    .execute(db)
    .await?;
    Ok(())
}

/// Whether this transaction got the journey's run lock (the advisory lock a
/// worker holds while it runs the journey, `crate::runner::JourneyLock`)
/// at once: `false` while a worker holds it. Held until the transaction ends.
///
/// # Errors
/// The database's.
pub async fn try_lock_runs(db: &mut PgConnection, journey_id: Uuid) -> Result<bool, sqlx::Error> {
    sqlx::query_scalar("SELECT pg_try_advisory_xact_lock(hashtextextended($1::text, 0))")
        .bind(journey_id)
        .fetch_one(db)
        .await
}

/// Whether this transaction got the journey's run lock within `wait`: `false` while a worker still runs it after that. Held
/// until the transaction ends. A worker that has just ended a run still
/// holds the lock for the moment it takes to release it, so an operator who
/// acts on a journey they see completed waits that moment rather than being
/// refused. Take it before the journey's row lock, in the worker's order.
///
/// # Errors
/// The database's.
pub async fn lock_runs_within(
    db: &mut PgConnection,
    journey_id: Uuid,
    wait: std::time::Duration,
) -> Result<bool, sqlx::Error> {
    let previous: String = sqlx::query_scalar("SELECT current_setting('lock_timeout')")
        .fetch_one(&mut *db)
        .await?;
    sqlx::query("SELECT set_config('lock_timeout', $1, true)")
        .bind(format!("{}ms", wait.as_millis().max(1)))
        .execute(&mut *db)
        .await?;
    let locked = sqlx::query("SELECT pg_advisory_xact_lock(hashtextextended($1::text, 0))")
        .bind(journey_id)
        .execute(&mut *db)
        .await;
    match locked {
        Ok(_) => {}
        Err(sqlx::Error::Database(e)) if e.code().as_deref() == Some("55P03") => {
            return Ok(false);
        }
        Err(e) => return Err(e),
    }
    sqlx::query("SELECT set_config('lock_timeout', $1, true)")
        .bind(previous)
        .execute(db)
        .await?;
    Ok(true)
}

/// Whether the journey's PHI was erased (its data key destroyed).
///
/// # Errors
/// The database's.
pub async fn is_erased(db: &mut PgConnection, journey_id: Uuid) -> Result<bool, sqlx::Error> {
    sqlx::query_scalar(
        "SELECT coalesce((SELECT phi_erased_at IS NOT NULL FROM carepath.journeys WHERE id = $1),
                         false)",
    )
    .bind(journey_id)
    .fetch_one(db)
    .await
}
