//! Shared by the end-to-end tests: a real PostgreSQL (DATABASE_URL, or one
//! private cluster per test binary), a fresh migrated database per test,
//! worker processes, and waiting on conditions with deadlines.
#![allow(dead_code)]

pub mod api;
pub mod browser;
pub mod consult_stack;
pub mod idp;
pub mod tools;

pub use api::*;

use std::future::Future;
use std::process::{Child, Command, Stdio};
use std::str::FromStr;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use carepath::db;
use carepath::private_pg::{Durability, PrivatePostgres};
use carepath::runtime::{self, WorkerConfig};
use carepath_workflows::{Engine, EngineConfig, Registry, RetryPolicy};
use sqlx::ConnectOptions;
use sqlx::PgPool;
use sqlx::postgres::PgConnectOptions;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

static SHARED: OnceLock<Result<PrivatePostgres, String>> = OnceLock::new();

/// The server tests run against: DATABASE_URL's, or this binary's private cluster.
pub fn server_url() -> String {
    if let Ok(url) = std::env::var("DATABASE_URL") {
        return url;
    }
    match SHARED
        .get_or_init(|| PrivatePostgres::start(Durability::Fast).map_err(|e| format!("{e:#}")))
    {
        Ok(pg) => pg.url("postgres"),
        Err(e) => panic!("cannot start a PostgreSQL for the tests: {e}"),
    }
}

pub fn url_with_database(server: &str, database: &str) -> String {
    let opts = PgConnectOptions::from_str(server)
        .unwrap_or_else(|e| panic!("bad DATABASE_URL: {e}"))
        .database(database);
    opts.to_url_lossy().to_string()
}

pub struct TestDb {
    pub url: String,
    pub pool: PgPool,
}

/// A new, migrated database on `server`.
pub async fn fresh_db_on(server: &str) -> TestDb {
    let name = format!("carepath_test_{}", uuid::Uuid::new_v4().simple());
    let admin = db::connect(server, 2)
        .await
        .expect("connect to the test server");
    sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
        .execute(&admin)
        .await
        .expect("create the test database");
    admin.close().await;
    let url = url_with_database(server, &name);
    let pool = db::connect(&url, 40)
        .await
        .expect("connect to the test database");
    db::migrate(&pool).await.expect("migrate the test database");
    TestDb { url, pool }
}

pub async fn fresh_db() -> TestDb {
    fresh_db_on(&server_url()).await
}

/// The encryption at rest the test processes use: development's published
/// key ring, as `Settings` gives without `CAREPATH_KEY_RING`.
pub fn test_vault() -> carepath_workflows::engine::Vault {
    carepath_workflows::settings::Settings::default().vault()
}

/// Engine timings for tests: retries in tens of milliseconds.
pub fn test_engine_config() -> EngineConfig {
    EngineConfig {
        retry: RetryPolicy {
            initial: Duration::from_millis(50),
            max: Duration::from_millis(500),
            max_attempts: 5,
        },
        busy_recheck: Duration::from_millis(200),
        unknown_version_recheck: Duration::from_millis(300),
        unmatched_grace: Duration::from_secs(2),
        gauges_every: Duration::from_millis(100),
        ..EngineConfig::default()
    }
}

pub fn test_worker_config(name: &str) -> WorkerConfig {
    let mut cfg = WorkerConfig {
        name: name.to_owned(),
        concurrency: 8,
        poll_interval: Duration::from_millis(100),
        heartbeat: Duration::from_millis(500),
        missed_heartbeats: 4,
        shutdown_grace: Duration::from_secs(10),
        reconcile_every: Duration::from_millis(300),
        ..WorkerConfig::default()
    };
    cfg.reconciler.grace = Duration::from_millis(1500);
    cfg
}

/// A worker running inside the test process.
pub struct InProcessWorker {
    stop: CancellationToken,
    handle: JoinHandle<anyhow::Result<()>>,
}

impl InProcessWorker {
    pub fn start(engine: Engine, name: &str) -> Self {
        Self::start_with_feeds(engine, Vec::new(), name)
    }

    pub async fn shutdown(self) {
        self.stop.cancel();
        self.handle
            .await
            .expect("worker task panicked")
            .expect("worker returned an error");
    }
}

