//! The worker's (and optionally the API's) own small HTTP server (`--metrics-listen`): `/healthz` (the
//! process is alive), `/readyz` (its database is reachable and migrated) and
//! `/metrics` (Prometheus), for Kubernetes probes and scrapes.

use axum::Router;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::get;
use sqlx::PgPool;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// `gauges_every`: how often the deployment's database gauges are computed
/// ([`carepath_workflows::gauge_snapshot`]).
pub fn router(pool: PgPool, gauges_every: Duration) -> Router {
    Router::new()
        .route("/healthz", get(|| async { "ok\n" }))
        .route("/readyz", get(ready))
        .route("/metrics", get(metrics))
        .with_state((pool, gauges_every))
}

async fn ready(State((pool, _)): State<(PgPool, Duration)>) -> impl IntoResponse {
    match crate::db::ensure_migrated(&pool).await {
        Ok(()) => (StatusCode::OK, "ready\n".to_owned()),
        Err(e) => (StatusCode::SERVICE_UNAVAILABLE, format!("{e:#}\n")),
    }
}

async fn metrics(State((pool, every)): State<(PgPool, Duration)>) -> impl IntoResponse {
    match carepath_workflows::metrics::render(&pool, every).await {
        Ok(text) => (
            StatusCode::OK,
            [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
            text,
        ),
        Err(e) => (
            StatusCode::SERVICE_UNAVAILABLE,
            [(header::CONTENT_TYPE, "text/plain")],
            format!("metrics unavailable: {e}\n"),
        ),
    }
}

/// Binds `listen` (`host:port`), so that a process whose health port is
/// taken refuses to start rather than run on without `/healthz`; `setting`
/// names where the address came from (flag and variable).
///
/// # Errors
/// The address does not parse or cannot be bound (taken, not local); the
/// message names it.
pub async fn bind(listen: &str, setting: &str) -> anyhow::Result<tokio::net::TcpListener> {
    tokio::net::TcpListener::bind(listen).await.map_err(|e| {
        anyhow::anyhow!("cannot serve /healthz, /readyz and /metrics on {listen} ({setting}): {e}")
    })
}

/// Serves on `listener` until `stop`.
pub async fn serve(
    listener: tokio::net::TcpListener,
    pool: PgPool,
    gauges_every: Duration,
    stop: CancellationToken,
) -> anyhow::Result<()> {
    tracing::info!(listen = %listener.local_addr()?, "health and metrics serving");
    axum::serve(listener, router(pool, gauges_every))
        .with_graceful_shutdown(async move { stop.cancelled().await })
        .await?;
    Ok(())
}
