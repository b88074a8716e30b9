//! The engine's guarantees, tested on the engine crate alone: each test gets a
//! fresh database that only the engine's migrations built, and runs the
//! engine's worker loops in this process.

mod support;

mod arrivals;
mod checkpoints;
mod history;
mod nondeterminism;
mod partitions;
mod repair;
mod replay;
mod retry;
mod suspend;
