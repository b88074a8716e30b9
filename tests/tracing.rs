//! Traces end to end: the API and a worker process export spans over
//! OTLP/HTTP to a receiver in this test. The start request is one trace; each
//! run of the journey is a trace whose root links back to it, with a span per
//! step and per vendor call beneath; no span carries patient data. (Its own
//! test binary: a process has one global trace pipeline.)

mod support;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::routing::post;
use carepath_activities::VendorsConfig;
use carepath_api::auth::{Role, create_token};
use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTraceServiceRequest, ExportTraceServiceResponse,
};
use opentelemetry_proto::tonic::common::v1::any_value::Value as AnyValue;
use prost::Message;
use serde_json::{Value, json};
use support::*;

#[derive(Debug, Clone)]
struct Span {
    service: String,
    name: String,
    trace_id: String,
    span_id: String,
    parent: String,
    links: Vec<(String, String)>,
    attributes: Vec<(String, String)>,
}

type Collected = Arc<Mutex<Vec<Span>>>;

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

fn text(v: &Option<opentelemetry_proto::tonic::common::v1::AnyValue>) -> String {
    match v.as_ref().and_then(|v| v.value.as_ref()) {
        Some(AnyValue::StringValue(s)) => s.clone(),
        Some(AnyValue::IntValue(i)) => i.to_string(),
        Some(other) => format!("{other:?}"),
        None => String::new(),
    }
}

