//! Patient matching before any chart is created: a returning patient with a
//! new phone or a typo in the surname is the same patient, not a new chart.
//!
//! Fields are normalised (case, accents, hyphens, nicknames, E.164 phones,
//! email tags), compared (Jaro-Winkler and Double Metaphone for names, exact
//! or day/month-transposed dates of birth) and the agreements weighted in the
//! Fellegi–Sunter manner: a sum of log-likelihood-style weights, with two
//! thresholds — link above the high one, send to review between them, create
//! below the low one.

use rphonetic::{DoubleMetaphone, Encoder};
use strsim::jaro_winkler;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Person {
    pub first_name: String,
    pub last_name: String,
    /// `YYYY-MM-DD`.
    pub date_of_birth: String,
    pub phone: Option<String>,
    pub email: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    Link,
    Review,
    New,
}

/// Score at or above which two records are the same patient: name and date of
/// birth (12 at best) are not enough alone — namesakes share birthdays — so a
/// link also needs an agreeing phone or email.
pub const LINK_AT: f64 = 13.0;
/// Score at or above which a person must decide (a namesake with the same
/// birthday, twins sharing a phone).
pub const REVIEW_AT: f64 = 7.0;

pub fn decide(score: f64) -> Decision {
    if score >= LINK_AT {
        Decision::Link
    } else if score >= REVIEW_AT {
        Decision::Review
    } else {
        Decision::New
    }
}

/// The agreement weight of two records: higher is more alike.
pub fn score(a: &Person, b: &Person) -> f64 {
    last_name_weight(&a.last_name, &b.last_name)
        + first_name_weight(&a.first_name, &b.first_name)
        + dob_weight(&a.date_of_birth, &b.date_of_birth)
        + contact_weight(
            a.phone.as_deref().and_then(phone),
            b.phone.as_deref().and_then(phone),
            3.0,
        )
        + contact_weight(
            a.email.as_deref().map(email),
            b.email.as_deref().map(email),
            4.0,
        )
}

/// Lowercase ASCII letters, hyphens and spaces as separators: `"Zoë O'Brien-Smith"`
/// → `["zoe", "obrien", "smith"]`.
pub fn name_parts(name: &str) -> Vec<String> {
    deunicode::deunicode(name)
        .to_lowercase()
        .split(|c: char| c == '-' || c.is_whitespace())
        .map(|p| {
            p.chars()
                .filter(char::is_ascii_alphabetic)
                .collect::<String>()
        })
        .filter(|p| !p.is_empty())
        .collect()
}

fn last_name_weight(a: &str, b: &str) -> f64 {
    let (a, b) = (name_parts(a), name_parts(b));
    if a.is_empty() || b.is_empty() {
        return 0.0;
    }
    let (whole_a, whole_b) = (a.join(""), b.join(""));
    let best = a
        .iter()
        .chain(std::iter::once(&whole_a))
        .flat_map(|x| {
            b.iter()
                .chain(std::iter::once(&whole_b))
                .map(move |y| jaro_winkler(x, y))
        })
        .fold(0.0, f64::max);
    if best >= 0.92 {
        4.0
    } else if sounds_alike(&whole_a, &whole_b) {
        2.0
    } else {
        -3.0
    }
}

fn first_name_weight(a: &str, b: &str) -> f64 {
    let (a, b) = (name_parts(a), name_parts(b));
    let (Some(a), Some(b)) = (a.first(), b.first()) else {
        return 0.0;
    };
    let (a, b) = (canonical_given_name(a), canonical_given_name(b));
    if a == b {
        3.0
    } else if jaro_winkler(a, b) >= 0.9 {
        2.0
    } else if sounds_alike(a, b) {
        1.0
    } else {
        -2.0
    }
}

fn sounds_alike(a: &str, b: &str) -> bool {
    let dm = DoubleMetaphone::new(None);
    let (ea, eb) = (dm.encode(a), dm.encode(b));
    !ea.is_empty() && ea == eb
}

fn dob_weight(a: &str, b: &str) -> f64 {
    if a == b {
        return 5.0;
    }
    let split = |d: &str| -> Option<(String, String, String)> {
        let mut it = d.split('-');
        Some((
            it.next()?.to_owned(),
            it.next()?.to_owned(),
            it.next()?.to_owned(),
        ))
    };
    match (split(a), split(b)) {
        // Day and month swapped (03-04 for 04-03): a common slip on forms.
        (Some((ya, ma, da)), Some((yb, mb, db))) if ya == yb && ma == db && da == mb => 3.0,
        _ => -6.0,
    }
}

/// Agreement on a contact detail is strong evidence; disagreement is weak,
/// since people change phones and addresses.
fn contact_weight(a: Option<String>, b: Option<String>, agree: f64) -> f64 {
    match (a, b) {
        (Some(a), Some(b)) if a == b => agree,
        _ => 0.0,
    }
}

