//! The HTTP API over real HTTP against a real PostgreSQL: every endpoint's
//! happy path and documented errors, idempotency under concurrency,
//! pagination under inserts, the OpenAPI document, and `carepath ctl`.

mod support;

use std::collections::HashSet;
use std::process::Command;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use carepath_activities::VendorsConfig;
use carepath_api::auth::{Role, create_token};
use carepath_workflows::{JourneyCtx, Registry, Workflow, WorkflowError};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use support::*;

/// Waits for the signal `go`, then finishes.
struct Waiter;

#[async_trait]
impl Workflow for Waiter {
    fn signals(&self) -> &[&str] {
        &["go"]
    }
    async fn run(&self, ctx: &mut JourneyCtx, _input: Value) -> Result<Value, WorkflowError> {
        let got = ctx.wait_signal("go", None).await?;
        Ok(json!({ "got": got }))
    }

    fn validate(&self, input: Value) -> Result<Value, Vec<(String, String)>> {
        match input.get("email") {
            Some(Value::String(e)) if !e.contains('@') => {
                Err(vec![("email".into(), "is not an email address".into())])
            }
            _ => Ok(input),
        }
    }
}

struct Api {
    url: String,
    db: TestDb,
    http: reqwest::Client,
    product: String,
    operator: String,
    admin: String,
}

