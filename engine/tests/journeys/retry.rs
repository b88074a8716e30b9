//! Retry: a transient step error is tried again after a backoff, the attempts
//! are recorded, and a step that cannot succeed fails the journey visibly.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use carepath_engine::store::history;
use carepath_engine::{
    Engine, EngineConfig, JourneyCtx, JourneyStatus, Registry, RetryPolicy, StepError, WaitingFor,
    Workflow, WorkflowError,
};
use chrono::{DateTime, Utc};
use serde_json::{Value, json};
use sqlx::PgPool;

use crate::support::*;

/// Calls a "vendor" that answers 503 to its first `fail_first` calls, and
/// remembers when each call was made and which attempt the engine said it was.
struct Flaky {
    fail_first: usize,
    calls: Arc<Mutex<Vec<(Instant, u32)>>>,
}

#[async_trait]
impl Workflow for Flaky {
    async fn run(&self, ctx: &mut JourneyCtx, _input: Value) -> Result<Value, WorkflowError> {
        let calls = self.calls.clone();
        let fail_first = self.fail_first;
        let attempt = ctx
            .step("call_vendor", move |s| async move {
                let n = {
                    let mut calls = calls.lock().expect("calls lock");
                    calls.push((Instant::now(), s.attempt));
                    calls.len()
                };
                if n <= fail_first {
                    Err(StepError::transient(format!("503 on call {n}")))
                } else {
                    Ok(s.attempt)
                }
            })
            .await?;
        Ok(json!({ "succeeded_on_attempt": attempt }))
    }
}

/// Backoff long enough to measure: 100 ms doubling, half of it jitter.
fn measurable_backoff(pool: &PgPool, registry: Registry) -> Engine {
    let config = EngineConfig {
        retry: RetryPolicy {
            initial: Duration::from_millis(100),
            max: Duration::from_secs(1),
            max_attempts: 5,
        },
        ..engine_config()
    };
    Engine::new(pool.clone(), registry, config)
}

#[tokio::test]
async fn a_transient_error_is_retried_with_growing_backoff_until_the_step_succeeds() {
    let pool = fresh_db().await;
    let calls = Arc::new(Mutex::new(Vec::new()));
    let flaky = Flaky {
        fail_first: 2,
        calls: calls.clone(),
    };
    let engine = measurable_backoff(&pool, Registry::new().with("flaky", 1, flaky));
    let worker = Worker::start(&engine, "retry");
    let id = start(&engine, "flaky", json!({})).await;
    let done = wait_status(&pool, id, JourneyStatus::Completed).await;
    worker.shutdown().await;

    assert_eq!(done.output, Some(json!({ "succeeded_on_attempt": 3 })));
    assert_eq!(
        (done.attempts, done.last_error),
        (0, None),
        "success clears the failures"
    );
    let calls = calls.lock().expect("calls lock").clone();
    let attempts: Vec<u32> = calls.iter().map(|(_, a)| *a).collect();
    assert_eq!(attempts, [1, 2, 3], "each call is told its attempt number");
    // Equal jitter keeps at least half of the nominal delay: 100 ms, then 200 ms.
    let gaps: Vec<Duration> = calls.windows(2).map(|w| w[1].0 - w[0].0).collect();
    assert!(
        gaps[0] >= Duration::from_millis(50),
        "first backoff {gaps:?}"
    );
    assert!(
        gaps[1] >= Duration::from_millis(100),
        "second backoff {gaps:?}"
    );

    let rec = step(&pool, id, "call_vendor").await;
    assert_eq!((rec.status.as_str(), rec.attempts), ("completed", 3));
    let events = history::list(&pool, id).await.expect("read the history");
    let retries: Vec<_> = events
        .iter()
        .filter(|e| e.kind == "step_retry_scheduled")
        .collect();
    assert_eq!(retries.len(), 2, "{events:#?}");
    for (n, (event, nominal_ms)) in retries.iter().zip([100, 200]).enumerate() {
        let attempt = n as u64 + 1;
        assert_eq!(event.detail["attempt"], json!(attempt));
        assert_eq!(
            event.detail["error"],
            json!(format!("503 on call {attempt}"))
        );
        assert_eq!(event.detail["waiting_for"], json!("retry:call_vendor"));
        let retry_at: DateTime<Utc> = serde_json::from_value(event.detail["retry_at"].clone())
            .expect("retry_at is a timestamp");
        let delay = (retry_at - event.at).num_milliseconds();
        // The delay is taken from the transaction's start, the event's time a
        // moment later: allow a little below half.
        assert!(
            delay > nominal_ms / 2 - 25 && delay <= nominal_ms,
            "attempt {attempt}: retry after {delay} ms, nominal {nominal_ms} ms"
        );
    }
    let completed = events
        .iter()
        .find(|e| e.kind == "step_completed")
        .expect("the step's completion is in history");
    assert_eq!(completed.detail["attempt"], json!(3));
}

