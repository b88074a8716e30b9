//! Non-determinism: code deployed under a version whose journeys already
//! recorded history must ask for the same positions in the same order. When it
//! does not, the journey fails visibly instead of doing new work on a history
//! it no longer matches.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use carepath_engine::store::history;
use carepath_engine::{JourneyCtx, JourneyStatus, Registry, WaitingFor, Workflow, WorkflowError};
use serde_json::{Value, json};

use crate::support::*;

/// Counts the calls of every step closure the edited code reaches.
#[derive(Default)]
struct Calls(AtomicUsize);

impl Calls {
    fn get(&self) -> usize {
        self.0.load(Ordering::SeqCst)
    }
}

async fn counted(ctx: &mut JourneyCtx, key: &str, calls: &Arc<Calls>) -> Result<(), WorkflowError> {
    let calls = calls.clone();
    ctx.step(key, move |_| async move {
        calls.0.fetch_add(1, Ordering::SeqCst);
        Ok(())
    })
    .await
}

/// Version 1 as first deployed: create the patient, wait for `go`, submit.
struct Original;

#[async_trait]
impl Workflow for Original {
    fn signals(&self) -> &[&str] {
        &["go"]
    }

    async fn run(&self, ctx: &mut JourneyCtx, _input: Value) -> Result<Value, WorkflowError> {
        ctx.step("create_patient", |_| async { Ok(1) }).await?;
        ctx.wait_signal("go", None).await?;
        ctx.step("submit_case", |_| async { Ok(2) }).await?;
        Ok(json!("original"))
    }
}

/// Version 1 edited in place: its first step renamed.
struct Renamed(Arc<Calls>);

#[async_trait]
impl Workflow for Renamed {
    fn signals(&self) -> &[&str] {
        &["go"]
    }

    async fn run(&self, ctx: &mut JourneyCtx, _input: Value) -> Result<Value, WorkflowError> {
        counted(ctx, "lookup_patient", &self.0).await?;
        ctx.wait_signal("go", None).await?;
        counted(ctx, "submit_case", &self.0).await?;
        Ok(json!("renamed"))
    }
}

#[tokio::test]
async fn a_renamed_step_fails_the_journey_with_a_nondeterminism_error() {
    let pool = fresh_db().await;
    let before = engine(&pool, Registry::new().with("intake", 1, Original));
    let worker = Worker::start(&before, "original");
    let id = start(&before, "intake", json!({})).await;
    wait_journey(&pool, id, "to wait for go", |j| {
        j.waiting_for == Some(WaitingFor::signal("go"))
    })
    .await;
    worker.shutdown().await;

    // A deploy that changed version 1's code instead of adding version 2.
    let calls = Arc::new(Calls::default());
    let after = engine(
        &pool,
        Registry::new().with("intake", 1, Renamed(calls.clone())),
    );
    let worker = Worker::start(&after, "renamed");
    after
        .signal(id, "go", "test", "go-1", &json!(null), &actor())
        .await
        .expect("signal");
    let failed = wait_status(&pool, id, JourneyStatus::Failed).await;
    worker.shutdown().await;

    let error = failed.last_error.unwrap_or_default();
    assert!(error.starts_with("non-determinism"), "last_error: {error}");
    assert!(
        error.contains("lookup_patient") && error.contains("create_patient"),
        "names both what the code asked for and what history holds: {error}"
    );
    assert_eq!(
        calls.get(),
        0,
        "the edited code did no work on the old history"
    );
    let events = history::list(&pool, id).await.expect("read the history");
    let last = events.last().expect("history is never empty");
    assert_eq!(last.kind, "failed");
    assert_eq!(last.detail["error"], json!(error));
}

/// Version 1 as first deployed: two steps, then a long timer.
struct TwoStepsThenNap;

#[async_trait]
impl Workflow for TwoStepsThenNap {
    async fn run(&self, ctx: &mut JourneyCtx, _input: Value) -> Result<Value, WorkflowError> {
        ctx.step("reserve_slot", |_| async { Ok(()) }).await?;
        ctx.step("notify", |_| async { Ok(()) }).await?;
        ctx.sleep("nap", Duration::from_secs(3600)).await?;
        ctx.step("done", |_| async { Ok(()) }).await?;
        Ok(json!("original"))
    }
}

/// Edited in place: the two steps swapped.
struct Reordered(Arc<Calls>);

#[async_trait]
impl Workflow for Reordered {
    async fn run(&self, ctx: &mut JourneyCtx, _input: Value) -> Result<Value, WorkflowError> {
        counted(ctx, "notify", &self.0).await?;
        counted(ctx, "reserve_slot", &self.0).await?;
        ctx.sleep("nap", Duration::from_secs(3600)).await?;
        counted(ctx, "done", &self.0).await?;
        Ok(json!("reordered"))
    }
}

/// Edited in place: the timer and what followed it removed.
struct Shortened(Arc<Calls>);

#[async_trait]
impl Workflow for Shortened {
    async fn run(&self, ctx: &mut JourneyCtx, _input: Value) -> Result<Value, WorkflowError> {
        counted(ctx, "reserve_slot", &self.0).await?;
        counted(ctx, "notify", &self.0).await?;
        Ok(json!("shortened"))
    }
}

#[tokio::test]
async fn reordered_or_removed_positions_fail_the_journey_instead_of_completing_it() {
    let pool = fresh_db().await;
    let before = engine(
        &pool,
        Registry::new()
            .with("reordered", 1, TwoStepsThenNap)
            .with("shortened", 1, TwoStepsThenNap),
    );
    let worker = Worker::start(&before, "original");
    let reordered = start(&before, "reordered", json!({})).await;
    let shortened = start(&before, "shortened", json!({})).await;
    for id in [reordered, shortened] {
        wait_journey(&pool, id, "to sleep", |j| {
            j.waiting_for == Some(WaitingFor::Timer { key: "nap".into() })
        })
        .await;
    }
    worker.shutdown().await;

    let calls = Arc::new(Calls::default());
    let after = engine(
        &pool,
        Registry::new()
            .with("reordered", 1, Reordered(calls.clone()))
            .with("shortened", 1, Shortened(calls.clone())),
    );
    let worker = Worker::start(&after, "edited");
    for id in [reordered, shortened] {
        // An operator fires the hour-long timer now, so the edited code runs.
        after.wake(id, &actor(), "test").await.expect("wake");
    }
    let swapped = wait_status(&pool, reordered, JourneyStatus::Failed).await;
    let cut = wait_status(&pool, shortened, JourneyStatus::Failed).await;
    worker.shutdown().await;

    let error = swapped.last_error.unwrap_or_default();
    assert!(
        error.starts_with("non-determinism") && error.contains("position 1"),
        "last_error: {error}"
    );
    assert!(
        error.contains("notify") && error.contains("reserve_slot"),
        "{error}"
    );
    let error = cut.last_error.unwrap_or_default();
    assert!(
        error.starts_with("non-determinism") && error.contains("\"nap\""),
        "a run that ends before the history does names what it skipped: {error}"
    );
    assert_eq!(calls.get(), 0, "no step of the edited code ran");
    assert_eq!(
        journey(&pool, shortened).await.output,
        None,
        "the shortened code's output was not taken"
    );
}
