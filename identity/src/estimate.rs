//! Estimating m and u on the registry itself.
//!
//! - u: the level frequencies of random pairs of records (nearly all pairs
//!   of a registry are different people); exact levels from the value
//!   frequencies directly (the sum of squared shares), since random pairs
//!   rarely agree exactly.
//! - m: expectation maximisation (Dempster, Laird & Rubin 1977; for record
//!   linkage, Winkler 1988) on blocked pairs, in two sessions as Splink
//!   trains: pairs sharing a date of birth estimate the other fields' m,
//!   pairs sharing given and family name estimate the date of birth's. The
//!   fallback's m act as a prior worth [`Estimation::prior_pairs`] pairs, so
//!   a registry with few duplicates moves them little, one with many moves
//!   them to what it shows. A session with too few expected matches is not
//!   used (the fallback stands): a registry that holds each person once
//!   cannot teach m, only u.

use std::collections::HashMap;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use crate::compare::{self, Field, Levels};
use crate::model::{EmSession, Model, Provenance, TermFrequencies};
use crate::record::Record;

/// The least m of exact agreement on a name or the date of birth an
/// estimate may show and be used: a person's records agree exactly on them
/// far more often than not.
pub const MIN_PLAUSIBLE_EXACT_M: f64 = 0.6;

/// Settings of an estimation.
#[derive(Debug, Clone)]
pub struct Estimation {
    /// Below this many records the fallback is used.
    pub min_records: usize,
    /// Random pairs u is counted on.
    pub u_pairs: usize,
    /// Pairs an EM session compares at most (blocks sampled beyond).
    pub max_em_pairs: usize,
    /// How many pairs' worth of evidence the fallback's m count for.
    pub prior_pairs: f64,
    /// A session with fewer expected matches is not used.
    pub min_expected_matches: f64,
    /// Seed of the pair sampling (estimates are reproducible).
    pub seed: u64,
}

impl Default for Estimation {
    fn default() -> Self {
        Estimation {
            min_records: 1_000,
            u_pairs: 1_000_000,
            max_em_pairs: 400_000,
            prior_pairs: 2_000.0,
            min_expected_matches: 50.0,
            seed: 20_261_130,
        }
    }
}

/// Estimates a model from `records` (the registry, or a random sample of
/// it), with name frequencies `tf` (of the whole registry) and the registry's
/// size `registry_records` (the prior).
pub fn estimate(
    records: &[Record],
    tf: TermFrequencies,
    registry_records: u64,
    opts: &Estimation,
) -> Model {
    let mut model = Model::fallback();
    model.tf = tf;
    model.registry_records = registry_records;
    if records.len() < opts.min_records {
        model.provenance = Provenance::Fallback {
            reason: format!(
                "{} records; estimation needs {}",
                records.len(),
                opts.min_records
            ),
        };
        return model;
    }
    let mut rng = StdRng::seed_from_u64(opts.seed);
    let u_pairs = opts.u_pairs.min(records.len() * (records.len() - 1) / 2);
    model.u = estimate_u(records, u_pairs, &mut rng, &model.u);
    let dob_pairs = pairs_within(
        records,
        |r| r.dob.map(|d| d.to_string()),
        opts.max_em_pairs,
        &mut rng,
    );
    let name_pairs = pairs_within(
        records,
        |r| (!r.family.is_empty()).then(|| format!("{}|{}", r.first_given(), r.family_joined())),
        opts.max_em_pairs,
        &mut rng,
    );
    let sessions = [
        ("date_of_birth", vec![Field::DateOfBirth], dob_pairs),
        (
            "given_name+family_name",
            vec![Field::GivenName, Field::FamilyName],
            name_pairs,
        ),
    ];
    let prior_m = model.m.clone();
    let mut sums: Vec<Vec<f64>> = prior_m.iter().map(|v| vec![0.0; v.len()]).collect();
    let mut counts = [0u32; 6];
    let mut reports = Vec::new();
    for (name, blocked, pairs) in sessions {
        let (m, report) = em(records, &pairs, &blocked, &model.u, &prior_m, opts, name);
        if report.used {
            for field in Field::ALL.iter().filter(|f| !blocked.contains(f)) {
                let i = field.index();
                for (s, v) in sums[i].iter_mut().zip(&m[i]) {
                    *s += v;
                }
                counts[i] += 1;
            }
        }
        reports.push(report);
    }
    for field in Field::ALL {
        let i = field.index();
        if counts[i] > 0 {
            model.m[i] = sums[i].iter().map(|s| s / f64::from(counts[i])).collect();
        }
    }
    model.provenance = Provenance::Estimated {
        records: records.len() as u64,
        u_pairs: u_pairs as u64,
        sessions: reports,
    };
    model
}

fn estimate_u(
    records: &[Record],
    pairs: usize,
    rng: &mut StdRng,
    fallback: &[Vec<f64>],
) -> Vec<Vec<f64>> {
    let mut counts: Vec<Vec<f64>> = fallback.iter().map(|v| vec![0.0; v.len()]).collect();
    for _ in 0..pairs {
        let (i, j) = (
            rng.random_range(0..records.len()),
            rng.random_range(0..records.len()),
        );
        if i == j {
            continue;
        }
        let levels = compare::compare(&records[i], &records[j]);
        for field in Field::ALL {
            counts[field.index()][usize::from(levels.get(field))] += 1.0;
        }
    }
    let exact = exact_shares(records);
    let mut u = Vec::new();
    for field in Field::ALL {
        let i = field.index();
        // A pseudo-count of the fallback keeps levels random pairs never
        // showed from being impossible.
        let seen: f64 = counts[i][1..].iter().sum();
        let weight = 1_000.0;
        let mut row: Vec<f64> = (0..counts[i].len())
            .map(|l| {
                if l == 0 {
                    0.0
                } else {
                    (counts[i][l] + weight * fallback[i][l]) / (seen + weight)
                }
            })
            .collect();
        let rest: f64 = row[2..].iter().sum();
        let exact_u = exact[i].max(1e-7);
        row[1] = exact_u;
        for v in row.iter_mut().skip(2) {
            *v *= (1.0 - exact_u) / rest.max(f64::MIN_POSITIVE);
        }
        u.push(row);
    }
    u
}

