//! SQL over the engine's own tables, one module per table. Queries are kept
//! here, readable, and the engine above speaks in journeys, steps, signals
//! and history events.

pub mod alerts;
pub mod arrivals;
pub mod checkpoints;
pub mod data_keys;
pub mod detail;
pub mod feed;
pub mod gauges;
pub mod history;
pub mod inbox;
pub mod journeys;
pub mod keys;
pub mod partitions;
pub mod refs;
pub mod rejections;
pub mod rewind;
pub mod signals;
pub mod snapshots;
pub mod steps;
