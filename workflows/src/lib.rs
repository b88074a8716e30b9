//! The journeys carepath runs (the telehealth consult and the built-in probe
//! workflows), on the durable engine of `carepath-engine`, with what is the
//! application's: its settings, its migrations, vendor feeds and metrics
//! read from its tables.

pub mod builtin;
pub mod consult;
pub mod db;
pub mod erasure;
pub mod feeds;
pub mod gauge_snapshot;
pub mod metrics;
pub mod retention;
pub mod search;
pub mod settings;
pub mod store;
pub mod webhooks;

pub use carepath_engine as engine;
pub use carepath_engine::{
    Actor, Engine, EngineConfig, EngineError, Injected, JOURNEY_QUEUE, Journey, JourneyCtx,
    JourneyStatus, JourneyTask, Registry, RetryPolicy, RewindTo, Rewound, SearchKey, SearchTerm,
    SignalOutcome, StartOutcome, StepCtx, StepError, VendorEvent, WaitingFor, WebhookSource,
    WebhookSources, Workflow, WorkflowError, journey_columns, overdue_condition, storable,
    tracecontext, vendor_wait_prefix, waiting_on_vendor_condition,
};
pub use settings::Settings;
