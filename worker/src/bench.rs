//! `carepath bench steps`: the engine's own cost, against a PostgreSQL with
//! durable commits, with workers as separate processes as in production.

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use carepath_workflows::{Actor, Engine, EngineConfig, builtin};
use clap::Args;
use serde_json::json;
use sqlx::PgPool;
use uuid::Uuid;

use carepath_workflows::engine::webhook_source::INBOX_PARTITIONS;

use crate::db;
use crate::private_pg::{self, Durability};

#[derive(Debug, Args)]
pub struct StepsArgs {
    /// Journeys in the throughput run.
    #[arg(long, default_value_t = 2000)]
    pub(crate) journeys: usize,
    /// No-op steps per journey in the throughput run.
    #[arg(long, default_value_t = 10)]
    pub(crate) steps: u64,
    /// Worker processes.
    #[arg(long, default_value_t = 2)]
    pub(crate) workers: usize,
    /// Journeys each worker runs at once.
    #[arg(long, default_value_t = 16)]
    pub(crate) concurrency: usize,
    /// Sequential 5-step journeys timed one at a time for the latency figures.
    #[arg(long, default_value_t = 200)]
    latency_samples: usize,
    /// The workers' group checkpoint writers (`CAREPATH_CHECKPOINT_WRITERS`;
    /// 0: one commit per step).
    #[arg(long, default_value_t = 1)]
    pub(crate) checkpoint_writers: usize,
}

pub async fn steps(args: StepsArgs) -> Result<()> {
    let (_cluster, url) = private_pg::database_url_or_private(Durability::Durable)?;
    let pool = db::connect(&url, 32).await?;
    db::migrate(&pool).await?;
    describe_machine(&pool).await?;
    let engine = builtin::engine(
        &pool,
        &carepath_workflows::Settings::default(),
        EngineConfig::default(),
    )?;
    let run = Uuid::new_v4().simple().to_string();

    let writers = args.checkpoint_writers.to_string();
    let env = [("CAREPATH_CHECKPOINT_WRITERS", writers.as_str())];
    let mut workers = spawn_workers_with(&url, args.workers, args.concurrency, &env)?;
    let latency = measure_latency(&engine, &pool, &run, args.latency_samples).await;
    stop_workers(&mut workers);
    latency?;

    // All N journeys exist before any worker runs: N in flight at once.
    println!(
        "throughput: {} journeys x {} steps, all in flight, {} worker process(es) x concurrency {}, \
         {} checkpoint writer(s)",
        args.journeys, args.steps, args.workers, args.concurrency, args.checkpoint_writers
    );
    let began = Instant::now();
    start_many(&engine, &run, args.journeys, args.steps).await?;
    println!(
        "  started {} journeys in {:.1} s",
        args.journeys,
        began.elapsed().as_secs_f64()
    );
    let mut workers = spawn_workers_with(&url, args.workers, args.concurrency, &env)?;
    let drained = measure_drain(&pool, &run, &args).await;
    let rss: Vec<Option<u64>> = workers.iter().map(|w| peak_rss_kib(w.id())).collect();
    stop_workers(&mut workers);
    drained?;
    let rss_text = rss
        .iter()
        .map(|r| r.map_or("?".into(), |k| format!("{:.1} MiB", k as f64 / 1024.0)))
        .collect::<Vec<_>>()
        .join(", ");
    println!("  worker peak RSS (VmHWM) with them in flight: {rss_text}");
    Ok(())
}

