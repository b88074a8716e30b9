//! The API as the tests serve it, with test webhook secrets.

use carepath_activities::VendorsConfig;
use carepath_activities::webhook_signature::Secrets;
use carepath_workflows::{Engine, WebhookSources};

/// Every vendor signs with `test-secret` (current) or `old-secret` (previous).
pub fn test_webhook_secrets() -> Secrets {
    Secrets::for_all(&["test-secret", "old-secret"])
}

/// The webhook sources of `vendors`' profiles, with [`test_webhook_secrets`].
pub fn test_webhook_sources(vendors: &VendorsConfig) -> WebhookSources {
    carepath_workflows::webhooks::sources(vendors, &test_webhook_secrets())
        .unwrap_or_else(|e| panic!("webhook sources: {e:#}"))
}

/// The API on `listener` (bound first when its URL must be known before the
/// engine exists, e.g. for the sandbox's webhooks), with the webhook sources
/// of `vendors`' profiles and the test webhook secrets.
pub fn serve_api_on(listener: tokio::net::TcpListener, engine: Engine, vendors: VendorsConfig) {
    let sources = test_webhook_sources(&vendors);
    serve_api_with(listener, engine.with_webhook_sources(sources), vendors);
}

/// The API on `listener`, its webhook door as `engine`'s sources say.
pub fn serve_api_with(listener: tokio::net::TcpListener, engine: Engine, vendors: VendorsConfig) {
    carepath_activities::tls::install_crypto_provider();
    tokio::spawn(carepath_api::serve(
        listener,
        carepath_api::AppState {
            engine,
            vendors: std::sync::Arc::new(vendors),
        },
    ));
}

/// [`serve_api_on`], with the console set up by `console`.
pub fn serve_api_console(
    listener: tokio::net::TcpListener,
    engine: Engine,
    vendors: VendorsConfig,
    console: carepath_api::console::ConsoleConfig,
) {
    carepath_activities::tls::install_crypto_provider();
    let sources = test_webhook_sources(&vendors);
    tokio::spawn(carepath_api::serve_with(
        listener,
        carepath_api::AppState {
            engine: engine.with_webhook_sources(sources),
            vendors: std::sync::Arc::new(vendors),
        },
        console,
    ));
}

/// The API on a loopback port of its own; its base URL.
pub async fn serve_api(engine: Engine, vendors: VendorsConfig) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind the API");
    let url = format!("http://{}", listener.local_addr().expect("API address"));
    serve_api_on(listener, engine, vendors);
    url
}
