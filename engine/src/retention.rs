//! Retention: PHI is kept for a configured time per class, then erased —
//! ended journeys' PHI by destroying their data keys
//! ([`crate::vault::erase`]), handled webhooks' bodies by deleting them and,
//! a day later, destroying the day's key (which also reaches backups), and
//! refused webhooks by deleting their rows. One process at a time runs it,
//! under a transaction-scoped advisory lock; each pass does at most
//! [`RetentionPolicy::batch`] of each class, so a backlog drains over
//! several passes without long transactions.

use std::time::Duration;

use crate::Engine;
use crate::error::EngineError;
use crate::store::{data_keys, partitions, rejections};
use crate::vault::erase::{Erasure, erase_journeys};

/// How long each class of PHI is kept; `None` keeps it for good.
#[derive(Debug, Clone, Default)]
pub struct RetentionPolicy {
    /// Completed or cancelled journeys' PHI, from when they ended.
    pub completed_journeys: Option<Duration>,
    /// Stored webhooks' bodies, from when they arrived (routed or set
    /// aside ones only: an event not yet routed keeps its body).
    pub inbox_bodies: Option<Duration>,
    /// Refused webhooks (their rows, kept bodies included), from when they
    /// arrived.
    pub rejected_webhooks: Option<Duration>,
    /// Kinds of search identifier that are PHI ([`Erasure::forget_kinds`]).
    pub forget_kinds: Vec<String>,
    /// The most of each class erased in one pass (500 by default when 0).
    pub batch: i64,
    /// Whether a month's steps and history (their partitions,
    /// [`crate::store::partitions`]) are detached to the `carepath_archive`
    /// schema once every journey started that month has ended and had its
    /// PHI erased. Needs `completed_journeys`.
    pub archive_months: bool,
}

/// What one [`Engine::retain_once`] pass erased.
#[derive(Debug, Default, Clone, Copy, serde::Serialize)]
pub struct RetentionReport {
    /// Whether this process held the retention lock (another was running it).
    pub ran: bool,
    /// Journeys whose PHI was erased.
    pub journeys: u64,
    /// Webhook bodies deleted.
    pub inbox_bodies: u64,
    /// Days' webhook keys destroyed.
    pub inbox_days: u64,
    /// Refused webhooks deleted.
    pub rejected_webhooks: u64,
    /// Months of steps and history detached to `carepath_archive`.
    pub archived_months: u64,
}

