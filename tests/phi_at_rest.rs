//! PHI at rest, from the outside: consult journeys run with a marker in
//! every PHI field, then the whole database is dumped (`pg_dump`, every
//! schema) and no marker is found in it — in clear or hex-encoded — while
//! an operator who gives a reason still reads the data through the API. A
//! patient's erasure, and retention past its period, make the markers
//! unreadable through the API too, leave every history chain verifying,
//! and leave the matcher and search unable to find the patient.

mod support;

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{Value, json};
use support::consult_stack::*;
use support::*;
use uuid::Uuid;

use carepath_api::auth::Role;
use carepath_workflows::retention::RetentionConfig;

/// A patient whose every PHI field holds a marker nothing else holds, and
/// the markers (as they may be stored: matching lower-cases names).
fn marked(tag: &str, i: u32) -> (Value, Vec<String>) {
    let first = format!("Zel{tag}ina");
    let last = format!("Quor{tag}ell");
    let email = format!("mark{tag}@example.com");
    let phone = format!("+1415557{:04}", 3100 + i);
    let street = format!("{i}9 Vrin{tag}do Way");
    let external = format!("ext-{tag}-marker");
    let dob = format!("1931-02-{:02}", 10 + i);
    let patient = json!({
        "external_id": external, "first_name": first, "last_name": last,
        "date_of_birth": dob, "sex": "female", "email": email, "phone": phone,
        "address": { "line1": street, "city": "Oakland", "state": "CA", "postal_code": "94601" },
    });
    let markers = vec![
        first.to_lowercase(),
        last.to_lowercase(),
        format!("mark{tag}"),
        phone.trim_start_matches('+').to_owned(),
        format!("vrin{tag}do"),
        format!("ext-{tag}-marker"),
        dob,
        format!("frobnitz{tag}"),
    ];
    (patient, markers)
}

