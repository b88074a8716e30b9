//! carepath's patient registry: searched before any chart is created at a
//! vendor, so a returning patient is linked rather than duplicated, and two
//! people are never merged. A patient is the cluster of their records (one
//! per intake or import line); matching compares an incoming person with
//! every record its blocking keys find (`carepath_identity`), under
//! advisory locks on those keys only — matches of different people never
//! wait for each other.
//!
//! It holds no PHI in clear (issue 17): records are filed under the keyed
//! hashes of their blocking keys, and their compared fields are sealed
//! under their patient's data key ([`keys`]); a match opens only the
//! block it read, in memory. [`forget`] takes a patient out of every
//! lookup; destroying their key then makes their records unreadable.

mod convert;
pub mod keys;
pub mod match_fields;
pub mod model_store;
pub mod records;
mod registry;
pub mod review;

use std::collections::BTreeMap;

use carepath_identity::matcher::{self, Outcome};
use carepath_identity::{Decision, Model, Person, Record};
use serde::{Deserialize, Serialize};
use sqlx::{PgConnection, PgPool};
use uuid::Uuid;

/// The compared fields and their level names, and why a link-level score
/// goes to review: for those who show a match.
pub use carepath_identity::{Hold, compare::Field};
pub use convert::seal_registry;
pub use keys::{Keys, NoSearchKey};
pub use model_store::ModelCache;
pub use records::forget;
use records::{Locks, Source, Stored};
pub use registry::{clinical_id, exists, set_clinical_id};

/// A candidate patient, as a decision saw it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Candidate {
    /// The patient.
    pub patient_id: Uuid,
    /// The match weight of its best record, bits (prior included).
    pub score: f64,
    /// The match probability, 2^w/(1+2^w).
    #[serde(default)]
    pub probability: f64,
    /// That record (`patient_records.id`); absent in outcomes recorded
    /// before records existed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub record_id: Option<i64>,
    /// The brand's id on that record.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub external_id: Option<String>,
    /// Each field's comparison level (`{"given_name": "nickname", …}`).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub levels: BTreeMap<String, String>,
}

/// What matching decided; the output of the journey's `match_patient` step.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct MatchOutcome {
    /// `link`, `review` or `create` (`new` in outcomes recorded before
    /// issue 12 reads as `create`).
    pub decision: Decision,
    /// The patient linked or created; none while a review is pending.
    pub patient_id: Option<Uuid>,
    /// Candidate patients, best first.
    pub candidates: Vec<Candidate>,
    /// Why a link-level score went to review.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hold: Option<Hold>,
    /// Blocking keys whose rows were capped.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub capped: Vec<String>,
}

/// The intake's patient as matching reads them.
pub fn person_of(p: &super::input::Patient) -> Person {
    Person {
        external_id: p.external_id.clone(),
        first_name: p.first_name.clone(),
        last_name: p.last_name.clone(),
        date_of_birth: p.date_of_birth.clone(),
        sex: p.sex.as_str().to_owned(),
        email: p.email.clone(),
        phone: p.phone.clone(),
        address: carepath_identity::Address {
            line1: p.address.line1.clone(),
            line2: p.address.line2.clone(),
            city: p.address.city.clone(),
            state: p.address.state.clone(),
            postal_code: p.address.postal_code.clone(),
        },
    }
}

/// Matches `who` against the registry and links (filing the intake as a
/// record of that patient), holds for review (nothing written), or creates
/// the patient — atomically per blocking key. A re-run for the same journey
/// returns what the first run filed.
///
/// The transaction's commit does not wait for the disk: what it files is
/// made durable by the next synchronous commit (the journey's step record,
/// which follows it; WAL is flushed in order). A crash before that loses
/// both the match and the step, and the re-run matches again and files once.
///
/// # Errors
/// A database error.
pub async fn match_or_create(
    pool: &PgPool,
    keys: &Keys,
    cache: &ModelCache,
    journey_id: Uuid,
    who: &Person,
) -> Result<MatchOutcome, sqlx::Error> {
    let model = cache.get(pool, keys).await?;
    let record = Record::of(who);
    let mut tx = records::begin(pool).await?;
    let found = records::candidates(&mut tx, keys, &record, Some(journey_id), Locks::Take).await?;
    if let Some(id) = found.filed {
        let created = registry::created_by(&mut tx, journey_id).await? == Some(id);
        tx.commit().await?;
        return Ok(MatchOutcome {
            decision: if created {
                Decision::Create
            } else {
                Decision::Link
            },
            patient_id: Some(id),
            candidates: vec![],
            hold: None,
            capped: vec![],
        });
    }
    let source = Source::Journey(journey_id);
    let outcome = decide_and_file(&mut tx, keys, &model, who, &record, found, source).await?;
    tx.commit().await?;
    Ok(outcome)
}

/// Decides on the candidates found under the block locks `tx` holds, and
/// files the person.
async fn decide_and_file(
    tx: &mut PgConnection,
    keys: &Keys,
    model: &Model,
    who: &Person,
    record: &Record,
    found: records::Candidates,
    source: Source,
) -> Result<MatchOutcome, sqlx::Error> {
    let records::Candidates {
        found,
        capped,
        patient_keys,
        ..
    } = found;
    if !capped.is_empty() {
        // The kinds of key only: never their values.
        tracing::warn!(keys = ?capped, "a blocking key reached its row cap: no patient is created without a review");
    }
    let outcome = rank(model, record, &found, !capped.is_empty());
    let patient_id = match outcome.decision {
        Decision::Link => {
            let patient = outcome.candidates.first().map(|c| c.patient_id);
            if let Some(p) = patient {
                // The key read with the candidates: no second look-up.
                let key = match patient_keys.get(&p) {
                    Some(k) => Some(k.clone()),
                    None => keys::patient_key(keys, tx, p)
                        .await
                        .map_err(keys::db_error)?,
                };
                let external = Some(who.external_id.as_str());
                records::insert(tx, keys, key.as_ref(), p, external, source, record).await?;
            }
            patient
        }
        Decision::Review => None,
        Decision::Create => Some(registry::create(tx, keys, who, record, source).await?),
    };
    Ok(MatchOutcome {
        patient_id,
        capped: capped.into_iter().map(str::to_owned).collect(),
        ..outcome
    })
}

