//! Comparison levels: how alike two records are, field by field, in the
//! discrete levels a Fellegi–Sunter model weighs (Splink calls them
//! comparison levels; level 0 of every field is "null": one side lacks it,
//! which is no evidence either way).

use std::collections::HashMap;
use std::sync::{Arc, OnceLock, RwLock};

use chrono::Datelike;
use serde::Serialize;
use strsim::jaro_winkler;

use crate::record::Record;

/// Jaro-Winkler similarity at or above which two names differ only by a
/// typo (`jon`/`john` 0.93, `katherine`/`kathrine` 0.98; `mark`/`mary` 0.88
/// is not a typo: twins are named like that).
pub const TYPO_SIMILARITY: f64 = 0.92;
/// Jaro-Winkler similarity at or above which two street lines in one ZIP
/// are the same line written differently.
pub const LINE_SIMILARITY: f64 = 0.90;

/// The compared fields, in the order [`Levels`] holds them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Field {
    /// Given name: null, exact, nickname, typo, phonetic, swapped, different.
    GivenName,
    /// Family name: null, exact, typo, shared_part, phonetic, swapped, different.
    FamilyName,
    /// Date of birth: null, exact, day_month_swapped, one_component, different.
    DateOfBirth,
    /// Address: null, exact, similar_line, same_postal_code, same_line, different.
    Address,
    /// Phone: null, exact, different.
    Phone,
    /// Email: null, exact, different. (The same local part at another
    /// domain is no level of its own: local parts are made of names, so
    /// namesakes share them.)
    Email,
}

impl Field {
    /// Every field, in [`Levels`] order.
    pub const ALL: [Field; 6] = [
        Field::GivenName,
        Field::FamilyName,
        Field::DateOfBirth,
        Field::Address,
        Field::Phone,
        Field::Email,
    ];

    /// Its position in [`Levels`].
    pub fn index(self) -> usize {
        self as usize
    }

    /// Its snake_case name.
    pub fn name(self) -> &'static str {
        match self {
            Field::GivenName => "given_name",
            Field::FamilyName => "family_name",
            Field::DateOfBirth => "date_of_birth",
            Field::Address => "address",
            Field::Phone => "phone",
            Field::Email => "email",
        }
    }

    /// The names of its levels, by level number (0 is always `null`).
    pub fn levels(self) -> &'static [&'static str] {
        match self {
            Field::GivenName => &[
                "null",
                "exact",
                "nickname",
                "typo",
                "phonetic",
                "swapped",
                "different",
            ],
            Field::FamilyName => &[
                "null",
                "exact",
                "typo",
                "shared_part",
                "phonetic",
                "swapped",
                "different",
            ],
            Field::DateOfBirth => &[
                "null",
                "exact",
                "day_month_swapped",
                "one_component",
                "different",
            ],
            Field::Address => &[
                "null",
                "exact",
                "similar_line",
                "same_postal_code",
                "same_line",
                "different",
            ],
            Field::Phone => &["null", "exact", "different"],
            Field::Email => &["null", "exact", "different"],
        }
    }
}

/// Level numbers of the given name.
pub mod given {
    #![allow(missing_docs)]
    pub const EXACT: u8 = 1;
    pub const NICKNAME: u8 = 2;
    pub const TYPO: u8 = 3;
    pub const PHONETIC: u8 = 4;
    pub const SWAPPED: u8 = 5;
    pub const DIFFERENT: u8 = 6;
}
/// Level numbers of the family name.
pub mod family {
    #![allow(missing_docs)]
    pub const EXACT: u8 = 1;
    pub const TYPO: u8 = 2;
    pub const SHARED_PART: u8 = 3;
    pub const PHONETIC: u8 = 4;
    pub const SWAPPED: u8 = 5;
    pub const DIFFERENT: u8 = 6;
}
/// Level numbers of the date of birth.
pub mod dob {
    #![allow(missing_docs)]
    pub const EXACT: u8 = 1;
    pub const DAY_MONTH_SWAPPED: u8 = 2;
    pub const ONE_COMPONENT: u8 = 3;
    pub const DIFFERENT: u8 = 4;
}
/// Level numbers of the address.
pub mod address {
    #![allow(missing_docs)]
    pub const EXACT: u8 = 1;
    pub const SIMILAR_LINE: u8 = 2;
    pub const SAME_POSTAL_CODE: u8 = 3;
    pub const SAME_LINE: u8 = 4;
    pub const DIFFERENT: u8 = 5;
}
/// Level numbers of phone and email.
pub mod contact {
    #![allow(missing_docs)]
    pub const EXACT: u8 = 1;
    pub const DIFFERENT: u8 = 2;
}

