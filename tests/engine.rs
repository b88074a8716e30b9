//! The engine's guarantees, with the worker running inside the test process
//! against a real PostgreSQL: signals, timers, operator actions, retries,
//! versioning and non-determinism, and the history chain.

mod support;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use carepath_workflows::store::history;
use carepath_workflows::{
    Actor, EngineError, JourneyCtx, Registry, SignalOutcome, StepError, Workflow, WorkflowError,
};
use serde_json::{Value, json};
use support::*;
use uuid::Uuid;

const LONG: Duration = Duration::from_secs(30);

/// Waits for the signal `go` (up to `timeout_ms`) and returns what it carried.
struct Waiter;

#[async_trait]
impl Workflow for Waiter {
    fn signals(&self) -> &[&str] {
        &["go"]
    }
    fn wakeable_signals(&self) -> &[&str] {
        &["go"]
    }
    async fn run(&self, ctx: &mut JourneyCtx, input: Value) -> Result<Value, WorkflowError> {
        let timeout = input["timeout_ms"].as_u64().map(Duration::from_millis);
        let first = ctx.wait_signal("go", timeout).await?;
        let second = if input["twice"].as_bool() == Some(true) {
            ctx.wait_signal("go", timeout).await?
        } else {
            None
        };
        Ok(json!({ "first": first, "second": second }))
    }
}

/// Waits a day for `go`, a wait its workflow does not let an operator hurry
/// (as a patient's answer, whose timeout reminds and cancels).
struct Unhurried;

#[async_trait]
impl Workflow for Unhurried {
    fn signals(&self) -> &[&str] {
        &["go"]
    }
    async fn run(&self, ctx: &mut JourneyCtx, _input: Value) -> Result<Value, WorkflowError> {
        let got = ctx
            .wait_signal("go", Some(Duration::from_secs(86_400)))
            .await?;
        Ok(json!({ "got": got }))
    }
}

/// Sleeps `ms`, then runs one step whose executions are counted.
struct Sleeper {
    after_sleep: Arc<AtomicUsize>,
}

#[async_trait]
impl Workflow for Sleeper {
    async fn run(&self, ctx: &mut JourneyCtx, input: Value) -> Result<Value, WorkflowError> {
        let ms = input["ms"].as_u64().unwrap_or(0);
        ctx.sleep("nap", Duration::from_millis(ms)).await?;
        let counter = self.after_sleep.clone();
        ctx.step("after_nap", |_| async move {
            counter.fetch_add(1, Ordering::SeqCst);
            Ok(())
        })
        .await?;
        Ok(json!("rested"))
    }
}

/// A vendor call that fails transiently while the gate is closed.
struct Gated {
    open: Arc<AtomicBool>,
    retry_after: Option<Duration>,
}

#[async_trait]
impl Workflow for Gated {
    async fn run(&self, ctx: &mut JourneyCtx, _input: Value) -> Result<Value, WorkflowError> {
        let open = self.open.clone();
        let retry_after = self.retry_after;
        let attempt = ctx
            .step("call_vendor", |s| async move {
                if open.load(Ordering::SeqCst) {
                    Ok(s.attempt)
                } else {
                    Err(StepError::Transient {
                        message: "vendor answered 503".into(),
                        retry_after,
                    })
                }
            })
            .await?;
        Ok(json!({ "succeeded_on_attempt": attempt }))
    }
}

/// Two shapes of the "same" workflow, for versioning and non-determinism.
struct ShapeOld;
struct ShapeNew;

#[async_trait]
impl Workflow for ShapeOld {
    fn signals(&self) -> &[&str] {
        &["go"]
    }
    async fn run(&self, ctx: &mut JourneyCtx, _input: Value) -> Result<Value, WorkflowError> {
        ctx.step("create_patient", |_| async { Ok(1) }).await?;
        ctx.wait_signal("go", None).await?;
        ctx.step("submit_case", |_| async { Ok(2) }).await?;
        Ok(json!("old"))
    }
}

