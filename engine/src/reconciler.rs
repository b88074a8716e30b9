//! The safety net under the queue: journeys that are due but have no live
//! task (a task lost to a database error, a worker that died between commits)
//! get a new one; finished queue rows are pruned, since apalis keeps them forever.

use std::time::Duration;

use uuid::Uuid;

use crate::Engine;
use crate::error::EngineError;
use crate::queue::{JOURNEY_QUEUE, push_wakeup};

#[derive(Debug, Default, Clone, Copy)]
pub struct ReconcileReport {
    pub requeued: usize,
    pub pruned: u64,
}

#[derive(Debug, Clone)]
pub struct ReconcilerConfig {
    /// How long a journey may be overdue before it counts as lost. Longer than
    /// the queue's own latency (whole-second `run_at` plus the poll interval).
    pub grace: Duration,
    /// Finished queue rows older than this are deleted.
    pub keep_done: Duration,
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
    pub async fn reconcile_once(
        &self,
        cfg: &ReconcilerConfig,
    ) -> Result<ReconcileReport, EngineError> {
        let mut tx = self.pool.begin().await?;
        let lost: Vec<Uuid> = sqlx::query_scalar(
            "SELECT j.id FROM carepath.journeys j
              WHERE j.status IN ('running', 'waiting')
                AND j.wake_at <= now() - make_interval(secs => $2)
                AND NOT EXISTS (
                    SELECT 1 FROM apalis.jobs t
                     WHERE t.job_type = $1
                       AND t.idempotency_key = j.id::text || ':' || j.fence::text
                       AND (t.status IN ('Pending', 'Queued', 'Running')
                            OR (t.status = 'Failed' AND t.attempts < t.max_attempts)))
              ORDER BY j.wake_at
              LIMIT $3
              FOR UPDATE OF j SKIP LOCKED",
        )
        .bind(JOURNEY_QUEUE)
        .bind(cfg.grace.as_secs_f64())
        .bind(cfg.batch)
        .fetch_all(&mut *tx)
        .await?;
        // No history event: a requeue is not progress, and the runner counts
        // runs without progress to stop a journey that can never get through.
        for id in &lost {
            tracing::info!(journey_id = %id, "requeued: due with no live task");
            push_wakeup(&mut tx, *id, Duration::ZERO).await?;
        }
        tx.commit().await?;
        let pruned = sqlx::query(
            "DELETE FROM apalis.jobs WHERE id IN (
                 SELECT id FROM apalis.jobs
                  WHERE job_type = $1
                    AND (status IN ('Done', 'Killed')
                         OR (status = 'Failed' AND attempts >= max_attempts))
                    AND done_at < now() - make_interval(secs => $2)
                  LIMIT 5000)",
        )
        .bind(JOURNEY_QUEUE)
        .bind(cfg.keep_done.as_secs_f64())
        .execute(&self.pool)
        .await?
        .rows_affected();
        Ok(ReconcileReport {
            requeued: lost.len(),
            pruned,
        })
    }
}
