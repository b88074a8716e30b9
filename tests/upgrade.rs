//! Upgrading a database migrated before the engine had migrations of its own:
//! one migrator then recorded everything in `public._sqlx_migrations`
//! (versions 20261123000001..20261130000002, kept here as fixtures exactly as
//! they shipped). `carepath migrate` adopts such a database without touching
//! its data, and refuses one migrated only part of the way.

mod support;

use std::path::Path;
use std::process::{Command, Output, Stdio};

use carepath::db;
use serde_json::Value;
use sqlx::PgPool;
use support::*;
use uuid::Uuid;

const FIXTURES: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../tests/fixtures/pre_split_migrations"
);

/// An empty database on the test server; its URL and a pool on it.
async fn empty_database() -> (String, PgPool) {
    let server = fresh_db().await;
    let name = format!("carepath_upgrade_{}", Uuid::new_v4().simple());
    sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
        .execute(&server.pool)
        .await
        .expect("create an empty database");
    let url = url_with_database(&server.url, &name);
    let pool = db::connect(&url, 4).await.expect("connect to it");
    (url, pool)
}

/// Applies the first `n` pre-split migrations the way the old migrator did,
/// recording each in `public._sqlx_migrations`.
async fn migrate_as_before(pool: &PgPool, n: usize) {
    let mut files: Vec<_> = std::fs::read_dir(Path::new(FIXTURES))
        .expect("the pre-split migrations")
        .map(|e| e.expect("a fixture").path())
        .collect();
    files.sort();
    sqlx::raw_sql(
        "CREATE TABLE public._sqlx_migrations (
             version bigint PRIMARY KEY, description text NOT NULL,
             installed_on timestamptz NOT NULL DEFAULT now(), success boolean NOT NULL,
             checksum bytea NOT NULL, execution_time bigint NOT NULL)",
    )
    .execute(pool)
    .await
    .expect("the old migrations table");
    for file in files.iter().take(n) {
        let sql = std::fs::read_to_string(file).expect("read a fixture");
        sqlx::raw_sql(sqlx::AssertSqlSafe(sql))
            .execute(pool)
            .await
            .unwrap_or_else(|e| panic!("apply {}: {e}", file.display()));
        let name = file
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or_default();
        let version: i64 = name[..14].parse().expect("a version");
        sqlx::query(
            "INSERT INTO public._sqlx_migrations (version, description, success, checksum, execution_time)
             VALUES ($1, $2, true, '\\x00', 1)",
        )
        .bind(version)
        .bind(name)
        .execute(pool)
        .await
        .expect("record it");
    }
}

fn carepath_migrate(url: &str) -> Output {
    Command::new(env!("CARGO_BIN_EXE_carepath"))
        .arg("migrate")
        .env("DATABASE_URL", url)
        .env("RUST_LOG", "warn")
        .stdin(Stdio::null())
        .output()
        .expect("run carepath migrate")
}

