//! What a reviewer of an uncertain match compares: the incoming person and
//! each candidate patient, field by field, as text a person reads, with the
//! comparison level matching gave each field. PHI: for callers that audit
//! the read.

use std::collections::HashMap;

use carepath_identity::compare::Field;
use carepath_identity::{Person, Record};
use sqlx::PgPool;
use uuid::Uuid;

use super::records;
use super::{Candidate, Keys};

/// One compared field of the incoming person and of a candidate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldPair {
    /// The field (`given_name`, …: the keys of [`Candidate::levels`]).
    pub field: &'static str,
    /// The incoming person's value; `None` when they gave none.
    pub incoming: Option<String>,
    /// The candidate's value on file; `None` when there is none.
    pub candidate: Option<String>,
    /// How the two compared (`exact`, `nickname`, …); `None` in outcomes
    /// recorded before levels were.
    pub level: Option<String>,
}

/// A candidate patient beside the incoming person.
#[derive(Debug, Clone)]
pub struct SideBySide {
    /// The candidate, as matching scored it.
    pub candidate: Candidate,
    /// Every compared field, in [`Field::ALL`]'s order.
    pub fields: Vec<FieldPair>,
}

/// A person's compared fields as display text, by [`Field::index`].
struct Shown([Option<String>; Field::ALL.len()]);

impl Shown {
    fn get(&self, field: Field) -> Option<String> {
        self.0.get(field.index()).cloned().flatten()
    }

    /// The incoming person as they wrote themselves.
    fn incoming(who: &Person) -> Shown {
        let a = &who.address;
        let place = [a.state.as_str(), a.postal_code.as_str()];
        let address = [
            a.line1.as_str(),
            a.line2.as_deref().unwrap_or(""),
            a.city.as_str(),
            &joined(&place, " ").unwrap_or_default(),
        ];
        Shown([
            text(&who.first_name),
            text(&who.last_name),
            text(&who.date_of_birth),
            joined(&address, ", "),
            text(&who.phone),
            text(&who.email),
        ])
    }

    /// A candidate as the registry holds them: the compared record's fields
    /// (normalised: what the levels describe — a patient's records may
    /// carry a nickname or a married name their first intake did not),
    /// opened in memory.
    fn on_file(record: Option<&Record>) -> Shown {
        let dob = record
            .and_then(|r| r.dob)
            .map(|d| d.format("%Y-%m-%d").to_string());
        let address = record.and_then(|r| {
            let parts = [r.address_line.as_deref(), r.postal_code.as_deref()];
            joined(&parts.map(Option::unwrap_or_default), ", ")
        });
        Shown([
            record.and_then(|r| text(&r.given)),
            record.and_then(|r| text(&r.family)),
            dob,
            address,
            record.and_then(|r| r.phone.as_deref().and_then(text)),
            record.and_then(|r| r.email.as_deref().and_then(text)),
        ])
    }
}

/// `value` trimmed, or `None` when blank.
fn text(value: &str) -> Option<String> {
    let value = value.trim();
    (!value.is_empty()).then(|| value.to_owned())
}

/// The parts that are not blank, joined by `separator`; `None` when all are.
fn joined(parts: &[&str], separator: &str) -> Option<String> {
    let parts: Vec<&str> = parts
        .iter()
        .map(|p| p.trim())
        .filter(|p| !p.is_empty())
        .collect();
    (!parts.is_empty()).then(|| parts.join(separator))
}

/// Each of `candidates` (in their order) beside `incoming`, field by field:
/// the candidate's values from the record it was scored on (or, for an
/// outcome recorded before candidates named their record, the patient's
/// newest), opened in memory; a patient erased since shows nothing.
///
/// # Errors
/// A database error; a record that does not open.
pub async fn side_by_side(
    pool: &PgPool,
    keys: &Keys,
    incoming: &Person,
    candidates: Vec<Candidate>,
) -> Result<Vec<SideBySide>, sqlx::Error> {
    let mut conn = pool.acquire().await?;
    let record_ids: Vec<i64> = candidates.iter().filter_map(|c| c.record_id).collect();
    let records: HashMap<i64, Record> = records::by_ids(&mut conn, keys, &record_ids)
        .await?
        .into_iter()
        .map(|s| (s.id, s.record))
        .collect();
    let unnamed: Vec<Uuid> = candidates
        .iter()
        .filter(|c| c.record_id.is_none())
        .map(|c| c.patient_id)
        .collect();
    let newest: HashMap<Uuid, Record> = if unnamed.is_empty() {
        HashMap::new()
    } else {
        records::newest_of(&mut conn, keys, &unnamed)
            .await?
            .into_iter()
            .map(|s| (s.patient_id, s.record))
            .collect()
    };
    let theirs = Shown::incoming(incoming);
    Ok(candidates
        .into_iter()
        .map(|candidate| {
            let record = match candidate.record_id {
                Some(id) => records.get(&id),
                None => newest.get(&candidate.patient_id),
            };
            let ours = Shown::on_file(record);
            SideBySide {
                fields: pairs(&theirs, &ours, &candidate),
                candidate,
            }
        })
        .collect())
}

/// Every field of `theirs` beside `ours`, with the candidate's level.
fn pairs(theirs: &Shown, ours: &Shown, candidate: &Candidate) -> Vec<FieldPair> {
    Field::ALL
        .iter()
        .map(|f| FieldPair {
            field: f.name(),
            incoming: theirs.get(*f),
            candidate: ours.get(*f),
            level: candidate.levels.get(f.name()).cloned(),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use carepath_identity::Address;

    fn person() -> Person {
        Person {
            external_id: "brand-1".into(),
            first_name: "María".into(),
            last_name: " González ".into(),
            date_of_birth: "1985-03-14".into(),
            sex: "female".into(),
            email: "maria.g@example.com".into(),
            phone: "+14155550001".into(),
            address: Address {
                line1: "1 Main Street".into(),
                line2: Some("Apt 4".into()),
                city: "Oakland".into(),
                state: "CA".into(),
                postal_code: "94601".into(),
            },
        }
    }

    /// The incoming side is what the person wrote, the address on one line.
    #[test]
    fn the_incoming_person_reads_as_written() {
        let shown = Shown::incoming(&person());
        assert_eq!(shown.get(Field::GivenName).as_deref(), Some("María"));
        assert_eq!(shown.get(Field::FamilyName).as_deref(), Some("González"));
        assert_eq!(
            shown.get(Field::Address).as_deref(),
            Some("1 Main Street, Apt 4, Oakland, CA 94601")
        );
    }

    /// A candidate reads from the compared record, normalised; without
    /// one, nothing.
    #[test]
    fn a_candidate_reads_from_its_record() {
        let record = Record::of(&person());
        let shown = Shown::on_file(Some(&record));
        // The compared record's name, which the level describes.
        assert_eq!(shown.get(Field::GivenName).as_deref(), Some("maria"));
        assert_eq!(shown.get(Field::Phone).as_deref(), Some("+14155550001"));
        assert_eq!(shown.get(Field::DateOfBirth).as_deref(), Some("1985-03-14"));
        assert_eq!(
            shown.get(Field::Address).as_deref(),
            Some("1 main st apt 4, 94601")
        );
        let none = Shown::on_file(None);
        assert_eq!(none.get(Field::GivenName), None);
    }
}
