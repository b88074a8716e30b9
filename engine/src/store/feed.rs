//! History as a feed, for live streams: one journey's events after a seq,
//! and every journey's events after a point in time, filtered.

use chrono::{DateTime, Utc};
use sqlx::{FromRow, PgExecutor};
use uuid::Uuid;

use super::history::HistoryEvent;

/// The journey's events after `seq`, oldest first, at most `limit` (from
/// the archive too when its month was archived).
///
/// # Errors
/// The database's.
pub async fn journey_after(
    db: impl PgExecutor<'_>,
    journey_id: Uuid,
    seq: i64,
    limit: i64,
) -> Result<Vec<HistoryEvent>, sqlx::Error> {
    sqlx::query_as(
        "SELECT seq, at, actor, kind, detail, prev_hash, hash
           FROM carepath.journey_history_of($1)
          WHERE seq > $2 ORDER BY seq LIMIT $3",
    )
    .bind(journey_id)
    .bind(seq)
    .bind(limit)
    .fetch_all(db)
    .await
}

/// Where a feed of every journey's events has got to: the last event's
/// time, journey and seq (events are read in that order).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cursor {
    /// The event's time.
    pub at: DateTime<Utc>,
    /// Its journey.
    pub journey_id: Uuid,
    /// Its seq.
    pub seq: i64,
}

/// Which journeys' events a feed keeps; `None` keeps all.
#[derive(Debug, Clone, Copy, Default)]
pub struct FeedFilter<'a> {
    /// Journeys of this workflow.
    pub workflow: Option<&'a str>,
    /// Journeys in this status now.
    pub status: Option<&'a str>,
    /// Journeys in this phase now.
    pub phase: Option<&'a str>,
    /// Events of this kind (`rewind`, `step_completed`).
    pub kind: Option<&'a str>,
}

/// An event of a feed, with its journey.
#[derive(Debug, Clone, FromRow)]
pub struct FeedEvent {
    /// The journey.
    pub journey_id: Uuid,
    /// The event.
    #[sqlx(flatten)]
    pub event: HistoryEvent,
}

/// Events after `cursor` and appended more than `settle` ago by the
/// database's clock (far enough back that no transaction still open can
/// add an earlier one), that `filter` keeps, in (time, journey, seq)
/// order, at most `limit`.
///
/// # Errors
/// The database's.
pub async fn all_after(
    db: impl PgExecutor<'_>,
    cursor: &Cursor,
    settle: std::time::Duration,
    filter: &FeedFilter<'_>,
    limit: i64,
) -> Result<Vec<FeedEvent>, sqlx::Error> {
    sqlx::query_as(
        "SELECT h.journey_id, h.seq, h.at, h.actor, h.kind, h.detail, h.prev_hash, h.hash
           FROM carepath.journey_history h
           JOIN carepath.journeys j ON j.id = h.journey_id
          WHERE (h.at, h.journey_id, h.seq) > ($1, $2, $3)
            AND h.at < clock_timestamp() - make_interval(secs => $4)
            AND ($5::text IS NULL OR j.workflow = $5)
            AND ($6::text IS NULL OR j.status = $6)
            AND ($7::text IS NULL OR j.phase = $7)
            AND ($8::text IS NULL OR h.kind = $8)
          ORDER BY h.at, h.journey_id, h.seq
          LIMIT $9",
    )
    .bind(cursor.at)
    .bind(cursor.journey_id)
    .bind(cursor.seq)
    .bind(settle.as_secs_f64())
    .bind(filter.workflow)
    .bind(filter.status)
    .bind(filter.phase)
    .bind(filter.kind)
    .bind(limit)
    .fetch_all(db)
    .await
}

/// The database's time `settle` ago: where a feed that starts now begins,
/// on the same clock that stamps events.
///
/// # Errors
/// The database's.
pub async fn settled_now(
    db: impl PgExecutor<'_>,
    settle: std::time::Duration,
) -> Result<DateTime<Utc>, sqlx::Error> {
    sqlx::query_scalar("SELECT clock_timestamp() - make_interval(secs => $1)")
        .bind(settle.as_secs_f64())
        .fetch_one(db)
        .await
}
