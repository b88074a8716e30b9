//! The one way a vendor's event enters the inbox, whichever way it came —
//! pushed as a webhook or read from the vendor's feed — and the one way a
//! refusal is recorded. The same event arriving twice (a webhook repeated, a
//! feed item whose webhook also came) is stored once, under its dedup key
//! (which the vendor's `WebhookSource` names, the same both ways), and only
//! counts a delivery, so the router applies it once.

use serde_json::Value;
use sha2::{Digest, Sha256};
use sqlx::PgExecutor;

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

/// Stores `vendor`'s event `body` (raw bytes; the caller has checked that
/// they are a storable JSON object, see [`crate::storable`]) with the
/// `headers` worth keeping (a JSON object), to be routed by the workers.
/// `true` when it was new; `false` when an event with this `dedup_key` was
/// already stored (from either source), whose delivery count goes up by one
/// and which is otherwise left as it was (its first `source` and body stay).
pub async fn store(
    db: impl PgExecutor<'_>,
    vendor: &str,
    source: Source,
    dedup_key: &str,
    event_type: Option<&str>,
    body: &[u8],
    headers: &Value,
) -> Result<bool, sqlx::Error> {
    sqlx::query_scalar(
        "INSERT INTO carepath.webhook_inbox (vendor, dedup_key, event_type, body, headers, source)
         VALUES ($1, $2, $3, $4, $5, $6)
         ON CONFLICT ON CONSTRAINT webhook_inbox_dedup
         DO UPDATE SET deliveries = carepath.webhook_inbox.deliveries + 1
         RETURNING (xmax = 0)",
    )
    .bind(vendor)
    .bind(dedup_key)
    .bind(event_type)
    .bind(body)
    .bind(headers)
    .bind(source.as_str())
    .fetch_one(db)
    .await
}

/// What is known of a refused body.
#[derive(Debug, Clone, Copy)]
pub enum RefusedBody<'a> {
    /// Its bytes: recorded by size and SHA-256.
    Read(&'a [u8]),
    /// Too large to be read: recorded by its declared size (bytes), without
    /// a digest.
    Unread { declared: i64 },
}

/// Records an event refused before the inbox in
/// `carepath.webhook_rejections`: the HTTP status it was answered with (for
/// a feed item, which is not answered, the status its body would have got
/// as a webhook), the `reason` (no event content: it is shown to operators)
/// and the body's size and digest — never the body.
pub async fn reject(
    db: impl PgExecutor<'_>,
    vendor: &str,
    status_code: u16,
    reason: &str,
    body: RefusedBody<'_>,
) -> Result<(), sqlx::Error> {
    let (digest, size) = match body {
        RefusedBody::Read(b) => (hex::encode(Sha256::digest(b)), b.len() as i64),
        RefusedBody::Unread { declared } => (String::new(), declared),
    };
    sqlx::query(
        "INSERT INTO carepath.webhook_rejections (vendor, status_code, reason, body_sha256, body_bytes)
         VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(vendor)
    .bind(i32::from(status_code))
    .bind(reason)
    .bind(digest)
    .bind(i32::try_from(size).unwrap_or(i32::MAX))
    .execute(db)
    .await?;
    Ok(())
}
