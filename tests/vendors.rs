//! Vendor resilience against the real sandbox over HTTP and a real
//! PostgreSQL: token endpoint 504s, a 429 storm, an outage, a rejected
//! payload, and a rate limit shared by two worker processes. And the
//! sandbox's own checks: duplicates across journeys, and pharmacy orders
//! it could not ship.

mod support;

use std::time::Duration;

use carepath_activities::vendors::clinical::{CaseRequest, PatientRecord};
use carepath_activities::vendors::pharmacy::{OrderRequest, PatientName, ShipTo};
use carepath_activities::{VendorError, Vendors, VendorsConfig};
use carepath_sandbox::{SandboxConfig, SandboxSettings};
use carepath_workflows::{Actor, Engine, builtin};
use chrono::{DateTime, Utc};
use serde_json::{Value, json};
use support::*;

const PATIENT: &str = r#"{"first_name": "Test", "last_name": "Patient", "date_of_birth": "1990-01-01", "state": "CA"}"#;

fn engine_for(db: &TestDb, toml: &str) -> Engine {
    let config = VendorsConfig::from_toml(toml).expect("vendor config");
    builtin::engine(&db.pool, &config.into(), test_engine_config()).expect("engine")
}

/// Worker processes using the vendor profiles in `toml`.
fn spawn_workers(db: &TestDb, toml: &str, prefix: &str, n: usize) -> Vec<WorkerProcess> {
    let config = write_config(toml);
    let config = config.to_string_lossy();
    (0..n)
        .map(|i| {
            WorkerProcess::spawn_with(
                &db.url,
                &format!("{prefix}-{i}"),
                &[("CAREPATH_CONFIG", &config)],
            )
        })
        .collect()
}

async fn start_vendor_probes(engine: &Engine, n: usize, patient: &str) -> Vec<uuid::Uuid> {
    start_vendor_probes_from(engine, 0, n, patient).await
}

async fn start_vendor_probes_from(
    engine: &Engine,
    first: usize,
    n: usize,
    patient: &str,
) -> Vec<uuid::Uuid> {
    let patient: Value = serde_json::from_str(patient).expect("patient JSON");
    let mut ids = Vec::new();
    for i in first..first + n {
        let s = engine
            .start(
                "vendor_probe",
                &format!("vp-{i}"),
                json!({ "patient": patient }),
                &Actor::new("test"),
            )
            .await
            .expect("start");
        ids.push(s.journey.id);
    }
    ids
}

fn at(record: &Value) -> DateTime<Utc> {
    record["at"]
        .as_str()
        .and_then(|t| t.parse().ok())
        .expect("request time")
}

