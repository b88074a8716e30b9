//! The safety net under the queue: journeys that are due but have no live
//! task (a task lost to a database error, a worker that died between commits)
//! get a new one; finished queue rows are pruned, since apalis keeps them forever.

use std::time::Duration;

use crate::Engine;
use crate::error::EngineError;
use crate::queue::{JOURNEY_QUEUE, prune_done, push_wakeup};
use crate::store::journeys;

/// What one [`Engine::reconcile_once`] pass did.
#[derive(Debug, Default, Clone, Copy)]
pub struct ReconcileReport {
    /// Journeys that were due with no live task and got a new wake-up.
    pub requeued: usize,
    /// Finished queue rows deleted.
    pub pruned: u64,
}

/// How [`Engine::reconcile_once`] finds lost journeys and prunes the queue.
#[derive(Debug, Clone)]
pub struct ReconcilerConfig {
    /// How long a journey may be overdue before it counts as lost. Longer than
    /// the queue's own latency (whole-second `run_at` plus the poll interval).
    pub grace: Duration,
    /// Finished queue rows older than this are deleted.
    pub keep_done: Duration,
    /// The most journeys requeued in one pass (500 by default); the rest wait
    /// for the next.
    pub batch: i64,
}

impl Default for ReconcilerConfig {
    fn default() -> Self {
        Self {
            grace: Duration::from_secs(5),
            keep_done: Duration::from_secs(3600),
            batch: 500,
        }
    }
}

impl Engine {
    /// Gives up to `cfg.batch` lost journeys (due for longer than `cfg.grace`
    /// with no live wake-up task) a new wake-up, in one transaction, then
    /// makes the steps' and history's partitions of the months ahead
    /// ([`crate::store::partitions::make_ahead`]), deletes up to 5,000 queue
    /// rows finished more than `cfg.keep_done` ago, and clears refused webhooks' bodies kept past their time
    /// ([`crate::store::rejections::purge`]).
    ///
    /// # Errors
    /// `Database` or `Queue` errors: a failure while requeueing requeues
    /// nothing; one while pruning comes after the requeues were committed.
    pub async fn reconcile_once(
        &self,
        cfg: &ReconcilerConfig,
    ) -> Result<ReconcileReport, EngineError> {
        let mut tx = self.pool.begin().await?;
        let lost = journeys::lost(&mut *tx, JOURNEY_QUEUE, cfg.grace, cfg.batch).await?;
        // No history event: a requeue is not progress, and the runner counts
        // runs without progress to stop a journey that can never get through.
        for id in &lost {
            tracing::info!(journey_id = %id, "requeued: due with no live task");
            push_wakeup(&mut tx, *id, Duration::ZERO).await?;
        }
        tx.commit().await?;
        // Journeys started in a month with no partition yet would land in
        // the default partition, which is never archived. Its failure holds
        // up nothing below.
        if let Err(error) = self.make_partitions_ahead().await {
            tracing::warn!(%error, "the months ahead's partitions were not made");
        }
        let pruned = prune_done(&self.pool, JOURNEY_QUEUE, cfg.keep_done).await?;
        // Refused webhooks keep their bodies for a bounded time only, even
        // when no new refusal comes to clear them.
        crate::store::rejections::purge(&self.pool).await?;
        Ok(ReconcileReport {
            requeued: lost.len(),
            pruned,
        })
    }

    async fn make_partitions_ahead(&self) -> Result<i32, sqlx::Error> {
        let mut conn = self.pool.acquire().await?;
        crate::store::partitions::make_ahead(&mut conn, 1_000).await
    }
}
