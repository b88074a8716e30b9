//! Steps and history are partitioned by the month a journey started (its
//! UUIDv7 id): a journey's rows land in its month, and a month whose
//! journeys have all ended and had their PHI erased is detached to the
//! archive schema by retention — not before.

use std::time::Duration;

use async_trait::async_trait;
use carepath_engine::retention::RetentionPolicy;
use carepath_engine::store::history;
use carepath_engine::{JourneyCtx, JourneyStatus, Registry, Workflow, WorkflowError};
use serde_json::{Value, json};
use sqlx::PgPool;
use uuid::{Timestamp, Uuid};

use crate::support::*;

struct OneStep;

#[async_trait]
impl Workflow for OneStep {
    async fn run(&self, ctx: &mut JourneyCtx, _input: Value) -> Result<Value, WorkflowError> {
        ctx.step("only", |_| async { Ok(1) }).await?;
        Ok(json!("done"))
    }
}

async fn partitions_of(pool: &PgPool, id: Uuid) -> Vec<String> {
    sqlx::query_scalar(
        "SELECT DISTINCT tableoid::regclass::text FROM carepath.journey_steps WHERE journey_id = $1
         UNION
         SELECT DISTINCT tableoid::regclass::text FROM carepath.journey_history WHERE journey_id = $1
         ORDER BY 1",
    )
    .bind(id)
    .fetch_all(pool)
    .await
    .expect("read the partitions")
}

#[tokio::test]
async fn a_journeys_steps_and_history_land_in_the_partitions_of_the_month_it_started() {
    let pool = fresh_db().await;
    let engine = engine(&pool, Registry::new().with("one", 1, OneStep));
    let worker = Worker::start(&engine, "partitions");
    let id = start(&engine, "one", json!({})).await;
    wait_status(&pool, id, JourneyStatus::Completed).await;
    worker.shutdown().await;
    let month: String = sqlx::query_scalar("SELECT to_char(now() AT TIME ZONE 'UTC', 'YYYY_MM')")
        .fetch_one(&pool)
        .await
        .expect("this month");
    assert_eq!(
        partitions_of(&pool, id).await,
        [
            format!("carepath.journey_history_{month}"),
            format!("carepath.journey_steps_{month}")
        ]
    );
    // A month written down as archived while its history is all there is
    // still verified: "retired" cannot be claimed by a row alone.
    sqlx::query("INSERT INTO carepath.archived_months (month) VALUES ($1)")
        .bind(&month)
        .execute(&pool)
        .await
        .expect("a false record");
    let verified = history::verify(&pool, id).await.expect("verify");
    assert!(
        verified.ok && !verified.retired && verified.events > 0,
        "{verified:?}"
    );
}

/// Inserts a finished journey started at `started` (Unix seconds), with a
/// step and a history event; erased or not.
async fn old_journey(pool: &PgPool, started: u64, erased: bool) -> Uuid {
    let id = Uuid::new_v7(Timestamp::from_unix_time(started, 0, 0, 0));
    let key = id.to_string();
    sqlx::query(
        "INSERT INTO carepath.journeys
                (id, workflow, version, idempotency_key, input, status, phase, finished_at,
                 phi_erased_at)
         VALUES ($1, 'one', 1, $2, '{}', 'completed', 'done', to_timestamp($3) + interval '1 day',
                 CASE WHEN $4 THEN now() END)",
    )
    .bind(id)
    .bind(&key)
    .bind(started as f64)
    .bind(erased)
    .execute(pool)
    .await
    .expect("an old journey");
    sqlx::query(
        "INSERT INTO carepath.journey_steps (journey_id, seq, key, kind, status)
         VALUES ($1, 1, 'only', 'step', 'completed')",
    )
    .bind(id)
    .execute(pool)
    .await
    .expect("its step");
    sqlx::query(
        "INSERT INTO carepath.journey_history (journey_id, seq, at, actor, kind, prev_hash, hash)
         VALUES ($1, 0, now(), 'test', 'started', '', '')",
    )
    .bind(id)
    .execute(pool)
    .await
    .expect("its history");
    id
}

