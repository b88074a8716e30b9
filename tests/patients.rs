//! `carepath patients import` and `match`: a brand's registry moved in,
//! deduplicated within the file and against the registry; a dry run that
//! writes nothing; bad lines named by line and field, with nothing written.

mod support;

use std::process::{Command, Output, Stdio};

use serde_json::{Value, json};
use sqlx::PgPool;
use support::*;

fn person(
    id: &str,
    first: &str,
    last: &str,
    dob: &str,
    phone: &str,
    email: &str,
    line1: &str,
) -> Value {
    json!({
        "external_id": id, "first_name": first, "last_name": last, "date_of_birth": dob,
        "sex": "female", "email": email, "phone": phone,
        "address": { "line1": line1, "city": "Oakland", "state": "CA", "postal_code": "94607" }
    })
}

fn adaeze() -> Value {
    person(
        "b-1",
        "Adaeze",
        "Okonkwo",
        "1988-03-14",
        "+14155550100",
        "ada@example.com",
        "12 Oak Street",
    )
}

fn write(lines: &[String]) -> std::path::PathBuf {
    let path =
        std::env::temp_dir().join(format!("carepath-patients-{}.jsonl", uuid::Uuid::new_v4()));
    std::fs::write(&path, lines.join("\n")).expect("write the file");
    path
}

fn carepath(url: &str, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_carepath"))
        .args(args)
        .env("DATABASE_URL", url)
        .env("RUST_LOG", "warn")
        .stdin(Stdio::null())
        .output()
        .expect("run carepath")
}

async fn count(pool: &PgPool, table: &str) -> i64 {
    sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
        "SELECT count(*) FROM carepath.{table}"
    )))
    .fetch_one(pool)
    .await
    .expect("count")
}

#[tokio::test]
async fn an_import_links_a_returning_line_holds_a_twin_and_runs_again_without_duplicating() {
    let db = fresh_db().await;
    let mut back = adaeze();
    back["external_id"] = json!("b-4");
    back["phone"] = json!("(628) 555-0199");
    let mut twin = adaeze();
    twin["external_id"] = json!("b-5");
    twin["first_name"] = json!("Chidi");
    twin["sex"] = json!("male");
    let lines: Vec<String> = [
        adaeze(),
        person(
            "b-2",
            "Wei",
            "Lee",
            "1990-04-03",
            "+14155550101",
            "wl@example.com",
            "9 Pine Road",
        ),
        person(
            "b-3",
            "Maria",
            "Garcia",
            "1972-11-23",
            "+14155550102",
            "mg@example.com",
            "1 Main St",
        ),
        back,
        twin,
    ]
    .iter()
    .map(Value::to_string)
    .collect();
    let file = write(&lines);
    let file = file.to_str().unwrap_or_default();
    let out = carepath(&db.url, &["patients", "import", file]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report: Value = serde_json::from_slice(&out.stdout).expect("a JSON report");
    assert_eq!(
        (&report["created"], &report["linked"], &report["review"]),
        (&json!(3), &json!(1), &json!(1)),
        "{report}"
    );
    assert_eq!(report["reviews"][0]["line"], 5, "{report}");
    assert_eq!(
        report["reviews"][0]["candidate_external_id"], "b-1",
        "{report}"
    );
    assert_eq!(report["reviews"][0]["hold"], "household", "{report}");
    assert_eq!(count(&db.pool, "patients").await, 3);
    assert_eq!(count(&db.pool, "patient_records").await, 4);
    assert_eq!(
        count(&db.pool, "match_models").await,
        1,
        "the import estimated a model first"
    );

    let again = carepath(&db.url, &["patients", "import", file]);
    assert!(
        again.status.success(),
        "{}",
        String::from_utf8_lossy(&again.stderr)
    );
    let report: Value = serde_json::from_slice(&again.stdout).expect("a JSON report");
    assert_eq!(report["already_imported"], 4, "{report}");
    assert_eq!(count(&db.pool, "patients").await, 3);
    assert_eq!(count(&db.pool, "patient_records").await, 4);
}

#[tokio::test]
async fn bad_lines_are_named_and_nothing_is_written() {
    let db = fresh_db().await;
    let mut bad_date = adaeze();
    bad_date["external_id"] = json!("b-2");
    bad_date["date_of_birth"] = json!("14/03/1988");
    let lines = vec![
        adaeze().to_string(),
        bad_date.to_string(),
        "{not json".to_owned(),
        adaeze().to_string(),
    ];
    let file = write(&lines);
    let out = carepath(
        &db.url,
        &["patients", "import", file.to_str().unwrap_or_default()],
    );
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("line 2: date_of_birth: must be a date written YYYY-MM-DD"),
        "{stderr}"
    );
    assert!(stderr.contains("line 3: not JSON"), "{stderr}");
    assert!(
        stderr.contains("line 4: external_id: repeats line 1"),
        "{stderr}"
    );
    assert!(!stderr.contains("1988"), "no PHI in errors: {stderr}");
    assert_eq!(count(&db.pool, "patients").await, 0);
    assert_eq!(count(&db.pool, "patient_records").await, 0);
}

