//! The webhook inbox over real HTTP against a real PostgreSQL: verification
//! and rejections, storage before acknowledgement, exactly-once application,
//! parking and replay of unmatched events, and the sandbox's clinicians
//! driving a journey through it.

mod support;

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use carepath_activities::VendorsConfig;
use carepath_activities::webhook_signature;
use carepath_api::auth::{Role, create_token};
use carepath_sandbox::{SandboxConfig, SandboxSettings};
use carepath_workflows::store::refs;
use carepath_workflows::{Actor, Engine, JourneyCtx, Registry, Workflow, WorkflowError, builtin};
use reqwest::StatusCode;
use serde_json::{Value, json};
use support::*;

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

struct Inbox {
    url: String,
    http: reqwest::Client,
}

impl Inbox {
    async fn start(engine: Engine) -> Self {
        let url = serve_api(engine, VendorsConfig::default()).await;
        Self {
            url,
            http: reqwest::Client::new(),
        }
    }

    async fn deliver(
        &self,
        vendor: &str,
        body: &[u8],
        signature: Option<String>,
    ) -> (StatusCode, Value) {
        let mut req = self
            .http
            .post(format!("{}/webhooks/{vendor}", self.url))
            .header("content-type", "application/json")
            .body(body.to_vec());
        if let Some(s) = signature {
            req = req.header(webhook_signature::HEADER, s);
        }
        let resp = req.send().await.expect("deliver");
        let status = resp.status();
        (status, resp.json().await.unwrap_or(Value::Null))
    }
}

fn signed(secret: &str, body: &[u8]) -> Option<String> {
    Some(webhook_signature::sign(
        secret.as_bytes(),
        chrono::Utc::now().timestamp(),
        body,
    ))
}

fn event(id: &str, kind: &str, case: &str) -> Vec<u8> {
    json!({ "event_id": id, "type": kind, "occurred_at": "2026-11-23T10:00:00Z", "data": { "case_id": case } })
        .to_string()
        .into_bytes()
}

