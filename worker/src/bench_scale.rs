//! `carepath bench scale`: what an operator and a worker notice as the
//! journeys pile up. The database grows to each size in turn (the search
//! benchmark's journeys, given the console benchmark's production-like mix:
//! most completed, some waiting, a few failed or overdue); at each, with a
//! worker and the API running in this process, it times a journey's
//! dequeue (start to its first step), a page of the journey list, a search
//! by case, the overdue listing and `/metrics`, and reports the tables'
//! sizes. The last column of each row is its p50 over the first size's.
//! On a throwaway PostgreSQL unless `DATABASE_URL` is set.

use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use carepath_api::auth::{Role, create_token};
use carepath_workflows::{EngineConfig, Settings, builtin};
use clap::Args;
use rand::Rng;
use serde_json::json;
use sqlx::PgPool;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use crate::bench::{first_step_after, percentile, start, wait_done};
use crate::bench_console::shape;
use crate::bench_search::{database, load, query_for};

/// `carepath bench scale` options.
#[derive(Debug, Args)]
pub struct ScaleArgs {
    /// The sizes the database grows to, in journeys, smallest first.
    #[arg(long, value_delimiter = ',', default_value = "10000,1000000")]
    sizes: Vec<usize>,
    /// Requests (and dequeued journeys) timed for each figure.
    #[arg(long, default_value_t = 100)]
    samples: usize,
}

/// What is timed at each size, in the order printed.
const FIGURES: [&str; 6] = [
    "dequeue (start to first step)",
    "list, first page",
    "list, waiting",
    "search by case",
    "overdue listing",
    "/metrics",
];

/// Grows the database size by size and times [`FIGURES`] at each.
///
/// # Errors
/// A database error, or a request that does not answer 200.
pub async fn run(args: ScaleArgs) -> Result<()> {
    let (_cluster, pool) = database().await?;
    let settings = Settings::default();
    let key = settings.search_key().context("no search key")?;
    let engine = builtin::engine(&pool, &settings, EngineConfig::default())?;
    let stop = CancellationToken::new();
    let worker = tokio::spawn(carepath_workflows::engine::worker::run(
        engine.clone(),
        carepath_workflows::engine::worker::WorkerConfig::default(),
        stop.clone(),
    ));
    let base = serve(&engine, &settings).await?;
    let token = create_token(
        &pool,
        &format!("bench-{}", Uuid::new_v4().simple()),
        Role::Operator,
    )
    .await?;
    let probe = Probe {
        engine: &engine,
        pool: &pool,
        http: reqwest::Client::new(),
        base,
        token,
    };
    let mut first: Vec<f64> = Vec::new();
    let mut loaded = 0;
    for (n, size) in args.sizes.iter().enumerate() {
        let before = loaded;
        loaded = load(&pool, &key, *size).await?;
        shape(&pool, before).await?;
        let gauges = Instant::now();
        carepath_workflows::gauge_snapshot::refresh(&pool, Duration::ZERO).await?;
        println!(
            "\n{loaded} journeys; computing the gauges and the overdue set: {:.0} ms",
            gauges.elapsed().as_secs_f64() * 1000.0
        );
        println!("{:<32} p50 ms   p99 ms   max ms   p50 / first size", "");
        for (i, figure) in FIGURES.iter().enumerate() {
            let mut ms = probe.time(i, loaded, args.samples).await?;
            ms.sort_by(f64::total_cmp);
            let p50 = percentile(&ms, 0.50);
            if n == 0 {
                first.push(p50);
            }
            println!(
                "{figure:<32} {p50:>7.2}  {:>7.2}  {:>7.2}   {:>5.2}",
                percentile(&ms, 0.99),
                ms.last().copied().unwrap_or(0.0),
                p50 / first.get(i).copied().unwrap_or(p50).max(f64::EPSILON)
            );
        }
        table_sizes(&pool).await?;
    }
    stop.cancel();
    let _ = worker.await;
    Ok(())
}

/// Serves the API on a loopback port; its base URL.
async fn serve(engine: &carepath_workflows::Engine, settings: &Settings) -> Result<String> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let base = format!("http://{}", listener.local_addr()?);
    tokio::spawn(carepath_api::serve(
        listener,
        carepath_api::AppState {
            engine: engine.clone(),
            vendors: std::sync::Arc::new(settings.vendors.clone()),
        },
    ));
    Ok(base)
}

/// What the figures are timed against: the engine (with a worker running),
/// the database, and the API at `base` with an operator's `token`.
struct Probe<'a> {
    engine: &'a carepath_workflows::Engine,
    pool: &'a PgPool,
    http: reqwest::Client,
    base: String,
    token: String,
}

impl Probe<'_> {
    /// `samples` timings (ms) of figure `i` of [`FIGURES`] on a database of
    /// `loaded` journeys.
    async fn time(&self, i: usize, loaded: usize, samples: usize) -> Result<Vec<f64>> {
        let (engine, pool, http, base) = (self.engine, self.pool, &self.http, &self.base);
        let mut ms = Vec::with_capacity(samples);
        for s in 0..samples {
            if i == 0 {
                let key = format!("bench-scale-{loaded}-{s}-{}", Uuid::new_v4().simple());
                let id = start(engine, &key, 1).await?;
                wait_done(pool, id, Duration::from_secs(30)).await?;
                ms.push(first_step_after(pool, id).await?);
                continue;
            }
            let request = match i {
                1 => http.get(format!("{base}/v1/journeys?limit=50")),
                2 => http.get(format!("{base}/v1/journeys?status=waiting&limit=50")),
                3 => {
                    let case = query_for(pool, "case", rand::rng().random_range(0..loaded)).await?;
                    http.post(format!("{base}/v1/journeys/search"))
                        .json(&json!({ "query": case }))
                }
                4 => http.get(format!("{base}/v1/journeys?overdue=true&limit=50")),
                _ => http.get(format!("{base}/metrics")),
            };
            let began = Instant::now();
            let resp = request.bearer_auth(&self.token).send().await?;
            let status = resp.status();
            resp.bytes().await?;
            ms.push(began.elapsed().as_secs_f64() * 1000.0);
            if !status.is_success() {
                bail!("{} answered {status}", FIGURES[i]);
            }
        }
        Ok(ms)
    }
}

/// Prints the engine's largest tables' sizes (with their indexes; a
/// partitioned table's, those of its partitions).
async fn table_sizes(pool: &PgPool) -> Result<()> {
    let rows: Vec<(String, i64)> = sqlx::query_as(
        "SELECT t, (SELECT sum(pg_total_relation_size(p.relid))::int8
                      FROM pg_partition_tree(t::regclass) p)
           FROM unnest(ARRAY['carepath.journeys', 'carepath.journey_steps', 'carepath.journey_history',
                             'carepath.journey_keys', 'carepath.webhook_inbox', 'apalis.jobs']) t",
    )
    .fetch_all(pool)
    .await?;
    let sizes: Vec<String> = rows
        .iter()
        .map(|(t, b)| format!("{t} {:.0} MB", *b as f64 / 1e6))
        .collect();
    println!("tables: {}", sizes.join(", "));
    Ok(())
}