async fn failed(db: &TestDb) -> i64 {
    count(
        &db.pool,
        "SELECT count(*) FROM carepath.journeys WHERE status = 'failed'",
    )
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn token_endpoint_504s_cost_a_bounded_number_of_token_requests() {
    let sandbox = Sandbox::start().await;
    sandbox
        .fault(json!({ "vendor": "clinical", "token_504_secs": 20 }))
        .await;
    let db = fresh_db().await;
    let engine = engine_for(&db, &sandbox.config_toml(""));
    start_vendor_probes(&engine, 50, PATIENT).await;
    let worker = InProcessWorker::start(engine.clone(), "token-504");

    wait_for(
        "all 50 journeys to complete after the outage",
        Duration::from_secs(90),
        || async {
            assert_eq!(
                failed(&db).await,
                0,
                "a journey failed during the token outage"
            );
            let done = count(
                &db.pool,
                "SELECT count(*) FROM carepath.journeys WHERE status = 'completed'",
            )
            .await;
            (done == 50).then_some(())
        },
    )
    .await;
    worker.shutdown().await;

    let c = sandbox.counters().await;
    let token_requests = c["token_requests"].as_u64().unwrap_or(0);
    // One process, backoff from 1 s doubling with equal jitter: tries at the
    // earliest at 0, 0.5, 1.5, 3.5, 7.5 and 15.5 s fall inside 20 s, then one
    // that succeeds: at most 7, however many journeys wait.
    assert!(
        token_requests <= 7,
        "{token_requests} token requests during a 20 s outage"
    );
    assert_eq!(c["tokens_issued"], 1);
    assert_eq!(c["duplicate_side_effects"], json!({}));
    println!("token requests during the 20 s outage and after: {token_requests}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_429_storm_stops_every_process_until_the_time_it_named() {
    let sandbox = Sandbox::start().await;
    let db = fresh_db().await;
    // A low rate, so that calls are queued in the rate limiter when the first
    // 429 comes back: they must not go out during the hold either.
    let toml = sandbox.config_toml("rate_per_sec = 4.0\nburst = 2");
    let engine = engine_for(&db, &toml);
    start_vendor_probes(&engine, 20, PATIENT).await;
    sandbox
        .fault(json!({ "vendor": "clinical", "storm_secs": 3 }))
        .await;
    let workers = spawn_workers(&db, &toml, "storm", 2);
    wait_all_completed(&db.pool, 20, Duration::from_secs(60)).await;
    drop(workers);

    let mut all = sandbox.get_requests("clinical").await;
    all.sort_by_key(at);
    let first = all
        .iter()
        .find(|r| r["status"] == 429)
        .expect("the storm was seen");
    let named = at(first) + chrono::Duration::seconds(first["retry_after"].as_i64().unwrap_or(0));
    // Requests already on their way when the first 429 came back are allowed.
    let in_flight_until = at(first) + chrono::Duration::milliseconds(300);
    let early: Vec<&Value> = all
        .iter()
        .filter(|r| at(r) > in_flight_until && at(r) < named)
        .collect();
    assert!(
        early.is_empty(),
        "{} calls before the named time {named}: {early:?}",
        early.len()
    );
    assert_eq!(failed(&db).await, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_outage_opens_the_breaker_journeys_wait_visibly_and_drain_at_the_rate() {
    let sandbox = Sandbox::start().await;
    let db = fresh_db().await;
    let rate = 10.0;
    let engine = engine_for(
        &db,
        &sandbox.config_toml(&format!(
            "rate_per_sec = {rate}\nburst = 2\nbreaker = {{ failures = 3, open_secs = 2.0 }}\n\
             retry = {{ attempts = 2, initial_ms = 50, max_ms = 200 }}"
        )),
    );
    let worker = InProcessWorker::start(engine.clone(), "outage");
    // A journey before the outage: the worker holds a valid token when it
    // begins, so what fails is the API itself, not the identity provider.
    let warm = start_vendor_probes(&engine, 1, PATIENT).await;
    wait_status(&db.pool, warm[0], "completed", Duration::from_secs(30)).await;
    sandbox
        .fault(json!({ "vendor": "clinical", "outage_secs": 30 }))
        .await;
    let outage_ends = Utc::now() + chrono::Duration::seconds(30);
    let journeys = 40;
    start_vendor_probes_from(&engine, 1, journeys, PATIENT).await;

    let (waiting, reason): (i64, String) = wait_for(
        "journeys to wait on the vendor",
        Duration::from_secs(20),
        || async {
            let row: (i64, Option<String>) = sqlx::query_as(
                "SELECT count(*), max(last_error) FROM carepath.journeys
              WHERE status = 'waiting' AND waiting_for = 'vendor:clinical' AND wake_at IS NOT NULL",
            )
            .fetch_one(&db.pool)
            .await
            .expect("waiting journeys");
            (row.0 > 0).then(|| (row.0, row.1.unwrap_or_default()))
        },
    )
    .await;
    assert!(reason.contains("circuit open"), "reason shown: {reason}");
    println!("{waiting} journeys waiting on vendor:clinical; reason: {reason}");

    wait_all_completed(&db.pool, journeys as i64 + 1, Duration::from_secs(120)).await;
    worker.shutdown().await;
    assert_eq!(failed(&db).await, 0);

    the_backlog_drained_at_the_rate(&sandbox, outage_ends, journeys, rate).await;
    let c = sandbox.counters().await;
    assert_eq!(c["duplicate_side_effects"], json!({}), "{c}");
}

/// After the outage every journey's two calls succeeded once, no faster
/// than the configured rate.
async fn the_backlog_drained_at_the_rate(
    sandbox: &Sandbox,
    outage_ends: DateTime<Utc>,
    journeys: usize,
    rate: f64,
) {
    let mut ok: Vec<DateTime<Utc>> = sandbox
        .get_requests("clinical")
        .await
        .iter()
        .filter(|r| {
            r["status"]
                .as_u64()
                .is_some_and(|s| (200..300).contains(&s))
        })
        .filter(|r| {
            !r["route"]
                .as_str()
                .unwrap_or_default()
                .ends_with("/auth/token")
        })
        .map(at)
        .filter(|t| *t >= outage_ends)
        .collect();
    ok.sort();
    assert_eq!(
        ok.len(),
        journeys * 2,
        "every call succeeded once after the outage"
    );
    let span = (ok[ok.len() - 1] - ok[0]).as_seconds_f64();
    // The bucket starts full (burst 2); after that, one call per 1/rate s.
    let drained = (ok.len() - 2) as f64 / span;
    println!(
        "backlog of {} calls drained at {drained:.1}/s (configured {rate}/s)",
        ok.len()
    );
    assert!(
        drained <= rate * 1.1,
        "drained at {drained:.1}/s, above the configured {rate}/s"
    );
}

#[tokio::test]
async fn a_vendor_422_fails_the_step_with_the_vendors_message_and_is_not_retried() {
    let sandbox = Sandbox::start().await;
    let db = fresh_db().await;
    let engine = engine_for(&db, &sandbox.config_toml(""));
    let bad = r#"{"first_name": "Test", "last_name": "Patient", "date_of_birth": "1990-01-01", "state": "ZZ"}"#;
    let ids = start_vendor_probes(&engine, 1, bad).await;
    let worker = InProcessWorker::start(engine.clone(), "rejected");
    wait_status(&db.pool, ids[0], "failed", Duration::from_secs(30)).await;
    worker.shutdown().await;
    let j = carepath_workflows::store::journeys::get(&db.pool, ids[0])
        .await
        .expect("read")
        .expect("exists");
    let error = j.last_error.unwrap_or_default();
    assert!(
        error.contains("HTTP 422") && error.contains("state"),
        "last_error: {error}"
    );
    let calls = sandbox.calls("clinical").await;
    assert_eq!(calls.len(), 1, "the rejected call was retried: {calls:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_worker_processes_share_one_vendor_rate_limit() {
    let sandbox = Sandbox::start().await;
    let db = fresh_db().await;
    let (rate, burst) = (5.0, 3);
    let toml = sandbox.config_toml(&format!("rate_per_sec = {rate}\nburst = {burst}"));
    let engine = engine_for(&db, &toml);
    let journeys = 30;
    start_vendor_probes(&engine, journeys, PATIENT).await;
    // Lost responses make steps retry their calls: the vendor must see the same keys.
    sandbox
        .fault(json!({ "vendor": "clinical", "lost_response_rate": 0.2 }))
        .await;
    let workers = spawn_workers(&db, &toml, "rate", 2);
    wait_all_completed(&db.pool, journeys as i64, Duration::from_secs(90)).await;
    drop(workers);

    let mut times: Vec<DateTime<Utc>> = sandbox.calls("clinical").await.iter().map(at).collect();
    times.sort();
    // Admission is exact; arrival times at the sandbox carry a few ms of
    // jitter, so windows are measured a little short of a second.
    let window = chrono::Duration::milliseconds(950);
    let busiest = times
        .iter()
        .map(|t| {
            times
                .iter()
                .filter(|u| **u >= *t && **u < *t + window)
                .count()
        })
        .max()
        .unwrap_or(0);
    let span = (times[times.len() - 1] - times[0]).as_seconds_f64();
    let sustained = (times.len() as f64 - f64::from(burst)) / span;
    println!(
        "{} calls; busiest 950 ms had {busiest}; sustained {sustained:.2}/s (limit {rate}/s, burst {burst})",
        times.len()
    );
    assert!(
        busiest as f64 <= rate + f64::from(burst),
        "busiest window: {busiest} calls"
    );
    assert!(
        sustained <= rate * 1.05,
        "sustained {sustained:.2}/s over {span:.1} s"
    );
    let c = sandbox.counters().await;
    assert!(
        c["idempotent_replays"].as_u64().unwrap_or(0) > 0,
        "no call was retried: {c}"
    );
    assert_eq!(c["duplicate_side_effects"], json!({}), "{c}");
}

#[tokio::test]
async fn sandbox_webhooks_are_signed_and_duplicated_as_configured() {
    let (receiver, received) = webhook_receiver().await;
    let mut settings = SandboxSettings::default();
    settings.clinician.assign_ms = 20;
    settings.clinician.decide_ms = 20;
    settings.webhooks.duplicate_rate = 1.0;
    let sandbox = Sandbox::start_with(SandboxConfig {
        webhook_url: Some(receiver),
        webhook_secret: "hook-secret".into(),
        settings,
    })
    .await;
    let db = fresh_db().await;
    let engine = engine_for(&db, &sandbox.config_toml(""));
    let ids = start_vendor_probes(&engine, 1, PATIENT).await;
    let worker = InProcessWorker::start(engine.clone(), "webhooks");
    wait_status(&db.pool, ids[0], "completed", Duration::from_secs(30)).await;
    worker.shutdown().await;

    let events = wait_for(
        "the clinician's webhooks, each twice",
        Duration::from_secs(20),
        || async {
            let v = received.lock().map(|v| v.clone()).unwrap_or_default();
            (v.len() >= 4).then_some(v)
        },
    )
    .await;
    assert!(
        events
            .iter()
            .all(|(vendor, verified, _)| vendor == "clinical" && verified.is_some())
    );
    // The clinician's decision is drawn from the configured mix: whichever it
    // was, each event arrived twice under one event id.
    let kinds: std::collections::BTreeSet<String> = events
        .iter()
        .filter_map(|(_, _, e)| e["type"].as_str().map(str::to_owned))
        .collect();
    assert!(
        kinds.contains("case.assigned") && kinds.len() == 2,
        "{kinds:?}"
    );
    for kind in &kinds {
        let copies: Vec<&Value> = events
            .iter()
            .filter(|(_, _, e)| e["type"] == kind.as_str())
            .map(|(_, _, e)| e)
            .collect();
        assert_eq!(copies.len(), 2, "{kind}: {copies:?}");
        assert_eq!(
            copies[0]["event_id"], copies[1]["event_id"],
            "a duplicate keeps its event id"
        );
    }
}

/// What a webhook receiver got: the vendor, whether the signature verified
/// under `hook-secret` (its timestamp), and the event.
type Received = std::sync::Arc<std::sync::Mutex<Vec<(String, Option<i64>, Value)>>>;

/// A webhook receiver on a loopback port that keeps whatever it is sent;
/// its base URL (for `/webhooks/{vendor}`) and what it received.
async fn webhook_receiver() -> (String, Received) {
    use axum::body::Bytes;
    use axum::http::HeaderMap;
    use carepath_activities::webhook_signature;

    let received: Received = Received::default();
    let inbox = received.clone();
    let app = axum::Router::new().route(
        "/webhooks/{vendor}",
        axum::routing::post(
            move |axum::extract::Path(vendor): axum::extract::Path<String>,
                  headers: HeaderMap,
                  body: Bytes| {
                let inbox = inbox.clone();
                async move {
                    let signature = headers
                        .get(webhook_signature::HEADER)
                        .and_then(|v| v.to_str().ok())
                        .unwrap_or_default();
                    let verified = webhook_signature::verify(&[b"hook-secret"], signature, &body);
                    let event: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
                    if let Ok(mut v) = inbox.lock() {
                        v.push((vendor, verified, event));
                    }
                    "ok"
                }
            },
        ),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind receiver");
    let receiver = format!(
        "http://{}/webhooks",
        listener.local_addr().expect("address")
    );
    tokio::spawn(async move { axum::serve(listener, app).await });
    (receiver, received)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_operators_vendor_pause_parks_journeys_and_resume_sends_them_on() {
    use carepath_api::auth::{Role, create_token};

    let sandbox = Sandbox::start().await;
    let db = fresh_db().await;
    let engine = engine_for(&db, &sandbox.config_toml(""));
    let api = serve_api(engine.clone(), VendorsConfig::default()).await;
    let token = create_token(&db.pool, "ops", Role::Operator)
        .await
        .expect("token");
    let http = reqwest::Client::new();
    let vendor_action = |action: &'static str| {
        let (http, api, token) = (http.clone(), api.clone(), token.clone());
        async move {
            let resp = http
                .post(format!("{api}/v1/vendors/clinical/{action}"))
                .bearer_auth(&token)
                .json(&json!({ "reason": "incident 7" }))
                .send()
                .await
                .expect("vendor action");
            assert!(resp.status().is_success(), "{action}: {}", resp.status());
        }
    };

    vendor_action("pause").await;
    let ids = start_vendor_probes(&engine, 5, PATIENT).await;
    // One more that, past the vendor, waits for the clinician's decision
    // (which this sandbox never sends: it has no webhook address).
    let patient: Value = serde_json::from_str(PATIENT).expect("patient JSON");
    let decision = engine
        .start(
            "vendor_probe",
            "vp-decision",
            json!({ "patient": patient, "await_decision": true }),
            &Actor::new("test"),
        )
        .await
        .expect("start")
        .journey
        .id;
    let worker = InProcessWorker::start(engine.clone(), "vendor-pause");
    wait_for(
        "all six to wait on the paused vendor",
        Duration::from_secs(30),
        || async {
            let n = count(
                &db.pool,
                "SELECT count(*) FROM carepath.journeys WHERE waiting_for = 'vendor:clinical'",
            )
            .await;
            (n == 6).then_some(())
        },
    )
    .await;
    assert!(
        sandbox.calls("clinical").await.is_empty(),
        "a call went out to a paused vendor"
    );

    vendor_action("resume").await;
    for id in ids {
        wait_status(&db.pool, id, "completed", Duration::from_secs(30)).await;
    }
    // Past the hold, the journey that now waits for the clinician no longer
    // shows the hold's error: it has moved on.
    let last_error: Option<String> = wait_for(
        "the decision journey to wait for the clinician",
        Duration::from_secs(30),
        || async {
            let row: (String, Option<String>, Option<String>) = sqlx::query_as(
                "SELECT status, waiting_for, last_error FROM carepath.journeys WHERE id = $1",
            )
            .bind(decision)
            .fetch_one(&db.pool)
            .await
            .expect("the journey");
            (row.0 == "waiting" && row.1.as_deref().is_some_and(|w| w.starts_with("signal:")))
                .then_some(row.2)
        },
    )
    .await;
    assert_eq!(
        last_error, None,
        "a moved-on journey still shows the vendor hold's error"
    );
    worker.shutdown().await;
}

/// Unthrottled vendor clients for `sandbox`: what a journey's steps call.
fn sandbox_clients(sandbox: &Sandbox, db: &TestDb) -> std::sync::Arc<Vendors> {
    let mut config = VendorsConfig::for_sandbox(&sandbox.url);
    for profile in config.vendors.values_mut() {
        profile.rate_per_sec = 1000.0;
        profile.burst = 100;
    }
    Vendors::new(&config, &db.pool).expect("vendor clients")
}

fn chart(name: &str) -> PatientRecord {
    PatientRecord {
        external_id: format!("patient-{name}"),
        first_name: name.to_owned(),
        last_name: "Tester".into(),
        date_of_birth: "1980-05-06".into(),
        sex: None,
        email: Some(format!("{name}@example.com")),
        phone: None,
        state: "CA".into(),
    }
}

/// A chart for `name`, whose cases the clinicians decide as `scenario`; its id.
async fn new_chart(sandbox: &Sandbox, vendors: &Vendors, name: &str, scenario: &str) -> String {
    sandbox
        .scenario(&format!("{name}@example.com"), scenario)
        .await;
    let created = vendors
        .clinical
        .create_patient(&chart(name), &format!("patient:{name}"))
        .await
        .expect("create patient");
    created["id"].as_str().expect("patient id").to_owned()
}

/// A case from journey `journey` (its external id and idempotency key) for
/// the patient and offering; its id.
async fn new_case(vendors: &Vendors, journey: &str, patient: &str, offering: &str) -> String {
    let case = CaseRequest {
        patient_id: patient.to_owned(),
        external_id: journey.to_owned(),
        offering_id: offering.to_owned(),
        refills: 1,
        questionnaire: json!({ "id": "q", "version": 1 }),
        answers: json!([]),
    };
    let created = vendors
        .clinical
        .create_case(&case, &format!("case:{journey}"))
        .await
        .expect("create case");
    created["id"].as_str().expect("case id").to_owned()
}

/// Waits until the case has `status`; the case.
async fn case_reaches(vendors: &Vendors, id: &str, status: &str) -> Value {
    wait_for(
        &format!("case {id} to be {status}"),
        Duration::from_secs(20),
        || async {
            let case = vendors.clinical.get_case(id).await.ok()?;
            (case["status"] == status).then_some(case)
        },
    )
    .await
}

fn order(prescription: &str, patient: &str, journey: &str, fill: u32) -> OrderRequest {
    OrderRequest {
        prescription_id: prescription.to_owned(),
        patient_id: patient.to_owned(),
        external_id: format!("{journey}:fill:{fill}"),
        fill,
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
    }
}

fn cross(open_case: u64, active_prescription: u64, order_per_fill: u64) -> Value {
    json!({ "open_case": open_case, "active_prescription": active_prescription,
            "order_per_fill": order_per_fill })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn duplicates_across_journeys_are_counted_by_patient_offering_prescription_and_fill() {
    let mut settings = SandboxSettings::default();
    settings.clinician.assign_ms = 20;
    settings.clinician.decide_ms = 20;
    let sandbox = Sandbox::start_with(SandboxConfig {
        webhook_url: None,
        webhook_secret: "test-secret".into(),
        settings: settings.clone(),
    })
    .await;
    let db = fresh_db().await;
    let vendors = sandbox_clients(&sandbox, &db);
    let c = sandbox.counters().await;
    assert_eq!(c["cross_journey_duplicates"], cross(0, 0, 0), "{c}");

    // Two open cases for one patient and offering: one too many. Another
    // offering, or another patient, is a consult of its own.
    let ann = new_chart(&sandbox, &vendors, "ann", "stall").await;
    let bob = new_chart(&sandbox, &vendors, "bob", "stall").await;
    new_case(&vendors, "j-ann-1", &ann, "glp1").await;
    new_case(&vendors, "j-ann-2", &ann, "glp1").await;
    new_case(&vendors, "j-ann-3", &ann, "dermatology").await;
    new_case(&vendors, "j-bob-1", &bob, "glp1").await;
    let c = sandbox.counters().await;
    assert_eq!(c["cross_journey_duplicates"], cross(1, 0, 0), "{c}");

    // A case after the first was declined, or withdrawn, is a new consult.
    let cy = new_chart(&sandbox, &vendors, "cy", "decline").await;
    let declined = new_case(&vendors, "j-cy-1", &cy, "glp1").await;
    case_reaches(&vendors, &declined, "declined").await;
    new_case(&vendors, "j-cy-2", &cy, "glp1").await;
    let di = new_chart(&sandbox, &vendors, "di", "stall").await;
    let withdrawn = new_case(&vendors, "j-di-1", &di, "glp1").await;
    let case = vendors
        .clinical
        .withdraw_case(&withdrawn, "the patient did not answer", "withdraw:j-di-1")
        .await
        .expect("withdraw");
    assert_eq!(case["status"], "withdrawn");
    new_case(&vendors, "j-di-2", &di, "glp1").await;
    let c = sandbox.counters().await;
    assert_eq!(c["cross_journey_duplicates"], cross(1, 0, 0), "{c}");

    // Two approvals for one patient and medication within a year: two active
    // prescriptions (the first case was closed when the second was opened).
    let eve = new_chart(&sandbox, &vendors, "eve", "approve").await;
    let first = new_case(&vendors, "j-eve-1", &eve, "glp1").await;
    let first = case_reaches(&vendors, &first, "approved").await;
    let second = new_case(&vendors, "j-eve-2", &eve, "glp1").await;
    case_reaches(&vendors, &second, "approved").await;
    let c = sandbox.counters().await;
    assert_eq!(c["cross_journey_duplicates"], cross(1, 1, 0), "{c}");

    let rx = first["prescription"]["id"]
        .as_str()
        .expect("prescription id");
    one_order_per_fill(&sandbox, &vendors, rx, &eve).await;

    // A prescription no longer active does not count against the next one.
    settings.prescription_active_secs = 0;
    sandbox
        .settings(serde_json::to_value(&settings).expect("settings"))
        .await;
    let fay = new_chart(&sandbox, &vendors, "fay", "approve").await;
    for journey in ["j-fay-1", "j-fay-2"] {
        let case = new_case(&vendors, journey, &fay, "glp1").await;
        case_reaches(&vendors, &case, "approved").await;
    }
    let c = sandbox.counters().await;
    assert_eq!(c["cross_journey_duplicates"], cross(1, 1, 1), "{c}");
}

/// Orders for prescription `rx` of patient `eve`: the first fill; the same
/// request again under its key (a retried step) is answered from the
/// record; the same fill from another journey is one too many; the next
/// fill is not.
async fn one_order_per_fill(sandbox: &Sandbox, vendors: &Vendors, rx: &str, eve: &str) {
    let placed = vendors
        .pharmacy
        .create_order(&order(rx, eve, "j-eve-1", 0), "order:j-eve-1:0")
        .await
        .expect("order");
    let again = vendors
        .pharmacy
        .create_order(&order(rx, eve, "j-eve-1", 0), "order:j-eve-1:0")
        .await
        .expect("the same order again");
    assert_eq!(placed["id"], again["id"], "a retry is the same order");
    let c = sandbox.counters().await;
    assert_eq!(c["cross_journey_duplicates"], cross(1, 1, 0), "{c}");
    assert_eq!(c["idempotent_replays"], 1, "{c}");
    vendors
        .pharmacy
        .create_order(&order(rx, eve, "j-eve-2", 0), "order:j-eve-2:0")
        .await
        .expect("a second order for the first fill");
    vendors
        .pharmacy
        .create_order(&order(rx, eve, "j-eve-1", 1), "order:j-eve-1:1")
        .await
        .expect("the refill");
    let c = sandbox.counters().await;
    assert_eq!(c["cross_journey_duplicates"], cross(1, 1, 1), "{c}");
    // None of these repeated an external id: the other counter sees nothing.
    assert_eq!(c["duplicate_side_effects"], json!({}), "{c}");
}

#[tokio::test]
async fn the_pharmacy_refuses_an_order_it_could_not_ship_naming_the_field() {
    let sandbox = Sandbox::start().await;
    let db = fresh_db().await;
    let vendors = sandbox_clients(&sandbox, &db);
    let refusal = |result: Result<Value, VendorError>| match result {
        Err(VendorError::Rejected {
            status, message, ..
        }) => (status, message),
        other => panic!("not refused: {other:?}"),
    };

    let mut nameless = order("rx_1", "pat_1", "j-1", 0);
    nameless.patient_name.last_name = String::new();
    let (status, message) = refusal(vendors.pharmacy.create_order(&nameless, "k-1").await);
    assert_eq!(status, 422);
    assert!(message.contains("patient_name.last_name"), "{message}");

    for (field, bad) in [("state", "ca"), ("postal_code", "9460"), ("city", " ")] {
        let mut o = order("rx_1", "pat_1", "j-1", 0);
        match field {
            "state" => o.ship_to.state = bad.into(),
            "postal_code" => o.ship_to.postal_code = bad.into(),
            _ => o.ship_to.city = bad.into(),
        }
        let (status, message) = refusal(
            vendors
                .pharmacy
                .create_order(&o, &format!("k-{field}"))
                .await,
        );
        assert_eq!(status, 422);
        assert!(message.contains(&format!("ship_to.{field}")), "{message}");
    }

    // As carepath sent orders before: no name, no address.
    let resp = reqwest::Client::new()
        .post(format!("{}/pharmacy/v1/orders", sandbox.url))
        .header("x-api-key", "sandbox")
        .json(&json!({ "prescription_id": "rx_1", "patient_id": "pat_1",
                       "external_id": "j-old:fill:0", "fill": 0 }))
        .send()
        .await
        .expect("post order");
    assert_eq!(resp.status(), 422);
    let body: Value = resp.json().await.expect("JSON");
    assert_eq!(
        body["error"]["fields"][0]["path"], "patient_name.first_name",
        "{body}"
    );
    assert!(sandbox.resources("order").await.is_empty());

    // A shippable order is kept as sent; no second line, no `line2`.
    let placed = vendors
        .pharmacy
        .create_order(&order("rx_1", "pat_1", "j-1", 0), "k-ok")
        .await
        .expect("order");
    assert_eq!(placed["status"], "received");
    let held = sandbox.resources("order").await;
    assert_eq!(held.len(), 1);
    assert_eq!(
        held[0]["ship_to"],
        json!({ "line1": "1 Main St", "city": "Oakland", "state": "CA", "postal_code": "94601" })
    );
    assert_eq!(
        held[0]["patient_name"],
        json!({ "first_name": "Ann", "last_name": "Lee" })
    );
    assert_eq!(held[0]["fill"], 0);
}
