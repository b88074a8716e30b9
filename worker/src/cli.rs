//! `carepath <command>`: environment first, flags override (ARCHITECTURE §7).

use std::time::Duration;

use anyhow::{Context, Result};
use carepath_sandbox as sandbox;
use clap::{Args, Parser, Subcommand};
use tokio_util::sync::CancellationToken;

use carepath_workflows::{EngineConfig, RetryPolicy, Settings, builtin};

use crate::runtime::WorkerConfig;
use crate::{bench, db, demo, health, logging, runtime};

#[derive(Debug, Parser)]
#[command(
    name = "carepath",
    version,
    about = "Durable telehealth patient journeys"
)]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Apply the database migrations (apalis-postgres's queue, then carepath's).
    Migrate {
        #[arg(long, env = "DATABASE_URL", hide_env_values = true)]
        database_url: String,
    },
    /// Run journeys from the queue until SIGTERM or Ctrl-C.
    Worker(WorkerArgs),
    /// Serve the HTTP API for product code and operators.
    Api(ApiArgs),
    /// Operator commands against the API.
    Ctl(crate::ctl::CtlArgs),
    /// Check a configuration file and the environment as `worker` and `api` read them.
    Config {
        #[command(subcommand)]
        which: ConfigCommand,
    },
    /// Serve the fake vendors (clinical network, pharmacy, EHR, CRM,
    /// notifications) with fault injection, for tests, benchmarks and the demo.
    Sandbox(SandboxArgs),
    /// The whole product for a few minutes: sandbox vendors, the API, two workers, a few hundred journeys, faults, and a summary.
    Demo(demo::DemoArgs),
    /// The patient registry: import a brand's registry, dry-run matching over a file, re-estimate the matching model.
    Patients {
        #[command(subcommand)]
        which: crate::patients::PatientsCommand,
    },
    /// The data keys that seal PHI at rest: rotate them to a new key-encryption key, or see where they stand.
    Keys {
        #[command(subcommand)]
        which: crate::keys::KeysCommand,
    },
    /// Benchmarks (durable commits; numbers are machine-dependent).
    Bench {
        #[command(subcommand)]
        which: BenchCommand,
    },
}

#[derive(Debug, Subcommand)]
enum ConfigCommand {
    /// Report what `worker` and `api` would refuse or warn about at start;
    /// exits 1 if they would refuse. No secret's value is printed.
    Check(crate::config_check::CheckArgs),
}

#[derive(Debug, Subcommand)]
enum BenchCommand {
    /// N journeys of K no-op steps across W worker processes.
    Steps(bench::StepsArgs),
    /// Signed webhooks posted concurrently to the API: accepted/s, time to the 200, routing lag.
    Webhooks(bench::WebhooksArgs),
    /// Patient match decisions with concurrent callers on registries of growing size: decisions/s, p50, p99.
    Match(crate::bench_match::MatchArgs),
    /// Operators' searches by business id on a database of many journeys: latency per kind.
    Search(crate::bench_search::SearchArgs),
    /// The operator console's pages on a database of many journeys: latency per page.
    Console(crate::bench_console::ConsoleArgs),
    /// Dequeue, list, search, overdue and /metrics latency as the database grows (10k, 1M, ...).
    Scale(crate::bench_scale::ScaleArgs),
    /// Durable no-op steps/s with PHI encryption at rest off and on, alternated: the ratio.
    Encryption(crate::bench_encryption::EncryptionArgs),
    /// Whole consults through the API, sandbox and two workers, encryption off and on: the ratio.
    Consult(crate::demo::bench::ConsultArgs),
}

#[derive(Debug, Args)]
pub struct WorkerArgs {
    #[arg(long, env = "DATABASE_URL", hide_env_values = true)]
    database_url: String,
    /// Journeys run at once by this process.
    #[arg(
        long,
        env = "CAREPATH_WORKER_CONCURRENCY",
        hide_env_values = true,
        default_value_t = 16
    )]
    concurrency: usize,
    /// Vendor profiles (TOML); without one, vendors are the sandbox on 127.0.0.1:8090.
    #[arg(long, env = "CAREPATH_CONFIG", hide_env_values = true)]
    config: Option<std::path::PathBuf>,
    /// Serve /healthz, /readyz and /metrics here (e.g. 0.0.0.0:9090).
    #[arg(long, env = "CAREPATH_WORKER_METRICS_LISTEN", hide_env_values = true)]
    metrics_listen: Option<String>,
    #[command(flatten)]
    tuning: EngineTuning,
}