/// An engine running `registry`, with every vendor's webhook source of the
/// default profiles and the test secrets ([`test_webhook_sources`]).
pub fn engine(pool: &PgPool, registry: Registry) -> Engine {
    Engine::new(pool.clone(), registry, test_engine_config())
        .with_webhook_sources(test_webhook_sources(
            &carepath_activities::VendorsConfig::default(),
        ))
        .with_vault(test_vault())
}

/// What journey `id` returned, opened if it is sealed (with the test
/// processes' key ring); `null` before it completes.
pub async fn journey_output(pool: &PgPool, id: uuid::Uuid) -> serde_json::Value {
    use carepath_workflows::engine::vault::{JourneySeal, Place};
    let stored: Option<serde_json::Value> =
        sqlx::query_scalar("SELECT output FROM carepath.journeys WHERE id = $1")
            .bind(id)
            .fetch_one(pool)
            .await
            .expect("output");
    let Some(stored) = stored else {
        return serde_json::Value::Null;
    };
    let seal = JourneySeal::for_reading(&test_vault(), pool, id)
        .await
        .expect("the journey's key");
    seal.open(&Place::journey_output(id), stored)
        .expect("the output opens")
}

/// A webhook body as `vendor`'s event `dedup_key` is stored in the inbox
/// (sealed), opened with the test processes' key ring; panics if it does
/// not open, or if it was stored plain.
pub async fn opened_inbox_body(
    pool: &PgPool,
    vendor: &str,
    dedup_key: &str,
    stored: &[u8],
) -> Vec<u8> {
    let place = carepath_workflows::engine::vault::Place::inbox_body(vendor, dedup_key);
    assert!(
        carepath_workflows::engine::vault::envelope::key_id(stored).is_some(),
        "the body of {vendor}'s {dedup_key} is stored plain"
    );
    engine(pool, Registry::new())
        .open_body(pool, &place, stored.to_vec())
        .await
        .unwrap_or_else(|e| panic!("the body of {vendor}'s {dedup_key} does not open: {e}"))
}

/// `carepath worker` as a real process, with test timings.
pub struct WorkerProcess {
    pub child: Child,
}

impl WorkerProcess {
    pub fn spawn(database_url: &str, name: &str) -> Self {
        Self::spawn_with(database_url, name, &[])
    }

    /// With extra environment, e.g. `CAREPATH_CONFIG`.
    pub fn spawn_with(database_url: &str, name: &str, env: &[(&str, &str)]) -> Self {
        let child = Command::new(env!("CARGO_BIN_EXE_carepath"))
            .envs(env.iter().copied())
            .arg("worker")
            .arg("--concurrency")
            .arg("8")
            .env("DATABASE_URL", database_url)
            .env("HOSTNAME", name)
            .env("CAREPATH_POLL_INTERVAL_MS", "100")
            .env("CAREPATH_HEARTBEAT_MS", "500")
            .env("CAREPATH_RECONCILE_MS", "300")
            .env("CAREPATH_RETRY_INITIAL_MS", "100")
            .env("CAREPATH_RETRY_MAX_MS", "1000")
            .env("CAREPATH_RETRY_MAX_ATTEMPTS", "50")
            .env("CAREPATH_SHUTDOWN_GRACE_MS", "10000")
            .env("CAREPATH_GAUGES_EVERY_MS", "100")
            .env(
                "RUST_LOG",
                std::env::var("TEST_WORKER_LOG").unwrap_or_else(|_| "warn".into()),
            )
            .stdin(Stdio::null())
            .spawn()
            .expect("spawn carepath worker");
        Self { child }
    }

    pub fn pid(&self) -> nix::unistd::Pid {
        nix::unistd::Pid::from_raw(self.child.id() as i32)
    }

    /// Fails the test if the process has exited on its own.
    pub fn assert_alive(&mut self) {
        if let Some(status) = self.child.try_wait().expect("wait on worker") {
            panic!("worker exited by itself: {status}");
        }
    }

