//! Process-wide Prometheus metrics (the default registry), defined where
//! they are counted. Every process serves them at `/metrics`, together with
//! the gauges read from PostgreSQL at scrape time (see
//! `carepath_workflows::metrics`). Labels carry names — vendors, workflows,
//! steps, outcomes — never a patient's data.

use std::sync::LazyLock;

use prometheus::{IntCounterVec, IntGaugeVec, register_int_counter_vec, register_int_gauge_vec};

fn counter(name: &str, help: &str, labels: &[&str]) -> IntCounterVec {
    register_int_counter_vec!(name, help, labels)
        .unwrap_or_else(|e| panic!("metric {name} defined twice: {e}"))
}

/// Vendor calls by outcome: `ok`, `rejected`, `transient`, `held`.
pub static VENDOR_REQUESTS: LazyLock<IntCounterVec> = LazyLock::new(|| {
    counter(
        "carepath_vendor_requests_total",
        "Vendor calls by vendor and outcome (ok, rejected, transient, held).",
        &["vendor", "outcome"],
    )
});

/// Calls that could not get a rate-limit slot within their wait.
pub static RATE_LIMIT_WAITS: LazyLock<IntCounterVec> = LazyLock::new(|| {
    counter(
        "carepath_vendor_rate_limit_waits_total",
        "Vendor calls deferred because no rate-limit slot came within the step's wait.",
        &["vendor"],
    )
});

pub static BREAKER_OPENINGS: LazyLock<IntCounterVec> = LazyLock::new(|| {
    counter(
        "carepath_vendor_breaker_openings_total",
        "Times this process's circuit breaker opened for a vendor.",
        &["vendor"],
    )
});

/// 1 while this process's breaker for the vendor refuses calls.
pub static BREAKER_OPEN: LazyLock<IntGaugeVec> = LazyLock::new(|| {
    register_int_gauge_vec!(
        "carepath_vendor_breaker_open",
        "1 while this process's circuit breaker for the vendor is open.",
        &["vendor"]
    )
    .unwrap_or_else(|e| panic!("metric defined twice: {e}"))
});

/// Token endpoint calls by outcome: `ok` or `failed`.
pub static TOKEN_REFRESHES: LazyLock<IntCounterVec> = LazyLock::new(|| {
    counter(
        "carepath_vendor_token_refreshes_total",
        "OAuth token requests by vendor and outcome (ok, failed).",
        &["vendor", "outcome"],
    )
});

pub static WEBHOOKS: LazyLock<IntCounterVec> = LazyLock::new(|| {
    counter(
        "carepath_webhooks_total",
        "Webhooks at the inbox by vendor and outcome (stored, duplicate, rejected).",
        &["vendor", "outcome"],
    )
});

/// Events read from vendor feeds by outcome: `stored` (new to the inbox),
/// `duplicate` (already there, e.g. from its webhook) or `rejected` (not
/// storable: recorded in the inbox's rejections and skipped).
pub static FEED_EVENTS: LazyLock<IntCounterVec> = LazyLock::new(|| {
    counter(
        "carepath_feed_events_total",
        "Events read from vendor feeds by vendor and outcome (stored, duplicate, rejected).",
        &["vendor", "outcome"],
    )
});

/// The process's own metrics in the Prometheus text format.
pub fn render_process() -> String {
    prometheus::TextEncoder::new()
        .encode_to_string(&prometheus::gather())
        .unwrap_or_default()
}
