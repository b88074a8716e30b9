//! Connecting, migrating, and refusing to run on an unmigrated database.

use std::collections::HashSet;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use apalis_postgres::PostgresStorage;
use sqlx::PgPool;
use sqlx::migrate::Migrator;
use sqlx::postgres::PgPoolOptions;

pub async fn connect(url: &str, max_connections: u32) -> Result<PgPool> {
    PgPoolOptions::new()
        .max_connections(max_connections)
        .acquire_timeout(Duration::from_secs(10))
        .connect(url)
        .await
        .context("connecting to PostgreSQL (DATABASE_URL)")
}

/// apalis-postgres's bundled migrations (the queue's `apalis` schema, at the
/// version of the crate we are built with), then ours. Both share sqlx's
/// migrations table, so each ignores the other's rows.
fn migrators() -> [Migrator; 2] {
    let mut apalis = PostgresStorage::migrations();
    apalis.set_ignore_missing(true);
    // carepath's own, from the workspace's `migrations/` folder.
    let mut ours = sqlx::migrate!("../migrations");
    ours.set_ignore_missing(true);
    [apalis, ours]
}

pub async fn migrate(pool: &PgPool) -> Result<()> {
    for migrator in migrators() {
        migrator.run(pool).await.context("applying migrations")?;
    }
    Ok(())
}

/// Fails with a message saying what to do when any migration is missing.
pub async fn ensure_migrated(pool: &PgPool) -> Result<()> {
    let applied: HashSet<i64> = match sqlx::query_scalar::<_, i64>(
        "SELECT version FROM _sqlx_migrations WHERE success",
    )
    .fetch_all(pool)
    .await
    {
        Ok(v) => v.into_iter().collect(),
        Err(sqlx::Error::Database(e)) if e.code().as_deref() == Some("42P01") => HashSet::new(),
        Err(e) => return Err(e).context("reading the migrations table"),
    };
    let missing: Vec<String> = migrators()
        .iter()
        .flat_map(|m| m.iter())
        .filter(|m| !m.migration_type.is_down_migration() && !applied.contains(&m.version))
        .map(|m| format!("{} {}", m.version, m.description))
        .collect();
    if !missing.is_empty() {
        bail!(
            "the database is not migrated ({} migration(s) missing, first: {}); run `carepath migrate` first",
            missing.len(),
            missing[0]
        );
    }
    Ok(())
}
