//! Reading vendors' event feeds into the inbox. Vendors lose webhooks; a
//! vendor that offers a cursor-based "events since" endpoint (the pharmacy)
//! is asked for what it sent, every `feed.every`, by one worker at a time.
//! Each item goes into the inbox through the same insert as a webhook, under
//! the same dedup key (the vendor's [`WebhookSource`] names it, as for its
//! webhooks), so an event that arrives both ways is stored once and routed
//! once — by the inbox router, as any webhook.
//!
//! A poll ([`poll_once`]) takes the vendor's lease in `carepath.vendor_feeds`
//! with one statement, then reads pages after the stored cursor until a
//! short page, storing each page's items and then moving the cursor past
//! them (renewing the lease) with one statement guarded by the lease — no
//! transaction is open across a vendor call. The last page's statement also
//! releases the lease. A reader that lost its lease writes nothing more. An
//! item that cannot be stored is recorded as a rejection and skipped, so it
//! never holds the cursor back.
//!
//! Reads are at least once (a poll cut off between storing a page and moving
//! the cursor reads the page again: its events count a delivery each);
//! storage is exactly once.
//!
//! A feed whose first read starts "now" ([`FeedStart::Now`]) has its first
//! read (no cursor, no good read yet: `succeeded_at`) page through
//! everything the vendor already holds without storing it, renewing the
//! lease with each page, and store the cursor once, at the end of it: a
//! first read cut off before its end leaves no cursor, so the next one skips
//! again from the start — never storing an event from before the first
//! read. (The vendor's feed offers no "latest cursor" to ask for instead.)

use std::sync::Arc;
use std::time::Duration;

use carepath_activities::config::{FEED_VENDORS, FeedConfig, FeedStart, VendorsConfig};
use carepath_activities::metrics::FEED_EVENTS;
use carepath_activities::{VendorError, Vendors};
use serde_json::{Value, json};
use sqlx::PgPool;
use tracing::Instrument;
use uuid::Uuid;

use crate::engine::vault::{Place, Vault, VaultError, bodies};
use crate::engine::webhook_source::{
    NoHeaders, WebhookSource, WebhookSources, routable_references,
};
use crate::storable;
use crate::store::inbox::{self, RefusedBody, Source};

/// How long a reader holds a vendor's feed: renewed with every page, so only
/// one page's request must fit in it (a 10 s timeout, three tries and their
/// backoff: about 31 s with the default profile). A reader that stops
/// without releasing it (killed, shut down mid-read) keeps others out for
/// at most this long.
pub const LEASE: Duration = Duration::from_secs(60);

/// Pages one poll reads at most; the rest is read by the next poll, at once
/// ([`FeedReport::more`]).
pub const MAX_PAGES: u32 = 20;

/// The longest cursor stored: a vendor's cursor is opaque, but one longer
/// than this is not a cursor.
const MAX_CURSOR: usize = 1024;

/// The status a feed item that cannot be stored is recorded with: what its
/// body would have got as a webhook.
const REJECTED_STATUS: u16 = 400;

/// What one poll did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FeedReport {
    /// Whether this poll held the lease and read; `false` when another
    /// reader held it (nothing was read or written).
    pub read: bool,
    /// Pages read.
    pub pages: u32,
    /// Events new to the inbox.
    pub stored: u64,
    /// Events the inbox already had (their webhook came first, or an
    /// earlier read was cut off before moving the cursor).
    pub duplicates: u64,
    /// Items that could not be stored, recorded in
    /// `carepath.webhook_rejections` (reason `feed: ...`) and skipped.
    pub rejected: u64,
    /// Items a first read that starts "now" ([`FeedStart::Now`]) paged past
    /// without storing them: the feed's history before the first read.
    pub skipped: u64,
    /// The stored cursor after this poll; `None`: none yet (from the start).
    pub cursor: Option<String>,
    /// The poll stopped after [`MAX_PAGES`] full pages: there may be more.
    pub more: bool,
}