#[async_trait]
impl Workflow for ShapeNew {
    fn signals(&self) -> &[&str] {
        &["go"]
    }
    async fn run(&self, ctx: &mut JourneyCtx, _input: Value) -> Result<Value, WorkflowError> {
        ctx.step("lookup_patient", |_| async { Ok(1) }).await?;
        ctx.wait_signal("go", None).await?;
        ctx.step("submit_case", |_| async { Ok(2) }).await?;
        Ok(json!("new"))
    }
}

fn actor() -> Actor {
    Actor::new("test")
}

async fn start(engine: &carepath_workflows::Engine, workflow: &str, input: Value) -> Uuid {
    engine
        .start(workflow, &Uuid::new_v4().to_string(), input, &actor())
        .await
        .expect("start journey")
        .journey
        .id
}

async fn output(pool: &sqlx::PgPool, id: Uuid) -> Value {
    journey_output(pool, id).await
}

/// Waits until the journey waits for `what` (`signal:go`, `retry:call_vendor`, ...).
async fn wait_waiting_for(pool: &sqlx::PgPool, id: Uuid, what: &str) {
    wait_for(
        &format!("journey {id} to wait for {what}"),
        LONG,
        || async {
            let j = carepath_workflows::store::journeys::get(pool, id)
                .await
                .ok()??;
            (j.waiting_for.map(|w| w.to_string()).as_deref() == Some(what)).then_some(())
        },
    )
    .await
}

fn gated(open: &Arc<AtomicBool>, retry_after: Option<Duration>) -> Registry {
    Registry::new().with(
        "gated",
        1,
        Gated {
            open: open.clone(),
            retry_after,
        },
    )
}

async fn history_kinds(pool: &sqlx::PgPool, id: Uuid) -> Vec<String> {
    history::list(pool, id)
        .await
        .expect("read history")
        .into_iter()
        .map(|e| e.kind)
        .collect()
}

#[tokio::test]
async fn a_signal_sent_before_the_journey_waits_is_kept_and_applied() {
    let db = fresh_db().await;
    let engine = engine(&db.pool, Registry::new().with("waiter", 1, Waiter));
    // No worker yet: the journey cannot have reached its wait.
    let id = start(&engine, "waiter", json!({})).await;
    let outcome = engine
        .signal(
            id,
            "go",
            "api",
            "evt-1",
            &json!({"decision": "approved"}),
            &actor(),
        )
        .await
        .expect("signal");
    assert_eq!(outcome, SignalOutcome::Accepted);

    let worker = InProcessWorker::start(engine.clone(), "early-signal");
    wait_status(&db.pool, id, "completed", LONG).await;
    worker.shutdown().await;

    assert_eq!(
        output(&db.pool, id).await["first"],
        json!({"decision": "approved"})
    );
    let kinds = history_kinds(&db.pool, id).await;
    let received = kinds.iter().position(|k| k == "signal_received");
    let applied = kinds.iter().position(|k| k == "signal_applied");
    assert!(
        received.is_some() && applied > received,
        "history: {kinds:?}"
    );
}

#[tokio::test]
async fn the_same_event_id_twice_is_applied_once() {
    let db = fresh_db().await;
    let engine = engine(&db.pool, Registry::new().with("waiter", 1, Waiter));
    let worker = InProcessWorker::start(engine.clone(), "dedup");
    let id = start(&engine, "waiter", json!({ "twice": true })).await;
    wait_waiting_for(&db.pool, id, "signal:go").await;

    let first = engine
        .signal(id, "go", "mdi", "evt-1", &json!({"n": 1}), &actor())
        .await
        .expect("first delivery");
    let again = engine
        .signal(id, "go", "mdi", "evt-1", &json!({"n": 1}), &actor())
        .await
        .expect("second delivery");
    assert_eq!(
        (first, again),
        (SignalOutcome::Accepted, SignalOutcome::Duplicate)
    );
    engine
        .signal(id, "go", "mdi", "evt-2", &json!({"n": 2}), &actor())
        .await
        .expect("next event");

    wait_status(&db.pool, id, "completed", LONG).await;
    worker.shutdown().await;
    // Had evt-1 been applied twice, both waits would carry n = 1.
    assert_eq!(
        output(&db.pool, id).await,
        json!({"first": {"n": 1}, "second": {"n": 2}})
    );
    let stored = count(&db.pool, "SELECT count(*) FROM carepath.signals").await;
    assert_eq!(stored, 2);
}

