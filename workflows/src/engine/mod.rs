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
pub mod webhook_source;

use std::sync::Arc;

use sqlx::PgPool;

use config::EngineConfig;
use registry::Registry;
use webhook_source::WebhookSources;

/// Everything a worker or the API needs to drive journeys. Cheap to clone.
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
    pub fn with_webhook_sources(mut self, sources: WebhookSources) -> Self {
        self.webhooks = Arc::new(sources);
        self
    }

    /// The vendors' webhook sources (see [`webhook_source`]).
    pub fn webhook_sources(&self) -> &WebhookSources {
        &self.webhooks
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
