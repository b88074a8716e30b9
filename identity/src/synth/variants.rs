//! How a returning patient's new intake differs from their registry record,
//! and which registry people each scenario can start from.

use std::collections::{HashMap, HashSet};
use std::sync::{Mutex, OnceLock, PoisonError};

use chrono::{Datelike, NaiveDate};
use rand::Rng;
use rand::rngs::StdRng;

use super::geo::street_part;
use super::names::{FEMALE, LOOKALIKE_TWINS, MALE, NICKNAMES};
use super::people::{distinct_given, reads_female};
use super::world::{REFERENCE, World, parse_dob, plain, reformat_phone};
use super::{Scenario, newcomers};
use crate::person::Person;

/// Whether registry person `p` can be the original of a probe of `s`.
pub(super) fn eligible(world: &World, s: Scenario, p: &Person) -> bool {
    let Some(dob) = parse_dob(&p.date_of_birth) else {
        return false;
    };
    match s {
        Scenario::GivenNameTypo => typo_room(&p.first_name),
        Scenario::FamilyNameTypo => typo_room(&p.last_name),
        Scenario::Nickname => nicknames_of(&p.first_name).next().is_some(),
        Scenario::NamesSwapped => !p.first_name.eq_ignore_ascii_case(&p.last_name),
        Scenario::DobDayMonthSwapped => dob.day() <= 12 && dob.day() != dob.month(),
        Scenario::NamesakeSameBirthday => common_names(world, p),
        Scenario::Junior => p.sex == "male",
        _ => true,
    }
}

/// The share of a scenario's probes drawn from the originals it prefers
/// (see [`preferred`]); the rest come from the other eligible ones.
pub(super) fn preferred_share(s: Scenario) -> f64 {
    match s {
        Scenario::HyphenatedSurname => 0.3,
        Scenario::ChangedSurname => 0.85,
        Scenario::AccentsAndPunctuation => 0.7,
        Scenario::Namesake => 0.9,
        Scenario::Twin => 0.3,
        _ => 0.0,
    }
}

/// Whether `p` is an original that `s` prefers: a hyphenated surname to
/// lose a part, a woman to change her surname at marriage, a name with
/// accents or punctuation, common names for namesakes, a given name with a
/// look-alike for twins.
pub(super) fn preferred(world: &World, s: Scenario, p: &Person) -> bool {
    match s {
        Scenario::HyphenatedSurname => p.last_name.contains('-'),
        Scenario::ChangedSurname => p.sex == "female",
        Scenario::AccentsAndPunctuation => {
            restyled(world, &p.first_name).is_some() || restyled(world, &p.last_name).is_some()
        }
        Scenario::Namesake => common_names(world, p),
        Scenario::Twin => lookalike(&p.first_name).is_some(),
        _ => false,
    }
}

fn common_names(world: &World, p: &Person) -> bool {
    world.is_common_given(&p.first_name) && world.is_common_surname(&p.last_name)
}

