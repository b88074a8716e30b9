//! Made-up patients and answers for the demo (no real person's data).

use serde_json::{Value, json};

const FIRST: [&str; 12] = [
    "Avery", "Jordan", "Riley", "Casey", "Morgan", "Quinn", "Harper", "Rowan", "Elena", "Marcus",
    "Priya", "Tomás",
];
const LAST: [&str; 12] = [
    "Okafor",
    "Lindqvist",
    "Moreau",
    "Tanaka",
    "Brennan",
    "Castillo",
    "Novak",
    "Haddad",
    "Kowalski",
    "Ferreira",
    "Abernathy",
    "Nguyen",
];
const STATES: [&str; 6] = ["CA", "NY", "TX", "FL", "WA", "IL"];

/// Birthdays: years 1950–1999, any month, days 13–28 — 9,600 dates, none
/// of which reads as another with day and month swapped (a typo matching
/// weighs), so that two made-up people never look like one.
const BIRTHDAYS: usize = 50 * 12 * 16;

/// A distinct adult for `i`: their name, birthday, ZIP code, phone and email
/// are nobody else's. 7,919 shares no factor with 9,600 (2⁷·3·5²), so the
/// first 9,600 patients each get their own birthday.
pub fn new(i: usize) -> Value {
    let n = (i * 7_919) % BIRTHDAYS;
    let dob = chrono::NaiveDate::from_ymd_opt(
        1950 + (n % 50) as i32,
        1 + ((n / 50) % 12) as u32,
        13 + (n / 600) as u32,
    )
    .unwrap_or_default();
    json!({
        "external_id": format!("demo-patient-{i}"),
        "first_name": FIRST[i % FIRST.len()],
        "last_name": format!("{}-{}", LAST[(i / FIRST.len()) % LAST.len()], LAST[i % 7]),
        "date_of_birth": dob.format("%Y-%m-%d").to_string(),
        "sex": if i.is_multiple_of(2) { "female" } else { "male" },
        "email": format!("demo.patient.{i}@example.com"),
        "phone": format!("+1415555{:04}", i % 10_000),
        "address": { "line1": format!("{} Market St", 100 + i), "city": "Springfield",
                     "state": STATES[i % STATES.len()], "postal_code": postal_code(i) }
    })
}

/// A ZIP code of patient `i`'s own: the names repeat every 1,008 patients,
/// and two people who share a name and a ZIP code look like one person to
/// matching (a review an operator must decide), not two. 7,919 shares no
/// factor with 89,000, so the first 89,000 patients each get their own.
fn postal_code(i: usize) -> String {
    format!("{:05}", 10_001 + (i * 7_919) % 89_000)
}

/// Patient `i` again, with a new phone number.
pub fn returning(i: usize) -> Value {
    let mut p = new(i);
    p["phone"] = json!(format!("+1312555{:04}", i % 10_000));
    p["external_id"] = json!(format!("demo-patient-{i}-again"));
    p
}

pub fn questionnaire(i: usize) -> Value {
    if i.is_multiple_of(2) {
        json!({ "id": "weight_management", "version": 2, "answers": {
            "height_cm": 160 + (i % 30), "weight_kg": 80 + (i % 40),
            "goal": "lose_weight", "diabetes": false, "pregnant": false } })
    } else {
        json!({ "id": "dermatology", "version": 2, "answers": {
            "concern": "acne", "duration_months": 1 + (i % 24),
            "tried_treatments": false, "photo_id_uploaded": true } })
    }
}

#[cfg(test)]
mod tests {
    /// Every demo size (up to 5,000 journeys) gets adults with birthdays of
    /// their own (the generator once made patients born after 2008 at 400).
    #[test]
    fn five_thousand_patients_are_adults_with_their_own_birthdays() {
        let mut seen = std::collections::HashSet::new();
        for i in 0..5_000 {
            let dob = super::new(i)["date_of_birth"]
                .as_str()
                .unwrap_or("")
                .to_owned();
            assert!(
                ("1950-01-01".."2000-01-01").contains(&dob.as_str()),
                "{i}: {dob}"
            );
            assert!(seen.insert(dob.clone()), "{i}: {dob} repeats");
        }
    }
}
