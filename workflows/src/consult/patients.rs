//! carepath's patient registry: searched before any chart is created at a
//! vendor, so a returning patient is linked rather than duplicated.

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use sqlx::{PgConnection, PgPool};
use uuid::Uuid;

use super::matching::{self, Decision, Person};

/// How many candidates a match reports (best first).
const REPORTED: usize = 5;

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Candidate {
    pub patient_id: Uuid,
    pub score: f64,
}

/// What matching decided; the output of the journey's `match_patient` step.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct MatchOutcome {
    /// `link`, `review` or `new`.
    pub decision: String,
    /// The patient linked or created; none while a review is pending.
    pub patient_id: Option<Uuid>,
    pub candidates: Vec<Candidate>,
}

#[derive(sqlx::FromRow)]
struct Row {
    id: Uuid,
    first_name: String,
    last_name: String,
    date_of_birth: NaiveDate,
    phone: Option<String>,
    email: Option<String>,
}

/// The intake's patient as matching compares them.
pub fn person_of(p: &super::input::Patient) -> Person {
    person(
        &p.first_name,
        &p.last_name,
        &p.date_of_birth,
        &p.phone,
        &p.email,
    )
}

/// The person as matching compares them: phone and email normalised.
pub fn person(first: &str, last: &str, dob: &str, phone: &str, email: &str) -> Person {
    Person {
        first_name: first.to_owned(),
        last_name: last.to_owned(),
        date_of_birth: dob.to_owned(),
        phone: matching::phone(phone),
        email: Some(matching::email(email)),
    }
}

/// Matches `who` against the registry and, when nobody is close, creates the
/// patient — under one lock, so two journeys for the same new patient cannot
/// both create one. A re-run for the same journey returns what it created.
pub async fn match_or_create(
    pool: &PgPool,
    journey_id: Uuid,
    who: &Person,
) -> Result<MatchOutcome, sqlx::Error> {
    let mut tx = pool.begin().await?;
    sqlx::query("SELECT pg_advisory_xact_lock(hashtext('carepath.patients'))")
        .execute(&mut *tx)
        .await?;
    if let Some(id) = created_by(&mut tx, journey_id).await? {
        tx.commit().await?;
        return Ok(MatchOutcome {
            decision: "new".into(),
            patient_id: Some(id),
            candidates: vec![],
        });
    }
    let mut candidates = candidates(&mut tx, who).await?;
    candidates.truncate(REPORTED);
    let best = candidates.first().cloned();
    let outcome = match best.map(|c| (matching::decide(c.score), c.patient_id)) {
        Some((Decision::Link, id)) => MatchOutcome {
            decision: "link".into(),
            patient_id: Some(id),
            candidates,
        },
        Some((Decision::Review, _)) => MatchOutcome {
            decision: "review".into(),
            patient_id: None,
            candidates,
        },
        _ => MatchOutcome {
            decision: "new".into(),
            patient_id: Some(create(&mut tx, journey_id, who).await?),
            candidates,
        },
    };
    tx.commit().await?;
    Ok(outcome)
}

/// Creates the patient for `journey_id` (after a reviewer chose "new");
/// idempotent per journey.
pub async fn create_for(
    pool: &PgPool,
    journey_id: Uuid,
    who: &Person,
) -> Result<Uuid, sqlx::Error> {
    let mut tx = pool.begin().await?;
    let id = match created_by(&mut tx, journey_id).await? {
        Some(id) => id,
        None => create(&mut tx, journey_id, who).await?,
    };
    tx.commit().await?;
    Ok(id)
}

pub async fn exists(pool: &PgPool, id: Uuid) -> Result<bool, sqlx::Error> {
    sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM carepath.patients WHERE id = $1)")
        .bind(id)
        .fetch_one(pool)
        .await
}

/// A returning patient's newest phone and email become the ones on file.
pub async fn refresh_contact(pool: &PgPool, id: Uuid, who: &Person) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE carepath.patients SET phone = coalesce($2, phone), email = coalesce($3, email),
                updated_at = now()
          WHERE id = $1",
    )
    .bind(id)
    .bind(&who.phone)
    .bind(&who.email)
    .execute(pool)
    .await?;
    Ok(())
}

