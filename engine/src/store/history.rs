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

/// The journey's whole history, oldest first (from the archive when its
/// month was archived, [`super::partitions`]); empty for an unknown journey.
///
/// # Errors
/// A database error.
pub async fn list(
    db: impl PgExecutor<'_>,
    journey_id: Uuid,
) -> Result<Vec<HistoryEvent>, sqlx::Error> {
    sqlx::query_as(
        "SELECT seq, at, actor, kind, detail, prev_hash, hash
           FROM carepath.journey_history_of($1) ORDER BY seq",
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
    /// The first event whose link or hash does not hold, or the first one
    /// missing after the last (the journey's row records more).
    pub broken_at: Option<i64>,
    /// The journey's month was archived ([`super::partitions`]), its
    /// archive since dropped, and none of its events is left: nothing to
    /// verify, and `ok` says nothing.
    pub retired: bool,
}

/// Rebuilds every hash from the stored columns, independently of the trigger
/// that wrote them, checks each event points at its predecessor, and that
/// the last is the one the journey's row says it has (so events removed
/// from the end are found too). An archived month's history is read from
/// the archive.
///
/// # Errors
/// A database error. A broken chain is not one: it is `ok: false`.
pub async fn verify(
    db: impl PgExecutor<'_>,
    journey_id: Uuid,
) -> Result<Verification, sqlx::Error> {
    let rows: Vec<Link> = sqlx::query_as(
        "SELECT j.history_seq AS recorded, j.history_head AS head,
                EXISTS (SELECT 1 FROM carepath.archived_months a
                         WHERE a.month = carepath.v7_month(j.id))
                AND to_regclass('carepath_archive.journey_history_' || carepath.v7_month(j.id))
                    IS NULL
                AND to_regclass('carepath.journey_history_' || carepath.v7_month(j.id))
                    IS NULL AS retired,
                h.seq,
                (extract(epoch FROM h.at) * 1000000)::bigint AS at_micros, h.actor, h.kind,
                h.detail::text AS detail, h.prev_hash, h.hash
           FROM carepath.journeys j
           LEFT JOIN LATERAL carepath.journey_history_of(j.id) h ON true
          WHERE j.id = $1 ORDER BY h.seq",
    )
    .bind(journey_id)
    .fetch_all(db)
    .await?;
    // Retired only with nothing left to read: any event still present is
    // checked (one written after the archive was dropped reads as broken).
    if rows.first().is_some_and(|r| r.retired) && rows.iter().all(|l| l.seq.is_none()) {
        return Ok(Verification {
            ok: true,
            events: rows.iter().filter(|l| l.seq.is_some()).count(),
            broken_at: None,
            retired: true,
        });
    }
    let mut prev = String::new();
    let mut events: i64 = 0;
    let mut broken_at = None;
    // A journey without events is one row of NULLs (the LEFT JOIN).
    for link in rows.iter().filter(|l| l.seq.is_some()) {
        let seq = link.seq.unwrap_or_default();
        let (actor, kind, detail) = (&link.actor, &link.kind, &link.detail);
        let input = format!(
            "{prev}|{seq}|{journey_id}|{}|{}:{}|{}:{}|{}:{}",
            link.at_micros.unwrap_or_default(),
            actor.as_deref().map_or(0, |a| a.chars().count()),
            actor.as_deref().unwrap_or_default(),
            kind.as_deref().map_or(0, |k| k.chars().count()),
            kind.as_deref().unwrap_or_default(),
            detail.as_deref().map_or(0, |d| d.chars().count()),
            detail.as_deref().unwrap_or_default(),
        );
        let expected = hex::encode(Sha256::digest(input.as_bytes()));
        let hash = link.hash.clone().unwrap_or_default();
        if seq != events + 1 || link.prev_hash.as_deref() != Some(prev.as_str()) || hash != expected
        {
            broken_at = Some(seq);
            break;
        }
        events += 1;
        prev = hash;
    }
    if broken_at.is_none()
        && let Some(row) = rows.first()
        && (events != row.recorded || prev != row.head)
    {
        // The chain holds as far as it goes, but the journey's row says it
        // went further: the events after it are missing.
        broken_at = Some(events + 1);
    }
    Ok(Verification {
        ok: broken_at.is_none(),
        events: rows.iter().filter(|l| l.seq.is_some()).count(),
        broken_at,
        retired: false,
    })
}

/// One event of [`verify`]'s read, beside what the journey's row records.
#[derive(FromRow)]
struct Link {
    recorded: i64,
    head: String,
    retired: bool,
    seq: Option<i64>,
    at_micros: Option<i64>,
    actor: Option<String>,
    kind: Option<String>,
    detail: Option<String>,
    prev_hash: Option<String>,
    hash: Option<String>,
}
