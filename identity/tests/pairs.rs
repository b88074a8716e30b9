//! Hand-made pairs, one per rule: what a reader checks first.

use carepath_identity::compare::Field;
use carepath_identity::model::TermFrequencies;
use carepath_identity::{Address, Decision, Hold, Model, Person, Record, matcher};

fn person(first: &str, last: &str, dob: &str, phone: &str, email: &str, line1: &str) -> Person {
    Person {
        external_id: format!("{first}-{last}-{dob}"),
        first_name: first.into(),
        last_name: last.into(),
        date_of_birth: dob.into(),
        sex: "unknown".into(),
        email: email.into(),
        phone: phone.into(),
        address: Address {
            line1: line1.into(),
            line2: None,
            city: "Oakland".into(),
            state: "CA".into(),
            postal_code: "94607".into(),
        },
    }
}

fn decide(stored: &Person, incoming: &Person) -> (Decision, Option<Hold>) {
    let (s, i) = (Record::of(stored), Record::of(incoming));
    let model = model();
    let outcome = matcher::rank(&model, &i, [(1, &s)], false);
    let scored = &outcome.ranked[0].scored;
    let levels: Vec<String> = Field::ALL
        .iter()
        .map(|f| {
            format!(
                "{}={} ({:.1})",
                f.name(),
                scored.levels.name(*f),
                scored.field_weights[f.index()]
            )
        })
        .collect();
    println!(
        "{} → weight {:.1}: {}",
        incoming.external_id,
        scored.weight,
        levels.join(", ")
    );
    (outcome.decision, outcome.hold)
}

/// The fallback's m and u, with the name frequencies of a registry of
/// 100,000 where Kayla, Layla, Donald, Ronald, Maria and Garcia are common
/// names and Adaeze is one patient's.
fn model() -> Model {
    let mut tf = TermFrequencies {
        records: 100_000,
        ..Default::default()
    };
    for (name, n) in [
        ("kayla", 60),
        ("layla", 40),
        ("donald", 80),
        ("ronald", 90),
        ("adaeze", 1),
    ] {
        tf.given.insert(name.into(), n);
    }
    tf.given.insert("maria".into(), 700);
    tf.family.insert("garcia".into(), 800);
    Model {
        registry_records: 100_000,
        tf,
        ..Model::fallback()
    }
}

fn ada() -> Person {
    person(
        "Adaeze",
        "Okonkwo",
        "1988-03-14",
        "415-555-0100",
        "ada@example.com",
        "12 Oak Street",
    )
}

#[test]
fn a_returning_patient_with_a_typo_and_a_new_phone_is_linked() {
    let back = person(
        "Adaze",
        "Okonkwo",
        "1988-03-14",
        "(628) 555-0199",
        "ada@example.com",
        "12 Oak St",
    );
    assert_eq!(decide(&ada(), &back), (Decision::Link, None));
}

#[test]
fn a_returning_patient_with_new_contacts_at_the_same_address_is_linked() {
    let back = person(
        "Adaeze",
        "Okonkwo",
        "1988-03-14",
        "628-555-0199",
        "a.okonkwo@mail.example",
        "12 Oak Street",
    );
    assert_eq!(decide(&ada(), &back), (Decision::Link, None));
}

#[test]
fn swapped_names_and_a_day_month_swap_are_still_the_patient() {
    let back = person(
        "Okonkwo",
        "Adaeze",
        "1988-03-14",
        "415-555-0100",
        "ada@example.com",
        "12 Oak Street",
    );
    assert_eq!(decide(&ada(), &back), (Decision::Link, None));
    let stored = person(
        "Wei",
        "Lee",
        "1990-04-03",
        "415-555-0100",
        "wl@example.com",
        "9 Pine Rd",
    );
    let back = person(
        "Wei",
        "Lee",
        "1990-03-04",
        "415-555-0100",
        "wl@example.com",
        "9 Pine Road",
    );
    assert_eq!(decide(&stored, &back), (Decision::Link, None));
}

#[test]
fn twins_sharing_a_phone_and_address_are_never_linked() {
    let twin = person(
        "Chidi",
        "Okonkwo",
        "1988-03-14",
        "415-555-0100",
        "chidi@example.com",
        "12 Oak Street",
    );
    let (decision, hold) = decide(&ada(), &twin);
    assert_ne!(decision, Decision::Link);
    assert_eq!(hold, Some(Hold::Household));
}

#[test]
fn a_junior_at_his_fathers_address_is_never_linked() {
    let father = person(
        "Robert",
        "Hale",
        "1961-06-02",
        "415-555-0101",
        "rhale@example.com",
        "3 Elm Ct",
    );
    let son = person(
        "Robert",
        "Hale",
        "1991-06-02",
        "415-555-0101",
        "bobby.hale@example.com",
        "3 Elm Court",
    );
    assert_ne!(decide(&father, &son).0, Decision::Link);
}

#[test]
fn a_namesake_elsewhere_is_a_new_patient() {
    let stored = person(
        "Maria",
        "Garcia",
        "1990-05-01",
        "415-555-0100",
        "maria@example.com",
        "1 Main St",
    );
    let other = person(
        "Maria",
        "Garcia",
        "1972-11-23",
        "212-555-0101",
        "mg@other.example",
        "77 Broadway",
    );
    assert_eq!(decide(&stored, &other).0, Decision::Create);
}

#[test]
fn twins_whose_names_are_one_letter_apart_are_never_linked() {
    for (a, b) in [("Kayla", "Layla"), ("Donald", "Ronald")] {
        let one = person(
            a,
            "Radescu",
            "1990-02-11",
            "415-555-0142",
            "r1@example.com",
            "8 Vine St",
        );
        let other = person(
            b,
            "Radescu",
            "1990-02-11",
            "415-555-0142",
            "r2@example.com",
            "8 Vine St",
        );
        let (decision, hold) = decide(&one, &other);
        assert_eq!(
            (decision, hold),
            (Decision::Review, Some(Hold::Household)),
            "{a}/{b}"
        );
    }
}