/// Per field, the chance that two random records agree exactly: the sum of
/// the squared shares of its values.
fn exact_shares(records: &[Record]) -> [f64; 6] {
    let values: [fn(&Record) -> Option<String>; 6] = [
        |r| Some(r.first_given().to_owned()).filter(|s| !s.is_empty()),
        |r| Some(r.family_joined().into_owned()).filter(|s| !s.is_empty()),
        |r| r.dob.map(|d| d.to_string()),
        |r| match (&r.address_line, &r.postal_code) {
            (Some(l), Some(p)) => Some(format!("{l}|{p}")),
            _ => None,
        },
        |r| r.phone.clone(),
        |r| r.email.clone(),
    ];
    let mut shares = [0.0; 6];
    for (i, value) in values.iter().enumerate() {
        let mut counts: HashMap<String, f64> = HashMap::new();
        let mut total = 0.0;
        for v in records.iter().filter_map(value) {
            *counts.entry(v).or_default() += 1.0;
            total += 1.0;
        }
        if total > 1.0 {
            shares[i] =
                counts.values().map(|c| c * (c - 1.0)).sum::<f64>() / (total * (total - 1.0));
        }
    }
    shares
}

/// Pairs of records with the same `key`, at most `max` (whole blocks taken
/// in random order until the budget is spent).
fn pairs_within(
    records: &[Record],
    key: impl Fn(&Record) -> Option<String>,
    max: usize,
    rng: &mut StdRng,
) -> Vec<(usize, usize)> {
    let mut blocks: HashMap<String, Vec<usize>> = HashMap::new();
    for (i, r) in records.iter().enumerate() {
        if let Some(k) = key(r) {
            blocks.entry(k).or_default().push(i);
        }
    }
    let mut blocks: Vec<Vec<usize>> = blocks.into_values().filter(|b| b.len() > 1).collect();
    blocks.sort();
    let mut pairs = Vec::new();
    while !blocks.is_empty() && pairs.len() < max {
        let block = blocks.swap_remove(rng.random_range(0..blocks.len()));
        for (n, &i) in block.iter().enumerate() {
            for &j in &block[n + 1..] {
                pairs.push((i, j));
            }
        }
    }
    pairs.truncate(max);
    pairs
}

/// One EM session: m for the fields not blocked on, u fixed.
fn em(
    records: &[Record],
    pairs: &[(usize, usize)],
    blocked: &[Field],
    u: &[Vec<f64>],
    prior_m: &[Vec<f64>],
    opts: &Estimation,
    name: &str,
) -> (Vec<Vec<f64>>, EmSession) {
    let mut patterns: HashMap<Levels, f64> = HashMap::new();
    for &(i, j) in pairs {
        *patterns
            .entry(compare::compare(&records[i], &records[j]))
            .or_default() += 1.0;
    }
    let free: Vec<Field> = Field::ALL
        .into_iter()
        .filter(|f| !blocked.contains(f))
        .collect();
    let mut m = prior_m.to_vec();
    let mut lambda = 0.01;
    let mut iterations = 0;
    let mut expected_matches = 0.0;
    while iterations < 200 {
        iterations += 1;
        let mut expected: Vec<Vec<f64>> = m.iter().map(|v| vec![0.0; v.len()]).collect();
        expected_matches = 0.0;
        for (levels, count) in &patterns {
            let (mut lm, mut lu) = (lambda, 1.0 - lambda);
            for f in &free {
                let (i, l) = (f.index(), usize::from(levels.get(*f)));
                if l != 0 {
                    lm *= m[i][l].max(1e-9);
                    lu *= u[i][l].max(1e-9);
                }
            }
            let w = lm / (lm + lu);
            expected_matches += w * count;
            for f in &free {
                let (i, l) = (f.index(), usize::from(levels.get(*f)));
                expected[i][l] += w * count;
            }
        }
        lambda = (expected_matches / pairs.len().max(1) as f64).clamp(1e-6, 0.999);
        let mut change: f64 = 0.0;
        for f in &free {
            let i = f.index();
            let total: f64 = expected[i][1..].iter().sum();
            for l in 1..m[i].len() {
                let next = (expected[i][l] + opts.prior_pairs * prior_m[i][l])
                    / (total + opts.prior_pairs);
                change = change.max((next - m[i][l]).abs());
                m[i][l] = next;
            }
        }
        if change < 1e-6 {
            break;
        }
    }
    // A registry that holds each person once has no matches to learn from,
    // and EM then fits its "match" class to whatever clusters: namesakes,
    // twins, households. Their m says a person's own records disagree on
    // name or date of birth as often as not, which no registry shows: such
    // an estimate is not used.
    let plausible = free
        .iter()
        .filter(|f| matches!(f, Field::GivenName | Field::FamilyName | Field::DateOfBirth))
        .all(|f| m[f.index()][1] >= MIN_PLAUSIBLE_EXACT_M);
    let used = expected_matches >= opts.min_expected_matches && plausible;
    let report = EmSession {
        blocked_on: name.to_owned(),
        pairs: pairs.len() as u64,
        iterations,
        match_share: lambda,
        used,
    };
    (m, report)
}
