//! carepath's durable journey engine: journeys, steps, signals, timers, the
//! hash-chained history, the queue, the reconciler and the webhook inbox's
//! storage and routing core, with their own migrations — and nothing of
//! telehealth, vendors or HTTP.
//!
//! A journey is a row in PostgreSQL; a workflow is an async function that the
//! engine re-runs from the top each time the journey is woken, answering every
//! step it has already recorded from history (see [`JourneyCtx`]). The queue is
//! apalis-postgres: a task only says "look at journey X".

pub mod config;
pub mod context;
pub mod error;
pub mod inbox;
pub mod metrics;
pub mod migrate;
pub mod ops;
pub mod queue;
pub mod reconciler;
pub mod registry;
pub mod runner;
pub mod storable;
pub mod store;
pub mod tracecontext;
pub mod waiting;
pub mod webhook_source;
pub mod worker;

use std::sync::Arc;

use sqlx::PgPool;

pub use config::{EngineConfig, RetryPolicy};
pub use context::{JourneyCtx, StepCtx};
pub use error::{EngineError, StepError, WorkflowError};
pub use ops::{Actor, SignalOutcome, StartOutcome};
pub use queue::{JOURNEY_QUEUE, JourneyTask};
pub use registry::{Registry, Workflow};
pub use store::journeys::{Journey, JourneyStatus};
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
}

impl Engine {
    /// An engine with no webhook sources: until [`Engine::with_webhook_sources`]
    /// gives it some, every stored webhook is parked as from an unknown vendor.
    pub fn new(pool: PgPool, registry: Registry, config: EngineConfig) -> Self {
        Self {
            pool,
            registry: Arc::new(registry),
            config: Arc::new(config),
            webhooks: Arc::new(WebhookSources::new()),
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
}