#[tokio::test]
async fn a_timeout_a_signal_came_before_leaves_no_pending_task_behind() {
    let db = fresh_db().await;
    let engine = engine(&db.pool, Registry::new().with("waiter", 1, Waiter));
    let worker = InProcessWorker::start(engine.clone(), "superseded");
    // A day's timeout: its wake-up task would sit in the queue for a day.
    let id = start(&engine, "waiter", json!({ "timeout_ms": 86_400_000 })).await;
    wait_waiting_for(&db.pool, id, "signal:go").await;
    let pending = "SELECT count(*) FROM apalis.jobs WHERE status = 'Pending'";
    assert_eq!(count(&db.pool, pending).await, 1, "the timeout's wake-up");
    engine
        .signal(id, "go", "api", "evt-1", &json!({}), &actor())
        .await
        .expect("signal");
    wait_status(&db.pool, id, "completed", LONG).await;
    worker.shutdown().await;
    // An operator reading carepath_queue_tasks{status="Pending"} sees no work.
    assert_eq!(count(&db.pool, pending).await, 0);
}

#[tokio::test]
async fn a_wait_with_a_timeout_takes_the_timeout_branch_when_nothing_arrives() {
    let db = fresh_db().await;
    let engine = engine(&db.pool, Registry::new().with("waiter", 1, Waiter));
    let worker = InProcessWorker::start(engine.clone(), "timeout");
    let id = start(&engine, "waiter", json!({ "timeout_ms": 300 })).await;
    wait_status(&db.pool, id, "completed", LONG).await;
    worker.shutdown().await;

    assert_eq!(output(&db.pool, id).await["first"], Value::Null);
    assert!(
        history_kinds(&db.pool, id)
            .await
            .contains(&"signal_timed_out".to_owned())
    );
}

