//! `/metrics`: the process's own counters (vendor calls, steps, webhooks;
//! see `carepath_activities::metrics`) and gauges read from PostgreSQL once
//! per interval for the deployment ([`crate::gauge_snapshot`]), which are the
//! same whichever process is scraped: journeys
//! by status and phase, overdue journeys, vendor holds, vendor feeds, the
//! inbox, the queue.

use std::fmt::Write;

use sqlx::PgPool;

use crate::store::gauges;
use crate::waiting_on_vendor_condition;

/// One gauge family in the text format.
struct Family<'a> {
    out: &'a mut String,
}

impl<'a> Family<'a> {
    fn new(out: &'a mut String, name: &str, kind: &str, help: &str) -> Self {
        let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}");
        Self { out }
    }

    fn sample(&mut self, name: &str, labels: &[(&str, &str)], value: f64) {
        let labels: Vec<String> = labels
            .iter()
            .map(|(k, v)| format!("{k}=\"{}\"", escape(v)))
            .collect();
        if labels.is_empty() {
            let _ = writeln!(self.out, "{name} {value}");
        } else {
            let _ = writeln!(self.out, "{name}{{{}}} {value}", labels.join(","));
        }
    }
}

fn escape(v: &str) -> String {
    v.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

/// The kinds of alert journeys raise, always reported (zero included) so an
/// alert rule on them has a series to read.
const ALERT_KINDS: [&str; 3] = [
    "decision_sla_exceeded",
    "fulfilment_stalled",
    "order_refused",
];

/// Everything `/metrics` shows: this process's counters, then the
/// deployment's database gauges as last stored
/// ([`crate::gauge_snapshot`], refreshed first if older than twice
/// `every`; a failed refresh leaves the stored copy), and how old they are.
///
/// # Errors
/// None today: a stored copy that cannot be read is logged and left out,
/// and the page shows this process's counters alone.
pub async fn render(pool: &PgPool, every: std::time::Duration) -> Result<String, sqlx::Error> {
    let mut out = carepath_activities::metrics::render_process();
    if let Some((snapshot, age)) = crate::gauge_snapshot::refresh_if_stale(pool, every).await {
        out.push_str(&snapshot.body);
        let name = "carepath_gauges_age_seconds";
        Family::new(
            &mut out,
            name,
            "gauge",
            "How old the database gauges on this page are (computed once per interval for the deployment).",
        )
        .sample(name, &[], age.max(0.0));
        let name = "carepath_gauges_compute_seconds";
        Family::new(
            &mut out,
            name,
            "gauge",
            "How long computing the database gauges and the overdue set took.",
        )
        .sample(name, &[], snapshot.took_secs);
    }
    Ok(out)
}

/// The gauges read from the database, family by family, in the order the
/// page has always listed them.
pub(crate) async fn database_gauges(pool: &PgPool, out: &mut String) -> Result<(), sqlx::Error> {
    journey_gauges(pool, out).await?;
    overdue_gauges(pool, out).await?;
    vendor_gauges(pool, out).await?;
    feed_gauges(pool, out).await?;
    inbox_event_gauges(pool, out).await?;
    inbox_lag_gauge(pool, out).await?;
    inbox_rejection_gauge(pool, out).await?;
    queue_gauges(pool, out).await?;
    alert_counters(pool, out).await?;
    open_alert_gauges(pool, out).await
}

/// `carepath_journeys`: journeys by workflow, status and phase.
async fn journey_gauges(pool: &PgPool, out: &mut String) -> Result<(), sqlx::Error> {
    let by_status = gauges::journeys_by_status(pool).await?;
    let name = "carepath_journeys";
    let mut f = Family::new(
        out,
        name,
        "gauge",
        "Journeys by workflow, status and phase.",
    );
    for (workflow, status, phase, n) in &by_status {
        f.sample(
            name,
            &[("workflow", workflow), ("status", status), ("phase", phase)],
            *n as f64,
        );
    }
    Ok(())
}

/// `carepath_overdue_journeys` and
/// `carepath_oldest_overdue_journey_age_seconds`, by phase: both from one
/// read, so the count and the age describe the same journeys.
async fn overdue_gauges(pool: &PgPool, out: &mut String) -> Result<(), sqlx::Error> {
    let overdue = gauges::overdue_by_phase(pool).await?;
    let name = "carepath_overdue_journeys";
    let mut f = Family::new(
        out,
        name,
        "gauge",
        "Journeys that should have moved and have not (wake time passed, no progress, alert raised), by phase.",
    );
    for (phase, n, _) in &overdue {
        f.sample(name, &[("phase", phase)], *n as f64);
    }
    let name = "carepath_oldest_overdue_journey_age_seconds";
    let mut f = Family::new(
        out,
        name,
        "gauge",
        "How long the oldest overdue journey of each phase has been due (0 when none is).",
    );
    let oldest = overdue.iter().map(|o| o.2.max(0.0)).fold(0.0, f64::max);
    f.sample(name, &[("phase", "all")], oldest);
    for (phase, _, age) in &overdue {
        f.sample(name, &[("phase", phase)], age.max(0.0));
    }
    Ok(())
}

/// `carepath_vendor_waiting_journeys` and
/// `carepath_vendor_hold_remaining_seconds`, one sample per vendor.
async fn vendor_gauges(pool: &PgPool, out: &mut String) -> Result<(), sqlx::Error> {
    let vendors: Vec<(String, i64, f64)> = sqlx::query_as(concat!(
        "SELECT v.vendor,
                (SELECT count(*) FROM carepath.journeys j
                  WHERE j.status = 'waiting' AND ",
        waiting_on_vendor_condition!("j.waiting_for", "v.vendor"),
        "),
                coalesce((SELECT extract(epoch FROM h.until - now())::float8
                            FROM carepath.vendor_holds h
                           WHERE h.vendor = v.vendor AND h.until > now()), 0)
           FROM unnest($1::text[]) AS v(vendor) ORDER BY 1"
    ))
    .bind(
        carepath_activities::config::VENDORS
            .map(str::to_owned)
            .to_vec(),
    )
    .fetch_all(pool)
    .await?;
    let name = "carepath_vendor_waiting_journeys";
    let mut f = Family::new(out, name, "gauge", "Journeys waiting for a vendor on hold.");
    for (vendor, waiting, _) in &vendors {
        f.sample(name, &[("vendor", vendor)], *waiting as f64);
    }
    let name = "carepath_vendor_hold_remaining_seconds";
    let mut f = Family::new(
        out,
        name,
        "gauge",
        "Time left on a vendor's hold (an open breaker, a 429, an operator's pause); 0 when none.",
    );
    for (vendor, _, left) in &vendors {
        f.sample(name, &[("vendor", vendor)], left.max(0.0));
    }
    Ok(())
}

/// `carepath_inbox_events`: stored events by routing status, every status
/// reported (zero included).
async fn inbox_event_gauges(pool: &PgPool, out: &mut String) -> Result<(), sqlx::Error> {
    let inbox = gauges::inbox_by_status(pool).await?;
    let name = "carepath_inbox_events";
    let mut f = Family::new(
        out,
        name,
        "gauge",
        "Stored webhooks by routing status (received = not yet routed; parked = could not be processed).",
    );
    for status in [
        "received",
        "applied",
        "unmatched",
        "parked",
        "ignored",
        "skipped",
    ] {
        let n = inbox
            .iter()
            .find(|(s, _)| s == status)
            .map_or(0, |(_, n)| *n);
        f.sample(name, &[("status", status)], n as f64);
    }
    Ok(())
}

/// `carepath_inbox_lag_seconds`: how long the oldest unrouted event has waited.
async fn inbox_lag_gauge(pool: &PgPool, out: &mut String) -> Result<(), sqlx::Error> {
    let lag = gauges::inbox_lag_seconds(pool).await?;
    let name = "carepath_inbox_lag_seconds";
    let mut f = Family::new(
        out,
        name,
        "gauge",
        "Age of the oldest webhook not yet routed (0 when none).",
    );
    f.sample(name, &[], lag);
    Ok(())
}

/// `carepath_inbox_rejections`: webhooks refused at the door.
async fn inbox_rejection_gauge(pool: &PgPool, out: &mut String) -> Result<(), sqlx::Error> {
    let rejected = gauges::rejections(pool).await?;
    let name = "carepath_inbox_rejections";
    let mut f = Family::new(
        out,
        name,
        "gauge",
        "Webhooks refused at the door (signature, timestamp, body), as recorded.",
    );
    f.sample(name, &[], rejected as f64);
    Ok(())
}

/// `carepath_queue_tasks`: the journey queue's tasks by apalis status.
async fn queue_gauges(pool: &PgPool, out: &mut String) -> Result<(), sqlx::Error> {
    let queue = gauges::queue_by_status(pool, crate::JOURNEY_QUEUE).await?;
    let name = "carepath_queue_tasks";
    let mut f = Family::new(
        out,
        name,
        "gauge",
        "Tasks in the journey queue by apalis status; Pending: due and not yet taken by a \
         worker; Scheduled: Pending in apalis but not due yet (a journey's timer or timeout).",
    );
    for (status, n) in &queue {
        f.sample(name, &[("status", status)], *n as f64);
    }
    Ok(())
}

/// `carepath_alerts_total`: alerts raised, by kind.
async fn alert_counters(pool: &PgPool, out: &mut String) -> Result<(), sqlx::Error> {
    let alerts = crate::store::alerts::counts(pool).await?;
    let name = "carepath_alerts_total";
    let mut f = Family::new(out, name, "counter", "Alerts raised by journeys, by kind.");
    for (kind, n) in &alerts {
        f.sample(name, &[("kind", kind)], *n as f64);
    }
    Ok(())
}

/// `carepath_alerts_open`: open alerts by kind, the known kinds always
/// reported (zero included).
async fn open_alert_gauges(pool: &PgPool, out: &mut String) -> Result<(), sqlx::Error> {
    let open = crate::store::alerts::open_counts(pool).await?;
    let name = "carepath_alerts_open";
    let mut f = Family::new(
        out,
        name,
        "gauge",
        "Alerts of journeys under way that the journey has not got past yet, by kind.",
    );
    for kind in ALERT_KINDS {
        let n = open.iter().find(|(k, _)| k == kind).map_or(0, |(_, n)| *n);
        f.sample(name, &[("kind", kind)], n as f64);
    }
    for (kind, n) in open
        .iter()
        .filter(|(k, _)| !ALERT_KINDS.contains(&k.as_str()))
    {
        f.sample(name, &[("kind", kind)], *n as f64);
    }
    Ok(())
}

/// The vendors' event feeds, one sample per feed a worker has read (a row
/// of `carepath.vendor_feeds`): none before any worker has, when there is
/// nothing to report on yet.
async fn feed_gauges(pool: &PgPool, out: &mut String) -> Result<(), sqlx::Error> {
    let feeds: Vec<(String, bool, Option<f64>)> = sqlx::query_as(
        "SELECT vendor, last_error IS NOT NULL,
                extract(epoch FROM now() - succeeded_at)::float8
           FROM carepath.vendor_feeds ORDER BY 1",
    )
    .fetch_all(pool)
    .await?;
    let name = "carepath_feed_failing";
    let mut f = Family::new(
        out,
        name,
        "gauge",
        "1 when the last read of a vendor's event feed failed (its last_error in \
         carepath.vendor_feeds), 0 when it succeeded.",
    );
    for (vendor, failing, _) in &feeds {
        f.sample(
            name,
            &[("vendor", vendor)],
            if *failing { 1.0 } else { 0.0 },
        );
    }
    let name = "carepath_feed_last_success_age_seconds";
    let mut f = Family::new(
        out,
        name,
        "gauge",
        "Seconds since a vendor's event feed was last read without error; \
         no sample for a feed never read successfully.",
    );
    for (vendor, _, age) in &feeds {
        if let Some(age) = age {
            f.sample(name, &[("vendor", vendor)], age.max(0.0));
        }
    }
    Ok(())
}
