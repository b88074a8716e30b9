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

use carepath_activities::Vendors;
use sqlx::PgPool;

use crate::consult::AsyncConsult;
use crate::consult::intake::Questionnaires;
use crate::feeds::Feed;
use crate::{Engine, EngineConfig, Registry, Settings};

/// The built-in workflows and the telehealth journey, registered under their
/// names at version 1 (the telehealth journey also at its current version),
/// with `settings`' journey timings and patient registry keys.
///
/// # Errors
/// A bundled questionnaire that cannot be read; no search key while PHI is
/// encrypted ([`Settings::registry_keys`]).
pub fn registry(
    pool: &PgPool,
    vendors: &Arc<Vendors>,
    settings: &Settings,
) -> anyhow::Result<Registry> {
    let questionnaires = Arc::new(Questionnaires::bundled()?);
    let keys = settings.registry_keys()?;
    let consult = &settings.consult;
    let consult_journey = || {
        AsyncConsult::new(
            vendors.clone(),
            pool.clone(),
            consult.clone(),
            questionnaires.clone(),
            keys.clone(),
        )
    };
    Ok(Registry::new()
        .with(
            crate::consult::journey::NAME,
            1,
            consult_journey().version_1(),
        )
        .with(
            crate::consult::journey::NAME,
            crate::consult::journey::VERSION,
            consult_journey(),
        )
        .with("demo", 1, Demo)
        .with("noop", 1, Noop)
        .with("probe", 1, Probe::new(pool.clone()))
        .with(
            "vendor_probe",
            1,
            VendorProbe::new(vendors.clone(), pool.clone()),
        ))
}

/// An engine running every workflow above, with vendor clients, journey
/// timings and the vendors' webhook sources (`crate::webhooks`) from
/// `settings`.
pub fn engine(pool: &PgPool, settings: &Settings, config: EngineConfig) -> anyhow::Result<Engine> {
    Ok(engine_and_feeds(pool, settings, config)?.0)
}

/// What a worker runs: [`engine`], and the vendor feeds its profiles declare
/// (see [`crate::feeds`]), read with the same vendor clients as the journeys
/// and keyed by the same webhook sources as the vendors' webhooks.
///
/// # Errors
///
/// A vendor client that cannot be built, a bundled questionnaire that
/// cannot be read, or a webhook secret a vendor's scheme cannot use.
pub fn engine_and_feeds(
    pool: &PgPool,
    settings: &Settings,
    config: EngineConfig,
) -> anyhow::Result<(Engine, Vec<Feed>)> {
    let clients = Vendors::new(&settings.vendors, pool)?;
    let registry = registry(pool, &clients, settings)?;
    let sources = crate::webhooks::sources(&settings.vendors, &settings.webhook_secrets)?;
    let vault = settings.vault();
    let feeds = crate::feeds::declared(&clients, &settings.vendors, &sources, &vault);
    let mut engine = Engine::new(pool.clone(), registry, config)
        .with_webhook_sources(sources)
        .with_vault(vault);
    if let Some(key) = settings.search_key() {
        engine = engine.with_search_key(key);
    }
    Ok((engine, feeds))
}
