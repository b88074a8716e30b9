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
pub use worker::WorkerConfig;

/// Everything a worker or the API needs to drive journeys. Cheap to clone.
#[derive(Clone)]
pub struct Engine {
    pool: PgPool,
    registry: Arc<Registry>,
    config: Arc<EngineConfig>,
}

impl Engine {
    pub fn new(pool: PgPool, registry: Registry, config: EngineConfig) -> Self {
        Self {
            pool,
            registry: Arc::new(registry),
            config: Arc::new(config),
        }
    }

    pub fn pool(&self) -> &PgPool {
        &self.pool
    }

    pub fn registry(&self) -> &Registry {
        &self.registry
    }

    pub fn config(&self) -> &EngineConfig {
        &self.config
    }
}
