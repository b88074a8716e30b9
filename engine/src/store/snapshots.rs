//! Stored gauge snapshots and the stored overdue set
//! (`carepath.gauge_snapshots`, `carepath.overdue_journeys`): computed by one
//! process per interval, read by every scrape and every `overdue=true`
//! listing.

use chrono::{DateTime, Utc};
use sqlx::{PgConnection, PgExecutor};

use crate::overdue_reason;

/// A stored snapshot: its text, when it was computed, and how long (seconds)
/// computing it took.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Snapshot {
    /// What was computed (for gauges, Prometheus text format).
    pub body: String,
    /// When, in database time.
    pub computed_at: DateTime<Utc>,
    /// How long computing it took, in seconds.
    pub took_secs: f64,
}

/// The snapshot `name` and its age in seconds (database time); `None` when
/// none was ever stored.
///
/// # Errors
/// The database's.
pub async fn read(
    db: impl PgExecutor<'_>,
    name: &str,
) -> Result<Option<(Snapshot, f64)>, sqlx::Error> {
    let row: Option<(String, DateTime<Utc>, f64, f64)> = sqlx::query_as(
        "SELECT body, computed_at, took_secs,
                extract(epoch FROM now() - computed_at)::float8
           FROM carepath.gauge_snapshots WHERE name = $1",
    )
    .bind(name)
    .fetch_optional(db)
    .await?;
    Ok(row.map(|(body, computed_at, took_secs, age)| {
        (
            Snapshot {
                body,
                computed_at,
                took_secs,
            },
            age,
        )
    }))
}

/// Whether this transaction may compute the snapshots: it got the
/// deployment-wide advisory lock (held until the transaction ends) and the
/// stored snapshot `name` is missing or at least `min_age_secs` old (so two
/// processes that both found it stale compute it once).
///
/// # Errors
/// The database's.
pub async fn claim(
    tx: &mut PgConnection,
    name: &str,
    min_age_secs: f64,
) -> Result<bool, sqlx::Error> {
    let locked: bool =
        sqlx::query_scalar("SELECT pg_try_advisory_xact_lock(hashtext('carepath.gauges'))")
            .fetch_one(&mut *tx)
            .await?;
    if !locked {
        return Ok(false);
    }
    let fresh: bool = sqlx::query_scalar(
        "SELECT EXISTS (SELECT 1 FROM carepath.gauge_snapshots
                         WHERE name = $1
                           AND computed_at > now() - make_interval(secs => $2))",
    )
    .bind(name)
    .bind(min_age_secs)
    .fetch_one(&mut *tx)
    .await?;
    Ok(!fresh)
}

/// Stores the snapshot `name`, computed at the transaction's start.
///
/// # Errors
/// The database's.
pub async fn store(
    db: impl PgExecutor<'_>,
    name: &str,
    body: &str,
    took_secs: f64,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO carepath.gauge_snapshots (name, body, computed_at, took_secs)
         VALUES ($1, $2, now(), $3)
         ON CONFLICT (name) DO UPDATE
            SET body = EXCLUDED.body, computed_at = EXCLUDED.computed_at,
                took_secs = EXCLUDED.took_secs",
    )
    .bind(name)
    .bind(body)
    .bind(took_secs)
    .execute(db)
    .await?;
    Ok(())
}

/// Replaces the stored overdue set with the journeys overdue now
/// ([`crate::overdue_condition!`]); returns how many.
///
/// # Errors
/// The database's.
pub async fn refresh_overdue(tx: &mut PgConnection) -> Result<u64, sqlx::Error> {
    sqlx::query("DELETE FROM carepath.overdue_journeys")
        .execute(&mut *tx)
        .await?;
    Ok(sqlx::query(concat!(
        "INSERT INTO carepath.overdue_journeys (journey_id, reason)
         SELECT id, overdue FROM (SELECT j.id, ",
        overdue_reason!(),
        " FROM carepath.journeys j
           WHERE j.status IN ('running', 'waiting')) o
          WHERE overdue IS NOT NULL"
    ))
    .execute(&mut *tx)
    .await?
    .rows_affected())
}
