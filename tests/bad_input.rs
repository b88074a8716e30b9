//! Bad input never wedges anything (issue 10), one test per kind, each over
//! real HTTP against a real PostgreSQL and varying the poison rather than
//! repeating one input:
//! - a stored row that cannot be processed is parked with its error and never
//!   holds back the rows behind it; the webhook door refuses what storage would;
//! - what the API accepts can always be read back, and recorded data that
//!   cannot be read fails its journey visibly instead of looping;
//! - every value that reaches a key or an index is bounded or hashed, and
//!   every path parameter obeys the same NUL and length rules;
//! - a signal name the workflow does not receive is refused;
//! - an idempotency key names one request.

mod support;

use carepath_workflows::engine::vault::{Payload, Sensitivity};

use std::time::Duration;

use async_trait::async_trait;
use carepath_activities::VendorsConfig;
use carepath_activities::webhook_signature;
use carepath_api::auth::{Role, create_token};
use carepath_workflows::storable::MAX_DEPTH;
use carepath_workflows::store::refs;
use carepath_workflows::{Actor, Engine, JourneyCtx, Registry, Workflow, WorkflowError};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use support::*;
use uuid::Uuid;

const LONG: Duration = Duration::from_secs(30);

/// Waits for `go`, then finishes with what it got.
struct Waiter;

#[async_trait]
impl Workflow for Waiter {
    fn signals(&self) -> &[&str] {
        &["go"]
    }

    /// Its result is read back by the product (what a signal brought is
    /// sealed on its way, by default).
    fn sensitivity(&self, payload: Payload<'_>) -> Sensitivity {
        match payload {
            Payload::Output => Sensitivity::NotPhi,
            _ => Sensitivity::Unmarked,
        }
    }

    async fn run(&self, ctx: &mut JourneyCtx, _input: Value) -> Result<Value, WorkflowError> {
        let got = ctx.wait_signal("go", None).await?;
        Ok(json!({ "got": got }))
    }
}

/// Waits for the clinical network's word on its case.
struct AwaitCase;

#[async_trait]
impl Workflow for AwaitCase {
    fn signals(&self) -> &[&str] {
        &["clinical.case"]
    }

    async fn run(&self, ctx: &mut JourneyCtx, _input: Value) -> Result<Value, WorkflowError> {
        let event = ctx.wait_signal("clinical.case", None).await?;
        Ok(json!({ "event": event }))
    }
}

/// A step whose output is nested deeper than anything may be recorded.
struct DeepStep;

#[async_trait]
impl Workflow for DeepStep {
    async fn run(&self, ctx: &mut JourneyCtx, _input: Value) -> Result<Value, WorkflowError> {
        ctx.step("parse_scan", |_| async { Ok(nested(MAX_DEPTH + 5)) })
            .await?;
        Ok(json!("done"))
    }
}

/// `levels` arrays around a string: `levels` containers deep.
fn nested(levels: usize) -> Value {
    (0..levels).fold(json!("leaf"), |v, _| json!([v]))
}

struct Stack {
    db: TestDb,
    engine: Engine,
    url: String,
    http: reqwest::Client,
    product: String,
    operator: String,
    admin: String,
}