async fn measure_latency(engine: &Engine, pool: &PgPool, run: &str, samples: usize) -> Result<()> {
    let id = start(engine, &format!("{run}-warmup"), 1).await?;
    wait_done(pool, id, Duration::from_secs(60))
        .await
        .context("workers did not start")?;
    let mut latencies = Vec::with_capacity(samples);
    let mut dispatch = Vec::with_capacity(samples);
    for i in 0..samples {
        let id = start(engine, &format!("{run}-lat-{i}"), 5).await?;
        latencies.push(wait_done(pool, id, Duration::from_secs(30)).await?);
        dispatch.push(first_step_after(pool, id).await?);
    }
    latencies.sort_by(f64::total_cmp);
    dispatch.sort_by(f64::total_cmp);
    if !latencies.is_empty() {
        println!(
            "single 5-step journey, start to completed: p50 {:.1} ms, p99 {:.1} ms ({} samples)",
            percentile(&latencies, 0.50),
            percentile(&latencies, 0.99),
            latencies.len()
        );
        println!(
            "  start to its first step: p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms",
            percentile(&dispatch, 0.50),
            percentile(&dispatch, 0.99),
            dispatch.last().copied().unwrap_or_default()
        );
    }
    Ok(())
}

pub(crate) async fn start_many(engine: &Engine, run: &str, n: usize, steps: u64) -> Result<()> {
    let starters = 8;
    let mut handles = Vec::new();
    for s in 0..starters {
        let engine = engine.clone();
        let run = run.to_owned();
        handles.push(tokio::spawn(async move {
            for i in (s..n).step_by(starters) {
                start(&engine, &format!("{run}-tp-{i}"), steps).await?;
            }
            anyhow::Ok(())
        }));
    }
    for h in handles {
        h.await??;
    }
    Ok(())
}

/// From the workers' start to the last completion, as PostgreSQL timed it;
/// returns the steps per second.
pub(crate) async fn measure_drain(pool: &PgPool, run: &str, args: &StepsArgs) -> Result<f64> {
    let from: chrono::DateTime<chrono::Utc> =
        sqlx::query_scalar("SELECT now()").fetch_one(pool).await?;
    let pattern = format!("{run}-tp-%");
    let deadline = Instant::now() + Duration::from_secs(1800);
    loop {
        let done: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM carepath.journeys
              WHERE status = 'completed' AND idempotency_key LIKE $1",
        )
        .bind(&pattern)
        .fetch_one(pool)
        .await?;
        if done as usize == args.journeys {
            break;
        }
        if Instant::now() > deadline {
            bail!(
                "throughput run did not finish: {done}/{} completed",
                args.journeys
            );
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let secs: f64 = sqlx::query_scalar(
        "SELECT extract(epoch FROM max(finished_at) - $2)::float8
           FROM carepath.journeys WHERE idempotency_key LIKE $1",
    )
    .bind(&pattern)
    .bind(from)
    .fetch_one(pool)
    .await?;
    let total_steps = args.journeys as f64 * args.steps as f64;
    println!(
        "  {:.0} steps/s, {:.0} journeys/s ({:.1} s from the workers' start to the last completion)",
        total_steps / secs,
        args.journeys as f64 / secs,
        secs
    );
    Ok(total_steps / secs)
}

pub(crate) async fn start(engine: &Engine, key: &str, steps: u64) -> Result<Uuid> {
    let s = engine
        .start("noop", key, json!({ "steps": steps }), &Actor::new("bench"))
        .await?;
    Ok(s.journey.id)
}

/// Milliseconds from the journey's start (the database's clock) to its first
/// step's start (the worker's clock: the same machine here, but a remote
/// `DATABASE_URL` adds the clocks' skew): how long the queue took to hand it
/// to a worker.
pub(crate) async fn first_step_after(pool: &PgPool, id: Uuid) -> Result<f64> {
    let ms: Option<f64> = sqlx::query_scalar(
        "SELECT extract(epoch FROM min(s.started_at) - j.created_at)::float8 * 1000
           FROM carepath.journeys j JOIN carepath.journey_steps s ON s.journey_id = j.id
          WHERE j.id = $1 GROUP BY j.created_at",
    )
    .bind(id)
    .fetch_optional(pool)
    .await?;
    ms.context("the journey recorded no step")
}

/// Time from start to completion as PostgreSQL recorded it.
pub(crate) async fn wait_done(pool: &PgPool, id: Uuid, timeout: Duration) -> Result<f64> {
    let deadline = Instant::now() + timeout;
    loop {
        let row: (String, Option<f64>) = sqlx::query_as(
            "SELECT status, extract(epoch FROM finished_at - created_at)::float8 * 1000
               FROM carepath.journeys WHERE id = $1",
        )
        .bind(id)
        .fetch_one(pool)
        .await?;
        match row {
            (s, Some(ms)) if s == "completed" => return Ok(ms),
            (s, _) if s == "failed" => bail!("journey {id} failed"),
            _ if Instant::now() > deadline => bail!("journey {id} did not complete"),
            _ => tokio::time::sleep(Duration::from_millis(2)).await,
        }
    }
}

pub(crate) fn percentile(sorted: &[f64], p: f64) -> f64 {
    let idx = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[idx.min(sorted.len() - 1)]
}

/// `n` worker processes with `env` set besides the database.
pub(crate) fn spawn_workers_with(
    url: &str,
    n: usize,
    concurrency: usize,
    env: &[(&str, &str)],
) -> Result<Vec<Child>> {
    let exe = std::env::current_exe().context("locating the carepath binary")?;
    (0..n)
        .map(|i| {
            Command::new(&exe)
                .arg("worker")
                .arg("--concurrency")
                .arg(concurrency.to_string())
                .envs(env.iter().copied())
                .env("DATABASE_URL", url)
                .env("HOSTNAME", format!("bench-{i}"))
                .env("RUST_LOG", "warn")
                .stdin(Stdio::null())
                .spawn()
                .context("starting a worker process")
        })
        .collect()
}

pub(crate) fn stop_workers(workers: &mut [Child]) {
    for w in workers.iter() {
        let _ = nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(w.id() as i32),
            nix::sys::signal::Signal::SIGTERM,
        );
    }
    for w in workers.iter_mut() {
        let _ = w.wait();
    }
}

