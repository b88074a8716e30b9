//! Group checkpoints: concurrent journeys' completed steps share commits,
//! each step is still recorded exactly once with its history event, a run
//! that lost its journey cannot record over the run that took it over, and
//! a pause still stops a journey before its next step.

use std::sync::Arc;

use async_trait::async_trait;
use carepath_engine::store::checkpoints::Ownership::RunFenced;
use carepath_engine::store::checkpoints::{self, Completed};
use carepath_engine::store::{history, journeys, rewind, steps};
use carepath_engine::{EngineConfig, JourneyCtx, JourneyStatus, Registry, Workflow, WorkflowError};
use chrono::Utc;
use serde_json::{Value, json};
use tokio::sync::{Barrier, Notify};

use crate::support::*;

const JOURNEYS: usize = 8;

/// Five steps; the first waits until every journey of the test has reached
/// it, so that their checkpoints arrive at the writer together.
struct Together {
    barrier: Arc<Barrier>,
}

#[async_trait]
impl Workflow for Together {
    async fn run(&self, ctx: &mut JourneyCtx, _input: Value) -> Result<Value, WorkflowError> {
        let barrier = self.barrier.clone();
        ctx.step("together", |_| async move {
            // A run repeated after a crash finds the others gone: it goes on.
            let _ = tokio::time::timeout(DEADLINE, barrier.wait()).await;
            Ok(0)
        })
        .await?;
        for i in 1..5 {
            if i == 3 {
                ctx.set_phase("halfway");
            }
            ctx.step("next", move |_| async move { Ok(i) }).await?;
        }
        ctx.set_phase("done");
        Ok(json!("done"))
    }
}

#[tokio::test]
async fn concurrent_journeys_share_checkpoint_commits_and_each_step_is_recorded_once() {
    let pool = fresh_db().await;
    let barrier = Arc::new(Barrier::new(JOURNEYS));
    let registry = Registry::new().with("together", 1, Together { barrier });
    // One writer: the steps that arrive while it commits form the next group.
    let config = EngineConfig {
        checkpoint_writers: 1,
        ..engine_config()
    };
    let engine = carepath_engine::Engine::new(pool.clone(), registry, config);
    let worker = Worker::start(&engine, "groups");
    let mut ids = Vec::new();
    for _ in 0..JOURNEYS {
        ids.push(start(&engine, "together", json!({})).await);
    }
    for id in &ids {
        let done = wait_status(&pool, *id, JourneyStatus::Completed).await;
        assert_eq!(done.phase, "done");
    }
    worker.shutdown().await;

    for id in &ids {
        let recorded = steps::load(&pool, *id).await.expect("read the steps");
        let keys: Vec<&str> = recorded.iter().map(|s| s.key.as_str()).collect();
        assert_eq!(keys, ["together", "next", "next#2", "next#3", "next#4"]);
        let outputs: Vec<Value> = recorded.iter().filter_map(|s| s.output.clone()).collect();
        assert_eq!(outputs, [json!(0), json!(1), json!(2), json!(3), json!(4)]);
        let events = history::list(&pool, *id).await.expect("read the history");
        let completed = events.iter().filter(|e| e.kind == "step_completed").count();
        assert_eq!(
            completed, 5,
            "each step has exactly one step_completed event"
        );
        let chain = history::verify(&pool, *id).await.expect("verify");
        assert!(
            chain.ok,
            "history chain of {id} broken at {:?}",
            chain.broken_at
        );
    }
    // Rows written by one transaction share its xmin.
    let widest: i64 = sqlx::query_scalar(
        "SELECT max(journeys) FROM (
             SELECT count(DISTINCT journey_id) AS journeys
               FROM carepath.journey_steps GROUP BY xmin::text) per_commit",
    )
    .fetch_one(&pool)
    .await
    .expect("count journeys per commit");
    assert!(
        widest >= 2,
        "no commit carried the steps of more than one journey"
    );
}

/// Never run here: the test claims its journey by hand.
struct Parked;

#[async_trait]
impl Workflow for Parked {
    async fn run(&self, _ctx: &mut JourneyCtx, _input: Value) -> Result<Value, WorkflowError> {
        Ok(json!(null))
    }
}

fn completed(journey_id: uuid::Uuid, run: i64, seq: i32) -> Completed {
    Completed {
        journey_id,
        run,
        seq,
        key: format!("step{seq}"),
        output: json!(seq),
        attempt: 1,
        started_at: Utc::now(),
        phase: None,
    }
}

#[tokio::test]
async fn a_run_that_was_superseded_cannot_record_its_step() {
    let pool = fresh_db().await;
    let engine = engine(&pool, Registry::new().with("parked", 1, Parked));
    let id = start(&engine, "parked", json!({})).await;
    let first = journeys::claim(&pool, id)
        .await
        .expect("claim")
        .expect("due");

    let mut conn = pool.acquire().await.expect("connection");
    let written = checkpoints::record(&mut conn, &[&completed(id, first.runs, 1)], RunFenced)
        .await
        .expect("record");
    assert_eq!(written.len(), 1, "the current run records its step");
    assert_eq!(written[0].2, "running");

    // Another worker claims the journey (the first run's lock was lost).
    let second = journeys::claim(&pool, id)
        .await
        .expect("claim")
        .expect("due");
    assert_eq!(second.runs, first.runs + 1);
    let stale = checkpoints::record(&mut conn, &[&completed(id, first.runs, 2)], RunFenced)
        .await
        .expect("record");
    assert!(
        stale.is_empty(),
        "a superseded run's step must not be written"
    );
    let current = checkpoints::record(&mut conn, &[&completed(id, second.runs, 2)], RunFenced)
        .await
        .expect("record");
    assert_eq!(current.len(), 1);

    // A rewind counts a run as well: what the second run still had in hand
    // is refused once the journey was rewound under it.
    let mut tx = pool.begin().await.expect("begin");
    rewind::restart(&mut tx, id).await.expect("restart");
    tx.commit().await.expect("commit");
    let after_rewind = checkpoints::record(&mut conn, &[&completed(id, second.runs, 3)], RunFenced)
        .await
        .expect("record");
    assert!(after_rewind.is_empty(), "a run rewound under cannot record");

    let recorded = steps::load(&pool, id).await.expect("steps");
    assert_eq!(recorded.len(), 2);
    let events = history::list(&pool, id).await.expect("history");
    let completed = events.iter().filter(|e| e.kind == "step_completed").count();
    assert_eq!(completed, 2, "the stale record left no history event");
}

