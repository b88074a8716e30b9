//! The registry population: people generated in households (singles,
//! couples, families with adult children, twins, a "Jr" son) who share an
//! address and sometimes a phone or an email.

use chrono::{Datelike, Days, NaiveDate};
use rand::Rng;
use rand::rngs::StdRng;

use super::names::LOOKALIKE_TWINS;
use super::world::{MAX_DOB, World, dob_string};
use crate::person::Person;

/// Share of households of one person.
const SINGLE: f64 = 0.45;
/// Share of couples without (adult) children at home.
const COUPLE: f64 = 0.28;
/// Share of two-parent families (the rest are single-parent families).
const FAMILY: f64 = 0.19;
/// Share of households with children that have a twin pair.
const TWINS: f64 = 0.02;
/// Share of families with a father that have a "Jr" son (~1% of households).
const JUNIOR: f64 = 0.05;
/// Share of multi-person households that share one phone.
const SHARED_PHONE: f64 = 0.30;
/// Share of multi-person households that share one email.
const SHARED_EMAIL: f64 = 0.10;
/// Children of one family are born at least this many days apart (twins aside).
const SIBLING_GAP: i64 = 300;

/// A registry population and which household each person is in.
pub(super) struct Population {
    /// The people, `reg-000001` on.
    pub(super) people: Vec<Person>,
    /// `household[i]` is the household of `people[i]` (read by the tests).
    #[cfg_attr(not(test), allow(dead_code))]
    pub(super) household: Vec<u32>,
}

/// A household member before the household's address and contacts.
#[derive(Clone)]
pub(super) struct Draft {
    pub(super) first: String,
    pub(super) last: String,
    pub(super) sex: &'static str,
    pub(super) dob: NaiveDate,
}

/// `size` people in households; the last household may be cut short.
pub(super) fn populate(world: &mut World, rng: &mut StdRng, size: usize) -> Population {
    let width = size.to_string().len().max(6);
    let mut people = Vec::with_capacity(size);
    let mut household = Vec::with_capacity(size);
    world.reserve(size);
    let mut id = 0u32;
    while people.len() < size {
        for mut person in new_household(world, rng) {
            if people.len() == size {
                break;
            }
            person.external_id = format!("reg-{:0width$}", people.len() + 1);
            people.push(person);
            household.push(id);
        }
        id += 1;
    }
    Population { people, household }
}

/// A household of people with empty external ids.
pub(super) fn new_household(world: &mut World, rng: &mut StdRng) -> Vec<Person> {
    let x = rng.random::<f64>();
    let drafts = if x < SINGLE {
        vec![single(world, rng)]
    } else if x < SINGLE + COUPLE {
        let a = adult(world, rng, 18, 90);
        let b = partner(world, rng, &a);
        vec![a, b]
    } else {
        family(world, rng, x < SINGLE + COUPLE + FAMILY)
    };
    dress(world, rng, drafts)
}

/// The sex of someone with a female (or male) given name: mostly that,
/// sometimes "other" or "unknown".
pub(super) fn sex_of(rng: &mut StdRng, female: bool) -> &'static str {
    match rng.random_range(0..200) {
        0 => "other",
        1 => "unknown",
        _ if female => "female",
        _ => "male",
    }
}

/// Whether a sex is read as female for picking given names ("other" and
/// "unknown" are drawn either way).
pub(super) fn reads_female(rng: &mut StdRng, sex: &str) -> bool {
    match sex {
        "female" => true,
        "male" => false,
        _ => rng.random_bool(0.5),
    }
}

fn adult(world: &World, rng: &mut StdRng, lo: u32, hi: u32) -> Draft {
    let female = rng.random_bool(0.5);
    Draft {
        first: world.given(rng, female),
        last: world.surname(rng),
        sex: sex_of(rng, female),
        dob: world.dob(rng, lo, hi),
    }
}

