//! Workers as real processes against failures of their surroundings: a
//! PostgreSQL restart mid-run, a graceful shutdown, an unmigrated database.

mod support;

use std::process::{Command, Stdio};
use std::time::Duration;

use carepath::private_pg::{Durability, PrivatePostgres};
use support::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn workers_reconnect_by_themselves_after_a_postgres_restart() {
    // Its own cluster, even when DATABASE_URL is set: this test restarts it.
    let cluster = PrivatePostgres::start(Durability::Fast).expect("start a private PostgreSQL");
    let db = fresh_db_on(&cluster.url("postgres")).await;
    let journeys = 100;
    start_probes(&db.pool, journeys, 10, 30).await;
    let mut workers: Vec<WorkerProcess> = (0..2)
        .map(|i| WorkerProcess::spawn(&db.url, &format!("pg-restart-{i}")))
        .collect();

    wait_for(
        "a first journey to complete",
        Duration::from_secs(60),
        || async {
            let done = count(
                &db.pool,
                "SELECT count(*) FROM carepath.journeys WHERE status = 'completed'",
            )
            .await;
            (done > 0).then_some(())
        },
    )
    .await;
    cluster.restart().expect("restart PostgreSQL");
    let done_at_restart = count(
        &db.pool,
        "SELECT count(*) FROM carepath.journeys WHERE status = 'completed'",
    )
    .await;
    assert!(
        done_at_restart < journeys as i64,
        "the restart came after the run had finished"
    );

    wait_all_completed(&db.pool, journeys as i64, Duration::from_secs(120)).await;
    for w in &mut workers {
        w.assert_alive();
    }
    let audit = audit_probes(&db.pool).await;
    assert_eq!(audit.steps_completed, journeys as i64 * 10);
    assert_eq!(audit.effects, journeys as i64 * 10);
    assert_eq!(audit.mismatched_outputs, 0);
    drop(workers);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_hands_back_in_flight_journeys_and_leaves_no_task_running() {
    let db = fresh_db().await;
    let journeys = 60;
    start_probes(&db.pool, journeys, 8, 80).await;
    let mut leaving = WorkerProcess::spawn(&db.url, "rolling-old");
    let mut staying = WorkerProcess::spawn(&db.url, "rolling-new");
    wait_for(
        "journeys to be under way",
        Duration::from_secs(60),
        || async {
            let steps = count(&db.pool, "SELECT count(*) FROM carepath.journey_steps").await;
            (steps > 40).then_some(())
        },
    )
    .await;

    leaving.sigterm();
    let status = leaving.wait_exit(Duration::from_secs(20)).await;
    assert!(status.success(), "worker exited with {status} on SIGTERM");
    let held_by_leaver = count(
        &db.pool,
        "SELECT count(*) FROM apalis.jobs WHERE status IN ('Running', 'Queued') AND lock_by LIKE 'rolling-old-%'",
    )
    .await;
    assert_eq!(
        held_by_leaver, 0,
        "the stopped worker left tasks it had claimed"
    );

    wait_all_completed(&db.pool, journeys as i64, Duration::from_secs(120)).await;
    staying.sigterm();
    assert!(staying.wait_exit(Duration::from_secs(20)).await.success());

    let live = count(
        &db.pool,
        "SELECT count(*) FROM apalis.jobs WHERE status IN ('Running', 'Queued')",
    )
    .await;
    assert_eq!(
        live, 0,
        "tasks left Running or Queued after both workers stopped"
    );
    let audit = audit_probes(&db.pool).await;
    assert_eq!(audit.effects, journeys as i64 * 8);
    assert_eq!(audit.mismatched_outputs, 0);
    assert_eq!(audit.re_presented, 0, "a graceful stop re-ran a step");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rolling_restart_of_every_worker_loses_nothing_and_reruns_no_step() {
    let db = fresh_db().await;
    let journeys = 300;
    let steps = 6;
    start_probes(&db.pool, journeys, steps, 40).await;
    let mut workers: Vec<WorkerProcess> = (0..3)
        .map(|i| WorkerProcess::spawn(&db.url, &format!("gen0-{i}")))
        .collect();
    // As Kubernetes rolls a Deployment: a new pod starts, an old one gets
    // SIGTERM and drains, and so on for every pod.
    for (i, slot) in workers.iter_mut().enumerate() {
        wait_for(
            "progress before the next pod rolls",
            Duration::from_secs(60),
            || async {
                let before = count(&db.pool, "SELECT count(*) FROM carepath.journey_steps").await;
                (before > (i as i64 + 1) * 150).then_some(())
            },
        )
        .await;
        let replacement = WorkerProcess::spawn(&db.url, &format!("gen1-{i}"));
        let mut old = std::mem::replace(slot, replacement);
        old.sigterm();
        let status = old.wait_exit(Duration::from_secs(30)).await;
        assert!(status.success(), "worker exited with {status} on SIGTERM");
    }
    assert_not_all_completed(&db.pool, journeys, "rollout").await;
    wait_all_completed(&db.pool, journeys as i64, Duration::from_secs(180)).await;
    stop_gracefully(&mut workers).await;
    let live = count(
        &db.pool,
        "SELECT count(*) FROM apalis.jobs WHERE status IN ('Running', 'Queued')",
    )
    .await;
    assert_eq!(live, 0, "tasks left Running or Queued after the rollout");
    let stuck = count(
        &db.pool,
        "SELECT count(*) FROM carepath.journeys WHERE status <> 'completed'",
    )
    .await;
    assert_eq!(stuck, 0);
    let audit = audit_probes(&db.pool).await;
    let expected = journeys as i64 * steps as i64;
    assert_eq!(audit.steps_completed, expected, "every step checkpointed");
    assert_eq!(audit.effects, expected, "one effect per step");
    assert_eq!(audit.mismatched_outputs, 0);
    assert_eq!(audit.re_presented, 0, "a graceful rollout re-ran a step");
    assert_eq!(all_histories_verify(&db.pool).await, journeys);
}

#[tokio::test]
async fn a_worker_refuses_an_unmigrated_database_and_says_what_to_do() {
    let db = fresh_db().await;
    let empty = format!("carepath_empty_{}", uuid::Uuid::new_v4().simple());
    sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {empty}")))
        .execute(&db.pool)
        .await
        .expect("create empty database");
    let url = url_with_database(&db.url, &empty);
    let out = Command::new(env!("CARGO_BIN_EXE_carepath"))
        .arg("worker")
        .env("DATABASE_URL", &url)
        .stdin(Stdio::null())
        .output()
        .expect("run carepath worker");
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("not migrated") && stderr.contains("carepath migrate"),
        "{stderr}"
    );

    let migrate = Command::new(env!("CARGO_BIN_EXE_carepath"))
        .arg("migrate")
        .env("DATABASE_URL", &url)
        .output()
        .expect("run carepath migrate");
    assert!(
        migrate.status.success(),
        "{}",
        String::from_utf8_lossy(&migrate.stderr)
    );
}

/// `--help` shows where a setting comes from, never its value: a
/// `DATABASE_URL` carries a password, and tokens and webhook secrets are
/// secrets (issue 14).
#[test]
fn no_help_page_prints_a_secret_from_the_environment() {
    // Every page, found by walking each page's "Commands:" list.
    let mut pages: Vec<Vec<String>> = vec![vec![]];
    let mut seen = 0;
    while let Some(page) = pages.get(seen).cloned() {
        seen += 1;
        let out = Command::new(env!("CARGO_BIN_EXE_carepath"))
            .args(&page)
            .arg("--help")
            .env(
                "DATABASE_URL",
                "postgres://carepath:pw-s3cret-1@db.internal/carepath",
            )
            .env("CAREPATH_TOKEN", "tok-s3cret-2")
            .env("CAREPATH_SANDBOX_WEBHOOK_SECRET", "whsec-s3cret-3")
            .env("CAREPATH_API_URL", "http://ops:pw-s3cret-4@api.internal")
            .env("CAREPATH_CONFIG", "/etc/s3cret-5.toml")
            .stdin(Stdio::null())
            .output()
            .expect("run carepath --help");
        let text = String::from_utf8_lossy(&out.stdout).to_string()
            + &String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "{page:?}: {text}");
        assert!(text.contains("Usage"), "{page:?}: {text}");
        assert!(
            !text.contains("s3cret"),
            "{page:?} --help printed a secret:\n{text}"
        );
        let commands = text
            .lines()
            .skip_while(|l| !l.starts_with("Commands:"))
            .skip(1)
            .take_while(|l| l.starts_with("  "));
        for line in commands {
            let Some(name) = line.split_whitespace().next() else {
                continue;
            };
            if name != "help" && line.starts_with(&format!("  {name}")) {
                pages.push(page.iter().cloned().chain([name.to_owned()]).collect());
            }
        }
    }
    // The walk reached the nested pages (ctl tokens create, bench match, ...).
    assert!(seen > 30, "only {seen} help pages found");
}

