//! The one way a vendor's event enters the inbox, whichever way it came —
//! pushed as a webhook or read from the vendor's feed — and the one way a
//! refusal is recorded. The same event arriving twice (a webhook repeated, a
//! feed item whose webhook also came) is stored once, under its dedup key
//! (which the vendor's `WebhookSource` names, the same both ways), and only
//! counts a delivery, so the router applies it once. Operators list
//! what is stored and what was refused, and replay or skip stored events.

use chrono::{DateTime, Utc};
use serde_json::Value;
use sqlx::{FromRow, PgConnection, PgExecutor};
use uuid::Uuid;

pub use super::rejections::{RefusedBody, Rejection, reject, rejections};

/// How an event reached the inbox (the row's `source`: the way it first
/// arrived).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    /// Pushed by the vendor to `POST /webhooks/{vendor}`.
    Webhook,
    /// Read from the vendor's event feed by a worker.
    Feed,
}

impl Source {
    /// `webhook` or `feed`, as stored.
    pub fn as_str(self) -> &'static str {
        match self {
            Source::Webhook => "webhook",
            Source::Feed => "feed",
        }
    }
}

/// Where a stored event is in routing (the row's `status`, the same text on
/// the wire).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum InboxStatus {
    /// Stored, waiting to be routed (or routed again after a replay).
    Received,
    /// Delivered as a signal to the journey that owns what it is about.
    Applied,
    /// No journey owns what it is about (after the grace period).
    Unmatched,
    /// It could not be processed; its error is in the note.
    Parked,
    /// The owning journey's workflow does not receive it.
    Ignored,
    /// An operator set it aside for good.
    Skipped,
}

impl InboxStatus {
    /// Every status, in the order operators read them.
    pub const ALL: [InboxStatus; 6] = [
        Self::Received,
        Self::Applied,
        Self::Unmatched,
        Self::Parked,
        Self::Ignored,
        Self::Skipped,
    ];

    /// As stored and shown.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Received => "received",
            Self::Applied => "applied",
            Self::Unmatched => "unmatched",
            Self::Parked => "parked",
            Self::Ignored => "ignored",
            Self::Skipped => "skipped",
        }
    }
}

impl std::fmt::Display for InboxStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for InboxStatus {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|status| status.as_str() == s)
            .ok_or_else(|| format!("unknown inbox status {s:?}"))
    }
}

impl TryFrom<String> for InboxStatus {
    type Error = String;

    fn try_from(s: String) -> Result<Self, Self::Error> {
        s.parse()
    }
}

/// Stores `vendor`'s `event` (its body raw bytes, sealed; the caller has
/// checked that they are a storable JSON object, see [`crate::storable`])
/// with the `headers` worth keeping (a JSON object), to be routed by the
/// workers in its partition.
/// `true` when it was new; `false` when an event with this `dedup_key` was
/// already stored (from either source), whose delivery count goes up by one
/// and which is otherwise left as it was (its first `source` and body stay).
///
/// # Errors
/// The database's.
pub async fn store(
    db: impl PgExecutor<'_>,
    vendor: &str,
    source: Source,
    dedup_key: &str,
    event: Event<'_>,
    headers: &Value,
) -> Result<bool, sqlx::Error> {
    sqlx::query_scalar(
        "INSERT INTO carepath.webhook_inbox
                (vendor, dedup_key, event_type, body, headers, source, route_partition)
         VALUES ($1, $2, $3, $4, $5, $6, $7)
         ON CONFLICT ON CONSTRAINT webhook_inbox_dedup
         DO UPDATE SET deliveries = carepath.webhook_inbox.deliveries + 1
         RETURNING (xmax = 0)",
    )
    .bind(vendor)
    .bind(dedup_key)
    .bind(event.event_type)
    .bind(event.body)
    .bind(headers)
    .bind(source.as_str())
    .bind(event.partition)
    .fetch_one(db)
    .await
}

