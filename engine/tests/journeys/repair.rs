//! An operator's repairs, on the engine alone: firing any wait's timeout
//! branch, and rewinding a journey to a step — what is re-run, with which
//! idempotency keys, and what is refused without `force`.

use std::time::Duration;

use async_trait::async_trait;
use carepath_engine::{
    EngineError, JourneyCtx, JourneyStatus, Registry, RewindTo, Workflow, WorkflowError,
};
use serde_json::{Value, json};

use crate::support::*;

/// Waits for `answer` (an hour, or forever when the input says so); says
/// whether it came.
struct Ask;

#[async_trait]
impl Workflow for Ask {
    fn signals(&self) -> &[&str] {
        &["answer"]
    }

    async fn run(&self, ctx: &mut JourneyCtx, input: Value) -> Result<Value, WorkflowError> {
        let timeout = (input["forever"] != true).then_some(Duration::from_secs(3600));
        let answer = ctx.wait_signal("answer", timeout).await?;
        Ok(json!({ "answered": answer.is_some() }))
    }
}

#[tokio::test]
async fn firing_a_wait_runs_its_timeout_branch_and_a_wait_without_one_cannot_be_fired() {
    let pool = fresh_db().await;
    let engine = engine(&pool, Registry::new().with("ask", 1, Ask));
    let worker = Worker::start(&engine, "fire");
    let timed = start(&engine, "ask", json!({})).await;
    let forever = start(&engine, "ask", json!({ "forever": true })).await;
    for id in [timed, forever] {
        wait_status(&pool, id, JourneyStatus::Waiting).await;
    }

    engine
        .fire_wait(timed, &actor(), "the patient called: no answer coming")
        .await
        .unwrap_or_else(|e| panic!("fire: {e}"));
    let done = wait_status(&pool, timed, JourneyStatus::Completed).await;
    assert_eq!(done.output, Some(json!({ "answered": false })));
    assert!(
        history_kinds(&pool, timed)
            .await
            .contains(&"fire_wait".to_owned())
    );

    let refused = engine.fire_wait(forever, &actor(), "try").await;
    assert!(
        matches!(
            refused,
            Err(EngineError::NotApplicable {
                action: "fire_wait",
                ..
            })
        ),
        "{refused:?}"
    );
    assert_eq!(journey(&pool, forever).await.status, JourneyStatus::Waiting);
    worker.shutdown().await;
}

/// a, b, a wait for `go`, c, ship (irreversible), d; returns the
/// idempotency key each of b, c and d ran with.
struct Shipment;

#[async_trait]
impl Workflow for Shipment {
    fn signals(&self) -> &[&str] {
        &["go"]
    }

    fn irreversible_steps(&self) -> &[&str] {
        &["ship"]
    }

    async fn run(&self, ctx: &mut JourneyCtx, _input: Value) -> Result<Value, WorkflowError> {
        let key = |s: carepath_engine::StepCtx| async move { Ok(s.idempotency_key()) };
        let _: String = ctx.step("a", key).await?;
        let b: String = ctx.step("b", key).await?;
        ctx.wait_signal("go", None).await?;
        let c: String = ctx.step("c", key).await?;
        let _: String = ctx.step("ship", key).await?;
        let d: String = ctx.step("d", key).await?;
        Ok(json!({ "b": b, "c": c, "d": d }))
    }
}

async fn keys_of(pool: &sqlx::PgPool, table: &str, id: uuid::Uuid) -> Vec<String> {
    sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
        "SELECT key FROM carepath.{table} WHERE journey_id = $1 ORDER BY seq"
    )))
    .bind(id)
    .fetch_all(pool)
    .await
    .unwrap_or_else(|e| panic!("{table}: {e}"))
}

/// A shipment started and told to go: it runs to completion.
async fn shipped(engine: &carepath_engine::Engine, pool: &sqlx::PgPool) -> uuid::Uuid {
    let id = start(engine, "shipment", json!({})).await;
    wait_status(pool, id, JourneyStatus::Waiting).await;
    engine
        .signal(id, "go", "test", "go-1", &json!({}), &actor())
        .await
        .unwrap_or_else(|e| panic!("signal: {e}"));
    id
}

