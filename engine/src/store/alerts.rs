//! Alerts journeys raise for people (a clinician's decision past its SLA):
//! a row for metrics and dashboards, and an event in the journey's history.
//! An alert is open until the journey gets past its cause (the clinician
//! acts, the order moves) or ends; only open alerts make a journey overdue.

use serde_json::{Value, json};
use sqlx::{PgConnection, PgPool};
use uuid::Uuid;

use super::history;

/// Raises `kind` for the journey once per `occasion` (a step key): a re-run
/// of the step finds the alert already raised and adds nothing.
///
/// # Errors
/// A database error; nothing is raised then.
pub async fn raise(
    pool: &PgPool,
    journey_id: Uuid,
    kind: &str,
    occasion: &str,
    detail: Value,
) -> Result<(), sqlx::Error> {
    let mut tx = pool.begin().await?;
    let inserted = sqlx::query(
        "INSERT INTO carepath.alerts (journey_id, kind, occasion, detail) VALUES ($1, $2, $3, $4)
         ON CONFLICT ON CONSTRAINT alerts_once DO NOTHING",
    )
    .bind(journey_id)
    .bind(kind)
    .bind(occasion)
    .bind(&detail)
    .execute(&mut *tx)
    .await?
    .rows_affected();
    if inserted == 1 {
        history::append(
            &mut *tx,
            journey_id,
            "engine",
            "alert_raised",
            json!({ "alert": kind, "detail": detail }),
        )
        .await?;
        tracing::warn!(journey = %journey_id, alert = kind, "alert raised");
    }
    tx.commit().await
}

/// Resolves the journey's open alerts of `kinds` — only those whose detail
/// names `about` (`("order_id", "ord_1")`) when given — saying `how` (no
/// PHI: it is shown to operators and kept in history). Returns how many were
/// open. Resolving what is already resolved changes nothing, so a step that
/// resolves and is re-run adds nothing.
///
/// # Errors
/// A database error; nothing is resolved then.
pub async fn resolve(
    pool: &PgPool,
    journey_id: Uuid,
    kinds: &[&str],
    about: Option<(&str, &str)>,
    how: &str,
) -> Result<u64, sqlx::Error> {
    let mut tx = pool.begin().await?;
    let n = resolve_in(&mut tx, journey_id, kinds, about, how).await?;
    tx.commit().await?;
    Ok(n)
}

/// [`resolve`] inside the caller's transaction; `kinds` empty means every kind.
///
/// # Errors
/// A database error.
pub async fn resolve_in(
    conn: &mut PgConnection,
    journey_id: Uuid,
    kinds: &[&str],
    about: Option<(&str, &str)>,
    how: &str,
) -> Result<u64, sqlx::Error> {
    let kinds: Vec<String> = kinds.iter().map(|k| (*k).to_owned()).collect();
    let (key, value) = about.unzip();
    let resolved: Vec<(String, Value)> = sqlx::query_as(
        "UPDATE carepath.alerts SET resolved_at = now(), resolution = $5
          WHERE journey_id = $1 AND resolved_at IS NULL
            AND (cardinality($2::text[]) = 0 OR kind = ANY($2))
            AND ($3::text IS NULL OR detail->>$3 = $4)
        RETURNING kind, detail",
    )
    .bind(journey_id)
    .bind(&kinds)
    .bind(key)
    .bind(value)
    .bind(how)
    .fetch_all(&mut *conn)
    .await?;
    for (kind, detail) in &resolved {
        history::append(
            &mut *conn,
            journey_id,
            "engine",
            "alert_resolved",
            json!({ "alert": kind, "detail": detail, "resolution": how }),
        )
        .await?;
        tracing::info!(journey = %journey_id, alert = %kind, "alert resolved");
    }
    Ok(resolved.len() as u64)
}

/// Open alerts, by kind, of journeys still under way (for `/metrics`).
///
/// # Errors
/// A database error.
pub async fn open_counts(pool: &PgPool) -> Result<Vec<(String, i64)>, sqlx::Error> {
    sqlx::query_as(
        "SELECT a.kind, count(*) FROM carepath.alerts a
           JOIN carepath.journeys j ON j.id = a.journey_id
          WHERE a.resolved_at IS NULL AND j.status IN ('running', 'waiting')
          GROUP BY a.kind ORDER BY a.kind",
    )
    .fetch_all(pool)
    .await
}

/// Alerts raised so far, by kind (for `/metrics`).
///
/// # Errors
/// A database error.
pub async fn counts(pool: &PgPool) -> Result<Vec<(String, i64)>, sqlx::Error> {
    sqlx::query_as("SELECT kind, count(*) FROM carepath.alerts GROUP BY kind ORDER BY kind")
        .fetch_all(pool)
        .await
}
