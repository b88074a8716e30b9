//! `carepath.bulk_operations`: an operator's bulk action, planned by a dry
//! run and run once with its confirmation token.

use serde_json::Value;
use sqlx::{FromRow, PgExecutor};
use uuid::Uuid;

/// A dry run's plan, as it is stored.
#[derive(Debug, Clone)]
pub struct NewPlan<'a> {
    /// SHA-256 (hex) of the confirmation token handed to the operator.
    pub token_sha256: &'a str,
    /// Who planned it (`token:<name>`): only they may confirm it.
    pub actor: &'a str,
    /// `pause`, `resume`, `cancel`, `retry`, `wake` or `rewind`.
    pub action: &'a str,
    /// The filter, the rewind's step and force, the reason.
    pub plan: &'a Value,
    /// The newest journey the selection held at the dry run.
    pub upto_id: Uuid,
    /// How many journeys it held.
    pub matched: i64,
    /// How long the token is good for, in seconds.
    pub ttl_secs: i64,
}

/// Stores a plan; its id and when its token expires.
///
/// # Errors
/// The database's.
pub async fn plan(
    db: impl PgExecutor<'_>,
    p: &NewPlan<'_>,
) -> Result<(i64, chrono::DateTime<chrono::Utc>), sqlx::Error> {
    sqlx::query_as(
        "INSERT INTO carepath.bulk_operations
                (token_sha256, actor, action, plan, upto_id, matched, expires_at)
         VALUES ($1, $2, $3, $4, $5, $6, now() + make_interval(secs => $7))
         RETURNING id, expires_at",
    )
    .bind(p.token_sha256)
    .bind(p.actor)
    .bind(p.action)
    .bind(p.plan)
    .bind(p.upto_id)
    .bind(p.matched)
    .bind(p.ttl_secs as f64)
    .fetch_one(db)
    .await
}

/// A plan being run.
#[derive(Debug, Clone, FromRow)]
pub struct Claimed {
    /// The operation's id.
    pub id: i64,
    /// Who planned it.
    pub actor: String,
    /// The action.
    pub action: String,
    /// The filter, step, force and reason.
    pub plan: Value,
    /// The newest journey the selection may take.
    pub upto_id: Uuid,
    /// How many the dry run counted.
    pub matched: i64,
}

/// Takes the plan whose token hashes to `token_sha256`, if it is still
/// planned and unexpired, `actor` made it and (when given) its action is
/// `action`, and marks it running: a token runs its plan once.
///
/// # Errors
/// The database's.
pub async fn claim(
    db: impl PgExecutor<'_>,
    token_sha256: &str,
    actor: &str,
    action: Option<&str>,
) -> Result<Option<Claimed>, sqlx::Error> {
    sqlx::query_as(
        "UPDATE carepath.bulk_operations SET status = 'running'
          WHERE token_sha256 = $1 AND actor = $2 AND status = 'planned' AND expires_at > now()
            AND ($3::text IS NULL OR action = $3)
          RETURNING id, actor, action, plan, upto_id, matched",
    )
    .bind(token_sha256)
    .bind(actor)
    .bind(action)
    .fetch_optional(db)
    .await
}

/// Records how a run ended.
///
/// # Errors
/// The database's.
pub async fn finish(
    db: impl PgExecutor<'_>,
    id: i64,
    done: i64,
    skipped: i64,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE carepath.bulk_operations
            SET status = 'done', done = $2, skipped = $3, finished_at = now()
          WHERE id = $1",
    )
    .bind(id)
    .bind(done)
    .bind(skipped)
    .execute(db)
    .await?;
    Ok(())
}
