//! Alerts journeys raise for people (a clinician's decision past its SLA):
//! a row for metrics and dashboards, and an event in the journey's history.

use serde_json::{Value, json};
use sqlx::PgPool;
use uuid::Uuid;

use super::history;

/// Raises `kind` for the journey once per `occasion` (a step key): a re-run
/// of the step finds the alert already raised and adds nothing.
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

/// Alerts raised so far, by kind (for `/metrics`).
pub async fn counts(pool: &PgPool) -> Result<Vec<(String, i64)>, sqlx::Error> {
    sqlx::query_as("SELECT kind, count(*) FROM carepath.alerts GROUP BY kind ORDER BY kind")
        .fetch_all(pool)
        .await
}
