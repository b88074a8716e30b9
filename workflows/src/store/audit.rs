//! `carepath.operator_audit`: what operators did outside any one journey
//! (vendor pauses, tokens, inbox actions, bulk retries), append-only. What
//! they do to a journey goes to that journey's history instead.

use serde_json::Value;
use sqlx::PgExecutor;

/// Records that `actor` did `action` (`vendor_pause`, `bulk_retry`, ...) to
/// `target` (a vendor, a token's name, an inbox id, `journeys`), with
/// `detail` (the reason, counts: never PHI).
///
/// # Errors
/// The database's.
pub async fn record(
    db: impl PgExecutor<'_>,
    actor: &str,
    action: &str,
    target: &str,
    detail: &Value,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO carepath.operator_audit (actor, action, target, detail) VALUES ($1, $2, $3, $4)",
    )
    .bind(actor)
    .bind(action)
    .bind(target)
    .bind(detail)
    .execute(db)
    .await?;
    Ok(())
}
