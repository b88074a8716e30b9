//! Signals: stored, deduplicated by (journey, source, event id), and consumed
//! in arrival order by the journey's `wait_signal` positions.

use serde_json::Value;
use sqlx::PgExecutor;
use uuid::Uuid;

/// Stores a signal; `false` when this (source, event id) was already stored.
pub async fn insert(
    db: impl PgExecutor<'_>,
    journey_id: Uuid,
    name: &str,
    source: &str,
    event_id: &str,
    payload: &Value,
) -> Result<bool, sqlx::Error> {
    let inserted = sqlx::query(
        "INSERT INTO carepath.signals (journey_id, name, source, event_id, payload)
         VALUES ($1, $2, $3, $4, $5)
         ON CONFLICT ON CONSTRAINT signals_dedup DO NOTHING",
    )
    .bind(journey_id)
    .bind(name)
    .bind(source)
    .bind(event_id)
    .bind(payload)
    .execute(db)
    .await?
    .rows_affected();
    Ok(inserted == 1)
}

pub struct Consumed {
    pub event_id: String,
    pub source: String,
    pub payload: Value,
}

/// Marks the oldest unconsumed signal `name` as consumed by position `seq`.
pub async fn consume_next(
    db: impl PgExecutor<'_>,
    journey_id: Uuid,
    name: &str,
    seq: i32,
) -> Result<Option<Consumed>, sqlx::Error> {
    let row: Option<(String, String, Value)> = sqlx::query_as(
        "UPDATE carepath.signals SET consumed_at = now(), consumed_seq = $3
          WHERE id = (SELECT id FROM carepath.signals
                       WHERE journey_id = $1 AND name = $2 AND consumed_at IS NULL
                       ORDER BY id LIMIT 1)
          RETURNING event_id, source, payload",
    )
    .bind(journey_id)
    .bind(name)
    .bind(seq)
    .fetch_optional(db)
    .await?;
    Ok(row.map(|(event_id, source, payload)| Consumed {
        event_id,
        source,
        payload,
    }))
}
