//! A lost webhook never strands a journey: vendors' event feeds read into the
//! inbox, against a real PostgreSQL and the sandbox over HTTP. The sandbox
//! drops webhooks and redelivers them late; the pharmacy's feed is read by
//! `feeds::poll_once` — each event stored once whichever way it came first,
//! by one reader at a time, past items it cannot store — and by a worker on
//! its own, which brings a journey the events its webhooks never delivered.

mod support;

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use carepath_activities::config::{FeedConfig, FeedStart};
use carepath_activities::resilience::holds;
use carepath_activities::vendors::pharmacy::{OrderRequest, PatientName, ShipTo};
use carepath_activities::{VendorError, Vendors, VendorsConfig};
use carepath_sandbox::{SandboxConfig, SandboxSettings};
use carepath_workflows::feeds::{self, FeedError, FeedReport};
use carepath_workflows::store::refs;
use carepath_workflows::{
    Actor, JourneyCtx, Registry, Settings, WebhookSource, WebhookSources, Workflow, WorkflowError,
    builtin,
};
use serde_json::{Value, json};
use sqlx::PgPool;
use support::*;

/// What the sandbox's pharmacy reports about an order, in order.
const ORDER_EVENTS: [&str; 3] = ["order.filled", "order.shipped", "order.delivered"];

/// One event in the inbox.
#[derive(Debug, Clone, PartialEq, sqlx::FromRow)]
struct Stored {
    dedup_key: String,
    event_type: Option<String>,
    source: String,
    deliveries: i32,
    body: Vec<u8>,
}

/// The sandbox, sending its webhooks to the API (which stores them; nothing
/// routes them unless a test starts a worker), and vendor clients for it.
struct Setup {
    db: TestDb,
    sandbox: Sandbox,
    config: VendorsConfig,
    vendors: Arc<Vendors>,
    /// The vendors' webhook sources, whose dedup keys the feed's items get.
    sources: WebhookSources,
}

impl Setup {
    async fn start() -> Self {
        let db = fresh_db().await;
        // The API first, so the sandbox knows where to send its webhooks.
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let api = format!("http://{}", listener.local_addr().expect("address"));
        let mut settings = SandboxSettings::default();
        // An order is filled, shipped and delivered 50 ms apart.
        settings.clinician.decide_ms = 100;
        let sandbox = Sandbox::start_with(SandboxConfig {
            webhook_url: Some(format!("{api}/webhooks")),
            webhook_secret: "test-secret".into(),
            settings,
        })
        .await;
        let mut config = VendorsConfig::for_sandbox(&sandbox.url);
        for profile in config.vendors.values_mut() {
            profile.rate_per_sec = 1000.0;
            profile.burst = 100;
        }
        serve_api_on(listener, engine(&db.pool, Registry::new()), config.clone());
        let vendors = Vendors::new(&config, &db.pool).expect("vendor clients");
        let sources = test_webhook_sources(&config);
        Self {
            db,
            sandbox,
            config,
            vendors,
            sources,
        }
    }

    /// `vendor`'s webhook source.
    fn source(&self, vendor: &str) -> Arc<dyn WebhookSource> {
        self.sources
            .get(vendor)
            .cloned()
            .unwrap_or_else(|| panic!("no webhook source for {vendor}"))
    }

    /// The pharmacy's feed as the sandbox's profile declares it, with
    /// `page` events a page.
    fn feed(&self, page: u32) -> FeedConfig {
        let mut feed = self.config.vendors["pharmacy"]
            .feed
            .clone()
            .expect("the sandbox's pharmacy declares its feed");
        feed.page = page;
        feed
    }

    /// The database's gauges, as `/metrics` shows them once a worker has
    /// computed them (here at once).
    async fn metrics(&self) -> String {
        carepath_workflows::gauge_snapshot::refresh(&self.db.pool, Duration::ZERO)
            .await
            .expect("compute the gauges");
        carepath_workflows::metrics::render(&self.db.pool, Duration::from_secs(60))
            .await
            .expect("render the metrics")
    }

