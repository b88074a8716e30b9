//! What every engine test needs: a real PostgreSQL (DATABASE_URL's server, or
//! one private cluster per test binary), a fresh database per test migrated
//! with the engine's own migrations and nothing else, a worker running inside
//! the test process, and waiting on conditions with deadlines.
#![allow(dead_code)]

use std::future::Future;
use std::str::FromStr;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use carepath_engine::store::steps::{self, StepRecord};
use carepath_engine::store::{history, journeys};
use carepath_engine::{
    Actor, Engine, EngineConfig, Journey, JourneyStatus, Registry, RetryPolicy, WorkerConfig,
};
use carepath_pgcluster::{Durability, PrivatePostgres};
use serde_json::Value;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::{Connection, PgConnection, PgPool};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

/// How long any one condition may take before the test fails: generous, so a
/// loaded two-core machine does not fail a correct engine.
pub const DEADLINE: Duration = Duration::from_secs(30);

static SHARED: OnceLock<Result<PrivatePostgres, String>> = OnceLock::new();

/// The server the tests run against: DATABASE_URL's, or this binary's
/// private cluster (started once, removed by its watchdog when we exit).
fn server_options() -> PgConnectOptions {
    let url = match std::env::var("DATABASE_URL") {
        Ok(url) => url,
        Err(_) => match SHARED
            .get_or_init(|| PrivatePostgres::start(Durability::Fast).map_err(|e| format!("{e:#}")))
        {
            Ok(pg) => pg.url("postgres"),
            Err(e) => panic!("cannot start a PostgreSQL for the tests: {e}"),
        },
    };
    PgConnectOptions::from_str(&url).unwrap_or_else(|e| panic!("bad DATABASE_URL: {e}"))
}

/// A new database, migrated by [`carepath_engine::migrate::run`] alone: what
/// the engine needs must be in its own migrations, not the application's.
pub async fn fresh_db() -> PgPool {
    let server = server_options();
    let name = format!("engine_test_{}", Uuid::new_v4().simple());
    let mut admin = PgConnection::connect_with(&server)
        .await
        .expect("connect to the test server");
    sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
        .execute(&mut admin)
        .await
        .expect("create the test database");
    admin.close().await.expect("close the admin connection");
    let pool = PgPoolOptions::new()
        .max_connections(20)
        .acquire_timeout(Duration::from_secs(10))
        .connect_with(server.database(&name))
        .await
        .expect("connect to the test database");
    carepath_engine::migrate::run(&pool)
        .await
        .expect("apply the engine's migrations");
    pool
}

/// Retries in tens of milliseconds, re-checks in hundreds.
pub fn engine_config() -> EngineConfig {
    EngineConfig {
        retry: RetryPolicy {
            initial: Duration::from_millis(50),
            max: Duration::from_millis(500),
            max_attempts: 5,
        },
        busy_recheck: Duration::from_millis(200),
        unknown_version_recheck: Duration::from_millis(300),
        unmatched_grace: Duration::from_secs(2),
        ..EngineConfig::default()
    }
}

pub fn engine(pool: &PgPool, registry: Registry) -> Engine {
    Engine::new(pool.clone(), registry, engine_config())
}

pub fn worker_config(name: &str) -> WorkerConfig {
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

/// The engine's worker loops ([`carepath_engine::worker::run`]) in this process.
pub struct Worker {
    stop: CancellationToken,
    handle: JoinHandle<Result<(), String>>,
}

impl Worker {
    pub fn start(engine: &Engine, name: &str) -> Self {
        let stop = CancellationToken::new();
        let run = carepath_engine::worker::run(engine.clone(), worker_config(name), stop.clone());
        let handle = tokio::spawn(async move { run.await.map_err(|e| e.to_string()) });
        Self { stop, handle }
    }

    /// Stops the loops and waits for the graceful shutdown to end.
    pub async fn shutdown(self) {
        self.stop.cancel();
        let ended = tokio::time::timeout(DEADLINE, self.handle)
            .await
            .expect("the worker did not shut down in time")
            .expect("the worker task panicked");
        if let Err(e) = ended {
            panic!("the worker's shutdown failed: {e}");
        }
    }
}

pub fn actor() -> Actor {
    Actor::new("test")
}

/// Starts a journey of `workflow` under a key of its own.
pub async fn start(engine: &Engine, workflow: &str, input: Value) -> Uuid {
    engine
        .start(workflow, &Uuid::new_v4().to_string(), input, &actor())
        .await
        .expect("start the journey")
        .journey
        .id
}

pub async fn journey(pool: &PgPool, id: Uuid) -> Journey {
    journeys::get(pool, id)
        .await
        .expect("read the journey")
        .expect("the journey exists")
}

/// Polls `check` until it returns `Some`, failing the test with `what` at the deadline.
pub async fn wait_for<T, F, Fut>(what: &str, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let deadline = Instant::now() + DEADLINE;
    loop {
        if let Some(v) = check().await {
            return v;
        }
        assert!(
            Instant::now() < deadline,
            "timed out after {DEADLINE:?} waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

/// Waits until the journey satisfies `ready`, and returns it as it was then.
/// A journey that fails when `ready` did not expect it ends the wait at once,
/// with its error.
pub async fn wait_journey(
    pool: &PgPool,
    id: Uuid,
    what: &str,
    ready: impl Fn(&Journey) -> bool,
) -> Journey {
    wait_for(&format!("journey {id} {what}"), || async {
        let j = journey(pool, id).await;
        if ready(&j) {
            return Some(j);
        }
        assert!(
            j.status != JourneyStatus::Failed,
            "journey {id} failed while waiting for it {what}: {:?}",
            j.last_error
        );
        None
    })
    .await
}

/// Waits until the journey has `status`.
pub async fn wait_status(pool: &PgPool, id: Uuid, status: JourneyStatus) -> Journey {
    wait_journey(pool, id, &format!("to be {status}"), |j| j.status == status).await
}

/// The kinds of the journey's history events, in order.
pub async fn history_kinds(pool: &PgPool, id: Uuid) -> Vec<String> {
    history::list(pool, id)
        .await
        .expect("read the history")
        .into_iter()
        .map(|e| e.kind)
        .collect()
}

/// The journey's recorded position `key` (a step, a timer or a signal wait).
pub async fn step(pool: &PgPool, id: Uuid, key: &str) -> StepRecord {
    steps::summaries(pool, id)
        .await
        .expect("read the journey's steps")
        .into_iter()
        .find(|s| s.key == key)
        .unwrap_or_else(|| panic!("journey {id} recorded no position {key:?}"))
}