/// Why a poll failed. The cursor is where the last stored page left it; the
/// error (without any event's content) is in the feed's `last_error`.
#[derive(Debug, thiserror::Error)]
pub enum FeedError {
    /// No client of carepath can read this vendor's feed.
    #[error("carepath cannot read a feed of {0}")]
    NoFeed(String),
    /// The vendor is on hold (paused, rate limited, breaker open), refused
    /// the request, or failed.
    #[error(transparent)]
    Vendor(#[from] VendorError),
    /// The vendor's answer is not a page (`{"items": [...], "next_cursor"}`).
    #[error("{vendor} feed: {problem}")]
    BadPage { vendor: String, problem: String },
    /// The read took longer than its lease and another reader took over;
    /// this one stopped without writing the cursor.
    #[error("{vendor} feed: the lease ran out during the read; another reader took over")]
    LeaseLost { vendor: String },
    #[error("database: {0}")]
    Database(#[from] sqlx::Error),
}

/// A vendor's feed as a worker reads it: the vendor, its profile's feed,
/// the vendor clients (shared with the journeys, so the feed's requests go
/// through the same rate limit, breaker and holds) and the vendor's webhook
/// source (whose dedup key its items are stored under).
#[derive(Clone)]
pub struct Feed {
    pub vendor: String,
    pub config: FeedConfig,
    vendors: Arc<Vendors>,
    source: Arc<dyn WebhookSource>,
    vault: Vault,
}

impl std::fmt::Debug for Feed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Feed")
            .field("vendor", &self.vendor)
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl Feed {
    /// One poll of this feed: [`poll_once`].
    pub async fn poll_once(&self, pool: &PgPool) -> Result<FeedReport, FeedError> {
        let source = self.source.as_ref();
        let vault = &self.vault;
        poll_once(
            pool,
            vault,
            &self.vendor,
            source,
            &self.vendors,
            &self.config,
        )
        .await
    }
}

/// The feeds `config`'s profiles declare, read with `vendors` and keyed by
/// `sources` (both built from the same configuration, which gives every
/// vendor a source).
pub fn declared(
    vendors: &Arc<Vendors>,
    config: &VendorsConfig,
    sources: &WebhookSources,
    vault: &Vault,
) -> Vec<Feed> {
    config
        .vendors
        .iter()
        .filter_map(|(vendor, profile)| {
            Some(Feed {
                vendor: vendor.clone(),
                config: profile.feed.clone()?,
                vendors: vendors.clone(),
                source: sources.get(vendor)?.clone(),
                vault: vault.clone(),
            })
        })
        .collect()
}

/// Reads `vendor`'s feed once, if no other reader holds it: every page after
/// the stored cursor, `cfg.page` events a page, until a short page (or
/// [`MAX_PAGES`]); each item stored in the inbox with `source = 'feed'`,
/// the cursor moved past each page once its items are stored under the key
/// `source` gives them (as to the vendor's webhooks). A first read
/// (no cursor, no good read yet) of a feed that starts [`FeedStart::Now`]
/// stores none:
/// it pages to the feed's end (past [`MAX_PAGES`]) and stores only the
/// cursor there. Records `polled_at`, `last_error` (cleared by a good poll)
/// and, for a good poll, `succeeded_at`. Logs how many events it stored.
/// Errors: [`FeedError`] (logged by the caller); the cursor then stays
/// after the last page stored.
pub async fn poll_once(
    pool: &PgPool,
    vault: &Vault,
    vendor: &str,
    source: &dyn WebhookSource,
    vendors: &Vendors,
    cfg: &FeedConfig,
) -> Result<FeedReport, FeedError> {
    let span = tracing::info_span!("feed poll", vendor = %vendor);
    async {
        if !FEED_VENDORS.contains(&vendor) {
            return Err(FeedError::NoFeed(vendor.to_owned()));
        }
        let me = Uuid::new_v4();
        let Some((cursor, read_before)) = lease(pool, vendor, me).await? else {
            tracing::debug!(vendor, "another reader holds the feed");
            return Ok(FeedReport::default());
        };
        // The first read of a feed that starts now: no cursor, no good read.
        let skipping = cfg.start == FeedStart::Now && cursor.is_none() && !read_before;
        let mut report = FeedReport {
            read: true,
            cursor,
            ..FeedReport::default()
        };
        let reader = Reader {
            pool,
            vault,
            vendor,
            source,
            vendors,
            cfg,
            me,
        };
        match reader.read(skipping, &mut report).await {
            Ok(()) => {
                if report.skipped > 0 {
                    tracing::info!(
                        vendor,
                        skipped = report.skipped,
                        pages = report.pages,
                        "feed first read: the events before it skipped"
                    );
                }
                if report.stored + report.rejected > 0 {
                    tracing::info!(
                        vendor,
                        stored = report.stored,
                        duplicates = report.duplicates,
                        rejected = report.rejected,
                        pages = report.pages,
                        "feed read: events stored"
                    );
                } else {
                    tracing::debug!(
                        vendor,
                        duplicates = report.duplicates,
                        "feed read: nothing new"
                    );
                }
                Ok(report)
            }
            Err(e) => {
                if let Err(recording) = failed(pool, vendor, me, &e).await {
                    tracing::warn!(vendor, error = %recording, "could not record a feed failure");
                }
                Err(e)
            }
        }
    }
    .instrument(span)
    .await
}

/// Takes the feed's lease (creating its row the first time) unless another
/// reader holds one; when taken, the stored cursor (`None`: none yet) and
/// whether a read ever succeeded.
async fn lease(
    pool: &PgPool,
    vendor: &str,
    me: Uuid,
) -> Result<Option<(Option<String>, bool)>, sqlx::Error> {
    sqlx::query_as(
        "INSERT INTO carepath.vendor_feeds (vendor, leased_until, lease_holder)
         VALUES ($1, now() + make_interval(secs => $3), $2)
         ON CONFLICT (vendor) DO UPDATE
            SET leased_until = EXCLUDED.leased_until, lease_holder = EXCLUDED.lease_holder
          WHERE carepath.vendor_feeds.leased_until IS NULL
             OR carepath.vendor_feeds.leased_until < now()
         RETURNING cursor, succeeded_at IS NOT NULL",
    )
    .bind(vendor)
    .bind(me)
    .bind(LEASE.as_secs_f64())
    .fetch_optional(pool)
    .await
}

/// One poll's reader: what each page is read and stored with.
struct Reader<'a> {
    pool: &'a PgPool,
    vault: &'a Vault,
    vendor: &'a str,
    source: &'a dyn WebhookSource,
    vendors: &'a Vendors,
    cfg: &'a FeedConfig,
    /// The lease holder this poll writes as.
    me: Uuid,
}

impl Reader<'_> {
    /// Reads pages into the inbox, moving the cursor after each; the last
    /// page's update releases the lease. A first read that starts "now"
    /// (`skipping`) stores no item, and no cursor until the feed's end.
    async fn read(&self, skipping: bool, report: &mut FeedReport) -> Result<(), FeedError> {
        let (pool, vendor, cfg) = (self.pool, self.vendor, self.cfg);
        loop {
            let answer = fetch(self.vendors, vendor, report.cursor.as_deref(), cfg.page).await?;
            let (items, next) = page(vendor, &answer, report.cursor.as_deref())?;
            let stored_before = report.stored;
            if skipping {
                report.skipped += items.len() as u64;
                FEED_EVENTS
                    .with_label_values(&[vendor, "skipped"])
                    .inc_by(items.len() as u64);
            } else {
                for item in items {
                    store_item(pool, self.vault, vendor, self.source, item, report).await?;
                }
            }
            report.pages += 1;
            let short = items.len() < cfg.page as usize || next == report.cursor;
            report.more = !skipping && !short && report.pages >= MAX_PAGES;
            let last = short || report.more;
            // A skip stores its cursor only at the feed's end (meanwhile the
            // stored one stays none: only the lease is renewed).
            let cursor = if skipping && !last {
                None
            } else {
                next.as_deref()
            };
            let stored = report.stored - stored_before;
            let written = advance(pool, vendor, self.me, cursor, stored, last).await?;
            if !written {
                return Err(FeedError::LeaseLost {
                    vendor: vendor.to_owned(),
                });
            }
            report.cursor = next;
            if last {
                return Ok(());
            }
        }
    }
}

