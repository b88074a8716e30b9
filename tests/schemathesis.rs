//! The OpenAPI document against the API it describes. Schemathesis (PyPI
//! `schemathesis`, 4.x) reads /openapi.json and sends every operation valid
//! and invalid requests, once per role, checking every answer: no 5xx, every
//! status and body documented, valid data accepted, invalid data refused,
//! authentication enforced. Its settings beyond the command line are in
//! tests/schemathesis.toml.

mod support;

use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use carepath_activities::webhook_signature;
use carepath_api::auth::{Role, create_token};
use carepath_workflows::builtin::{Demo, Noop, Probe};
use carepath_workflows::{Actor, Registry};
use serde_json::json;
use support::*;
use tokio::process::Command;

/// Test cases per operation and phase: with these the three runs take about
/// a minute and a half on two cores.
const MAX_EXAMPLES: &str = "60";
/// A run that takes longer than this is stopped and fails the test: a
/// guard against a hang (a stream read to its end, say), not a measure of
/// speed. A run takes about 40 s on an idle two-core machine, and several
/// times that while the machine builds.
const RUN_LIMIT: Duration = Duration::from_secs(600);
/// Fixed, so that a failure in CI replays; `SCHEMATHESIS_SEED` explores others.
const DEFAULT_SEED: &str = "1";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_api_answers_as_its_openapi_document_says_for_every_role() {
    let Some(python) = tools::or_skip(
        "the_api_answers_as_its_openapi_document_says_for_every_role",
        tools::python(),
    ) else {
        return;
    };
    let version = installed_version(&python).await;
    println!("{version}");
    // A 5xx's cause, logged by the handler, next to Schemathesis's report.
    carepath::logging::init("error");

    let db = fresh_db().await;
    // Workflows that take any input, so that valid starts are accepted; the
    // demo waits for a `review` signal.
    let registry = Registry::new()
        .with("noop", 1, Noop)
        .with("demo", 1, Demo)
        .with("probe", 1, Probe::new(db.pool.clone()));
    let engine = engine(&db.pool, registry);
    let url = serve_api(engine.clone(), Default::default()).await;
    seed(&engine, &url).await;

    let mut failed = Vec::new();
    for (role, name) in [
        (Role::Product, "schemathesis-product"),
        (Role::Operator, "schemathesis-operator"),
        (Role::Admin, "schemathesis-admin"),
    ] {
        let token = create_token(&db.pool, name, role)
            .await
            .expect("create the role's token");
        let (ok, report) = run(&python, &url, &token).await;
        // The summary of each run, pass or fail: operations, cases, time.
        let summary: Vec<&str> = report
            .lines()
            .skip_while(|l| !l.contains("SUMMARY"))
            .collect();
        println!("--- {} ---\n{}", role.as_str(), summary.join("\n"));
        if !ok {
            failed.push((role, report));
        }
    }
    for (role, report) in &failed {
        eprintln!("===== schemathesis as {} =====\n{report}", role.as_str());
    }
    assert!(
        failed.is_empty(),
        "Schemathesis found the API and its document disagreeing for: {:?} (reports above)",
        failed.iter().map(|(r, _)| r.as_str()).collect::<Vec<_>>()
    );
}

/// What the document says of every operation, checked whether or not
/// Schemathesis is installed: a body can be malformed (400) or too large
/// (413); the health, metrics, document and webhook routes need no token,
/// every other route a bearer token.
#[test]
fn bodies_may_be_refused_and_only_public_routes_go_without_a_token() {
    let doc = serde_json::to_value(carepath_api::openapi()).expect("the document as JSON");
    assert_eq!(
        doc["security"],
        json!([{ "bearer": [] }]),
        "bearer by default"
    );
    let public = |path: &str| {
        ["/healthz", "/readyz", "/metrics", "/openapi.json"].contains(&path)
            || path.starts_with("/webhooks/")
    };
    let paths = doc["paths"].as_object().expect("paths");
    for (path, item) in paths {
        for (method, op) in item.as_object().expect("path item") {
            let what = format!("{method} {path}");
            if op.get("requestBody").is_some() {
                for status in ["400", "413"] {
                    assert!(op["responses"].get(status).is_some(), "{what}: no {status}");
                }
            }
            let anonymous = op["security"].as_array().is_some_and(|r| {
                r.iter()
                    .all(|req| req.as_object().is_some_and(|o| o.is_empty()))
            });
            if public(path) {
                assert!(anonymous, "{what} needs no token: {}", op["security"]);
            } else {
                assert!(
                    op.get("security").is_none(),
                    "{what} needs the bearer token"
                );
            }
        }
    }
}