/// A minimal OTLP/HTTP (protobuf) trace receiver.
async fn receive(State(spans): State<Collected>, body: Bytes) -> Vec<u8> {
    if let Ok(req) = ExportTraceServiceRequest::decode(body) {
        let mut got = Vec::new();
        for rs in req.resource_spans {
            let service = rs
                .resource
                .iter()
                .flat_map(|r| &r.attributes)
                .find(|kv| kv.key == "service.name")
                .map(|kv| text(&kv.value))
                .unwrap_or_default();
            for span in rs.scope_spans.into_iter().flat_map(|s| s.spans) {
                got.push(Span {
                    service: service.clone(),
                    name: span.name,
                    trace_id: hex(&span.trace_id),
                    span_id: hex(&span.span_id),
                    parent: hex(&span.parent_span_id),
                    links: span
                        .links
                        .iter()
                        .map(|l| (hex(&l.trace_id), hex(&l.span_id)))
                        .collect(),
                    attributes: span
                        .attributes
                        .iter()
                        .map(|kv| (kv.key.clone(), text(&kv.value)))
                        .collect(),
                });
            }
        }
        spans.lock().unwrap_or_else(|p| p.into_inner()).extend(got);
    }
    ExportTraceServiceResponse::default().encode_to_vec()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_journey_is_traced_from_its_start_request_through_every_step_and_vendor_call() {
    let collected: Collected = Arc::default();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let receiver = format!("http://{}", listener.local_addr().expect("address"));
    let app = Router::new()
        .route("/v1/traces", post(receive))
        .with_state(collected.clone());
    tokio::spawn(async move { axum::serve(listener, app).await });
    // This process plays the API: its spans go to the receiver too.
    let telemetry = carepath::logging::init_traces_to(
        "info",
        "carepath-api",
        Some(Some(format!("{receiver}/v1/traces"))),
    )
    .expect("telemetry");

    let db = fresh_db().await;
    let sandbox = Sandbox::start().await;
    let config = write_config(&sandbox.config_toml(""));
    let settings = carepath_workflows::Settings::from(VendorsConfig::for_sandbox(&sandbox.url));
    let engine = carepath_workflows::builtin::engine(&db.pool, &settings, test_engine_config())
        .expect("engine");
    let api = serve_api(engine, settings.vendors).await;
    let token = create_token(&db.pool, "brand", Role::Product)
        .await
        .expect("token");
    let started: Value = reqwest::Client::new()
        .post(format!("{api}/v1/journeys"))
        .bearer_auth(&token)
        .json(
            &json!({ "workflow": "vendor_probe", "idempotency_key": "traced", "input": {
            "patient": { "first_name": "Zelda", "last_name": "Quartermaine",
                         "date_of_birth": "1971-06-30", "state": "CA" } } }),
        )
        .send()
        .await
        .expect("start")
        .json()
        .await
        .expect("json");
    let journey: uuid::Uuid = started["id"]
        .as_str()
        .and_then(|s| s.parse().ok())
        .expect("journey id");

    let endpoint = receiver.clone();
    let mut worker = WorkerProcess::spawn_with(
        &db.url,
        "traced",
        &[
            ("CAREPATH_CONFIG", config.to_str().expect("path")),
            ("OTEL_EXPORTER_OTLP_ENDPOINT", endpoint.as_str()),
        ],
    );
    wait_status(&db.pool, journey, "completed", Duration::from_secs(60)).await;
    worker.sigterm();
    assert!(worker.wait_exit(Duration::from_secs(30)).await.success());
    let telemetry = Arc::new(telemetry);
    let flushing = telemetry.clone();
    tokio::task::spawn_blocking(move || flushing.flush())
        .await
        .expect("flush");

    let spans = wait_for(
        "the spans of both processes",
        Duration::from_secs(30),
        || {
            let spans = collected.lock().unwrap_or_else(|p| p.into_inner()).clone();
            async move {
                let has = |name: &str| spans.iter().filter(|s| s.name == name).count();
                (has("start journey") == 1
                    && has("journey run") >= 1
                    && has("step") >= 2
                    && has("vendor call") >= 2)
                    .then_some(spans)
            }
        },
    )
    .await;

    let start = spans
        .iter()
        .find(|s| s.name == "start journey")
        .expect("start span");
    assert_eq!(start.service, "carepath-api");
    let stored: Option<String> =
        sqlx::query_scalar("SELECT trace_context FROM carepath.journeys WHERE id = $1")
            .bind(journey)
            .fetch_one(&db.pool)
            .await
            .expect("trace context");
    assert_eq!(
        stored.as_deref(),
        Some(format!("00-{}-{}-01", start.trace_id, start.span_id).as_str()),
        "the journey keeps its start request's context"
    );
    let runs: Vec<&Span> = spans.iter().filter(|s| s.name == "journey run").collect();
    for run in &runs {
        assert_eq!(run.service, "carepath-worker");
        assert!(run.parent.is_empty(), "a run is the root of its own trace");
        assert_eq!(
            run.links,
            vec![(start.trace_id.clone(), start.span_id.clone())],
            "a run links back to the request that started the journey"
        );
    }
    let steps: Vec<&Span> = spans.iter().filter(|s| s.name == "step").collect();
    for step in &steps {
        assert!(
            runs.iter()
                .any(|r| r.span_id == step.parent && r.trace_id == step.trace_id),
            "step {step:?} is not under a run"
        );
    }
    let step_keys: Vec<&str> = steps
        .iter()
        .flat_map(|s| &s.attributes)
        .filter(|(k, _)| k == "step")
        .map(|(_, v)| v.as_str())
        .collect();
    assert!(
        step_keys.contains(&"create_patient") && step_keys.contains(&"submit_case"),
        "{step_keys:?}"
    );
    // A worker's read of a vendor's event feed (the pharmacy's, every few
    // seconds) is a trace of its own, `feed poll`, with its vendor calls beneath.
    let polls: Vec<&Span> = spans.iter().filter(|s| s.name == "feed poll").collect();
    for call in spans.iter().filter(|s| s.name == "vendor call") {
        assert!(
            steps.iter().chain(&polls).any(|s| s.span_id == call.parent),
            "vendor call {call:?} is under neither a step nor a feed poll"
        );
    }
    // Ids and names only.
    const ALLOWED: [&str; 7] = [
        "journey_id",
        "workflow",
        "step",
        "attempt",
        "vendor",
        "method",
        "outcome",
    ];
    for s in &spans {
        for (key, value) in &s.attributes {
            assert!(
                ALLOWED.contains(&key.as_str()),
                "{} carries {key}={value}",
                s.name
            );
            for phi in ["Zelda", "Quartermaine", "1971-06-30"] {
                assert!(!value.contains(phi), "{} carries PHI in {key}", s.name);
            }
        }
        assert!(!s.name.contains("Zelda"));
    }
    tokio::task::spawn_blocking(move || telemetry.shutdown())
        .await
        .expect("shutdown");
}