#[derive(Debug, Args)]
pub struct ApiArgs {
    #[arg(long, env = "DATABASE_URL", hide_env_values = true)]
    database_url: String,
    #[arg(
        long,
        env = "CAREPATH_API_LISTEN",
        hide_env_values = true,
        default_value = "127.0.0.1:8080"
    )]
    listen: String,
    /// Also serve /healthz, /readyz and /metrics here (e.g. 0.0.0.0:9091), a
    /// port kept off the public ingress.
    #[arg(long, env = "CAREPATH_API_METRICS_LISTEN", hide_env_values = true)]
    metrics_listen: Option<String>,
    /// How old the database gauges and the overdue set may get before this
    /// process computes them itself (twice this; workers compute them every
    /// interval).
    #[arg(long, env = "CAREPATH_GAUGES_EVERY_MS", hide_env_values = true, default_value_t = 10_000,
          value_parser = clap::value_parser!(u64).range(50..=3_600_000))]
    gauges_every_ms: u64,
    /// PostgreSQL connections this process may hold (its pool's size).
    #[arg(long, env = "CAREPATH_API_DB_CONNECTIONS", hide_env_values = true, default_value_t = 16,
          value_parser = clap::value_parser!(u32).range(2..=1000))]
    db_connections: u32,
    /// The configuration file (TOML: mode, vendor profiles). Without one,
    /// webhooks are checked only with the CAREPATH_<VENDOR>_WEBHOOK_SECRET
    /// variables that are set; the rest are refused.
    #[arg(long, env = "CAREPATH_CONFIG", hide_env_values = true)]
    config: Option<std::path::PathBuf>,
    #[command(flatten)]
    oidc: OidcArgs,
}

/// The console's sign-in through an OpenID Connect provider: set the issuer,
/// the client id, its secret (`CAREPATH_OIDC_CLIENT_SECRET`, from the
/// environment only) and the redirect URL together, or none of them.
#[derive(Debug, Args)]
pub struct OidcArgs {
    /// The provider's issuer URL (its discovery document is under it).
    #[arg(
        long = "oidc-issuer",
        env = "CAREPATH_OIDC_ISSUER",
        hide_env_values = true
    )]
    issuer: Option<String>,
    /// The client registered for carepath at the provider.
    #[arg(
        long = "oidc-client-id",
        env = "CAREPATH_OIDC_CLIENT_ID",
        hide_env_values = true
    )]
    client_id: Option<String>,
    /// The console's callback as browsers reach it, registered at the
    /// provider: https://<host>/console/oidc/callback.
    #[arg(
        long = "oidc-redirect-url",
        env = "CAREPATH_OIDC_REDIRECT_URL",
        hide_env_values = true
    )]
    redirect_url: Option<String>,
    /// The sign-in button reads "Sign in with <label>".
    #[arg(
        long = "oidc-label",
        env = "CAREPATH_OIDC_LABEL",
        hide_env_values = true,
        default_value = "single sign-on"
    )]
    label: String,
    /// Only people whose verified email is in one of these domains
    /// (comma-separated) may sign in; unset, whoever the provider vouches for.
    #[arg(
        long = "oidc-allowed-domains",
        env = "CAREPATH_OIDC_ALLOWED_DOMAINS",
        hide_env_values = true
    )]
    allowed_domains: Option<String>,
}

impl OidcArgs {
    /// The provider's settings; `None` when no issuer is set.
    ///
    /// # Errors
    /// An issuer without the client id, secret or redirect URL.
    fn settings(&self) -> Result<Option<carepath_api::console::oidc::OidcSettings>> {
        carepath_api::console::oidc::OidcSettings::from_parts(
            self.issuer.clone(),
            self.client_id.clone(),
            std::env::var("CAREPATH_OIDC_CLIENT_SECRET").ok(),
            self.redirect_url.clone(),
            self.label.clone(),
            self.allowed_domains.clone(),
        )
        .map_err(anyhow::Error::msg)
    }
}

