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

/// The registry's keys as the test processes (and `carepath patients`
/// without a configuration) have them: development's.
fn keys() -> carepath_workflows::consult::patients::Keys {
    carepath_workflows::Settings::default()
        .registry_keys()
        .expect("development keys")
}

/// Files `people` as patients of one record each, without matching.
async fn file(pool: &PgPool, people: &[carepath_identity::Person]) {
    use carepath_workflows::consult::patients::keys::patient_key;
    use carepath_workflows::consult::patients::records::{self, Source};
    let keys = keys();
    let mut tx = pool.begin().await.expect("begin");
    for p in people {
        let id = uuid::Uuid::now_v7();
        sqlx::query("INSERT INTO carepath.patients (id) VALUES ($1)")
            .bind(id)
            .execute(&mut *tx)
            .await
            .expect("a patient");
        let key = patient_key(&keys, &mut tx, id).await.expect("a key");
        let record = carepath_identity::Record::of(p);
        let external = Some(p.external_id.as_str());
        records::insert(
            &mut tx,
            &keys,
            key.as_ref(),
            id,
            external,
            Source::Import,
            &record,
        )
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
    let keys = keys();
    let people = synth::population(5, 1_500);
    file(&db.pool, &people[..900]).await;
    assert!(
        !model_store::refresh_if_grown(&db.pool, &keys)
            .await
            .expect("check"),
        "900 records: the fallback stays"
    );
    file(&db.pool, &people[900..1_100]).await;
    assert!(
        model_store::refresh_if_grown(&db.pool, &keys)
            .await
            .expect("check"),
        "1,100 records: estimated"
    );
    assert!(
        !model_store::refresh_if_grown(&db.pool, &keys)
            .await
            .expect("check"),
        "no growth: no new model"
    );
    file(&db.pool, &people[1_100..]).await;
    assert!(
        model_store::refresh_if_grown(&db.pool, &keys)
            .await
            .expect("check"),
        "grown by over a fifth"
    );
    let model = model_store::current(&db.pool, &keys)
        .await
        .expect("the model");
    assert_eq!(model.registry_records, 1_500);
    // Its name frequencies are the registry's names: stored sealed.
    let stored: String = sqlx::query_scalar(
        "SELECT model::text FROM carepath.match_models ORDER BY id DESC LIMIT 1",
    )
    .fetch_one(&db.pool)
    .await
    .expect("stored model");
    assert!(
        stored.starts_with("{\"$sealed\""),
        "{}",
        &stored[..stored.len().min(80)]
    );
    assert!(
        matches!(
            model.provenance,
            carepath_identity::model::Provenance::Estimated { records: 1_500, .. }
        ),
        "{:?}",
        model.provenance
    );
}

/// People with awkward fields: names transliterated past the length bound,
/// missing fields, characters that mean something in `match_fields`' text
/// or in SQL.
fn awkward_people() -> Vec<carepath_identity::Person> {
    let mut people = carepath_identity::synth::population(9, 40);
    people[0].first_name = "中".repeat(200);
    people[1].email = "o'brien+tag@example.com".to_owned();
    people[2].phone = String::new();
    people[2].address.line1 = String::new();
    people[2].address.postal_code = String::new();
    people[3].date_of_birth = "not a date".to_owned();
    people[4].sex = "other".to_owned();
    people[5].external_id = "ext\u{1f}with-a-separator".to_owned();
    people
}

/// Every stored record, opened, is `Record::of` its person.
async fn assert_records_read_back(pool: &PgPool, people: &[carepath_identity::Person]) {
    use carepath_workflows::consult::patients::records;
    let mut conn = pool.acquire().await.expect("a connection");
    let stored = records::sample(&mut conn, &keys(), 100)
        .await
        .expect("read back");
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

/// Candidates are read back from sealed `fields`: every field must come
/// back as it was filed, including the missing ones.
#[tokio::test]
async fn a_filed_record_reads_back_field_for_field() {
    let db = fresh_db().await;
    let people = awkward_people();
    file(&db.pool, &people).await;
    assert_records_read_back(&db.pool, &people).await;
}

/// A registry an older carepath stored in clear (records as migration
/// 20261203000001 left them, a patient from before records) is converted
/// by `seal_registry`: hashed and sealed, its clear columns emptied, read
/// back field for field, found by matching; run again, it does nothing.
#[tokio::test]
async fn a_registry_stored_in_clear_is_sealed_and_still_found() {
    use carepath_workflows::consult::patients::{self, ModelCache};
    let db = fresh_db().await;
    let people = awkward_people();
    for p in &people {
        let r = carepath_identity::Record::of(p);
        let id = uuid::Uuid::now_v7();
        sqlx::query(
            "WITH p AS (INSERT INTO carepath.patients (id) VALUES ($1))
             INSERT INTO carepath.patient_records
                 (patient_id, external_id, source, given, given_code, family, family_code,
                  date_of_birth, phone, email, address_line, postal_code, sex)
             VALUES ($1, $2, 'import', $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)",
        )
        .bind(id)
        .bind(&p.external_id)
        .bind(&r.given)
        .bind(&r.given_code)
        .bind(&r.family)
        .bind(&r.family_code)
        .bind(r.dob)
        .bind(&r.phone)
        .bind(&r.email)
        .bind(&r.address_line)
        .bind(&r.postal_code)
        .bind(r.sex.map(String::from))
        .execute(&db.pool)
        .await
        .expect("a record stored in clear");
    }
    let before = uuid::Uuid::now_v7();
    sqlx::query(
        "INSERT INTO carepath.patients (id, first_name, last_name, date_of_birth, phone, email)
         VALUES ($1, 'Adaeze', 'Okonkwo', '1988-03-14', '+14155550100', 'ada@example.com')",
    )
    .bind(before)
    .execute(&db.pool)
    .await
    .expect("a patient from before records");
    let keys = keys();
    let sealed = patients::seal_registry(&db.pool, &keys)
        .await
        .expect("sealed");
    assert_eq!(
        sealed,
        people.len() as u64 + 1,
        "every record, and the patient"
    );
    assert_eq!(
        patients::seal_registry(&db.pool, &keys)
            .await
            .expect("again"),
        0
    );
    let clear = count(
        &db.pool,
        "patient_records WHERE fields IS NULL OR given IS NOT NULL",
    )
    .await
        + count(&db.pool, "patients WHERE first_name IS NOT NULL").await;
    assert_eq!(clear, 0, "no row keeps a clear column");
    let mut all = people.clone();
    all.push(serde_json::from_value(adaeze()).expect("a person"));
    all.last_mut().expect("adaeze").external_id = String::new();
    let mut conn = db.pool.acquire().await.expect("a connection");
    let stored = patients::records::sample(&mut conn, &keys, 100)
        .await
        .expect("read");
    assert_eq!(stored.len(), all.len());
    let ada = stored
        .iter()
        .find(|s| s.patient_id == before)
        .expect("filed");
    assert_eq!(ada.record.given, "adaeze");
    assert_eq!(ada.record.family_code, "AKNK");
    drop(conn);
    assert_records_read_back_except(&db.pool, &people, before).await;
    let who: carepath_identity::Person = serde_json::from_value(adaeze()).expect("a person");
    let found = patients::current_candidates(&db.pool, &keys, &ModelCache::default(), &who)
        .await
        .expect("match");
    assert_eq!(found.first().map(|c| c.patient_id), Some(before));
}

/// As [`assert_records_read_back`], leaving out patient `except`'s.
async fn assert_records_read_back_except(
    pool: &PgPool,
    people: &[carepath_identity::Person],
    except: uuid::Uuid,
) {
    use carepath_workflows::consult::patients::records;
    let mut conn = pool.acquire().await.expect("a connection");
    let stored = records::sample(&mut conn, &keys(), 100)
        .await
        .expect("read back");
    for s in stored.into_iter().filter(|s| s.patient_id != except) {
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
    let keys = keys();
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
            patients::match_or_create(&db.pool, &keys, &models, a, &who),
            patients::match_or_create(&db.pool, &keys, &models, b, &who)
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
        let again = patients::match_or_create(&db.pool, &keys, &models, a, &who)
            .await
            .expect("a re-run");
        assert_eq!(again.patient_id, x.patient_id);
        assert_eq!(again.decision, x.decision);
    }
    let created: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM carepath.patients WHERE created_by_journey IS NOT NULL",
    )
    .fetch_one(&db.pool)
    .await
    .expect("count");
    assert_eq!(created, 8);
}

/// The whole of `table`, each row as text, lower-cased: what anyone who
/// reads the database (or a backup of it) sees.
async fn as_text(pool: &PgPool, table: &str) -> String {
    sqlx::query_scalar::<_, Option<String>>(sqlx::AssertSqlSafe(format!(
        "SELECT lower(string_agg(t::text, ' ')) FROM carepath.{table} t"
    )))
    .fetch_one(pool)
    .await
    .expect("the table as text")
    .unwrap_or_default()
}

/// Issue 17: the registry holds no PHI in clear — no marker string of a
/// person's names, email, address or external id is in `patients` or
/// `patient_records`, neither as text nor as bytes (a `bytea` reads as
/// hex) — and matching still finds the returning patient; once forgotten
/// and their key destroyed, it no longer does.
#[tokio::test]
async fn the_registry_holds_no_phi_in_clear_and_forgets_an_erased_patient() {
    use carepath_workflows::consult::patients::{self, ModelCache};
    let db = fresh_db().await;
    let (keys, models) = (keys(), ModelCache::default());
    // Each in a ZIP and a birth year of their own: no two share a block.
    let marked = |n: usize| {
        let mut p = person(
            &format!("qzvmarkerext{n}"),
            &format!("Qzvmarkergiven{n}"),
            &format!("Qzvmarkerfamily{n}"),
            &format!("19{}-04-1{n}", 60 + n),
            &format!("+1415555030{n}"),
            &format!("qzvmarkeremail{n}@example.com"),
            &format!("{n} Qzvmarkerstreet Road"),
        );
        p["address"]["postal_code"] = json!(format!("9460{n}"));
        p
    };
    // Two by matching (journeys), two by `carepath patients import`.
    let mut ids = Vec::new();
    for n in 0..2 {
        let who = serde_json::from_value(marked(n)).expect("a person");
        let outcome =
            patients::match_or_create(&db.pool, &keys, &models, uuid::Uuid::now_v7(), &who)
                .await
                .expect("matched");
        assert_eq!(outcome.decision, carepath_identity::Decision::Create);
        ids.push(outcome.patient_id.expect("created"));
    }
    let file = write(&[marked(2).to_string(), marked(3).to_string()]);
    let out = carepath(
        &db.url,
        &["patients", "import", file.to_str().unwrap_or_default()],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    // The returning patient: a new phone, the rest as before.
    let mut back = marked(0);
    back["phone"] = json!("+14155550399");
    let back: carepath_identity::Person = serde_json::from_value(back).expect("a person");
    let again = patients::match_or_create(&db.pool, &keys, &models, uuid::Uuid::now_v7(), &back)
        .await
        .expect("matched");
    assert_eq!(
        again.decision,
        carepath_identity::Decision::Link,
        "{again:?}"
    );
    assert_eq!(again.patient_id, Some(ids[0]));
    let imported: Value = serde_json::from_slice(&out.stdout).expect("a JSON report");
    assert_eq!(imported["created"], 2, "{imported}");

    for table in ["patients", "patient_records"] {
        let text = as_text(&db.pool, table).await;
        assert!(text.len() > 100, "{table} is empty");
        for needle in ["qzvmarker", "+1415555030", "1960-04-10", "oakland"] {
            let hex = needle
                .bytes()
                .map(|b| format!("{b:02x}"))
                .collect::<String>();
            assert!(!text.contains(needle), "{table} holds {needle:?} in clear");
            assert!(!text.contains(&hex), "{table} holds {needle:?} as bytes");
        }
    }

    let mut conn = db.pool.acquire().await.expect("a connection");
    let touched = patients::forget(&mut conn, ids[0])
        .await
        .expect("forgotten");
    assert_eq!(
        touched, 2,
        "the intake that created the patient, and the return"
    );
    let owner = format!("patient:{}", ids[0]);
    let destroyed =
        carepath_workflows::engine::store::data_keys::destroy(&db.pool, &[owner], "test")
            .await
            .expect("destroyed");
    assert_eq!(destroyed, 1);
    let found = patients::current_candidates(&db.pool, &keys, &models, &back)
        .await
        .expect("matched");
    assert!(
        found.iter().all(|c| c.patient_id != ids[0]),
        "an erased patient is still a candidate: {found:?}"
    );
    // Their records are left out of every read, not an error.
    let stored = patients::records::sample(&mut conn, &keys, 100)
        .await
        .expect("read");
    assert_eq!(stored.len(), 3, "the other patients' records");
    let other = serde_json::from_value(marked(1)).expect("a person");
    let found = patients::current_candidates(&db.pool, &keys, &models, &other)
        .await
        .expect("matched");
    assert_eq!(found.first().map(|c| c.patient_id), Some(ids[1]));
}
