//! The history chain: every event a journey records is linked to the one
//! before by a hash the engine can check on its own, and the database refuses
//! to rewrite or remove an event.

use std::time::Duration;

use async_trait::async_trait;
use carepath_engine::store::history;
use carepath_engine::{JourneyCtx, JourneyStatus, Registry, Workflow, WorkflowError};
use serde_json::{Value, json};
use sqlx::PgPool;
use uuid::Uuid;

use crate::support::*;

/// A step, a signal, a timer and a step: every kind of event an engine records.
struct Audited;

#[async_trait]
impl Workflow for Audited {
    fn signals(&self) -> &[&str] {
        &["approved"]
    }

    async fn run(&self, ctx: &mut JourneyCtx, _input: Value) -> Result<Value, WorkflowError> {
        ctx.step("open_case", |_| async { Ok(1) }).await?;
        ctx.wait_signal("approved", None).await?;
        ctx.sleep("cool_off", Duration::from_millis(100)).await?;
        ctx.step("close_case", |_| async { Ok(2) }).await?;
        Ok(json!("closed"))
    }
}

/// A completed journey with a history of every kind.
async fn completed_journey(pool: &PgPool) -> Uuid {
    let engine = engine(pool, Registry::new().with("audited", 1, Audited));
    let worker = Worker::start(&engine, "history");
    let id = start(&engine, "audited", json!({})).await;
    wait_journey(pool, id, "to wait for approved", |j| {
        j.status == JourneyStatus::Waiting
    })
    .await;
    engine
        .signal(
            id,
            "approved",
            "clinician",
            "approval-1",
            &json!({}),
            &actor(),
        )
        .await
        .expect("signal");
    wait_status(pool, id, JourneyStatus::Completed).await;
    worker.shutdown().await;
    id
}

#[tokio::test]
async fn the_history_chain_verifies_and_the_database_refuses_to_rewrite_it() {
    let pool = fresh_db().await;
    let id = completed_journey(&pool).await;

    let events = history::list(&pool, id).await.expect("read the history");
    let kinds: Vec<&str> = events.iter().map(|e| e.kind.as_str()).collect();
    let expected = [
        "started",
        "step_completed",
        "signal_received",
        "signal_applied",
        "timer_set",
        "timer_fired",
        "step_completed",
        "completed",
    ];
    let mut rest = kinds.iter();
    for kind in expected {
        assert!(
            rest.any(|k| *k == kind),
            "{kind} missing or out of order in {kinds:?}"
        );
    }
    for pair in events.windows(2) {
        assert_eq!(
            pair[1].prev_hash, pair[0].hash,
            "each event names the one before"
        );
        assert_eq!(pair[1].seq, pair[0].seq + 1);
    }
    let verified = history::verify(&pool, id).await.expect("verify");
    assert!(verified.ok, "{verified:?}");
    assert_eq!((verified.events, verified.broken_at), (events.len(), None));

    for sql in [
        "UPDATE carepath.journey_history SET actor = 'mallory' WHERE journey_id = $1 AND seq = 2",
        "UPDATE carepath.journey_history SET detail = '{}' WHERE journey_id = $1",
        "DELETE FROM carepath.journey_history WHERE journey_id = $1 AND seq = 2",
    ] {
        let refused = sqlx::query(sql)
            .bind(id)
            .execute(&pool)
            .await
            .expect_err(sql);
        assert!(
            refused.to_string().contains("append-only"),
            "{sql}: {refused}"
        );
    }
    let refused = sqlx::query("TRUNCATE carepath.journey_history CASCADE")
        .execute(&pool)
        .await
        .expect_err("TRUNCATE");
    assert!(refused.to_string().contains("append-only"), "{refused}");
    // Its partitions too: the journey's month and the default.
    let month: String = sqlx::query_scalar("SELECT carepath.v7_month($1)")
        .bind(id)
        .fetch_one(&pool)
        .await
        .expect("the journey's month");
    for partition in [
        format!("journey_history_{month}"),
        "journey_history_default".into(),
    ] {
        let refused = sqlx::query(sqlx::AssertSqlSafe(format!(
            "TRUNCATE carepath.{partition}"
        )))
        .execute(&pool)
        .await
        .expect_err("TRUNCATE a partition");
        assert!(
            refused.to_string().contains("append-only"),
            "{partition}: {refused}"
        );
    }
    assert_eq!(
        history::list(&pool, id)
            .await
            .expect("read the history")
            .len(),
        events.len(),
        "nothing was removed"
    );
    assert!(history::verify(&pool, id).await.expect("verify").ok);
}

#[tokio::test]
async fn an_edit_past_the_guard_is_found_by_the_verifier() {
    let pool = fresh_db().await;
    let id = completed_journey(&pool).await;

    // The table's owner can switch the guard off; the chain still gives the
    // edit away, at the event edited.
    sqlx::query("ALTER TABLE carepath.journey_history DISABLE TRIGGER journey_history_append_only")
        .execute(&pool)
        .await
        .expect("disable the guard");
    sqlx::query(
        "UPDATE carepath.journey_history SET actor = 'mallory' WHERE journey_id = $1 AND seq = 3",
    )
    .bind(id)
    .execute(&pool)
    .await
    .expect("edit an event");
    let verified = history::verify(&pool, id).await.expect("verify");
    assert_eq!((verified.ok, verified.broken_at), (false, Some(3)));
}

#[tokio::test]
async fn events_removed_from_the_end_past_the_guard_are_found_by_the_verifier() {
    let pool = fresh_db().await;
    let id = completed_journey(&pool).await;
    let last = history::list(&pool, id)
        .await
        .expect("read the history")
        .len() as i64;
    let month: String = sqlx::query_scalar("SELECT carepath.v7_month($1)")
        .bind(id)
        .fetch_one(&pool)
        .await
        .expect("the journey's month");
    let partition = format!("carepath.journey_history_{month}");
    sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
        "ALTER TABLE {partition} DISABLE TRIGGER USER;
         DELETE FROM {partition} WHERE journey_id = '{id}' AND seq >= {};",
        last - 1
    )))
    .execute(&pool)
    .await
    .expect("remove the last two events past the guard");
    let verified = history::verify(&pool, id).await.expect("verify");
    assert_eq!(
        (verified.ok, verified.events, verified.broken_at),
        (false, last as usize - 2, Some(last - 1))
    );
}