#[derive(Debug, Args)]
pub struct SandboxArgs {
    #[arg(
        long,
        env = "CAREPATH_SANDBOX_LISTEN",
        hide_env_values = true,
        default_value = "127.0.0.1:8090"
    )]
    listen: String,
    /// carepath's webhook inbox base, e.g. http://127.0.0.1:8080/webhooks
    #[arg(long, env = "CAREPATH_SANDBOX_WEBHOOK_URL", hide_env_values = true)]
    webhook_url: Option<String>,
    /// The secret webhooks are signed with (HMAC-SHA256).
    #[arg(
        long,
        env = "CAREPATH_SANDBOX_WEBHOOK_SECRET",
        default_value = carepath_activities::credentials::DEVELOPMENT_WEBHOOK_SECRET,
        hide_env_values = true
    )]
    webhook_secret: String,
}

/// Timings that production leaves at their defaults and tests shorten.
#[derive(Debug, Clone, Args)]
pub struct EngineTuning {
    /// How often an idle worker looks for tasks that came due.
    #[arg(
        long,
        env = "CAREPATH_POLL_INTERVAL_MS",
        hide_env_values = true,
        default_value_t = 200
    )]
    poll_interval_ms: u64,
    #[arg(
        long,
        env = "CAREPATH_HEARTBEAT_MS",
        hide_env_values = true,
        default_value_t = 2000
    )]
    heartbeat_ms: u64,
    #[arg(
        long,
        env = "CAREPATH_RECONCILE_MS",
        hide_env_values = true,
        default_value_t = 5000
    )]
    reconcile_ms: u64,
    /// First durable retry delay of a failing step; doubles per attempt.
    #[arg(
        long,
        env = "CAREPATH_RETRY_INITIAL_MS",
        hide_env_values = true,
        default_value_t = 2000
    )]
    retry_initial_ms: u64,
    #[arg(
        long,
        env = "CAREPATH_RETRY_MAX_MS",
        hide_env_values = true,
        default_value_t = 900_000
    )]
    retry_max_ms: u64,
    /// Attempts of a step after which its journey fails (visible and retryable).
    #[arg(
        long,
        env = "CAREPATH_RETRY_MAX_ATTEMPTS",
        hide_env_values = true,
        default_value_t = 12
    )]
    retry_max_attempts: u32,
    /// How long shutdown waits for in-flight journeys to reach a step boundary.
    #[arg(
        long,
        env = "CAREPATH_SHUTDOWN_GRACE_MS",
        hide_env_values = true,
        default_value_t = 30_000
    )]
    shutdown_grace_ms: u64,
    /// Inbox routers this worker runs side by side (1 to 8, the inbox's
    /// partitions).
    #[arg(long, env = "CAREPATH_INBOX_ROUTERS", hide_env_values = true, default_value_t = 4,
          value_parser = clap::value_parser!(u64).range(1..=8))]
    inbox_routers: u64,
    /// How often the deployment's database gauges and overdue set are
    /// computed (by one process at a time).
    #[arg(long, env = "CAREPATH_GAUGES_EVERY_MS", hide_env_values = true, default_value_t = 10_000,
          value_parser = clap::value_parser!(u64).range(50..=3_600_000))]
    gauges_every_ms: u64,
    /// Group checkpoints that may commit at once (completed steps of many
    /// journeys per transaction); 0 commits each step on its own.
    #[arg(long, env = "CAREPATH_CHECKPOINT_WRITERS", hide_env_values = true, default_value_t = 1,
          value_parser = clap::value_parser!(u64).range(0..=16))]
    checkpoint_writers: u64,
}

impl EngineTuning {
    pub fn engine_config(&self) -> EngineConfig {
        EngineConfig {
            retry: RetryPolicy {
                initial: Duration::from_millis(self.retry_initial_ms),
                max: Duration::from_millis(self.retry_max_ms),
                max_attempts: self.retry_max_attempts,
            },
            gauges_every: Duration::from_millis(self.gauges_every_ms),
            checkpoint_writers: usize::try_from(self.checkpoint_writers).unwrap_or(1),
            ..EngineConfig::default()
        }
    }

    pub fn worker_config(&self, concurrency: usize) -> WorkerConfig {
        let defaults = WorkerConfig::default();
        let mut reconciler = defaults.reconciler.clone();
        // Lost means overdue by more than the queue's own latency.
        reconciler.grace = Duration::from_millis(self.poll_interval_ms * 2 + 2000);
        WorkerConfig {
            name: crate::runtime::default_name(),
            concurrency,
            poll_interval: Duration::from_millis(self.poll_interval_ms),
            heartbeat: Duration::from_millis(self.heartbeat_ms),
            shutdown_grace: Duration::from_millis(self.shutdown_grace_ms),
            reconcile_every: Duration::from_millis(self.reconcile_ms),
            reconciler,
            inbox_routers: usize::try_from(self.inbox_routers).unwrap_or(1),
            ..defaults
        }
    }
}