impl Engine {
    /// One retention pass over every class `policy` limits (see the module),
    /// in one transaction.
    ///
    /// # Errors
    /// A database error: the pass erased nothing (the next one tries again).
    pub async fn retain_once(
        &self,
        policy: &RetentionPolicy,
    ) -> Result<RetentionReport, EngineError> {
        let mut report = RetentionReport::default();
        let batch = if policy.batch > 0 { policy.batch } else { 500 };
        let mut tx = self.pool.begin().await?;
        let locked: bool =
            sqlx::query_scalar("SELECT pg_try_advisory_xact_lock(hashtext('carepath.retention'))")
                .fetch_one(&mut *tx)
                .await?;
        if !locked {
            return Ok(report);
        }
        report.ran = true;
        if let Some(keep) = policy.completed_journeys {
            let ended: Vec<uuid::Uuid> = sqlx::query_scalar(
                "SELECT id FROM carepath.journeys
                  WHERE phi_erased_at IS NULL AND status IN ('completed', 'cancelled')
                    AND finished_at < now() - make_interval(secs => $1)
                  ORDER BY finished_at LIMIT $2",
            )
            .bind(keep.as_secs_f64())
            .bind(batch)
            .fetch_all(&mut *tx)
            .await?;
            let kinds: Vec<&str> = policy.forget_kinds.iter().map(String::as_str).collect();
            let erasure = Erasure {
                actor: "retention",
                reason: "retention period of ended journeys' PHI passed",
                forget_kinds: &kinds,
            };
            report.journeys = erase_journeys(&mut tx, &ended, &erasure).await?;
        }
        if let Some(keep) = policy.inbox_bodies {
            report.inbox_bodies = erase_bodies(&mut tx, keep, batch).await?;
            // A day's key goes once its last body may have: a day after
            // the later of the two periods its bodies are kept for (a
            // refused delivery's body is cleared after KEEP_HOURS anyway).
            let cleared = Duration::from_secs(3600 * rejections::KEEP_HOURS as u64);
            let rejected = policy.rejected_webhooks.unwrap_or(cleared).min(cleared);
            let after = keep.max(rejected) + Duration::from_secs(24 * 3600);
            report.inbox_days = destroy_days(&mut tx, after).await?;
        }
        if let Some(keep) = policy.rejected_webhooks {
            report.rejected_webhooks = sqlx::query(
                "DELETE FROM carepath.webhook_rejections WHERE id IN (
                     SELECT id FROM carepath.webhook_rejections
                      WHERE received_at < now() - make_interval(secs => $1) ORDER BY id LIMIT $2)",
            )
            .bind(keep.as_secs_f64())
            .bind(batch)
            .execute(&mut *tx)
            .await?
            .rows_affected();
        }
        tx.commit().await?;
        // After the erasures' commit: a failure here must not say they failed.
        if let (true, Some(keep)) = (policy.archive_months, policy.completed_journeys) {
            match self.archive_one_month(keep).await {
                Ok(n) => report.archived_months = n,
                Err(error) => tracing::warn!(%error, "archiving a month of journeys failed"),
            }
        }
        Ok(report)
    }

    /// Detaches the oldest month of steps and history whose journeys have
    /// all ended and been erased, of the months that ended at least `keep`
    /// before now (no journey of a younger one can have been erased by
    /// retention); 1 when it did. Each month is checked up to its first
    /// journey still holding PHI.
    async fn archive_one_month(&self, keep: Duration) -> Result<u64, EngineError> {
        const MONTH: u64 = 31 * 24 * 3600;
        let months = i32::try_from(keep.as_secs() / MONTH).unwrap_or(i32::MAX);
        for month in partitions::months_ended(&self.pool, months).await? {
            if !partitions::month_erased(&self.pool, &month).await? {
                continue;
            }
            let mut conn = self.pool.acquire().await?;
            if partitions::archive_month(&mut conn, &month, 2_000).await? {
                tracing::info!(%month, "archived a month of erased journeys' steps and history");
                return Ok(1);
            }
            return Ok(0);
        }
        Ok(0)
    }
}

/// Deletes the bodies of up to `batch` handled webhooks older than `keep`.
async fn erase_bodies(
    tx: &mut sqlx::PgConnection,
    keep: Duration,
    batch: i64,
) -> Result<u64, sqlx::Error> {
    Ok(sqlx::query(
        "UPDATE carepath.webhook_inbox SET body = ''::bytea, body_erased_at = now()
          WHERE id IN (SELECT id FROM carepath.webhook_inbox
                        WHERE body_erased_at IS NULL AND status <> 'received'
                          AND received_at < now() - make_interval(secs => $1)
                        ORDER BY received_at LIMIT $2)",
    )
    .bind(keep.as_secs_f64())
    .bind(batch)
    .execute(&mut *tx)
    .await?
    .rows_affected())
}

/// Destroys the webhook keys of days that ended more than `after` ago.
async fn destroy_days(tx: &mut sqlx::PgConnection, after: Duration) -> Result<u64, sqlx::Error> {
    let owners: Vec<String> = sqlx::query_scalar(
        "SELECT owner FROM carepath.data_keys
          WHERE owner LIKE 'inbox:%' AND wrapped IS NOT NULL
            AND ((substr(owner, 7)::date + 1)::timestamp AT TIME ZONE 'UTC')
                < now() - make_interval(secs => $1)",
    )
    .bind(after.as_secs_f64())
    .fetch_all(&mut *tx)
    .await?;
    data_keys::destroy(
        &mut *tx,
        &owners,
        "retention period of webhook bodies passed",
    )
    .await
}
