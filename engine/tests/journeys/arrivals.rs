//! The webhook door's group commit: deliveries arriving together share a
//! commit, each event is stored once however many copies arrive, its first
//! copy alone is answered "stored", each lands in its owner's routing
//! partition, and a row the database refuses fails only its own delivery.

use async_trait::async_trait;
use carepath_engine::store::arrivals::Arrival;
use carepath_engine::store::inbox::Source;
use carepath_engine::store::refs;
use carepath_engine::webhook_source::{Reference, journey_partition, reference_partition};
use carepath_engine::{EngineConfig, JourneyCtx, Registry, Workflow, WorkflowError};
use futures::future::join_all;
use serde_json::{Value, json};
use uuid::Uuid;

use crate::support::*;

/// A journey that owns a case and is never run.
struct Idle;

#[async_trait]
impl Workflow for Idle {
    async fn run(&self, _ctx: &mut JourneyCtx, _input: Value) -> Result<Value, WorkflowError> {
        Ok(json!(null))
    }
}

fn arrival(key: &str, case: &str, headers: Value) -> Arrival {
    Arrival {
        vendor: "clinical".into(),
        source: Source::Webhook,
        dedup_key: key.into(),
        event_type: Some("case.assigned".into()),
        body: format!(r#"{{"case_id":"{case}"}}"#).into_bytes(),
        headers,
        references: vec![Reference {
            kind: "case".into(),
            id: case.into(),
        }],
    }
}

fn engine_with_writers(pool: &sqlx::PgPool, writers: usize) -> carepath_engine::Engine {
    let config = EngineConfig {
        inbox_writers: writers,
        ..engine_config()
    };
    carepath_engine::Engine::new(pool.clone(), Registry::new().with("idle", 1, Idle), config)
}

#[tokio::test]
async fn deliveries_arriving_together_share_commits_and_each_event_is_stored_once() {
    let pool = fresh_db().await;
    let engine = engine_with_writers(&pool, 1);
    let owner = start(&engine, "idle", json!({})).await;
    refs::link(&pool, owner, "clinical", "case", "case_owned")
        .await
        .expect("link the case");
    // 40 events, each delivered twice at once; half about the owned case.
    let mut deliveries = Vec::new();
    for copy in 0..2 {
        for i in 0..40_usize {
            let case = if i.is_multiple_of(2) {
                "case_owned".to_owned()
            } else {
                format!("case_{i}")
            };
            deliveries.push((copy, i, arrival(&format!("evt_{i}"), &case, json!({}))));
        }
    }
    let answers = join_all(deliveries.into_iter().map(|(copy, i, a)| {
        let engine = engine.clone();
        async move { (copy, i, engine.store_arrival(a).await) }
    }))
    .await;
    let mut stored = vec![0; 40];
    for (_, i, answer) in &answers {
        if answer.as_ref().is_ok_and(|s| *s) {
            stored[*i] += 1;
        }
        assert!(answer.is_ok(), "delivery {i}: {answer:?}");
    }
    assert_eq!(
        stored,
        vec![1; 40],
        "exactly one copy of each event is answered stored"
    );

    let rows: Vec<(String, i32, Option<i16>, String)> = sqlx::query_as(
        "SELECT dedup_key, deliveries, route_partition, xmin::text
           FROM carepath.webhook_inbox ORDER BY id",
    )
    .fetch_all(&pool)
    .await
    .expect("read the inbox");
    assert_eq!(rows.len(), 40, "one row per event");
    assert!(
        rows.iter().all(|r| r.1 == 2),
        "each row counts both deliveries: {rows:?}"
    );
    let commits: std::collections::HashSet<&str> = rows.iter().map(|r| r.3.as_str()).collect();
    assert!(
        commits.len() < 10,
        "80 deliveries arriving at once took {} commits",
        commits.len()
    );
    for (key, _, partition, _) in &rows {
        let i: usize = key
            .trim_start_matches("evt_")
            .parse()
            .expect("a key of the test");
        let expected = if i.is_multiple_of(2) {
            journey_partition(owner)
        } else {
            let case = Reference {
                kind: "case".into(),
                id: format!("case_{i}"),
            };
            reference_partition("clinical", &case)
        };
        assert_eq!(*partition, Some(expected), "{key}'s partition");
    }
}

#[tokio::test]
async fn a_row_the_database_refuses_fails_only_its_own_delivery() {
    let pool = fresh_db().await;
    for writers in [1, 0] {
        let engine = engine_with_writers(&pool, writers);
        let run = Uuid::new_v4().simple().to_string();
        let mut deliveries: Vec<Arrival> = (0..20)
            .map(|i| arrival(&format!("ok_{run}_{i}"), "case_x", json!({})))
            .collect();
        // jsonb takes no NUL character: PostgreSQL refuses this row.
        deliveries.insert(
            7,
            arrival(&format!("bad_{run}"), "case_x", json!({"x": "a\u{0}b"})),
        );
        let answers = join_all(deliveries.into_iter().map(|a| {
            let engine = engine.clone();
            async move { (a.dedup_key.clone(), engine.store_arrival(a).await) }
        }))
        .await;
        for (key, answer) in &answers {
            if key.starts_with("bad_") {
                let refused = matches!(answer, Err(e) if e.is_data_error());
                assert!(
                    refused,
                    "{writers} writers: the bad row is refused: {answer:?}"
                );
            } else {
                assert!(
                    matches!(answer, Ok(true)),
                    "{writers} writers: {key} is stored: {answer:?}"
                );
            }
        }
        let good: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM carepath.webhook_inbox WHERE dedup_key LIKE 'ok_' || $1 || '%'",
        )
        .bind(&run)
        .fetch_one(&pool)
        .await
        .expect("count the inbox");
        assert_eq!(good, 20, "{writers} writers: every good delivery is stored");
    }
}