/// A step that fails transiently, asking to be called again in an hour,
/// until the gate opens.
struct Gated(Arc<AtomicBool>);

#[async_trait]
impl Workflow for Gated {
    async fn run(&self, ctx: &mut JourneyCtx, _input: Value) -> Result<Value, WorkflowError> {
        let open = self.0.clone();
        let attempt = ctx
            .step("call_vendor", move |s| async move {
                if open.load(Ordering::SeqCst) {
                    Ok(s.attempt)
                } else {
                    Err(StepError::Transient {
                        message: "vendor answered 503".into(),
                        retry_after: Some(Duration::from_secs(3600)),
                    })
                }
            })
            .await?;
        Ok(json!({ "succeeded_on_attempt": attempt }))
    }
}

#[tokio::test]
async fn a_journey_waiting_to_retry_shows_the_failure_and_an_operator_can_retry_it_now() {
    let pool = fresh_db().await;
    let open = Arc::new(AtomicBool::new(false));
    let engine = engine(&pool, Registry::new().with("gated", 1, Gated(open.clone())));
    let worker = Worker::start(&engine, "gated");
    let id = start(&engine, "gated", json!({})).await;

    let waiting = wait_journey(&pool, id, "to wait for its retry", |j| {
        j.status == JourneyStatus::Waiting
    })
    .await;
    assert_eq!(
        waiting.waiting_for,
        Some(WaitingFor::Retry {
            key: "call_vendor".into()
        })
    );
    assert_eq!(waiting.attempts, 1);
    assert_eq!(waiting.last_error.as_deref(), Some("vendor answered 503"));
    let wake_in = waiting.wake_at.expect("a retry has a time") - Utc::now();
    assert!(
        wake_in > chrono::Duration::minutes(55),
        "the step's Retry-After overrides the backoff: {wake_in}"
    );
    let rec = step(&pool, id, "call_vendor").await;
    assert_eq!(
        (rec.status.as_str(), rec.attempts, rec.last_error.as_deref()),
        ("retrying", 1, Some("vendor answered 503"))
    );

    open.store(true, Ordering::SeqCst);
    engine
        .retry(id, &actor(), "the vendor is back")
        .await
        .expect("retry now");
    let done = wait_status(&pool, id, JourneyStatus::Completed).await;
    worker.shutdown().await;
    assert_eq!(done.output, Some(json!({ "succeeded_on_attempt": 2 })));
}

/// `charge_card` is declined for good; `call_vendor` never stops answering 503.
struct Doomed {
    permanent: bool,
    calls: Arc<Mutex<Vec<(Instant, u32)>>>,
}

#[async_trait]
impl Workflow for Doomed {
    async fn run(&self, ctx: &mut JourneyCtx, _input: Value) -> Result<Value, WorkflowError> {
        let calls = self.calls.clone();
        let permanent = self.permanent;
        let key = if permanent {
            "charge_card"
        } else {
            "call_vendor"
        };
        ctx.step(key, move |s| async move {
            calls
                .lock()
                .expect("calls lock")
                .push((Instant::now(), s.attempt));
            Err::<(), _>(if permanent {
                StepError::permanent("card declined")
            } else {
                StepError::transient("vendor answered 503")
            })
        })
        .await?;
        Ok(json!("unreachable"))
    }
}