/// A worker whose health and metrics port is taken refuses to start, naming
/// the address, rather than run on without `/healthz` (issue 14).
#[tokio::test]
async fn a_worker_whose_health_port_is_taken_refuses_to_start() {
    let db = fresh_db().await;
    let taken = std::net::TcpListener::bind("127.0.0.1:0").expect("bind a port");
    let addr = taken.local_addr().expect("its address").to_string();
    let mut child = Command::new(env!("CARGO_BIN_EXE_carepath"))
        .args(["worker", "--metrics-listen", &addr])
        .env("DATABASE_URL", &db.url)
        .env("RUST_LOG", "warn")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn a worker");
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait") {
            break status;
        }
        if std::time::Instant::now() > deadline {
            let _ = child.kill();
            panic!("the worker kept running with its health port taken");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let mut stderr = String::new();
    if let Some(mut pipe) = child.stderr.take() {
        use std::io::Read;
        let _ = pipe.read_to_string(&mut stderr);
    }
    assert!(!status.success());
    assert!(stderr.contains(&addr), "{stderr}");
    assert!(stderr.contains("/healthz"), "{stderr}");
    drop(taken);
}

fn carepath(args: &[&str], env: &[(&str, &str)]) -> (bool, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_carepath"))
        .args(args)
        .envs(env.iter().copied())
        .env_remove("CAREPATH_CONFIG")
        .env("RUST_LOG", "warn")
        .stdin(Stdio::null())
        .output()
        .expect("run carepath");
    let text =
        String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr);
    (out.status.success(), text)
}

