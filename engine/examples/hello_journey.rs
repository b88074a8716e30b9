//! A journey on the engine crate alone: greet, wait for the signal `approved`
//! (with a timeout), sleep a moment on a durable timer, finish; then print the
//! journey's history and check its hash chain.
//!
//! ```sh
//! createdb -h 127.0.0.1 -U postgres engine_example
//! DATABASE_URL=postgres://postgres@127.0.0.1:5432/engine_example \
//!     cargo run -p carepath-engine --example hello_journey
//! ```

use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use async_trait::async_trait;
use carepath_engine::store::{history, journeys};
use carepath_engine::{
    Actor, Engine, EngineConfig, Journey, JourneyCtx, JourneyStatus, Registry, WaitingFor,
    WorkerConfig, Workflow, WorkflowError,
};
use serde_json::{Value, json};
use sqlx::PgPool;
use sqlx::postgres::PgPoolOptions;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

/// How long anything in this example may take before it gives up.
const PATIENCE: Duration = Duration::from_secs(30);

struct Hello;

#[async_trait]
impl Workflow for Hello {
    fn signals(&self) -> &[&str] {
        &["approved"]
    }

    async fn run(&self, ctx: &mut JourneyCtx, input: Value) -> Result<Value, WorkflowError> {
        let name = input["name"].as_str().unwrap_or("world").to_owned();
        // Recorded once: when the journey resumes after the signal and the
        // timer, this closure is not called again; its output comes from history.
        let greeting: String = ctx
            .step("greet", move |_| async move {
                println!("  (step greet runs)");
                Ok(format!("Hello, {name}!"))
            })
            .await?;
        ctx.set_phase("awaiting_approval");
        let Some(approval) = ctx
            .wait_signal("approved", Some(Duration::from_secs(600)))
            .await?
        else {
            return Ok(json!({ "greeting": greeting, "approved": false }));
        };
        ctx.set_phase("cooling_off");
        ctx.sleep("cool_off", Duration::from_secs(1)).await?;
        let finished: String = ctx
            .step("finish", |s| async move {
                println!("  (step finish runs, attempt {})", s.attempt);
                Ok(format!("done ({})", s.idempotency_key()))
            })
            .await?;
        Ok(json!({ "greeting": greeting, "approved_by": approval["by"], "finished": finished }))
    }
}

#[tokio::main]
async fn main() -> ExitCode {
    let Ok(url) = std::env::var("DATABASE_URL") else {
        eprintln!(
            "hello_journey needs a PostgreSQL database: set DATABASE_URL, e.g.\n  \
             createdb -h 127.0.0.1 -U postgres engine_example\n  \
             DATABASE_URL=postgres://postgres@127.0.0.1:5432/engine_example \
             cargo run -p carepath-engine --example hello_journey"
        );
        return ExitCode::from(2);
    };
    match run(&url).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("hello_journey failed: {e:#}");
            ExitCode::FAILURE
        }
    }
}

async fn run(url: &str) -> Result<()> {
    let pool = PgPoolOptions::new()
        .max_connections(10)
        .acquire_timeout(Duration::from_secs(10))
        .connect(url)
        .await
        .context("connecting to DATABASE_URL")?;
    // The queue's and the engine's tables; an application would run its own
    // migrations after these.
    carepath_engine::migrate::run(&pool)
        .await
        .context("migrating the database")?;

    let engine = Engine::new(
        pool.clone(),
        Registry::new().with("hello", 1, Hello),
        EngineConfig::default(),
    );
    let stop = CancellationToken::new();
    let worker = tokio::spawn(carepath_engine::worker::run(
        engine.clone(),
        WorkerConfig {
            name: "hello-example".into(),
            poll_interval: Duration::from_millis(100),
            ..WorkerConfig::default()
        },
        stop.clone(),
    ));
    let outcome = drive(&engine, &pool).await;
    stop.cancel();
    worker
        .await
        .context("the worker task panicked")?
        .context("the worker did not shut down cleanly")?;
    outcome
}

async fn drive(engine: &Engine, pool: &PgPool) -> Result<()> {
    let actor = Actor::new("example");
    // A fresh key each run; the same key again would return the same journey.
    let key = format!("hello-{}", Uuid::new_v4());
    let started = engine
        .start("hello", &key, json!({ "name": "Ada" }), &actor)
        .await
        .context("starting the journey")?;
    let id = started.journey.id;
    println!("started journey {id}");

    let waiting = wait_until(pool, id, "to wait for the signal", |j| {
        j.waiting_for == Some(WaitingFor::signal("approved"))
    })
    .await?;
    println!(
        "journey is {} in phase {:?}, waiting for {}",
        waiting.status,
        waiting.phase,
        waiting
            .waiting_for
            .as_ref()
            .map_or_else(String::new, ToString::to_string)
    );

    let sent = engine
        .signal(
            id,
            "approved",
            "example",
            "approval-1",
            &json!({ "by": "dr. Example" }),
            &actor,
        )
        .await
        .context("sending the signal")?;
    println!("sent signal approved: {sent:?}");

    let done = wait_until(pool, id, "to complete", |j| {
        j.status == JourneyStatus::Completed
    })
    .await?;
    println!(
        "journey {} with output {}",
        done.status,
        done.output.unwrap_or(Value::Null)
    );

    println!("history:");
    for event in history::list(pool, id)
        .await
        .context("reading the history")?
    {
        println!(
            "  {:>2} {} {:<8} {:<16} {}",
            event.seq,
            event.at.format("%H:%M:%S%.3f"),
            event.actor,
            event.kind,
            event.detail
        );
    }
    let verified = history::verify(pool, id)
        .await
        .context("verifying the history")?;
    if !verified.ok {
        bail!(
            "the history chain is broken at event {:?}",
            verified.broken_at
        );
    }
    println!("history chain verified: {} events", verified.events);
    Ok(())
}

/// Polls the journey until `ready` holds; an error if it fails or takes too long.
async fn wait_until(
    pool: &PgPool,
    id: Uuid,
    what: &str,
    ready: impl Fn(&Journey) -> bool,
) -> Result<Journey> {
    let deadline = Instant::now() + PATIENCE;
    loop {
        let journey = journeys::get(pool, id)
            .await
            .context("reading the journey")?
            .with_context(|| format!("journey {id} vanished"))?;
        if ready(&journey) {
            return Ok(journey);
        }
        if journey.status == JourneyStatus::Failed {
            bail!(
                "journey {id} failed: {}",
                journey.last_error.unwrap_or_default()
            );
        }
        if Instant::now() >= deadline {
            bail!("gave up after {PATIENCE:?} waiting for journey {id} {what}");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
