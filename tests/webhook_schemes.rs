//! Each vendor's webhooks as its profile configures them, over real HTTP
//! against a real PostgreSQL: a hex HMAC in a header of the vendor's
//! choosing, Standard Webhooks (signed here by the spec authors' crate), and
//! a vendor that gives no event id. A good delivery is stored under the
//! right key, once, and routed to its journey; a bad or stale one is a 401,
//! recorded as a rejection.

mod support;

use std::time::Duration;

use async_trait::async_trait;
use carepath_activities::VendorsConfig;
use carepath_activities::webhook_signature::{self, Secrets, hmac_hex, standard};
use carepath_workflows::engine::webhook_source::{self, NoHeaders};
use carepath_workflows::store::refs;
use carepath_workflows::webhooks::{self, CASE, signals::CLINICAL_CASE};
use carepath_workflows::{Actor, Engine, JourneyCtx, Registry, Workflow, WorkflowError};
use reqwest::StatusCode;
use serde_json::{Value, json};
use support::*;
use uuid::Uuid;

const LONG: Duration = Duration::from_secs(30);
const STANDARD_SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

/// Waits for the clinical network's word on its case.
struct AwaitCase;

#[async_trait]
impl Workflow for AwaitCase {
    fn signals(&self) -> &[&str] {
        &[CLINICAL_CASE]
    }

    async fn run(&self, ctx: &mut JourneyCtx, _input: Value) -> Result<Value, WorkflowError> {
        let event = ctx.wait_signal(CLINICAL_CASE, None).await?;
        Ok(json!({ "event": event }))
    }
}

/// The API, its webhook door configured by a vendor profile file, and an
/// engine that routes what it stores.
struct Door {
    db: TestDb,
    engine: Engine,
    url: String,
    http: reqwest::Client,
}

impl Door {
    /// `profiles` is the `[vendors.*]` part of a configuration file.
    async fn start(profiles: &str, secrets: Secrets) -> Self {
        let db = fresh_db().await;
        let vendors = VendorsConfig::from_toml(profiles).expect("vendor profiles");
        let sources = webhooks::sources(&vendors, &secrets).expect("webhook sources");
        let engine = Engine::new(
            db.pool.clone(),
            Registry::new().with("await_case", 1, AwaitCase),
            test_engine_config(),
        )
        .with_webhook_sources(sources);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind the API");
        let url = format!("http://{}", listener.local_addr().expect("address"));
        serve_api_with(listener, engine.clone(), vendors);
        Self {
            db,
            engine,
            url,
            http: reqwest::Client::new(),
        }
    }

    /// A journey that owns clinical case `case`.
    async fn journey_for(&self, case: &str) -> Uuid {
        let journey = self
            .engine
            .start("await_case", case, json!({}), &Actor::new("test"))
            .await
            .expect("start")
            .journey
            .id;
        refs::link(&self.db.pool, journey, "clinical", CASE, case)
            .await
            .expect("link the case");
        journey
    }

    async fn deliver(
        &self,
        vendor: &str,
        body: &[u8],
        headers: &[(&str, &str)],
    ) -> (StatusCode, Value) {
        let mut req = self
            .http
            .post(format!("{}/webhooks/{vendor}", self.url))
            .header("content-type", "application/json")
            .body(body.to_vec());
        for (name, value) in headers {
            req = req.header(*name, *value);
        }
        let resp = req.send().await.expect("deliver");
        let status = resp.status();
        (status, resp.json().await.unwrap_or(Value::Null))
    }

    /// The rejections recorded, oldest first: (status, reason).
    async fn rejections(&self) -> Vec<(i32, String)> {
        sqlx::query_as("SELECT status_code, reason FROM carepath.webhook_rejections ORDER BY id")
            .fetch_all(&self.db.pool)
            .await
            .expect("rejections")
    }

    /// The event a journey completed with.
    async fn routed(&self, journey: Uuid) -> Value {
        wait_status(&self.db.pool, journey, "completed", LONG).await;
        let out: Value = sqlx::query_scalar("SELECT output FROM carepath.journeys WHERE id = $1")
            .bind(journey)
            .fetch_one(&self.db.pool)
            .await
            .expect("output");
        out["event"].clone()
    }
}

