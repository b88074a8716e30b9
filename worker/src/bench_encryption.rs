//! `carepath bench encryption`: what sealing PHI at rest costs a durable
//! step — the throughput run of `bench steps` (journeys of no-op steps, all
//! in flight, worker processes against a PostgreSQL with durable commits)
//! with encryption off and on, alternated round by round on one database
//! so that both see the same noise, reported as the ratio of their medians.
//! The no-op workflow marks nothing, so with encryption on its input and
//! every step's output are sealed (the engine's default for unmarked
//! payloads), and each journey gets its own data key.

use anyhow::Result;
use carepath_workflows::settings::KeyRingSetting;
use carepath_workflows::{EngineConfig, Settings, builtin};
use clap::Args;
use uuid::Uuid;

use crate::bench::{StepsArgs, measure_drain, spawn_workers_with, start_many, stop_workers};
use crate::db;
use crate::private_pg::{self, Durability};

/// `carepath bench encryption`.
#[derive(Debug, Args)]
pub struct EncryptionArgs {
    #[command(flatten)]
    steps: StepsArgs,
    /// Rounds, each one run off and one run on (their order alternating).
    #[arg(long, default_value_t = 3)]
    rounds: usize,
}

/// Runs the comparison; prints each run and the ratio.
///
/// # Errors
/// A database or worker process that cannot be started, a run that does
/// not finish.
pub async fn run(args: EncryptionArgs) -> Result<()> {
    let (_cluster, url) = private_pg::database_url_or_private(Durability::Durable)?;
    let admin = db::connect(&url, 2).await?;
    let (admin, url, steps) = (&admin, url.as_str(), &args.steps);
    let (off, on) = alternate(args.rounds, |round, sealed| async move {
        println!(
            "round {} — encryption {}",
            round + 1,
            if sealed { "on" } else { "off" }
        );
        fresh_run(admin, url, steps, sealed).await
    })
    .await?;
    println!(
        "median steps/s: off {off:.0}, on {on:.0}; on/off = {:.3} ({:.1}% {})",
        on / off,
        ((on / off) - 1.0).abs() * 100.0,
        if on < off { "slower" } else { "faster" }
    );
    Ok(())
}

/// Runs `run(round, sealed)` `rounds` times with encryption off and on,
/// their order alternating round by round so that drift favours neither;
/// the medians of the rates, (off, on).
///
/// # Errors
/// The first run's error.
pub(crate) async fn alternate<F, Fut>(rounds: usize, mut run: F) -> Result<(f64, f64)>
where
    F: FnMut(usize, bool) -> Fut,
    Fut: std::future::Future<Output = Result<f64>>,
{
    let (mut off, mut on) = (Vec::new(), Vec::new());
    for round in 0..rounds {
        let order = if round % 2 == 0 {
            [false, true]
        } else {
            [true, false]
        };
        for sealed in order {
            let rate = run(round, sealed).await?;
            if sealed {
                on.push(rate)
            } else {
                off.push(rate)
            }
        }
    }
    Ok((median(&mut off), median(&mut on)))
}

/// One run on a database of its own: a process with encryption off refuses
/// one that holds data keys, and each run starts equal.
async fn fresh_run(admin: &sqlx::PgPool, url: &str, args: &StepsArgs, sealed: bool) -> Result<f64> {
    let (name, run_url) = create_database(admin, url).await?;
    let pool = db::connect(&run_url, 32).await?;
    db::migrate(&pool).await?;
    let rate = once(&pool, &run_url, args, sealed).await;
    pool.close().await;
    drop_database(admin, &name).await?;
    rate
}

/// A new, empty database on `url`'s server: its name and URL.
pub(crate) async fn create_database(admin: &sqlx::PgPool, url: &str) -> Result<(String, String)> {
    let name = format!("carepath_bench_enc_{}", Uuid::new_v4().simple());
    // The name is ours: a fixed prefix and a UUID's hex digits.
    sqlx::raw_sql(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
        .execute(admin)
        .await?;
    let run_url = with_database(url, &name);
    Ok((name, run_url))
}

/// Drops a database [`create_database`] made.
pub(crate) async fn drop_database(admin: &sqlx::PgPool, name: &str) -> Result<()> {
    sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
        "DROP DATABASE {name} WITH (FORCE)"
    )))
    .execute(admin)
    .await?;
    Ok(())
}

async fn once(pool: &sqlx::PgPool, url: &str, args: &StepsArgs, sealed: bool) -> Result<f64> {
    let settings = Settings {
        key_ring: if sealed {
            KeyRingSetting::Development
        } else {
            KeyRingSetting::Off
        },
        ..Settings::default()
    };
    let engine = builtin::engine(pool, &settings, EngineConfig::default())?;
    let run = Uuid::new_v4().simple().to_string();
    start_many(&engine, &run, args.journeys, args.steps).await?;
    let env: &[(&str, &str)] = if sealed {
        &[]
    } else {
        &[("CAREPATH_PHI_ENCRYPTION", "off")]
    };
    let mut workers = spawn_workers_with(url, args.workers, args.concurrency, env)?;
    let rate = measure_drain(pool, &run, args).await;
    stop_workers(&mut workers);
    rate
}

/// `url` naming the database `name` instead of its own.
fn with_database(url: &str, name: &str) -> String {
    let (base, query) = url
        .split_once('?')
        .map_or((url, None), |(b, q)| (b, Some(q)));
    let base = base.rsplit_once('/').map_or(base, |(server, _)| server);
    match query {
        Some(q) => format!("{base}/{name}?{q}"),
        None => format!("{base}/{name}"),
    }
}

pub(crate) fn median(values: &mut [f64]) -> f64 {
    values.sort_by(f64::total_cmp);
    values.get(values.len() / 2).copied().unwrap_or(f64::NAN)
}