fn peak_rss_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
}

pub(crate) async fn describe_machine(pool: &PgPool) -> Result<()> {
    let cpus = std::thread::available_parallelism().map_or(0, |n| n.get());
    let model = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|c| {
            c.lines()
                .find_map(|l| l.strip_prefix("model name"))
                .map(|m| m.trim_start_matches([' ', '\t', ':']).to_owned())
        })
        .unwrap_or_else(|| "unknown CPU".into());
    let version: String = sqlx::query_scalar("SHOW server_version")
        .fetch_one(pool)
        .await?;
    let fsync: String = sqlx::query_scalar("SHOW fsync").fetch_one(pool).await?;
    let sync: String = sqlx::query_scalar("SHOW synchronous_commit")
        .fetch_one(pool)
        .await?;
    println!(
        "machine: {cpus} CPU(s), {model}; PostgreSQL {version} on the same machine \
         (fsync={fsync}, synchronous_commit={sync})"
    );
    Ok(())
}

#[derive(Debug, Args)]
pub struct WebhooksArgs {
    /// Webhooks to post.
    #[arg(long, default_value_t = 20_000)]
    webhooks: usize,
    /// Requests in flight at once.
    #[arg(long, default_value_t = 32)]
    concurrency: usize,
    /// Webhooks per second to post at (a sustained rate); 0 posts them as
    /// fast as the API accepts them (a burst).
    #[arg(long, default_value_t = 0)]
    rate: u32,
    /// Inbox routers side by side, as a worker's `--inbox-routers` (1 to 8).
    #[arg(long, default_value_t = 4, value_parser = clap::value_parser!(u16).range(1..=8))]
    routers: u16,
    /// Groups of deliveries the door may commit at once (the API's
    /// default, 1); 0 stores each delivery in its own transaction.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u16).range(0..=16))]
    inbox_writers: u16,
}

/// The journeys whose cases the benchmark's webhooks are about.
const OWNERS: usize = 200;
/// The clinical network's webhook secret in the benchmark.
const SECRET: &str = "bench-secret";