/// The null level of every field.
pub const NULL: u8 = 0;

/// The level of each field for one pair of records, in [`Field::ALL`] order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Levels(pub [u8; 6]);

impl Levels {
    /// The level of `field`.
    pub fn get(&self, field: Field) -> u8 {
        self.0[field.index()]
    }

    /// The name of `field`'s level (`"typo"`).
    pub fn name(&self, field: Field) -> &'static str {
        field
            .levels()
            .get(usize::from(self.get(field)))
            .copied()
            .unwrap_or("null")
    }
}

/// An incoming record with what every comparison of it needs worked out
/// once: matching compares one incoming person with a hundred candidates
/// and more.
#[derive(Debug)]
pub struct Prepared<'a> {
    /// The record.
    pub record: &'a Record,
    alternates: Arc<Vec<String>>,
    given_joined: String,
    family_joined: String,
}

impl<'a> Prepared<'a> {
    /// Prepares `record` for comparison.
    pub fn new(record: &'a Record) -> Self {
        Prepared {
            record,
            alternates: alternates(record.first_given()),
            given_joined: record.given.replace(' ', ""),
            family_joined: record.family_joined().into_owned(),
        }
    }
}

/// Compares two records field by field.
pub fn compare(a: &Record, b: &Record) -> Levels {
    compare_prepared(&Prepared::new(a), b)
}

/// Compares a prepared record with another, field by field.
pub fn compare_prepared(p: &Prepared<'_>, b: &Record) -> Levels {
    let a = p.record;
    let mut given_level = given_name(p, b);
    let mut family_level = family_name(&p.family_joined, a, b);
    if given_level == given::DIFFERENT && swapped(p, b) {
        given_level = given::SWAPPED;
        family_level = family::SWAPPED;
    }
    Levels([
        given_level,
        family_level,
        date_of_birth(a, b),
        address(a, b),
        phone(a.phone.as_deref(), b.phone.as_deref()),
        email(a.email.as_deref(), b.email.as_deref()),
    ])
}

fn given_name(p: &Prepared<'_>, b: &Record) -> u8 {
    let a = p.record;
    let (fa, fb) = (a.first_given(), b.first_given());
    if fa.is_empty() || fb.is_empty() {
        NULL
    } else if fa == fb || a.given == b.given {
        given::EXACT
    } else if p.alternates.iter().any(|n| n == fb) {
        given::NICKNAME
    } else if typo(fa, fb) {
        given::TYPO
    } else if !a.given_code.is_empty() && a.given_code == b.given_code {
        given::PHONETIC
    } else {
        given::DIFFERENT
    }
}

/// Whether two names differ only by a slip of the keyboard: Jaro-Winkler at
/// least [`TYPO_SIMILARITY`], or one edit (Damerau-Levenshtein: a letter
/// added, dropped, changed or two transposed) in names of five letters or
/// more. Four-letter names one edit apart are often different names
/// (`mark`/`mary`).
pub fn typo(a: &str, b: &str) -> bool {
    if a.is_ascii() && b.is_ascii() {
        // The same answer without allocating: most pairs compared are
        // different names, ruled out by counting shared letters.
        let (x, y) = (a.as_bytes(), b.as_bytes());
        return (jaro_could_reach(x, y, TYPO_JARO) && jaro_winkler(a, b) >= TYPO_SIMILARITY)
            || (x.len().min(y.len()) >= 5 && at_most_one_edit(x, y));
    }
    // One edit, transpositions included, is what optimal string alignment
    // distance measures without the alphabet table Damerau-Levenshtein builds.
    jaro_winkler(a, b) >= TYPO_SIMILARITY
        || (a.len().min(b.len()) >= 5
            && a.len().abs_diff(b.len()) <= 1
            && strsim::osa_distance(a, b) <= 1)
}

/// The Jaro similarity [`TYPO_SIMILARITY`] needs: strsim's Jaro-Winkler adds
/// at most 0.1 × 4 (a common prefix of four) × (1 − Jaro), and nothing at
/// all at Jaro 0.7 or below, so Jaro-Winkler ≥ 0.92 needs Jaro ≥ 0.8.
const TYPO_JARO: f64 = 0.8;