pub async fn clinical_id(pool: &PgPool, id: Uuid) -> Result<Option<String>, sqlx::Error> {
    sqlx::query_scalar("SELECT clinical_patient_id FROM carepath.patients WHERE id = $1")
        .bind(id)
        .fetch_one(pool)
        .await
}

/// Records the clinical network's id; the first one recorded wins and is returned.
pub async fn set_clinical_id(
    pool: &PgPool,
    id: Uuid,
    clinical: &str,
) -> Result<String, sqlx::Error> {
    sqlx::query_scalar(
        "UPDATE carepath.patients SET clinical_patient_id = coalesce(clinical_patient_id, $2),
                updated_at = now()
          WHERE id = $1 RETURNING clinical_patient_id",
    )
    .bind(id)
    .bind(clinical)
    .fetch_one(pool)
    .await
}

async fn created_by(tx: &mut PgConnection, journey_id: Uuid) -> Result<Option<Uuid>, sqlx::Error> {
    sqlx::query_scalar("SELECT id FROM carepath.patients WHERE created_by_journey = $1")
        .bind(journey_id)
        .fetch_optional(tx)
        .await
}

async fn create(
    tx: &mut PgConnection,
    journey_id: Uuid,
    who: &Person,
) -> Result<Uuid, sqlx::Error> {
    let dob = parse_date(&who.date_of_birth);
    sqlx::query_scalar(
        "INSERT INTO carepath.patients
             (id, first_name, last_name, date_of_birth, phone, email, created_by_journey)
         VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id",
    )
    .bind(Uuid::now_v7())
    .bind(&who.first_name)
    .bind(&who.last_name)
    .bind(dob)
    .bind(&who.phone)
    .bind(&who.email)
    .bind(journey_id)
    .fetch_one(tx)
    .await
}

/// The registry's candidates for `who` as of now, best first (what a
/// reviewer should see: patients created since the journey matched included).
pub async fn current_candidates(
    pool: &PgPool,
    who: &Person,
) -> Result<Vec<Candidate>, sqlx::Error> {
    let mut conn = pool.acquire().await?;
    let mut found = candidates(&mut conn, who).await?;
    found.truncate(REPORTED);
    Ok(found)
}

/// Everyone sharing a date of birth (or its day/month transposition), a
/// phone or an email with `who`, scored, best first.
async fn candidates(tx: &mut PgConnection, who: &Person) -> Result<Vec<Candidate>, sqlx::Error> {
    let dob = parse_date(&who.date_of_birth);
    let swapped = dob.and_then(|d| {
        use chrono::Datelike;
        NaiveDate::from_ymd_opt(d.year(), d.day(), d.month())
    });
    let rows: Vec<Row> = sqlx::query_as(
        "SELECT id, first_name, last_name, date_of_birth, phone, email FROM carepath.patients
          WHERE date_of_birth = $1 OR date_of_birth = $2 OR phone = $3 OR email = $4
          -- A shared phone or email first: a common birthday must not crowd
          -- out the returning patient.
          ORDER BY (phone IS NOT DISTINCT FROM $3 OR email IS NOT DISTINCT FROM $4) DESC
          LIMIT 200",
    )
    .bind(dob)
    .bind(swapped)
    .bind(&who.phone)
    .bind(&who.email)
    .fetch_all(tx)
    .await?;
    let mut scored: Vec<Candidate> = rows
        .into_iter()
        .map(|r| {
            let other = Person {
                first_name: r.first_name,
                last_name: r.last_name,
                date_of_birth: r.date_of_birth.format("%Y-%m-%d").to_string(),
                phone: r.phone,
                email: r.email,
            };
            Candidate {
                patient_id: r.id,
                score: matching::score(who, &other),
            }
        })
        .collect();
    scored.sort_by(|a, b| b.score.total_cmp(&a.score));
    Ok(scored)
}

fn parse_date(text: &str) -> Option<NaiveDate> {
    NaiveDate::parse_from_str(text, "%Y-%m-%d").ok()
}