#[tokio::test]
async fn a_database_migrated_before_the_split_is_adopted_with_its_journeys() {
    let (url, pool) = empty_database().await;
    migrate_as_before(&pool, 10).await;
    let id = Uuid::now_v7();
    sqlx::query(
        "INSERT INTO carepath.journeys (id, workflow, version, idempotency_key, input, status, phase)
         VALUES ($1, 'noop', 1, 'before-the-split', '{}', 'completed', 'done')",
    )
    .bind(id)
    .execute(&pool)
    .await
    .expect("a journey from before");
    sqlx::query(
        "INSERT INTO carepath.journey_steps (journey_id, seq, key, kind, status, output)
         VALUES ($1, 1, 'submit', 'step', 'completed', '{\"case_id\": \"c1\"}')",
    )
    .bind(id)
    .execute(&pool)
    .await
    .expect("its step from before");
    sqlx::query(
        "INSERT INTO carepath.journey_history (journey_id, seq, at, actor, kind, prev_hash, hash)
         VALUES ($1, 0, now(), 'test', 'started', '', '')",
    )
    .bind(id)
    .execute(&pool)
    .await
    .expect("its history from before");
    sqlx::query(
        "INSERT INTO carepath.patients (id, first_name, last_name, date_of_birth, phone, email, created_by_journey)
         VALUES ($1, 'Adaeze', 'Okonkwo', '1988-03-14', '+14155550100', 'ada@example.com', $2)",
    )
    .bind(Uuid::now_v7())
    .bind(id)
    .execute(&pool)
    .await
    .expect("a patient from before");

    for _ in 0..2 {
        let out = carepath_migrate(&url);
        assert!(
            out.status.success(),
            "carepath migrate failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    db::ensure_migrated(&pool)
        .await
        .expect("workers and the API accept the adopted database");
    // Steps and history were copied into their month's partitions, the
    // history's chain as it was.
    let moved: (String, Value, String, bool) = sqlx::query_as(
        "SELECT s.tableoid::regclass::text, s.output, h.tableoid::regclass::text,
                h.hash = encode(sha256(convert_to(carepath.history_hash_input(
                    h.prev_hash, h.seq, h.journey_id, h.at, h.actor, h.kind, h.detail), 'UTF8')), 'hex')
           FROM carepath.journey_steps s JOIN carepath.journey_history h USING (journey_id)
          WHERE s.journey_id = $1",
    )
    .bind(id)
    .fetch_one(&pool)
    .await
    .expect("the step and event after the upgrade");
    let month: String = sqlx::query_scalar("SELECT to_char(now() AT TIME ZONE 'UTC', 'YYYY_MM')")
        .fetch_one(&pool)
        .await
        .expect("this month");
    assert_eq!(moved.0, format!("carepath.journey_steps_{month}"));
    assert_eq!(moved.1, serde_json::json!({"case_id": "c1"}));
    assert_eq!(moved.2, format!("carepath.journey_history_{month}"));
    assert!(moved.3, "the copied event's hash still verifies");
    let recorded: Vec<(String, i64)> = sqlx::query_as(
        "SELECT 'engine', version FROM carepath._engine_migrations
         UNION ALL SELECT 'app', version FROM carepath._migrations ORDER BY 1, 2",
    )
    .fetch_all(&pool)
    .await
    .expect("the new migration records");
    assert_eq!(
        recorded,
        vec![
            ("app".into(), 20261201000002),
            // Adoption records the baseline only; what came after it runs.
            ("app".into(), 20261202000001),
            ("app".into(), 20261203000001),
            ("app".into(), 20261205000001),
            ("app".into(), 20261206000001),
            ("app".into(), 20261207000002),
            ("app".into(), 20261207000003),
            ("engine".into(), 20261201000001),
            ("engine".into(), 20261204000001),
            ("engine".into(), 20261204000002),
            ("engine".into(), 20261205000001),
            ("engine".into(), 20261205000002),
            ("engine".into(), 20261205000003),
            ("engine".into(), 20261206000001),
            ("engine".into(), 20261206000002),
            ("engine".into(), 20261207000001),
            ("engine".into(), 20261207000002),
            ("engine".into(), 20261208000001),
            ("engine".into(), 20261208000002),
            ("engine".into(), 20261209000001),
            ("engine".into(), 20261210000001)
        ]
    );
    let kept: String =
        sqlx::query_scalar("SELECT idempotency_key FROM carepath.journeys WHERE id = $1")
            .bind(id)
            .fetch_one(&pool)
            .await
            .expect("the journey from before");
    assert_eq!(kept, "before-the-split");
    // The first worker to start files it, hashed and sealed with the
    // deployment's keys (`carepath migrate` has none).
    let keys = carepath_workflows::Settings::default()
        .registry_keys()
        .expect("development keys");
    for _ in 0..2 {
        carepath_workflows::consult::patients::seal_registry(&pool, &keys)
            .await
            .expect("sealed");
    }
    let mut conn = pool.acquire().await.expect("a connection");
    let filed: Vec<(String, String)> =
        carepath_workflows::consult::patients::records::sample(&mut conn, &keys, 10)
            .await
            .expect("the records")
            .into_iter()
            .map(|s| (s.record.given, s.record.family_code))
            .collect();
    assert_eq!(
        filed,
        vec![("adaeze".into(), "AKNK".into())],
        "a patient from before is filed once as a record matching can find, however often it runs"
    );
    drop(conn);

    // A run cut off between recording the engine's schema and the
    // application's is finished by the next one (nothing after the baseline
    // had run then either).
    sqlx::raw_sql(
        "DELETE FROM carepath._migrations;
         DROP FUNCTION carepath.locked_candidates, carepath.match_fields_of;
         DROP TABLE carepath.match_models, carepath.patient_records, carepath.bulk_operations,
                    carepath.console_sessions;
         ALTER TABLE carepath.patients ALTER COLUMN created_by_journey SET NOT NULL;
         ALTER TABLE carepath.patients DROP COLUMN erased_at, DROP COLUMN erase_reason;",
    )
    .execute(&pool)
    .await
    .expect("forget the application's record");
    let out = carepath_migrate(&url);
    assert!(
        out.status.success(),
        "carepath migrate did not finish an interrupted adoption: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    db::ensure_migrated(&pool).await.expect("migrated");
}

#[tokio::test]
async fn another_applications_sqlx_migrations_do_not_look_like_an_old_carepath() {
    let (url, pool) = empty_database().await;
    sqlx::raw_sql(
        "CREATE TABLE public._sqlx_migrations (
             version bigint PRIMARY KEY, description text NOT NULL,
             installed_on timestamptz NOT NULL DEFAULT now(), success boolean NOT NULL,
             checksum bytea NOT NULL, execution_time bigint NOT NULL);
         INSERT INTO public._sqlx_migrations VALUES (20240101000000, 'theirs', now(), true, '\\x00', 1);",
    )
    .execute(&pool)
    .await
    .expect("another application's migrations");
    let out = carepath_migrate(&url);
    assert!(
        out.status.success(),
        "carepath migrate refused a database another application migrates: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    db::ensure_migrated(&pool).await.expect("migrated");
}

#[tokio::test]
async fn a_database_migrated_only_part_of_the_way_is_refused_with_what_to_do() {
    let (url, pool) = empty_database().await;
    migrate_as_before(&pool, 6).await;
    let out = carepath_migrate(&url);
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("up to 20261123000006") && stderr.contains("20261130000002"),
        "the refusal does not say what to do: {stderr}"
    );
    let engine_tables: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM information_schema.tables
          WHERE table_schema = 'carepath' AND table_name = '_engine_migrations'",
    )
    .fetch_one(&pool)
    .await
    .expect("look for the engine's record");
    assert_eq!(
        engine_tables, 0,
        "nothing was recorded for a refused database"
    );
}
