//! New people: intakes of someone the registry does not know, some of them
//! easy to mistake for a registry person (a namesake, a twin, a spouse, a
//! junior).

use chrono::{Datelike, Days, NaiveDate};
use rand::Rng;
use rand::rngs::StdRng;

use super::Scenario;
use super::people::{Draft, adult_dob, dress, new_household, reads_female, sex_of};
use super::variants::{lookalike, other_given, other_surname, related_names};
use super::world::{MAX_DOB, MIN_DOB, World, dob_string, parse_dob};
use crate::person::Person;

const YEAR: i64 = 365;

/// The new person of scenario `s` made next to registry person `o`
/// (`o` is ignored by `new_person`).
pub(super) fn make(world: &mut World, rng: &mut StdRng, s: Scenario, o: &Person) -> Option<Person> {
    match s {
        Scenario::NewPerson => new_person(world, rng),
        Scenario::Namesake => namesake(world, rng, o, false),
        Scenario::NamesakeSameBirthday => namesake(world, rng, o, true),
        Scenario::Twin => twin(world, rng, o),
        Scenario::HouseholdMember => household_member(world, rng, o),
        Scenario::Junior => junior(world, rng, o),
        _ => None,
    }
}

/// Someone from a fresh household of the population.
pub(super) fn new_person(world: &mut World, rng: &mut StdRng) -> Option<Person> {
    let mut household = new_household(world, rng);
    if household.is_empty() {
        return None;
    }
    let i = rng.random_range(0..household.len());
    Some(household.swap_remove(i))
}

/// The `&'static` spelling of a sex.
fn static_sex(sex: &str) -> &'static str {
    match sex {
        "female" => "female",
        "male" => "male",
        "other" => "other",
        _ => "unknown",
    }
}

/// Same names as `o` (and same date of birth if `same_day`), in a household
/// of their own: another address, phone and email.
fn namesake(world: &mut World, rng: &mut StdRng, o: &Person, same_day: bool) -> Option<Person> {
    let original = parse_dob(&o.date_of_birth)?;
    let dob = if same_day {
        original
    } else {
        (0..20)
            .map(|_| world.dob(rng, 18, 90))
            .find(|d| *d != original)?
    };
    let draft = Draft {
        first: o.first_name.clone(),
        last: o.last_name.clone(),
        sex: static_sex(&o.sex),
        dob,
    };
    dress(world, rng, vec![draft]).pop()
}

/// `o`'s twin: same date of birth, surname, address and phone; another
/// given name (a look-alike one when `o`'s name has one); their own email
/// or, sometimes, `o`'s.
fn twin(world: &mut World, rng: &mut StdRng, o: &Person) -> Option<Person> {
    let (first, sex) = match lookalike(&o.first_name) {
        Some((name, sex)) => (name.to_string(), sex),
        None => {
            let female = rng.random_bool(0.5);
            let name = other_given(world, rng, female, &o.first_name)?;
            (name, sex_of(rng, female))
        }
    };
    if related_names(&first, &o.first_name) {
        return None;
    }
    let mut p = o.clone();
    p.first_name = first;
    p.sex = sex.to_string();
    if rng.random_bool(0.7) {
        let year = parse_dob(&o.date_of_birth).map_or(1990, |d| d.year());
        p.email = world.email(rng, &p.first_name, &p.last_name, year);
    }
    Some(p)
}

/// A date `lo..=hi` days after (`later`) or before `base`, of an adult.
fn shifted(rng: &mut StdRng, base: NaiveDate, lo: i64, hi: i64, later: bool) -> Option<NaiveDate> {
    let room = if later {
        (MAX_DOB - base).num_days()
    } else {
        (base - MIN_DOB).num_days()
    };
    let hi = hi.min(room);
    if hi < lo {
        return None;
    }
    let days = Days::new(rng.random_range(lo..=hi).unsigned_abs());
    let d = if later {
        base.checked_add_days(days)
    } else {
        base.checked_sub_days(days)
    }?;
    adult_dob(d).then_some(d)
}

/// Either way from `base`, `lo..=hi` days.
fn either_way(rng: &mut StdRng, base: NaiveDate, lo: i64, hi: i64) -> Option<NaiveDate> {
    let later = rng.random_bool(0.5);
    shifted(rng, base, lo, hi, later).or_else(|| shifted(rng, base, lo, hi, !later))
}

/// A spouse, sibling, parent (or grown child) of `o` at `o`'s address:
/// another given name, born at least two years apart, often the same
/// surname, sometimes the same phone or email.
fn household_member(world: &mut World, rng: &mut StdRng, o: &Person) -> Option<Person> {
    let base = parse_dob(&o.date_of_birth)?;
    let o_female = reads_female(rng, &o.sex);
    let spouse = |rng: &mut StdRng| either_way(rng, base, 2 * YEAR + 1, 10 * YEAR);
    let (dob, female, same_last) = match rng.random_range(0..100) {
        0..45 => (spouse(rng)?, !o_female ^ rng.random_bool(0.05), 0.7),
        45..75 => {
            let dob = either_way(rng, base, 2 * YEAR + 1, 8 * YEAR)?;
            (dob, rng.random_bool(0.5), 0.85)
        }
        _ => {
            let later = rng.random_bool(0.3);
            let (lo, hi) = (20 * YEAR + 5, 40 * YEAR);
            let dob = shifted(rng, base, lo, hi, later)
                .or_else(|| shifted(rng, base, lo, hi, !later))
                .or_else(|| spouse(rng))?;
            (dob, rng.random_bool(0.5), 0.8)
        }
    };
    let mut p = o.clone();
    p.first_name = other_given(world, rng, female, &o.first_name)?;
    if !rng.random_bool(same_last) {
        p.last_name = other_surname(world, rng, &o.last_name)?;
    }
    p.sex = sex_of(rng, female).to_string();
    p.date_of_birth = dob_string(dob);
    if !rng.random_bool(0.4) {
        let state = world.state_index(&o.address.state);
        p.phone = world.phone(rng, state);
    }
    if !rng.random_bool(0.1) {
        p.email = world.email(rng, &p.first_name, &p.last_name, dob.year());
    }
    Some(p)
}

/// `o`'s son (or father) of the same given and family name: same address
/// and phone, born 20–40 years apart.
fn junior(world: &mut World, rng: &mut StdRng, o: &Person) -> Option<Person> {
    let base = parse_dob(&o.date_of_birth)?;
    let later = rng.random_bool(0.5);
    let (lo, hi) = (20 * YEAR + 5, 40 * YEAR);
    let dob = shifted(rng, base, lo, hi, later).or_else(|| shifted(rng, base, lo, hi, !later))?;
    let mut p = o.clone();
    p.sex = "male".to_string();
    p.date_of_birth = dob_string(dob);
    if !rng.random_bool(0.1) {
        p.email = world.email(rng, &p.first_name, &p.last_name, dob.year());
    }
    Some(p)
}