impl Cli {
    pub async fn run(self) -> Result<()> {
        match self.command {
            Command::Migrate { database_url } => {
                logging::init("info");
                let pool = db::connect(&database_url, 2).await?;
                db::migrate(&pool).await?;
                eprintln!("migrations applied");
                Ok(())
            }
            Command::Worker(args) => {
                let telemetry =
                    logging::init_with_traces("info,apalis=warn,sqlx=warn", "carepath-worker")?;
                let result = run_worker(args).await;
                let _ = tokio::task::spawn_blocking(move || telemetry.shutdown()).await;
                result
            }
            Command::Api(args) => {
                let telemetry = logging::init_with_traces("info,sqlx=warn", "carepath-api")?;
                let result = run_api(args).await;
                let _ = tokio::task::spawn_blocking(move || telemetry.shutdown()).await;
                result
            }
            Command::Ctl(args) => crate::ctl::run(args).await,
            Command::Config {
                which: ConfigCommand::Check(args),
            } => {
                logging::init("error");
                crate::config_check::run(args).await
            }
            Command::Sandbox(args) => {
                logging::init("info");
                let listener = tokio::net::TcpListener::bind(&args.listen)
                    .await
                    .with_context(|| format!("listening on {}", args.listen))?;
                eprintln!("sandbox vendors on http://{}", listener.local_addr()?);
                sandbox::serve(
                    listener,
                    sandbox::SandboxConfig {
                        webhook_url: args.webhook_url,
                        webhook_secret: args.webhook_secret,
                        settings: sandbox::SandboxSettings::default(),
                    },
                )
                .await
            }
            Command::Demo(args) => {
                logging::init("warn,sqlx=error");
                demo::run(args).await
            }
            Command::Patients { which } => {
                logging::init("warn");
                crate::patients::run(which).await
            }
            Command::Keys { which } => {
                logging::init("warn");
                crate::keys::run(which).await
            }
            Command::Bench { which } => run_bench(which).await,
        }
    }
}

async fn run_bench(which: BenchCommand) -> Result<()> {
    match which {
        BenchCommand::Steps(args) => {
            logging::init("warn");
            bench::steps(args).await
        }
        BenchCommand::Match(args) => {
            logging::init("warn");
            crate::bench_match::run(args).await
        }
        BenchCommand::Search(args) => {
            logging::init("error"); // its load is slow statements by design
            crate::bench_search::run(args).await
        }
        BenchCommand::Console(args) => {
            logging::init("error"); // its load is slow statements by design
            crate::bench_console::run(args).await
        }
        BenchCommand::Scale(args) => {
            logging::init("error"); // its load is slow statements by design
            crate::bench_scale::run(args).await
        }
        BenchCommand::Consult(args) => {
            logging::init("warn");
            crate::demo::bench::run(args).await
        }
        BenchCommand::Encryption(args) => {
            logging::init("warn");
            crate::bench_encryption::run(args).await
        }
        BenchCommand::Webhooks(args) => {
            logging::init("warn");
            bench::webhooks(args).await
        }
    }
}

/// Refuses to start with a key ring that cannot unwrap the data keys
/// already stored (a KEK missing, or another key under its id).
async fn check_key_ring(
    pool: &sqlx::PgPool,
    vault: &carepath_workflows::engine::Vault,
) -> Result<()> {
    carepath_workflows::engine::vault::verify::key_ring(pool, vault)
        .await
        .context(
            "CAREPATH_KEY_RING cannot unwrap the data keys already stored: give every process \
             the same ring, with each key-encryption key still in use (the current first)",
        )
}