/// An event as [`store`] keeps it.
#[derive(Debug, Clone, Copy)]
pub struct Event<'a> {
    /// Its `type`, when it named one.
    pub event_type: Option<&'a str>,
    /// Its body, sealed.
    pub body: &'a [u8],
    /// The partition it is routed in ([`partition`]).
    pub partition: i16,
}

/// The partition `vendor`'s event is routed in, given the resources it
/// names in the router's order ([`crate::webhook_source::routable_references`]):
/// that of the journey owning the first one a journey owns (what the router
/// will find), else that of the first one, else 0 (an event no router can
/// place, which will be parked or left unmatched).
///
/// # Errors
/// The database's.
pub async fn partition(
    db: impl PgExecutor<'_>,
    vendor: &str,
    references: &[crate::webhook_source::Reference],
) -> Result<i16, sqlx::Error> {
    let Some(first) = references.first() else {
        return Ok(0);
    };
    let (kinds, ids): (Vec<&str>, Vec<&str>) = references
        .iter()
        .map(|r| (r.kind.as_str(), r.id.as_str()))
        .unzip();
    let owner: Option<Uuid> = sqlx::query_scalar(
        "SELECT r.journey_id
           FROM unnest($2::text[], $3::text[]) WITH ORDINALITY AS t(kind, ref, n)
           JOIN carepath.journey_refs r ON r.vendor = $1 AND r.kind = t.kind AND r.ref = t.ref
          ORDER BY t.n LIMIT 1",
    )
    .bind(vendor)
    .bind(&kinds)
    .bind(&ids)
    .fetch_optional(db)
    .await?;
    Ok(match owner {
        Some(journey) => crate::webhook_source::journey_partition(journey),
        None => crate::webhook_source::reference_partition(vendor, first),
    })
}

/// A stored event as operators see it: where it is in routing, never its body.
#[derive(Debug, Clone, FromRow)]
pub struct Entry {
    /// The inbox's own number for it (a listing's cursor).
    pub id: i64,
    /// The vendor that sent it.
    pub vendor: String,
    /// The key its deliveries are deduplicated by, one row per vendor and
    /// key ([`WebhookSource::dedup_key`](crate::WebhookSource::dedup_key)).
    pub dedup_key: String,
    /// The event's `type`, when it named one.
    pub event_type: Option<String>,
    /// Where it is in routing.
    #[sqlx(try_from = "String")]
    pub status: InboxStatus,
    /// The journey it was routed to, once routed.
    pub journey_id: Option<Uuid>,
    /// Why it is where it is: the routing error, an operator's reason.
    pub note: Option<String>,
    /// How many times it arrived (the first time included).
    pub deliveries: i32,
    /// [`Source::as_str`] of the way it first arrived.
    pub source: String,
    /// When it first arrived.
    pub received_at: DateTime<Utc>,
    /// When routing (or an operator) last settled it; `None` while it
    /// waits to be routed.
    pub processed_at: Option<DateTime<Utc>>,
}

/// The columns an [`Entry`] is read from, in one place for every query.
macro_rules! entry_columns {
    () => {
        "id, vendor, dedup_key, event_type, status, journey_id, note, deliveries, source, \
         received_at, processed_at"
    };
}

/// Up to `limit` entries in `status` (of `vendor` only, when given), newest
/// first, from those stored before the entry `before` (a page's cursor)
/// when given.
///
/// # Errors
/// The database's.
pub async fn list(
    db: impl PgExecutor<'_>,
    status: InboxStatus,
    vendor: Option<&str>,
    before: Option<i64>,
    limit: i64,
) -> Result<Vec<Entry>, sqlx::Error> {
    sqlx::query_as(concat!(
        "SELECT ",
        entry_columns!(),
        " FROM carepath.webhook_inbox
          WHERE status = $1 AND ($2::text IS NULL OR vendor = $2) AND ($3::bigint IS NULL OR id < $3)
          ORDER BY id DESC LIMIT $4",
    ))
    .bind(status.as_str())
    .bind(vendor)
    .bind(before)
    .bind(limit)
    .fetch_all(db)
    .await
}