    async fn try_poll(&self, page: u32) -> Result<FeedReport, FeedError> {
        let source = self.source("pharmacy");
        let feed = self.feed(page);
        feeds::poll_once(
            &self.db.pool,
            &test_vault(),
            "pharmacy",
            source.as_ref(),
            &self.vendors,
            &feed,
        )
        .await
    }

    async fn poll(&self, page: u32) -> FeedReport {
        self.try_poll(page)
            .await
            .unwrap_or_else(|e| panic!("reading the feed: {e}"))
    }

    /// Drops every order webhook of the pharmacy until the faults change.
    async fn drop_order_webhooks(&self) {
        self.sandbox
            .fault(json!({ "vendor": "pharmacy", "drop_webhook_types": ORDER_EVENTS }))
            .await;
    }

    /// Places order `n` at the pharmacy, which then fills, ships and
    /// delivers it; the order's id.
    async fn place_order(&self, n: u32) -> String {
        let order = OrderRequest {
            prescription_id: format!("rx_{n}"),
            patient_id: "pat_1".into(),
            external_id: format!("j-{n}:fill:0"),
            fill: 0,
            patient_name: PatientName {
                first_name: "Ann".into(),
                last_name: "Lee".into(),
            },
            ship_to: ShipTo {
                line1: "1 Main St".into(),
                line2: None,
                city: "Oakland".into(),
                state: "CA".into(),
                postal_code: "94601".into(),
            },
        };
        let placed = self
            .vendors
            .pharmacy
            .create_order(&order, &format!("order-{n}"))
            .await
            .expect("place an order");
        placed["id"].as_str().expect("order id").to_owned()
    }

    /// Waits until the sandbox has dropped `n` webhooks in all.
    async fn dropped(&self, n: u64) {
        wait_for(
            &format!("{n} dropped webhooks"),
            Duration::from_secs(10),
            || async { (self.sandbox.counters().await["webhooks_dropped"] == n).then_some(()) },
        )
        .await;
    }

    /// The pharmacy's events in the inbox, in the order they were stored.
    /// The pharmacy's stored events, their bodies opened (they are sealed).
    async fn inbox(&self) -> Vec<Stored> {
        let mut stored: Vec<Stored> = sqlx::query_as(
            "SELECT dedup_key, event_type, source, deliveries, body
               FROM carepath.webhook_inbox WHERE vendor = 'pharmacy' ORDER BY id",
        )
        .fetch_all(&self.db.pool)
        .await
        .expect("read the inbox");
        for row in &mut stored {
            row.body =
                opened_inbox_body(&self.db.pool, "pharmacy", &row.dedup_key, &row.body).await;
        }
        stored
    }

    /// Waits until the inbox holds `n` pharmacy events.
    async fn inbox_holds(&self, n: usize) -> Vec<Stored> {
        wait_for(
            &format!("{n} pharmacy events in the inbox"),
            Duration::from_secs(10),
            || async {
                let stored = self.inbox().await;
                (stored.len() == n).then_some(stored)
            },
        )
        .await
    }

    /// The feed's row: (cursor, events stored, last error, leased now, polled).
    async fn feed_row(&self) -> (Option<String>, i64, Option<String>, bool, bool) {
        sqlx::query_as(
            "SELECT cursor, events_stored, last_error,
                    coalesce(leased_until > now(), false), polled_at IS NOT NULL
               FROM carepath.vendor_feeds WHERE vendor = 'pharmacy'",
        )
        .fetch_one(&self.db.pool)
        .await
        .expect("the feed's row")
    }

    /// Requests the sandbox's pharmacy received at its feed.
    async fn feed_requests(&self) -> usize {
        self.sandbox
            .calls("pharmacy")
            .await
            .iter()
            .filter(|r| r["route"] == "/v1/events")
            .count()
    }
}