/// A US-default E.164 form of a phone number, or `None` if it is not one.
pub fn phone(raw: &str) -> Option<String> {
    let digits: String = raw.chars().filter(char::is_ascii_digit).collect();
    match (raw.trim_start().starts_with('+'), digits.len()) {
        (true, 8..=15) => Some(format!("+{digits}")),
        (false, 10) => Some(format!("+1{digits}")),
        (false, 11) if digits.starts_with('1') => Some(format!("+{digits}")),
        _ => None,
    }
}

/// Lowercase, without a `+tag` in the local part.
pub fn email(raw: &str) -> String {
    let lower = raw.trim().to_lowercase();
    match lower.split_once('@') {
        Some((local, domain)) => {
            let local = local.split('+').next().unwrap_or(local);
            format!("{local}@{domain}")
        }
        None => lower,
    }
}

/// Common English nicknames, mapped to the given name they stand for.
const NICKNAMES: &[(&str, &str)] = &[
    ("bob", "robert"),
    ("bobby", "robert"),
    ("rob", "robert"),
    ("bill", "william"),
    ("billy", "william"),
    ("will", "william"),
    ("liz", "elizabeth"),
    ("beth", "elizabeth"),
    ("betty", "elizabeth"),
    ("lizzie", "elizabeth"),
    ("kate", "katherine"),
    ("katie", "katherine"),
    ("kathy", "katherine"),
    ("jim", "james"),
    ("jimmy", "james"),
    ("mike", "michael"),
    ("tom", "thomas"),
    ("tommy", "thomas"),
    ("dave", "david"),
    ("jen", "jennifer"),
    ("jenny", "jennifer"),
    ("chris", "christopher"),
    ("alex", "alexander"),
    ("sam", "samuel"),
    ("dan", "daniel"),
    ("danny", "daniel"),
    ("matt", "matthew"),
    ("andy", "andrew"),
    ("tony", "anthony"),
    ("joe", "joseph"),
    ("nick", "nicholas"),
    ("steve", "steven"),
    ("sue", "susan"),
    ("pat", "patricia"),
    ("peggy", "margaret"),
    ("maggie", "margaret"),
    ("meg", "margaret"),
    ("becky", "rebecca"),
    ("vicky", "victoria"),
    ("ted", "edward"),
    ("ed", "edward"),
    ("rick", "richard"),
    ("dick", "richard"),
    ("greg", "gregory"),
    ("jon", "jonathan"),
    ("abby", "abigail"),
    ("mandy", "amanda"),
    ("cathy", "catherine"),
];

