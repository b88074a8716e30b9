//! `patient_records.match_fields`: a record's compared fields as one text,
//! the form candidates are read in (from the blocking keys' indexes alone).
//! Fields are separated by U+001F in this order: patient_id, given,
//! given_code, family, family_code, date of birth (days since 2000-01-01),
//! phone, email, address_line, postal_code, sex, external_id — last, the
//! only field that may hold the separator. An empty field is a missing one.
//! `carepath.match_fields_of` (migration `20261203000001`) writes the same
//! text in SQL; `tests/patients.rs` keeps the two equal.

use carepath_identity::Record;
use chrono::NaiveDate;
use uuid::Uuid;

const SEPARATOR: char = '\u{1f}';

/// Day 0 of the date of birth.
const EPOCH: NaiveDate = match NaiveDate::from_ymd_opt(2000, 1, 1) {
    Some(d) => d,
    None => NaiveDate::MIN,
};

/// The text for a record of `patient_id`.
pub fn encode(patient_id: Uuid, external_id: Option<&str>, r: &Record) -> String {
    let days = r
        .dob
        .map(|d| (d - EPOCH).num_days().to_string())
        .unwrap_or_default();
    let sex = r.sex.map(String::from).unwrap_or_default();
    let fields: [&str; 12] = [
        &patient_id.to_string(),
        &r.given,
        &r.given_code,
        &r.family,
        &r.family_code,
        &days,
        r.phone.as_deref().unwrap_or_default(),
        r.email.as_deref().unwrap_or_default(),
        r.address_line.as_deref().unwrap_or_default(),
        r.postal_code.as_deref().unwrap_or_default(),
        &sex,
        external_id.unwrap_or_default(),
    ];
    fields.join("\u{1f}")
}

/// The patient, external id and record a text holds; `None` when it is not
/// of that shape.
pub fn decode(text: &str) -> Option<(Uuid, Option<String>, Record)> {
    let mut f = text.splitn(12, SEPARATOR);
    let mut next = || f.next();
    let opt = |s: &str| (!s.is_empty()).then(|| s.to_owned());
    let patient_id = Uuid::parse_str(next()?).ok()?;
    let given = next()?.to_owned();
    let given_code = next()?.to_owned();
    let family = next()?.to_owned();
    let family_code = next()?.to_owned();
    let dob = match next()? {
        "" => None,
        days => Some(EPOCH.checked_add_signed(chrono::TimeDelta::try_days(days.parse().ok()?)?)?),
    };
    let phone = opt(next()?);
    let email = opt(next()?);
    let address_line = opt(next()?);
    let postal_code = opt(next()?);
    let sex = next()?.chars().next();
    let external_id = opt(next()?);
    let record = Record {
        given,
        given_code,
        family,
        family_code,
        dob,
        phone,
        email,
        address_line,
        postal_code,
        sex,
    };
    Some((patient_id, external_id, record))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn what_is_encoded_decodes_to_the_same_record() {
        let mut people = carepath_identity::synth::population(4, 50);
        people[0].phone = String::new();
        people[1].date_of_birth = "1999-13-40".to_owned();
        people[2].external_id = "a\u{1f}b".to_owned();
        for p in people {
            let r = Record::of(&p);
            let id = Uuid::now_v7();
            let text = encode(id, Some(&p.external_id), &r);
            assert_eq!(decode(&text), Some((id, Some(p.external_id.clone()), r)));
        }
        assert_eq!(decode("not a record"), None);
    }
}
