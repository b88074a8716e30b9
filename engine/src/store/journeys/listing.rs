//! The statements operators' tools run over many journeys: listings,
//! journeys waiting on a vendor, the selection a bulk retry takes.

use sqlx::{FromRow, PgExecutor};
use uuid::Uuid;

use super::{Journey, JourneyStatus};

/// What a journey's `waiting_for` starts with while it waits on a vendor on
/// hold ([`WaitingFor::Vendor`](crate::WaitingFor::Vendor)'s text), for `concat!` into static SQL;
/// [`waiting_on_vendor_condition!`](crate::waiting_on_vendor_condition) is built on it.
#[macro_export]
macro_rules! vendor_wait_prefix {
    () => {
        "vendor:"
    };
}

/// The SQL condition that a journey waits on a vendor: its `waiting_for`
/// column (`$waiting_for`, e.g. `"waiting_for"` or `"j.waiting_for"`) is
/// [`WaitingFor::Vendor`](crate::WaitingFor::Vendor) of the vendor named by
/// the SQL expression `$vendor` (a parameter such as `"$1"`, or a column), for
/// `concat!` into static SQL.
/// It says nothing of the status: a paused journey keeps the `waiting_for`
/// it had.
#[macro_export]
macro_rules! waiting_on_vendor_condition {
    ($waiting_for:literal, $vendor:literal) => {
        concat!(
            $waiting_for,
            " = '",
            $crate::vendor_wait_prefix!(),
            "' || ",
            $vendor
        )
    };
}

/// The ids of the journeys waiting on `vendor`, in no particular order.
///
/// # Errors
/// The database's.
pub async fn waiting_on_vendor(
    db: impl PgExecutor<'_>,
    vendor: &str,
) -> Result<Vec<Uuid>, sqlx::Error> {
    sqlx::query_scalar(concat!(
        "SELECT id FROM carepath.journeys WHERE status = 'waiting' AND ",
        waiting_on_vendor_condition!("waiting_for", "$1")
    ))
    .bind(vendor)
    .fetch_all(db)
    .await
}

/// How many journeys wait on a vendor, and the error the most recently
/// updated of them recorded.
#[derive(Debug, Clone, FromRow)]
pub struct VendorWaits {
    /// How many journeys wait on the vendor.
    pub waiting: i64,
    /// The `last_error` of the one updated last (`None` when none waits, or
    /// it recorded none).
    pub last_error: Option<String>,
}

/// The journeys waiting on `vendor`: how many, and the latest error among them.
///
/// # Errors
/// The database's.
pub async fn vendor_waits(
    db: impl PgExecutor<'_>,
    vendor: &str,
) -> Result<VendorWaits, sqlx::Error> {
    sqlx::query_as(concat!(
        "SELECT count(*) AS waiting,
                (array_agg(last_error ORDER BY updated_at DESC))[1] AS last_error
           FROM carepath.journeys WHERE status = 'waiting' AND ",
        waiting_on_vendor_condition!("waiting_for", "$1")
    ))
    .bind(vendor)
    .fetch_one(db)
    .await
}

/// What a listing of journeys keeps; `None` (and `false`) keeps all.
#[derive(Debug, Clone, Copy, Default)]
pub struct ListFilter<'a> {
    /// Journeys in this status.
    pub status: Option<JourneyStatus>,
    /// Journeys in this phase.
    pub phase: Option<&'a str>,
    /// Journeys of this workflow (any version).
    pub workflow: Option<&'a str>,
    /// Journeys waiting on this vendor.
    pub vendor: Option<&'a str>,
    /// Only overdue journeys: those in the stored overdue set (computed once
    /// per interval for the deployment, [`crate::store::snapshots`]) that are
    /// still overdue ([`overdue_condition!`]). One that has just become
    /// overdue shows from the next snapshot.
    pub overdue: bool,
    /// Journeys whose last error contains this text.
    pub error_contains: Option<&'a str>,
}