#[tokio::test]
async fn a_sleep_survives_a_worker_restart_and_wakes_once() {
    let db = fresh_db().await;
    let after_sleep = Arc::new(AtomicUsize::new(0));
    let registry = || {
        Registry::new().with(
            "sleeper",
            1,
            Sleeper {
                after_sleep: after_sleep.clone(),
            },
        )
    };
    let first = InProcessWorker::start(engine(&db.pool, registry()), "sleep-a");
    let id = start(
        &engine(&db.pool, registry()),
        "sleeper",
        json!({ "ms": 2000 }),
    )
    .await;
    wait_status(&db.pool, id, "waiting", LONG).await;
    first.shutdown().await;

    // The timer is a row: a new worker, started mid-sleep, fires it.
    let second = InProcessWorker::start(engine(&db.pool, registry()), "sleep-b");
    wait_status(&db.pool, id, "completed", LONG).await;
    second.shutdown().await;

    let kinds = history_kinds(&db.pool, id).await;
    assert_eq!(
        kinds.iter().filter(|k| *k == "timer_fired").count(),
        1,
        "{kinds:?}"
    );
    assert_eq!(after_sleep.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn wake_skips_a_timer() {
    let db = fresh_db().await;
    let after_sleep = Arc::new(AtomicUsize::new(0));
    let engine = engine(
        &db.pool,
        Registry::new().with("sleeper", 1, Sleeper { after_sleep }),
    );
    let worker = InProcessWorker::start(engine.clone(), "wake");
    // Thirty days, as a follow-up would sleep.
    let id = start(
        &engine,
        "sleeper",
        json!({ "ms": 30u64 * 24 * 3600 * 1000 }),
    )
    .await;
    wait_status(&db.pool, id, "waiting", LONG).await;

    let woken = engine
        .wake(id, &actor(), "patient called early")
        .await
        .expect("wake");
    assert_eq!(woken.status.as_str(), "running");
    wait_status(&db.pool, id, "completed", LONG).await;
    // Waking a finished journey does not apply.
    assert!(matches!(
        engine.wake(id, &actor(), "again").await,
        Err(EngineError::NotApplicable { .. })
    ));
    worker.shutdown().await;
}

#[tokio::test]
async fn wake_ends_a_vendor_waits_timeout_now_and_refuses_other_waits() {
    let db = fresh_db().await;
    let engine = engine(
        &db.pool,
        Registry::new()
            .with("waiter", 1, Waiter)
            .with("unhurried", 1, Unhurried),
    );
    let worker = InProcessWorker::start(engine.clone(), "wake-signal");
    let patient = start(&engine, "unhurried", json!({})).await;
    // A day's timeout: woken, it takes the timeout branch now.
    let timed = start(&engine, "waiter", json!({ "timeout_ms": 86_400_000 })).await;
    // No timeout: nothing to end early.
    let open = start(&engine, "waiter", json!({})).await;
    wait_waiting_for(&db.pool, timed, "signal:go").await;
    wait_waiting_for(&db.pool, open, "signal:go").await;
    wait_waiting_for(&db.pool, patient, "signal:go").await;
    for id in [open, patient] {
        assert!(matches!(
            engine.wake(id, &actor(), "nothing to hurry").await,
            Err(EngineError::NotApplicable { .. })
        ));
    }
    engine
        .wake(timed, &actor(), "the vendor lost its webhook: ask now")
        .await
        .expect("wake");
    wait_status(&db.pool, timed, "completed", LONG).await;
    worker.shutdown().await;
    assert_eq!(output(&db.pool, timed).await["first"], Value::Null);
    assert_eq!(status_of(&db.pool, open).await, "waiting");
}

#[tokio::test]
async fn pause_resume_and_cancel_act_on_a_journey_that_is_mid_retry() {
    let db = fresh_db().await;
    let open = Arc::new(AtomicBool::new(false));
    let mut cfg = test_engine_config();
    cfg.retry.max_attempts = 1000;
    let engine = carepath_workflows::Engine::new(db.pool.clone(), gated(&open, None), cfg);
    let worker = InProcessWorker::start(engine.clone(), "ops");
    let a = start(&engine, "gated", json!({})).await;
    let b = start(&engine, "gated", json!({})).await;
    let attempts = |id| {
        let pool = db.pool.clone();
        async move {
            sqlx::query_scalar::<_, i32>("SELECT attempts FROM carepath.journeys WHERE id = $1")
                .bind(id)
                .fetch_one(&pool)
                .await
                .expect("attempts")
        }
    };
    wait_for("both journeys to be retrying", LONG, || async {
        (attempts(a).await >= 2 && attempts(b).await >= 2).then_some(())
    })
    .await;

    let paused = engine
        .pause(a, &actor(), "vendor incident")
        .await
        .expect("pause");
    assert_eq!(paused.status.as_str(), "paused");
    assert!(matches!(
        engine.pause(a, &actor(), "twice").await,
        Err(EngineError::NotApplicable {
            action: "pause",
            ..
        })
    ));
    let cancelled = engine
        .cancel(b, &actor(), "patient withdrew")
        .await
        .expect("cancel");
    assert_eq!(cancelled.status.as_str(), "cancelled");

    // While paused or cancelled, no further attempts are made, though retries were due.
    let (a_before, b_before) = (attempts(a).await, attempts(b).await);
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(
        attempts(a).await,
        a_before,
        "a paused journey kept retrying"
    );
    assert_eq!(
        attempts(b).await,
        b_before,
        "a cancelled journey kept retrying"
    );
    assert_eq!(status_of(&db.pool, a).await, "paused");

    open.store(true, Ordering::SeqCst);
    engine
        .resume(a, &actor(), "incident over")
        .await
        .expect("resume");
    wait_status(&db.pool, a, "completed", LONG).await;
    assert_eq!(status_of(&db.pool, b).await, "cancelled");
    assert!(matches!(
        engine.resume(b, &actor(), "no").await,
        Err(EngineError::NotApplicable {
            action: "resume",
            ..
        })
    ));
    let kinds = history_kinds(&db.pool, a).await;
    for k in ["pause", "resume", "completed"] {
        assert!(kinds.contains(&k.to_owned()), "{k} missing from {kinds:?}");
    }
    worker.shutdown().await;
}

#[tokio::test]
async fn retry_now_skips_the_backoff_of_a_waiting_step() {
    let db = fresh_db().await;
    let open = Arc::new(AtomicBool::new(false));
    let engine = engine(&db.pool, gated(&open, Some(Duration::from_secs(3600))));
    let worker = InProcessWorker::start(engine.clone(), "retry-now");
    let id = start(&engine, "gated", json!({})).await;
    wait_waiting_for(&db.pool, id, "retry:call_vendor").await;
    open.store(true, Ordering::SeqCst);
    engine
        .retry(id, &actor(), "vendor is back")
        .await
        .expect("retry");
    wait_status(&db.pool, id, "completed", LONG).await;
    assert_eq!(output(&db.pool, id).await["succeeded_on_attempt"], 2);
    worker.shutdown().await;
}

#[tokio::test]
async fn a_step_out_of_attempts_fails_the_journey_visibly_and_retry_recovers_it() {
    let db = fresh_db().await;
    let open = Arc::new(AtomicBool::new(false));
    let engine = engine(&db.pool, gated(&open, None));
    let worker = InProcessWorker::start(engine.clone(), "exhaust");
    let id = start(&engine, "gated", json!({})).await;
    wait_status(&db.pool, id, "failed", LONG).await;
    let failed = carepath_workflows::store::journeys::get(&db.pool, id)
        .await
        .expect("read")
        .expect("exists");
    let error = failed.last_error.unwrap_or_default();
    assert!(
        error.contains("gave up after 5 attempts"),
        "last_error: {error}"
    );
    assert!(error.contains("vendor answered 503"), "last_error: {error}");

    open.store(true, Ordering::SeqCst);
    engine
        .retry(id, &actor(), "fixed upstream")
        .await
        .expect("retry");
    wait_status(&db.pool, id, "completed", LONG).await;
    worker.shutdown().await;
}

#[tokio::test]
async fn changed_code_fails_with_nondeterminism_and_versions_stay_pinned() {
    let db = fresh_db().await;
    let old = engine(&db.pool, Registry::new().with("shape", 1, ShapeOld));
    let worker = InProcessWorker::start(old.clone(), "shape-old");
    let pinned = start(&old, "shape", json!({})).await;
    let broken = start(&old, "shape", json!({})).await;
    for id in [pinned, broken] {
        wait_status(&db.pool, id, "waiting", LONG).await;
    }
    worker.shutdown().await;

    // A deploy that ships version 2 beside version 1: `pinned` keeps v1's code.
    let upgraded = engine(
        &db.pool,
        Registry::new()
            .with("shape", 1, ShapeOld)
            .with("shape", 2, ShapeNew),
    );
    let worker = InProcessWorker::start(upgraded.clone(), "shape-upgraded");
    let fresh = start(&upgraded, "shape", json!({})).await;
    for id in [pinned, fresh] {
        upgraded
            .signal(id, "go", "api", "go-1", &json!(null), &actor())
            .await
            .expect("signal");
        wait_status(&db.pool, id, "completed", LONG).await;
    }
    assert_eq!(output(&db.pool, pinned).await, json!("old"));
    assert_eq!(output(&db.pool, fresh).await, json!("new"));
    worker.shutdown().await;

    // A deploy that changed version 1's code in place: the journey must not go on.
    let edited = engine(&db.pool, Registry::new().with("shape", 1, ShapeNew));
    let worker = InProcessWorker::start(edited.clone(), "shape-edited");
    edited
        .signal(broken, "go", "api", "go-1", &json!(null), &actor())
        .await
        .expect("signal");
    wait_status(&db.pool, broken, "failed", LONG).await;
    worker.shutdown().await;
    let j = carepath_workflows::store::journeys::get(&db.pool, broken)
        .await
        .expect("read")
        .expect("exists");
    let error = j.last_error.unwrap_or_default();
    assert!(error.starts_with("non-determinism"), "last_error: {error}");
    assert!(
        error.contains("lookup_patient") && error.contains("create_patient"),
        "{error}"
    );
    let ran_new_step = count(
        &db.pool,
        "SELECT count(*) FROM carepath.journey_steps WHERE key = 'submit_case' AND status = 'completed'",
    )
    .await;
    assert_eq!(
        ran_new_step, 2,
        "only the two healthy journeys submitted a case"
    );
}

#[tokio::test]
async fn the_history_chain_verifies_and_the_database_refuses_to_rewrite_it() {
    let db = fresh_db().await;
    let engine = engine(&db.pool, Registry::new().with("waiter", 1, Waiter));
    let worker = InProcessWorker::start(engine.clone(), "history");
    let id = start(&engine, "waiter", json!({ "timeout_ms": 100 })).await;
    wait_status(&db.pool, id, "completed", LONG).await;
    worker.shutdown().await;

    let v = history::verify(&db.pool, id).await.expect("verify");
    assert!(v.ok && v.events >= 3, "{v:?}");

    for sql in [
        "UPDATE carepath.journey_history SET actor = 'mallory'",
        "DELETE FROM carepath.journey_history",
        "TRUNCATE carepath.journey_history CASCADE",
    ] {
        let err = sqlx::query(sql).execute(&db.pool).await.expect_err(sql);
        assert!(err.to_string().contains("append-only"), "{sql}: {err}");
    }

    // Someone with the power to switch the guard off can still edit a row, but
    // the chain gives them away.
    sqlx::query("ALTER TABLE carepath.journey_history DISABLE TRIGGER journey_history_append_only")
        .execute(&db.pool)
        .await
        .expect("disable guard");
    sqlx::query(
        "UPDATE carepath.journey_history SET actor = 'mallory' WHERE journey_id = $1 AND seq = 2",
    )
    .bind(id)
    .execute(&db.pool)
    .await
    .expect("tamper");
    let v = history::verify(&db.pool, id).await.expect("verify");
    assert_eq!((v.ok, v.broken_at), (false, Some(2)));
}

#[tokio::test]
async fn concurrent_starts_with_one_idempotency_key_create_one_journey() {
    let db = fresh_db().await;
    let engine = engine(&db.pool, Registry::new().with("waiter", 1, Waiter));
    let starts = (0..20).map(|_| {
        let engine = engine.clone();
        tokio::spawn(async move {
            engine
                .start("waiter", "intake-42", json!({}), &actor())
                .await
                .expect("start")
        })
    });
    let outcomes = futures::future::join_all(starts).await;
    let outcomes: Vec<_> = outcomes.into_iter().map(|o| o.expect("join")).collect();
    assert_eq!(outcomes.iter().filter(|o| o.created).count(), 1);
    let first = outcomes[0].journey.id;
    assert!(outcomes.iter().all(|o| o.journey.id == first));
    assert_eq!(
        count(&db.pool, "SELECT count(*) FROM carepath.journeys").await,
        1
    );
    let unknown = engine.start("nope", "k", json!({}), &actor()).await;
    assert!(matches!(unknown, Err(EngineError::UnknownWorkflow(_))));
}

/// Two steps; the first blocks until the test lets it finish.
struct TwoSteps {
    release_first: Arc<tokio::sync::Notify>,
    first_started: Arc<tokio::sync::Notify>,
    second_ran: Arc<AtomicUsize>,
}

#[async_trait]
impl Workflow for TwoSteps {
    async fn run(&self, ctx: &mut JourneyCtx, _input: Value) -> Result<Value, WorkflowError> {
        let (release, started) = (self.release_first.clone(), self.first_started.clone());
        ctx.step("authorise_payment", |_| async move {
            started.notify_one();
            release.notified().await;
            Ok(())
        })
        .await?;
        let second = self.second_ran.clone();
        ctx.step("capture_payment", |_| async move {
            second.fetch_add(1, Ordering::SeqCst);
            Ok(())
        })
        .await?;
        Ok(json!("paid"))
    }
}

#[tokio::test]
async fn a_cancel_during_a_step_lets_that_step_finish_and_starts_no_other() {
    let db = fresh_db().await;
    let release_first = Arc::new(tokio::sync::Notify::new());
    let first_started = Arc::new(tokio::sync::Notify::new());
    let second_ran = Arc::new(AtomicUsize::new(0));
    let engine = engine(
        &db.pool,
        Registry::new().with(
            "two_steps",
            1,
            TwoSteps {
                release_first: release_first.clone(),
                first_started: first_started.clone(),
                second_ran: second_ran.clone(),
            },
        ),
    );
    let worker = InProcessWorker::start(engine.clone(), "cancel-mid-step");
    let id = start(&engine, "two_steps", json!({})).await;
    tokio::time::timeout(LONG, first_started.notified())
        .await
        .expect("the first step to start");
    engine
        .cancel(id, &actor(), "patient asked for a refund")
        .await
        .expect("cancel");
    release_first.notify_one();

    wait_for("the first step to be recorded", LONG, || async {
        let n = count(
            &db.pool,
            "SELECT count(*) FROM carepath.journey_steps WHERE key = 'authorise_payment' AND status = 'completed'",
        )
        .await;
        (n == 1).then_some(())
    })
    .await;
    worker.shutdown().await;
    assert_eq!(
        second_ran.load(Ordering::SeqCst),
        0,
        "a step ran after the cancel was acknowledged"
    );
    assert_eq!(status_of(&db.pool, id).await, "cancelled");
}

/// A step whose output the database cannot store (a NUL character).
struct Unstorable;

#[async_trait]
impl Workflow for Unstorable {
    async fn run(&self, ctx: &mut JourneyCtx, _input: Value) -> Result<Value, WorkflowError> {
        ctx.step("read_scanner", |_| async { Ok("a\u{0}b".to_owned()) })
            .await?;
        Ok(json!("done"))
    }
}

#[tokio::test]
async fn output_the_database_refuses_fails_the_journey_instead_of_looping() {
    let db = fresh_db().await;
    let engine = engine(&db.pool, Registry::new().with("unstorable", 1, Unstorable));
    let worker = InProcessWorker::start(engine.clone(), "unstorable");
    let id = start(&engine, "unstorable", json!({})).await;
    wait_status(&db.pool, id, "failed", LONG).await;
    worker.shutdown().await;
    let j = carepath_workflows::store::journeys::get(&db.pool, id)
        .await
        .expect("read")
        .expect("exists");
    let error = j.last_error.unwrap_or_default();
    assert!(
        error.contains("cannot be recorded") && error.contains("NUL"),
        "last_error: {error}"
    );
}

#[tokio::test]
async fn a_worker_without_a_journeys_version_leaves_it_waiting_for_one_that_has_it() {
    let db = fresh_db().await;
    let upgraded = engine(
        &db.pool,
        Registry::new()
            .with("shape", 1, ShapeOld)
            .with("shape", 2, ShapeNew),
    );
    // Started by an upgraded API: pinned to version 2.
    let id = start(&upgraded, "shape", json!({})).await;
    let old = InProcessWorker::start(
        engine(&db.pool, Registry::new().with("shape", 1, ShapeOld)),
        "rolling-old",
    );
    wait_waiting_for(&db.pool, id, "code:shape@v2").await;
    old.shutdown().await;

    let new = InProcessWorker::start(upgraded.clone(), "rolling-new");
    wait_waiting_for(&db.pool, id, "signal:go").await;
    upgraded
        .signal(id, "go", "api", "go-1", &json!(null), &actor())
        .await
        .expect("signal");
    wait_status(&db.pool, id, "completed", LONG).await;
    new.shutdown().await;
    assert_eq!(output(&db.pool, id).await, json!("new"));
}