/// The value of the sample that starts with `prefix` (name and labels).
fn sample(text: &str, prefix: &str) -> Option<f64> {
    text.lines()
        .find_map(|l| l.strip_prefix(prefix))
        .and_then(|v| v.trim().parse().ok())
}

const FAILING: &str = "carepath_feed_failing{vendor=\"pharmacy\"} ";
const SUCCESS_AGE: &str = "carepath_feed_last_success_age_seconds{vendor=\"pharmacy\"} ";

fn types(stored: &[Stored]) -> Vec<&str> {
    stored
        .iter()
        .map(|s| s.event_type.as_deref().unwrap_or_default())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn order_events_whose_webhooks_were_lost_are_read_from_the_feed_once() {
    let s = Setup::start().await;
    s.drop_order_webhooks().await;
    let order = s.place_order(1).await;
    s.dropped(3).await;
    assert!(s.inbox().await.is_empty(), "no webhook reached carepath");
    assert_eq!(s.sandbox.counters().await["webhooks_sent"], 0);

    // Two events a page: a full page, then a short one.
    let report = s.poll(2).await;
    assert_eq!(
        (report.read, report.pages, report.stored),
        (true, 2, 3),
        "{report:?}"
    );
    assert_eq!(
        (report.duplicates, report.rejected, report.more),
        (0, 0, false)
    );
    let stored = s.inbox().await;
    assert_eq!(types(&stored), ORDER_EVENTS);
    // Each is stored as the webhook would have brought it: the same event
    // id, the same bytes.
    let dropped = s.sandbox.dropped_webhooks().await;
    for (row, lost) in stored.iter().zip(&dropped) {
        assert_eq!((row.source.as_str(), row.deliveries), ("feed", 1));
        assert_eq!(Some(row.dedup_key.as_str()), lost["event_id"].as_str());
        assert_eq!(
            Some(row.body.as_slice()),
            lost["body"].as_str().map(str::as_bytes)
        );
        let body: Value = serde_json::from_slice(&row.body).expect("stored JSON");
        assert_eq!(body["data"]["order_id"], order.as_str());
    }
    let (cursor, events_stored, last_error, leased, polled) = s.feed_row().await;
    assert_eq!(cursor, report.cursor);
    assert!(cursor.is_some());
    assert_eq!(
        (events_stored, last_error, leased, polled),
        (3, None, false, true)
    );

    // The cursor moved: the next read finds nothing new, in one request.
    let before = s.feed_requests().await;
    let again = s.poll(2).await;
    assert_eq!(
        again,
        FeedReport {
            read: true,
            pages: 1,
            cursor: report.cursor.clone(),
            ..FeedReport::default()
        }
    );
    assert_eq!(s.feed_requests().await, before + 1);
    assert_eq!(s.inbox().await.len(), 3);
    assert_eq!(s.feed_row().await.1, 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_event_that_comes_by_webhook_and_by_feed_is_stored_once() {
    let s = Setup::start().await;
    // The webhooks first: the feed's copies count a delivery each.
    s.place_order(1).await;
    s.inbox_holds(3).await;
    let report = s.poll(100).await;
    assert_eq!((report.stored, report.duplicates), (0, 3), "{report:?}");
    let stored = s.inbox().await;
    assert!(
        stored
            .iter()
            .all(|e| e.source == "webhook" && e.deliveries == 2),
        "{stored:?}"
    );

    // The feed first: the late webhooks count a delivery each.
    s.drop_order_webhooks().await;
    s.place_order(2).await;
    s.dropped(3).await;
    let report = s.poll(100).await;
    assert_eq!((report.stored, report.duplicates), (3, 0), "{report:?}");
    assert_eq!(s.sandbox.redeliver().await, 3);
    let stored = s.inbox().await;
    assert_eq!(stored.len(), 6, "{stored:?}");
    assert!(
        stored[3..]
            .iter()
            .all(|e| e.source == "feed" && e.deliveries == 2),
        "{stored:?}"
    );
    assert_eq!(s.feed_row().await.1, 3, "the feed stored three events");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dropped_webhooks_are_counted_kept_and_redelivered_late_unchanged() {
    let s = Setup::start().await;
    s.sandbox
        .fault(json!({ "vendor": "pharmacy", "drop_webhooks_secs": 60.0 }))
        .await;
    s.place_order(1).await;
    s.dropped(3).await;
    let dropped = s.sandbox.dropped_webhooks().await;
    assert_eq!(dropped.len(), 3);
    for d in &dropped {
        let body: Value = serde_json::from_str(d["body"].as_str().expect("body")).expect("JSON");
        assert_eq!(d["vendor"], "pharmacy");
        assert_eq!(
            (&body["event_id"], &body["occurred_at"]),
            (&d["event_id"], &d["occurred_at"])
        );
    }
    // Clearing the fault sends nothing; the next order's webhooks go out.
    let clear = reqwest::Client::new()
        .delete(format!("{}/_sandbox/faults", s.sandbox.url))
        .send()
        .await
        .expect("clear faults");
    assert!(clear.status().is_success());
    s.place_order(2).await;
    let delivered = s.inbox_holds(3).await;
    assert!(delivered.iter().all(|e| e.source == "webhook"));

    // Late: the dropped ones, unchanged — their ids, their times, their bytes.
    assert_eq!(s.sandbox.redeliver().await, 3);
    let stored = s.inbox().await;
    assert_eq!(stored.len(), 6);
    for d in &dropped {
        let row = stored
            .iter()
            .find(|e| Some(e.dedup_key.as_str()) == d["event_id"].as_str())
            .unwrap_or_else(|| panic!("{d} was not redelivered: {stored:?}"));
        assert_eq!(
            Some(row.body.as_slice()),
            d["body"].as_str().map(str::as_bytes)
        );
        assert_eq!((row.source.as_str(), row.deliveries), ("webhook", 1));
    }
    let c = s.sandbox.counters().await;
    assert_eq!(
        (&c["webhooks_dropped"], &c["webhooks_sent"]),
        (&json!(3), &json!(6)),
        "{c}"
    );
    assert!(s.sandbox.dropped_webhooks().await.is_empty());
    assert_eq!(s.sandbox.redeliver().await, 0);

    // The feed had every event, delivered or dropped.
    let report = s.poll(100).await;
    assert_eq!((report.stored, report.duplicates), (0, 6), "{report:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn of_readers_at_once_one_reads_and_a_reader_that_lost_its_lease_writes_nothing() {
    let s = Setup::start().await;
    s.drop_order_webhooks().await;
    s.place_order(1).await;
    s.dropped(3).await;
    // A slow pharmacy: the first reader is still reading when the second asks.
    s.sandbox
        .fault(json!({ "vendor": "pharmacy", "latency_ms": 400 }))
        .await;
    let (a, b) = tokio::join!(s.try_poll(2), s.try_poll(2));
    let reports = [a.expect("first poll"), b.expect("second poll")];
    let read: Vec<&FeedReport> = reports.iter().filter(|r| r.read).collect();
    assert_eq!(read.len(), 1, "{reports:?}");
    assert_eq!(read[0].stored, 3);
    assert!(
        reports.contains(&FeedReport::default()),
        "the other found the lease taken and did nothing: {reports:?}"
    );
    let stored = s.inbox().await;
    assert_eq!(stored.len(), 3);
    assert!(stored.iter().all(|e| e.deliveries == 1), "{stored:?}");
    let (cursor, _, _, leased, _) = s.feed_row().await;
    assert!(!leased, "released after the read");

    // A lease another reader holds keeps a poll out until it runs out.
    let hold = |until: &'static str| {
        let pool = s.db.pool.clone();
        async move {
            sqlx::query(sqlx::AssertSqlSafe(format!(
                "UPDATE carepath.vendor_feeds
                    SET leased_until = now() + interval '{until}', lease_holder = gen_random_uuid()"
            )))
            .execute(&pool)
            .await
            .expect("lease the feed");
        }
    };
    hold("1 hour").await;
    assert_eq!(s.poll(2).await, FeedReport::default());
    hold("-1 second").await;
    assert!(s.poll(2).await.read, "an expired lease is taken over");

    // A reader whose lease was taken over mid-read stops and writes nothing.
    sqlx::query("UPDATE carepath.vendor_feeds SET cursor = NULL")
        .execute(&s.db.pool)
        .await
        .expect("rewind");
    s.sandbox
        .fault(json!({ "vendor": "pharmacy", "latency_ms": 1500 }))
        .await;
    let slow = {
        let (pool, vendors, feed) = (s.db.pool.clone(), s.vendors.clone(), s.feed(2));
        let source = s.source("pharmacy");
        tokio::spawn(async move {
            feeds::poll_once(
                &pool,
                &test_vault(),
                "pharmacy",
                source.as_ref(),
                &vendors,
                &feed,
            )
            .await
        })
    };
    wait_for(
        "the slow reader's lease",
        Duration::from_secs(5),
        || async { s.feed_row().await.3.then_some(()) },
    )
    .await;
    hold("1 hour").await;
    let lost = slow.await.expect("poll task");
    assert!(matches!(lost, Err(FeedError::LeaseLost { .. })), "{lost:?}");
    let (after, _, _, leased, _) = s.feed_row().await;
    assert_eq!(
        after, None,
        "the cursor was not written (before: {cursor:?})"
    );
    assert!(leased, "the new holder's lease stands");
    assert_eq!(s.inbox().await.len(), 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn items_that_cannot_be_stored_are_recorded_as_rejected_and_the_cursor_moves_past_them() {
    let s = Setup::start().await;
    let deep = (0..40).fold(json!("bottom"), |v, _| json!({ "a": v }));
    let items = [
        json!(42),
        json!(["not", "an", "event"]),
        json!({ "event_id": "evt_nul", "type": "order.shipped", "data": { "note": "a\u{0}b" } }),
        json!({ "event_id": "evt_deep", "type": "order.shipped", "data": deep }),
        json!({ "event_id": "evt_good", "type": "order.filled", "occurred_at": "2026-11-30T10:00:00Z",
                "data": { "order_id": "order_x", "status": "filled" } }),
    ];
    let mut last = String::new();
    for item in &items {
        last = s.sandbox.add_feed_item(item).await;
    }
    let report = s.poll(2).await;
    assert_eq!(
        (report.pages, report.stored, report.rejected),
        (3, 1, 4),
        "{report:?}"
    );
    assert_eq!(report.cursor.as_deref(), Some(last.as_str()));
    let stored = s.inbox().await;
    assert_eq!(stored.len(), 1);
    assert_eq!(
        (stored[0].dedup_key.as_str(), stored[0].source.as_str()),
        ("evt_good", "feed")
    );

    let rejections: Vec<(String, i32, String, String)> = sqlx::query_as(
        "SELECT vendor, status_code, reason, body_sha256 FROM carepath.webhook_rejections ORDER BY id",
    )
    .fetch_all(&s.db.pool)
    .await
    .expect("rejections");
    assert_eq!(rejections.len(), 4, "{rejections:?}");
    for (vendor, status, reason, digest) in &rejections {
        assert_eq!((vendor.as_str(), *status), ("pharmacy", 400));
        assert!(reason.starts_with("feed:"), "{reason}");
        assert!(
            !reason.contains("a\u{0}b") && !digest.is_empty(),
            "{reason}"
        );
    }
    assert!(rejections[2].2.contains("data.note"), "{rejections:?}");

    // Past them for good: the next read neither stores nor rejects again.
    let again = s.poll(2).await;
    assert_eq!(
        (again.stored, again.rejected, again.cursor),
        (0, 0, Some(last))
    );
    assert_eq!(
        count(
            &s.db.pool,
            "SELECT count(*) FROM carepath.webhook_rejections"
        )
        .await,
        4
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_vendor_on_hold_failing_or_refusing_the_cursor_leaves_it_where_it_was() {
    let s = Setup::start().await;
    s.drop_order_webhooks().await;
    s.place_order(1).await;
    s.dropped(3).await;
    let cursor = s.poll(100).await.cursor;
    let http = reqwest::Client::new();
    let feed_url = format!("{}/pharmacy/v1/events", s.sandbox.url);

    // The feed is the pharmacy's: behind its key.
    let anonymous = http.get(&feed_url).send().await.expect("feed");
    assert_eq!(anonymous.status(), reqwest::StatusCode::UNAUTHORIZED);
    let bad = http
        .get(format!("{feed_url}?after=yesterday"))
        .header("x-api-key", "k")
        .send()
        .await
        .expect("feed");
    assert_eq!(bad.status(), reqwest::StatusCode::BAD_REQUEST);
    let bad: Value = bad.json().await.expect("JSON");
    assert_eq!(bad["error"]["fields"][0]["path"], "after", "{bad}");

    // An operator's pause: no request goes out, the poll says why.
    holds::hold(
        &s.db.pool,
        "pharmacy",
        Duration::from_secs(600),
        "incident 7",
        "test",
    )
    .await
    .expect("hold");
    let requests = s.feed_requests().await;
    let held = s.try_poll(100).await;
    assert!(
        matches!(held, Err(FeedError::Vendor(VendorError::Held { .. }))),
        "{held:?}"
    );
    assert_eq!(s.feed_requests().await, requests);
    let (now, stored, error, leased, _) = s.feed_row().await;
    assert_eq!((&now, stored, leased), (&cursor, 3, false));
    assert!(
        error.as_deref().is_some_and(|e| e.contains("incident 7")),
        "{error:?}"
    );
    sqlx::query("DELETE FROM carepath.vendor_holds")
        .execute(&s.db.pool)
        .await
        .expect("resume");

    // An outage: the same.
    s.sandbox
        .fault(json!({ "vendor": "pharmacy", "outage_secs": 60.0 }))
        .await;
    let down = s.try_poll(100).await;
    assert!(
        matches!(down, Err(FeedError::Vendor(VendorError::Transient { .. }))),
        "{down:?}"
    );
    assert_eq!(s.feed_row().await.0, cursor);
    s.sandbox
        .fault(json!({ "vendor": "pharmacy", "outage_secs": 0.0 }))
        .await;
    let back = s.poll(100).await;
    assert_eq!((back.read, back.cursor.clone()), (true, cursor.clone()));
    assert_eq!(s.feed_row().await.2, None, "a good read clears the error");

    // A cursor the pharmacy cannot read: refused, said, kept.
    sqlx::query("UPDATE carepath.vendor_feeds SET cursor = 'not a cursor'")
        .execute(&s.db.pool)
        .await
        .expect("spoil the cursor");
    let refused = s.try_poll(100).await;
    assert!(
        matches!(
            refused,
            Err(FeedError::Vendor(VendorError::Rejected { status: 400, .. }))
        ),
        "{refused:?}"
    );
    let (now, _, error, leased, _) = s.feed_row().await;
    assert_eq!((now.as_deref(), leased), (Some("not a cursor"), false));
    assert!(
        error.as_deref().is_some_and(|e| e.contains("after")),
        "{error:?}"
    );

    // Only a vendor whose client reads a feed has one.
    let source = s.source("clinical");
    let clinical = feeds::poll_once(
        &s.db.pool,
        &test_vault(),
        "clinical",
        source.as_ref(),
        &s.vendors,
        &s.feed(100),
    )
    .await;
    assert!(
        matches!(clinical, Err(FeedError::NoFeed(_))),
        "{clinical:?}"
    );
}

/// Waits for its pharmacy order to be delivered, as the events reach it.
struct AwaitOrder {
    pool: PgPool,
}

#[async_trait]
impl Workflow for AwaitOrder {
    fn signals(&self) -> &[&str] {
        &["pharmacy.order"]
    }
    async fn run(&self, ctx: &mut JourneyCtx, input: Value) -> Result<Value, WorkflowError> {
        let order = input["order_id"].as_str().unwrap_or_default().to_owned();
        let (pool, journey) = (self.pool.clone(), ctx.journey_id());
        ctx.step("link_order", |_| async move {
            refs::link(&pool, journey, "pharmacy", "order", &order).await?;
            Ok(())
        })
        .await?;
        let mut seen = Vec::new();
        loop {
            let Some(event) = ctx.wait_signal("pharmacy.order", None).await? else {
                continue;
            };
            seen.push(event["type"].clone());
            if event["type"] == "order.delivered" {
                return Ok(json!({ "events": seen }));
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_worker_reads_the_feed_by_itself_and_a_journey_gets_the_events_its_webhooks_lost() {
    let s = Setup::start().await;
    let mut config = s.config.clone();
    if let Some(feed) = config
        .vendors
        .get_mut("pharmacy")
        .and_then(|p| p.feed.as_mut())
    {
        feed.every = Duration::from_millis(200);
    }
    // What a worker process is given: the feeds its profiles declare.
    let (_, declared) = builtin::engine_and_feeds(
        &s.db.pool,
        &Settings::from(config.clone()),
        test_engine_config(),
    )
    .expect("engine and feeds");
    let vendors: Vec<&str> = declared.iter().map(|f| f.vendor.as_str()).collect();
    assert_eq!(vendors, ["pharmacy"]);
    let engine = engine(
        &s.db.pool,
        Registry::new().with(
            "await_order",
            1,
            AwaitOrder {
                pool: s.db.pool.clone(),
            },
        ),
    );
    let worker = InProcessWorker::start_with_feeds(
        engine.clone(),
        feeds::declared(
            &s.vendors,
            &config,
            &test_webhook_sources(&config),
            &test_vault(),
        ),
        "feeds",
    );

    s.drop_order_webhooks().await;
    let order = s.place_order(1).await;
    let journey = engine
        .start(
            "await_order",
            "order-1",
            json!({ "order_id": order }),
            &Actor::new("test"),
        )
        .await
        .expect("start")
        .journey
        .id;
    wait_status(&s.db.pool, journey, "completed", Duration::from_secs(30)).await;
    let out: Value = journey_output(&s.db.pool, journey).await;
    assert_eq!(out["events"], json!(ORDER_EVENTS));
    assert_eq!(s.sandbox.counters().await["webhooks_dropped"], 3);

    // The webhooks, late: absorbed as repeat deliveries, never applied again.
    assert_eq!(s.sandbox.redeliver().await, 3);
    let stored = s.inbox().await;
    assert!(
        stored
            .iter()
            .all(|e| e.source == "feed" && e.deliveries == 2),
        "{stored:?}"
    );
    worker.shutdown().await;
    let signals = count(
        &s.db.pool,
        "SELECT count(*) FROM carepath.signals WHERE name = 'pharmacy.order'",
    )
    .await;
    assert_eq!(signals, 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_feed_whose_cursor_is_refused_shows_as_failing_until_a_good_read() {
    let s = Setup::start().await;
    // No feed read yet: the families, without a sample.
    let before = s.metrics().await;
    for family in [
        "carepath_feed_failing",
        "carepath_feed_last_success_age_seconds",
    ] {
        assert!(
            before.contains(&format!("# TYPE {family} gauge")),
            "{before}"
        );
        assert!(!before.contains(&format!("{family}{{")), "{before}");
    }

    let good = s.poll(100).await;
    let after_good = s.metrics().await;
    assert_eq!(sample(&after_good, FAILING), Some(0.0), "{after_good}");
    let age = sample(&after_good, SUCCESS_AGE).unwrap_or(-1.0);
    assert!((0.0..60.0).contains(&age), "{after_good}");

    // A cursor the pharmacy never gave (past its last event): refused at
    // every poll.
    sqlx::query("UPDATE carepath.vendor_feeds SET cursor = '1000'")
        .execute(&s.db.pool)
        .await
        .expect("spoil the cursor");
    for _ in 0..2 {
        let refused = s.try_poll(100).await;
        assert!(
            matches!(
                refused,
                Err(FeedError::Vendor(VendorError::Rejected { status: 400, .. }))
            ),
            "{refused:?}"
        );
    }
    let failing = s.metrics().await;
    assert_eq!(sample(&failing, FAILING), Some(1.0), "{failing}");
    // Polled since, but the last success is the good read's.
    let (polled_after_success,): (bool,) = sqlx::query_as(
        "SELECT polled_at > succeeded_at FROM carepath.vendor_feeds WHERE vendor = 'pharmacy'",
    )
    .fetch_one(&s.db.pool)
    .await
    .expect("the feed's row");
    assert!(polled_after_success);
    sqlx::query("UPDATE carepath.vendor_feeds SET succeeded_at = now() - interval '20 minutes'")
        .execute(&s.db.pool)
        .await
        .expect("age the last success");
    let age = sample(&s.metrics().await, SUCCESS_AGE).unwrap_or_default();
    assert!((1200.0..1300.0).contains(&age), "age {age}");

    // The operator puts back the cursor last read: the next poll is good.
    sqlx::query("UPDATE carepath.vendor_feeds SET cursor = $1")
        .bind(&good.cursor)
        .execute(&s.db.pool)
        .await
        .expect("restore the cursor");
    s.poll(100).await;
    let healed = s.metrics().await;
    assert_eq!(sample(&healed, FAILING), Some(0.0), "{healed}");
    let age = sample(&healed, SUCCESS_AGE).unwrap_or(-1.0);
    assert!((0.0..60.0).contains(&age), "{healed}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_feed_that_starts_now_skips_the_events_before_its_first_read() {
    let s = Setup::start().await;
    let mut now = s.feed(2);
    now.start = FeedStart::Now;
    let poll = |feed: FeedConfig| {
        let (pool, vendors, source) = (s.db.pool.clone(), s.vendors.clone(), s.source("pharmacy"));
        async move {
            feeds::poll_once(
                &pool,
                &test_vault(),
                "pharmacy",
                source.as_ref(),
                &vendors,
                &feed,
            )
            .await
        }
    };
    s.drop_order_webhooks().await;
    s.place_order(1).await;
    s.dropped(3).await;

    // A first read that fails skips nothing yet and stores no cursor.
    s.sandbox
        .fault(json!({ "vendor": "pharmacy", "outage_secs": 60.0, "drop_webhook_types": ORDER_EVENTS }))
        .await;
    assert!(poll(now.clone()).await.is_err());
    assert_eq!(s.feed_row().await.0, None);
    s.drop_order_webhooks().await;

    // The first good one pages past the three events (two pages of two)
    // without storing them, and stores the cursor at the end.
    let first = poll(now.clone()).await.expect("first read");
    assert_eq!(
        (
            first.read,
            first.pages,
            first.stored,
            first.skipped,
            first.more
        ),
        (true, 2, 0, 3, false),
        "{first:?}"
    );
    assert!(s.inbox().await.is_empty());
    let (cursor, events_stored, last_error, _, _) = s.feed_row().await;
    assert_eq!(
        (cursor.as_deref(), events_stored, last_error),
        (Some("3"), 0, None)
    );

    // Events after it are read, and stored.
    let order = s.place_order(2).await;
    s.dropped(6).await;
    let next = poll(now.clone()).await.expect("next read");
    assert_eq!((next.stored, next.skipped), (3, 0), "{next:?}");
    let stored = s.inbox().await;
    assert_eq!(types(&stored), ORDER_EVENTS);
    for row in &stored {
        let body: Value = serde_json::from_slice(&row.body).expect("stored JSON");
        assert_eq!(body["data"]["order_id"], order.as_str());
    }
}
