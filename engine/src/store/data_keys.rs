//! `carepath.data_keys`: every data key, wrapped by a key-encryption key
//! (see [`crate::vault`]); destroyed keys keep their row, without the key.

use sqlx::{FromRow, PgExecutor};
use uuid::Uuid;

use crate::vault::Wrapped;

/// A data key's row.
#[derive(Debug, Clone, FromRow)]
pub struct Row {
    /// The key's id (in each sealed value's header).
    pub id: Uuid,
    /// Whose key it is ([`crate::vault::Owner`]'s text).
    pub owner: String,
    /// The KEK that wraps it; `None` once destroyed.
    pub kek_id: Option<String>,
    /// The wrapped key; `None` once destroyed.
    pub wrapped: Option<Vec<u8>>,
}

/// Stores `wrapped` as the key `id` of `owner`; false (nothing written)
/// when `owner` already has a key.
///
/// # Errors
/// A database error.
pub async fn insert(
    db: impl PgExecutor<'_>,
    id: Uuid,
    owner: &str,
    wrapped: &Wrapped,
) -> Result<bool, sqlx::Error> {
    let done = sqlx::query(
        "INSERT INTO carepath.data_keys (id, owner, kek_id, wrapped) VALUES ($1, $2, $3, $4)
         ON CONFLICT (owner) DO NOTHING",
    )
    .bind(id)
    .bind(owner)
    .bind(&wrapped.kek_id)
    .bind(&wrapped.bytes)
    .execute(db)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// The key of `owner`.
///
/// # Errors
/// A database error.
pub async fn by_owner(db: impl PgExecutor<'_>, owner: &str) -> Result<Option<Row>, sqlx::Error> {
    sqlx::query_as("SELECT id, owner, kek_id, wrapped FROM carepath.data_keys WHERE owner = $1")
        .bind(owner)
        .fetch_optional(db)
        .await
}

/// The key `id`.
///
/// # Errors
/// A database error.
pub async fn by_id(db: impl PgExecutor<'_>, id: Uuid) -> Result<Option<Row>, sqlx::Error> {
    sqlx::query_as("SELECT id, owner, kek_id, wrapped FROM carepath.data_keys WHERE id = $1")
        .bind(id)
        .fetch_optional(db)
        .await
}

/// Destroys the keys of `owners` with `reason` (crypto-shredding): what
/// they sealed can no longer be read. Returns how many were live.
///
/// # Errors
/// A database error.
pub async fn destroy(
    db: impl PgExecutor<'_>,
    owners: &[String],
    reason: &str,
) -> Result<u64, sqlx::Error> {
    let done = sqlx::query(
        "UPDATE carepath.data_keys
            SET kek_id = NULL, wrapped = NULL, destroyed_at = now(), destroyed_reason = $2
          WHERE owner = ANY($1) AND wrapped IS NOT NULL",
    )
    .bind(owners)
    .bind(reason)
    .execute(db)
    .await?;
    Ok(done.rows_affected())
}

/// Up to `limit` live keys not wrapped under `current`, locked for this
/// transaction (others rotating at once take other rows).
///
/// # Errors
/// A database error.
pub async fn lock_not_under(
    db: impl PgExecutor<'_>,
    current: &str,
    limit: i64,
) -> Result<Vec<Row>, sqlx::Error> {
    sqlx::query_as(
        "SELECT id, owner, kek_id, wrapped FROM carepath.data_keys
          WHERE wrapped IS NOT NULL AND kek_id <> $1
          ORDER BY id LIMIT $2 FOR UPDATE SKIP LOCKED",
    )
    .bind(current)
    .bind(limit)
    .fetch_all(db)
    .await
}

/// Replaces the key `id`'s wrapping with `wrapped`.
///
/// # Errors
/// A database error.
pub async fn rewrap(
    db: impl PgExecutor<'_>,
    id: Uuid,
    wrapped: &Wrapped,
) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE carepath.data_keys SET kek_id = $2, wrapped = $3, rewrapped_at = now() WHERE id = $1")
        .bind(id)
        .bind(&wrapped.kek_id)
        .bind(&wrapped.bytes)
        .execute(db)
        .await?;
    Ok(())
}

/// Live keys per KEK: what rotation has left to do.
///
/// # Errors
/// A database error.
pub async fn count_by_kek(db: impl PgExecutor<'_>) -> Result<Vec<(String, i64)>, sqlx::Error> {
    sqlx::query_as(
        "SELECT kek_id, count(*) FROM carepath.data_keys WHERE wrapped IS NOT NULL
          GROUP BY kek_id ORDER BY kek_id",
    )
    .fetch_all(db)
    .await
}

/// The KEKs live keys are wrapped under, each once (a loose index scan of
/// `data_keys_kek`: one probe per KEK, however many keys).
///
/// # Errors
/// A database error.
pub async fn live_keks(db: impl PgExecutor<'_>) -> Result<Vec<String>, sqlx::Error> {
    sqlx::query_scalar(
        "WITH RECURSIVE k AS (
             (SELECT kek_id FROM carepath.data_keys WHERE wrapped IS NOT NULL ORDER BY kek_id LIMIT 1)
             UNION ALL
             SELECT (SELECT d.kek_id FROM carepath.data_keys d
                      WHERE d.wrapped IS NOT NULL AND d.kek_id > k.kek_id ORDER BY d.kek_id LIMIT 1)
               FROM k WHERE k.kek_id IS NOT NULL)
         SELECT kek_id FROM k WHERE kek_id IS NOT NULL",
    )
    .fetch_all(db)
    .await
}

/// One live key wrapped under `kek`.
///
/// # Errors
/// A database error.
pub async fn one_under(db: impl PgExecutor<'_>, kek: &str) -> Result<Option<Row>, sqlx::Error> {
    sqlx::query_as(
        "SELECT id, owner, kek_id, wrapped FROM carepath.data_keys
          WHERE wrapped IS NOT NULL AND kek_id = $1 LIMIT 1",
    )
    .bind(kek)
    .fetch_optional(db)
    .await
}