fn single(world: &World, rng: &mut StdRng) -> Draft {
    let mut a = adult(world, rng, 18, 90);
    if rng.random_bool(0.03) {
        a.last = format!("{}-{}", a.last, world.common_surname(rng));
    }
    a
}

/// A given name not (case-insensitively) among `taken`.
pub(super) fn distinct_given(
    world: &World,
    rng: &mut StdRng,
    female: bool,
    taken: &[&str],
) -> String {
    let mut name = world.given(rng, female);
    for _ in 0..20 {
        if !taken.iter().any(|t| t.eq_ignore_ascii_case(&name)) {
            break;
        }
        name = world.given(rng, female);
    }
    name
}

/// A spouse for `a`: mostly of the other sex, a few years apart, often
/// with the same surname.
fn partner(world: &World, rng: &mut StdRng, a: &Draft) -> Draft {
    let a_female = a.sex == "female" || (a.sex != "male" && rng.random_bool(0.5));
    let female = if rng.random_bool(0.95) {
        !a_female
    } else {
        a_female
    };
    let first = distinct_given(world, rng, female, &[&a.first]);
    let last = match rng.random_range(0..100) {
        0..65 => a.last.clone(),
        65..92 => world.surname(rng),
        _ => format!("{}-{}", world.common_surname(rng), a.last),
    };
    let years = rng.random_range(0..=6) + rng.random_range(0..=4);
    let days = years * 365 + rng.random_range(0..365);
    let plus = a
        .dob
        .checked_add_days(Days::new(days))
        .filter(|d| adult_dob(*d));
    let minus = a
        .dob
        .checked_sub_days(Days::new(days))
        .filter(|d| adult_dob(*d));
    let dob = if rng.random_bool(0.5) {
        plus.or(minus)
    } else {
        minus.or(plus)
    };
    Draft {
        first,
        last,
        sex: sex_of(rng, female),
        dob: dob.unwrap_or(a.dob),
    }
}

/// Whether a date of birth is of someone 18–90 on the reference day.
pub(super) fn adult_dob(d: NaiveDate) -> bool {
    (super::world::MIN_DOB..=MAX_DOB).contains(&d)
}

/// A family: one or two parents (the first at least 42) and 1–3 adult
/// children; sometimes twins, sometimes a "Jr".
fn family(world: &World, rng: &mut StdRng, two_parents: bool) -> Vec<Draft> {
    let a = adult(world, rng, 42, 90);
    let mut members = vec![a.clone()];
    if two_parents {
        members.push(partner(world, rng, &a));
    }
    let youngest_parent = members.iter().map(|m| m.dob).max().unwrap_or(a.dob);
    let lo = youngest_parent + Days::new(20 * 365 + 5);
    let hi = (youngest_parent + Days::new(42 * 365)).min(MAX_DOB);
    if lo >= hi {
        return members;
    }
    let surname = match members.get(1) {
        Some(b) if b.last != a.last && rng.random_bool(0.15) => format!("{}-{}", a.last, b.last),
        Some(b) if b.last != a.last && rng.random_bool(0.2) => b.last.clone(),
        _ => a.last.clone(),
    };
    let parents = members.len();
    let count = match rng.random_range(0..20) {
        0..10 => 1,
        10..17 => 2,
        _ => 3,
    };
    for _ in 0..count {
        if let Some(dob) = sibling_dob(rng, &members[parents..], lo, hi) {
            let female = rng.random_bool(0.5);
            let taken: Vec<&str> = members.iter().map(|m| m.first.as_str()).collect();
            let first = distinct_given(world, rng, female, &taken);
            let sex = sex_of(rng, female);
            let last = surname.clone();
            members.push(Draft {
                first,
                last,
                sex,
                dob,
            });
        }
    }
    if members.len() > parents && rng.random_bool(TWINS) {
        add_twin(world, rng, &mut members, parents);
    }
    if rng.random_bool(JUNIOR) {
        add_junior(rng, &mut members, parents);
    }
    members
}

