//! The Fellegi–Sunter model: for each field and comparison level, m (the
//! probability of that level when the two records are the same person) and
//! u (when they are not); a pair's match weight is the sum over fields of
//! log2(m/u), plus the prior, in bits. Exact name agreements are weighed by
//! the name's term frequency in the registry instead of the average u, as in
//! Splink: two records agreeing on "Smith" is weak evidence, on "Okonkwo-Hale"
//! strong.
//!
//! Source: Fellegi & Sunter, "A Theory for Record Linkage", JASA 64 (1969);
//! Splink's documentation of match weights and term-frequency adjustments
//! (moj-analytical-services.github.io/splink).

use std::collections::HashMap;

use serde::{Deserialize, Serialize};

use crate::compare::{self, Field, Levels};
use crate::record::Record;

/// Below this many records, name frequencies say more about the sample than
/// the population: exact name agreement is weighed with the average u.
pub const MIN_RECORDS_FOR_TERM_FREQUENCIES: u64 = 2_000;
/// The registry size the prior assumes at least (see [`Model::prior`]).
pub const MIN_PRIOR_RECORDS: u64 = 100_000;
/// The smallest u a weight is computed with, so that no level is infinite evidence.
pub const MIN_U: f64 = 1e-7;

/// m and u per field and level (`[field][level]`, level 0 unused), and how
/// they were obtained.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Model {
    /// P(level | same person), per field in [`Field::ALL`] order, per level.
    pub m: Vec<Vec<f64>>,
    /// P(level | different people), likewise.
    pub u: Vec<Vec<f64>>,
    /// Name frequencies in the registry.
    pub tf: TermFrequencies,
    /// Records in the registry when the model was made: the prior is one in this many.
    pub registry_records: u64,
    /// How m and u were obtained.
    pub provenance: Provenance,
}

/// How a model's probabilities were obtained.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Provenance {
    /// The documented starting values ([`Model::fallback`]): the registry was
    /// too small to estimate from.
    Fallback {
        /// Why.
        reason: String,
    },
    /// u from random pairs of the registry, m by expectation maximisation on
    /// blocked pairs of the registry.
    Estimated {
        /// Records the estimate was made from.
        records: u64,
        /// Random pairs u was counted on.
        u_pairs: u64,
        /// Per EM session: the blocking rule, its pairs, iterations, and the
        /// share of pairs it judged to be matches.
        sessions: Vec<EmSession>,
    },
}

/// One expectation-maximisation session (Splink's training session): pairs
/// blocked on some fields, m estimated for the others.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct EmSession {
    /// The fields pairs were blocked on (`"date_of_birth"`).
    pub blocked_on: String,
    /// Pairs compared.
    pub pairs: u64,
    /// Iterations run.
    pub iterations: u32,
    /// Estimated share of the pairs that are the same person.
    pub match_share: f64,
    /// Whether its m estimates were used (too few expected matches: kept the fallback's).
    pub used: bool,
}

/// How often each (normalised) name occurs in the registry.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct TermFrequencies {
    /// Records counted.
    pub records: u64,
    /// First given-name part → records.
    pub given: HashMap<String, u32>,
    /// Family name as one word → records.
    pub family: HashMap<String, u32>,
}

impl TermFrequencies {
    /// Counts the names of `records`.
    pub fn count<'a>(records: impl IntoIterator<Item = &'a Record>) -> TermFrequencies {
        let mut tf = TermFrequencies::default();
        for r in records {
            tf.records += 1;
            *tf.given.entry(r.first_given().to_owned()).or_default() += 1;
            *tf.family.entry(r.family_joined().into_owned()).or_default() += 1;
        }
        tf
    }

    /// Whether `given` is a name at least two records of the registry have
    /// (true when the registry is too small to tell: the safe answer).
    pub fn known_name(&self, given: &str) -> bool {
        self.records < MIN_RECORDS_FOR_TERM_FREQUENCIES
            || self.given.get(given).is_some_and(|n| *n >= 2)
    }

    /// The share of records with this name, never below one record's.
    fn share(&self, table: &HashMap<String, u32>, value: &str) -> Option<f64> {
        (self.records >= MIN_RECORDS_FOR_TERM_FREQUENCIES).then(|| {
            let n = table.get(value).copied().unwrap_or(0).max(1);
            f64::from(n) / self.records as f64
        })
    }
}

/// A scored pair: its levels, each field's weight, the total.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Scored {
    /// The comparison level of each field.
    #[serde(skip)]
    pub levels: Levels,
    /// log2(m/u) per field in [`Field::ALL`] order, bits (0 for null).
    pub field_weights: [f64; 6],
    /// log2 of the prior odds, bits.
    pub prior: f64,
    /// The match weight: prior plus field weights, bits.
    pub weight: f64,
    /// The match probability, 2^w / (1 + 2^w).
    pub probability: f64,
    /// Both records give a sex, and they differ.
    pub sexes_differ: bool,
    /// The given names are a typo apart, and the incoming one is itself a
    /// name other people in the registry have (or the registry is too small
    /// to tell): Kayla for Layla is a sister, not a slip.
    pub typo_is_a_name: bool,
}

