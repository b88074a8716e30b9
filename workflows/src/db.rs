//! Connecting, migrating, and refusing to run on an unmigrated database.

use std::time::Duration;

use anyhow::{Context, Result, bail};
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

/// Where the application records its own migrations (the workspace's
/// `migrations/` folder), beside the engine's.
pub const APP_TABLE: &str = "carepath._migrations";

/// Before the engine had migrations of its own, one migrator recorded
/// everything in `_sqlx_migrations`, from this version ...
const LEGACY_FIRST: i64 = 20261123000001;
/// ... to this one; its end state is exactly the engine's and the
/// application's first migrations.
const LEGACY_LAST: i64 = 20261130000002;

/// The application's first migration: what a database migrated before the
/// split already holds. Adoption records it, and nothing after it, as applied.
const APP_BASELINE: i64 = 20261201000002;
/// The engine's first migration, likewise.
const ENGINE_BASELINE: i64 = 20261201000001;

/// The application's migrations, recorded in [`APP_TABLE`].
fn app_migrator() -> Migrator {
    let mut migrator = sqlx::migrate!("../migrations");
    migrator.dangerous_set_table_name(APP_TABLE);
    migrator.create_schema("carepath");
    migrator
}

/// The queue's and the engine's migrations (see [`carepath_engine::migrate`]),
/// then the application's.
///
/// # Errors
/// A database error, a changed migration, or a database migrated by an older
/// carepath only part of the way (see [`adopt_legacy`]).
pub async fn migrate(pool: &PgPool) -> Result<()> {
    // Before anything is written: a database carepath cannot adopt is left as it was.
    adopt_legacy(pool).await?;
    carepath_engine::migrate::queue_migrator()
        .run(pool)
        .await
        .context("applying the queue's migrations")?;
    carepath_engine::migrate::engine_migrator()
        .run(pool)
        .await
        .context("applying the engine's migrations")?;
    app_migrator()
        .run(pool)
        .await
        .context("applying carepath's migrations")?;
    // Patients from before issue 12 become records matching can find.
    crate::consult::patients::backfill_records(pool)
        .await
        .context("filing existing patients as match records")?;
    Ok(())
}

/// A database migrated before the engine's split already has the schema the
/// engine's and the application's first migrations create: they are recorded
/// as applied without running, each in its own table and only while that
/// table is empty, so a run cut off between the two is finished by the next.
/// One migrated only part of the way is refused, since its missing steps are
/// no longer shipped. The old record is carepath's only if it holds
/// carepath's first version (another application's sqlx migrations may share
/// the table); it is found as the old code found it, through `search_path`.
async fn adopt_legacy(pool: &PgPool) -> Result<()> {
    let legacy = carepath_engine::migrate::applied(pool, "_sqlx_migrations").await?;
    if !legacy.contains(&LEGACY_FIRST) {
        return Ok(());
    }
    if !legacy.contains(&LEGACY_LAST) {
        let last = legacy
            .iter()
            .filter(|v| (LEGACY_FIRST..=LEGACY_LAST).contains(*v))
            .max()
            .copied()
            .unwrap_or(LEGACY_FIRST);
        bail!(
            "this database was migrated by an older carepath up to {last}; migrate it to \
             {LEGACY_LAST} with that release's `carepath migrate` first"
        );
    }
    let engine = carepath_engine::migrate::applied(pool, carepath_engine::migrate::TABLE).await?;
    if engine.is_empty() {
        tracing::info!("adopting the engine's schema of a database migrated before the split");
        carepath_engine::migrate::engine_migrator()
            .skip(pool, Some(ENGINE_BASELINE))
            .await
            .context("recording the engine's migrations")?;
    }
    if carepath_engine::migrate::applied(pool, APP_TABLE)
        .await?
        .is_empty()
    {
        tracing::info!("adopting carepath's schema of a database migrated before the split");
        app_migrator()
            .skip(pool, Some(APP_BASELINE))
            .await
            .context("recording carepath's migrations")?;
    }
    Ok(())
}

/// Fails with a message saying what to do when any migration is missing.
///
/// # Errors
/// A missing migration, or a database error.
pub async fn ensure_migrated(pool: &PgPool) -> Result<()> {
    let mut missing = carepath_engine::migrate::missing(pool)
        .await
        .context("reading the migrations tables")?;
    missing.extend(
        carepath_engine::migrate::missing_from(pool, &app_migrator(), APP_TABLE)
            .await
            .context("reading the migrations table")?,
    );
    if let Some(first) = missing.first() {
        bail!(
            "the database is not migrated ({} migration(s) missing, first: {first}); \
             run `carepath migrate` first",
            missing.len()
        );
    }
    Ok(())
}