/// The whole database as `pg_dump` writes it (every schema, schema and
/// data), lower-cased.
fn dump(db: &TestDb) -> String {
    let pg_dump = carepath_pgcluster::server_program("pg_dump").expect("pg_dump");
    let out = std::process::Command::new(pg_dump)
        // sqlx's own URL parameters are not libpq's.
        .args([
            "--dbname",
            db.url.split('?').next().unwrap_or(&db.url),
            "--no-owner",
        ])
        .output()
        .expect("run pg_dump");
    assert!(
        out.status.success(),
        "pg_dump: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout).to_lowercase();
    if let Ok(path) = std::env::var("CAREPATH_TEST_KEEP_DUMP") {
        let _ = std::fs::write(path, &text);
    }
    text
}

/// Which of `markers` the dump holds, in clear or as bytea's hex.
fn found_in(dump: &str, markers: &[String]) -> Vec<String> {
    markers
        .iter()
        .filter(|m| {
            let hex: String = m.bytes().map(|b| format!("{b:02x}")).collect();
            dump.contains(m.as_str()) || dump.contains(&hex)
        })
        .cloned()
        .collect()
}

/// Starts a marked consult and tells it, as the patient, something only
/// it says (a signal kept for when it asks).
async fn start_marked(stack: &Stack, tag: &str, i: u32) -> (Uuid, Vec<String>) {
    let (patient, markers) = marked(tag, i);
    let id = stack
        .start_journey(&format!("phi-{tag}"), consult_input(patient, 0))
        .await;
    let (status, body) = stack
        .post(
            &stack.product,
            &format!("/v1/journeys/{id}/signals/patient_response"),
            &json!({ "event_id": format!("note-{tag}"),
                     "payload": { "round": 1, "message": format!("I take Frobnitz{tag} daily") } }),
        )
        .await;
    assert!(status.is_success(), "{status} {body}");
    (id, markers)
}

async fn input_of(stack: &Stack, id: Uuid) -> Value {
    let (status, body) = stack
        .get(
            &stack.ops,
            &format!("/v1/journeys/{id}/input?reason=ticket%2042"),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body["input"].clone()
}

async fn verifies(stack: &Stack, id: Uuid) -> bool {
    let (status, body) = stack
        .get(&stack.ops, &format!("/v1/journeys/{id}/history/verify"))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body["ok"] == json!(true)
}

async fn found_by(stack: &Stack, query: &str) -> Vec<String> {
    let (status, body) = stack
        .post(
            &stack.ops,
            "/v1/journeys/search",
            &json!({ "query": query }),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body["items"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|h| h["id"].as_str().map(str::to_owned))
        .collect()
}

fn decisive() -> Options {
    let mut options = Options::default();
    options.sandbox.clinician.approve = 1;
    options.sandbox.clinician.decline = 0;
    options.sandbox.clinician.more_info = 0;
    options.retention.completed_journeys = None;
    options
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn no_phi_in_a_database_dump_and_an_erased_patient_is_gone_for_good() {
    let stack = Stack::start(decisive()).await;
    let mut journeys = Vec::new();
    for (i, tag) in ["qzv", "xwk", "jyp"].iter().enumerate() {
        journeys.push(start_marked(&stack, tag, i as u32).await);
    }
    let ids: Vec<Uuid> = journeys.iter().map(|(id, _)| *id).collect();
    stack.wait_completed(&ids, Duration::from_secs(60)).await;
    let markers: Vec<String> = journeys.iter().flat_map(|(_, m)| m.clone()).collect();

    let leaked = found_in(&dump(&stack.db), &markers);
    assert!(leaked.is_empty(), "the database dump holds {leaked:?}");

    // An operator who says why still reads it.
    let (first, first_markers) = &journeys[0];
    let input = input_of(&stack, *first).await;
    assert_eq!(input["patient"]["first_name"], "Zelqzvina", "{input}");
    assert_eq!(
        found_by(&stack, "markqzv@example.com").await,
        [first.to_string()]
    );

    // A deletion request.
    let admin = api_token(&stack, Role::Admin).await;
    let patient = stack.output(*first).await["patient_id"].clone();
    let patient = patient.as_str().expect("the consult names its patient");
    let erase = format!("/v1/patients/{patient}/erase");
    let reason = json!({ "reason": "deletion request 7" });
    let (status, body) = stack.post(&stack.ops, &erase, &reason).await;
    assert_eq!(
        status,
        StatusCode::FORBIDDEN,
        "operators cannot erase: {body}"
    );
    let (status, body) = stack.post(&admin, &erase, &reason).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["erased_now"], true, "{body}");
    assert!(
        body["journeys"]
            .as_array()
            .is_some_and(|j| j.contains(&json!(first))),
        "{body}"
    );
    let (status, again) = stack.post(&admin, &erase, &reason).await;
    assert_eq!(
        (status, &again["erased_now"]),
        (StatusCode::OK, &json!(false)),
        "{again}"
    );

    // Read as erased, never an error; the history still verifies and says so.
    assert_eq!(input_of(&stack, *first).await, json!("erased"));
    let (_, steps) = stack
        .get(&stack.ops, &format!("/v1/journeys/{first}/steps"))
        .await;
    let outputs: Vec<&Value> = steps["steps"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|s| s.get("output"))
        .filter(|o| !o.is_null())
        .collect();
    assert!(
        !outputs.is_empty() && outputs.iter().any(|o| **o == json!("erased")),
        "{steps}"
    );
    assert!(verifies(&stack, *first).await);
    let recorded: Option<String> = sqlx::query_scalar(
        "SELECT detail->>'reason' FROM carepath.journey_history
          WHERE journey_id = $1 AND kind = 'phi_erased'",
    )
    .bind(first)
    .fetch_optional(&stack.db.pool)
    .await
    .expect("history");
    assert_eq!(recorded.as_deref(), Some("deletion request 7"));
    // The others are untouched.
    assert_eq!(
        input_of(&stack, ids[1]).await["patient"]["first_name"],
        "Zelxwkina"
    );
    assert!(verifies(&stack, ids[1]).await);

    // Search and the matcher no longer find the person.
    assert!(found_by(&stack, "markqzv@example.com").await.is_empty());
    let (again_patient, _) = marked("qzv", 0);
    let back = stack
        .start_journey("phi-qzv-returns", consult_input(again_patient, 0))
        .await;
    stack.wait_completed(&[back], Duration::from_secs(60)).await;
    let new_patient = stack.output(back).await["patient_id"].clone();
    assert_ne!(
        new_patient.as_str(),
        Some(patient),
        "the erased patient was matched"
    );
    let (status, _) = stack
        .post(&admin, "/v1/patients/not-a-patient/erase", &reason)
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let _ = first_markers;
    stack.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn retention_erases_ended_journeys_phi_and_webhook_bodies_after_their_period() {
    let mut options = decisive();
    options.retention = RetentionConfig {
        completed_journeys: Some(Duration::from_secs(2)),
        inbox_bodies: Some(Duration::from_secs(2)),
        rejected_webhooks: Some(Duration::from_secs(2)),
        unlinked_patients: Some(Duration::from_secs(2)),
        archive_months: true,
        every: Duration::from_millis(200),
    };
    let stack = Stack::start(options).await;
    let (id, markers) = start_marked(&stack, "vbn", 7).await;
    stack.wait_completed(&[id], Duration::from_secs(60)).await;
    wait_for(
        "the journey's PHI erased by retention",
        Duration::from_secs(30),
        || async { (input_of(&stack, id).await == json!("erased")).then_some(()) },
    )
    .await;
    wait_for("its webhooks' bodies erased", Duration::from_secs(30), || async {
        let left: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM carepath.webhook_inbox WHERE journey_id = $1 AND body_erased_at IS NULL",
        )
        .bind(id)
        .fetch_one(&stack.db.pool)
        .await
        .expect("count");
        (left == 0).then_some(())
    })
    .await;
    assert!(verifies(&stack, id).await);
    assert!(found_by(&stack, "markvbn@example.com").await.is_empty());
    // Its patient, now without a journey that holds PHI, goes too.
    let patient = stack.output(id).await["patient_id"].clone();
    let patient: Uuid = patient
        .as_str()
        .and_then(|p| p.parse().ok())
        .expect("patient id");
    wait_for(
        "the patient erased by retention",
        Duration::from_secs(30),
        || async {
            let erased: Option<bool> = sqlx::query_scalar(
                "SELECT erased_at IS NOT NULL FROM carepath.patients WHERE id = $1",
            )
            .bind(patient)
            .fetch_optional(&stack.db.pool)
            .await
            .expect("patient");
            (erased == Some(true)).then_some(())
        },
    )
    .await;
    let leaked = found_in(&dump(&stack.db), &markers);
    assert!(leaked.is_empty(), "the database dump holds {leaked:?}");
    stack.stop().await;
}

async fn api_token(stack: &Stack, role: Role) -> String {
    carepath_api::auth::create_token(&stack.db.pool, &format!("t-{}", Uuid::new_v4()), role)
        .await
        .expect("token")
}

const K1: &str = "k1:AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";
const K2: &str = "k2:ICEiIyQlJicoKSorLC0uLzAxMjM0NTY3ODk6Ozw9Pj8=";

/// An engine of the stack's workflows whose vault has only `ring`.
fn engine_with_ring(stack: &Stack, ring: &str) -> carepath_workflows::Engine {
    use carepath_workflows::engine::vault::KeyRing;
    use carepath_workflows::settings::KeyRingSetting;
    let settings = carepath_workflows::Settings {
        vendors: carepath_activities::VendorsConfig::for_sandbox(&stack.sandbox.url),
        key_ring: KeyRingSetting::Configured(std::sync::Arc::new(
            KeyRing::parse(ring).expect("ring"),
        )),
        ..carepath_workflows::Settings::default()
    };
    carepath_workflows::builtin::engine(&stack.db.pool, &settings, test_engine_config())
        .expect("engine")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn keys_rotate_under_load_and_a_moved_ciphertext_does_not_open() {
    let mut options = decisive();
    options.key_ring = Some(format!("{K2},{K1}"));
    let stack = Stack::start(options).await;
    // Journeys whose keys the old KEK wraps (started by a process that had
    // only it), run by workers that have both.
    let old = engine_with_ring(&stack, K1);
    let actor = carepath_workflows::Actor::new("test");
    let mut ids = Vec::new();
    let (_, consult) = old.registry().latest("async_consult").expect("the consult");
    for i in 0..20 {
        let input = consult
            .validate(consult_input(patient(100 + i), 0))
            .expect("valid");
        let key = format!("old-{i}");
        let started = old.start("async_consult", &key, input, &actor).await;
        ids.push(started.expect("start").journey.id);
    }
    // More arrive, under the new KEK, while the rotation runs.
    let starts = {
        let (http, api, product) = (stack.http.clone(), stack.api.clone(), stack.product.clone());
        tokio::spawn(async move {
            let mut ids = Vec::new();
            for i in 0..20 {
                let body = json!({ "workflow": "async_consult", "idempotency_key": format!("new-{i}"),
                                   "input": consult_input(patient(120 + i), 0) });
                let answer: Value = http
                    .post(format!("{api}/v1/journeys"))
                    .bearer_auth(&product)
                    .json(&body)
                    .send()
                    .await
                    .expect("start")
                    .json()
                    .await
                    .expect("json");
                ids.push(
                    answer["id"]
                        .as_str()
                        .and_then(|s| s.parse::<Uuid>().ok())
                        .expect("id"),
                );
            }
            ids
        })
    };
    let rotate = tokio::process::Command::new(env!("CARGO_BIN_EXE_carepath"))
        .args(["keys", "rotate", "--batch", "3"])
        .env("DATABASE_URL", &stack.db.url)
        .env("CAREPATH_KEY_RING", format!("{K2},{K1}"))
        .output()
        .await
        .expect("carepath keys rotate");
    let report = String::from_utf8_lossy(&rotate.stdout);
    assert!(
        rotate.status.success(),
        "{report}{}",
        String::from_utf8_lossy(&rotate.stderr)
    );
    ids.extend(starts.await.expect("starts"));
    stack.wait_completed(&ids, Duration::from_secs(120)).await;
    // Rotation is resumable: run again, it finds what arrived meanwhile, or nothing.
    let again = tokio::process::Command::new(env!("CARGO_BIN_EXE_carepath"))
        .args(["keys", "rotate"])
        .env("DATABASE_URL", &stack.db.url)
        .env("CAREPATH_KEY_RING", format!("{K2},{K1}"))
        .output()
        .await
        .expect("carepath keys rotate");
    assert!(again.status.success());
    let live = carepath_workflows::engine::store::data_keys::count_by_kek(&stack.db.pool)
        .await
        .expect("counts");
    assert_eq!(
        live.iter().map(|(k, _)| k.as_str()).collect::<Vec<_>>(),
        ["k2"],
        "{report}"
    );
    // Every value opens with the new KEK alone: the old one can go.
    let only_new = engine_with_ring(&stack, K2);
    for id in &ids {
        let input = only_new
            .opened_input(*id)
            .await
            .expect("opens with k2 alone");
        assert!(input.is_some_and(|i| i["patient"]["first_name"].is_string()));
    }
    let failed: i64 =
        sqlx::query_scalar("SELECT count(*) FROM carepath.journeys WHERE status <> 'completed'")
            .fetch_one(&stack.db.pool)
            .await
            .expect("count");
    assert_eq!(failed, 0);

    // A process whose ring lacks the KEK in use, or holds another key under
    // its id, is refused at start, naming the KEK.
    for (ring, says) in [
        (K1.to_owned(), "\"k2\""),
        (
            format!("k2:{}", &K1[3..]),
            "the key ring's key-encryption key \"k2\"",
        ),
    ] {
        let check = tokio::process::Command::new(env!("CARGO_BIN_EXE_carepath"))
            .args(["config", "check"])
            .env("DATABASE_URL", &stack.db.url)
            .env("CAREPATH_KEY_RING", &ring)
            .output()
            .await
            .expect("carepath config check");
        let text = String::from_utf8_lossy(&check.stdout);
        assert!(!check.status.success() && text.contains(says), "{text}");
    }

    // A sealed value moved to another journey's row does not open there.
    sqlx::query("UPDATE carepath.journeys SET input = (SELECT input FROM carepath.journeys WHERE id = $1) WHERE id = $2")
        .bind(ids[0])
        .bind(ids[1])
        .execute(&stack.db.pool)
        .await
        .expect("move");
    let moved = input_of(&stack, ids[1]).await;
    assert!(
        moved.as_str().is_some_and(|m| m.starts_with("[unreadable")),
        "{moved}"
    );
    assert!(only_new.opened_input(ids[1]).await.is_err());
    stack.stop().await;
}