/// The API and the inbox router run in this process, as one API pod and one
/// worker would; the load comes from the same process, over loopback HTTP.
pub async fn webhooks(args: WebhooksArgs) -> Result<()> {
    let (_cluster, url) = private_pg::database_url_or_private(Durability::Durable)?;
    let pool = db::connect(&url, 48).await?;
    db::migrate(&pool).await?;
    describe_machine(&pool).await?;
    let settings = carepath_workflows::Settings {
        webhook_secrets: carepath_activities::webhook_signature::Secrets::default()
            .with("clinical", &[SECRET]),
        ..carepath_workflows::Settings::default()
    };
    let config = EngineConfig {
        inbox_writers: usize::from(args.inbox_writers),
        ..EngineConfig::default()
    };
    let engine = builtin::engine(&pool, &settings, config)?;
    let base = serve_api(&engine, settings.vendors).await?;
    let stop = tokio_util::sync::CancellationToken::new();
    let routers = spawn_routers(&engine, &stop, i16::try_from(args.routers).unwrap_or(1));
    let run = Uuid::new_v4().simple().to_string();
    own_cases(&engine, &pool, &run).await?;
    carepath_activities::tls::install_crypto_provider();
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(args.concurrency)
        .build()?;
    let began = Instant::now();
    let mut latencies = post_webhooks(&http, &args, &base, &run).await?;
    let elapsed = began.elapsed().as_secs_f64();
    latencies.sort_by(f64::total_cmp);
    println!(
        "{} signed webhooks, {} in flight, {} door writer(s): {:.0} accepted/s; time to the 200: p50 {:.1} ms, p99 {:.1} ms",
        args.webhooks,
        args.concurrency,
        args.inbox_writers,
        args.webhooks as f64 / elapsed,
        percentile(&latencies, 0.50),
        percentile(&latencies, 0.99)
    );
    wait_routed(&pool).await?;
    stop.cancel();
    for router in routers {
        let _ = router.await;
    }
    report_routing_lag(&pool, &run).await
}

/// Serves the API (the engine's webhook sources verify the clinical
/// network's webhooks, signed with [`SECRET`]) on a loopback port; the URL
/// its webhooks are posted to.
async fn serve_api(engine: &Engine, vendors: carepath_activities::VendorsConfig) -> Result<String> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let base = format!("http://{}/webhooks/clinical", listener.local_addr()?);
    tokio::spawn(carepath_api::serve(
        listener,
        carepath_api::AppState {
            engine: engine.clone(),
            vendors: std::sync::Arc::new(vendors),
        },
    ));
    Ok(base)
}

/// Routes the inbox with `n` routers side by side, each over its share of
/// the partitions, as a worker's routers do, until `stop`.
fn spawn_routers(
    engine: &Engine,
    stop: &tokio_util::sync::CancellationToken,
    n: i16,
) -> Vec<tokio::task::JoinHandle<()>> {
    (0..n)
        .map(|i| {
            let (engine, stop) = (engine.clone(), stop.clone());
            tokio::spawn(async move {
                let partitions: Vec<i16> = (i..INBOX_PARTITIONS).step_by(n as usize).collect();
                while !stop.is_cancelled() {
                    let mut handled = 0;
                    for p in &partitions {
                        match engine.route_partition_once(*p, 200).await {
                            Ok(r) => handled += r.handled(),
                            Err(error) => eprintln!("routing partition {p} failed: {error}"),
                        }
                    }
                    if handled == 0 {
                        tokio::time::sleep(Duration::from_millis(20)).await;
                    }
                }
            })
        })
        .collect()
}