/// Adds a son with his father's given and family name, born 20–40 years
/// after him, if the family has a father (among the first `parents`).
fn add_junior(rng: &mut StdRng, members: &mut Vec<Draft>, parents: usize) {
    let Some(father) = members[..parents].iter().find(|m| m.sex == "male") else {
        return;
    };
    let lo = father.dob + Days::new(20 * 365 + 5);
    let hi = (father.dob + Days::new(40 * 365)).min(MAX_DOB);
    if lo >= hi {
        return;
    }
    let (first, last) = (father.first.clone(), father.last.clone());
    if let Some(dob) = sibling_dob(rng, &members[parents..], lo, hi) {
        let sex = "male";
        members.push(Draft {
            first,
            last,
            sex,
            dob,
        });
    }
}

/// A date in `lo..hi` at least [`SIBLING_GAP`] days from each sibling's.
fn sibling_dob(
    rng: &mut StdRng,
    siblings: &[Draft],
    lo: NaiveDate,
    hi: NaiveDate,
) -> Option<NaiveDate> {
    let span = (hi - lo).num_days().max(1) as u64;
    (0..10)
        .map(|_| lo + Days::new(rng.random_range(0..span)))
        .find(|d| {
            siblings
                .iter()
                .all(|s| (s.dob - *d).num_days().abs() >= SIBLING_GAP)
        })
}

/// Makes a twin of a random child (index ≥ `first_child`): same date of
/// birth and surname, another given name, sometimes a look-alike one.
fn add_twin(world: &World, rng: &mut StdRng, members: &mut Vec<Draft>, first_child: usize) {
    let c = rng.random_range(first_child..members.len());
    let mut twin = members[c].clone();
    let taken: Vec<String> = members.iter().map(|m| m.first.to_lowercase()).collect();
    let free = |n: &str| !taken.contains(&n.to_lowercase());
    if rng.random_bool(0.4) {
        let (a, sa, b, sb) = LOOKALIKE_TWINS[rng.random_range(0..LOOKALIKE_TWINS.len())];
        if free(a) && free(b) {
            members[c].first = a.to_string();
            members[c].sex = sa;
            twin.first = b.to_string();
            twin.sex = sb;
            members.push(twin);
            return;
        }
    }
    let female = rng.random_bool(0.5);
    let original = members[c].first.clone();
    for _ in 0..20 {
        let name = world.given(rng, female);
        if free(&name) && !super::variants::related_names(&name, &original) {
            twin.first = name;
            twin.sex = sex_of(rng, female);
            members.push(twin);
            return;
        }
    }
}

/// Gives drafts an address, phones and emails: the address always shared,
/// a phone or an email sometimes.
pub(super) fn dress(world: &mut World, rng: &mut StdRng, drafts: Vec<Draft>) -> Vec<Person> {
    let (address, state) = world.address(rng, None, None);
    let many = drafts.len() > 1;
    let phone = (many && rng.random_bool(SHARED_PHONE)).then(|| world.phone(rng, state));
    let email = (many && rng.random_bool(SHARED_EMAIL)).then(|| {
        let firsts: Vec<&str> = drafts.iter().map(|d| d.first.as_str()).collect();
        let last = drafts.first().map_or("", |d| d.last.as_str());
        world.family_email(rng, last, &firsts)
    });
    drafts
        .into_iter()
        .map(|d| {
            let phone = phone.clone().unwrap_or_else(|| world.phone(rng, state));
            let email = match &email {
                Some(e) => e.clone(),
                None => world.email(rng, &d.first, &d.last, d.dob.year()),
            };
            Person {
                external_id: String::new(),
                first_name: d.first,
                last_name: d.last,
                date_of_birth: dob_string(d.dob),
                sex: d.sex.to_string(),
                email,
                phone,
                address: address.clone(),
            }
        })
        .collect()
}
