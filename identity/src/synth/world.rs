//! The generator's state: weighted tables, the geography (cities and their
//! ZIP codes), and the phones, emails and addresses handed out so far, so
//! that two unrelated people never share one by accident.

use std::collections::{HashMap, HashSet};
use std::hash::{BuildHasherDefault, DefaultHasher, Hash, Hasher};

use chrono::{Datelike, Days, NaiveDate};
use rand::Rng;
use rand::rngs::StdRng;

use super::geo::{Zip, building, geography, street_line, street_part, zip_weight};
use super::names::{
    ACCENTED, FEMALE, GIVEN_HEADS, GIVEN_TAILS_FEMALE, GIVEN_TAILS_MALE, MALE, SURNAME_HEADS,
    SURNAME_MIDS, SURNAME_TAILS, SURNAMES,
};
use super::places::{EMAIL_DOMAINS, STATES, STREETS, SUFFIXES};
use crate::person::Address;

/// The day ages are counted on.
pub(super) const REFERENCE: NaiveDate = ymd_const(2026, 11, 30);
/// The oldest date of birth of an adult (90 on [`REFERENCE`]).
pub(super) const MIN_DOB: NaiveDate = ymd_const(1935, 12, 1);
/// The youngest date of birth of an adult (18 on [`REFERENCE`]).
pub(super) const MAX_DOB: NaiveDate = ymd_const(2008, 11, 30);
/// Share of people whose surname is a rare one built from syllables.
const RARE_SURNAME: f64 = 0.40;
/// Share of people whose given name is a rare one built from syllables.
const RARE_GIVEN: f64 = 0.10;
/// Share of names that have an accented spelling written with it.
const ACCENT_RATE: f64 = 0.15;
/// Local phone numbers of an area code: exchanges 200–999, lines 0000–9999.
const LOCAL_NUMBERS: u64 = 8_000_000;
/// Coprime with [`LOCAL_NUMBERS`] (odd, not a multiple of 5).
const SCATTER: u64 = 5_381_023;
const fn ymd_const(y: i32, m: u32, d: u32) -> NaiveDate {
    match NaiveDate::from_ymd_opt(y, m, d) {
        Some(date) => date,
        None => panic!("invalid constant date"),
    }
}

/// A table to draw indexes from by weight.
pub(super) struct Weighted {
    cum: Vec<f64>,
}

impl Weighted {
    /// A table with these weights (at least one, all ≥ 0).
    pub(super) fn new(weights: impl IntoIterator<Item = f64>) -> Self {
        let mut total = 0.0;
        let cum = weights
            .into_iter()
            .map(|w| {
                total += w;
                total
            })
            .collect();
        Weighted { cum }
    }

    /// Zipf–Mandelbrot weights `(rank + q)^-s` for ranks 1..=n.
    pub(super) fn zipf(n: usize, q: f64, s: f64) -> Self {
        Self::new((1..=n).map(|r| (r as f64 + q).powf(-s)))
    }

    /// An index, drawn by weight.
    pub(super) fn pick(&self, rng: &mut StdRng) -> usize {
        self.pick_in(rng, 0, self.cum.len().saturating_sub(1))
    }

    /// An index in `lo..=hi`, drawn by weight.
    pub(super) fn pick_in(&self, rng: &mut StdRng, lo: usize, hi: usize) -> usize {
        let base = if lo == 0 { 0.0 } else { self.cum[lo - 1] };
        let top = self.cum[hi];
        let x = base + rng.random::<f64>() * (top - base);
        self.cum.partition_point(|&c| c <= x).clamp(lo, hi)
    }
}

/// A 64-bit hash, for the sets of things handed out (a collision only makes
/// the generator draw again).
pub(super) fn hash64<T: Hash + ?Sized>(value: &T) -> u64 {
    let mut h = DefaultHasher::new();
    value.hash(&mut h);
    h.finish()
}

/// A hasher for `u64` keys that are numbers or hashes already: one
/// splitmix round.
#[derive(Default)]
pub(super) struct MixHasher(u64);

impl Hasher for MixHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = splitmix(self.0 ^ u64::from(b));
        }
    }

    fn write_u64(&mut self, x: u64) {
        self.0 = splitmix(self.0 ^ x);
    }
}