/// One page of the vendor's feed, from the client that can read it.
async fn fetch(
    vendors: &Vendors,
    vendor: &str,
    after: Option<&str>,
    limit: u32,
) -> Result<Value, FeedError> {
    match vendor {
        "pharmacy" => Ok(vendors.pharmacy.events(after, limit).await?),
        other => Err(FeedError::NoFeed(other.to_owned())),
    }
}

/// The items of a page and the cursor after them (the given one when the
/// page is empty and names none).
fn page<'a>(
    vendor: &str,
    answer: &'a Value,
    given: Option<&str>,
) -> Result<(&'a [Value], Option<String>), FeedError> {
    let bad = |problem: &str| FeedError::BadPage {
        vendor: vendor.to_owned(),
        problem: problem.to_owned(),
    };
    let items = answer["items"]
        .as_array()
        .ok_or_else(|| bad("the answer has no list of items"))?;
    let next = match &answer["next_cursor"] {
        Value::String(c) if c.len() <= MAX_CURSOR && !c.contains('\0') => Some(c.clone()),
        Value::Null if items.is_empty() => given.map(str::to_owned),
        _ => return Err(bad("the answer has no usable next_cursor")),
    };
    Ok((items, next))
}

/// Stores one item in the inbox, or records why it cannot be.
async fn store_item(
    pool: &PgPool,
    vault: &Vault,
    vendor: &str,
    source: &dyn WebhookSource,
    item: &Value,
    report: &mut FeedReport,
) -> Result<(), sqlx::Error> {
    // serde_json writes an item as the sandbox's pharmacy writes its webhook
    // body; a dedup key by body digest (an event without an id) then matches.
    // A feed item has no headers: the vendor's key comes from its body.
    let body = item.to_string().into_bytes();
    let refused = match item {
        Value::Object(_) => storable::check(item)
            .err()
            .map(|e| format!("feed: the item cannot be stored: {e}")),
        _ => Some("feed: the item is not a JSON object".to_owned()),
    };
    if let Some(reason) = refused {
        inbox::reject(
            pool,
            vendor,
            REJECTED_STATUS,
            &reason,
            RefusedBody::Read(&body),
        )
        .await?;
        tracing::warn!(vendor, %reason, "feed item rejected");
        FEED_EVENTS.with_label_values(&[vendor, "rejected"]).inc();
        report.rejected += 1;
        return Ok(());
    }
    let key = source.dedup_key(&NoHeaders, item, &body);
    let mut conn = pool.acquire().await?;
    let place = Place::inbox_body(vendor, &key);
    let sealed = match bodies::seal(vault, &mut conn, &place, &body).await {
        Ok(sealed) => sealed,
        Err(VaultError::Database(e)) => return Err(e),
        // The poll fails and is tried again; nothing is stored plain.
        Err(e) => return Err(sqlx::Error::Protocol(format!("sealing a feed item: {e}"))),
    };
    let event_type = source.event_type(item);
    let references = routable_references(source, item, event_type.as_deref());
    let partition = inbox::partition(&mut *conn, vendor, &references).await?;
    let new = inbox::store(
        &mut *conn,
        vendor,
        Source::Feed,
        &key,
        inbox::Event {
            event_type: event_type.as_deref(),
            body: &sealed,
            partition,
        },
        &json!({}),
    )
    .await?;
    let outcome = if new {
        report.stored += 1;
        "stored"
    } else {
        report.duplicates += 1;
        "duplicate"
    };
    FEED_EVENTS.with_label_values(&[vendor, outcome]).inc();
    Ok(())
}

