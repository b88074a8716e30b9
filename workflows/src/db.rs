//! Connecting, migrating, and refusing to run on an unmigrated database.

use std::collections::HashSet;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use apalis_postgres::PostgresStorage;
use sqlx::PgPool;
use sqlx::migrate::Migrator;
use std::str::FromStr;

use sqlx::postgres::{PgConnectOptions, PgPoolOptions};

/// `CAREPATH_STUCK_AFTER_SECS`, 900 (15 minutes) by default.
fn stuck_after_secs() -> String {
    std::env::var("CAREPATH_STUCK_AFTER_SECS")
        .ok()
        .and_then(|v| v.trim().parse::<u64>().ok())
        .unwrap_or(900)
        .to_string()
}

pub async fn connect(url: &str, max_connections: u32) -> Result<PgPool> {
    let options = PgConnectOptions::from_str(url)
        .context("DATABASE_URL is not a PostgreSQL URL")?
        // A journey's lock lives as long as its connection. If a worker's
        // machine vanishes without closing it, the server must notice within
        // a minute, not after the kernel's default two hours.
        .options([
            ("tcp_keepalives_idle", "20"),
            ("tcp_keepalives_interval", "5"),
            ("tcp_keepalives_count", "4"),
            ("tcp_user_timeout", "40000"),
        ])
        // A running journey that records nothing for this long is overdue
        // (see `overdue_condition!`), whichever process asks.
        .options([("carepath.stuck_after_secs", stuck_after_secs())]);
    PgPoolOptions::new()
        .max_connections(max_connections)
        .acquire_timeout(Duration::from_secs(10))
        .connect_with(options)
        .await
        .context("connecting to PostgreSQL (DATABASE_URL)")
}

/// apalis-postgres's bundled migrations (the queue's `apalis` schema, at the
/// version of the crate we are built with, recorded in its own
/// `apalis._sqlx_migrations` as its sqlx.toml says), then carepath's own from
/// the workspace's `migrations/` folder (recorded in `_sqlx_migrations`).
/// Each with the query that lists what it has applied.
fn migrators() -> [(&'static str, Migrator); 2] {
    [
        (
            "SELECT version FROM apalis._sqlx_migrations WHERE success",
            PostgresStorage::migrations(),
        ),
        (
            "SELECT version FROM _sqlx_migrations WHERE success",
            sqlx::migrate!("../migrations"),
        ),
    ]
}

pub async fn migrate(pool: &PgPool) -> Result<()> {
    for (_, migrator) in migrators() {
        migrator.run(pool).await.context("applying migrations")?;
    }
    Ok(())
}

/// Fails with a message saying what to do when any migration is missing.
pub async fn ensure_migrated(pool: &PgPool) -> Result<()> {
    let mut missing = Vec::new();
    for (applied_sql, migrator) in migrators() {
        let applied = applied_versions(pool, applied_sql).await?;
        missing.extend(
            migrator
                .iter()
                .filter(|m| !m.migration_type.is_down_migration() && !applied.contains(&m.version))
                .map(|m| format!("{} {}", m.version, m.description)),
        );
    }
    if let Some(first) = missing.first() {
        bail!(
            "the database is not migrated ({} migration(s) missing, first: {first}); \
             run `carepath migrate` first",
            missing.len()
        );
    }
    Ok(())
}

async fn applied_versions(pool: &PgPool, sql: &'static str) -> Result<HashSet<i64>> {
    match sqlx::query_scalar::<_, i64>(sql).fetch_all(pool).await {
        Ok(v) => Ok(v.into_iter().collect()),
        // No table (or schema) yet: nothing applied.
        Err(sqlx::Error::Database(e)) if matches!(e.code().as_deref(), Some("42P01" | "3F000")) => {
            Ok(HashSet::new())
        }
        Err(e) => Err(e).context("reading the migrations table"),
    }
}
