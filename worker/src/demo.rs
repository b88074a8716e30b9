//! `carepath demo`: a worker, three demo journeys and their story, on a
//! private PostgreSQL unless DATABASE_URL is set.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use anyhow::{Result, bail};
use carepath_workflows::store::{history, journeys};
use carepath_workflows::{Actor, EngineConfig, RetryPolicy, builtin};
use serde_json::json;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use crate::db;
use crate::private_pg::{self, Durability};
use crate::runtime::{self, WorkerConfig};

pub async fn run() -> Result<()> {
    if std::env::var("DATABASE_URL").is_ok() {
        println!("using DATABASE_URL");
    } else {
        println!("starting a private PostgreSQL (no DATABASE_URL set)…");
    }
    let (_cluster, url) = private_pg::database_url_or_private(Durability::Fast)?;
    let pool = db::connect(&url, 40).await?;
    db::migrate(&pool).await?;
    let config = EngineConfig {
        retry: RetryPolicy {
            initial: Duration::from_millis(400),
            max: Duration::from_secs(5),
            max_attempts: 5,
        },
        ..EngineConfig::default()
    };
    let engine = builtin::engine(&pool, &carepath_workflows::Settings::default(), config)?;
    let stop = CancellationToken::new();
    let worker_cfg = WorkerConfig {
        concurrency: 8,
        poll_interval: Duration::from_millis(200),
        ..WorkerConfig::default()
    };
    let worker = tokio::spawn(runtime::run(engine.clone(), worker_cfg, stop.clone()));

    let actor = Actor::new("demo");
    let run_id = Uuid::new_v4().simple().to_string();
    let scenarios = [
        (
            "approved early",
            "signal sent before the journey waits for it",
        ),
        ("approved late", "signal sent while the journey waits"),
        ("no decision", "nobody answers: the wait times out"),
    ];
    let mut ids = Vec::new();
    for (i, (name, _)) in scenarios.iter().enumerate() {
        let input = json!({ "review_timeout_ms": 3000, "follow_up_ms": 1500, "flaky_failures": 2 });
        let started = engine
            .start("demo", &format!("demo-{run_id}-{i}"), input, &actor)
            .await?;
        println!("started {} ({name})", started.journey.id);
        ids.push(started.journey.id);
    }
    engine
        .signal(
            ids[0],
            "review",
            "demo",
            "review-1",
            &json!({"decision": "approved"}),
            &actor,
        )
        .await?;

    let mut last: HashMap<Uuid, String> = HashMap::new();
    let mut late_signal_sent = false;
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let mut finished = 0;
        for (i, id) in ids.iter().enumerate() {
            let Some(j) = journeys::get(&pool, *id).await? else {
                continue;
            };
            let line = format!(
                "{:<10} phase={:<16} {}",
                j.status,
                j.phase,
                j.waiting_for.clone().unwrap_or_default()
            );
            if last.get(id) != Some(&line) {
                println!("  {:<15} {line}", scenarios[i].0);
                last.insert(*id, line);
            }
            if j.status.is_terminal() || j.status == carepath_workflows::JourneyStatus::Failed {
                finished += 1;
            }
            if i == 1 && !late_signal_sent && j.waiting_for.as_deref() == Some("signal:review") {
                engine
                    .signal(
                        *id,
                        "review",
                        "demo",
                        "review-2",
                        &json!({"decision": "approved"}),
                        &actor,
                    )
                    .await?;
                late_signal_sent = true;
            }
        }
        if finished == ids.len() {
            break;
        }
        if Instant::now() > deadline {
            bail!("the demo journeys did not finish within 60 s");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    for (i, id) in ids.iter().enumerate() {
        let Some(j) = journeys::get(&pool, *id).await? else {
            continue;
        };
        println!(
            "\n{} — {} ({}): {} {}",
            id,
            scenarios[i].0,
            scenarios[i].1,
            j.status,
            j.output.map(|o| o.to_string()).unwrap_or_default()
        );
        for event in history::list(&pool, *id).await? {
            println!(
                "  #{:<2} {} {:<20} {:<10} {}",
                event.seq,
                event.at.format("%H:%M:%S%.3f"),
                event.kind,
                event.actor,
                event.detail
            );
        }
        let v = history::verify(&pool, *id).await?;
        println!("  history chain: {} events, intact: {}", v.events, v.ok);
    }
    stop.cancel();
    worker.await??;
    Ok(())
}
