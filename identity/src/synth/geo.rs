//! The geography: cities and small towns with their ZIP codes (the same
//! for every seed), and street lines.

use std::collections::HashSet;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use super::places::{CITIES, STATES, STREETS, SUFFIXES, TOWN_HEADS, TOWN_TAILS};
use super::world::{hash64, splitmix};

/// The geography is the same for every seed.
const GEO_SEED: u64 = 0x5EED_CA1E_2026_0F0F;

/// A ZIP code and the city it belongs to.
pub(super) struct Zip {
    /// Five digits.
    pub(super) code: String,
    /// The city's name.
    pub(super) city: String,
    /// The index of its state in `STATES`.
    pub(super) state: usize,
}

/// The street part of a line 1 (`"12 Oak Street"` → `"Oak Street"`).
pub(super) fn street_part(line1: &str) -> &str {
    line1.split_once(' ').map_or(line1, |(_, rest)| rest)
}

/// `"12 Oak Street"` (or `"12 Oak St"`).
pub(super) fn street_line(rng: &mut StdRng, number: u64, street: usize, suffix: usize) -> String {
    let (full, short) = SUFFIXES[suffix];
    let suffix = if rng.random_bool(0.35) { short } else { full };
    format!("{number} {} {suffix}", STREETS[street])
}

/// The line 1 of building `b` (of 4) in ZIP `z`: number, street, suffix.
pub(super) fn building(z: usize, b: usize) -> (u64, usize, usize) {
    let h = splitmix((z as u64) << 8 | b as u64);
    let number = 100 + h % 4900;
    let street = ((h >> 20) % STREETS.len() as u64) as usize;
    let suffix = ((h >> 40) % SUFFIXES.len() as u64) as usize;
    (number, street, suffix)
}

/// How many people live in a ZIP, relatively.
pub(super) fn zip_weight(code: &str) -> f64 {
    0.3 + (hash64(code) % 1000) as f64 / 1000.0
}

/// The cities and their ZIP codes: the big cities get many, small towns
/// one each. Built from a fixed seed.
pub(super) fn geography() -> Vec<Zip> {
    let mut rng = StdRng::seed_from_u64(GEO_SEED);
    let mut used = HashSet::new();
    let mut zips = Vec::new();
    let state_of = |code: &str| STATES.iter().position(|s| s.0 == code).unwrap_or(0);
    for (rank, (city, state)) in CITIES.iter().enumerate() {
        let count = (323.0 / (rank as f64 + 3.0).powf(0.9)).round().max(1.0) as usize;
        let st = state_of(state);
        for _ in 0..count {
            let code = new_zip(&mut rng, &mut used, st);
            zips.push(Zip {
                code,
                city: (*city).to_string(),
                state: st,
            });
        }
    }
    let mut towns = HashSet::new();
    while towns.len() < 700 {
        let head = TOWN_HEADS[rng.random_range(0..TOWN_HEADS.len())];
        let tail = TOWN_TAILS[rng.random_range(0..TOWN_TAILS.len())];
        let st = rng.random_range(0..STATES.len());
        if tail.to_lowercase().contains(&head.to_lowercase()) {
            continue;
        }
        if towns.insert((format!("{head}{tail}"), st)) {
            let code = new_zip(&mut rng, &mut used, st);
            zips.push(Zip {
                code,
                city: format!("{head}{tail}"),
                state: st,
            });
        }
    }
    zips
}

fn new_zip(rng: &mut StdRng, used: &mut HashSet<u32>, state: usize) -> String {
    let (_, lo, hi, _) = STATES[state];
    loop {
        let code = rng.random_range(lo * 100..(hi + 1) * 100);
        if used.insert(code) {
            return format!("{code:05}");
        }
    }
}