/// The Schemathesis CLI of the tests' virtualenv, run as a module.
fn schemathesis(python: &Path) -> Command {
    let mut command = Command::new(python);
    command.args(["-m", "schemathesis.cli"]);
    command
}

/// Schemathesis's version line.
async fn installed_version(python: &Path) -> String {
    let out = schemathesis(python)
        .arg("--version")
        .stdin(Stdio::null())
        .output()
        .await
        .expect("schemathesis --version");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

/// Data for the runs to find: journeys of each workflow, stored webhooks
/// and a rejected one, so that listings and inbox entries are not all empty.
async fn seed(engine: &carepath_workflows::Engine, url: &str) {
    for (i, workflow) in ["noop", "demo", "probe"].into_iter().enumerate() {
        engine
            .start(
                workflow,
                &format!("seed-{i}"),
                json!({}),
                &Actor::new("test"),
            )
            .await
            .expect("start a seed journey");
    }
    let http = reqwest::Client::new();
    for (i, secret) in ["test-secret", "test-secret", "wrong-secret"]
        .into_iter()
        .enumerate()
    {
        let body =
            serde_json::to_vec(&json!({ "event_id": format!("evt-{i}"), "type": "case.updated" }))
                .expect("webhook body");
        let signature =
            webhook_signature::sign(secret.as_bytes(), chrono::Utc::now().timestamp(), &body);
        let status = http
            .post(format!("{url}/webhooks/clinical"))
            .header(webhook_signature::HEADER, signature)
            .header("content-type", "application/json")
            .body(body)
            .send()
            .await
            .expect("send a seed webhook")
            .status();
        let expected = if secret == "test-secret" { 200 } else { 401 };
        assert_eq!(status.as_u16(), expected, "seed webhook {i}");
    }
}

/// One Schemathesis run with `token`: whether it passed, and its report.
async fn run(python: &Path, url: &str, token: &str) -> (bool, String) {
    let config = concat!(env!("CARGO_MANIFEST_DIR"), "/../tests/schemathesis.toml");
    let seed = std::env::var("SCHEMATHESIS_SEED").unwrap_or_else(|_| DEFAULT_SEED.into());
    // Its own folder: Schemathesis may write reports and caches where it runs.
    let dir = std::env::temp_dir().join(format!("carepath-schemathesis-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir).expect("create a folder for the run");
    let child = schemathesis(python)
        .current_dir(&dir)
        .args(["--config-file", config, "--no-color", "run"])
        .arg(format!("{url}/openapi.json"))
        .arg("--header")
        .arg(format!("Authorization: Bearer {token}"))
        // Every check: see the config file.
        .args(["--mode", "all"])
        .args(["--max-examples", MAX_EXAMPLES, "--seed", &seed])
        // One worker: with two, Hypothesis's concurrent `ast.parse` trips a
        // CPython 3.11 SystemError (a runtime error in the report, not a finding).
        .args(["--workers", "1", "--generation-database", "none"])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("start schemathesis");
    let out = tokio::time::timeout(RUN_LIMIT, child.wait_with_output())
        .await
        .unwrap_or_else(|_| panic!("schemathesis ran longer than {RUN_LIMIT:?}"))
        .expect("wait for schemathesis");
    let _ = std::fs::remove_dir_all(&dir);
    let report = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), report)
}