/// A set of `u64` keys.
type U64Set = HashSet<u64, BuildHasherDefault<MixHasher>>;

/// One round of splitmix64: a well-mixed function of `x`.
pub(super) fn splitmix(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    x = (x ^ (x >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    x ^ (x >> 31)
}

/// Weighted tables, the geography, and what is taken.
pub(super) struct World {
    surnames: Weighted,
    female: Weighted,
    male: Weighted,
    ages: Weighted,
    zip_weights: Weighted,
    domains: Weighted,
    zips: Vec<Zip>,
    accented: HashMap<&'static str, &'static str>,
    female_accents: Vec<Option<&'static str>>,
    male_accents: Vec<Option<&'static str>>,
    surname_accents: Vec<Option<&'static str>>,
    common_given: HashSet<&'static str>,
    common_surnames: HashSet<&'static str>,
    /// Phones handed out per area code, and where each area code's
    /// sequence starts.
    phones: Vec<(u64, u64)>,
    emails: U64Set,
    addresses: U64Set,
}

impl World {
    /// Fresh tables and geography; nothing taken yet.
    pub(super) fn new() -> Self {
        let zips = geography();
        let zip_weights = Weighted::new(zips.iter().map(|z| zip_weight(&z.code)));
        let accented: HashMap<&'static str, &'static str> = ACCENTED.iter().copied().collect();
        let accent_of = |list: &[&'static str]| -> Vec<Option<&'static str>> {
            list.iter().map(|n| accented.get(n).copied()).collect()
        };
        let (female_accents, male_accents) = (accent_of(FEMALE), accent_of(MALE));
        let surname_accents = accent_of(SURNAMES);
        World {
            // Smith is ~1.9% of the common draws, ~1.1% of everyone.
            surnames: Weighted::zipf(SURNAMES.len(), 10.0, 0.8),
            female: Weighted::zipf(FEMALE.len(), 10.0, 1.0),
            male: Weighted::zipf(MALE.len(), 10.0, 1.0),
            ages: Weighted::new((18..=90).map(age_weight)),
            zip_weights,
            domains: Weighted::new(EMAIL_DOMAINS.iter().map(|d| f64::from(d.1))),
            zips,
            accented,
            female_accents,
            male_accents,
            surname_accents,
            common_given: FEMALE.iter().chain(MALE).copied().collect(),
            common_surnames: SURNAMES.iter().copied().collect(),
            phones: vec![(0, 0); 1000],
            emails: U64Set::default(),
            addresses: U64Set::default(),
        }
    }

    /// A given name for a woman (`female`) or a man.
    pub(super) fn given(&self, rng: &mut StdRng, female: bool) -> String {
        if rng.random_bool(RARE_GIVEN) {
            return rare_given(rng, female);
        }
        if female {
            let i = self.female.pick(rng);
            maybe_accented(rng, FEMALE[i], self.female_accents[i])
        } else {
            let i = self.male.pick(rng);
            maybe_accented(rng, MALE[i], self.male_accents[i])
        }
    }

    /// A surname: common (by frequency) or rare.
    pub(super) fn surname(&self, rng: &mut StdRng) -> String {
        if rng.random_bool(RARE_SURNAME) {
            return rare_surname(rng);
        }
        self.common_surname(rng)
    }

    /// A surname from the common list, by frequency.
    pub(super) fn common_surname(&self, rng: &mut StdRng) -> String {
        let i = self.surnames.pick(rng);
        maybe_accented(rng, SURNAMES[i], self.surname_accents[i])
    }

    /// Room for `people` more people's phones, emails and addresses.
    pub(super) fn reserve(&mut self, people: usize) {
        self.emails.reserve(people);
        self.addresses.reserve(people / 2 + 1);
    }

    /// The accented spelling of a plain name, if it has one.
    pub(super) fn accented(&self, name: &str) -> Option<&'static str> {
        self.accented.get(name).copied()
    }

    /// Whether a given name (accents ignored) is in the common lists.
    pub(super) fn is_common_given(&self, name: &str) -> bool {
        self.common_given.contains(name) || self.common_given.contains(plain(name).as_str())
    }

    /// Whether a surname (accents ignored) is in the common list.
    pub(super) fn is_common_surname(&self, name: &str) -> bool {
        self.common_surnames.contains(name) || self.common_surnames.contains(plain(name).as_str())
    }

    /// A date of birth for someone `lo..=hi` years old on [`REFERENCE`]
    /// (18 ≤ lo ≤ hi ≤ 90), by the adult age distribution.
    pub(super) fn dob(&self, rng: &mut StdRng, lo: u32, hi: u32) -> NaiveDate {
        let lo = lo.clamp(18, 90);
        let hi = hi.clamp(lo, 90);
        let age = 18
            + self
                .ages
                .pick_in(rng, (lo - 18) as usize, (hi - 18) as usize) as i32;
        let upper = ymd(REFERENCE.year() - age, 11, 30);
        let lower = ymd(REFERENCE.year() - age - 1, 11, 30);
        let span = (upper - lower).num_days().max(1) as u64;
        upper - Days::new(rng.random_range(0..span))
    }

    /// A new address in a random ZIP (away from `avoid_city`, on another
    /// street than `avoid_street`), never handed out before; and its
    /// state's index.
    pub(super) fn address(
        &mut self,
        rng: &mut StdRng,
        avoid_city: Option<&str>,
        avoid_street: Option<&str>,
    ) -> (Address, usize) {
        let mut tries = 0u64;
        loop {
            tries += 1;
            let z = self.zip_weights.pick(rng);
            if avoid_city.is_some_and(|c| c == self.zips[z].city) && tries < 1000 {
                continue;
            }
            let apartment = rng.random_bool(0.2);
            let (line1, line2, key) = if apartment {
                self.apartment(rng, z)
            } else {
                match self.house(rng, z, tries) {
                    Some(house) => house,
                    None => continue,
                }
            };
            if avoid_street.is_some_and(|s| street_part(&line1) == s) {
                continue;
            }
            if self.addresses.insert(key) {
                let zip = &self.zips[z];
                let address = Address {
                    line1,
                    line2,
                    city: zip.city.clone(),
                    state: STATES[zip.state].0.to_string(),
                    postal_code: zip.code.clone(),
                };
                return (address, zip.state);
            }
        }
    }

    /// A house's line 1 and key; `None` if it would be one of the ZIP's
    /// apartment buildings.
    fn house(
        &self,
        rng: &mut StdRng,
        z: usize,
        tries: u64,
    ) -> Option<(String, Option<String>, u64)> {
        let number: u64 = match rng.random_range(0..100) {
            0..15 => rng.random_range(1..100),
            15..50 => rng.random_range(100..1000),
            50..95 => rng.random_range(1000..10000),
            // Past many collisions, numbers nobody has.
            _ => rng.random_range(10000..30000) + tries * 30000,
        };
        let street = rng.random_range(0..STREETS.len());
        let suffix = rng.random_range(0..SUFFIXES.len());
        if (0..4).any(|b| building(z, b) == (number, street, suffix)) {
            return None;
        }
        let key = hash64(&(z, number, street, suffix, ""));
        Some((street_line(rng, number, street, suffix), None, key))
    }

    fn apartment(&self, rng: &mut StdRng, z: usize) -> (String, Option<String>, u64) {
        let (number, street, suffix) = building(z, rng.random_range(0..4));
        let unit = match rng.random_range(0..3) {
            0 => {
                let floor = rng.random_range(1..13u32);
                let letter = char::from(b'A' + rng.random_range(0..8u8));
                format!("{floor}{letter}")
            }
            _ => rng.random_range(1..400u32).to_string(),
        };
        let line2 = match rng.random_range(0..10) {
            0..6 => format!("Apt {unit}"),
            6..9 => format!("Unit {unit}"),
            _ => format!("#{unit}"),
        };
        let key = hash64(&(z, number, street, suffix, unit.as_str()));
        (street_line(rng, number, street, suffix), Some(line2), key)
    }

    /// The index of a state by its code (0 if unknown).
    pub(super) fn state_index(&self, code: &str) -> usize {
        STATES.iter().position(|s| s.0 == code).unwrap_or(0)
    }

    /// A phone number nobody has, mostly with an area code of `state`. The
    /// n-th number of an area code is `start + n × SCATTER` modulo the
    /// 8,000,000 local numbers: scattered, and never twice.
    pub(super) fn phone(&mut self, rng: &mut StdRng, state: usize) -> String {
        loop {
            let st = if rng.random_bool(0.85) {
                state.min(STATES.len() - 1)
            } else {
                rng.random_range(0..STATES.len())
            };
            let codes = STATES[st].3;
            let area = codes[rng.random_range(0..codes.len())] as usize % 1000;
            let (count, start) = &mut self.phones[area];
            if *count == 0 {
                *start = rng.random_range(0..LOCAL_NUMBERS);
            }
            if *count >= LOCAL_NUMBERS {
                continue;
            }
            let local = (*start + *count * SCATTER) % LOCAL_NUMBERS;
            *count += 1;
            let exchange = 200 + local / 10_000;
            if exchange == 555 || exchange % 100 == 11 {
                continue;
            }
            let number = area as u64 * 10_000_000 + exchange * 10_000 + local % 10_000;
            return format_phone(number, phone_style(rng));
        }
    }

    /// An email address derived from a name (or a random handle) that
    /// nobody has.
    pub(super) fn email(&mut self, rng: &mut StdRng, first: &str, last: &str, year: i32) -> String {
        let f = letters(first, "pat");
        let l = letters(last, "lee");
        let fi = &f[..1];
        let local = match rng.random_range(0..20) {
            0..5 => format!("{f}.{l}"),
            5..8 => format!("{f}{l}"),
            8 => format!("{f}_{l}"),
            9..11 => format!("{fi}{l}"),
            11 => format!("{l}.{f}"),
            12..14 => format!("{f}.{l}{}", rng.random_range(1..100)),
            14..16 => format!("{f}{}", year),
            16 => format!("{fi}{l}{}", year % 100),
            _ => handle(rng),
        };
        self.unique_email(rng, local)
    }

    /// A family email for a household with this surname and given names.
    pub(super) fn family_email(&mut self, rng: &mut StdRng, last: &str, firsts: &[&str]) -> String {
        let l = letters(last, "home");
        let a = letters(firsts.first().copied().unwrap_or(""), "mom");
        let b = letters(firsts.get(1).copied().unwrap_or(""), "dad");
        let local = match rng.random_range(0..5) {
            0 => format!("{l}family"),
            1 => format!("the{l}s"),
            2 => format!("{a}and{b}"),
            3 => format!("{l}household"),
            _ => format!("{a}{b}{l}"),
        };
        self.unique_email(rng, local)
    }

    fn unique_email(&mut self, rng: &mut StdRng, local: String) -> String {
        let domain = EMAIL_DOMAINS[self.domains.pick(rng)].0;
        let mut candidate = format!("{local}@{domain}");
        let mut bound = 10u32;
        while !self.emails.insert(hash64(&candidate)) {
            candidate = format!("{local}{}@{domain}", rng.random_range(1..bound));
            bound = bound.saturating_mul(3);
        }
        candidate
    }
}

/// `name`, or its accented spelling ([`ACCENT_RATE`] of the time).
fn maybe_accented(rng: &mut StdRng, name: &'static str, accented: Option<&'static str>) -> String {
    match accented {
        Some(accented) if rng.random_bool(ACCENT_RATE) => accented.to_string(),
        _ => name.to_string(),
    }
}

fn age_weight(age: u32) -> f64 {
    match age {
        18..=24 => 0.9,
        25..=29 => 1.0,
        30..=44 => 1.05,
        45..=64 => 1.0,
        65..=74 => 0.85,
        75..=84 => 0.45,
        _ => 0.15,
    }
}

/// A date from parts known to be valid (falls back to 1970-01-01).
pub(super) fn ymd(y: i32, m: u32, d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, d).unwrap_or_default()
}

/// `YYYY-MM-DD`.
pub(super) fn dob_string(d: NaiveDate) -> String {
    format!("{:04}-{:02}-{:02}", d.year(), d.month(), d.day())
}

/// A `YYYY-MM-DD` date, if it is one.
pub(super) fn parse_dob(s: &str) -> Option<NaiveDate> {
    NaiveDate::parse_from_str(s, "%Y-%m-%d").ok()
}

/// A name without accents (`José` → `Jose`).
pub(super) fn plain(name: &str) -> String {
    deunicode::deunicode(name)
}

/// The lowercase ASCII letters of a name, or `fallback` if it has none.
fn letters(name: &str, fallback: &str) -> String {
    let pick = |s: &str| -> String {
        s.chars()
            .filter(char::is_ascii_alphabetic)
            .map(|c| c.to_ascii_lowercase())
            .collect()
    };
    let s = if name.is_ascii() {
        pick(name)
    } else {
        pick(&plain(name))
    };
    if s.is_empty() {
        fallback.to_string()
    } else {
        s
    }
}

fn handle(rng: &mut StdRng) -> String {
    use super::places::{HANDLE_NOUNS, HANDLE_WORDS};
    let w = HANDLE_WORDS[rng.random_range(0..HANDLE_WORDS.len())];
    let n = HANDLE_NOUNS[rng.random_range(0..HANDLE_NOUNS.len())];
    format!("{w}{n}{}", rng.random_range(1..1000))
}

fn phone_style(rng: &mut StdRng) -> u8 {
    match rng.random_range(0..20) {
        0..7 => 0,
        7..13 => 1,
        13..16 => 2,
        16..18 => 3,
        _ => 4,
    }
}

/// A 10-digit number in one of five styles: `(415) 555-0100`,
/// `415-555-0100`, `4155550100`, `+1 415 555 0100`, `415.555.0100`.
pub(super) fn format_phone(number: u64, style: u8) -> String {
    let (a, e, l) = (number / 10_000_000, number / 10_000 % 1000, number % 10_000);
    match style {
        0 => format!("({a:03}) {e:03}-{l:04}"),
        1 => format!("{a:03}-{e:03}-{l:04}"),
        2 => format!("{a:03}{e:03}{l:04}"),
        3 => format!("+1 {a:03} {e:03} {l:04}"),
        _ => format!("{a:03}.{e:03}.{l:04}"),
    }
}

/// The 10 digits of a US phone number, however written.
pub(super) fn phone_digits(phone: &str) -> Option<u64> {
    let digits: String = phone.chars().filter(char::is_ascii_digit).collect();
    let digits = match digits.len() {
        11 if digits.starts_with('1') => &digits[1..],
        10 => &digits[..],
        _ => return None,
    };
    digits.parse().ok()
}

/// The same phone number written in another style.
pub(super) fn reformat_phone(rng: &mut StdRng, phone: &str) -> String {
    let Some(number) = phone_digits(phone) else {
        return phone.to_string();
    };
    for _ in 0..8 {
        let other = format_phone(number, rng.random_range(0..5));
        if other != phone {
            return other;
        }
    }
    format_phone(number, 0)
}

fn capitalized(s: &str) -> String {
    let mut chars = s.chars();
    match chars.next() {
        Some(c) => c.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}

/// A rare surname built from syllables.
pub(super) fn rare_surname(rng: &mut StdRng) -> String {
    let mut s = String::from(SURNAME_HEADS[rng.random_range(0..SURNAME_HEADS.len())]);
    if rng.random_bool(0.6) {
        s.push_str(SURNAME_MIDS[rng.random_range(0..SURNAME_MIDS.len())]);
        if rng.random_bool(0.25) {
            s.push_str(SURNAME_MIDS[rng.random_range(0..SURNAME_MIDS.len())]);
        }
    }
    s.push_str(SURNAME_TAILS[rng.random_range(0..SURNAME_TAILS.len())]);
    s
}

/// A rare given name built from syllables.
pub(super) fn rare_given(rng: &mut StdRng, female: bool) -> String {
    let tails = if female {
        GIVEN_TAILS_FEMALE
    } else {
        GIVEN_TAILS_MALE
    };
    let head = GIVEN_HEADS[rng.random_range(0..GIVEN_HEADS.len())];
    let tail = tails[rng.random_range(0..tails.len())];
    capitalized(&format!("{head}{tail}"))
}