/// Scores `record` against the stored candidates and decides (no writes).
fn rank(model: &Model, record: &Record, found: &[Stored], capped: bool) -> MatchOutcome {
    let Outcome {
        decision,
        hold,
        ranked,
    } = matcher::rank(
        model,
        record,
        found.iter().map(|s| (s.patient_id, &s.record)),
        capped,
    );
    let candidates = ranked
        .into_iter()
        .filter_map(|r| {
            let stored = found.get(r.record)?;
            Some(Candidate {
                patient_id: r.patient,
                score: (r.scored.weight * 100.0).round() / 100.0,
                probability: r.scored.probability,
                record_id: Some(stored.id),
                external_id: stored.external_id.clone(),
                levels: Field::ALL
                    .iter()
                    .map(|f| (f.name().to_owned(), r.scored.levels.name(*f).to_owned()))
                    .collect(),
            })
        })
        .collect();
    MatchOutcome {
        decision,
        patient_id: None,
        candidates,
        hold,
        capped: vec![],
    }
}

/// What matching would decide for `who` now, without writing anything (a
/// review's current candidates; `carepath patients match`).
///
/// # Errors
/// A database error.
pub async fn match_only(
    conn: &mut PgConnection,
    keys: &Keys,
    model: &Model,
    who: &Person,
) -> Result<MatchOutcome, sqlx::Error> {
    let record = Record::of(who);
    let found = records::candidates(conn, keys, &record, None, Locks::None).await?;
    let capped = !found.capped.is_empty();
    Ok(MatchOutcome {
        capped: found.capped.iter().map(|k| (*k).to_owned()).collect(),
        ..rank(model, &record, &found.found, capped)
    })
}

/// The registry's candidates for `who` as of now, best first (what a
/// reviewer should see: patients created since the journey matched included).
///
/// # Errors
/// A database error.
pub async fn current_candidates(
    pool: &PgPool,
    keys: &Keys,
    cache: &ModelCache,
    who: &Person,
) -> Result<Vec<Candidate>, sqlx::Error> {
    let model = cache.get(pool, keys).await?;
    let mut conn = pool.acquire().await?;
    Ok(match_only(&mut conn, keys, &model, who).await?.candidates)
}

/// One line of an import: matched and filed like an intake, under the
/// line's external id. `None`: an earlier run already imported this id.
///
/// # Errors
/// A database error.
pub async fn import_one(
    pool: &PgPool,
    keys: &Keys,
    model: &Model,
    who: &Person,
) -> Result<Option<MatchOutcome>, sqlx::Error> {
    let record = Record::of(who);
    let mut tx = records::begin(pool).await?;
    let found = records::candidates(&mut tx, keys, &record, None, Locks::Take).await?;
    if records::imported(&mut tx, keys, &who.external_id).await? {
        return Ok(None);
    }
    let source = Source::Import;
    let outcome = decide_and_file(&mut tx, keys, model, who, &record, found, source).await?;
    tx.commit().await?;
    Ok(Some(outcome))
}

/// Creates the patient for `journey_id` (after a reviewer chose "create");
/// idempotent per journey.
///
/// # Errors
/// A database error.
pub async fn create_for(
    pool: &PgPool,
    keys: &Keys,
    journey_id: Uuid,
    who: &Person,
) -> Result<Uuid, sqlx::Error> {
    let record = Record::of(who);
    let mut tx = pool.begin().await?;
    let id = match registry::created_by(&mut tx, journey_id).await? {
        Some(id) => {
            file_once(&mut tx, keys, id, journey_id, who, &record).await?;
            id
        }
        None => {
            let source = Source::Journey(journey_id);
            registry::create(&mut tx, keys, who, &record, source).await?
        }
    };
    tx.commit().await?;
    Ok(id)
}

/// A returning patient: the intake is filed as one of their records (once
/// per journey), so their newest phone and email are on file (sealed, in
/// that record: the patient row holds no contact since issue 17).
///
/// # Errors
/// A database error.
pub async fn refresh_contact(
    pool: &PgPool,
    keys: &Keys,
    id: Uuid,
    journey_id: Uuid,
    who: &Person,
) -> Result<(), sqlx::Error> {
    let record = Record::of(who);
    let mut tx = pool.begin().await?;
    file_once(&mut tx, keys, id, journey_id, who, &record).await?;
    tx.commit().await
}

/// Files the journey's intake as a record of patient `id`, unless it was.
async fn file_once(
    tx: &mut PgConnection,
    keys: &Keys,
    id: Uuid,
    journey_id: Uuid,
    who: &Person,
    record: &Record,
) -> Result<(), sqlx::Error> {
    if records::of_journey(tx, journey_id).await?.is_none() {
        let key = keys::patient_key(keys, tx, id)
            .await
            .map_err(keys::db_error)?;
        let source = Source::Journey(journey_id);
        let external = Some(who.external_id.as_str());
        records::insert(tx, keys, key.as_ref(), id, external, source, record).await?;
    }
    Ok(())
}
