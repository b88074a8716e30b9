//! The inbox's shapes: stored webhooks, the ones refused at the door, and
//! the operator's replays and skips.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use carepath_workflows::store::inbox;

use super::{FilterText, InboxCursor, Reason, documented_as, one_of_words};

#[derive(Debug, Serialize, ToSchema)]
pub struct InboxItem {
    pub id: i64,
    pub vendor: String,
    /// The vendor's event id (`sha256:<hex>` when it gave none, or one longer
    /// than 200 characters; for a rejection, the SHA-256 of the body).
    pub dedup_key: String,
    pub event_type: Option<String>,
    /// `received` (waiting to be routed), `applied` (delivered to its
    /// journey), `unmatched` (no journey owns what it is about), `parked`
    /// (could not be processed: `note` holds the error), `ignored` (its
    /// journey does not receive such events) or `skipped` (set aside by an
    /// operator: `note` says who and why).
    pub status: String,
    pub journey_id: Option<Uuid>,
    /// Why it is where it is: the routing error, an operator's reason.
    pub note: Option<String>,
    pub deliveries: i32,
    /// How it first arrived: `webhook`, or `feed` (read from the vendor's
    /// event feed; a webhook for it afterwards counts as a repeat delivery).
    pub source: String,
    pub received_at: DateTime<Utc>,
    pub processed_at: Option<DateTime<Utc>>,
}

impl From<inbox::Entry> for InboxItem {
    fn from(e: inbox::Entry) -> Self {
        Self {
            id: e.id,
            vendor: e.vendor,
            dedup_key: e.dedup_key,
            event_type: e.event_type,
            status: e.status.to_string(),
            journey_id: e.journey_id,
            note: e.note,
            deliveries: e.deliveries,
            source: e.source,
            received_at: e.received_at,
            processed_at: e.processed_at,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct InboxPage {
    pub items: Vec<InboxItem>,
    pub next_cursor: Option<String>,
}

/// Every status an inbox entry can have, as written on the wire.
pub const INBOX_STATUSES: [&str; 6] = [
    inbox::InboxStatus::Received.as_str(),
    inbox::InboxStatus::Applied.as_str(),
    inbox::InboxStatus::Unmatched.as_str(),
    inbox::InboxStatus::Parked.as_str(),
    inbox::InboxStatus::Ignored.as_str(),
    inbox::InboxStatus::Skipped.as_str(),
];

documented_as!(
    /// An inbox status a listing can ask for.
    InboxStatus => one_of_words("An inbox status (default `unmatched`)", &INBOX_STATUSES)
);

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct InboxQuery {
    /// Default `unmatched`.
    #[param(inline, value_type = Option<InboxStatus>)]
    pub status: Option<String>,
    #[param(inline, value_type = Option<FilterText>)]
    pub vendor: Option<String>,
    /// 1 to 500, default 50.
    #[param(minimum = 1, maximum = 500)]
    pub limit: Option<i64>,
    #[param(inline, value_type = Option<InboxCursor>)]
    pub cursor: Option<String>,
}

/// A webhook refused at the door (bad signature, stale, malformed, too
/// large), or an item of a vendor's feed that could not be stored. A refused
/// webhook keeps its body and headers for a while (`replayable`), so that
/// once its cause is fixed an operator can replay it through the door's
/// checks; after that, or for a feed item, its vendor has to send it again.
#[derive(Debug, Serialize, ToSchema)]
pub struct Rejection {
    /// A rejection's own number (not an inbox entry's).
    pub id: i64,
    pub vendor: String,
    /// The HTTP status it was answered with (400, 401, 413); for an item
    /// of a vendor's feed (its `reason` starts with `feed:`), which is not
    /// answered, the status its body would have got as a webhook (400).
    pub status_code: i32,
    pub reason: String,
    /// SHA-256 of the body, hex; empty for a body too large to be read.
    pub body_sha256: String,
    /// The body's size in bytes (for a body too large to be read, its
    /// declared `Content-Length`, or 0).
    pub body_bytes: i32,
    pub received_at: DateTime<Utc>,
    /// Whether its body and headers are still kept (up to 64 KiB, the last
    /// 1,000 rejections, for 72 hours), so that it can be replayed
    /// (`POST /v1/inbox/rejections/{id}/replay`) once its cause is fixed.
    pub replayable: bool,
    /// When an operator last replayed it.
    pub replayed_at: Option<DateTime<Utc>>,
    /// What that replay did: `stored` or `duplicate` (admitted), or
    /// `refused: <reason>`.
    pub replay_outcome: Option<String>,
}

impl From<inbox::Rejection> for Rejection {
    fn from(r: inbox::Rejection) -> Self {
        Self {
            id: r.id,
            vendor: r.vendor,
            status_code: r.status_code,
            reason: r.reason,
            body_sha256: r.body_sha256,
            body_bytes: r.body_bytes,
            received_at: r.received_at,
            replayable: r.replayable,
            replayed_at: r.replayed_at,
            replay_outcome: r.replay_outcome,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct RejectionPage {
    pub items: Vec<Rejection>,
    pub next_cursor: Option<String>,
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct RejectionQuery {
    #[param(inline, value_type = Option<FilterText>)]
    pub vendor: Option<String>,
    /// 1 to 500, default 50.
    #[param(minimum = 1, maximum = 500)]
    pub limit: Option<i64>,
    #[param(inline, value_type = Option<InboxCursor>)]
    pub cursor: Option<String>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct InboxBulkRequest {
    /// The inbox entries to act on: 1 to 500 ids.
    #[schema(min_items = 1, max_items = 500)]
    #[serde(deserialize_with = "crate::extract::whole_i64s")]
    pub ids: Vec<i64>,
    /// Why: recorded in the operator audit with the caller.
    #[schema(value_type = Reason)]
    pub reason: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct InboxBulkResult {
    /// The entries acted on.
    pub done: Vec<i64>,
    /// Entries that do not exist or whose status does not allow the action.
    pub not_done: Vec<i64>,
}
