//! Read-only aggregates over the engine's tables, for the application's
//! `/metrics` gauges (read at scrape time, so they are right whichever
//! process is asked).

use sqlx::PgExecutor;

use crate::overdue_condition;

/// Journeys by (workflow, status, phase), with how many.
///
/// # Errors
/// The database's.
pub async fn journeys_by_status(
    db: impl PgExecutor<'_>,
) -> Result<Vec<(String, String, String, i64)>, sqlx::Error> {
    sqlx::query_as(
        "SELECT workflow, status, phase, count(*) FROM carepath.journeys
          GROUP BY workflow, status, phase ORDER BY 1, 2, 3",
    )
    .fetch_all(db)
    .await
}

/// A phase's overdue journeys (`j`): the phase, how many, and how long
/// (seconds) the oldest has been due — since its wake time, or since it
/// last recorded anything.
macro_rules! overdue_by_phase_columns {
    () => {
        "SELECT j.phase, count(*),
                extract(epoch FROM now() - min(coalesce(
                    CASE WHEN j.status = 'waiting' AND j.wake_at < now() - interval '1 minute'
                         THEN j.wake_at END,
                    greatest(j.wake_at, j.updated_at))))::float8"
    };
}

/// Overdue journeys ([`overdue_condition!`]) by phase: how many, and how
/// long (seconds) the oldest has been due — since its wake time, or since it
/// last recorded anything. One read, so the count and the age describe the
/// same journeys.
///
/// # Errors
/// The database's.
pub async fn overdue_by_phase(
    db: impl PgExecutor<'_>,
) -> Result<Vec<(String, i64, f64)>, sqlx::Error> {
    sqlx::query_as(concat!(
        overdue_by_phase_columns!(),
        "
           FROM carepath.journeys j WHERE ",
        overdue_condition!(),
        " GROUP BY j.phase ORDER BY 1"
    ))
    .fetch_all(db)
    .await
}

/// [`overdue_by_phase`] over the stored overdue set
/// ([`crate::store::snapshots`]), each re-checked: what an `overdue=true`
/// listing lists, counted, without scanning the journeys.
///
/// # Errors
/// The database's.
pub async fn stored_overdue_by_phase(
    db: impl PgExecutor<'_>,
) -> Result<Vec<(String, i64, f64)>, sqlx::Error> {
    sqlx::query_as(concat!(
        overdue_by_phase_columns!(),
        "
           FROM carepath.overdue_journeys o JOIN carepath.journeys j ON j.id = o.journey_id
          WHERE ",
        overdue_condition!(),
        " GROUP BY j.phase ORDER BY 1"
    ))
    .fetch_all(db)
    .await
}

/// Stored webhooks by routing status, with how many.
///
/// # Errors
/// The database's.
pub async fn inbox_by_status(db: impl PgExecutor<'_>) -> Result<Vec<(String, i64)>, sqlx::Error> {
    sqlx::query_as("SELECT status, count(*) FROM carepath.webhook_inbox GROUP BY status ORDER BY 1")
        .fetch_all(db)
        .await
}

/// Age in seconds of the oldest webhook not yet routed; 0 when none waits.
///
/// # Errors
/// The database's.
pub async fn inbox_lag_seconds(db: impl PgExecutor<'_>) -> Result<f64, sqlx::Error> {
    sqlx::query_scalar(
        "SELECT coalesce(extract(epoch FROM now() - min(received_at))::float8, 0)
           FROM carepath.webhook_inbox WHERE status = 'received'",
    )
    .fetch_one(db)
    .await
}

/// Webhooks refused at the door, as recorded.
///
/// # Errors
/// The database's.
pub async fn rejections(db: impl PgExecutor<'_>) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar("SELECT count(*) FROM carepath.webhook_rejections")
        .fetch_one(db)
        .await
}

/// `queue`'s tasks by apalis status, with how many. A `Pending` task not due
/// yet is a timer, not work waiting for a worker: it counts as `Scheduled`,
/// so `Pending` means due and not yet taken.
///
/// # Errors
/// The database's.
pub async fn queue_by_status(
    db: impl PgExecutor<'_>,
    queue: &str,
) -> Result<Vec<(String, i64)>, sqlx::Error> {
    sqlx::query_as(
        "SELECT CASE WHEN status = 'Pending' AND run_at > now() THEN 'Scheduled' ELSE status END,
                count(*)
           FROM apalis.jobs WHERE job_type = $1 GROUP BY 1 ORDER BY 1",
    )
    .bind(queue)
    .fetch_all(db)
    .await
}
