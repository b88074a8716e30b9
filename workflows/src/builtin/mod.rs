//! Workflows that ship with every worker: the demo, the step benchmark, and
//! the probe that crash tests and deployment smoke tests use.

mod demo;
mod noop;
mod probe;
mod vendor_probe;

pub use demo::Demo;
pub use noop::Noop;
pub use probe::Probe;
pub use vendor_probe::VendorProbe;

use std::sync::Arc;

use carepath_activities::{Vendors, VendorsConfig};
use sqlx::PgPool;

use crate::{Engine, EngineConfig, Registry};

/// The built-in workflows, registered under their names at version 1.
pub fn registry(pool: &PgPool, vendors: &Arc<Vendors>) -> Registry {
    Registry::new()
        .with("demo", 1, Demo)
        .with("noop", 1, Noop)
        .with("probe", 1, Probe::new(pool.clone()))
        .with(
            "vendor_probe",
            1,
            VendorProbe::new(vendors.clone(), pool.clone()),
        )
}

/// An engine running the built-in workflows, with vendor clients from `vendors`.
pub fn engine(
    pool: &PgPool,
    vendors: &VendorsConfig,
    config: EngineConfig,
) -> anyhow::Result<Engine> {
    let clients = Vendors::new(vendors, pool)?;
    Ok(Engine::new(pool.clone(), registry(pool, &clients), config))
}
