//! `carepath sandbox`: every fake vendor a journey needs, on one loopback
//! port, with realistic shapes (OAuth tokens that expire, resources with ids,
//! clinicians who decide after a delay, HMAC-signed webhooks that can arrive
//! late, twice or out of order), fault injection and counters over HTTP.
//!
//! Vendors live under their name: `/clinical/v1/partner/...` (MDI-like),
//! `/pharmacy/v1/orders`, `/ehr/fhir/{type}`, `/crm/v1/events`,
//! `/notify/v1/messages`; the pharmacy's event feed at `/pharmacy/v1/events`.
//! Controls live under `/_sandbox/`; what the clinicians decide for a
//! patient is one of them (`scenarios`).

mod clinical;
mod control;
pub mod faults;
pub mod feed;
mod pharmacy;
pub mod scenarios;
pub mod state;
mod vendors;
mod world;

use std::sync::{Arc, Mutex, MutexGuard};

use axum::Router;
use axum::routing::{any, get, post};
use tokio::net::TcpListener;

pub use faults::FaultRequest;
pub use scenarios::{Scenario, ScenarioRule};
pub use state::{Counters, CrossJourneyDuplicates, DroppedWebhook, RequestRecord, SandboxSettings};

#[derive(Debug, Clone)]
pub struct SandboxConfig {
    /// Where webhooks go (carepath's `/webhooks/{vendor}`); none are sent without it.
    pub webhook_url: Option<String>,
    pub webhook_secret: String,
    pub settings: SandboxSettings,
}

pub struct App {
    state: Mutex<state::State>,
    config: SandboxConfig,
    http: reqwest::Client,
}

impl App {
    /// The state lock is never held across an await; a poisoned lock (a panic
    /// while holding it) is recovered, since every update is self-contained.
    fn lock(&self) -> MutexGuard<'_, state::State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }
}

pub fn router(config: SandboxConfig) -> anyhow::Result<Router> {
    carepath_activities::tls::install_crypto_provider();
    let initial = state::State::new(config.settings.clone());
    let app = Arc::new(App {
        state: Mutex::new(initial),
        config,
        http: reqwest::Client::builder()
            .timeout(std::time::Duration::from_secs(10))
            .build()?,
    });
    Ok(Router::new()
        .route(
            "/_sandbox/faults",
            post(control::set_fault)
                .delete(control::clear_faults)
                .get(control::faults),
        )
        .route("/_sandbox/counters", get(control::counters))
        .route("/_sandbox/requests", get(control::requests))
        .route("/_sandbox/reset", post(control::reset))
        .route(
            "/_sandbox/scenarios",
            post(control::set_scenario).get(control::scenarios),
        )
        .route("/_sandbox/webhooks/redeliver", post(control::redeliver))
        .route("/_sandbox/webhooks/dropped", get(control::dropped))
        .route("/_sandbox/feed", post(control::feed_item))
        .route("/_sandbox/resources", get(control::resources))
        .route(
            "/_sandbox/settings",
            get(control::settings).put(control::put_settings),
        )
        .route("/{vendor}/{*rest}", any(vendors::handle))
        .with_state(app))
}

/// Serves until the process is stopped.
pub async fn serve(listener: TcpListener, config: SandboxConfig) -> anyhow::Result<()> {
    axum::serve(listener, router(config)?).await?;
    Ok(())
}