/// Whether the Jaro similarity of two ASCII strings can reach `at_least`:
/// its matches pair equal letters one to one, so there are at most as many
/// as the letters the two have in common, and
/// Jaro ≤ (common/|a| + common/|b| + 1) / 3.
fn jaro_could_reach(a: &[u8], b: &[u8], at_least: f64) -> bool {
    if a.is_empty() || b.is_empty() {
        return a.is_empty() && b.is_empty();
    }
    let mut counts = [0i32; 128];
    for &c in a {
        counts[usize::from(c & 0x7f)] += 1;
    }
    let mut common = 0usize;
    for &c in b {
        let n = &mut counts[usize::from(c & 0x7f)];
        if *n > 0 {
            *n -= 1;
            common += 1;
        }
    }
    let bound = (common as f64 / a.len() as f64 + common as f64 / b.len() as f64 + 1.0) / 3.0;
    bound >= at_least - 1e-9
}

/// Optimal string alignment distance ≤ 1 (one letter added, dropped,
/// changed, or two neighbours transposed), for ASCII, without allocating.
fn at_most_one_edit(a: &[u8], b: &[u8]) -> bool {
    let (short, long) = if a.len() <= b.len() { (a, b) } else { (b, a) };
    let i = short.iter().zip(long).take_while(|(x, y)| x == y).count();
    match long.len() - short.len() {
        0 if i == short.len() => true,
        0 => {
            short[i + 1..] == long[i + 1..]
                || (i + 1 < short.len()
                    && short[i] == long[i + 1]
                    && short[i + 1] == long[i]
                    && short[i + 2..] == long[i + 2..])
        }
        1 => short[i..] == long[i + 1..],
        _ => false,
    }
}

/// Whether one name is a nickname of the other (`bob`/`robert`), by the
/// nickname and diminutive table the `nicknamer` crate carries (symmetric:
/// its build adds each pair both ways). That crate builds its table on every
/// call, so each name's answer is kept.
pub fn nicknames(a: &str, b: &str) -> bool {
    alternates(a).iter().any(|n| n == b)
}

fn alternates(name: &str) -> Arc<Vec<String>> {
    static KNOWN: OnceLock<RwLock<HashMap<String, Arc<Vec<String>>>>> = OnceLock::new();
    let known = KNOWN.get_or_init(Default::default);
    if let Some(found) = known.read().ok().and_then(|k| k.get(name).cloned()) {
        return found;
    }
    let found = Arc::new(nicknamer::nicknames(name));
    if let Ok(mut k) = known.write() {
        // Typos are names too: a long-running process must not keep them all.
        if k.len() >= 100_000 {
            k.clear();
        }
        k.insert(name.to_owned(), found.clone());
    }
    found
}

fn family_name(ja: &str, a: &Record, b: &Record) -> u8 {
    if a.family.is_empty() || b.family.is_empty() {
        return NULL;
    }
    let jb = b.family_joined();
    if ja == jb {
        family::EXACT
    } else if typo(ja, &jb) {
        family::TYPO
    } else if a
        .family
        .split(' ')
        .any(|p| p.len() > 1 && b.family.split(' ').any(|q| q == p))
    {
        family::SHARED_PART
    } else if !a.family_code.is_empty() && a.family_code == b.family_code {
        family::PHONETIC
    } else {
        family::DIFFERENT
    }
}

/// Given and family names exchanged (`Lee Wei` for `Wei Lee`).
fn swapped(p: &Prepared<'_>, b: &Record) -> bool {
    let a = p.record;
    // A swap keeps the first letters (typos rarely touch them): most pairs
    // are ruled out before any string is built.
    let first = |s: &str| s.bytes().next();
    if first(&a.given) != first(&b.family) || first(&a.family) != first(&b.given) {
        return false;
    }
    let close =
        |x: &str, y: &str| !x.is_empty() && (x == y || jaro_winkler(x, y) >= TYPO_SIMILARITY);
    close(&p.given_joined, &b.family_joined()) && close(&p.family_joined, &b.given.replace(' ', ""))
}

fn date_of_birth(a: &Record, b: &Record) -> u8 {
    let (Some(x), Some(y)) = (a.dob, b.dob) else {
        return NULL;
    };
    if x == y {
        return dob::EXACT;
    }
    if a.dob_swapped() == Some(y) {
        return dob::DAY_MONTH_SWAPPED;
    }
    let same = [
        x.year() == y.year(),
        x.month() == y.month(),
        x.day() == y.day(),
    ];
    let one_differs = same.iter().filter(|s| **s).count() == 2;
    // A year that differs by more than one digit, or by a generation, is a
    // different person (a father and his "Jr." share the rest), not a slip.
    let year_slip = x.year() == y.year()
        || (one_digit_apart(x.year(), y.year()) && (x.year() - y.year()).abs() < 15);
    if one_differs && year_slip {
        dob::ONE_COMPONENT
    } else {
        dob::DIFFERENT
    }
}