impl Model {
    /// The documented starting values, used until the registry is big enough
    /// to estimate from (see `estimate`). m: how often a returning patient's
    /// intake shows each level (typos, nicknames, moves, new contacts), as
    /// reported for registration data (Winkler 1990s census work; the rates
    /// of this crate's synthetic generator are of the same order). u: how
    /// often two different US adults show each level (a shared date of birth
    /// one in ~25,000; a shared phone or address, households aside, rare).
    pub fn fallback() -> Model {
        Model {
            m: vec![
                vec![0.0, 0.86, 0.04, 0.05, 0.01, 0.01, 0.03],
                vec![0.0, 0.85, 0.04, 0.03, 0.01, 0.01, 0.06],
                vec![0.0, 0.92, 0.01, 0.05, 0.02],
                vec![0.0, 0.75, 0.05, 0.03, 0.01, 0.16],
                vec![0.0, 0.70, 0.30],
                vec![0.0, 0.70, 0.30],
            ],
            u: vec![
                vec![0.0, 0.005, 0.0005, 0.002, 0.005, 0.00001, 0.98749],
                vec![0.0, 0.002, 0.002, 0.0005, 0.003, 0.00001, 0.99249],
                vec![0.0, 0.00004, 0.00001, 0.002, 0.99795],
                vec![0.0, 0.00002, 0.00001, 0.0005, 0.00001, 0.99946],
                vec![0.0, 0.00002, 0.99998],
                vec![0.0, 0.00001, 0.99999],
            ],
            tf: TermFrequencies::default(),
            registry_records: 0,
            provenance: Provenance::Fallback {
                reason: "no registry to estimate from".into(),
            },
        }
    }

    /// The prior odds that a record of the registry is a given incoming
    /// person, in bits: one in the registry's size, and never more than one
    /// in [`MIN_PRIOR_RECORDS`] — a brand's registry is a sample of a far
    /// bigger population, so a small one must not make a shared name and
    /// date of birth enough to link.
    pub fn prior(&self) -> f64 {
        -(self.registry_records.max(MIN_PRIOR_RECORDS) as f64).log2()
    }

    /// Scores the pair (`incoming`, `stored`).
    pub fn score(&self, incoming: &Record, stored: &Record) -> Scored {
        self.score_prepared(&compare::Prepared::new(incoming), stored)
    }

    /// [`Model::score`] of a prepared incoming record (prepare it once to
    /// score it against many).
    pub fn score_prepared(&self, prepared: &compare::Prepared<'_>, stored: &Record) -> Scored {
        let incoming = prepared.record;
        let levels = compare::compare_prepared(prepared, stored);
        let mut field_weights = [0.0; 6];
        for field in Field::ALL {
            field_weights[field.index()] = self.field_weight(field, levels.get(field), stored);
        }
        let prior = self.prior();
        let weight = prior + field_weights.iter().sum::<f64>();
        Scored {
            levels,
            field_weights,
            prior,
            weight,
            probability: probability(weight),
            sexes_differ: matches!((incoming.sex, stored.sex), (Some(a), Some(b)) if a != b),
            typo_is_a_name: levels.get(Field::GivenName) == compare::given::TYPO
                && self.tf.known_name(incoming.first_given()),
        }
    }

    /// log2(m/u) of `field` at `level`; exact names by their frequency.
    pub fn field_weight(&self, field: Field, level: u8, stored: &Record) -> f64 {
        if level == compare::NULL {
            return 0.0;
        }
        let (f, l) = (field.index(), usize::from(level));
        let m = self.m.get(f).and_then(|v| v.get(l)).copied().unwrap_or(0.0);
        let mut u = self.u.get(f).and_then(|v| v.get(l)).copied().unwrap_or(1.0);
        let exact = level == 1;
        let tf = match field {
            Field::GivenName if exact => self.tf.share(&self.tf.given, stored.first_given()),
            Field::FamilyName if exact => self.tf.share(&self.tf.family, &stored.family_joined()),
            _ => None,
        };
        if let Some(share) = tf {
            u = share;
        }
        (m.max(MIN_U) / u.max(MIN_U)).log2()
    }
}

/// 2^w / (1 + 2^w).
pub fn probability(weight: f64) -> f64 {
    let odds = weight.exp2();
    if odds.is_infinite() {
        1.0
    } else {
        odds / (1.0 + odds)
    }
}