/// The probe of scenario `s` made from registry person `o` (its
/// external_id is still `o`'s); `None` if `o` does not fit after all.
pub(super) fn make(world: &mut World, rng: &mut StdRng, s: Scenario, o: &Person) -> Option<Person> {
    let mut p = o.clone();
    match s {
        Scenario::Identical => identical(rng, &mut p),
        Scenario::GivenNameTypo => p.first_name = typo(rng, &o.first_name)?,
        Scenario::FamilyNameTypo => p.last_name = typo(rng, &o.last_name)?,
        Scenario::Nickname => {
            let nicks: Vec<&str> = nicknames_of(&o.first_name).collect();
            p.first_name = (*nicks.get(rng.random_range(0..nicks.len().max(1)))?).to_string();
        }
        Scenario::NamesSwapped => {
            std::mem::swap(&mut p.first_name, &mut p.last_name);
        }
        Scenario::DobDigitTypo => p.date_of_birth = dob_digit_typo(rng, &o.date_of_birth)?,
        Scenario::DobDayMonthSwapped => p.date_of_birth = day_month_swapped(&o.date_of_birth)?,
        Scenario::NewPhone => p.phone = new_phone(world, rng, o),
        Scenario::NewEmail => p.email = new_email(world, rng, &p),
        Scenario::NewPhoneAndEmail => {
            p.phone = new_phone(world, rng, o);
            p.email = new_email(world, rng, &p);
        }
        Scenario::Moved | Scenario::MovedNewContacts => {
            let city = Some(o.address.city.as_str());
            let street = Some(street_part(&o.address.line1));
            let (address, state) = world.address(rng, city, street);
            p.address = address;
            if s == Scenario::MovedNewContacts {
                p.phone = world.phone(rng, state);
                p.email = new_email(world, rng, &p);
            }
        }
        Scenario::HyphenatedSurname => {
            p.last_name = hyphenated(world, rng, &o.last_name)?;
            p.email = new_email(world, rng, &p);
        }
        Scenario::ChangedSurname => {
            p.last_name = other_surname(world, rng, &o.last_name)?;
            if rng.random_bool(0.5) {
                p.email = new_email(world, rng, &p);
            }
        }
        Scenario::BothNamesChanged => {
            let female = reads_female(rng, &o.sex);
            p.first_name = other_given(world, rng, female, &o.first_name)?;
            p.last_name = other_surname(world, rng, &o.last_name)?;
        }
        Scenario::AccentsAndPunctuation => accents_and_punctuation(world, rng, &mut p),
        _ => return newcomers::make(world, rng, s, o),
    }
    Some(p)
}

fn new_phone(world: &mut World, rng: &mut StdRng, o: &Person) -> String {
    let state = world.state_index(&o.address.state);
    world.phone(rng, state)
}

fn new_email(world: &mut World, rng: &mut StdRng, p: &Person) -> String {
    let year = parse_dob(&p.date_of_birth).map_or(1980, |d| d.year());
    world.email(rng, &p.first_name, &p.last_name, year)
}

/// Formatting only: the names' case, the phone's style, the email's case.
fn identical(rng: &mut StdRng, p: &mut Person) {
    match rng.random_range(0..10) {
        0 | 1 => {
            p.first_name = p.first_name.to_uppercase();
            p.last_name = p.last_name.to_uppercase();
        }
        2 => {
            p.first_name = p.first_name.to_lowercase();
            p.last_name = p.last_name.to_lowercase();
        }
        3 => p.last_name = p.last_name.to_uppercase(),
        _ => {}
    }
    if rng.random_bool(0.5) {
        p.phone = reformat_phone(rng, &p.phone);
    }
    if rng.random_bool(0.15) {
        p.email = if rng.random_bool(0.5) {
            p.email.to_uppercase()
        } else {
            title_case_email(&p.email)
        };
    }
}

/// `mary.smith@gmail.com` → `Mary.Smith@Gmail.com`.
fn title_case_email(email: &str) -> String {
    let mut out = String::with_capacity(email.len());
    let mut start = true;
    for c in email.chars() {
        if start {
            out.extend(c.to_uppercase());
        } else {
            out.push(c);
        }
        start = matches!(c, '.' | '@' | '_');
    }
    out
}

/// Whether a name is long enough (4 letters) for a typo.
fn typo_room(name: &str) -> bool {
    name.chars().filter(|c| c.is_alphabetic()).count() >= 4
}

const KEYBOARD: [&str; 3] = ["qwertyuiop", "asdfghjkl", "zxcvbnm"];

/// A letter, mostly a neighbour of `near` on the keyboard.
fn typo_letter(rng: &mut StdRng, near: char) -> char {
    let lower = near.to_ascii_lowercase();
    if rng.random_bool(0.6) {
        for row in KEYBOARD {
            if let Some(i) = row.find(lower) {
                let row = row.as_bytes();
                let j = if i == 0 || (i + 1 < row.len() && rng.random_bool(0.5)) {
                    i + 1
                } else {
                    i - 1
                };
                return char::from(row[j]);
            }
        }
    }
    char::from(b'a' + rng.random_range(0..26u8))
}

