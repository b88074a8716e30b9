//! The overview's counts, kept for a few seconds: at a million journeys the
//! grouped count of every journey takes a few hundred milliseconds, so a view
//! is answered from counts at most [`FRESH`] old, refreshed off the request
//! path (stale-while-revalidate), and says when they were taken. Each API
//! process keeps its own, computed only while someone looks.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use sqlx::PgPool;

use carepath_workflows::store::{alerts, gauges};

/// Counts younger than this are shown as they are.
pub const FRESH: Duration = Duration::from_secs(10);
/// Counts older than [`FRESH`] and younger than this are shown while a
/// refresh runs in the background; older ones are recomputed first.
pub const STALE: Duration = Duration::from_secs(60);

/// The aggregates the overview shows (no PHI), as `/metrics` reads them.
#[derive(Debug)]
pub struct Counts {
    /// (workflow, status, phase, journeys).
    pub by_status: Vec<(String, String, String, i64)>,
    /// (phase, overdue journeys, seconds the oldest has been due).
    pub overdue: Vec<(String, i64, f64)>,
    /// (inbox status, events).
    pub inbox: Vec<(String, i64)>,
    /// Age in seconds of the oldest event not yet routed.
    pub lag_secs: f64,
    /// (alert kind, open alerts of journeys under way).
    pub open_alerts: Vec<(String, i64)>,
    /// When they were read.
    pub taken: DateTime<Utc>,
}

async fn read(pool: &PgPool) -> Result<Counts, sqlx::Error> {
    Ok(Counts {
        by_status: gauges::journeys_by_status(pool).await?,
        // The set the overview's link lists (`overdue=true`), so the count
        // and the list agree.
        overdue: gauges::stored_overdue_by_phase(pool).await?,
        inbox: gauges::inbox_by_status(pool).await?,
        lag_secs: gauges::inbox_lag_seconds(pool).await?,
        open_alerts: alerts::open_counts(pool).await?,
        taken: Utc::now(),
    })
}

/// The last counts read, and whether a refresh is under way.
#[derive(Default)]
pub struct CountsCache {
    last: Mutex<Option<(Instant, Arc<Counts>)>>,
    refreshing: AtomicBool,
}

impl CountsCache {
    /// Counts at most [`FRESH`] old, or at most [`STALE`] old while newer
    /// ones are read in the background.
    ///
    /// # Errors
    /// The database's, when there are no counts young enough to show.
    pub async fn get(self: &Arc<Self>, pool: &PgPool) -> Result<Arc<Counts>, sqlx::Error> {
        let last = self.last.lock().ok().and_then(|l| l.clone());
        match last {
            Some((at, counts)) if at.elapsed() < FRESH => Ok(counts),
            Some((at, counts)) if at.elapsed() < STALE => {
                if !self.refreshing.swap(true, Ordering::AcqRel) {
                    let (cache, pool) = (Arc::clone(self), pool.clone());
                    tokio::spawn(async move {
                        if let Ok(counts) = read(&pool).await {
                            cache.keep(counts);
                        }
                        cache.refreshing.store(false, Ordering::Release);
                    });
                }
                Ok(counts)
            }
            _ => Ok(self.keep(read(pool).await?)),
        }
    }

    fn keep(&self, counts: Counts) -> Arc<Counts> {
        let counts = Arc::new(counts);
        if let Ok(mut last) = self.last.lock() {
            *last = Some((Instant::now(), Arc::clone(&counts)));
        }
        counts
    }
}
