//! The engine's schema: the queue's tables (apalis-postgres's bundled
//! migrations, recorded in `apalis._sqlx_migrations`) and the engine's own
//! (`engine/migrations/`, recorded in `carepath._engine_migrations`), apart
//! from whatever the application migrates beside them. An application runs
//! [`run`] before its own migrations; workers and the API call
//! [`missing`] and refuse to start on a database that lacks any.

use std::collections::HashSet;

use apalis_postgres::PostgresStorage;
use sqlx::PgPool;
use sqlx::migrate::{MigrateError, Migrator};

/// Where the engine records the migrations it applied.
pub const TABLE: &str = "carepath._engine_migrations";

/// The engine's own migrations, recorded in [`TABLE`].
pub fn engine_migrator() -> Migrator {
    let mut migrator = sqlx::migrate!("./migrations");
    migrator.dangerous_set_table_name(TABLE);
    migrator.create_schema("carepath");
    migrator
}

/// The queue's migrations, at the version of apalis-postgres the engine is
/// built with (recorded in `apalis._sqlx_migrations`, as its `sqlx.toml` says).
pub fn queue_migrator() -> Migrator {
    PostgresStorage::migrations()
}

/// The queue's migrations, then the engine's; each applied once.
///
/// # Errors
/// A database error, or a migration applied before whose file has changed
/// (sqlx's checksum check).
pub async fn run(pool: &PgPool) -> Result<(), MigrateError> {
    queue_migrator().run(pool).await?;
    engine_migrator().run(pool).await
}

/// The migrations of `migrator` (recorded in `table`) that `pool`'s database
/// has not applied, as `"<version> <description>"`.
///
/// # Errors
/// A database error other than the table not existing yet (then every
/// migration is missing).
pub async fn missing_from(
    pool: &PgPool,
    migrator: &Migrator,
    table: &str,
) -> Result<Vec<String>, sqlx::Error> {
    let applied = applied(pool, table).await?;
    Ok(migrator
        .iter()
        .filter(|m| !m.migration_type.is_down_migration() && !applied.contains(&m.version))
        .map(|m| format!("{} {}", m.version, m.description))
        .collect())
}

/// The engine's and the queue's migrations that the database lacks.
///
/// # Errors
/// See [`missing_from`].
pub async fn missing(pool: &PgPool) -> Result<Vec<String>, sqlx::Error> {
    let mut missing = missing_from(pool, &queue_migrator(), "apalis._sqlx_migrations").await?;
    missing.extend(missing_from(pool, &engine_migrator(), TABLE).await?);
    Ok(missing)
}

/// The versions recorded as applied in `table`; none when it does not exist.
///
/// # Errors
/// A database error other than an undefined table or schema.
pub async fn applied(pool: &PgPool, table: &str) -> Result<HashSet<i64>, sqlx::Error> {
    let sql = format!("SELECT version FROM {table} WHERE success");
    match sqlx::query_scalar::<_, i64>(sqlx::AssertSqlSafe(sql))
        .fetch_all(pool)
        .await
    {
        Ok(v) => Ok(v.into_iter().collect()),
        Err(sqlx::Error::Database(e)) if matches!(e.code().as_deref(), Some("42P01" | "3F000")) => {
            Ok(HashSet::new())
        }
        Err(e) => Err(e),
    }
}