#[tokio::test]
async fn match_prints_a_decision_per_line_and_writes_nothing() {
    let db = fresh_db().await;
    let registry = write(&[adaeze().to_string()]);
    let out = carepath(
        &db.url,
        &["patients", "import", registry.to_str().unwrap_or_default()],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut typo = adaeze();
    typo["external_id"] = json!("x-1");
    typo["last_name"] = json!("Okonkow");
    typo["email"] = json!("adaeze.o@mail.example");
    let stranger = person(
        "x-2",
        "Tomas",
        "Lindqvist",
        "1961-07-30",
        "+13125550100",
        "tl@example.com",
        "5 Lake Shore Drive",
    );
    let file = write(&[typo.to_string(), stranger.to_string()]);
    let out = carepath(
        &db.url,
        &["patients", "match", file.to_str().unwrap_or_default()],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let lines: Vec<Value> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).expect("a JSON line"))
        .collect();
    assert_eq!(lines.len(), 2);
    assert_eq!(lines[0]["external_id"], "x-1");
    assert_eq!(lines[0]["decision"], "link", "{}", lines[0]);
    assert_eq!(lines[0]["candidate_external_id"], "b-1");
    assert_eq!(lines[0]["levels"]["family_name"], "typo");
    assert_eq!(lines[0]["levels"]["email"], "different");
    assert_eq!(lines[1]["decision"], "create", "{}", lines[1]);
    assert_eq!(count(&db.pool, "patients").await, 1);
    assert_eq!(count(&db.pool, "patient_records").await, 1);
}

/// Files `people` as patients of one record each, without matching.
async fn file(pool: &PgPool, people: &[carepath_identity::Person]) {
    use carepath_workflows::consult::patients::records::{self, Source};
    let mut tx = pool.begin().await.expect("begin");
    for p in people {
        let id = uuid::Uuid::now_v7();
        sqlx::query(
            "INSERT INTO carepath.patients (id, first_name, last_name, date_of_birth)
             VALUES ($1, 'x', 'y', '1980-01-01')",
        )
        .bind(id)
        .execute(&mut *tx)
        .await
        .expect("a patient");
        let record = carepath_identity::Record::of(p);
        records::insert(&mut tx, id, Some(&p.external_id), Source::Import, &record)
            .await
            .expect("a record");
    }
    tx.commit().await.expect("commit");
}

#[tokio::test]
async fn workers_estimate_a_model_once_the_registry_is_big_enough_and_again_when_it_grows() {
    use carepath_identity::synth;
    use carepath_workflows::consult::patients::model_store;
    let db = fresh_db().await;
    let people = synth::population(5, 1_500);
    file(&db.pool, &people[..900]).await;
    assert!(
        !model_store::refresh_if_grown(&db.pool)
            .await
            .expect("check"),
        "900 records: the fallback stays"
    );
    file(&db.pool, &people[900..1_100]).await;
    assert!(
        model_store::refresh_if_grown(&db.pool)
            .await
            .expect("check"),
        "1,100 records: estimated"
    );
    assert!(
        !model_store::refresh_if_grown(&db.pool)
            .await
            .expect("check"),
        "no growth: no new model"
    );
    file(&db.pool, &people[1_100..]).await;
    assert!(
        model_store::refresh_if_grown(&db.pool)
            .await
            .expect("check"),
        "grown by over a fifth"
    );
    let model = model_store::current(&db.pool).await.expect("the model");
    assert_eq!(model.registry_records, 1_500);
    assert!(
        matches!(
            model.provenance,
            carepath_identity::model::Provenance::Estimated { records: 1_500, .. }
        ),
        "{:?}",
        model.provenance
    );
}

