//! Replay: the workflow function re-runs from the top on every wake-up, and
//! every step it already recorded is answered from history, never run again.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use carepath_engine::{
    JourneyCtx, JourneyStatus, Registry, SignalOutcome, WaitingFor, Workflow, WorkflowError,
};
use serde_json::{Value, json};
use uuid::Uuid;

use crate::support::*;

#[derive(Default)]
struct Counts {
    /// Runs of the workflow function, replays included.
    runs: AtomicUsize,
    mint_token: AtomicUsize,
    after_nap: AtomicUsize,
    after_signal: AtomicUsize,
}

/// A step whose output differs every time it runs, a timer, a step, a signal
/// and a last step: three wake-ups at least, so three runs of the function.
struct Replayed(Arc<Counts>);

#[async_trait]
impl Workflow for Replayed {
    fn signals(&self) -> &[&str] {
        &["approved"]
    }

    async fn run(&self, ctx: &mut JourneyCtx, _input: Value) -> Result<Value, WorkflowError> {
        self.0.runs.fetch_add(1, Ordering::SeqCst);
        let counts = self.0.clone();
        let token: String = ctx
            .step("mint_token", move |_| async move {
                counts.mint_token.fetch_add(1, Ordering::SeqCst);
                Ok(Uuid::new_v4().to_string())
            })
            .await?;
        ctx.sleep("nap", Duration::from_millis(200)).await?;
        let counts = self.0.clone();
        ctx.step("after_nap", move |_| async move {
            counts.after_nap.fetch_add(1, Ordering::SeqCst);
            Ok(())
        })
        .await?;
        let approval = ctx.wait_signal("approved", None).await?;
        let counts = self.0.clone();
        ctx.step("after_signal", move |_| async move {
            counts.after_signal.fetch_add(1, Ordering::SeqCst);
            Ok(())
        })
        .await?;
        Ok(json!({ "token": token, "approval": approval }))
    }
}

#[tokio::test]
async fn a_step_runs_once_though_the_workflow_reruns_after_a_timer_and_a_signal() {
    let pool = fresh_db().await;
    let counts = Arc::new(Counts::default());
    let engine = engine(
        &pool,
        Registry::new().with("replayed", 1, Replayed(counts.clone())),
    );
    let worker = Worker::start(&engine, "replay");
    let id = start(&engine, "replayed", json!({})).await;

    // Past the timer: the function ran again, and the first step did not.
    wait_journey(&pool, id, "to wait for the signal approved", |j| {
        j.waiting_for == Some(WaitingFor::signal("approved"))
    })
    .await;
    assert!(
        counts.runs.load(Ordering::SeqCst) >= 2,
        "replayed after the timer"
    );
    assert_eq!(counts.mint_token.load(Ordering::SeqCst), 1);
    assert_eq!(counts.after_nap.load(Ordering::SeqCst), 1);
    assert_eq!(counts.after_signal.load(Ordering::SeqCst), 0);

    let sent = engine
        .signal(
            id,
            "approved",
            "test",
            "approval-1",
            &json!({ "by": "dr-7" }),
            &actor(),
        )
        .await
        .expect("signal");
    assert_eq!(sent, SignalOutcome::Accepted);
    let done = wait_status(&pool, id, JourneyStatus::Completed).await;
    worker.shutdown().await;

    assert!(
        counts.runs.load(Ordering::SeqCst) >= 3,
        "replayed after the signal"
    );
    assert_eq!(counts.mint_token.load(Ordering::SeqCst), 1);
    assert_eq!(counts.after_nap.load(Ordering::SeqCst), 1);
    assert_eq!(counts.after_signal.load(Ordering::SeqCst), 1);
    // The last run, which did not mint, returned the token minted on the first.
    let recorded: Value = sqlx::query_scalar(
        "SELECT output FROM carepath.journey_steps WHERE journey_id = $1 AND key = 'mint_token'",
    )
    .bind(id)
    .fetch_one(&pool)
    .await
    .expect("read the recorded token");
    let output = done.output.expect("a completed journey has an output");
    assert_eq!(output["token"], recorded);
    assert_eq!(output["approval"], json!({ "by": "dr-7" }));
}