/// One letter substituted, deleted, inserted or two transposed, never the
/// first one; `None` if the name is too short.
fn typo(rng: &mut StdRng, name: &str) -> Option<String> {
    if !typo_room(name) {
        return None;
    }
    let chars: Vec<char> = name.chars().collect();
    let n = chars.len();
    for _ in 0..32 {
        let mut c = chars.clone();
        let i = rng.random_range(1..n);
        if !c[i].is_alphabetic() {
            continue;
        }
        let upper = c[i].is_uppercase();
        let case = |l: char| if upper { l.to_ascii_uppercase() } else { l };
        match rng.random_range(0..4) {
            0 => c[i] = case(typo_letter(rng, c[i])),
            1 => {
                c.remove(i);
            }
            2 => c.insert(i, typo_letter(rng, c[i])),
            _ => {
                if i + 1 >= n || !c[i + 1].is_alphabetic() {
                    continue;
                }
                c.swap(i, i + 1);
            }
        }
        let typo: String = c.into_iter().collect();
        if !typo.eq_ignore_ascii_case(name) {
            return Some(typo);
        }
    }
    None
}

/// The nicknames of a formal given name (accents ignored).
fn nicknames_of(first: &str) -> impl Iterator<Item = &'static str> {
    let key = plain(first);
    NICKNAMES
        .iter()
        .filter(move |(formal, _)| *formal == key)
        .map(|(_, nick)| *nick)
}

/// Whether two given names are the same or one is a nickname of the other
/// (or both of one name), by this module's list and by `nicknamer`.
pub(super) fn related_names(a: &str, b: &str) -> bool {
    let a = plain(a).trim().to_lowercase();
    let b = plain(b).trim().to_lowercase();
    if a == b {
        return true;
    }
    let formal_of = |nick: &str| -> Vec<&'static str> {
        NICKNAMES
            .iter()
            .filter(|(_, n)| n.eq_ignore_ascii_case(nick))
            .map(|(f, _)| *f)
            .collect()
    };
    let listed = NICKNAMES.iter().any(|(f, n)| {
        (f.eq_ignore_ascii_case(&a) && n.eq_ignore_ascii_case(&b))
            || (f.eq_ignore_ascii_case(&b) && n.eq_ignore_ascii_case(&a))
    });
    let shared_formal = formal_of(&a).iter().any(|f| formal_of(&b).contains(f));
    listed || shared_formal || (well_known(&a) && well_known(&b) && nicknamer_relates(&a, &b))
}

/// Whether a lowercase given name is in this module's lists: the names
/// `nicknamer` is asked about (asking costs it a table build per name).
fn well_known(name: &str) -> bool {
    static KNOWN: OnceLock<HashSet<String>> = OnceLock::new();
    let known = KNOWN.get_or_init(|| {
        let nicks = NICKNAMES.iter().map(|(_, n)| n);
        FEMALE
            .iter()
            .chain(MALE)
            .chain(nicks)
            .map(|n| n.to_lowercase())
            .collect()
    });
    known.contains(name)
}

/// Whether `nicknamer` relates two lowercase names. Its answers are cached:
/// it builds its whole table on every call.
fn nicknamer_relates(a: &str, b: &str) -> bool {
    static CACHE: OnceLock<Mutex<HashMap<String, Vec<String>>>> = OnceLock::new();
    let cache = CACHE.get_or_init(Default::default);
    let mut cache = cache.lock().unwrap_or_else(PoisonError::into_inner);
    let mut knows = |x: &str, y: &str| {
        cache
            .entry(x.to_string())
            .or_insert_with(|| nicknamer::nicknames(x))
            .iter()
            .any(|n| n == y)
    };
    knows(a, b) || knows(b, a)
}

/// The look-alike twin name of a given name and its sex, if it has one.
pub(super) fn lookalike(first: &str) -> Option<(&'static str, &'static str)> {
    LOOKALIKE_TWINS.iter().find_map(|&(a, sa, b, sb)| {
        if a == first {
            Some((b, sb))
        } else if b == first {
            Some((a, sa))
        } else {
            None
        }
    })
}