/// A production configuration (no `mode = "development"`) whose profile
/// names a secret variable that is not set stops `worker`, `api` and
/// `config check`, naming the variable; set, they start, and no output
/// carries its value (issue 14: no call to a vendor with a made-up key).
#[tokio::test]
async fn a_secret_a_profile_names_but_the_environment_lacks_stops_the_process_by_name() {
    let db = fresh_db().await;
    let mut toml = String::new();
    for vendor in carepath_activities::config::VENDORS {
        let variable = format!("CP_TEST_{}_KEY", vendor.to_uppercase());
        toml.push_str(&format!(
            "[vendors.{vendor}]\nbase_url = \"http://127.0.0.1:9/{vendor}\"\n\
             auth = {{ kind = \"api_key\", header = \"x-api-key\", key_env = \"{variable}\" }}\n"
        ));
    }
    let config = write_config(&toml);
    let config = config.to_string_lossy();
    let url = [("DATABASE_URL", db.url.as_str())];
    for command in [
        &["worker", "--config", &config][..],
        &["api", "--config", &config, "--listen", "127.0.0.1:0"],
        &["config", "check", "--config", &config],
    ] {
        let (ok, text) = carepath(command, &url);
        assert!(!ok, "{command:?} started without its secrets: {text}");
        for vendor in ["CLINICAL", "PHARMACY", "NOTIFY"] {
            let variable = format!("CP_TEST_{vendor}_KEY");
            assert!(
                text.contains(&variable),
                "{command:?} did not name {variable}:\n{text}"
            );
        }
    }

    let mut env: Vec<(String, String)> = carepath_activities::config::VENDORS
        .iter()
        .map(|v| {
            (
                format!("CP_TEST_{}_KEY", v.to_uppercase()),
                format!("k-s3cret-{v}"),
            )
        })
        .collect();
    env.push(("DATABASE_URL".into(), db.url.clone()));
    // Production without a key ring starts, and says loudly that PHI is
    // stored in clear (nothing is sealed yet that it could not read).
    let without_ring: Vec<(&str, &str)> =
        env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let (ok, text) = carepath(&["config", "check", "--config", &config], &without_ring);
    assert!(ok, "{text}");
    assert!(
        text.contains("CAREPATH_KEY_RING is not set: PHI is stored IN CLEAR"),
        "{text}"
    );
    assert!(text.contains("PHI at rest: NOT sealed"), "{text}");
    const RING: &str = "k1:c2VjcmV0LWtleS1lbmNyeXB0aW9uLWtleS1vZi0zMiE=";
    env.push(("CAREPATH_KEY_RING".into(), RING.into()));
    // ... and, sealing the registry, the key its blocking keys are hashed under.
    let without_search_key: Vec<(&str, &str)> =
        env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let (ok, text) = carepath(
        &["config", "check", "--config", &config],
        &without_search_key,
    );
    assert!(!ok && text.contains("CAREPATH_SEARCH_KEY"), "{text}");
    env.push((
        "CAREPATH_SEARCH_KEY".into(),
        "s3cret-search-key-of-at-least-32-bytes".into(),
    ));
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let (ok, text) = carepath(&["config", "check", "--config", &config], &env);
    assert!(ok, "{text}");
    assert!(
        !text.contains("c2VjcmV0"),
        "config check printed the key ring:\n{text}"
    );
    assert!(text.contains("reachable and migrated"), "{text}");
    assert!(
        text.contains("PHI at rest: sealed; new data keys wrapped under KEK k1"),
        "{text}"
    );
    // No webhook secret is set: the check says every delivery would be refused.
    assert!(text.contains("CAREPATH_PHARMACY_WEBHOOK_SECRET"), "{text}");
    assert!(
        !text.contains("s3cret"),
        "config check printed a secret:\n{text}"
    );
}

/// A wrong `DATABASE_URL` gets one sentence saying what is wrong — not a
/// PostgreSQL URL, nothing listening, no such database — without the
/// password, the server's source lines or the same words twice (issue 14).
#[tokio::test]
async fn a_bad_database_url_says_what_is_wrong_once() {
    let db = fresh_db().await;
    let free_port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port();
    let missing = url_with_database(&db.url, "carepath_no_such_db");
    let cases = [
        (
            "mysql://root:pw-s3cret@127.0.0.1/carepath".to_owned(),
            "not a PostgreSQL URL",
        ),
        (
            format!("postgres://carepath:pw-s3cret@127.0.0.1:{free_port}/carepath"),
            "refused the connection",
        ),
        (missing, "does not exist"),
    ];
    for (url, says) in cases {
        let (ok, text) = carepath(&["migrate"], &[("DATABASE_URL", url.as_str())]);
        assert!(!ok, "{text}");
        assert_eq!(text.matches(says).count(), 1, "{says:?} once:\n{text}");
        assert!(!text.contains("s3cret"), "printed the password:\n{text}");
        assert!(!text.contains(" line "), "a server source line:\n{text}");
        assert!(text.contains("DATABASE_URL"), "{text}");
    }
}