/// A `[vendors.clinical]` profile with `webhooks`.
fn clinical(webhooks: &str) -> String {
    format!(
        "[vendors.clinical]\nbase_url = \"http://127.0.0.1:8090/clinical\"\n\
         auth = {{ kind = \"api_key\", header = \"x-api-key\", key_env = \"K\" }}\n\
         webhooks = {webhooks}\n"
    )
}

fn event(id: Option<&str>, kind: &str, case: &str) -> Vec<u8> {
    let mut event =
        json!({ "type": kind, "occurred_at": "2026-11-23T10:00:00Z", "data": { "case_id": case } });
    if let Some(id) = id {
        event["event_id"] = json!(id);
    }
    event.to_string().into_bytes()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hex_hmac_in_the_vendors_header_is_verified_stored_once_and_routed() {
    let door = Door::start(
        &clinical(r#"{ scheme = "hmac_hex", header = "X-Signature" }"#),
        Secrets::default().with("clinical", &["hex-secret", "hex-old"]),
    )
    .await;
    let journey = door.journey_for("case_h1").await;
    let worker = InProcessWorker::start(door.engine.clone(), "hmac-hex");
    let body = event(Some("evt_h1"), "case.approved", "case_h1");

    let forged = hmac_hex::sign(b"forged", &body);
    let other_scheme =
        webhook_signature::sign(b"hex-secret", chrono::Utc::now().timestamp(), &body);
    for headers in [
        vec![("X-Signature", forged.as_str())],
        vec![],
        vec![(webhook_signature::HEADER, other_scheme.as_str())],
    ] {
        let (status, b) = door.deliver("clinical", &body, &headers).await;
        assert_eq!(
            (status, b["error"]["code"].as_str()),
            (StatusCode::UNAUTHORIZED, Some("unauthorized")),
            "{headers:?}: {b}"
        );
    }

    let good = hmac_hex::sign(b"hex-secret", &body);
    let (status, b) = door
        .deliver("clinical", &body, &[("X-Signature", &good)])
        .await;
    assert_eq!(
        (status, &b["status"], &b["dedup_key"]),
        (StatusCode::OK, &json!("stored"), &json!("evt_h1")),
        "{b}"
    );
    // Redelivered, signed with the secret being rotated out, GitHub-style.
    let old = format!("sha256={}", hmac_hex::sign(b"hex-old", &body));
    let (status, b) = door
        .deliver("clinical", &body, &[("x-signature", &old)])
        .await;
    assert_eq!(
        (status, &b["status"]),
        (StatusCode::OK, &json!("duplicate")),
        "{b}"
    );

    assert_eq!(door.routed(journey).await["type"], "case.approved");
    worker.shutdown().await;
    let rejected = door.rejections().await;
    assert_eq!(
        rejected,
        vec![(401, "signature missing or invalid".to_owned()); 3]
    );
    let kept: Value = sqlx::query_scalar("SELECT headers FROM carepath.webhook_inbox")
        .fetch_one(&door.db.pool)
        .await
        .expect("stored headers");
    assert_eq!(kept["x-signature"], json!(good), "{kept}");
}

/// Standard Webhooks headers for `body`, as message `id` signed at `at`
/// (Unix seconds) with `secret`, by the spec authors' own crate.
fn standard_headers(secret: &str, id: &str, at: i64, body: &[u8]) -> [(&'static str, String); 3] {
    let signature = standard::sign(secret, id, at, body).expect("sign");
    [
        (standard::HEADER_WEBHOOK_ID, id.to_owned()),
        (standard::HEADER_WEBHOOK_TIMESTAMP, at.to_string()),
        (standard::HEADER_WEBHOOK_SIGNATURE, signature),
    ]
}

fn pairs<'a>(headers: &'a [(&'static str, String)]) -> Vec<(&'static str, &'a str)> {
    headers.iter().map(|(n, v)| (*n, v.as_str())).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn standard_webhooks_are_keyed_by_their_id_and_held_to_the_vendors_tolerance() {
    let door = Door::start(
        &clinical(r#"{ scheme = "standard", tolerance_secs = 120 }"#),
        Secrets::default().with("clinical", &[STANDARD_SECRET]),
    )
    .await;
    let journey = door.journey_for("case_s1").await;
    let worker = InProcessWorker::start(door.engine.clone(), "standard");
    // Standard Webhooks events carry no event id of their own: the
    // message's webhook-id names them.
    let body = event(None, "case.approved", "case_s1");
    let now = chrono::Utc::now().timestamp();

    let stale = standard_headers(STANDARD_SECRET, "msg_s1", now - 200, &body);
    let (status, b) = door.deliver("clinical", &body, &pairs(&stale)).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{b}");
    assert!(
        b["error"]["message"]
            .as_str()
            .is_some_and(|m| m.contains("tolerance")),
        "{b}"
    );
    let other = "whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD";
    let forged = standard_headers(other, "msg_s1", now, &body);
    let (status, _) = door.deliver("clinical", &body, &pairs(&forged)).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let good = standard_headers(STANDARD_SECRET, "msg_s1", now, &body);
    let (status, _) = door.deliver("clinical", &body, &pairs(&good)[1..]).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "without its webhook-id");

    let (status, b) = door.deliver("clinical", &body, &pairs(&good)).await;
    assert_eq!(
        (status, &b["status"], &b["dedup_key"]),
        (StatusCode::OK, &json!("stored"), &json!("msg_s1")),
        "{b}"
    );
    // The vendor's retry: the same message, signed anew a minute later.
    let retry = standard_headers(STANDARD_SECRET, "msg_s1", now + 60, &body);
    let (status, b) = door.deliver("clinical", &body, &pairs(&retry)).await;
    assert_eq!(
        (status, &b["status"]),
        (StatusCode::OK, &json!("duplicate")),
        "{b}"
    );

    assert_eq!(door.routed(journey).await["data"]["case_id"], "case_s1");
    worker.shutdown().await;
    let codes: Vec<i32> = door.rejections().await.iter().map(|r| r.0).collect();
    assert_eq!(codes, [401, 401, 401]);
    assert_eq!(
        count(&door.db.pool, "SELECT count(*) FROM carepath.signals").await,
        1
    );
}

#[tokio::test]
async fn a_vendor_without_event_ids_gets_the_same_key_for_the_same_body_either_way() {
    let pharmacy = "[vendors.pharmacy]\nbase_url = \"http://127.0.0.1:8090/pharmacy\"\n\
        auth = { kind = \"api_key\", header = \"x-api-key\", key_env = \"K\" }\n\
        webhooks = { event_id = \"/meta/id\" }\n";
    let door = Door::start(pharmacy, Secrets::for_all(&["test-secret"])).await;
    let signed =
        |body: &[u8]| webhook_signature::sign(b"test-secret", chrono::Utc::now().timestamp(), body);
    let no_id = br#"{"type":"order.shipped","data":{"order_id":"o1"}}"#;
    let by_body = webhook_source::dedup_key(None, no_id);
    for expected in ["stored", "duplicate"] {
        let signature = signed(no_id);
        let (status, b) = door
            .deliver(
                "clinical",
                no_id,
                &[(webhook_signature::HEADER, &signature)],
            )
            .await;
        assert_eq!(
            (status, &b["status"], &b["dedup_key"]),
            (StatusCode::OK, &json!(expected), &json!(by_body)),
            "{b}"
        );
    }
    // The pharmacy names its ids at /meta/id; the same body read from its
    // feed (no headers) is keyed the same way.
    let numbered = br#"{"type":"order.filled","meta":{"id":77},"data":{"order_id":"o1"}}"#;
    let signature = signed(numbered);
    let (_, b) = door
        .deliver(
            "pharmacy",
            numbered,
            &[(webhook_signature::HEADER, &signature)],
        )
        .await;
    assert_eq!(b["dedup_key"], "77", "{b}");
    let sources = door.engine.webhook_sources();
    let feed_key = |vendor: &str, body: &[u8]| {
        let item: Value = serde_json::from_slice(body).expect("JSON");
        sources
            .get(vendor)
            .map(|s| s.dedup_key(&NoHeaders, &item, body))
    };
    assert_eq!(feed_key("pharmacy", numbered).as_deref(), Some("77"));
    assert_eq!(feed_key("clinical", no_id), Some(by_body.clone()));
    // Without one there, the pharmacy's events are keyed by their bodies too.
    let (_, b) = door
        .deliver(
            "pharmacy",
            no_id,
            &[(webhook_signature::HEADER, &signed(no_id))],
        )
        .await;
    assert_eq!(b["dedup_key"], json!(by_body), "{b}");
    assert_eq!(
        count(&door.db.pool, "SELECT count(*) FROM carepath.webhook_inbox").await,
        3
    );
}