/// Candidates are read back from `match_fields`, a text of the record's
/// columns written with them: every field must come back as it was filed, including
/// the missing ones, names transliterated past the length bound, and
/// characters that mean something in that text or in SQL.
#[tokio::test]
async fn a_filed_record_reads_back_field_for_field() {
    use carepath_workflows::consult::patients::records;
    let db = fresh_db().await;
    let mut people = carepath_identity::synth::population(9, 40);
    people[0].first_name = "中".repeat(200);
    people[1].email = "o'brien+tag@example.com".to_owned();
    people[2].phone = String::new();
    people[2].address.line1 = String::new();
    people[2].address.postal_code = String::new();
    people[3].date_of_birth = "not a date".to_owned();
    people[4].sex = "other".to_owned();
    people[5].external_id = "ext\u{1f}with-a-separator".to_owned();
    file(&db.pool, &people).await;
    assert_match_fields_as_sql_writes_them(&db.pool).await;
    let blocking: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM carepath.patient_records
          WHERE birth_year IS DISTINCT FROM extract(year FROM date_of_birth)::integer
             OR given_initial IS DISTINCT FROM left(given, 1)",
    )
    .fetch_one(&db.pool)
    .await
    .expect("compare");
    assert_eq!(
        blocking, 0,
        "the blocking keys' columns are what they were generated as"
    );
    let mut conn = db.pool.acquire().await.expect("a connection");
    let stored = records::sample(&mut conn, 100).await.expect("read back");
    assert_eq!(stored.len(), people.len());
    for s in stored {
        let external = s.external_id.clone().unwrap_or_default();
        let p = people
            .iter()
            .find(|p| p.external_id == external)
            .unwrap_or_else(|| panic!("no person filed as {external:?}"));
        assert_eq!(s.record, carepath_identity::Record::of(p), "{external}");
    }
}

/// Two intakes of one new person at the same moment (two journeys, two
/// workers): the block locks make one create the patient and the other
/// link to it, never two patients; a re-run of either returns what it filed.
#[tokio::test]
async fn one_new_person_arriving_twice_at_once_becomes_one_patient() {
    use carepath_workflows::consult::patients::{self, ModelCache};
    let db = fresh_db().await;
    file(&db.pool, &carepath_identity::synth::population(11, 60)).await;
    let models = ModelCache::default();
    let names = [
        ("Amara", "Okafor"),
        ("Bjorn", "Lindgren"),
        ("Chiara", "Rossi"),
        ("Dmitri", "Volkov"),
        ("Esperanza", "Morales"),
        ("Farid", "Haddad"),
        ("Greta", "Schmidt"),
        ("Hiroshi", "Tanaka"),
    ];
    for (round, (first, last)) in names.into_iter().enumerate() {
        let who: carepath_identity::Person = serde_json::from_value(person(
            &format!("new-{round}"),
            first,
            last,
            &format!("19{}-0{}-1{round}", 50 + round, round + 1),
            &format!("+1415555020{round}"),
            &format!("{}@example.com", first.to_lowercase()),
            &format!("{} Elm Street", 10 + round),
        ))
        .expect("a person");
        let (a, b) = (uuid::Uuid::now_v7(), uuid::Uuid::now_v7());
        let (x, y) = tokio::join!(
            patients::match_or_create(&db.pool, &models, a, &who),
            patients::match_or_create(&db.pool, &models, b, &who)
        );
        let (x, y) = (x.expect("first match"), y.expect("second match"));
        let mut decisions = [x.decision, y.decision];
        decisions.sort_by_key(|d| format!("{d:?}"));
        assert_eq!(
            decisions,
            [
                carepath_identity::Decision::Create,
                carepath_identity::Decision::Link
            ],
            "round {round}"
        );
        assert_eq!(x.patient_id, y.patient_id, "round {round}");
        let again = patients::match_or_create(&db.pool, &models, a, &who)
            .await
            .expect("a re-run");
        assert_eq!(again.patient_id, x.patient_id);
        assert_eq!(again.decision, x.decision);
    }
    assert_match_fields_as_sql_writes_them(&db.pool).await;
    let created: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM carepath.patients WHERE created_by_journey IS NOT NULL",
    )
    .fetch_one(&db.pool)
    .await
    .expect("count");
    assert_eq!(created, 8);
}

/// Every record's `match_fields` (written by `match_fields::encode`) equals
/// what the migration's `carepath.match_fields_of` writes for it.
async fn assert_match_fields_as_sql_writes_them(pool: &PgPool) {
    let differing: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM carepath.patient_records r
          WHERE r.match_fields IS DISTINCT FROM carepath.match_fields_of(r)",
    )
    .fetch_one(pool)
    .await
    .expect("compare");
    assert_eq!(
        differing, 0,
        "Rust and the migration's SQL write match_fields alike"
    );
}
