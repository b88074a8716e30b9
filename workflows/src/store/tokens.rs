//! `carepath.api_tokens`: the API's bearer tokens, kept only as their
//! SHA-256 hashes. Making a token and checking roles is the API's business;
//! this is the table.

use sqlx::{FromRow, PgExecutor};
use uuid::Uuid;

/// A token that has not been revoked, as the API authenticates it.
#[derive(Debug, Clone, FromRow)]
pub struct LiveToken {
    /// The name it was created under (unique, revoked tokens included).
    pub name: String,
    /// `product`, `operator` or `admin`, as stored.
    pub role: String,
}

/// The live (unrevoked) token whose hash is `token_hash`, if any.
///
/// # Errors
/// The database's.
pub async fn find_live(
    db: impl PgExecutor<'_>,
    token_hash: &str,
) -> Result<Option<LiveToken>, sqlx::Error> {
    sqlx::query_as(
        "SELECT name, role FROM carepath.api_tokens WHERE token_hash = $1 AND revoked_at IS NULL",
    )
    .bind(token_hash)
    .fetch_optional(db)
    .await
}

/// Stores a token named `name` with `role` by its `token_hash`; `false`, and
/// nothing stored, when a token of that name exists (revoked ones too: names
/// are unique across the table).
///
/// # Errors
/// The database's (a `role` the table does not know is a check violation).
pub async fn insert(
    db: impl PgExecutor<'_>,
    name: &str,
    role: &str,
    token_hash: &str,
) -> Result<bool, sqlx::Error> {
    let inserted = sqlx::query(
        "INSERT INTO carepath.api_tokens (id, name, role, token_hash) VALUES ($1, $2, $3, $4)
         ON CONFLICT (name) DO NOTHING",
    )
    .bind(Uuid::new_v4())
    .bind(name)
    .bind(role)
    .bind(token_hash)
    .execute(db)
    .await?
    .rows_affected();
    Ok(inserted == 1)
}

/// Revokes the live token named `name`; `false` when there is none.
///
/// # Errors
/// The database's.
pub async fn revoke(db: impl PgExecutor<'_>, name: &str) -> Result<bool, sqlx::Error> {
    let revoked = sqlx::query(
        "UPDATE carepath.api_tokens SET revoked_at = now() WHERE name = $1 AND revoked_at IS NULL",
    )
    .bind(name)
    .execute(db)
    .await?
    .rows_affected();
    Ok(revoked == 1)
}