/// The entry `id`, if there is one.
///
/// # Errors
/// The database's.
pub async fn get(db: impl PgExecutor<'_>, id: i64) -> Result<Option<Entry>, sqlx::Error> {
    sqlx::query_as(concat!(
        "SELECT ",
        entry_columns!(),
        " FROM carepath.webhook_inbox WHERE id = $1"
    ))
    .bind(id)
    .fetch_optional(db)
    .await
}

/// Puts the entries `ids` back to be routed now, as if just received (the
/// same event id becomes the same signal, so a journey that already has it
/// does not get it twice); those already waiting to be routed are left as
/// they are. Returns the ids it applied to, in no particular order.
///
/// # Errors
/// The database's.
pub async fn replay(db: impl PgExecutor<'_>, ids: &[i64]) -> Result<Vec<i64>, sqlx::Error> {
    sqlx::query_scalar(
        "UPDATE carepath.webhook_inbox
            SET status = 'received', note = NULL, processed_at = NULL, route_after = now(),
                route_attempts = 0
          WHERE id = ANY($1) AND status <> 'received'
          RETURNING id",
    )
    .bind(ids)
    .fetch_all(db)
    .await
}

/// Sets the entries `ids` aside for good (`skipped`, with `note` saying who
/// and why): the router leaves them until replayed. An applied entry was
/// delivered and is not skipped, nor is one already skipped. Returns the ids
/// it applied to, in no particular order.
///
/// # Errors
/// The database's.
pub async fn skip(
    db: impl PgExecutor<'_>,
    ids: &[i64],
    note: &str,
) -> Result<Vec<i64>, sqlx::Error> {
    sqlx::query_scalar(
        "UPDATE carepath.webhook_inbox
            SET status = 'skipped', note = $2, processed_at = now()
          WHERE id = ANY($1) AND status IN ('received', 'unmatched', 'ignored', 'parked')
          RETURNING id",
    )
    .bind(ids)
    .bind(note)
    .fetch_all(db)
    .await
}

/// A stored event as the router reads it.
#[derive(Debug, FromRow)]
pub struct Stored {
    /// The inbox's own number for it.
    pub id: i64,
    /// The vendor that sent it.
    pub vendor: String,
    /// Its dedup key (see [`store`]).
    pub dedup_key: String,
    /// The event's type, when it named one.
    pub event_type: Option<String>,
    /// Its raw bytes, as received.
    pub body: Vec<u8>,
    /// Still within the grace period in which an unmatched event is retried.
    pub young: bool,
}

/// Takes the router lock of `partition` (`None`: the events stored without
/// one) for the rest of the transaction: `false` when another router holds
/// it. One router per partition keeps its events in arrival order. A
/// partition's router also holds the whole inbox's lock shared; the router
/// of the events without a partition holds it exclusively, as a build that
/// routed the inbox as one did: during a rolling upgrade, that router and
/// the partitions' never route at once.
///
/// # Errors
/// The database's.
pub async fn take_router_lock(
    db: &mut PgConnection,
    partition: Option<i16>,
) -> Result<bool, sqlx::Error> {
    let Some(partition) = partition else {
        return sqlx::query_scalar("SELECT pg_try_advisory_xact_lock(hashtext('carepath.inbox'))")
            .fetch_one(db)
            .await;
    };
    let whole: bool =
        sqlx::query_scalar("SELECT pg_try_advisory_xact_lock_shared(hashtext('carepath.inbox'))")
            .fetch_one(&mut *db)
            .await?;
    if !whole {
        return Ok(false);
    }
    sqlx::query_scalar("SELECT pg_try_advisory_xact_lock(hashtext('carepath.inbox.partition'), $1)")
        .bind(i32::from(partition))
        .fetch_one(db)
        .await
}