impl Stack {
    async fn start() -> Self {
        let db = fresh_db().await;
        let engine = engine(
            &db.pool,
            Registry::new()
                .with("waiter", 1, Waiter)
                .with("await_case", 1, AwaitCase)
                .with("deep_step", 1, DeepStep),
        );
        let url = serve_api(engine.clone(), VendorsConfig::default()).await;
        let token = |name: &'static str, role| {
            let pool = db.pool.clone();
            async move { create_token(&pool, name, role).await.expect("token") }
        };
        let (product, operator, admin) = (
            token("brand-web", Role::Product).await,
            token("ops-alice", Role::Operator).await,
            token("root", Role::Admin).await,
        );
        Self {
            db,
            engine,
            url,
            http: reqwest::Client::new(),
            product,
            operator,
            admin,
        }
    }

    async fn call(
        &self,
        method: Method,
        path: &str,
        token: &str,
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        let mut req = self
            .http
            .request(method, format!("{}{path}", self.url))
            .bearer_auth(token);
        if let Some(b) = body {
            req = req.json(&b);
        }
        let resp = req.send().await.expect("request");
        let status = resp.status();
        let text = resp.text().await.expect("body");
        (
            status,
            serde_json::from_str(&text).unwrap_or(Value::String(text)),
        )
    }

    /// Posts raw bytes as JSON (for bodies serde_json would not write, such
    /// as keys in another order or nesting past its own limits).
    async fn post_raw(&self, path: &str, token: &str, body: String) -> (StatusCode, Value) {
        let resp = self
            .http
            .post(format!("{}{path}", self.url))
            .bearer_auth(token)
            .header("content-type", "application/json")
            .body(body)
            .send()
            .await
            .expect("request");
        let status = resp.status();
        (status, resp.json().await.unwrap_or(Value::Null))
    }

    /// A webhook signed with the test secret.
    async fn deliver(&self, body: &[u8]) -> (StatusCode, Value) {
        let signature =
            webhook_signature::sign(b"test-secret", chrono::Utc::now().timestamp(), body);
        let resp = self
            .http
            .post(format!("{}/webhooks/clinical", self.url))
            .header("content-type", "application/json")
            .header(webhook_signature::HEADER, signature)
            .body(body.to_vec())
            .send()
            .await
            .expect("deliver");
        let status = resp.status();
        (status, resp.json().await.unwrap_or(Value::Null))
    }

    async fn start_journey(&self, workflow: &str, key: &str) -> Uuid {
        self.engine
            .start(workflow, key, json!({}), &Actor::new("test"))
            .await
            .expect("start")
            .journey
            .id
    }

    /// Stores an event in the inbox as an older API would have, past the
    /// checks the door makes today.
    async fn store_raw(&self, dedup_key: &str, event_type: &str, body: &[u8]) -> i64 {
        sqlx::query_scalar(
            "INSERT INTO carepath.webhook_inbox (vendor, dedup_key, event_type, body)
             VALUES ('clinical', $1, $2, $3) RETURNING id",
        )
        .bind(dedup_key)
        .bind(event_type)
        .bind(body)
        .fetch_one(&self.db.pool)
        .await
        .expect("store raw")
    }

    /// The event ids of journey `id`'s signals, in the order they were recorded.
    async fn signals_of(&self, id: Uuid) -> Vec<String> {
        sqlx::query_scalar(
            "SELECT event_id FROM carepath.signals WHERE journey_id = $1 ORDER BY id",
        )
        .bind(id)
        .fetch_all(&self.db.pool)
        .await
        .expect("signals")
    }

    async fn inbox_status(&self, id: i64) -> (String, Option<String>) {
        sqlx::query_as("SELECT status, note FROM carepath.webhook_inbox WHERE id = $1")
            .bind(id)
            .fetch_one(&self.db.pool)
            .await
            .expect("inbox row")
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_poison_webhook_is_parked_and_never_holds_back_the_events_behind_it() {
    let s = Stack::start().await;
    let journey = s.start_journey("await_case", "k1").await;
    refs::link(&s.db.pool, journey, "clinical", "case", "case_1")
        .await
        .expect("link");
    // Each poison is a different way a stored row can be unprocessable.
    let poisons: Vec<(&str, &str, Vec<u8>)> = vec![
        (
            "p-nul-message",
            "case.message",
            br#"{"event_id":"p-nul-message","type":"case.message","data":{"case_id":"case_1","message":"a\u0000b"}}"#.to_vec(),
        ),
        (
            "p-nul-case",
            "case.assigned",
            br#"{"event_id":"p-nul-case","type":"case.assigned","data":{"case_id":"x\u0000"}}"#.to_vec(),
        ),
        (
            "p-nul-order",
            "order.shipped",
            br#"{"event_id":"p-nul-order","type":"order.shipped","data":{"order_id":"o\u0000"}}"#.to_vec(),
        ),
        (
            "p-nul-key",
            "case.message",
            br#"{"event_id":"p-nul-key","type":"case.message","data":{"case_id":"case_1","\u0000":1}}"#.to_vec(),
        ),
        ("p-not-utf8", "case.message", vec![0xff, 0xfe, b'{', b'}']),
        (
            "p-too-deep",
            "case.message",
            json!({ "event_id": "p-too-deep", "type": "case.message",
                    "data": { "case_id": "case_1", "blob": nested(MAX_DEPTH + 1) } })
            .to_string()
            .into_bytes(),
        ),
        (
            "p-bad-type",
            "case approved\u{1}.x",
            json!({ "event_id": "p-bad-type", "data": { "case_id": "case_1" } })
                .to_string()
                .into_bytes(),
        ),
    ];
    let mut poisoned = Vec::new();
    for (key, kind, body) in &poisons {
        poisoned.push(s.store_raw(key, kind, body).await);
    }
    let good =
        json!({ "event_id": "good-1", "type": "case.approved", "data": { "case_id": "case_1" } })
            .to_string()
            .into_bytes();
    let good_id = s.store_raw("good-1", "case.approved", &good).await;

    let report = s.engine.route_inbox_once(100).await.expect("routing pass");
    assert_eq!(
        (report.parked, report.applied),
        (poisons.len(), 1),
        "{report:?}"
    );
    for (id, (key, _, _)) in poisoned.iter().zip(&poisons) {
        let (status, note) = s.inbox_status(*id).await;
        assert_eq!(status, "parked", "{key}");
        assert!(
            note.as_deref()
                .is_some_and(|n| n.starts_with("cannot be processed")),
            "{key}: {note:?}"
        );
    }
    assert_eq!(s.inbox_status(good_id).await.0, "applied");
    // Parked rows are not retried ahead of anything: the next pass is empty.
    let again = s.engine.route_inbox_once(100).await.expect("second pass");
    assert_eq!(again.handled(), 0, "{again:?}");

    // An unmatched row PostgreSQL cannot parse never breaks linking another
    // resource (linking re-queues the early events about it).
    let orphan = s
        .store_raw(
            "late-1",
            "case.assigned",
            br#"{"event_id":"late-1","type":"case.assigned","data":{"case_id":"case_2"}}"#,
        )
        .await;
    sqlx::query(
        "UPDATE carepath.webhook_inbox SET status = 'unmatched', refs = '{case:case_2}' WHERE id = $1",
    )
    .bind(orphan)
    .execute(&s.db.pool)
    .await
    .expect("make unmatched");
    let nul_orphan = s
        .store_raw(
            "late-nul",
            "case.assigned",
            br#"{"event_id":"late-nul","type":"case.assigned","data":{"case_id":"case_2","m":"\u0000"}}"#,
        )
        .await;
    sqlx::query("UPDATE carepath.webhook_inbox SET status = 'unmatched' WHERE id = $1")
        .bind(nul_orphan)
        .execute(&s.db.pool)
        .await
        .expect("make unmatched");
    let second = s.start_journey("await_case", "k2").await;
    refs::link(&s.db.pool, second, "clinical", "case", "case_2")
        .await
        .expect("linking with a poison row in the inbox");
    assert_eq!(s.inbox_status(orphan).await.0, "received");

    let worker = InProcessWorker::start(s.engine.clone(), "poison");
    wait_status(&s.db.pool, journey, "completed", LONG).await;
    wait_status(&s.db.pool, second, "completed", LONG).await;
    worker.shutdown().await;
}

/// A webhook body whose `data.blob` makes it `depth` containers deep in all.
fn deep_webhook(id: &str, depth: usize) -> Vec<u8> {
    json!({ "event_id": id, "type": "case.note", "data": { "blob": nested(depth - 2) } })
        .to_string()
        .into_bytes()
}

#[tokio::test]
async fn the_webhook_door_refuses_what_storage_would_refuse_and_records_each_refusal() {
    let s = Stack::start().await;
    let refused: Vec<Vec<u8>> = vec![
        br#"{"event_id":"n1","type":"case.message","data":{"case_id":"c","message":"a\u0000b"}}"#
            .to_vec(),
        br#"{"event_id":"n2","type":"order.shipped","data":{"order_id":"o\u0000"}}"#.to_vec(),
        br#"{"event_id":"n3","type":"case.message","data":{"\u0000":"c"}}"#.to_vec(),
        br#"{"event_id":"n4\u0000","type":"case.message","data":{"case_id":"c"}}"#.to_vec(),
        deep_webhook("d1", MAX_DEPTH + 1),
        deep_webhook("d2", MAX_DEPTH + 2),
    ];
    for body in &refused {
        let (status, b) = s.deliver(body).await;
        assert_eq!(
            (status, b["error"]["code"].as_str()),
            (StatusCode::BAD_REQUEST, Some("malformed")),
            "{}",
            String::from_utf8_lossy(body)
        );
    }
    for depth in MAX_DEPTH - 2..=MAX_DEPTH {
        let (status, b) = s.deliver(&deep_webhook(&format!("ok{depth}"), depth)).await;
        assert_eq!(status, StatusCode::OK, "depth {depth}: {b}");
    }

    // An over-long event id still deduplicates, by its digest.
    let long_id = "e".repeat(6000);
    let body = json!({ "event_id": long_id, "type": "case.assigned", "data": { "case_id": "c" } })
        .to_string()
        .into_bytes();
    let (status, first) = s.deliver(&body).await;
    assert_eq!(status, StatusCode::OK, "{first}");
    assert!(
        first["dedup_key"]
            .as_str()
            .is_some_and(|k| k.starts_with("sha256:") && k.len() < 80),
        "{first}"
    );
    let (_, second) = s.deliver(&body).await;
    assert_eq!(second["status"], "duplicate", "{second}");

    // Too large is a rejection like any other.
    let huge = format!(r#"{{"event_id":"big","pad":"{}"}}"#, "x".repeat(300 * 1024));
    let (status, b) = s.deliver(huge.as_bytes()).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE, "{b}");

    let codes: Vec<i32> =
        sqlx::query_scalar("SELECT status_code FROM carepath.webhook_rejections ORDER BY id")
            .fetch_all(&s.db.pool)
            .await
            .expect("rejections");
    let mut expected = vec![400; refused.len()];
    expected.push(413);
    assert_eq!(codes, expected);
    let (status, page) = s
        .call(
            Method::GET,
            "/v1/inbox/rejections?limit=100",
            &s.operator,
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{page}");
    assert_eq!(page["items"].as_array().map(Vec::len), Some(expected.len()));
    // The 413 is recorded by its declared size (its body was never read).
    assert_eq!(page["items"][0]["status_code"], 413, "{page}");
    assert!(
        page["items"][0]["body_bytes"].as_i64() > Some(300 * 1024),
        "{page}"
    );
    // Numbered events deduplicate by their number.
    let numbered = br#"{"event_id":12345,"type":"case.assigned","data":{"case_id":"c"}}"#;
    let (_, first) = s.deliver(numbered).await;
    assert_eq!(first["dedup_key"], "12345", "{first}");
    let again = br#"{"event_id": 12345, "type": "case.assigned", "data": {"case_id": "c"}}"#;
    let (_, second) = s.deliver(again).await;
    assert_eq!(second["status"], "duplicate", "{second}");
    // Stored: the three at the depth limit, the long id and the numbered one, once each.
    assert_eq!(
        count(&s.db.pool, "SELECT count(*) FROM carepath.webhook_inbox").await,
        5
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn what_the_api_accepts_can_be_read_back() {
    let s = Stack::start().await;
    let worker = InProcessWorker::start(s.engine.clone(), "depth");
    let (status, j) = s
        .call(
            Method::POST,
            "/v1/journeys",
            &s.product,
            Some(json!({ "workflow": "waiter", "idempotency_key": "w1", "input": {} })),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{j}");
    let id = j["id"].as_str().expect("id").to_owned();
    // Signal bodies `depth` containers deep: {"event_id", "payload": [[...]]}.
    let signal = |depth: usize, n: usize| {
        json!({ "event_id": format!("e{depth}-{n}"), "payload": nested(depth - 1) }).to_string()
    };
    for depth in [MAX_DEPTH + 1, MAX_DEPTH + 2, 126] {
        let body = if depth > 120 {
            // Past serde_json's own writer depth: written by hand.
            format!(
                r#"{{"event_id":"deep","payload":{}"x"{}}}"#,
                "[".repeat(depth - 1),
                "]".repeat(depth - 1)
            )
        } else {
            signal(depth, 0)
        };
        let (status, b) = s
            .post_raw(&format!("/v1/journeys/{id}/signals/go"), &s.product, body)
            .await;
        assert_eq!(
            status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "depth {depth}: {b}"
        );
        assert!(
            b["error"]["fields"][0]["path"]
                .as_str()
                .is_some_and(|p| p.starts_with("payload")),
            "{b}"
        );
    }
    assert_eq!(
        count(&s.db.pool, "SELECT count(*) FROM carepath.signals").await,
        0
    );
    for depth in MAX_DEPTH - 2..=MAX_DEPTH {
        let journey = s.start_journey("waiter", &format!("at-{depth}")).await;
        let (status, b) = s
            .post_raw(
                &format!("/v1/journeys/{journey}/signals/go"),
                &s.product,
                signal(depth, 1),
            )
            .await;
        assert_eq!(status, StatusCode::ACCEPTED, "depth {depth}: {b}");
        wait_status(&s.db.pool, journey, "completed", LONG).await;
        let (status, j) = s
            .call(
                Method::GET,
                &format!("/v1/journeys/{journey}"),
                &s.product,
                None,
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{j}");
        assert!(j["output"]["got"].is_array(), "{j}");
    }
    // Start requests too.
    let (status, b) = s
        .call(
            Method::POST,
            "/v1/journeys",
            &s.product,
            Some(json!({ "workflow": "waiter", "idempotency_key": "w2",
                         "input": { "a": nested(MAX_DEPTH) } })),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{b}");
    assert!(
        b["error"]["fields"][0]["path"]
            .as_str()
            .is_some_and(|p| p.starts_with("input.a")),
        "{b}"
    );

    // A step whose output could not be read back fails its journey visibly.
    let deep = s.start_journey("deep_step", "d1").await;
    wait_status(&s.db.pool, deep, "failed", LONG).await;
    let error = last_error(&s.db.pool, deep).await;
    assert!(error.contains("cannot be recorded"), "{error}");
    worker.shutdown().await;
}

async fn last_error(pool: &sqlx::PgPool, id: Uuid) -> String {
    sqlx::query_scalar::<_, Option<String>>(
        "SELECT last_error FROM carepath.journeys WHERE id = $1",
    )
    .bind(id)
    .fetch_one(pool)
    .await
    .expect("journey")
    .unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_journey_whose_recorded_data_cannot_be_read_fails_visibly_instead_of_looping() {
    let s = Stack::start().await;
    let worker = InProcessWorker::start(s.engine.clone(), "unreadable");
    // Recorded values written before the door refused them: one in a step's
    // output, one in the journey's input.
    let deep_text = format!("{}1{}", "[".repeat(130), "]".repeat(130));
    let by_output = s.start_journey("waiter", "u1").await;
    wait_waiting(&s.db.pool, by_output).await;
    let written = sqlx::query(
        "UPDATE carepath.journey_steps SET status = 'completed', output = $2::jsonb
          WHERE journey_id = $1 AND key = 'signal:go'",
    )
    .bind(by_output)
    .bind(format!(r#"{{"signal":{{"payload":{deep_text}}}}}"#))
    .execute(&s.db.pool)
    .await
    .expect("write an unreadable output")
    .rows_affected();
    assert_eq!(written, 1);
    let by_input = s.start_journey("waiter", "u2").await;
    wait_waiting(&s.db.pool, by_input).await;
    sqlx::query("UPDATE carepath.journeys SET input = $2::jsonb WHERE id = $1")
        .bind(by_input)
        .bind(format!(r#"{{"a":{deep_text}}}"#))
        .execute(&s.db.pool)
        .await
        .expect("write an unreadable input");
    for id in [by_output, by_input] {
        s.engine
            .signal(id, "go", "api", "wake", &json!(1), &Actor::new("test"))
            .await
            .expect("signal");
        wait_status(&s.db.pool, id, "failed", LONG).await;
        let error = last_error(&s.db.pool, id).await;
        assert!(error.contains("cannot be read"), "{error}");
    }
    worker.shutdown().await;
}

async fn wait_waiting(pool: &sqlx::PgPool, id: Uuid) {
    wait_status(pool, id, "waiting", LONG).await;
}

#[tokio::test]
async fn path_parameters_with_nul_or_past_any_stored_length_name_nothing() {
    let s = Stack::start().await;
    let id = s.start_journey("waiter", "p1").await;
    let long = "n".repeat(300);
    let cases: Vec<(Method, String, &str, Option<Value>)> = vec![
        (Method::DELETE, "/v1/tokens/a%00b".into(), &s.admin, None),
        (Method::DELETE, format!("/v1/tokens/{long}"), &s.admin, None),
        (
            Method::POST,
            "/v1/vendors/clin%00ical/pause".into(),
            &s.operator,
            Some(json!({ "reason": "r" })),
        ),
        (
            Method::POST,
            format!("/v1/journeys/{id}/signals/g%00o"),
            &s.product,
            Some(json!({ "event_id": "e", "payload": 1 })),
        ),
        (
            Method::POST,
            format!("/v1/journeys/{id}/signals/{long}"),
            &s.product,
            Some(json!({ "event_id": "e", "payload": 1 })),
        ),
        (
            Method::POST,
            "/v1/inbox/1%00/replay".into(),
            &s.operator,
            Some(json!({ "reason": "r" })),
        ),
    ];
    for (method, path, token, body) in cases {
        let (status, b) = s.call(method, &path, token, body).await;
        assert_eq!(
            (status, b["error"]["code"].as_str()),
            (StatusCode::NOT_FOUND, Some("not_found")),
            "{path}: {b}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_signal_the_workflow_does_not_receive_is_refused_not_stored() {
    let s = Stack::start().await;
    let id = s.start_journey("waiter", "s1").await;
    for name in ["patient_responce", "Go", "go2"] {
        let (status, b) = s
            .call(
                Method::POST,
                &format!("/v1/journeys/{id}/signals/{name}"),
                &s.product,
                Some(json!({ "event_id": format!("e-{name}"), "payload": {} })),
            )
            .await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{name}: {b}");
        assert_eq!(b["error"]["fields"][0]["path"], "name", "{b}");
        assert!(
            b["error"]["message"]
                .as_str()
                .is_some_and(|m| m.ends_with("it receives go")),
            "{b}"
        );
    }
    assert_eq!(
        count(&s.db.pool, "SELECT count(*) FROM carepath.signals").await,
        0
    );

    // From the inbox: an event about the journey's case that its workflow
    // does not receive is ignored, visibly, and stores no signal.
    let journey = s.start_journey("await_case", "s2").await;
    refs::link(&s.db.pool, journey, "clinical", "case", "case_9")
        .await
        .expect("link");
    let body =
        json!({ "event_id": "o1", "type": "order.created", "data": { "case_id": "case_9" } })
            .to_string()
            .into_bytes();
    let row = s.store_raw("o1", "order.created", &body).await;
    let report = s.engine.route_inbox_once(10).await.expect("route");
    assert_eq!(report.ignored, 1, "{report:?}");
    let (status, note) = s.inbox_status(row).await;
    assert_eq!(status, "ignored");
    assert!(
        note.as_deref()
            .is_some_and(|n| n.contains("clinical.order")),
        "{note:?}"
    );
    assert_eq!(
        count(&s.db.pool, "SELECT count(*) FROM carepath.signals").await,
        0
    );
}

#[tokio::test]
async fn an_idempotency_key_names_one_request_of_one_workflow() {
    let s = Stack::start().await;
    let start = |workflow: &str, input: &str| {
        format!(r#"{{"workflow":"{workflow}","idempotency_key":"intake-7","input":{input}}}"#)
    };
    let (status, first) = s
        .post_raw(
            "/v1/journeys",
            &s.product,
            start("waiter", r#"{"patient":"p-1","offering":"glp1"}"#),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{first}");
    // The same request, spelled differently: the same journey.
    let (status, again) = s
        .post_raw(
            "/v1/journeys",
            &s.product,
            start("waiter", r#"{ "offering" : "glp1", "patient" : "p-1" }"#),
        )
        .await;
    assert_eq!((status, &again["id"]), (StatusCode::OK, &first["id"]));
    // Another request under the same key: refused, and nothing of the first.
    let id = first["id"].as_str().expect("id");
    for other in [
        r#"{"patient":"p-2","offering":"glp1"}"#,
        r#"{"patient":"p-1"}"#,
        r#"{}"#,
    ] {
        let (status, b) = s
            .post_raw("/v1/journeys", &s.product, start("waiter", other))
            .await;
        assert_eq!(
            (status, b["error"]["code"].as_str()),
            (StatusCode::CONFLICT, Some("idempotency_key_reused")),
            "{b}"
        );
        assert!(!b.to_string().contains(id), "{b}");
        assert!(!b.to_string().contains("waiting"), "{b}");
    }
    // Keys are scoped to their workflow.
    let (status, other) = s
        .post_raw(
            "/v1/journeys",
            &s.product,
            start("await_case", r#"{"patient":"p-1","offering":"glp1"}"#),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{other}");
    assert_ne!(other["id"], first["id"]);
}

#[tokio::test]
async fn operators_list_skip_and_replay_inbox_entries_with_a_reason() {
    let s = Stack::start().await;
    let poison = s
        .store_raw(
            "bad",
            "case.message",
            br#"{"event_id":"bad","type":"case.message","data":{"case_id":"c","m":"\u0000"}}"#,
        )
        .await;
    let orphan_body =
        json!({ "event_id": "orphan", "type": "case.assigned", "data": { "case_id": "nobody" } })
            .to_string()
            .into_bytes();
    let orphan = s.store_raw("orphan", "case.assigned", &orphan_body).await;
    sqlx::query("UPDATE carepath.webhook_inbox SET received_at = now() - interval '1 hour'")
        .execute(&s.db.pool)
        .await
        .expect("age the rows past the grace");
    s.engine.route_inbox_once(10).await.expect("route");

    let (status, page) = s
        .call(Method::GET, "/v1/inbox?status=parked", &s.operator, None)
        .await;
    assert_eq!(status, StatusCode::OK, "{page}");
    assert_eq!(page["items"][0]["id"], poison);
    assert!(
        page["items"][0]["note"]
            .as_str()
            .is_some_and(|n| n.contains("NUL")),
        "{page}"
    );
    let (status, b) = s
        .call(Method::GET, "/v1/inbox?status=stuck", &s.operator, None)
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{b}");
    let (status, _) = s
        .call(Method::GET, "/v1/inbox?status=parked", &s.product, None)
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);

    // Park the unmatched one; a reason is required.
    let (status, b) = s
        .call(
            Method::POST,
            &format!("/v1/inbox/{orphan}/skip"),
            &s.operator,
            Some(json!({ "reason": " " })),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{b}");
    let (status, b) = s
        .call(
            Method::POST,
            &format!("/v1/inbox/{orphan}/skip"),
            &s.operator,
            Some(json!({ "reason": "test event from the vendor's staging" })),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{b}");
    assert_eq!(b["status"], "skipped");
    assert!(
        b["note"]
            .as_str()
            .is_some_and(|n| n.contains("ops-alice") && n.contains("staging")),
        "{b}"
    );

    // Replay both, and one that does not exist.
    let (status, b) = s
        .call(
            Method::POST,
            "/v1/inbox/replay",
            &s.operator,
            Some(json!({ "ids": [poison, orphan, 999_999], "reason": "after the fix" })),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{b}");
    assert_eq!(b["done"], json!([poison, orphan]));
    assert_eq!(b["not_done"], json!([999_999]));
    assert_eq!(s.inbox_status(orphan).await.0, "received");
    // A row waiting to be routed is not replayed again.
    let (status, b) = s
        .call(
            Method::POST,
            &format!("/v1/inbox/{orphan}/replay"),
            &s.operator,
            Some(json!({ "reason": "again" })),
        )
        .await;
    assert_eq!(status, StatusCode::CONFLICT, "{b}");

    // Routed again: the poison is parked again, the rest is unaffected.
    s.engine.route_inbox_once(10).await.expect("route again");
    assert_eq!(s.inbox_status(poison).await.0, "parked");

    let audited: Vec<(String, String, String)> = sqlx::query_as(
        "SELECT actor, action, detail->>'reason' FROM carepath.operator_audit
          WHERE action LIKE 'inbox_%' ORDER BY id",
    )
    .fetch_all(&s.db.pool)
    .await
    .expect("audit");
    assert_eq!(
        audited,
        vec![
            (
                "token:ops-alice".to_owned(),
                "inbox_skip".to_owned(),
                "test event from the vendor's staging".to_owned()
            ),
            (
                "token:ops-alice".to_owned(),
                "inbox_replay".to_owned(),
                "after the fix".to_owned()
            ),
        ]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_operators_skip_during_a_routing_pass_is_never_overwritten_by_it() {
    let s = Stack::start().await;
    let journey = s.start_journey("await_case", "race").await;
    refs::link(&s.db.pool, journey, "clinical", "case", "case_r")
        .await
        .expect("link");
    let event = |id: &str, case: &str| {
        json!({ "event_id": id, "type": "case.assigned", "data": { "case_id": case } })
            .to_string()
            .into_bytes()
    };
    s.store_raw("r1", "case.assigned", &event("r1", "case_r"))
        .await;
    let second = s
        .store_raw("r2", "case.assigned", &event("r2", "case_r"))
        .await;

    // Hold the journey's row, so the pass stops inside its first event with
    // the batch's rows in hand.
    let mut holder = s.db.pool.begin().await.expect("begin");
    sqlx::query("SELECT 1 FROM carepath.journeys WHERE id = $1 FOR UPDATE")
        .bind(journey)
        .execute(&mut *holder)
        .await
        .expect("lock the journey");
    let pass = {
        let engine = s.engine.clone();
        tokio::spawn(async move { engine.route_inbox_once(10).await })
    };
    let pool = s.db.pool.clone();
    wait_for("the pass to wait on the journey", LONG, || {
        let pool = pool.clone();
        async move {
            let waiting: i64 = sqlx::query_scalar(
                "SELECT count(*) FROM pg_stat_activity
                  WHERE wait_event_type = 'Lock' AND query LIKE '%FROM carepath.journeys%FOR UPDATE%'",
            )
            .fetch_one(&pool)
            .await
            .ok()?;
            (waiting > 0).then_some(())
        }
    })
    .await;
    // The operator sets the second event aside while the pass holds it.
    let skip = {
        let (http, url, token) = (s.http.clone(), s.url.clone(), s.operator.clone());
        tokio::spawn(async move {
            let resp = http
                .post(format!("{url}/v1/inbox/{second}/skip"))
                .bearer_auth(token)
                .json(&json!({ "reason": "looks like a test event" }))
                .send()
                .await
                .expect("skip");
            resp.status()
        })
    };
    holder.rollback().await.expect("release the journey");
    let report = pass.await.expect("join").expect("pass");
    let answered = skip.await.expect("join");
    // Whichever came first, the answer and the row agree: the pass applied it
    // and the skip was refused, or the skip won and the row stays skipped.
    let (status, _) = s.inbox_status(second).await;
    match answered {
        StatusCode::CONFLICT => {
            assert_eq!(
                (status.as_str(), report.applied),
                ("applied", 2),
                "{report:?}"
            )
        }
        StatusCode::OK => assert_eq!(status, "skipped", "{report:?}"),
        other => panic!("skip answered {other}"),
    }
}

/// Events about several cases, delivered interleaved through the door and
/// routed by four routers at once: they spread over the inbox's partitions,
/// and each journey's signals are recorded in the order its events arrived.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn routers_side_by_side_keep_each_cases_events_in_arrival_order() {
    let s = Stack::start().await;
    let mut journeys = Vec::new();
    for j in 0..8 {
        let id = s.start_journey("await_case", &format!("order-{j}")).await;
        refs::link(&s.db.pool, id, "clinical", "case", &format!("case_o{j}"))
            .await
            .expect("link");
        journeys.push(id);
    }
    for n in 0..12 {
        for j in 0..8 {
            let body = json!({ "event_id": format!("e-{j}-{n:02}"), "type": "case.message",
                               "data": { "case_id": format!("case_o{j}"), "n": n } });
            let (status, _) = s.deliver(body.to_string().as_bytes()).await;
            assert_eq!(status, StatusCode::OK);
        }
    }
    let partitions: i64 =
        sqlx::query_scalar("SELECT count(DISTINCT route_partition) FROM carepath.webhook_inbox")
            .fetch_one(&s.db.pool)
            .await
            .expect("partitions");
    assert!(partitions > 1, "the cases spread over the partitions");

    let routers: Vec<_> = (0..4_i16)
        .map(|i| {
            let engine = s.engine.clone();
            tokio::spawn(async move {
                // Small batches, so the routers interleave.
                loop {
                    let mut handled = 0;
                    for partition in (i..8).step_by(4) {
                        let r = engine.route_partition_once(partition, 3).await?;
                        handled += r.handled();
                    }
                    if handled == 0 {
                        return Ok::<_, carepath_workflows::EngineError>(());
                    }
                }
            })
        })
        .collect();
    for router in routers {
        router.await.expect("router task").expect("routing");
    }
    for (j, id) in journeys.iter().enumerate() {
        let events = s.signals_of(*id).await;
        let arrived: Vec<String> = (0..12).map(|n| format!("e-{j}-{n:02}")).collect();
        assert_eq!(events, arrived, "journey {j}");
    }
}

/// An event is routed in the partition of the journey that owns what it
/// names, whichever of its resources that is; an event stored without a
/// partition (by an older build) is routed before any partition's, and
/// while a router of such a build holds the whole inbox, or another router
/// a partition, that partition waits.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_event_goes_to_its_journeys_partition_and_older_builds_events_go_first() {
    let s = Stack::start().await;
    let id = s.start_journey("await_case", "parts").await;
    refs::link(&s.db.pool, id, "clinical", "case", "case_pa")
        .await
        .expect("link case");
    refs::link(&s.db.pool, id, "clinical", "patient", "pat_pa")
        .await
        .expect("link patient");
    for (event_id, data) in [
        ("p-1", json!({ "case_id": "case_pa" })),
        // Its first resource is no journey's; its patient is this journey's.
        (
            "p-2",
            json!({ "case_id": "case_unknown", "patient_id": "pat_pa" }),
        ),
    ] {
        let body = json!({ "event_id": event_id, "type": "case.message", "data": data });
        assert_eq!(
            s.deliver(body.to_string().as_bytes()).await.0,
            StatusCode::OK
        );
    }
    let partitions: Vec<Option<i16>> = sqlx::query_scalar(
        "SELECT route_partition FROM carepath.webhook_inbox WHERE dedup_key LIKE 'p-%' ORDER BY id",
    )
    .fetch_all(&s.db.pool)
    .await
    .expect("partitions");
    let theirs = carepath_workflows::engine::webhook_source::journey_partition(id);
    assert_eq!(partitions, [Some(theirs), Some(theirs)]);

    // An older build stored one more, without a partition, after them.
    let legacy =
        json!({ "event_id": "p-0", "type": "case.message", "data": { "case_id": "case_pa" } });
    s.store_raw("p-0", "case.message", legacy.to_string().as_bytes())
        .await;
    let blocked = s
        .engine
        .route_partition_once(theirs, 10)
        .await
        .expect("partition pass");
    assert_eq!(blocked.handled(), 0, "the partition waits: {blocked:?}");
    // A router of an older build holds the whole inbox: nothing is routed.
    let mut old_router = s.db.pool.begin().await.expect("begin");
    sqlx::query("SELECT pg_advisory_xact_lock(hashtext('carepath.inbox'))")
        .execute(&mut *old_router)
        .await
        .expect("old lock");
    let none = s.engine.route_unpartitioned_once(10).await.expect("pass");
    assert_eq!(none.handled(), 0, "{none:?}");
    old_router.rollback().await.expect("rollback");
    let first = s.engine.route_unpartitioned_once(10).await.expect("pass");
    assert_eq!(first.applied, 1, "{first:?}");
    // Another router holds the partition: this one passes it by.
    let mut rival = s.db.pool.begin().await.expect("begin");
    sqlx::query("SELECT pg_advisory_xact_lock(hashtext('carepath.inbox.partition'), $1)")
        .bind(i32::from(theirs))
        .execute(&mut *rival)
        .await
        .expect("rival lock");
    let passed = s
        .engine
        .route_partition_once(theirs, 10)
        .await
        .expect("pass");
    assert_eq!(passed.handled(), 0, "{passed:?}");
    rival.rollback().await.expect("rollback");
    let rest = s
        .engine
        .route_partition_once(theirs, 10)
        .await
        .expect("pass");
    assert_eq!(rest.applied, 2, "{rest:?}");
    let events = s.signals_of(id).await;
    assert_eq!(events, ["p-0", "p-1", "p-2"]);
}
