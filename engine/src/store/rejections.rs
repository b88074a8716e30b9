//! `carepath.webhook_rejections`: what was refused before the inbox — a
//! delivery that failed the door's checks, a feed item that could not be
//! stored — and why. A refused webhook keeps its body and headers for a
//! while ([`KEEP_BODY_BYTES`], [`KEEP_LAST`], [`KEEP_HOURS`]) so that once the
//! cause is fixed (a secret set, say) an operator can replay it through the
//! door's own checks; after that only its digest and size stay.

use chrono::{DateTime, Utc};
use serde_json::Value;
use sha2::{Digest, Sha256};

/// The SHA-256 of a refused body, hex, as `body_sha256` records it.
pub fn digest(body: &[u8]) -> String {
    hex::encode(Sha256::digest(body))
}
use sqlx::{FromRow, PgExecutor};

/// The largest body kept for replay, in bytes; a larger one is recorded by
/// digest and size only.
pub const KEEP_BODY_BYTES: usize = 64 * 1024;
/// How many of the latest rejections keep their body, whatever their age.
pub const KEEP_LAST: i64 = 1_000;
/// How long a rejection keeps its body, in hours.
pub const KEEP_HOURS: i32 = 72;

/// What is known of a refused body.
#[derive(Debug, Clone, Copy)]
pub enum RefusedBody<'a> {
    /// Its bytes: recorded by size and SHA-256 (a feed item: nothing to
    /// replay it through).
    Read(&'a [u8]),
    /// A webhook delivery: recorded by size and SHA-256, and kept with the
    /// `headers` it came with (a JSON object, name to value) for replay, if
    /// no larger than [`KEEP_BODY_BYTES`].
    Delivery {
        /// The raw body.
        body: &'a [u8],
        /// What is kept of it for replay: the body sealed at
        /// [`crate::vault::Place::rejected_body`] ([`crate::Engine::seal_body`]),
        /// or the body itself with encryption off.
        kept: &'a [u8],
        /// The headers the door's checks read.
        headers: &'a Value,
    },
    /// Too large to be read: recorded by its declared size (bytes), without
    /// a digest.
    Unread {
        /// The size it declared (`Content-Length`), in bytes; 0 when unknown.
        declared: i64,
    },
}

/// Records an event refused before the inbox: the HTTP status it was
/// answered with (for a feed item, which is not answered, the status its
/// body would have got as a webhook), the `reason` (no event content: it is
/// shown to operators), the body's size and digest, and for a delivery its
/// body and headers (see [`RefusedBody::Delivery`]). Clears the kept bodies
/// of rejections older than [`KEEP_HOURS`] or beyond the last [`KEEP_LAST`].
///
/// # Errors
/// The database's.
pub async fn reject(
    db: impl PgExecutor<'_>,
    vendor: &str,
    status_code: u16,
    reason: &str,
    body: RefusedBody<'_>,
) -> Result<(), sqlx::Error> {
    let (digest, size, kept, headers) = match body {
        RefusedBody::Read(b) => (digest(b), b.len(), None, None),
        RefusedBody::Delivery {
            body,
            kept,
            headers,
        } => {
            let small = body.len() <= KEEP_BODY_BYTES;
            let kept = small.then_some(kept);
            (digest(body), body.len(), kept, small.then_some(headers))
        }
        RefusedBody::Unread { declared } => (
            String::new(),
            usize::try_from(declared).unwrap_or(0),
            None,
            None,
        ),
    };
    sqlx::query(
        "WITH refused AS (
             INSERT INTO carepath.webhook_rejections
                    (vendor, status_code, reason, body_sha256, body_bytes, body, headers)
             VALUES ($1, $2, $3, $4, $5, $6, $7)
             RETURNING id)
         UPDATE carepath.webhook_rejections r SET body = NULL, headers = NULL
           FROM refused
          WHERE r.body IS NOT NULL
            AND (r.received_at < now() - make_interval(hours => $8) OR r.id <= refused.id - $9)",
    )
    .bind(vendor)
    .bind(i32::from(status_code))
    .bind(reason)
    .bind(digest)
    .bind(i32::try_from(size).unwrap_or(i32::MAX))
    .bind(kept)
    .bind(headers)
    .bind(KEEP_HOURS)
    .bind(KEEP_LAST)
    .execute(db)
    .await?;
    Ok(())
}