/// Up to `batch` of `partition`'s received events due to be routed (`None`:
/// of those stored without a partition), oldest first, locked for the
/// transaction; those received within `grace` are `young`.
///
/// # Errors
/// The database's.
pub async fn due(
    db: impl PgExecutor<'_>,
    partition: Option<i16>,
    batch: i64,
    grace: std::time::Duration,
) -> Result<Vec<Stored>, sqlx::Error> {
    // Two statements: a prepared plan could not use the index for either
    // with `IS NOT DISTINCT FROM`.
    sqlx::query_as(if partition.is_some() {
        "SELECT id, vendor, dedup_key, event_type, body,
                received_at > now() - make_interval(secs => $2) AS young
           FROM carepath.webhook_inbox
          WHERE status = 'received' AND route_after <= now() AND route_partition = $3
          ORDER BY id LIMIT $1
            FOR UPDATE"
    } else {
        "SELECT id, vendor, dedup_key, event_type, body,
                received_at > now() - make_interval(secs => $2) AS young
           FROM carepath.webhook_inbox
          WHERE status = 'received' AND route_after <= now() AND route_partition IS NULL
            AND $3::smallint IS NULL
          ORDER BY id LIMIT $1
            FOR UPDATE"
    })
    .bind(batch)
    .bind(grace.as_secs_f64())
    .bind(partition)
    .fetch_all(db)
    .await
}

/// Whether an event stored without a partition is due: the partitions wait
/// until it is routed (it arrived before their events).
///
/// # Errors
/// The database's.
pub async fn unpartitioned_due(db: impl PgExecutor<'_>) -> Result<bool, sqlx::Error> {
    sqlx::query_scalar(
        "SELECT EXISTS (SELECT 1 FROM carepath.webhook_inbox
                         WHERE status = 'received' AND route_partition IS NULL
                           AND route_after <= now())",
    )
    .fetch_one(db)
    .await
}

/// The partitions with events due to be routed (`None` for events stored
/// without one): where routers have work, so idle ones open no transaction.
///
/// # Errors
/// The database's.
pub async fn due_partitions(db: impl PgExecutor<'_>) -> Result<Vec<Option<i16>>, sqlx::Error> {
    sqlx::query_scalar(
        "SELECT DISTINCT route_partition FROM carepath.webhook_inbox
          WHERE status = 'received' AND route_after <= now()",
    )
    .fetch_all(db)
    .await
}

/// Puts a young unmatched event back to be routed again after a pause of
/// 0.25 s, 0.5 s, 1 s, ... capped at 8 s.
///
/// # Errors
/// The database's.
pub async fn defer(db: impl PgExecutor<'_>, id: i64) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE carepath.webhook_inbox
            SET route_attempts = route_attempts + 1,
                route_after = now() + make_interval(
                    secs => least(8.0, 0.25 * power(2, route_attempts)))
          WHERE id = $1",
    )
    .bind(id)
    .execute(db)
    .await?;
    Ok(())
}

/// Where routing left an event.
#[derive(Debug, Clone, Copy)]
pub struct Settled<'a> {
    /// Applied, unmatched or ignored.
    pub status: InboxStatus,
    /// The journey it went to, if one owns what it is about.
    pub journey_id: Option<Uuid>,
    /// Why it is where it is.
    pub note: Option<&'a str>,
    /// The references an unmatched event names (`case:<id>`).
    pub refs: &'a [String],
}

/// Records where routing left the event `id`.
///
/// # Errors
/// The database's.
pub async fn settle(
    db: impl PgExecutor<'_>,
    id: i64,
    settled: Settled<'_>,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE carepath.webhook_inbox
            SET status = $2, journey_id = $3, note = $4, refs = $5, processed_at = now()
          WHERE id = $1",
    )
    .bind(id)
    .bind(settled.status.as_str())
    .bind(settled.journey_id)
    .bind(settled.note)
    .bind(settled.refs)
    .execute(db)
    .await?;
    Ok(())
}

/// Parks the event `id` with `note` (why it cannot be processed), where an
/// operator finds it (`GET /v1/inbox?status=parked`) and can replay it.
///
/// # Errors
/// The database's.
pub async fn park(db: impl PgExecutor<'_>, id: i64, note: &str) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE carepath.webhook_inbox
            SET status = 'parked', note = $2, processed_at = now()
          WHERE id = $1",
    )
    .bind(id)
    .bind(note)
    .execute(db)
    .await?;
    Ok(())
}
