//! Suspend: a journey that waits holds no worker; it is `waiting`, says for
//! what, and goes on when the signal arrives, its timer fires or its wait
//! times out.

use std::time::{Duration, Instant};

use async_trait::async_trait;
use carepath_engine::{
    JourneyCtx, JourneyStatus, Registry, SignalOutcome, WaitingFor, Workflow, WorkflowError,
};
use chrono::Utc;
use serde_json::{Value, json};

use crate::support::*;

const COOL_OFF: Duration = Duration::from_secs(1);

/// Greets, waits for `approved` (up to `timeout_ms`, an hour by default),
/// cools off, finishes.
struct Approval;

#[async_trait]
impl Workflow for Approval {
    fn signals(&self) -> &[&str] {
        &["approved"]
    }

    async fn run(&self, ctx: &mut JourneyCtx, input: Value) -> Result<Value, WorkflowError> {
        let _: String = ctx
            .step("greet", |_| async { Ok("hello".to_owned()) })
            .await?;
        let timeout = Duration::from_millis(input["timeout_ms"].as_u64().unwrap_or(3_600_000));
        let Some(approval) = ctx.wait_signal("approved", Some(timeout)).await? else {
            return Ok(json!({ "approved": false }));
        };
        ctx.sleep("cool_off", COOL_OFF).await?;
        ctx.step("finish", |_| async { Ok(()) }).await?;
        Ok(json!({ "approved": true, "by": approval["by"] }))
    }
}

#[tokio::test]
async fn a_journey_waits_for_its_signal_then_for_its_timer() {
    let pool = fresh_db().await;
    let engine = engine(&pool, Registry::new().with("approval", 1, Approval));
    let worker = Worker::start(&engine, "suspend");
    let id = start(&engine, "approval", json!({})).await;

    let waiting = wait_journey(&pool, id, "to wait", |j| j.status == JourneyStatus::Waiting).await;
    assert_eq!(
        waiting.waiting_for,
        Some(WaitingFor::Signal {
            name: "approved".into()
        })
    );
    let timeout_in = waiting
        .wake_at
        .expect("a wait with a timeout has a wake time")
        - Utc::now();
    assert!(
        timeout_in > chrono::Duration::minutes(55),
        "it wakes at its timeout, an hour away: {timeout_in}"
    );
    assert_eq!(step(&pool, id, "greet").await.status.as_str(), "completed");

    let signalled = Instant::now();
    let payload = json!({ "by": "dr-7" });
    let first = engine
        .signal(
            id,
            "approved",
            "clinician",
            "approval-1",
            &payload,
            &actor(),
        )
        .await
        .expect("signal");
    let again = engine
        .signal(
            id,
            "approved",
            "clinician",
            "approval-1",
            &payload,
            &actor(),
        )
        .await
        .expect("signal again");
    assert_eq!(
        (first, again),
        (SignalOutcome::Accepted, SignalOutcome::Duplicate)
    );

    let sleeping = wait_journey(&pool, id, "to sleep", |j| {
        j.waiting_for
            == Some(WaitingFor::Timer {
                key: "cool_off".into(),
            })
    })
    .await;
    assert_eq!(sleeping.status, JourneyStatus::Waiting);
    assert!(sleeping.wake_at.is_some(), "a timer has a wake time");

    let done = wait_status(&pool, id, JourneyStatus::Completed).await;
    assert!(
        signalled.elapsed() >= COOL_OFF,
        "the timer held the journey for its duration"
    );
    worker.shutdown().await;
    assert_eq!(done.output, Some(json!({ "approved": true, "by": "dr-7" })));
    assert_eq!((done.waiting_for, done.wake_at), (None, None));
    let kinds = history_kinds(&pool, id).await;
    for kind in [
        "signal_received",
        "signal_applied",
        "timer_set",
        "timer_fired",
    ] {
        assert_eq!(
            kinds.iter().filter(|k| *k == kind).count(),
            1,
            "{kind} once in {kinds:?}"
        );
    }
}

#[tokio::test]
async fn a_signal_wait_takes_its_timeout_branch_when_nothing_arrives() {
    let pool = fresh_db().await;
    let engine = engine(&pool, Registry::new().with("approval", 1, Approval));
    let worker = Worker::start(&engine, "timeout");
    let id = start(&engine, "approval", json!({ "timeout_ms": 300 })).await;
    let done = wait_status(&pool, id, JourneyStatus::Completed).await;
    worker.shutdown().await;

    assert_eq!(done.output, Some(json!({ "approved": false })));
    assert_eq!(
        step(&pool, id, "signal:approved").await.status.as_str(),
        "completed"
    );
    assert!(
        history_kinds(&pool, id)
            .await
            .contains(&"signal_timed_out".to_owned())
    );
}