/// A first step that holds until the test lets it go, then a second.
struct Held {
    entered: Arc<Notify>,
    release: Arc<Notify>,
}

#[async_trait]
impl Workflow for Held {
    async fn run(&self, ctx: &mut JourneyCtx, _input: Value) -> Result<Value, WorkflowError> {
        let (entered, release) = (self.entered.clone(), self.release.clone());
        ctx.step("held", |_| async move {
            entered.notify_one();
            release.notified().await;
            Ok(1)
        })
        .await?;
        ctx.step("after", |_| async { Ok(2) }).await?;
        Ok(json!("done"))
    }
}

#[tokio::test]
async fn a_pause_during_a_step_stops_the_journey_before_its_next_step() {
    let pool = fresh_db().await;
    let (entered, release) = (Arc::new(Notify::new()), Arc::new(Notify::new()));
    let held = Held {
        entered: entered.clone(),
        release: release.clone(),
    };
    let engine = engine(&pool, Registry::new().with("held", 1, held));
    let worker = Worker::start(&engine, "pause");
    let id = start(&engine, "held", json!({})).await;
    tokio::time::timeout(DEADLINE, entered.notified())
        .await
        .expect("the step did not start");
    engine
        .pause(id, &actor(), "checking the chart")
        .await
        .expect("pause");
    release.notify_one();
    // The step under way finishes and is recorded, and the run ends (its
    // lock is free again) without starting the next.
    wait_for("the run to end", || async {
        let free: bool = sqlx::query_scalar(
            "SELECT pg_try_advisory_lock(hashtextextended($1::text, 0))
                    AND pg_advisory_unlock(hashtextextended($1::text, 0))",
        )
        .bind(id)
        .fetch_one(&pool)
        .await
        .expect("try the journey's lock");
        free.then_some(())
    })
    .await;
    worker.shutdown().await;
    let recorded = steps::load(&pool, id).await.expect("steps");
    let keys: Vec<&str> = recorded.iter().map(|s| s.key.as_str()).collect();
    assert_eq!(keys, ["held"], "a step started after the pause");
    assert_eq!(journey(&pool, id).await.status, JourneyStatus::Paused);
}

/// Steps without end: a run that is not stopped keeps recording.
struct Endless;

#[async_trait]
impl Workflow for Endless {
    async fn run(&self, ctx: &mut JourneyCtx, _input: Value) -> Result<Value, WorkflowError> {
        loop {
            ctx.step("tick", |_| async { Ok(()) }).await?;
        }
    }
}

/// The backend holding the advisory lock of `id`'s runs, if any.
async fn lock_holder(pool: &sqlx::PgPool, id: uuid::Uuid) -> Option<i32> {
    sqlx::query_scalar(
        "SELECT pid FROM pg_locks
          WHERE locktype = 'advisory' AND granted AND objsubid = 1
            AND classid = ((hashtextextended($1::text, 0) >> 32) & 4294967295)::oid
            AND objid = (hashtextextended($1::text, 0) & 4294967295)::oid",
    )
    .bind(id)
    .fetch_optional(pool)
    .await
    .expect("read pg_locks")
}

#[tokio::test]
async fn a_run_whose_lock_connection_is_killed_stops_and_another_takes_over() {
    let pool = fresh_db().await;
    let engine = engine(&pool, Registry::new().with("endless", 1, Endless));
    let worker = Worker::start(&engine, "killed");
    let id = start(&engine, "endless", json!({})).await;
    let first = wait_for("the run to hold its lock", || lock_holder(&pool, id)).await;
    let killed: bool = sqlx::query_scalar("SELECT pg_terminate_backend($1)")
        .bind(first)
        .fetch_one(&pool)
        .await
        .expect("terminate the lock's backend");
    assert!(killed);
    // Its steps are committed elsewhere, but within about a second it reads
    // on its dead lock connection and stops; the reconciler then hands the
    // journey to a new run, which holds the lock on a live connection.
    wait_for("a new run under a live lock", || async {
        let runs: i64 = sqlx::query_scalar("SELECT runs FROM carepath.journeys WHERE id = $1")
            .bind(id)
            .fetch_one(&pool)
            .await
            .expect("read runs");
        let holder = lock_holder(&pool, id).await;
        (runs >= 2 && holder.is_some_and(|pid| pid != first)).then_some(())
    })
    .await;
    engine
        .cancel(id, &actor(), "end of the test")
        .await
        .expect("cancel");
    worker.shutdown().await;

    let recorded = steps::load(&pool, id).await.expect("steps");
    for (i, step) in recorded.iter().enumerate() {
        let expected = if i == 0 {
            "tick".to_owned()
        } else {
            format!("tick#{}", i + 1)
        };
        assert_eq!(step.key, expected, "positions out of order at {}", i + 1);
    }
    let chain = history::verify(&pool, id).await.expect("verify");
    assert!(chain.ok, "history chain broken at {:?}", chain.broken_at);
}