#[tokio::test]
async fn bad_webhooks_are_refused_and_recorded_and_good_ones_stored() {
    let db = fresh_db().await;
    let inbox = Inbox::start(engine(&db.pool, Registry::new())).await;
    let body = event("evt_1", "case.assigned", "case_1");

    let (s, b) = inbox
        .deliver("clinical", &body, signed("forged", &body))
        .await;
    assert_eq!(
        (s, b["error"]["code"].as_str()),
        (StatusCode::UNAUTHORIZED, Some("unauthorized"))
    );
    let stale =
        webhook_signature::sign(b"test-secret", chrono::Utc::now().timestamp() - 3600, &body);
    let (s, b) = inbox.deliver("clinical", &body, Some(stale)).await;
    assert_eq!(s, StatusCode::UNAUTHORIZED, "{b}");
    assert!(
        b["error"]["message"]
            .as_str()
            .unwrap_or_default()
            .contains("tolerance"),
        "{b}"
    );
    let garbage = b"{not json".to_vec();
    let (s, _) = inbox
        .deliver("clinical", &garbage, signed("test-secret", &garbage))
        .await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    let (s, _) = inbox.deliver("clinical", &body, None).await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
    let (s, _) = inbox
        .deliver("bank", &body, signed("test-secret", &body))
        .await;
    assert_eq!(s, StatusCode::NOT_FOUND);

    let rejected: Vec<(i32, String)> =
        sqlx::query_as("SELECT status_code, reason FROM carepath.webhook_rejections ORDER BY id")
            .fetch_all(&db.pool)
            .await
            .expect("rejections");
    let codes: Vec<i32> = rejected.iter().map(|r| r.0).collect();
    assert_eq!(codes, vec![401, 401, 400, 401], "{rejected:?}");
    assert_eq!(
        count(&db.pool, "SELECT count(*) FROM carepath.webhook_inbox").await,
        0
    );
    // Timestamps at the ends of the range are stale, like any other.
    for t in [i64::MIN, i64::MAX] {
        let signature = webhook_signature::sign(b"test-secret", t, &body);
        let (s, b) = inbox.deliver("clinical", &body, Some(signature)).await;
        assert_eq!(s, StatusCode::UNAUTHORIZED, "t={t}: {b}");
    }

    // During a rotation the previous secret still signs validly.
    let (s, b) = inbox
        .deliver("clinical", &body, signed("old-secret", &body))
        .await;
    assert_eq!(
        (s, b["status"].as_str()),
        (StatusCode::OK, Some("stored")),
        "{b}"
    );
    let stored: (String, Vec<u8>, Value) =
        sqlx::query_as("SELECT dedup_key, body, headers FROM carepath.webhook_inbox")
            .fetch_one(&db.pool)
            .await
            .expect("stored row");
    let opened = opened_inbox_body(&db.pool, "clinical", &stored.0, &stored.1).await;
    assert_eq!(opened, body, "the raw body is stored (sealed) as received");
    assert!(stored.2.get(webhook_signature::HEADER).is_some());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_same_event_delivered_five_times_is_applied_once() {
    let db = fresh_db().await;
    let engine = engine(&db.pool, Registry::new().with("await_case", 1, AwaitCase));
    let inbox = Arc::new(Inbox::start(engine.clone()).await);
    let journey = engine
        .start("await_case", "k", json!({}), &Actor::new("test"))
        .await
        .expect("start")
        .journey
        .id;
    refs::link(&db.pool, journey, "clinical", "case", "case_7")
        .await
        .expect("link");
    let worker = InProcessWorker::start(engine.clone(), "inbox-dedup");

    let body = event("evt_7", "case.approved", "case_7");
    let deliveries = (0..5).map(|_| {
        let (inbox, body) = (inbox.clone(), body.clone());
        tokio::spawn(async move {
            inbox
                .deliver("clinical", &body, signed("test-secret", &body))
                .await
        })
    });
    let answers: Vec<(StatusCode, Value)> = futures::future::join_all(deliveries)
        .await
        .into_iter()
        .map(|r| r.expect("join"))
        .collect();
    assert!(
        answers.iter().all(|(s, _)| *s == StatusCode::OK),
        "{answers:?}"
    );
    assert_eq!(
        answers
            .iter()
            .filter(|(_, b)| b["status"] == "stored")
            .count(),
        1,
        "{answers:?}"
    );

    wait_status(&db.pool, journey, "completed", Duration::from_secs(30)).await;
    worker.shutdown().await;
    assert_eq!(
        count(&db.pool, "SELECT count(*) FROM carepath.signals").await,
        1
    );
    assert_eq!(
        count(
            &db.pool,
            "SELECT deliveries::bigint FROM carepath.webhook_inbox"
        )
        .await,
        5
    );
    let applied = count(
        &db.pool,
        "SELECT count(*) FROM carepath.journey_history WHERE kind = 'signal_applied'",
    )
    .await;
    assert_eq!(applied, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_event_for_no_journey_is_parked_listed_and_replayed() {
    let db = fresh_db().await;
    let engine = engine(&db.pool, Registry::new().with("await_case", 1, AwaitCase));
    let inbox = Inbox::start(engine.clone()).await;
    let token = create_token(&db.pool, "ops", Role::Operator)
        .await
        .expect("token");
    let worker = InProcessWorker::start(engine.clone(), "inbox-unmatched");

    // The webhook outruns the journey's own record of its case.
    let body = event("evt_early", "case.approved", "case_late");
    assert_eq!(
        inbox
            .deliver("clinical", &body, signed("test-secret", &body))
            .await
            .0,
        StatusCode::OK
    );
    let parked: Value = wait_for(
        "the event to be parked",
        Duration::from_secs(20),
        || async {
            let page: Value = inbox
                .http
                .get(format!("{}/v1/inbox?status=unmatched", inbox.url))
                .bearer_auth(&token)
                .send()
                .await
                .ok()?
                .json()
                .await
                .ok()?;
            page["items"]
                .as_array()
                .filter(|i| !i.is_empty())
                .map(|i| i[0].clone())
        },
    )
    .await;
    assert_eq!(parked["dedup_key"], "evt_early");

    // The journey records the case: the parked event is routed to it at once.
    let journey = engine
        .start("await_case", "late", json!({}), &Actor::new("test"))
        .await
        .expect("start")
        .journey
        .id;
    refs::link(&db.pool, journey, "clinical", "case", "case_late")
        .await
        .expect("link");
    wait_status(&db.pool, journey, "completed", Duration::from_secs(20)).await;

    an_operator_replays_a_parked_event(&db, &engine, &inbox, &token).await;
    worker.shutdown().await;
    let out: Value = journey_output(&db.pool, journey).await;
    assert_eq!(out["event"]["type"], "case.approved");
}

/// An operator can also replay a parked event by hand, once its journey
/// has a record of the case (written here around `refs::link`, as an older
/// build would).
async fn an_operator_replays_a_parked_event(
    db: &TestDb,
    engine: &Engine,
    inbox: &Inbox,
    token: &str,
) {
    let body = event("evt_orphan", "case.approved", "case_orphan");
    inbox
        .deliver("clinical", &body, signed("test-secret", &body))
        .await;
    let orphan: i64 = wait_for("the second event to be parked", Duration::from_secs(20), || async {
        sqlx::query_scalar(
            "SELECT id FROM carepath.webhook_inbox WHERE dedup_key = 'evt_orphan' AND status = 'unmatched'",
        )
        .fetch_optional(&db.pool)
        .await
        .ok()
        .flatten()
    })
    .await;
    let second = engine
        .start("await_case", "orphan", json!({}), &Actor::new("test"))
        .await
        .expect("start")
        .journey
        .id;
    sqlx::query(
        "INSERT INTO carepath.journey_refs (vendor, kind, ref, journey_id) VALUES ('clinical', 'case', 'case_orphan', $1)",
    )
    .bind(second)
    .execute(&db.pool)
    .await
    .expect("ref");
    let resp = inbox
        .http
        .post(format!("{}/v1/inbox/{orphan}/replay", inbox.url))
        .bearer_auth(token)
        .json(&json!({ "reason": "journey caught up" }))
        .send()
        .await
        .expect("replay");
    assert_eq!(resp.status(), StatusCode::OK);
    wait_status(&db.pool, second, "completed", Duration::from_secs(20)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sandbox_clinicians_drive_journeys_through_the_inbox() {
    let db = fresh_db().await;
    // The API first, so the sandbox knows where to send its webhooks.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let api = format!("http://{}", listener.local_addr().expect("address"));
    let mut settings = SandboxSettings::default();
    settings.clinician.assign_ms = 50;
    settings.clinician.decide_ms = 100;
    settings.webhooks.duplicate_rate = 0.5;
    settings.webhooks.max_delay_ms = 200;
    let sandbox = Sandbox::start_with(SandboxConfig {
        webhook_url: Some(format!("{api}/webhooks")),
        webhook_secret: "test-secret".into(),
        settings,
    })
    .await;
    let config = VendorsConfig::for_sandbox(&sandbox.url);
    let engine =
        builtin::engine(&db.pool, &config.clone().into(), test_engine_config()).expect("engine");
    serve_api_on(listener, engine.clone(), config);
    let worker = InProcessWorker::start(engine.clone(), "inbox-sandbox");
    let mut journeys = Vec::new();
    for (i, scenario) in ["approve", "decline", "more_info", "more_info_2"]
        .iter()
        .enumerate()
    {
        let email = format!("probe-{i}@example.com");
        sandbox.scenario(&email, scenario).await;
        let input = json!({
            "patient": { "first_name": "Test", "last_name": "Patient", "date_of_birth": "1990-01-01",
                         "state": "CA", "email": email },
            "await_decision": true,
        });
        let j = engine
            .start(
                "vendor_probe",
                &format!("e2e-{i}"),
                input,
                &Actor::new("test"),
            )
            .await
            .expect("start");
        journeys.push((j.journey.id, *scenario));
    }
    for (id, scenario) in &journeys {
        wait_status(&db.pool, *id, "completed", Duration::from_secs(60)).await;
        let out: Value = journey_output(&db.pool, *id).await;
        let expected = if *scenario == "decline" {
            "declined"
        } else {
            "approved"
        };
        assert_eq!(out["decision"], expected, "{scenario}: {out}");
    }
    worker.shutdown().await;
    let c = sandbox.counters().await;
    assert_eq!(c["duplicate_side_effects"], json!({}), "{c}");
    let answered = count(
        &db.pool,
        "SELECT count(*) FROM carepath.journey_steps WHERE key LIKE 'answer_more_info%' AND status = 'completed'",
    )
    .await;
    assert_eq!(
        answered, 3,
        "one more-info round for one case, two for another"
    );
}

/// A webhook refused for want of a secret — the API started before
/// `CAREPATH_CLINICAL_WEBHOOK_SECRET` was set — is kept with its headers and
/// replayed by an operator once the secret is set: admitted, judged by the
/// time it arrived (here two hours ago, longer than the tolerance), stored
/// once; a second replay is refused. Only the latest rejections keep a body
/// (issue 14).
#[tokio::test]
async fn a_webhook_refused_for_want_of_a_secret_is_replayed_once_the_secret_is_set() {
    use carepath_activities::webhook_signature::Secrets;
    let db = fresh_db().await;
    let no_secret =
        carepath_workflows::webhooks::sources(&VendorsConfig::default(), &Secrets::default())
            .expect("sources");
    let before = engine(&db.pool, Registry::new()).with_webhook_sources(no_secret);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind the API");
    let url = format!("http://{}", listener.local_addr().expect("address"));
    serve_api_with(listener, before, VendorsConfig::default());
    let http = reqwest::Client::new();
    let body = event("evt_late_secret", "case.assigned", "case_late");
    let arrived = chrono::Utc::now().timestamp() - 2 * 3600;
    let signature = webhook_signature::sign(b"test-secret", arrived, &body);
    let refused = http
        .post(format!("{url}/webhooks/clinical"))
        .header(webhook_signature::HEADER, &signature)
        .header("authorization", "Bearer not-kept")
        .body(body.clone())
        .send()
        .await
        .expect("deliver");
    assert_eq!(refused.status(), StatusCode::UNAUTHORIZED);
    let why: Value = refused.json().await.expect("error body");
    assert!(
        why["error"]["message"]
            .as_str()
            .unwrap_or("")
            .contains("no webhook secret is configured"),
        "refused for want of a secret: {why}"
    );
    // As if it had arrived when it was signed, before an outage of the API's
    // secret was noticed.
    sqlx::query("UPDATE carepath.webhook_rejections SET received_at = to_timestamp($1)")
        .bind(arrived as f64)
        .execute(&db.pool)
        .await
        .expect("backdate");
    let token = create_token(&db.pool, "ops", Role::Operator)
        .await
        .expect("token");
    let call = |url: String, path: &str| {
        http.post(format!("{url}{path}"))
            .bearer_auth(&token)
            .json(&json!({ "reason": "the clinical webhook secret is set now" }))
            .send()
    };
    let listed: Value = http
        .get(format!("{url}/v1/inbox/rejections"))
        .bearer_auth(&token)
        .send()
        .await
        .expect("list")
        .json()
        .await
        .expect("json");
    let rejection = &listed["items"][0];
    assert_eq!(rejection["replayable"], json!(true), "{listed}");
    let id = rejection["id"].as_i64().expect("id");
    let path = format!("/v1/inbox/rejections/{id}/replay");

    // Still without the secret: refused again, and recorded as such.
    let again = call(url.clone(), &path).await.expect("replay");
    assert_eq!(again.status(), StatusCode::CONFLICT);
    let kept: Value =
        sqlx::query_scalar("SELECT headers FROM carepath.webhook_rejections WHERE id = $1")
            .bind(id)
            .fetch_one(&db.pool)
            .await
            .expect("kept headers");
    assert!(
        kept.get("authorization").is_none(),
        "kept a credential: {kept}"
    );

    // The secret set (an API restarted with it): admitted and stored once.
    let fixed = serve_api(engine(&db.pool, Registry::new()), VendorsConfig::default()).await;
    let admitted = call(fixed.clone(), &path).await.expect("replay");
    assert_eq!(admitted.status(), StatusCode::OK);
    let ack: Value = admitted.json().await.expect("ack");
    assert_eq!(ack["status"], "stored", "{ack}");
    assert_eq!(
        count(
            &db.pool,
            "SELECT count(*) FROM carepath.webhook_inbox WHERE dedup_key = 'evt_late_secret'"
        )
        .await,
        1
    );
    let twice = call(fixed.clone(), &path).await.expect("replay");
    assert_eq!(twice.status(), StatusCode::CONFLICT);
    let audited = count(
        &db.pool,
        "SELECT count(*) FROM carepath.operator_audit WHERE action = 'rejection_replay'",
    )
    .await;
    assert!(audited >= 2, "replays are audited");

    // Bounded: of many rejections only the latest 1,000 keep a body.
    let junk = b"{}".to_vec();
    for _ in 0..1_005 {
        let headers = json!({});
        let delivery = carepath_workflows::store::rejections::RefusedBody::Delivery {
            body: &junk,
            kept: &junk,
            headers: &headers,
        };
        carepath_workflows::store::rejections::reject(&db.pool, "crm", 401, "test", delivery)
            .await
            .expect("reject");
    }
    assert_eq!(
        count(
            &db.pool,
            "SELECT count(*) FROM carepath.webhook_rejections WHERE body IS NOT NULL"
        )
        .await,
        1_000
    );
}
