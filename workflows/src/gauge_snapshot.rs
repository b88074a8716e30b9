//! The deployment's database gauges and overdue set, computed once per
//! interval by whichever process gets there first, and stored
//! ([`carepath_engine::store::snapshots`]). Every worker runs
//! [`refresh`] on [`EngineConfig::gauges_every`](carepath_engine::EngineConfig::gauges_every);
//! a scrape or an `overdue=true` listing that finds the stored one older
//! than twice that (no worker running) computes it itself. Either way the
//! `journeys` table is scanned once per interval for the whole deployment,
//! not once per scrape per pod.

use std::time::{Duration, Instant};

use carepath_engine::store::snapshots::{self, Snapshot};
use sqlx::PgPool;

/// The stored snapshot's name for the `/metrics` gauges.
pub const METRICS: &str = "metrics";

/// Computes and stores the gauges and the overdue set, unless another
/// process holds the lock or stored them less than `min_age` ago. Returns
/// whether this call computed them. One transaction: a failure leaves the
/// previous snapshot and overdue set in place.
///
/// # Errors
/// The database's.
pub async fn refresh(pool: &PgPool, min_age: Duration) -> Result<bool, sqlx::Error> {
    let mut tx = pool.begin().await?;
    if !snapshots::claim(&mut tx, METRICS, min_age.as_secs_f64()).await? {
        return Ok(false);
    }
    let began = Instant::now();
    snapshots::refresh_overdue(&mut tx).await?;
    let mut body = String::new();
    crate::metrics::database_gauges(pool, &mut body).await?;
    let took = began.elapsed().as_secs_f64();
    snapshots::store(&mut *tx, METRICS, &body, took).await?;
    tx.commit().await?;
    Ok(true)
}

/// [`refresh`] when the stored snapshot is missing or older than twice
/// `every`: what a reader does so that it is never far behind, even with no
/// worker running. A failed refresh is logged and leaves the stored copy in
/// place: a reader then serves that copy (its age says how old) rather than
/// fail because of a gauge query. Returns the stored snapshot and its age in
/// seconds, as read (again, after a refresh); `None` when none is stored or
/// it cannot be read.
pub async fn refresh_if_stale(pool: &PgPool, every: Duration) -> Option<(Snapshot, f64)> {
    let stored = match snapshots::read(pool, METRICS).await {
        Ok(stored) => stored,
        Err(error) => {
            tracing::warn!(%error, "reading the stored database gauges failed");
            return None;
        }
    };
    if stored
        .as_ref()
        .is_some_and(|(_, age)| *age < 2.0 * every.as_secs_f64())
    {
        return stored;
    }
    match refresh(pool, every).await {
        Ok(true) => snapshots::read(pool, METRICS).await.ok().flatten(),
        Ok(false) => stored,
        Err(error) => {
            tracing::warn!(%error, "computing the database gauges failed; serving the stored ones");
            stored
        }
    }
}