/// Moves the cursor past a stored page and renews the lease, or (`release`)
/// ends the read, a good one (`polled_at`, `succeeded_at`, no
/// `last_error`); only while the lease is `me`'s. Whether it was.
async fn advance(
    pool: &PgPool,
    vendor: &str,
    me: Uuid,
    cursor: Option<&str>,
    stored: u64,
    release: bool,
) -> Result<bool, sqlx::Error> {
    let done = sqlx::query(
        "UPDATE carepath.vendor_feeds
            SET cursor = $3,
                events_stored = events_stored + $4,
                leased_until = CASE WHEN $5 THEN NULL ELSE now() + make_interval(secs => $6) END,
                lease_holder = CASE WHEN $5 THEN NULL ELSE lease_holder END,
                polled_at = CASE WHEN $5 THEN now() ELSE polled_at END,
                succeeded_at = CASE WHEN $5 THEN now() ELSE succeeded_at END,
                last_error = CASE WHEN $5 THEN NULL ELSE last_error END
          WHERE vendor = $1 AND lease_holder = $2",
    )
    .bind(vendor)
    .bind(me)
    .bind(cursor)
    .bind(i64::try_from(stored).unwrap_or(i64::MAX))
    .bind(release)
    .bind(LEASE.as_secs_f64())
    .execute(pool)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Records a failed read and releases the lease (if still `me`'s);
/// `succeeded_at` keeps the last good read.
async fn failed(
    pool: &PgPool,
    vendor: &str,
    me: Uuid,
    error: &FeedError,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE carepath.vendor_feeds
            SET leased_until = NULL, lease_holder = NULL, polled_at = now(), last_error = $3
          WHERE vendor = $1 AND lease_holder = $2",
    )
    .bind(vendor)
    .bind(me)
    .bind(error.to_string())
    .execute(pool)
    .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_page_gives_its_items_and_the_cursor_after_them() {
        let answer = json!({ "items": [{ "event_id": "e1" }], "next_cursor": "7" });
        let (items, next) = page("pharmacy", &answer, Some("6")).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!((items.len(), next.as_deref()), (1, Some("7")));
        let empty = json!({ "items": [] });
        let (items, next) = page("pharmacy", &empty, Some("6")).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!((items.len(), next.as_deref()), (0, Some("6")));
        for bad in [
            json!({ "next_cursor": "7" }),
            json!({ "items": {}, "next_cursor": "7" }),
            json!({ "items": [{}] }),
            json!({ "items": [], "next_cursor": 7 }),
            json!({ "items": [], "next_cursor": "a\u{0}b" }),
            json!([]),
        ] {
            assert!(
                matches!(page("pharmacy", &bad, None), Err(FeedError::BadPage { .. })),
                "{bad}"
            );
        }
    }
}