#[tokio::test]
async fn a_month_is_archived_only_once_every_journey_of_it_was_erased() {
    let pool = fresh_db().await;
    let engine = engine(&pool, Registry::new().with("one", 1, OneStep));
    // March 2020, made before its journeys arrive (else they would go to
    // the default partition).
    make_march_2020(&pool).await;
    let march = 1_583_020_800; // 2020-03-01T00:00:00Z
    let erased = old_journey(&pool, march + 86_400, true).await;
    let kept = old_journey(&pool, march + 10 * 86_400, false).await;
    assert_eq!(
        partitions_of(&pool, kept).await,
        [
            "carepath.journey_history_2020_03",
            "carepath.journey_steps_2020_03"
        ]
    );
    let policy = RetentionPolicy {
        // Long enough that retention erases nothing itself here.
        completed_journeys: Some(Duration::from_secs(3 * 365 * 86_400)),
        archive_months: true,
        ..RetentionPolicy::default()
    };
    // A journey of the month still holds PHI (its retention has not passed):
    // nothing is archived.
    sqlx::query("UPDATE carepath.journeys SET finished_at = now() WHERE id = $1")
        .bind(kept)
        .execute(&pool)
        .await
        .expect("the kept journey ended recently");
    let report = engine.retain_once(&policy).await.expect("a retention pass");
    assert_eq!(report.archived_months, 0);
    assert_eq!(steps_of(&pool, erased).await, 1, "still attached");

    sqlx::query("UPDATE carepath.journeys SET phi_erased_at = now() WHERE id = $1")
        .bind(kept)
        .execute(&pool)
        .await
        .expect("erase the last one");
    let report = engine.retain_once(&policy).await.expect("a retention pass");
    assert_eq!(report.archived_months, 1);
    for id in [erased, kept] {
        assert_eq!(steps_of(&pool, id).await, 0, "detached from journey_steps");
        let history: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM carepath.journey_history WHERE journey_id = $1",
        )
        .bind(id)
        .fetch_one(&pool)
        .await
        .expect("count the history");
        assert_eq!(history, 0, "detached from journey_history");
    }
    let archived: i64 = sqlx::query_scalar(
        "SELECT (SELECT count(*) FROM carepath_archive.journey_steps_2020_03)
              + (SELECT count(*) FROM carepath_archive.journey_history_2020_03)",
    )
    .fetch_one(&pool)
    .await
    .expect("the archive holds them");
    assert_eq!(
        archived, 4,
        "both journeys' step and event, kept in the archive"
    );
    // The archive is still the journeys' history, and still append-only.
    let events = history::list(&pool, kept)
        .await
        .expect("read the archived history");
    assert_eq!(events.len(), 1, "read from the archive");
    let verified = history::verify(&pool, kept)
        .await
        .expect("verify the archived history");
    assert!(verified.ok && verified.events == 1, "{verified:?}");
    for sql in [
        "UPDATE carepath_archive.journey_history_2020_03 SET actor = 'x'",
        "INSERT INTO carepath_archive.journey_history_2020_03
             SELECT journey_id, seq + 1, at, actor, kind, detail, hash, hash
               FROM carepath_archive.journey_history_2020_03",
        "TRUNCATE carepath_archive.journey_history_2020_03",
    ] {
        let refused = sqlx::query(sql).execute(&pool).await.expect_err(sql);
        assert!(
            refused.to_string().contains("append-only"),
            "{sql}: {refused}"
        );
    }
    let streamed = carepath_engine::store::feed::journey_after(&pool, kept, 0, 10)
        .await
        .expect("the journey's event stream");
    assert_eq!(streamed.len(), 1, "the stream reads the archive too");
    let again = engine.retain_once(&policy).await.expect("a retention pass");
    assert_eq!(again.archived_months, 0, "nothing left to archive");
    // This month's partitions and the default are never candidates.
    let attached: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM pg_inherits WHERE inhparent = 'carepath.journey_steps'::regclass",
    )
    .fetch_one(&pool)
    .await
    .expect("count the partitions");
    assert!(
        attached >= 4,
        "the months ahead and the default stay: {attached}"
    );

    // Dumped and dropped by the operator: the history is retired, not broken.
    sqlx::query("DROP TABLE carepath_archive.journey_history_2020_03")
        .execute(&pool)
        .await
        .expect("drop the archive");
    let verified = history::verify(&pool, kept)
        .await
        .expect("verify a retired history");
    assert!(verified.retired && verified.ok, "{verified:?}");
}