    pub fn kill9(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    pub fn sigterm(&self) {
        nix::sys::signal::kill(self.pid(), nix::sys::signal::Signal::SIGTERM)
            .expect("send SIGTERM");
    }

    /// Waits for the process to exit; its exit status.
    pub async fn wait_exit(&mut self, timeout: Duration) -> std::process::ExitStatus {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(status) = self.child.try_wait().expect("wait on worker") {
                return status;
            }
            assert!(
                Instant::now() < deadline,
                "worker did not exit within {timeout:?}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

impl Drop for WorkerProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Polls `check` until it returns `Some`, failing the test with `what` at the deadline.
pub async fn wait_for<T, F, Fut>(what: &str, timeout: Duration, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(v) = check().await {
            return v;
        }
        assert!(
            Instant::now() < deadline,
            "timed out after {timeout:?} waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

pub async fn status_of(pool: &PgPool, id: uuid::Uuid) -> String {
    sqlx::query_scalar("SELECT status FROM carepath.journeys WHERE id = $1")
        .bind(id)
        .fetch_one(pool)
        .await
        .expect("read journey status")
}

/// Waits until the journey has `status`.
pub async fn wait_status(pool: &PgPool, id: uuid::Uuid, status: &str, timeout: Duration) {
    wait_for(&format!("journey {id} to be {status}"), timeout, || async {
        (status_of(pool, id).await == status).then_some(())
    })
    .await
}

pub async fn count(pool: &PgPool, sql: &'static str) -> i64 {
    sqlx::query_scalar(sql)
        .fetch_one(pool)
        .await
        .expect("count query")
}

/// Starts `n` built-in `probe` journeys of `steps` steps that each hold for `step_ms`.
pub async fn start_probes(pool: &PgPool, n: usize, steps: u64, step_ms: u64) -> Vec<uuid::Uuid> {
    let engine = Engine::new(
        pool.clone(),
        carepath_workflows::builtin::registry(pool, &default_vendors(pool), &Default::default())
            .expect("registry"),
        test_engine_config(),
    );
    let mut ids = Vec::with_capacity(n);
    for i in 0..n {
        let started = engine
            .start(
                "probe",
                &format!("probe-{i}"),
                serde_json::json!({ "steps": steps, "step_ms": step_ms }),
                &carepath_workflows::Actor::new("test"),
            )
            .await
            .expect("start probe journey");
        ids.push(started.journey.id);
    }
    ids
}

/// Journeys by status, e.g. `[("completed", 200)]`.
pub async fn statuses(pool: &PgPool) -> Vec<(String, i64)> {
    sqlx::query_as("SELECT status, count(*) FROM carepath.journeys GROUP BY status ORDER BY status")
        .fetch_all(pool)
        .await
        .expect("count statuses")
}

/// Asserts that not every one of `journeys` has completed yet: a disruption
/// (a rollout, a restart) that comes after the run proves nothing.
pub async fn assert_not_all_completed(pool: &PgPool, journeys: usize, disruption: &str) {
    let done = count(
        pool,
        "SELECT count(*) FROM carepath.journeys WHERE status = 'completed'",
    )
    .await;
    assert!(
        done < journeys as i64,
        "the journeys finished before the {disruption}: it proved nothing"
    );
}

/// Every worker still alive, then stopped with SIGTERM, each exiting cleanly
/// within 30 s.
pub async fn stop_gracefully(workers: &mut [WorkerProcess]) {
    for w in workers {
        w.assert_alive();
        w.sigterm();
        let status = w.wait_exit(Duration::from_secs(30)).await;
        assert!(status.success(), "worker exited with {status} on SIGTERM");
    }
}

pub async fn wait_all_completed(pool: &PgPool, n: i64, timeout: Duration) {
    wait_for(
        &format!("all {n} journeys to complete"),
        timeout,
        || async {
            let done = count(
                pool,
                "SELECT count(*) FROM carepath.journeys WHERE status = 'completed'",
            )
            .await;
            (done == n).then_some(())
        },
    )
    .await
}

/// What the probe journeys did: every step's checkpointed output must be the
/// nonce of the one effect its idempotency key produced.
pub struct ProbeAudit {
    pub steps_completed: i64,
    pub effects: i64,
    pub mismatched_outputs: i64,
    /// Effects whose key was presented more than once: interrupted steps re-run.
    pub re_presented: i64,
}

pub async fn audit_probes(pool: &PgPool) -> ProbeAudit {
    let (steps_completed, effects, mismatched_outputs, re_presented): (i64, i64, i64, i64) = sqlx::query_as(
        "SELECT
            (SELECT count(*) FROM carepath.journey_steps WHERE status = 'completed' AND kind = 'step'),
            (SELECT count(*) FROM carepath.probe_effects),
            (SELECT count(*) FROM carepath.journey_steps s
               LEFT JOIN carepath.probe_effects e
                 ON e.journey_id = s.journey_id AND e.step_key = s.key
              WHERE s.kind = 'step' AND (e.nonce IS NULL OR s.output <> to_jsonb(e.nonce::text))),
            (SELECT count(*) FROM carepath.probe_effects WHERE calls > 1)",
    )
    .fetch_one(pool)
    .await
    .expect("audit probes");
    ProbeAudit {
        steps_completed,
        effects,
        mismatched_outputs,
        re_presented,
    }
}

/// No journey's history chain is broken.
pub async fn all_histories_verify(pool: &PgPool) -> usize {
    let ids: Vec<uuid::Uuid> = sqlx::query_scalar("SELECT id FROM carepath.journeys")
        .fetch_all(pool)
        .await
        .expect("list journeys");
    for id in &ids {
        let v = carepath_workflows::store::history::verify(pool, *id)
            .await
            .expect("verify");
        assert!(v.ok, "history of {id} is broken at {:?}", v.broken_at);
    }
    ids.len()
}

/// Vendor clients pointed at the default sandbox address (unused by workflows
/// that call no vendor).
pub fn default_vendors(pool: &PgPool) -> std::sync::Arc<carepath_activities::Vendors> {
    carepath_activities::Vendors::new(&carepath_activities::VendorsConfig::default(), pool)
        .expect("vendor clients")
}

/// The sandbox vendors, served in this process on a loopback port of their own.
pub struct Sandbox {
    pub url: String,
    http: reqwest::Client,
}

impl Sandbox {
    pub async fn start() -> Self {
        Self::start_with(carepath_sandbox::SandboxConfig {
            webhook_url: None,
            webhook_secret: "test-secret".into(),
            settings: Default::default(),
        })
        .await
    }

    pub async fn start_with(config: carepath_sandbox::SandboxConfig) -> Self {
        carepath_activities::tls::install_crypto_provider();
        carepath::logging::init("warn");
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind sandbox");
        let url = format!("http://{}", listener.local_addr().expect("sandbox address"));
        tokio::spawn(carepath_sandbox::serve(listener, config));
        Self {
            url,
            http: reqwest::Client::new(),
        }
    }

    pub async fn fault(&self, fault: serde_json::Value) {
        let resp = self
            .http
            .post(format!("{}/_sandbox/faults", self.url))
            .json(&fault)
            .send()
            .await
            .expect("set fault");
        assert!(
            resp.status().is_success(),
            "fault refused: {}",
            resp.status()
        );
    }

    /// Replaces the simulated world's settings (`SandboxSettings` as JSON;
    /// what it leaves out takes its default).
    pub async fn settings(&self, settings: serde_json::Value) {
        let resp = self
            .http
            .put(format!("{}/_sandbox/settings", self.url))
            .json(&settings)
            .send()
            .await
            .expect("set sandbox settings");
        assert!(
            resp.status().is_success(),
            "settings refused: {}",
            resp.status()
        );
    }

    pub async fn counters(&self) -> serde_json::Value {
        self.get("/_sandbox/counters").await
    }

    /// The clinicians will decide `scenario` (`approve`, `decline`,
    /// `more_info`, `more_info_2`, `cancel`, `stall`) on every case created
    /// from now on for the patient whose chart has `email`.
    pub async fn scenario(&self, email: &str, scenario: &str) {
        let resp = self
            .http
            .post(format!("{}/_sandbox/scenarios", self.url))
            .json(&serde_json::json!({ "email": email, "scenario": scenario }))
            .send()
            .await
            .expect("set a scenario");
        assert!(
            resp.status().is_success(),
            "scenario refused: {}",
            resp.status()
        );
    }

    /// What the fake vendors hold of one kind (`patient`, `case`, `order`, ...).
    pub async fn resources(&self, kind: &str) -> Vec<serde_json::Value> {
        let all = self.get(&format!("/_sandbox/resources?kind={kind}")).await;
        all.as_array().cloned().unwrap_or_default()
    }

    /// Every request the vendor received, the token endpoint's included.
    pub async fn get_requests(&self, vendor: &str) -> Vec<serde_json::Value> {
        let all = self
            .get(&format!("/_sandbox/requests?vendor={vendor}"))
            .await;
        all.as_array().cloned().unwrap_or_default()
    }

    /// The vendor's requests without the token endpoint's.
    pub async fn calls(&self, vendor: &str) -> Vec<serde_json::Value> {
        self.get_requests(vendor)
            .await
            .into_iter()
            .filter(|r| {
                !r["route"]
                    .as_str()
                    .unwrap_or_default()
                    .ends_with("/auth/token")
            })
            .collect()
    }

    async fn get(&self, path: &str) -> serde_json::Value {
        self.http
            .get(format!("{}{path}", self.url))
            .send()
            .await
            .expect("sandbox request")
            .json()
            .await
            .expect("sandbox JSON")
    }

    /// Every vendor's profile pointed at this sandbox (for worker processes,
    /// which read their configuration from a file), generous limits; in
    /// development mode, so that unset secrets are the sandbox's.
    pub fn all_vendors_toml(&self) -> String {
        let profiles: String = carepath_activities::config::VENDORS
            .iter()
            .map(|vendor| {
                let auth = if *vendor == "clinical" {
                    r#"{ kind = "oauth2", token_path = "/v1/partner/auth/token", client_id = "carepath", client_secret_env = "CAREPATH_CLINICAL_CLIENT_SECRET" }"#.to_owned()
                } else {
                    format!(
                        r#"{{ kind = "api_key", header = "x-api-key", key_env = "CAREPATH_{}_API_KEY" }}"#,
                        vendor.to_uppercase()
                    )
                };
                format!(
                    "[vendors.{vendor}]\nbase_url = \"{}/{vendor}\"\nauth = {auth}\n\
                     rate_per_sec = 2000.0\nburst = 200\n\n",
                    self.url
                )
            })
            .collect();
        format!("mode = \"development\"\n{profiles}")
    }

    /// Vendor profiles for this sandbox, in development mode; `clinical` is
    /// appended as given.
    pub fn config_toml(&self, clinical: &str) -> String {
        format!(
            "mode = \"development\"\n[vendors.clinical]\nbase_url = \"{}/clinical\"\n\
             auth = {{ kind = \"oauth2\", token_path = \"/v1/partner/auth/token\", client_id = \"carepath\", client_secret_env = \"CLINICAL_SECRET\" }}\n{clinical}\n",
            self.url
        )
    }
}

/// Writes a configuration file for worker processes; its path.
pub fn write_config(text: &str) -> std::path::PathBuf {
    let path = std::env::temp_dir().join(format!(
        "carepath-test-{}.toml",
        uuid::Uuid::new_v4().simple()
    ));
    std::fs::write(&path, text).expect("write config");
    path
}

impl InProcessWorker {
    /// A worker that also reads these vendor feeds (from
    /// `builtin::engine_and_feeds`), each every `feed.every`.
    pub fn start_with_feeds(
        engine: Engine,
        feeds: Vec<carepath_workflows::feeds::Feed>,
        name: &str,
    ) -> Self {
        let retention = carepath_workflows::retention::RetentionConfig::default();
        Self::start_with(engine, feeds, retention, name)
    }

    /// A worker with these feeds that erases what `retention` says.
    pub fn start_with(
        engine: Engine,
        feeds: Vec<carepath_workflows::feeds::Feed>,
        retention: carepath_workflows::retention::RetentionConfig,
        name: &str,
    ) -> Self {
        let stop = CancellationToken::new();
        let handle = tokio::spawn(runtime::run(
            engine,
            feeds,
            retention,
            test_worker_config(name),
            stop.clone(),
        ));
        Self { stop, handle }
    }
}

impl Sandbox {
    /// Delivers every webhook a fault dropped, now (`POST
    /// /_sandbox/webhooks/redeliver`); how many.
    pub async fn redeliver(&self) -> u64 {
        let answer: serde_json::Value = self
            .http
            .post(format!("{}/_sandbox/webhooks/redeliver", self.url))
            .send()
            .await
            .expect("redeliver")
            .json()
            .await
            .expect("redeliver JSON");
        answer["redelivered"].as_u64().expect("redelivered count")
    }

    /// The webhooks dropped and not yet redelivered: `{vendor, event_id,
    /// occurred_at, body}` each.
    pub async fn dropped_webhooks(&self) -> Vec<serde_json::Value> {
        let all = self.get("/_sandbox/webhooks/dropped").await;
        all.as_array().cloned().unwrap_or_default()
    }

    /// Appends `item`, whatever it is, to the pharmacy's event feed; the
    /// feed's cursor after it.
    pub async fn add_feed_item(&self, item: &serde_json::Value) -> String {
        let answer: serde_json::Value = self
            .http
            .post(format!("{}/_sandbox/feed", self.url))
            .json(item)
            .send()
            .await
            .expect("add a feed item")
            .json()
            .await
            .expect("feed item JSON");
        answer["cursor"].as_str().expect("cursor").to_owned()
    }
}
