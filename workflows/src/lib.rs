//! carepath's durable journey engine and the journeys it runs.
//!
//! A journey is a row in PostgreSQL; a workflow is an async function that the
//! engine re-runs from the top each time the journey is woken, answering every
//! step it has already recorded from history (see [`JourneyCtx`]). The queue is
//! apalis-postgres: a task only says "look at journey X".

pub mod builtin;
pub mod consult;
pub mod db;
pub mod engine;
pub mod feeds;
pub mod metrics;
pub mod settings;
pub mod storable;
pub mod store;
pub mod tracecontext;
pub mod webhooks;

pub use engine::Engine;
pub use engine::config::{EngineConfig, RetryPolicy};
pub use engine::context::{JourneyCtx, StepCtx};
pub use engine::error::{EngineError, StepError, WorkflowError};
pub use engine::ops::{Actor, SignalOutcome, StartOutcome};
pub use engine::queue::{JOURNEY_QUEUE, JourneyTask};
pub use engine::registry::{Registry, Workflow};
pub use engine::webhook_source::{WebhookSource, WebhookSources};
pub use settings::Settings;
pub use store::journeys::{Journey, JourneyStatus};
