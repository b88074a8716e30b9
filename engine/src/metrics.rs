//! The engine's Prometheus metrics, in the process's default registry (so
//! whatever serves `/metrics` for the process serves them too). Labels carry
//! workflow and step names and outcomes, never a journey's data.

use std::sync::LazyLock;

use prometheus::{
    Histogram, HistogramVec, IntCounterVec, register_histogram, register_histogram_vec,
    register_int_counter_vec,
};

/// `carepath_steps_total{workflow, step, outcome}`: steps by outcome
/// (`started`, `succeeded`, `retried`, `failed`).
pub static STEPS: LazyLock<IntCounterVec> = LazyLock::new(|| {
    register_int_counter_vec!(
        "carepath_steps_total",
        "Journey steps by workflow, step and outcome (started, succeeded, retried, failed).",
        &["workflow", "step", "outcome"]
    )
    .unwrap_or_else(|e| panic!("metric defined twice: {e}"))
});

/// `carepath_step_duration_seconds{workflow, step}`: how long a step's work
/// took, in seconds.
pub static STEP_SECONDS: LazyLock<HistogramVec> = LazyLock::new(|| {
    register_histogram_vec!(
        "carepath_step_duration_seconds",
        "Time a step's work took, by workflow and step.",
        &["workflow", "step"],
        vec![
            0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0
        ]
    )
    .unwrap_or_else(|e| panic!("metric defined twice: {e}"))
});

/// `carepath_checkpoint_group_steps`: how many journeys' completed steps one
/// group checkpoint's transaction carried ([`crate::checkpoint`]).
pub static CHECKPOINT_GROUP_STEPS: LazyLock<Histogram> = LazyLock::new(|| {
    register_histogram!(
        "carepath_checkpoint_group_steps",
        "Completed steps written by one group checkpoint transaction.",
        vec![1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0, 128.0, 256.0]
    )
    .unwrap_or_else(|e| panic!("metric defined twice: {e}"))
});

/// `carepath_inbox_group_deliveries`: how many webhook deliveries one of the
/// door's inbox transactions stored ([`crate::arrivals`]).
pub static INBOX_GROUP_DELIVERIES: LazyLock<Histogram> = LazyLock::new(|| {
    register_histogram!(
        "carepath_inbox_group_deliveries",
        "Webhook deliveries stored by one inbox transaction of the door.",
        vec![1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0, 128.0, 256.0]
    )
    .unwrap_or_else(|e| panic!("metric defined twice: {e}"))
});