async fn steps_of(pool: &PgPool, id: Uuid) -> i64 {
    sqlx::query_scalar("SELECT count(*) FROM carepath.journey_steps WHERE journey_id = $1")
        .bind(id)
        .fetch_one(pool)
        .await
        .expect("count the steps")
}

#[tokio::test]
async fn a_month_with_a_journey_running_again_is_not_archived() {
    let pool = fresh_db().await;
    let engine = engine(&pool, Registry::new().with("one", 1, OneStep));
    make_march_2020(&pool).await;
    let id = old_journey(&pool, 1_583_020_800 + 86_400, true).await;
    // Erased, yet running (as a rewind before erased journeys were refused
    // could leave one).
    sqlx::query("UPDATE carepath.journeys SET status = 'running' WHERE id = $1")
        .bind(id)
        .execute(&pool)
        .await
        .expect("running again");
    let policy = RetentionPolicy {
        completed_journeys: Some(Duration::from_secs(86_400)),
        archive_months: true,
        ..RetentionPolicy::default()
    };
    let report = engine.retain_once(&policy).await.expect("a retention pass");
    assert_eq!(report.archived_months, 0);
    assert_eq!(steps_of(&pool, id).await, 1, "still attached");
}

#[tokio::test]
async fn a_month_whose_rows_sit_in_the_default_partition_does_not_stop_the_others() {
    let pool = fresh_db().await;
    // A journey of a month not made yet (its id from a clock far ahead)
    // lands in the default partition.
    let ahead = 4_102_444_800; // 2100-01-01T00:00:00Z
    let stray = old_journey(&pool, ahead + 86_400, false).await;
    assert_eq!(
        partitions_of(&pool, stray).await,
        [
            "carepath.journey_history_default",
            "carepath.journey_steps_default"
        ]
    );
    // December 2099 to February 2100: January's rows are in the default, so
    // January is left there with a warning; the other two are made.
    let made: i32 = sqlx::query_scalar(
        "SELECT carepath.create_journey_partitions('2099-12-01Z', '2100-02-01Z')",
    )
    .fetch_one(&pool)
    .await
    .expect("make the months around it");
    assert_eq!(made, 4, "December and February, steps and history");
    let january: Vec<Option<String>> = sqlx::query_scalar(
        "SELECT to_regclass(t)::text FROM unnest(ARRAY['carepath.journey_steps_2100_01',
                                                       'carepath.journey_history_2100_01']) t",
    )
    .fetch_all(&pool)
    .await
    .expect("look January up");
    assert_eq!(january, [None, None]);

    // Rows of a month in one default only (history, no steps): the month
    // is left whole, not made for steps alone.
    let march = 4_107_542_400; // 2100-03-01T00:00:00Z
    let stray = old_journey(&pool, march + 86_400, false).await;
    sqlx::query("DELETE FROM carepath.journey_steps WHERE journey_id = $1")
        .bind(stray)
        .execute(&pool)
        .await
        .expect("leave its history alone in the default");
    let made: i32 = sqlx::query_scalar(
        "SELECT carepath.create_journey_partitions('2100-03-01Z', '2100-03-01Z')",
    )
    .fetch_one(&pool)
    .await
    .expect("try March 2100");
    assert_eq!(made, 0, "neither table's March is made");
}

/// Makes March 2020's partitions (before its journeys arrive: else they
/// would go to the default partition).
async fn make_march_2020(pool: &PgPool) {
    sqlx::query("SELECT carepath.create_journey_partitions('2020-03-01Z', '2020-03-01Z')")
        .execute(pool)
        .await
        .expect("make March 2020");
}
