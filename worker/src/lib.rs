//! The `carepath` binary's library: its subcommands, the worker runtime, and
//! the private PostgreSQL used when no `DATABASE_URL` is given.

pub mod bench;
pub mod bench_console;
pub mod bench_encryption;
pub mod bench_match;
pub mod bench_scale;
pub mod bench_search;
pub mod cli;
pub mod config_check;
pub mod ctl;
pub use carepath_workflows::db;
pub mod demo;
pub mod health;
pub mod keys;
pub mod logging;
pub mod patients;
/// Re-exported so the demo, the benchmarks and the end-to-end tests keep
/// their paths; the engine's own tests use the crate directly.
pub use carepath_pgcluster as private_pg;
pub mod runtime;