/// The condition [`ListFilter`] puts on a journey (aliased `j`), its values
/// `$1`..`$6`: status, phase, workflow, vendor, overdue, error text.
macro_rules! filter_condition {
    () => {
        concat!(
            "($1::text IS NULL OR status = $1)
             AND ($2::text IS NULL OR phase = $2)
             AND ($3::text IS NULL OR workflow = $3)
             AND ($4::text IS NULL OR ",
            waiting_on_vendor_condition!("waiting_for", "$4"),
            ")
             AND (NOT $5 OR ",
            overdue_condition!(),
            ")
             AND ($6::text IS NULL OR strpos(coalesce(last_error, ''), $6) > 0)"
        )
    };
}

/// A listing's SQL: `$head`, then the journeys (`j`) [`filter_condition!`]
/// keeps, then `$tail`. With `overdue`, the journeys are drawn from the
/// stored overdue set (`carepath.overdue_journeys`, a few rows) and each is
/// re-checked; otherwise from all journeys. Two statements rather than one
/// condition: a prepared statement's plan cannot know `$5`, and would scan
/// every journey to find the few overdue ones.
macro_rules! listing_sql {
    ($filter:expr, [$($head:expr),+], [$($tail:expr),*]) => {
        if $filter.overdue {
            concat!($($head,)+
                " FROM carepath.overdue_journeys o JOIN carepath.journeys j ON j.id = o.journey_id WHERE ",
                filter_condition!() $(, $tail)*)
        } else {
            concat!($($head,)+ " FROM carepath.journeys j WHERE ", filter_condition!() $(, $tail)*)
        }
    };
}

/// Binds a [`ListFilter`] as `$1`..`$6` of [`filter_condition!`].
macro_rules! bind_filter {
    ($query:expr, $filter:expr) => {
        $query
            .bind($filter.status.map(JourneyStatus::as_str))
            .bind($filter.phase)
            .bind($filter.workflow)
            .bind($filter.vendor)
            .bind($filter.overdue)
            .bind($filter.error_contains)
    };
}

/// The ids of the journeys `filter` keeps after `after` (when given) and up
/// to `upto`, in id order (creation order), at most `limit`: a bulk action
/// walks its selection in batches with it.
///
/// # Errors
/// The database's.
pub async fn select_ids(
    db: impl PgExecutor<'_>,
    filter: &ListFilter<'_>,
    after: Option<Uuid>,
    upto: Uuid,
    limit: i64,
) -> Result<Vec<Uuid>, sqlx::Error> {
    let query = sqlx::query_scalar(listing_sql!(
        filter,
        ["SELECT id"],
        [" AND ($7::uuid IS NULL OR id > $7) AND id <= $8 ORDER BY id LIMIT $9"]
    ));
    bind_filter!(query, filter)
        .bind(after)
        .bind(upto)
        .bind(limit)
        .fetch_all(db)
        .await
}

/// How many journeys `filter` keeps, and the newest one's id (PostgreSQL
/// has no `max` of uuid; their text sorts as they do).
///
/// # Errors
/// The database's.
pub async fn count(
    db: impl PgExecutor<'_>,
    filter: &ListFilter<'_>,
) -> Result<(i64, Option<Uuid>), sqlx::Error> {
    let query = sqlx::query_as(listing_sql!(
        filter,
        ["SELECT count(*), max(id::text)::uuid"],
        []
    ));
    bind_filter!(query, filter).fetch_one(db).await
}

/// Up to `limit` journeys that `filter` keeps, newest first, from those
/// created before the journey `before` (a page's cursor) when given; each
/// says why it is overdue, if it is ([`Journey::overdue`]).
///
/// # Errors
/// The database's.
pub async fn list(
    db: impl PgExecutor<'_>,
    filter: &ListFilter<'_>,
    before: Option<Uuid>,
    limit: i64,
) -> Result<Vec<Journey>, sqlx::Error> {
    // By id (UUIDv7, so by creation): journeys created while a client pages
    // sort before its cursor and can never push one it has not seen onto a
    // page it already read.
    let query = sqlx::query_as(listing_sql!(
        filter,
        ["SELECT ", journey_columns!(), ", ", overdue_reason!()],
        [" AND ($7::uuid IS NULL OR id < $7) ORDER BY id DESC LIMIT $8"]
    ));
    bind_filter!(query, filter)
        .bind(before)
        .bind(limit)
        .fetch_all(db)
        .await
}

/// Which journeys a bulk retry selects.
#[derive(Debug, Clone, Copy)]
pub struct RetrySelection<'a> {
    /// Journeys in this status (a bulk retry takes `failed` or `waiting`).
    pub status: JourneyStatus,
    /// Journeys in this phase.
    pub phase: Option<&'a str>,
    /// Journeys waiting on this vendor.
    pub vendor: Option<&'a str>,
    /// Journeys whose last error contains this text.
    pub error_contains: Option<&'a str>,
}

/// The ids of the journeys `selection` keeps, in id order, at most 10,000
/// of them.
///
/// # Errors
/// The database's.
pub async fn select_for_retry(
    db: impl PgExecutor<'_>,
    selection: &RetrySelection<'_>,
) -> Result<Vec<Uuid>, sqlx::Error> {
    sqlx::query_scalar(concat!(
        "SELECT id FROM carepath.journeys
          WHERE status = $1
            AND ($2::text IS NULL OR phase = $2)
            AND ($3::text IS NULL OR ",
        waiting_on_vendor_condition!("waiting_for", "$3"),
        ")
            AND ($4::text IS NULL OR strpos(coalesce(last_error, ''), $4) > 0)
          ORDER BY id LIMIT 10000"
    ))
    .bind(selection.status.as_str())
    .bind(selection.phase)
    .bind(selection.vendor)
    .bind(selection.error_contains)
    .fetch_all(db)
    .await
}