fn one_digit_apart(a: i32, b: i32) -> bool {
    let (mut a, mut b, mut differing) = (a, b, 0);
    while a > 0 || b > 0 {
        differing += usize::from(a % 10 != b % 10);
        a /= 10;
        b /= 10;
    }
    differing == 1
}

fn address(a: &Record, b: &Record) -> u8 {
    let lines = (a.address_line.as_deref(), b.address_line.as_deref());
    let postal = (a.postal_code.as_deref(), b.postal_code.as_deref());
    let same_postal = matches!(postal, (Some(x), Some(y)) if x == y);
    match lines {
        (Some(x), Some(y)) if x == y && same_postal => address::EXACT,
        (Some(x), Some(y))
            if same_postal && same_number(x, y) && jaro_winkler(x, y) >= LINE_SIMILARITY =>
        {
            address::SIMILAR_LINE
        }
        (Some(x), Some(y)) if x == y => address::SAME_LINE,
        _ if same_postal => address::SAME_POSTAL_CODE,
        (None, _) | (_, None) if postal.0.is_none() || postal.1.is_none() => NULL,
        _ => address::DIFFERENT,
    }
}

/// Whether two street lines start with the same house number (or neither
/// has one): `12 oak st` and `21 oak st` are neighbours, not a typo.
fn same_number(a: &str, b: &str) -> bool {
    let number = |s: &str| {
        s.split(' ')
            .next()
            .filter(|w| w.chars().all(|c| c.is_ascii_digit()))
            .map(str::to_owned)
    };
    number(a) == number(b)
}

fn phone(a: Option<&str>, b: Option<&str>) -> u8 {
    match (a, b) {
        (Some(x), Some(y)) if x == y => contact::EXACT,
        (Some(_), Some(_)) => contact::DIFFERENT,
        _ => NULL,
    }
}

fn email(a: Option<&str>, b: Option<&str>) -> u8 {
    match (a, b) {
        (Some(x), Some(y)) if x == y => contact::EXACT,
        (Some(_), Some(_)) => contact::DIFFERENT,
        _ => NULL,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Names as the generator writes them, each with a slip or two.
    fn names() -> Vec<String> {
        let mut out = Vec::new();
        for p in crate::synth::population(5, 400) {
            for name in [p.first_name, p.last_name] {
                let n = name.to_lowercase();
                if !n.is_ascii() {
                    continue;
                }
                let b = n.as_bytes();
                out.push(n.clone());
                if b.len() > 2 {
                    let mut swapped = b.to_vec();
                    swapped.swap(1, 2);
                    out.push(String::from_utf8_lossy(&swapped).into_owned());
                    out.push(String::from_utf8_lossy(&b[1..]).into_owned());
                    out.push(format!("{}x{}", &n[..2], &n[2..]));
                    out.push(format!("{}z{}", &n[..1], &n[2..]));
                }
            }
        }
        out.sort();
        out.dedup();
        out
    }

    #[test]
    fn the_shortcuts_agree_with_strsim_on_every_pair() {
        let names = names();
        assert!(names.len() > 1_000);
        for a in &names {
            for b in names.iter().step_by(7) {
                let (x, y) = (a.as_bytes(), b.as_bytes());
                assert_eq!(
                    at_most_one_edit(x, y),
                    strsim::osa_distance(a, b) <= 1,
                    "{a} / {b}"
                );
                if strsim::jaro(a, b) >= TYPO_JARO {
                    assert!(jaro_could_reach(x, y, TYPO_JARO), "{a} / {b}");
                }
                if jaro_winkler(a, b) >= TYPO_SIMILARITY {
                    assert!(strsim::jaro(a, b) >= TYPO_JARO, "{a} / {b}");
                }
            }
        }
    }

    #[test]
    fn one_edit_is_one_letter_or_one_transposition() {
        assert!(at_most_one_edit(b"katherine", b"kathrine"));
        assert!(at_most_one_edit(b"jonathan", b"jonahtan"));
        assert!(at_most_one_edit(b"smith", b"smyth"));
        assert!(!at_most_one_edit(b"smith", b"smythe"));
        assert!(!at_most_one_edit(b"abcde", b"badce"));
        assert!(at_most_one_edit(b"", b"a"));
    }
}