#[tokio::test]
async fn a_permanent_error_fails_at_once_and_a_transient_one_when_its_attempts_run_out() {
    let pool = fresh_db().await;
    let declined_calls = Arc::new(Mutex::new(Vec::new()));
    let unavailable_calls = Arc::new(Mutex::new(Vec::new()));
    let engine = engine(
        &pool,
        Registry::new()
            .with(
                "declined",
                1,
                Doomed {
                    permanent: true,
                    calls: declined_calls.clone(),
                },
            )
            .with(
                "unavailable",
                1,
                Doomed {
                    permanent: false,
                    calls: unavailable_calls.clone(),
                },
            ),
    );
    let worker = Worker::start(&engine, "doomed");
    let declined = start(&engine, "declined", json!({})).await;
    let unavailable = start(&engine, "unavailable", json!({})).await;
    let declined = wait_status(&pool, declined, JourneyStatus::Failed).await;
    let unavailable = wait_status(&pool, unavailable, JourneyStatus::Failed).await;
    worker.shutdown().await;

    assert_eq!(
        declined_calls.lock().expect("calls lock").len(),
        1,
        "never retried"
    );
    assert_eq!(
        declined.last_error.as_deref(),
        Some("step charge_card: card declined")
    );
    let rec = step(&pool, declined.id, "charge_card").await;
    assert_eq!((rec.status.as_str(), rec.attempts), ("failed", 1));

    let max = engine_config().retry.max_attempts;
    assert_eq!(
        unavailable_calls.lock().expect("calls lock").len(),
        max as usize
    );
    assert_eq!(
        unavailable.last_error,
        Some(format!(
            "step call_vendor: gave up after {max} attempts: vendor answered 503"
        ))
    );
    let rec = step(&pool, unavailable.id, "call_vendor").await;
    assert_eq!((rec.status.as_str(), rec.attempts), ("failed", max as i32));
    assert_eq!(unavailable.output, None);
}

/// A step, then a wait: a journey that moves on from where an earlier run
/// left an error.
struct StepThenWait;

#[async_trait]
impl Workflow for StepThenWait {
    fn signals(&self) -> &[&str] {
        &["go"]
    }

    async fn run(&self, ctx: &mut JourneyCtx, _input: Value) -> Result<Value, WorkflowError> {
        ctx.step("first", |_| async { Ok(1) }).await?;
        ctx.wait_signal("go", None).await?;
        Ok(json!("done"))
    }
}

/// `last_error` says why a journey is not moving; once it moves on (a step
/// completes), the error is gone — here one an interrupted run left (the
/// runner records it when the database drops mid-run), with no attempt
/// counted and no phase change to clear it otherwise.
#[tokio::test]
async fn an_error_from_an_interrupted_run_clears_when_the_journey_moves_on() {
    let pool = fresh_db().await;
    let engine = engine(
        &pool,
        Registry::new().with("step_then_wait", 1, StepThenWait),
    );
    let id = start(&engine, "step_then_wait", json!({})).await;
    sqlx::query("UPDATE carepath.journeys SET last_error = 'run interrupted: database: connection reset' WHERE id = $1")
        .bind(id)
        .execute(&pool)
        .await
        .expect("an earlier run's error");
    let worker = Worker::start(&engine, "moves-on");
    let waiting = wait_journey(&pool, id, "to wait for go", |j| {
        j.status == JourneyStatus::Waiting
    })
    .await;
    worker.shutdown().await;
    assert_eq!(
        waiting.last_error, None,
        "the error stayed after the journey moved on"
    );
}

/// A cancelled journey's open steps say so: the signal it waited for shows
/// as cancelled, not as still waiting; the step it completed stays completed.
#[tokio::test]
async fn a_cancelled_journeys_open_steps_show_cancelled() {
    let pool = fresh_db().await;
    let engine = engine(
        &pool,
        Registry::new().with("step_then_wait", 1, StepThenWait),
    );
    let id = start(&engine, "step_then_wait", json!({})).await;
    let worker = Worker::start(&engine, "cancelled");
    wait_journey(&pool, id, "to wait for go", |j| {
        j.status == JourneyStatus::Waiting
    })
    .await;
    worker.shutdown().await;
    assert_eq!(
        step(&pool, id, "signal:go").await.status.as_str(),
        "waiting"
    );
    engine
        .cancel(id, &actor(), "the patient withdrew")
        .await
        .expect("cancel");
    assert_eq!(
        step(&pool, id, "signal:go").await.status.as_str(),
        "cancelled"
    );
    assert_eq!(step(&pool, id, "first").await.status.as_str(), "completed");
}
