//! The worker process: the engine's loops (journeys, reconciler, inbox
//! router: [`carepath_engine::worker`]) and, beside them, the readers of
//! vendors' event feeds.

use std::time::Duration;

use anyhow::Result;
use carepath_workflows::Engine;
use carepath_workflows::erasure;
use carepath_workflows::feeds::Feed;
use carepath_workflows::retention::RetentionConfig;
use sqlx::PgPool;
use tokio_util::sync::CancellationToken;

pub use carepath_engine::worker::WorkerConfig;

/// The machine's host name when HOSTNAME is unset (outside Kubernetes).
pub fn default_name() -> String {
    std::env::var("HOSTNAME")
        .ok()
        .filter(|h| !h.is_empty())
        .or_else(|| {
            nix::unistd::gethostname()
                .ok()
                .and_then(|h| h.into_string().ok())
        })
        .unwrap_or_else(|| "carepath".into())
}

/// Runs until `stop` is cancelled, then shuts down gracefully. Besides the
/// journeys, it reads each of `feeds` every `feed.every` (none: `Vec::new()`;
/// a worker's come from `carepath_workflows::builtin::engine_and_feeds`).
///
/// # Errors
/// The queue's monitor failing to shut down cleanly.
pub async fn run(
    engine: Engine,
    feeds: Vec<Feed>,
    retention: RetentionConfig,
    cfg: WorkerConfig,
    stop: CancellationToken,
) -> Result<()> {
    let readers: Vec<_> = feeds
        .into_iter()
        .map(|feed| tokio::spawn(feed_loop(feed, engine.pool().clone(), stop.clone())))
        .collect();
    let models = tokio::spawn(model_loop(engine.clone(), stop.clone()));
    let retainer = tokio::spawn(retention_loop(engine.clone(), retention, stop.clone()));
    let gauges = tokio::spawn(gauges_loop(engine.clone(), stop.clone()));
    let result = carepath_engine::worker::run(engine, cfg, stop).await;
    let _ = retainer.await;
    let _ = gauges.await;
    for reader in readers {
        let _ = reader.await;
    }
    let _ = models.await;
    result.map_err(Into::into)
}

/// Erases what is past its retention period, every `retention.every`; of
/// several workers, one at a time does (the engine's pass takes a lock,
/// and erasing a patient twice changes nothing).
async fn retention_loop(engine: Engine, retention: RetentionConfig, stop: CancellationToken) {
    let policy = retention.policy();
    loop {
        tokio::select! {
            _ = stop.cancelled() => return,
            _ = tokio::time::sleep(retention.every) => {}
        }
        match engine.retain_once(&policy).await {
            Ok(r)
                if r.journeys
                    + r.inbox_bodies
                    + r.inbox_days
                    + r.rejected_webhooks
                    + r.archived_months
                    > 0 =>
            {
                tracing::info!(
                    journeys = r.journeys,
                    inbox_bodies = r.inbox_bodies,
                    inbox_days = r.inbox_days,
                    rejected_webhooks = r.rejected_webhooks,
                    archived_months = r.archived_months,
                    "retention erased PHI past its period"
                );
            }
            Ok(_) => {}
            Err(error) => tracing::warn!(%error, "retention pass failed"),
        }
        if let Some(keep) = retention.unlinked_patients {
            match erasure::retain_unlinked(engine.pool(), keep, 100).await {
                Ok(0) => {}
                Ok(n) => tracing::info!(patients = n, "retention erased patients without journeys"),
                Err(error) => tracing::warn!(%error, "retention of patients failed"),
            }
        }
    }
}

/// Computes the deployment's database gauges and overdue set every
/// `gauges_every` ([`carepath_workflows::gauge_snapshot`]); of several
/// workers, whichever comes first in an interval does, the others find the
/// snapshot fresh or the lock taken.
async fn gauges_loop(engine: Engine, stop: CancellationToken) {
    let every = engine.config().gauges_every;
    loop {
        let refresh =
            carepath_workflows::gauge_snapshot::refresh(engine.pool(), every.mul_f64(0.8));
        tokio::select! {
            // Dropping the computation rolls its transaction back.
            _ = stop.cancelled() => return,
            done = refresh => if let Err(error) = done {
                tracing::warn!(%error, "computing the database gauges failed; the stored ones stay");
            },
        }
        tokio::select! {
            _ = stop.cancelled() => return,
            _ = tokio::time::sleep(every) => {}
        }
    }
}

/// How often a worker looks whether the registry has grown enough for a
/// new matching model.
const MODEL_CHECK: Duration = Duration::from_secs(600);

/// Re-estimates the patient-matching model as the registry grows
/// (`carepath_workflows::consult::patients::model_store::refresh_if_grown`):
/// journeys' intakes are matched with weights estimated on the registry as
/// it is, not as it was when someone last ran `carepath patients train`.
async fn model_loop(engine: carepath_workflows::Engine, stop: CancellationToken) {
    let keys = match carepath_workflows::consult::patients::Keys::of_engine(&engine) {
        Ok(keys) => keys,
        Err(error) => {
            tracing::warn!(%error, "the patient-matching model will not be re-estimated");
            return;
        }
    };
    let pool = engine.pool();
    loop {
        tokio::select! {
            _ = stop.cancelled() => return,
            _ = tokio::time::sleep(MODEL_CHECK) => {}
        }
        let refreshed = tokio::select! {
            _ = stop.cancelled() => return,
            r = carepath_workflows::consult::patients::model_store::refresh_if_grown(pool, &keys) => r,
        };
        match refreshed {
            Ok(true) => {
                tracing::info!("the patient-matching model was re-estimated on the registry")
            }
            Ok(false) => {}
            Err(error) => tracing::warn!(%error, "re-estimating the patient-matching model failed"),
        }
    }
}

/// Reads one vendor's feed every `feed.config.every` (again at once when a
/// poll stopped at its page limit); of all the workers, one reads at a time.
/// A shutdown ends a poll where it is: what it stored stays stored, and its
/// lease runs out by itself.
async fn feed_loop(feed: Feed, pool: PgPool, stop: CancellationToken) {
    let mut pause = feed.config.every;
    loop {
        tokio::select! {
            _ = stop.cancelled() => return,
            _ = tokio::time::sleep(pause) => {}
        }
        let polled = tokio::select! {
            _ = stop.cancelled() => return,
            polled = feed.poll_once(&pool) => polled,
        };
        pause = match polled {
            Ok(report) if report.more => Duration::ZERO,
            Ok(_) => feed.config.every,
            Err(error) => {
                tracing::warn!(vendor = %feed.vendor, %error, "reading the vendor's event feed failed");
                feed.config.every
            }
        };
    }
}