/// Starts [`OWNERS`] journeys, each owning a case of `run`.
async fn own_cases(engine: &Engine, pool: &PgPool, run: &str) -> Result<()> {
    // The events are about cases that journeys own, so routing does its real
    // work (a signal and a history event each); no worker runs the journeys.
    for j in 0..OWNERS {
        let started = engine
            .start(
                "noop",
                &format!("bench-{run}-{j}"),
                json!({}),
                &Actor::new("bench"),
            )
            .await?;
        carepath_workflows::store::refs::link(
            pool,
            started.journey.id,
            "clinical",
            "case",
            &format!("case_{run}_{j}"),
        )
        .await?;
    }
    Ok(())
}

/// Posts `args.webhooks` signed webhooks about the cases of `run`,
/// `args.concurrency` at a time; each one's time to the 200, in ms.
async fn post_webhooks(
    http: &reqwest::Client,
    args: &WebhooksArgs,
    base: &str,
    run: &str,
) -> Result<Vec<f64>> {
    let next = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let mut tasks = Vec::new();
    let began = tokio::time::Instant::now();
    let rate = args.rate;
    for _ in 0..args.concurrency {
        let (http, base, run, next) = (http.clone(), base.to_owned(), run.to_owned(), next.clone());
        let total = args.webhooks;
        tasks.push(tokio::spawn(async move {
            let mut latencies = Vec::new();
            loop {
                let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                if i >= total {
                    return anyhow::Ok(latencies);
                }
                if rate > 0 {
                    // The i-th webhook leaves at i / rate seconds.
                    let due = Duration::from_secs_f64(i as f64 / f64::from(rate));
                    tokio::time::sleep_until(began + due).await;
                }
                latencies.push(post_one(&http, &base, &run, i).await?);
            }
        }));
    }
    let mut latencies = Vec::with_capacity(args.webhooks);
    for t in tasks {
        latencies.extend(t.await??);
    }
    Ok(latencies)
}

/// Posts the `i`th webhook of `run`; its time to the 200, in ms.
async fn post_one(http: &reqwest::Client, base: &str, run: &str, i: usize) -> Result<f64> {
    let body = json!({
        "event_id": format!("evt_{run}_{i}"),
        "type": "case.assigned",
        "data": { "case_id": format!("case_{run}_{}", i % OWNERS) },
    })
    .to_string();
    let signature = carepath_activities::webhook_signature::sign(
        SECRET.as_bytes(),
        chrono::Utc::now().timestamp(),
        body.as_bytes(),
    );
    let sent = Instant::now();
    let resp = http
        .post(base)
        .header("content-type", "application/json")
        .header(carepath_activities::webhook_signature::HEADER, signature)
        .body(body)
        .send()
        .await?;
    if !resp.status().is_success() {
        bail!("webhook answered {}", resp.status());
    }
    Ok(sent.elapsed().as_secs_f64() * 1000.0)
}

/// Waits (up to 10 minutes) until the router has routed every stored webhook.
async fn wait_routed(pool: &PgPool) -> Result<()> {
    let deadline = Instant::now() + Duration::from_secs(600);
    loop {
        let pending: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM carepath.webhook_inbox WHERE status = 'received'",
        )
        .fetch_one(pool)
        .await?;
        if pending == 0 {
            return Ok(());
        }
        if Instant::now() > deadline {
            bail!("{pending} webhooks still unrouted");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Prints how long the webhooks of `run` waited between their 200 and their routing.
async fn report_routing_lag(pool: &PgPool, run: &str) -> Result<()> {
    let (p50, p99, max): (f64, f64, f64) = sqlx::query_as(
        "SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY lag),
                percentile_cont(0.99) WITHIN GROUP (ORDER BY lag), max(lag)
           FROM (SELECT extract(epoch FROM processed_at - received_at)::float8 * 1000 AS lag
                   FROM carepath.webhook_inbox WHERE dedup_key LIKE $1) l",
    )
    .bind(format!("evt_{run}_%"))
    .fetch_one(pool)
    .await?;
    println!(
        "inbox routing lag (received → routed): p50 {p50:.0} ms, p99 {p99:.0} ms, max {max:.0} ms"
    );
    Ok(())
}
