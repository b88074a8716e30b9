//! carepath's durable journey engine: journeys, steps, signals, timers, the
//! hash-chained history, the queue, the reconciler and the webhook inbox's
//! storage and routing core, with their own migrations — and nothing of
//! telehealth, vendors or HTTP.
//!
//! A journey is a row in PostgreSQL; a workflow is an async function that the
//! engine re-runs from the top each time the journey is woken, answering every
//! step it has already recorded from history (see [`JourneyCtx`]). The queue is
//! apalis-postgres: a task only says "look at journey X".
//!
//! # Quick start
//!
//! A workflow of three steps with a signal and a timer between them: each
//! `step` runs once and is recorded, `wait_signal` and `sleep` park the
//! journey in the database (no worker is held while it waits), and the
//! function is re-run from the top when the journey wakes, answered from
//! history up to where it stopped. `cargo run -p carepath-engine --example
//! hello_journey` runs a journey like this one against `DATABASE_URL`.
//!
//! ```no_run
//! use std::time::Duration;
//!
//! use async_trait::async_trait;
//! use carepath_engine::{
//!     Actor, Engine, EngineConfig, JourneyCtx, Registry, WorkerConfig, Workflow, WorkflowError,
//! };
//! use serde_json::{Value, json};
//! use tokio_util::sync::CancellationToken;
//!
//! struct Refill;
//!
//! #[async_trait]
//! impl Workflow for Refill {
//!     fn signals(&self) -> &[&str] {
//!         &["approved"]
//!     }
//!
//!     async fn run(&self, ctx: &mut JourneyCtx, input: Value) -> Result<Value, WorkflowError> {
//!         // Anything not deterministic (a vendor call, a clock, a random id)
//!         // happens inside a step; the step's key is what a vendor sees again
//!         // if the call is retried.
//!         let order: String = ctx
//!             .step("create_order", |s| async move { Ok(format!("order {}", s.idempotency_key())) })
//!             .await?;
//!         let Some(approval) = ctx
//!             .wait_signal("approved", Some(Duration::from_secs(3 * 24 * 3600)))
//!             .await?
//!         else {
//!             return Err(WorkflowError::fail("not approved within three days"));
//!         };
//!         // A durable timer: a row, not a tokio sleep, so it survives restarts.
//!         ctx.sleep("cool_off", Duration::from_secs(3600)).await?;
//!         let shipped: bool = ctx.step("ship", |_| async { Ok(true) }).await?;
//!         Ok(json!({ "patient": input["patient"], "order": order,
//!                    "approved_by": approval["by"], "shipped": shipped }))
//!     }
//! }
//!
//! # async fn quick_start() -> anyhow::Result<()> {
//! let pool = sqlx::PgPool::connect(&std::env::var("DATABASE_URL")?).await?;
//! carepath_engine::migrate::run(&pool).await?;
//! let registry = Registry::new().with("refill", 1, Refill);
//! let engine = Engine::new(pool, registry, EngineConfig::default());
//!
//! // The worker loops: usually their own processes, here a task.
//! let stop = CancellationToken::new();
//! let worker = tokio::spawn(carepath_engine::worker::run(
//!     engine.clone(),
//!     WorkerConfig::default(),
//!     stop.clone(),
//! ));
//!
//! let actor = Actor::new("api");
//! // The idempotency key makes a repeated request return the same journey.
//! let started = engine
//!     .start("refill", "refill-p42-2026-03", json!({ "patient": "p42" }), &actor)
//!     .await?;
//! // Later, from an API handler or a webhook: the waiting journey goes on.
//! engine
//!     .signal(started.journey.id, "approved", "clinician", "approval-7",
//!             &json!({ "by": "dr-7" }), &actor)
//!     .await?;
//!
//! stop.cancel();
//! worker.await??;
//! # Ok(())
//! # }
//! ```

#![warn(missing_docs)]

pub mod arrivals;
pub mod checkpoint;
pub mod config;
pub mod context;
pub mod dispatch;
pub mod error;
mod group;
pub mod inbox;
pub mod metrics;
pub mod migrate;
pub mod ops;
pub mod queue;
pub mod reconciler;
pub mod redact;
pub mod registry;
pub mod retention;
pub mod runner;
pub mod search;
pub mod storable;
pub mod store;
pub mod tracecontext;
pub mod vault;
pub mod waiting;
pub mod webhook_source;
pub mod worker;

use std::sync::Arc;

use sqlx::PgPool;

pub use config::{EngineConfig, RetryPolicy};
pub use context::{JourneyCtx, StepCtx};
pub use error::{EngineError, StepError, WorkflowError};
pub use ops::{Actor, Injected, RewindTo, Rewound, SignalOutcome, StartOutcome, VendorEvent};
pub use queue::{JOURNEY_QUEUE, JourneyTask};
pub use registry::{Registry, Workflow};
pub use search::{SearchKey, SearchTerm};
pub use store::journeys::{Journey, JourneyStatus};
pub use vault::{Owner, Vault};
pub use waiting::WaitingFor;
pub use webhook_source::{WebhookSource, WebhookSources};
pub use worker::WorkerConfig;

/// Everything a worker or the API needs to drive journeys: the database,
/// the registered workflows, the engine's timings and the vendors' webhook
/// sources. Cheap to clone (shared behind `Arc`s).
#[derive(Clone)]
pub struct Engine {
    pool: PgPool,
    registry: Arc<Registry>,
    config: Arc<EngineConfig>,
    webhooks: Arc<WebhookSources>,
    search_key: Option<Arc<search::SearchKey>>,
    vault: Vault,
    day_key: Arc<vault::bodies::DayKey>,
    checkpoints: checkpoint::Checkpoints,
    arrivals: arrivals::Arrivals,
}

impl Engine {
    /// An engine with no webhook sources: until [`Engine::with_webhook_sources`]
    /// gives it some, every stored webhook is parked as from an unknown vendor.
    pub fn new(pool: PgPool, registry: Registry, config: EngineConfig) -> Self {
        let checkpoints = checkpoint::Checkpoints::new(pool.clone(), config.checkpoint_writers);
        let arrivals = arrivals::Arrivals::new(pool.clone(), config.inbox_writers);
        Self {
            pool,
            registry: Arc::new(registry),
            config: Arc::new(config),
            webhooks: Arc::new(WebhookSources::new()),
            search_key: None,
            vault: Vault::off(),
            day_key: Arc::default(),
            checkpoints,
            arrivals,
        }
    }

    /// This engine with `sources` for the vendors' webhooks: what the
    /// webhook door verifies and keys deliveries by, and what the inbox
    /// router routes stored events by. Replaces any it had.
    #[must_use]
    pub fn with_webhook_sources(mut self, sources: WebhookSources) -> Self {
        self.webhooks = Arc::new(sources);
        self
    }

    /// The vendors' webhook sources (see [`webhook_source`]).
    pub fn webhook_sources(&self) -> &WebhookSources {
        &self.webhooks
    }

    /// The database the engine's tables live in.
    pub fn pool(&self) -> &PgPool {
        &self.pool
    }

    /// The registered workflows.
    pub fn registry(&self) -> &Registry {
        &self.registry
    }

    /// The engine's timings.
    pub fn config(&self) -> &EngineConfig {
        &self.config
    }

    /// This engine sealing PHI at rest with `vault` ([`vault`]): without
    /// it, nothing is sealed, and what was sealed does not open.
    #[must_use]
    pub fn with_vault(mut self, vault: Vault) -> Self {
        self.vault = vault;
        self
    }

    /// The engine's encryption at rest.
    pub fn vault(&self) -> &Vault {
        &self.vault
    }
}
