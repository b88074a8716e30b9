//! Signals: stored, deduplicated by (journey, source, event id), and consumed
//! in arrival order by the journey's `wait_signal` positions.

use serde_json::Value;
use sqlx::PgExecutor;
use uuid::Uuid;

/// Stores a signal; `false` when this (source, event id) was already stored.
///
/// # Errors
/// A database error (no journey with `journey_id` breaks a foreign key).
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

/// A signal taken by a `wait_signal` position.
pub struct Consumed {
    /// Its event id, unique per source for the journey: the caller's
    /// `event_id` through the API, a webhook's dedup key, `decision:<uuid>`
    /// for an operator's decision.
    pub event_id: String,
    /// Where it came from: `api`, `operator`, or the vendor's name for a
    /// webhook.
    pub source: String,
    /// Its payload, as stored.
    pub payload: Value,
}

/// Marks the oldest unconsumed signal `name` as consumed by position `seq`;
/// `None` when none is waiting.
///
/// # Errors
/// A database error.
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