/// One digit of the date changed (a valid date, within ten years).
fn dob_digit_typo(rng: &mut StdRng, dob: &str) -> Option<String> {
    let original = parse_dob(dob)?;
    let bytes = dob.as_bytes();
    if bytes.len() != 10 {
        return None;
    }
    for _ in 0..200 {
        let at = [2, 3, 5, 6, 8, 9][rng.random_range(0..6)];
        let digit = b'0' + rng.random_range(0..10u8);
        if digit == bytes[at] {
            continue;
        }
        let mut changed = bytes.to_vec();
        changed[at] = digit;
        let Ok(text) = String::from_utf8(changed) else {
            continue;
        };
        match parse_dob(&text) {
            Some(d) if (d.year() - original.year()).abs() <= 10 && d <= REFERENCE => {
                return Some(text);
            }
            _ => continue,
        }
    }
    None
}

/// Day and month swapped (`1980-03-07` → `1980-07-03`).
fn day_month_swapped(dob: &str) -> Option<String> {
    let d = parse_dob(dob)?;
    let swapped = NaiveDate::from_ymd_opt(d.year(), d.day(), d.month())?;
    (swapped != d).then(|| super::world::dob_string(swapped))
}

/// A hyphenated surname loses a part; another gains one.
fn hyphenated(world: &World, rng: &mut StdRng, last: &str) -> Option<String> {
    let parts: Vec<&str> = last.split('-').filter(|s| !s.is_empty()).collect();
    if parts.len() > 1 {
        return Some(parts[rng.random_range(0..parts.len())].to_string());
    }
    let other = (0..20)
        .map(|_| world.common_surname(rng))
        .find(|o| !plain(o).eq_ignore_ascii_case(&plain(last)))?;
    Some(if rng.random_bool(0.6) {
        format!("{last}-{other}")
    } else {
        format!("{other}-{last}")
    })
}

/// Another surname, sharing no part with `last`.
pub(super) fn other_surname(world: &World, rng: &mut StdRng, last: &str) -> Option<String> {
    let parts: Vec<String> = last.split('-').map(|s| plain(s).to_lowercase()).collect();
    (0..20)
        .map(|_| world.surname(rng))
        .find(|o| !parts.contains(&plain(o).to_lowercase()))
}

/// Another given name, not `first` nor a nickname of it.
pub(super) fn other_given(
    world: &World,
    rng: &mut StdRng,
    female: bool,
    first: &str,
) -> Option<String> {
    (0..20)
        .map(|_| distinct_given(world, rng, female, &[first]))
        .find(|g| !related_names(g, first))
}

/// The name written otherwise: accents dropped or added, an apostrophe
/// dropped or made a space, spaces dropped or doubled, a hyphen made a
/// space; `None` if the name has nothing of the kind.
fn restyled(world: &World, name: &str) -> Option<String> {
    if !name.is_ascii() {
        return Some(plain(name));
    }
    if let Some(accented) = world.accented(name) {
        return Some(accented.to_string());
    }
    let (from, to) = if name.contains('\'') {
        ('\'', "")
    } else if name.contains(' ') {
        (' ', "")
    } else if name.contains('-') {
        ('-', " ")
    } else {
        return None;
    };
    Some(name.replace(from, to))
}

/// Accents, punctuation, spacing and case: the same name as typed or
/// printed otherwise.
fn accents_and_punctuation(world: &World, rng: &mut StdRng, p: &mut Person) {
    let first = restyled(world, &p.first_name);
    let last = restyled(world, &p.last_name);
    let plainly = first.is_none() && last.is_none();
    if let Some(first) = first {
        p.first_name = first;
    }
    if let Some(mut last) = last {
        if p.last_name.contains(' ') && rng.random_bool(0.5) {
            last = p.last_name.replace(' ', "  ");
        } else if p.last_name.contains('\'') && rng.random_bool(0.5) {
            last = p.last_name.replace('\'', " ");
        }
        p.last_name = last;
    }
    if plainly || rng.random_bool(0.25) {
        match rng.random_range(0..3) {
            0 => {
                p.first_name = p.first_name.to_uppercase();
                p.last_name = p.last_name.to_uppercase();
            }
            1 => p.first_name = format!("{} ", p.first_name),
            _ => p.last_name = format!(" {}", p.last_name),
        }
    }
}
