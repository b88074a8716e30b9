//! The engine: how journeys start, run, wait, retry and are steered.

pub mod config;
pub mod context;
pub mod error;
pub mod inbox;
pub mod ops;
pub mod queue;
pub mod reconciler;
pub mod registry;
pub mod runner;

use std::sync::Arc;

use sqlx::PgPool;

use config::EngineConfig;
use registry::Registry;

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