/// An event refused before the inbox, as [`reject`] recorded it.
#[derive(Debug, Clone, FromRow)]
pub struct Rejection {
    /// The rejection's own number (a listing's cursor).
    pub id: i64,
    /// The vendor it claimed to come from.
    pub vendor: String,
    /// The HTTP status it was answered with (see [`reject`]).
    pub status_code: i32,
    /// Why it was refused.
    pub reason: String,
    /// SHA-256 of the body, hex; empty for a body too large to be read.
    pub body_sha256: String,
    /// The body's size in bytes, or its declared size when it was not read.
    pub body_bytes: i32,
    /// When it was refused.
    pub received_at: DateTime<Utc>,
    /// Whether its body is still kept, so that it can be replayed.
    pub replayable: bool,
    /// When an operator last replayed it, if ever.
    pub replayed_at: Option<DateTime<Utc>>,
    /// What that replay did: `stored`, `duplicate`, or `refused: <reason>`.
    pub replay_outcome: Option<String>,
}

/// Up to `limit` rejections (of `vendor` only, when given), newest first,
/// from those recorded before the rejection `before` (a page's cursor) when
/// given.
///
/// # Errors
/// The database's.
pub async fn rejections(
    db: impl PgExecutor<'_>,
    vendor: Option<&str>,
    before: Option<i64>,
    limit: i64,
) -> Result<Vec<Rejection>, sqlx::Error> {
    sqlx::query_as(
        "SELECT id, vendor, status_code, reason, body_sha256, body_bytes, received_at,
                body IS NOT NULL AND received_at >= now() - make_interval(hours => $4) AS replayable,
                replayed_at, replay_outcome
           FROM carepath.webhook_rejections
          WHERE ($1::text IS NULL OR vendor = $1) AND ($2::bigint IS NULL OR id < $2)
          ORDER BY id DESC LIMIT $3",
    )
    .bind(vendor)
    .bind(before)
    .bind(limit)
    .bind(KEEP_HOURS)
    .fetch_all(db)
    .await
}

/// A refused delivery as kept for replay.
#[derive(Debug, Clone, FromRow)]
pub struct Kept {
    /// The vendor it claimed to come from.
    pub vendor: String,
    /// When it arrived: the time its signature's timestamp is judged against
    /// on replay, as it was then.
    pub received_at: DateTime<Utc>,
    /// Its body as kept (sealed, see [`RefusedBody::Delivery`]); `None`
    /// once no longer kept (too large, too old).
    pub body: Option<Vec<u8>>,
    /// The SHA-256 of its raw body, hex (where its sealed body is bound).
    pub body_sha256: String,
    /// Its headers (name to value); `None` with the body.
    pub headers: Option<Value>,
    /// What an earlier replay did, if any.
    pub replay_outcome: Option<String>,
}

/// Rejection `id` with what is kept of its delivery (nothing once older
/// than [`KEEP_HOURS`], whether or not [`purge`] has run since); `None` when
/// there is no such rejection.
///
/// # Errors
/// The database's.
pub async fn kept(db: impl PgExecutor<'_>, id: i64) -> Result<Option<Kept>, sqlx::Error> {
    sqlx::query_as(
        "SELECT vendor, received_at, body_sha256,
                CASE WHEN received_at >= now() - make_interval(hours => $2) THEN body END AS body,
                CASE WHEN received_at >= now() - make_interval(hours => $2) THEN headers END AS headers,
                replay_outcome
           FROM carepath.webhook_rejections WHERE id = $1",
    )
    .bind(id)
    .bind(KEEP_HOURS)
    .fetch_optional(db)
    .await
}

/// Clears the bodies and headers kept longer than [`KEEP_HOURS`] (the
/// workers' reconciler calls it, so that they go even when no new rejection
/// comes); how many.
///
/// # Errors
/// The database's.
pub async fn purge(db: impl PgExecutor<'_>) -> Result<u64, sqlx::Error> {
    let done = sqlx::query(
        "UPDATE carepath.webhook_rejections SET body = NULL, headers = NULL
          WHERE body IS NOT NULL AND received_at < now() - make_interval(hours => $1)",
    )
    .bind(KEEP_HOURS)
    .execute(db)
    .await?;
    Ok(done.rows_affected())
}

/// Records that rejection `id` was replayed now, and what came of it
/// (`stored`, `duplicate`, or `refused: <reason>`).
///
/// # Errors
/// The database's.
pub async fn replayed(db: impl PgExecutor<'_>, id: i64, outcome: &str) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE carepath.webhook_rejections SET replayed_at = now(), replay_outcome = $2
          WHERE id = $1",
    )
    .bind(id)
    .bind(outcome)
    .execute(db)
    .await?;
    Ok(())
}
