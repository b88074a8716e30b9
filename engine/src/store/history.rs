//! The per-journey audit trail: append-only (the database refuses UPDATE and
//! DELETE) and hash-chained (a trigger links each event to the one before).

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::Value;
use sha2::{Digest, Sha256};
use sqlx::{FromRow, PgExecutor};
use uuid::Uuid;

/// One event of a journey's audit trail (`carepath.journey_history`).
#[derive(Debug, Clone, Serialize, FromRow)]
pub struct HistoryEvent {
    /// Its place in the journey's history: 1, 2, ... without gaps.
    pub seq: i64,
    /// When it was appended: the database's `clock_timestamp()`, hashed to
    /// the microsecond.
    pub at: DateTime<Utc>,
    /// Who caused it: `engine`, `webhook:<vendor>`, or the
    /// [`Actor`](crate::Actor) of an operation (`cli`, a token's name).
    pub actor: String,
    /// What happened: `started`, `step_completed`, `signal_received`,
    /// `pause`, `alert_raised`, ...
    pub kind: String,
    /// The event's particulars, a JSON object whose shape depends on `kind`.
    pub detail: Value,
    /// The previous event's `hash`; empty for the first event.
    pub prev_hash: String,
    /// SHA-256, in hex, of `prev_hash` and this event's columns (the text
    /// `carepath.history_hash_input` builds), which chains the events.
    pub hash: String,
}

/// Appends an event of `kind` to the journey's history; the chaining trigger
/// sets its `seq`, time and hashes and the journey's `updated_at`. Call it in
/// the transaction of the change it records.
///
/// # Errors
/// A database error, among them the trigger's exception when no journey has
/// `journey_id`.
pub async fn append(
    db: impl PgExecutor<'_>,
    journey_id: Uuid,
    actor: &str,
    kind: &str,
    detail: Value,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        // seq, at and the hashes are set by the chaining trigger.
        "INSERT INTO carepath.journey_history (journey_id, actor, kind, detail)
         VALUES ($1, $2, $3, $4)",
    )
    .bind(journey_id)
    .bind(actor)
    .bind(kind)
    .bind(detail)
    .execute(db)
    .await?;
    Ok(())
}

/// The journey's whole history, oldest first; empty for an unknown journey.
///
/// # Errors
/// A database error.
pub async fn list(
    db: impl PgExecutor<'_>,
    journey_id: Uuid,
) -> Result<Vec<HistoryEvent>, sqlx::Error> {
    sqlx::query_as(
        "SELECT seq, at, actor, kind, detail, prev_hash, hash
           FROM carepath.journey_history WHERE journey_id = $1 ORDER BY seq",
    )
    .bind(journey_id)
    .fetch_all(db)
    .await
}

/// What [`verify`] found.
#[derive(Debug, Clone, Serialize)]
pub struct Verification {
    /// Whether every link and hash holds (`true` for an empty history).
    pub ok: bool,
    /// How many events the journey's history has.
    pub events: usize,
    /// The first event whose link or hash does not hold.
    pub broken_at: Option<i64>,
}

/// Rebuilds every hash from the stored columns, independently of the trigger
/// that wrote them, and checks each event points at its predecessor.
///
/// # Errors
/// A database error. A broken chain is not one: it is `ok: false`.
pub async fn verify(
    db: impl PgExecutor<'_>,
    journey_id: Uuid,
) -> Result<Verification, sqlx::Error> {
    let rows: Vec<(i64, i64, String, String, String, String, String)> = sqlx::query_as(
        "SELECT seq, (extract(epoch FROM at) * 1000000)::bigint, actor, kind, detail::text,
                prev_hash, hash
           FROM carepath.journey_history WHERE journey_id = $1 ORDER BY seq",
    )
    .bind(journey_id)
    .fetch_all(db)
    .await?;
    let mut prev = String::new();
    let mut broken_at = None;
    for (i, (seq, at_micros, actor, kind, detail, prev_hash, hash)) in rows.iter().enumerate() {
        let input = format!(
            "{prev}|{seq}|{journey_id}|{at_micros}|{}:{actor}|{}:{kind}|{}:{detail}",
            actor.chars().count(),
            kind.chars().count(),
            detail.chars().count()
        );
        let expected = hex::encode(Sha256::digest(input.as_bytes()));
        if *seq != i as i64 + 1 || *prev_hash != prev || *hash != expected {
            broken_at = Some(*seq);
            break;
        }
        prev = hash.clone();
    }
    Ok(Verification {
        ok: broken_at.is_none(),
        events: rows.len(),
        broken_at,
    })
}