fn canonical_given_name(name: &str) -> &str {
    NICKNAMES
        .iter()
        .find(|(nick, _)| *nick == name)
        .map_or(name, |(_, full)| full)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn person(first: &str, last: &str, dob: &str, phone: &str, email: &str) -> Person {
        Person {
            first_name: first.into(),
            last_name: last.into(),
            date_of_birth: dob.into(),
            phone: Some(phone.into()),
            email: Some(email.into()),
        }
    }

    #[test]
    fn normalisation() {
        assert_eq!(
            name_parts("Zoë O'Brien-Smith"),
            vec!["zoe", "obrien", "smith"]
        );
        assert_eq!(phone("(415) 555-0100").as_deref(), Some("+14155550100"));
        assert_eq!(phone("+44 20 7946 0958").as_deref(), Some("+442079460958"));
        assert_eq!(phone("555-0100"), None);
        assert_eq!(email(" Ann.Lee+rx@Example.COM "), "ann.lee@example.com");
    }

    #[test]
    fn a_returning_patient_with_a_new_phone_and_a_surname_typo_is_linked() {
        let stored = person(
            "Katherine",
            "Johnson",
            "1988-03-14",
            "415-555-0100",
            "kjohnson@example.com",
        );
        let back = person(
            "Kate",
            "Jonson",
            "1988-03-14",
            "+1 628 555 0199",
            "kjohnson@example.com",
        );
        assert_eq!(decide(score(&stored, &back)), Decision::Link);
    }

    #[test]
    fn someone_who_only_shares_a_name_and_no_detail_is_reviewed_or_new() {
        let stored = person(
            "Maria",
            "Garcia",
            "1990-05-01",
            "415-555-0100",
            "maria@example.com",
        );
        let namesake = person(
            "Maria",
            "Garcia",
            "1990-05-01",
            "212-555-0101",
            "mg@other.example",
        );
        assert_eq!(decide(score(&stored, &namesake)), Decision::Review);
        let stranger = person(
            "Maria",
            "Garcia",
            "1972-11-23",
            "212-555-0101",
            "mg@other.example",
        );
        assert_eq!(decide(score(&stored, &stranger)), Decision::New);
    }

    /// A labelled set of pairs, generated: duplicates with the slips real
    /// intakes make, and distinct people who share some fields.
    fn labelled_pairs() -> Vec<(Person, Person, bool)> {
        let firsts = [
            "Katherine",
            "Robert",
            "Elizabeth",
            "Michael",
            "Jennifer",
            "Thomas",
            "Maria",
            "David",
            "Susan",
            "James",
            "Aisha",
            "Wei",
        ];
        let lasts = [
            "Johnson", "Garcia", "Nguyen", "Smith", "O'Brien", "Martinez", "Kowalski", "Okafor",
            "Brown", "Lee", "Fischer", "Haddad",
        ];
        let mut pairs = Vec::new();
        for (i, first) in firsts.iter().enumerate() {
            for (j, last) in lasts.iter().enumerate() {
                let dob = format!(
                    "19{:02}-{:02}-{:02}",
                    60 + (i * 3 + j) % 40,
                    1 + (i + j) % 12,
                    13 + (i * j) % 15
                );
                let phone = format!("415-555-{:04}", i * 100 + j);
                let email = format!("{}.{}@example.com", first.to_lowercase(), j);
                let base = person(first, last, &dob, &phone, &email);
                let nick = NICKNAMES
                    .iter()
                    .find(|(_, full)| full.eq_ignore_ascii_case(first))
                    .map_or(*first, |(n, _)| n);
                let typo = {
                    let mut l: Vec<char> = last.chars().collect();
                    let k = l.len() / 2;
                    l.swap(k - 1, k);
                    l.into_iter().collect::<String>()
                };
                let parts: Vec<&str> = dob.split('-').collect();
                let swapped = format!(
                    "{}-{}-{}",
                    parts[0],
                    parts[2].get(..2).unwrap_or("01"),
                    parts[1]
                );
                let variants = [
                    person(first, &typo, &dob, &phone, &email),
                    person(nick, last, &dob, "628-555-0000", &email),
                    person(first, last, &dob, "917-555-1234", "new@example.com"),
                    person(first, &format!("{last}-Reyes"), &dob, &phone, &email),
                    person(
                        &first.to_uppercase(),
                        &last.to_lowercase(),
                        &dob,
                        &phone,
                        &email.to_uppercase(),
                    ),
                    person(nick, &typo, &dob, &phone, &email),
                ];
                for v in variants {
                    pairs.push((base.clone(), v, true));
                }
                // Day/month swaps only exist where the day is a valid month.
                if parts[2].parse::<u32>().is_ok_and(|d| d <= 12) {
                    pairs.push((
                        base.clone(),
                        person(first, last, &swapped, &phone, &email),
                        true,
                    ));
                }
                // Different people: same name and another birthday; same
                // birthday and another name; a sibling at the same address.
                let other = lasts[(j + 1) % lasts.len()];
                pairs.push((
                    base.clone(),
                    person(first, last, "1955-07-04", "212-555-9999", "x@other.example"),
                    false,
                ));
                pairs.push((
                    base.clone(),
                    person(
                        firsts[(i + 1) % firsts.len()],
                        other,
                        &dob,
                        "212-555-9998",
                        "y@other.example",
                    ),
                    false,
                ));
                pairs.push((
                    base.clone(),
                    person(
                        firsts[(i + 3) % firsts.len()],
                        last,
                        "2001-02-03",
                        &phone,
                        "z@other.example",
                    ),
                    false,
                ));
            }
        }
        pairs
    }

    #[test]
    fn precision_and_recall_on_a_labelled_set() {
        let pairs = labelled_pairs();
        let (mut tp, mut fp, mut fn_, mut review_dup, mut review_distinct) = (0, 0, 0, 0, 0);
        for (a, b, same) in &pairs {
            match (decide(score(a, b)), same) {
                (Decision::Link, true) => tp += 1,
                (Decision::Link, false) => fp += 1,
                (Decision::Review, true) => review_dup += 1,
                (Decision::Review, false) => review_distinct += 1,
                (Decision::New, true) => fn_ += 1,
                (Decision::New, false) => {}
            }
        }
        let dups = pairs.iter().filter(|p| p.2).count();
        let precision = f64::from(tp) / f64::from(tp + fp).max(1.0);
        let recall = f64::from(tp) / dups as f64;
        println!(
            "{} pairs ({dups} duplicates): link precision {precision:.3}, recall {recall:.3}; \
             duplicates sent to review {review_dup}, created anew {fn_}; distinct people sent to review {review_distinct}",
            pairs.len()
        );
        assert!(precision >= 0.99, "precision {precision:.3}");
        // Duplicates that changed both phone and email go to review by design.
        assert!(recall >= 0.80, "recall {recall:.3}");
        assert_eq!(fn_, 0, "a duplicate would have become a new chart");
    }
}