impl Api {
    async fn start() -> Self {
        carepath_activities::tls::install_crypto_provider();
        let db = fresh_db().await;
        let engine = engine(&db.pool, Registry::new().with("waiter", 1, Waiter));
        let state = carepath_api::AppState {
            engine,
            vendors: Arc::new(VendorsConfig::default()),
        };
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let url = format!("http://{}", listener.local_addr().expect("address"));
        tokio::spawn(carepath_api::serve(listener, state));
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
            url,
            db,
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
        token: Option<&str>,
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        let mut req = self.http.request(method, format!("{}{path}", self.url));
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
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

    async fn raw_post(&self, path: &str, token: &str, body: Vec<u8>) -> (StatusCode, Value) {
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

    async fn start_journey(&self, key: &str) -> Value {
        let (status, body) = self
            .call(Method::POST, "/v1/journeys", Some(&self.product), Some(json!({
                "workflow": "waiter", "idempotency_key": key, "input": { "email": "a@b.example" }
            })))
            .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        body
    }

    /// Rows in every table a request could write to.
    async fn rows(&self) -> Vec<i64> {
        let mut out = Vec::new();
        for sql in [
            "SELECT count(*) FROM carepath.journeys",
            "SELECT count(*) FROM carepath.journey_history",
            "SELECT count(*) FROM carepath.signals",
            "SELECT count(*) FROM apalis.jobs",
            "SELECT count(*) FROM carepath.operator_audit",
        ] {
            out.push(count(&self.db.pool, sql).await);
        }
        out
    }
}

fn error_code(body: &Value) -> &str {
    body["error"]["code"].as_str().unwrap_or_default()
}

fn error_paths(body: &Value) -> Vec<&str> {
    body["error"]["fields"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|f| f["path"].as_str())
        .collect()
}

#[tokio::test]
async fn tokens_and_roles_guard_every_endpoint() {
    let api = Api::start().await;
    let (s, b) = api.call(Method::GET, "/v1/journeys", None, None).await;
    assert_eq!(
        (s, error_code(&b)),
        (StatusCode::UNAUTHORIZED, "unauthorized")
    );
    let (s, _) = api
        .call(Method::GET, "/v1/journeys", Some("cp_wrong"), None)
        .await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
    let (s, b) = api
        .call(Method::GET, "/v1/journeys", Some(&api.product), None)
        .await;
    assert_eq!((s, error_code(&b)), (StatusCode::FORBIDDEN, "forbidden"));
    let (s, _) = api
        .call(Method::GET, "/v1/journeys", Some(&api.operator), None)
        .await;
    assert_eq!(s, StatusCode::OK);
    let (s, _) = api
        .call(Method::GET, "/v1/vendors", Some(&api.product), None)
        .await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    // The role is checked before anything about the request is looked at.
    for (method, path, token, body) in [
        (Method::POST, "/v1/ops/retry", &api.product, Some(json!({}))),
        (Method::GET, "/v1/journeys?colour=red", &api.product, None),
        (
            Method::GET,
            "/v1/journeys/not-a-uuid/history",
            &api.product,
            None,
        ),
        (
            Method::POST,
            "/v1/tokens",
            &api.operator,
            Some(json!({ "bad": 1 })),
        ),
    ] {
        let (s, b) = api.call(method, path, Some(token), body).await;
        assert_eq!(s, StatusCode::FORBIDDEN, "{path}: {b}");
    }

    // Tokens: only admins make them; a revoked token stops working.
    let new = json!({ "name": "ops-bob", "role": "operator" });
    let (s, _) = api
        .call(
            Method::POST,
            "/v1/tokens",
            Some(&api.operator),
            Some(new.clone()),
        )
        .await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    let (s, b) = api
        .call(
            Method::POST,
            "/v1/tokens",
            Some(&api.admin),
            Some(new.clone()),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{b}");
    let bob = b["token"].as_str().expect("token").to_owned();
    let (s, _) = api
        .call(Method::POST, "/v1/tokens", Some(&api.admin), Some(new))
        .await;
    assert_eq!(s, StatusCode::CONFLICT);
    assert_eq!(
        api.call(Method::GET, "/v1/vendors", Some(&bob), None)
            .await
            .0,
        StatusCode::OK
    );
    let (s, _) = api
        .call(Method::DELETE, "/v1/tokens/ops-bob", Some(&api.admin), None)
        .await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    assert_eq!(
        api.call(Method::GET, "/v1/vendors", Some(&bob), None)
            .await
            .0,
        StatusCode::UNAUTHORIZED
    );
    let stored: i64 =
        sqlx::query_scalar("SELECT count(*) FROM carepath.api_tokens WHERE token_hash = $1")
            .bind(&bob)
            .fetch_one(&api.db.pool)
            .await
            .expect("count");
    assert_eq!(stored, 0, "a token is stored in the clear");
}

#[tokio::test]
async fn start_is_idempotent_and_rejected_starts_change_nothing() {
    let api = Api::start().await;
    let first = api.start_journey("intake-1").await;
    let (s, again) = api
        .call(
            Method::POST,
            "/v1/journeys",
            Some(&api.product),
            Some(json!({
                "workflow": "waiter", "idempotency_key": "intake-1",
                "input": { "email": "a@b.example" }
            })),
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(again["id"], first["id"]);

    let before = api.rows().await;
    let cases: Vec<(Value, StatusCode, &str, Option<&str>)> = vec![
        (
            json!({ "workflow": "nope", "idempotency_key": "k", "input": {} }),
            StatusCode::NOT_FOUND,
            "not_found",
            None,
        ),
        (
            json!({ "workflow": "waiter", "idempotency_key": 7, "input": {} }),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid",
            Some("idempotency_key"),
        ),
        (
            json!({ "workflow": "waiter", "idempotency_key": "k", "input": {}, "priority": 1 }),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid",
            Some("priority"),
        ),
        (
            json!({ "workflow": "waiter", "input": {} }),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid",
            None,
        ),
        (
            json!({ "workflow": "waiter", "idempotency_key": "k", "input": [1] }),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid",
            Some("input"),
        ),
        (
            json!({ "workflow": "waiter", "idempotency_key": "k", "input": { "email": "nope" } }),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid",
            Some("input.email"),
        ),
        (
            json!({ "workflow": "waiter", "idempotency_key": " ", "input": {} }),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid",
            Some("idempotency_key"),
        ),
        (
            json!({ "workflow": "waiter", "idempotency_key": "a\u{0}b", "input": {} }),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid",
            Some("idempotency_key"),
        ),
        (
            json!({ "workflow": "waiter", "idempotency_key": "k", "input": { "note": ["ok", "x\u{0}"] } }),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid",
            Some("input.note[1]"),
        ),
    ];
    for (body, status, code, path) in cases {
        let (s, b) = api
            .call(
                Method::POST,
                "/v1/journeys",
                Some(&api.product),
                Some(body.clone()),
            )
            .await;
        assert_eq!((s, error_code(&b)), (status, code), "{body} → {b}");
        if let Some(p) = path {
            assert!(error_paths(&b).contains(&p), "{body} → {b}");
        }
    }
    let (s, b) = api
        .raw_post("/v1/journeys", &api.product, b"{\"workflow\": ".to_vec())
        .await;
    assert_eq!((s, error_code(&b)), (StatusCode::BAD_REQUEST, "malformed"));
    let huge = format!(
        r#"{{"workflow": "waiter", "idempotency_key": "k", "input": {{"blob": "{}"}}}}"#,
        "x".repeat(300_000)
    );
    let (s, _) = api
        .raw_post("/v1/journeys", &api.product, huge.into_bytes())
        .await;
    assert_eq!(s, StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(
        api.rows().await,
        before,
        "a rejected request wrote something"
    );
}

#[tokio::test]
async fn twenty_concurrent_starts_with_one_key_create_one_journey() {
    let api = Arc::new(Api::start().await);
    let calls = (0..20).map(|_| {
        let api = api.clone();
        tokio::spawn(async move {
            api.call(
                Method::POST,
                "/v1/journeys",
                Some(&api.product),
                Some(json!({
                    "workflow": "waiter", "idempotency_key": "same-intake", "input": {}
                })),
            )
            .await
        })
    });
    let results: Vec<(StatusCode, Value)> = futures::future::join_all(calls)
        .await
        .into_iter()
        .map(|r| r.expect("join"))
        .collect();
    assert_eq!(
        results
            .iter()
            .filter(|(s, _)| *s == StatusCode::CREATED)
            .count(),
        1
    );
    assert!(
        results
            .iter()
            .all(|(s, _)| *s == StatusCode::CREATED || *s == StatusCode::OK)
    );
    let ids: HashSet<String> = results.iter().map(|(_, b)| b["id"].to_string()).collect();
    assert_eq!(ids.len(), 1);
    assert_eq!(
        count(&api.db.pool, "SELECT count(*) FROM carepath.journeys").await,
        1
    );
}

#[tokio::test]
async fn a_signal_sent_three_times_concurrently_is_applied_once() {
    let api = Arc::new(Api::start().await);
    let j = api.start_journey("signals").await;
    let id = j["id"].as_str().expect("id").to_owned();
    let path = format!("/v1/journeys/{id}/signals/go");
    let sends = (0..3).map(|_| {
        let (api, path) = (api.clone(), path.clone());
        tokio::spawn(async move {
            api.call(
                Method::POST,
                &path,
                Some(&api.product),
                Some(json!({ "event_id": "evt-9", "payload": { "ok": true } })),
            )
            .await
        })
    });
    let statuses: Vec<StatusCode> = futures::future::join_all(sends)
        .await
        .into_iter()
        .map(|r| r.expect("join").0)
        .collect();
    assert_eq!(
        statuses
            .iter()
            .filter(|s| **s == StatusCode::ACCEPTED)
            .count(),
        1,
        "{statuses:?}"
    );
    assert_eq!(
        statuses.iter().filter(|s| **s == StatusCode::OK).count(),
        2,
        "{statuses:?}"
    );
    assert_eq!(
        count(&api.db.pool, "SELECT count(*) FROM carepath.signals").await,
        1
    );

    let (s, b) = api
        .call(
            Method::POST,
            &path,
            Some(&api.product),
            Some(json!({ "payload": 1 })),
        )
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        error_paths(&b).contains(&"event_id")
            || b["error"]["message"]
                .as_str()
                .unwrap_or_default()
                .contains("event_id"),
        "{b}"
    );
    let missing = format!("/v1/journeys/{}/signals/go", uuid::Uuid::new_v4());
    let (s, _) = api
        .call(
            Method::POST,
            &missing,
            Some(&api.product),
            Some(json!({ "event_id": "e" })),
        )
        .await;
    assert_eq!(s, StatusCode::NOT_FOUND);

    // Finished journeys take no signals.
    api.call(
        Method::POST,
        &format!("/v1/journeys/{id}/cancel"),
        Some(&api.operator),
        Some(json!({ "reason": "test" })),
    )
    .await;
    let (s, b) = api
        .call(
            Method::POST,
            &path,
            Some(&api.product),
            Some(json!({ "event_id": "evt-10" })),
        )
        .await;
    assert_eq!((s, error_code(&b)), (StatusCode::CONFLICT, "conflict"));
}

#[tokio::test]
async fn operator_actions_apply_or_conflict_and_are_audited() {
    let api = Api::start().await;
    let j = api.start_journey("ops").await;
    let id = j["id"].as_str().expect("id").to_owned();
    let act = |action: &'static str, reason: Option<&'static str>| {
        let body = match reason {
            Some(r) => json!({ "reason": r }),
            None => json!({}),
        };
        let path = format!("/v1/journeys/{id}/{action}");
        let api = &api;
        async move {
            api.call(Method::POST, &path, Some(&api.operator), Some(body))
                .await
        }
    };
    let (s, b) = act("pause", Some("investigating")).await;
    assert_eq!(
        (s, b["status"].as_str()),
        (StatusCode::OK, Some("paused")),
        "{b}"
    );
    assert_eq!(act("pause", Some("again")).await.0, StatusCode::CONFLICT);
    assert_eq!(act("wake", Some("no timer")).await.0, StatusCode::CONFLICT);
    let (s, b) = act("resume", None).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        error_paths(&b).contains(&"reason")
            || b["error"]["message"]
                .as_str()
                .unwrap_or_default()
                .contains("reason"),
        "{b}"
    );
    assert_eq!(act("resume", Some("done")).await.0, StatusCode::OK);
    assert_eq!(
        act("retry", Some("not failed")).await.0,
        StatusCode::CONFLICT
    );
    let (s, b) = act("cancel", Some("duplicate intake")).await;
    assert_eq!(
        (s, b["status"].as_str()),
        (StatusCode::OK, Some("cancelled"))
    );
    assert_eq!(act("cancel", Some("again")).await.0, StatusCode::CONFLICT);
    let (s, _) = api
        .call(
            Method::POST,
            &format!("/v1/journeys/{id}/pause"),
            Some(&api.product),
            Some(json!({ "reason": "x" })),
        )
        .await;
    assert_eq!(s, StatusCode::FORBIDDEN);

    // Reading the input (PHI) needs a reason and is recorded.
    let (s, _) = api
        .call(
            Method::GET,
            &format!("/v1/journeys/{id}/input"),
            Some(&api.operator),
            None,
        )
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    let (s, b) = api
        .call(
            Method::GET,
            &format!("/v1/journeys/{id}/input?reason=ticket%2042"),
            Some(&api.operator),
            None,
        )
        .await;
    assert_eq!(
        (s, &b["input"]["email"]),
        (StatusCode::OK, &json!("a@b.example"))
    );

    let (s, h) = api
        .call(
            Method::GET,
            &format!("/v1/journeys/{id}/history"),
            Some(&api.operator),
            None,
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    let events: Vec<(String, String, String)> = h["events"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|e| {
            (
                e["kind"].as_str().unwrap_or_default().into(),
                e["actor"].as_str().unwrap_or_default().into(),
                e["detail"]["reason"].as_str().unwrap_or_default().into(),
            )
        })
        .collect();
    for (kind, reason) in [
        ("pause", "investigating"),
        ("resume", "done"),
        ("cancel", "duplicate intake"),
        ("input_read", "ticket 42"),
    ] {
        assert!(
            events.contains(&(kind.into(), "token:ops-alice".into(), reason.into())),
            "{kind} by ops-alice missing: {events:?}"
        );
    }
    let (s, v) = api
        .call(
            Method::GET,
            &format!("/v1/journeys/{id}/history/verify"),
            Some(&api.operator),
            None,
        )
        .await;
    assert_eq!((s, &v["ok"]), (StatusCode::OK, &json!(true)));

    let (s, g) = api
        .call(
            Method::GET,
            &format!("/v1/journeys/{id}"),
            Some(&api.product),
            None,
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    assert!(g["steps"].is_array() && g.get("input").is_none(), "{g}");
    for bad in [
        "/v1/journeys/not-a-uuid",
        &format!("/v1/journeys/{}", uuid::Uuid::new_v4()),
    ] {
        let (s, b) = api.call(Method::GET, bad, Some(&api.product), None).await;
        assert_eq!((s, error_code(&b)), (StatusCode::NOT_FOUND, "not_found"));
    }
}

#[tokio::test]
async fn bulk_retry_and_vendor_controls() {
    let api = Api::start().await;
    let (s, b) = api
        .call(
            Method::POST,
            "/v1/ops/retry",
            Some(&api.operator),
            Some(json!({ "filter": { "status": "failed" }, "reason": "vendor fixed" })),
        )
        .await;
    assert_eq!(
        (s, b["retried"].as_array().map(Vec::len)),
        (StatusCode::OK, Some(0)),
        "{b}"
    );
    let (s, _) = api
        .call(
            Method::POST,
            "/v1/ops/retry",
            Some(&api.operator),
            Some(json!({ "filter": { "status": "completed" }, "reason": "x" })),
        )
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);

    let (s, b) = api
        .call(
            Method::POST,
            "/v1/vendors/pharmacy/pause",
            Some(&api.operator),
            Some(json!({ "reason": "pharmacy incident" })),
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    let pharmacy = b["vendors"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|v| v["name"] == "pharmacy")
        .cloned()
        .unwrap_or_default();
    // An operator's pause is a pause, until resumed: not a breaker, not a
    // hold ending in a century.
    assert_eq!(pharmacy["status"], "paused", "{b}");
    assert_eq!(pharmacy["breaker"], "closed", "{b}");
    assert_eq!(pharmacy["on_hold_until"], Value::Null, "{b}");
    assert_eq!(pharmacy["paused_by"], "token:ops-alice", "{b}");
    assert!(
        pharmacy["hold_reason"]
            .as_str()
            .unwrap_or_default()
            .contains("pharmacy incident")
    );
    let (s, b) = api
        .call(
            Method::POST,
            "/v1/vendors/pharmacy/resume",
            Some(&api.operator),
            Some(json!({ "reason": "over" })),
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    assert!(
        b["vendors"]
            .as_array()
            .into_iter()
            .flatten()
            .all(|v| v["breaker"] == "closed" && v["status"] == "available"),
        "{b}"
    );
    let (s, b) = api
        .call(
            Method::POST,
            "/v1/vendors/%FF/pause",
            Some(&api.operator),
            Some(json!({ "reason": "x" })),
        )
        .await;
    assert_eq!(
        (s, error_code(&b)),
        (StatusCode::NOT_FOUND, "not_found"),
        "{b}"
    );
    let (s, _) = api
        .call(
            Method::POST,
            "/v1/vendors/bank/pause",
            Some(&api.operator),
            Some(json!({ "reason": "x" })),
        )
        .await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    assert_eq!(
        count(
            &api.db.pool,
            "SELECT count(*) FROM carepath.operator_audit WHERE action LIKE 'vendor_%'"
        )
        .await,
        2
    );
}

#[tokio::test]
async fn pagination_returns_every_journey_once_while_journeys_are_created() {
    let api = Arc::new(Api::start().await);
    let mut existing = HashSet::new();
    for i in 0..60 {
        existing.insert(
            api.start_journey(&format!("page-{i}")).await["id"]
                .as_str()
                .expect("id")
                .to_owned(),
        );
    }
    let writer = {
        let api = api.clone();
        tokio::spawn(async move {
            for i in 0..40 {
                api.start_journey(&format!("during-{i}")).await;
            }
        })
    };
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let path = match &cursor {
            Some(c) => format!("/v1/journeys?limit=7&cursor={c}"),
            None => "/v1/journeys?limit=7".into(),
        };
        let (s, page) = api
            .call(Method::GET, &path, Some(&api.operator), None)
            .await;
        assert_eq!(s, StatusCode::OK, "{page}");
        seen.extend(
            page["items"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|j| j["id"].as_str().map(str::to_owned)),
        );
        match page["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_owned()),
            None => break,
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    writer.await.expect("writer");
    let unique: HashSet<&String> = seen.iter().collect();
    assert_eq!(unique.len(), seen.len(), "a journey was listed twice");
    for id in &existing {
        assert!(unique.contains(id), "journey {id} was never listed");
    }
    let (s, b) = api
        .call(
            Method::GET,
            "/v1/journeys?limit=0",
            Some(&api.operator),
            None,
        )
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{b}");
    let (s, b) = api
        .call(
            Method::GET,
            "/v1/journeys?colour=red",
            Some(&api.operator),
            None,
        )
        .await;
    assert_eq!(
        (s, error_paths(&b)),
        (StatusCode::UNPROCESSABLE_ENTITY, vec!["colour"]),
        "{b}"
    );
}

#[tokio::test]
async fn health_readiness_metrics_and_an_openapi_3_document_of_every_route() {
    let api = Api::start().await;
    assert_eq!(
        api.call(Method::GET, "/healthz", None, None).await.0,
        StatusCode::OK
    );
    assert_eq!(
        api.call(Method::GET, "/readyz", None, None).await.0,
        StatusCode::OK
    );
    assert_eq!(
        api.call(Method::GET, "/metrics", None, None).await.0,
        StatusCode::OK
    );
    let (s, doc) = api.call(Method::GET, "/openapi.json", None, None).await;
    assert_eq!(s, StatusCode::OK);

    // The docs page: Swagger UI, served from the binary, reading /openapi.json.
    let page = api
        .http
        .get(format!("{}/docs/", api.url))
        .send()
        .await
        .expect("/docs/");
    assert_eq!(page.status(), StatusCode::OK);
    let html = page.text().await.expect("html");
    assert!(html.contains("swagger-ui"), "{html}");
    let init = api
        .http
        .get(format!("{}/docs/swagger-initializer.js", api.url))
        .send()
        .await
        .expect("initializer");
    assert_eq!(init.status(), StatusCode::OK);
    let init = init.text().await.expect("js");
    assert!(init.contains("/openapi.json"), "{init}");

    // Validated by an independent OpenAPI 3 validator.
    let Some(python) = tools::or_skip("the OpenAPI document's validation", tools::python()) else {
        return;
    };
    let validator = Command::new(python)
        .arg("-c")
        .arg("import json,sys\nfrom openapi_spec_validator import validate\nvalidate(json.load(sys.stdin))")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("the test virtualenv's python");
    use std::io::Write;
    let mut child = validator;
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(doc.to_string().as_bytes())
        .expect("write");
    let out = child.wait_with_output().expect("validator");
    assert!(
        out.status.success(),
        "not a valid OpenAPI 3 document: {}",
        String::from_utf8_lossy(&out.stderr)
    );

    // The contract's routes are all documented...
    let paths = doc["paths"].as_object().expect("paths");
    for (method, path) in [
        ("post", "/v1/journeys"),
        ("get", "/v1/journeys"),
        ("get", "/v1/journeys/{id}"),
        ("get", "/v1/journeys/{id}/history"),
        ("get", "/v1/journeys/{id}/history/verify"),
        ("post", "/v1/journeys/{id}/signals/{name}"),
        ("post", "/v1/journeys/{id}/pause"),
        ("post", "/v1/journeys/{id}/resume"),
        ("post", "/v1/journeys/{id}/retry"),
        ("post", "/v1/journeys/{id}/cancel"),
        ("post", "/v1/journeys/{id}/wake"),
        ("post", "/v1/ops/retry"),
        ("get", "/v1/vendors"),
        ("post", "/v1/vendors/{name}/pause"),
        ("post", "/v1/vendors/{name}/resume"),
        ("get", "/healthz"),
        ("get", "/readyz"),
        ("get", "/metrics"),
        ("get", "/openapi.json"),
    ] {
        assert!(
            paths.get(path).and_then(|p| p.get(method)).is_some(),
            "{method} {path} is not documented"
        );
    }
    // ...and every documented operation is served (the router is built from
    // the same list, so nothing is served that is not documented).
    let id = uuid::Uuid::new_v4();
    for (path, item) in paths {
        for method in item.as_object().expect("path item").keys() {
            let concrete = path
                .replace("{id}", &id.to_string())
                .replace("{name}", "clinical");
            let m = Method::from_bytes(method.to_uppercase().as_bytes()).expect("method");
            let streams = item[method]["responses"]["200"]["content"]
                .get("text/event-stream")
                .is_some();
            if streams {
                // A live stream never ends: its head is the answer.
                let head = api
                    .http
                    .request(m, format!("{}{concrete}", api.url))
                    .bearer_auth(&api.admin)
                    .send()
                    .await
                    .expect("open the stream");
                if head.status() != StatusCode::OK {
                    let b: serde_json::Value = head.json().await.expect("an error body");
                    assert_ne!(
                        b["error"]["message"], "no such route",
                        "{path} is not served"
                    );
                }
                continue;
            }
            let (_, b) = api
                .call(m, &concrete, Some(&api.admin), Some(json!({})))
                .await;
            assert_ne!(
                b["error"]["message"], "no such route",
                "{method} {path} is documented but not served"
            );
        }
    }
}

/// `carepath ctl ARGS` as an operator against `api`, as a real process:
/// whether it succeeded, its standard output and its standard error.
fn run_ctl(api: &Api, args: &[&str]) -> (bool, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_carepath"))
        .arg("ctl")
        .args(args)
        .env("CAREPATH_API_URL", &api.url)
        .env("CAREPATH_TOKEN", &api.operator)
        .env_remove("DATABASE_URL")
        .output()
        .expect("run ctl");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

// Multi-threaded: `ctl` runs as a blocking child process while this test's
// runtime serves the API it calls.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ctl_lists_shows_and_acts_through_the_api() {
    let api = Api::start().await;
    let j = api.start_journey("ctl").await;
    let id = j["id"].as_str().expect("id");
    let ctl = |args: &[&str]| run_ctl(&api, args);
    let (ok, out, err) = ctl(&["list", "--output", "json"]);
    assert!(ok, "{err}");
    let page: Value = serde_json::from_str(&out).expect("JSON output");
    assert_eq!(page["items"][0]["id"], id);
    let (ok, out, _) = ctl(&["show", id]);
    assert!(ok && out.contains(id) && out.contains("waiter@v1"), "{out}");
    let (ok, out, err) = ctl(&["pause", id, "--reason", "from the cli"]);
    assert!(ok && out.contains("paused"), "{out}{err}");
    let (ok, _, err) = ctl(&["pause", id, "--reason", "twice"]);
    assert!(!ok && err.contains("409"), "{err}");
    let (ok, out, _) = ctl(&["history", id]);
    assert!(ok && out.contains("from the cli"), "{out}");
    let (ok, out, _) = ctl(&["vendors"]);
    assert!(ok && out.contains("clinical"), "{out}");

    // Bootstrapping: with DATABASE_URL, a token is written directly.
    let out = Command::new(env!("CARGO_BIN_EXE_carepath"))
        .args([
            "ctl",
            "tokens",
            "create",
            "--role",
            "operator",
            "--name",
            "night-shift",
        ])
        .env("DATABASE_URL", &api.db.url)
        .output()
        .expect("run ctl");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let token = String::from_utf8_lossy(&out.stdout).trim().to_owned();
    assert_eq!(
        api.call(Method::GET, "/v1/vendors", Some(&token), None)
            .await
            .0,
        StatusCode::OK
    );
}

/// The default tables fit 100 columns (short ids, relative times, long
/// details cut with an ellipsis); `-o wide` shows every value whole and
/// `-o json` the API's answer; statuses are checked before any request;
/// an empty listing says so.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ctl_tables_fit_100_columns_and_wide_shows_everything() {
    let api = Api::start().await;
    let j = api.start_journey("ctl-narrow").await;
    let id = j["id"].as_str().expect("id");
    let ctl = |args: &[&str]| run_ctl(&api, args);
    // A few history events, one with a reason far wider than a line.
    let long = "held for the regional pharmacy incident, see ticket 4711; ".repeat(4);
    for args in [
        vec!["pause", id, "--reason", &long],
        vec!["resume", id, "--reason", "incident over"],
        vec!["input", id, "--reason", "ticket 7: checking the intake"],
    ] {
        let (ok, out, err) = ctl(&args);
        assert!(ok, "{args:?}: {out}{err}");
    }
    let fits = |text: &str| {
        let over: Vec<&str> = text.lines().filter(|l| l.chars().count() > 100).collect();
        assert!(
            over.is_empty(),
            "lines over 100 columns:\n{}",
            over.join("\n")
        );
    };
    let (ok, list, err) = ctl(&["list"]);
    assert!(ok, "{err}");
    fits(&list);
    // The short id is the id's random end (its start is its creation time).
    assert!(list.contains(&id[28..]) && !list.contains(id), "{list}");
    let (ok, by_short, err) = ctl(&["show", &id[28..]]);
    assert!(
        ok && by_short.contains(id),
        "ctl show <short id>: {err}{by_short}"
    );
    assert!(list.contains("outcome"), "{list}");
    // Times relative by default ("now", "3s ago"), as the API sends them wide.
    let created = j["created_at"].as_str().expect("created_at");
    let (ok, show, err) = ctl(&["show", id]);
    assert!(
        ok && show.contains(id) && !show.contains(created),
        "{show}{err}"
    );
    fits(&show);
    let (ok, show, err) = ctl(&["show", id, "-o", "wide"]);
    assert!(ok && show.contains(created), "{show}{err}");
    let (ok, history, err) = ctl(&["history", id]);
    assert!(ok, "{err}");
    fits(&history);
    assert!(
        history.contains("input_read")
            && history.contains("ticket 7: checking the intake")
            && history.contains('…')
            && !history.contains(&long),
        "{history}"
    );

    let (ok, wide, err) = ctl(&["list", "-o", "wide"]);
    assert!(ok && wide.contains(id), "{wide}{err}");
    let (ok, wide, err) = ctl(&["history", id, "--output", "wide"]);
    assert!(ok && wide.contains(long.trim_end()), "{wide}{err}");
    let (ok, json, err) = ctl(&["list", "-o", "json"]);
    assert!(ok, "{err}");
    let (_, page) = api
        .call(Method::GET, "/v1/journeys", Some(&api.operator), None)
        .await;
    let printed: Value = serde_json::from_str(&json).expect("JSON output");
    assert_eq!(printed, page);
    let (ok, input, err) = ctl(&["input", id, "--reason", "ticket 8"]);
    assert!(ok && input.contains("a@b.example"), "{input}{err}");

    let (ok, _, err) = ctl(&["list", "--status", "runing"]);
    assert!(!ok, "a misspelt status is refused");
    for status in [
        "running",
        "waiting",
        "paused",
        "failed",
        "completed",
        "cancelled",
    ] {
        assert!(err.contains(status), "{status} is not listed in: {err}");
    }
    let (ok, none, err) = ctl(&["list", "--status", "completed"]);
    assert!(ok, "{err}");
    assert_eq!(none.trim(), "no journeys match");
}