async fn run_worker(args: WorkerArgs) -> Result<()> {
    let settings = Settings::load(args.config.as_deref())?;
    // Each in-flight journey holds one connection (its lock) and its steps may
    // use another; each group checkpoint writer one while it is busy;
    // the queue and the loops a few of their own.
    let writers = args.tuning.checkpoint_writers as u32;
    let pool = db::connect(
        &args.database_url,
        args.concurrency as u32 * 2 + writers + 8,
    )
    .await?;
    db::ensure_migrated(&pool).await?;
    for warning in settings.warnings() {
        tracing::warn!("{warning}");
    }
    let (engine, feeds) = builtin::engine_and_feeds(&pool, &settings, args.tuning.engine_config())?;
    check_key_ring(&pool, engine.vault()).await?;
    // Before any journey matches a patient: what an older carepath stored in
    // clear is hashed and sealed with this deployment's keys (migration
    // 20261207000002 cannot: the keys are not in the database).
    let sealed =
        carepath_workflows::consult::patients::seal_registry(&pool, &settings.registry_keys()?)
            .await
            .context("sealing the patient registry")?;
    if sealed > 0 {
        tracing::info!(rows = sealed, "the patient registry is sealed");
    }
    let stop = CancellationToken::new();
    tokio::spawn(stop_on_signal(stop.clone()));
    if let Some(listen) = &args.metrics_listen {
        let listener =
            health::bind(listen, "--metrics-listen / CAREPATH_WORKER_METRICS_LISTEN").await?;
        let (pool, stop) = (pool.clone(), stop.clone());
        let every = engine.config().gauges_every;
        tokio::spawn(async move {
            if let Err(error) = health::serve(listener, pool, every, stop).await {
                tracing::error!(%error, "worker health server failed");
            }
        });
    }
    let cfg = args.tuning.worker_config(args.concurrency);
    tracing::info!(concurrency = cfg.concurrency, name = %cfg.name, "worker starting");
    runtime::run(engine, feeds, settings.retention.clone(), cfg, stop).await?;
    tracing::info!("worker stopped");
    Ok(())
}

async fn run_api(args: ApiArgs) -> Result<()> {
    let settings = Settings::load(args.config.as_deref())?;
    let console = carepath_api::console::ConsoleConfig {
        oidc: args.oidc.settings()?,
    };
    let pool = db::connect(&args.database_url, args.db_connections).await?;
    db::ensure_migrated(&pool).await?;
    for warning in settings.warnings() {
        tracing::warn!("{warning}");
    }
    let engine_config = EngineConfig {
        gauges_every: Duration::from_millis(args.gauges_every_ms),
        ..EngineConfig::default()
    };
    let engine = builtin::engine(&pool, &settings, engine_config)?;
    check_key_ring(&pool, engine.vault()).await?;
    let listener = tokio::net::TcpListener::bind(&args.listen)
        .await
        .with_context(|| {
            format!(
                "listening on {} (--listen / CAREPATH_API_LISTEN)",
                args.listen
            )
        })?;
    let stop = CancellationToken::new();
    if let Some(listen) = &args.metrics_listen {
        let metrics =
            health::bind(listen, "--metrics-listen / CAREPATH_API_METRICS_LISTEN").await?;
        let (pool, stop) = (pool.clone(), stop.clone());
        let every = engine.config().gauges_every;
        tokio::spawn(async move {
            if let Err(error) = health::serve(metrics, pool, every, stop).await {
                tracing::error!(%error, "api health server failed");
            }
        });
    }
    tracing::info!(listen = %listener.local_addr()?, "api serving");
    tokio::spawn(stop_on_signal(stop.clone()));
    let state = carepath_api::AppState {
        engine,
        vendors: std::sync::Arc::new(settings.vendors),
    };
    let mut public = carepath_api::router_with(state, console);
    if args.metrics_listen.is_some() {
        public = public.layer(axum::middleware::from_fn(metrics_elsewhere));
    }
    axum::serve(listener, public)
        .with_graceful_shutdown(async move { stop.cancelled().await })
        .await?;
    Ok(())
}

/// With a metrics port of its own, the public listener does not answer
/// `/metrics`: what reaches the public port (an ingress, anyone in the
/// cluster) cannot scrape it.
async fn metrics_elsewhere(
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    use axum::response::IntoResponse;
    if request.uri().path() == "/metrics" {
        return carepath_api::error::ApiError::not_found("no such route").into_response();
    }
    next.run(request).await
}

/// SIGTERM (Kubernetes) or SIGINT (Ctrl-C) starts a graceful shutdown.
async fn stop_on_signal(stop: CancellationToken) {
    use tokio::signal::unix::{SignalKind, signal};
    let Ok(mut term) = signal(SignalKind::terminate()) else {
        tracing::error!("cannot listen for SIGTERM");
        return;
    };
    tokio::select! {
        _ = term.recv() => {}
        _ = tokio::signal::ctrl_c() => {}
    }
    tracing::info!("shutdown requested: finishing or handing back in-flight journeys");
    stop.cancel();
}