#[tokio::test]
async fn a_rewind_re_runs_exactly_the_steps_after_the_chosen_one_with_fresh_keys() {
    let pool = fresh_db().await;
    let engine = engine(&pool, Registry::new().with("shipment", 1, Shipment));
    let worker = Worker::start(&engine, "rewind");
    let id = shipped(&engine, &pool).await;
    let first = wait_status(&pool, id, JourneyStatus::Completed).await;
    let output = first.output.unwrap_or_default();
    assert_eq!(output["d"], format!("{id}:d"));

    // Past `ship`: refused unless forced, and nothing changes.
    let refused = engine
        .rewind(
            id,
            RewindTo {
                step: "c",
                force: false,
            },
            &actor(),
            "redo c",
        )
        .await;
    assert!(
        matches!(&refused, Err(EngineError::Conflict { detail, .. }) if detail.contains("ship")),
        "{refused:?}"
    );
    let recorded = keys_of(&pool, "journey_steps", id).await;
    assert_eq!(recorded, ["a", "b", "signal:go", "c", "ship", "d"]);
    let unknown = engine
        .rewind(
            id,
            RewindTo {
                step: "zz",
                force: false,
            },
            &actor(),
            "x",
        )
        .await;
    assert!(
        matches!(unknown, Err(EngineError::Invalid { .. })),
        "{unknown:?}"
    );

    // After `ship`: only `d` runs again, with a fresh key.
    let rewound = engine
        .rewind(
            id,
            RewindTo {
                step: "ship",
                force: false,
            },
            &actor(),
            "d went wrong",
        )
        .await
        .unwrap_or_else(|e| panic!("rewind: {e}"));
    assert_eq!(rewound.superseded, ["d"]);
    let again = wait_status(&pool, id, JourneyStatus::Completed).await;
    let output = again.output.unwrap_or_default();
    assert_eq!(output["c"], format!("{id}:c"), "c is not re-run");
    assert_eq!(output["d"], format!("{id}:d:rewind1"));
    assert_eq!(keys_of(&pool, "journey_steps_superseded", id).await, ["d"]);

    // Forced past `ship`: b's successors all run again. The signal the
    // superseded wait consumed told of the world before the rewind: the
    // wait waits for a new one.
    let forced = engine
        .rewind(
            id,
            RewindTo {
                step: "b",
                force: true,
            },
            &actor(),
            "re-ship: lost in transit",
        )
        .await
        .unwrap_or_else(|e| panic!("forced rewind: {e}"));
    assert_eq!(forced.superseded, ["signal:go", "c", "ship", "d"]);
    assert_eq!(forced.irreversible, ["ship"]);
    wait_status(&pool, id, JourneyStatus::Waiting).await;
    engine
        .signal(id, "go", "test", "go-2", &json!({}), &actor())
        .await
        .unwrap_or_else(|e| panic!("signal: {e}"));
    let third = wait_status(&pool, id, JourneyStatus::Completed).await;
    let output = third.output.unwrap_or_default();
    assert_eq!(output["b"], format!("{id}:b"));
    assert_eq!(output["c"], format!("{id}:c:rewind2"));
    assert_eq!(output["d"], format!("{id}:d:rewind2"));
    assert_eq!(keys_of(&pool, "journey_steps", id).await, recorded);
    let kinds = history_kinds(&pool, id).await;
    assert_eq!(kinds.iter().filter(|k| *k == "rewind").count(), 2);
    worker.shutdown().await;
}

/// Holds a journey's run lock as a worker does (a session advisory lock on a
/// connection of its own) until the returned sender is used or dropped.
async fn hold_run_lock(pool: &sqlx::PgPool, id: uuid::Uuid) -> tokio::sync::oneshot::Sender<()> {
    let mut conn = pool
        .acquire()
        .await
        .unwrap_or_else(|e| panic!("acquire: {e}"));
    sqlx::query("SELECT pg_advisory_lock(hashtextextended($1::text, 0))")
        .bind(id)
        .execute(&mut *conn)
        .await
        .unwrap_or_else(|e| panic!("lock: {e}"));
    let (release, released) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(async move {
        let _ = released.await;
        let _ = sqlx::query("SELECT pg_advisory_unlock_all()")
            .execute(&mut *conn)
            .await;
    });
    release
}

#[tokio::test]
async fn a_rewind_waits_for_a_run_that_has_just_ended_and_is_refused_while_one_holds_on() {
    let pool = fresh_db().await;
    let engine = engine(&pool, Registry::new().with("shipment", 1, Shipment));
    let worker = Worker::start(&engine, "rewind-wait");
    let id = shipped(&engine, &pool).await;
    wait_status(&pool, id, JourneyStatus::Completed).await;
    let to = || RewindTo {
        step: "ship",
        force: false,
    };

    // The worker that completed it has not let go yet; it does shortly.
    let release = hold_run_lock(&pool, id).await;
    let releaser = tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(300)).await;
        let _ = release.send(());
    });
    engine
        .rewind(id, to(), &actor(), "d went wrong")
        .await
        .unwrap_or_else(|e| panic!("a rewind after the run let go: {e}"));
    let _ = releaser.await;
    wait_status(&pool, id, JourneyStatus::Completed).await;

    // A holder that does not let go: refused, and nothing changed.
    let _held = hold_run_lock(&pool, id).await;
    let refused = engine.rewind(id, to(), &actor(), "again").await;
    assert!(
        matches!(&refused, Err(EngineError::Conflict { detail, .. }) if detail.contains("running")),
        "{refused:?}"
    );
    assert_eq!(
        keys_of(&pool, "journey_steps_superseded", id).await,
        ["d"],
        "only the first rewind superseded anything"
    );
    worker.shutdown().await;
}
