//! The labelled evaluation: a synthetic registry of 100,000 people in
//! households (twins, juniors, shared phones), intakes of returning
//! patients with the slips real intakes make and of new people who resemble
//! registry people, matched at the shipped thresholds with a model
//! estimated on the registry itself. Fails on any false link and on the
//! recall, review and new-chart bounds of issue 12.

use std::collections::BTreeMap;

use carepath_identity::blocking::BlockIndex;
use carepath_identity::estimate::{self, Estimation};
use carepath_identity::model::TermFrequencies;
use carepath_identity::synth::{self, Scenario};
use carepath_identity::{Decision, Record, matcher};

#[derive(Default, Clone, Copy)]
struct Tally {
    probes: u32,
    linked: u32,
    false_links: u32,
    review: u32,
    created: u32,
}

impl Tally {
    fn share(&self, n: u32) -> f64 {
        f64::from(n) / f64::from(self.probes.max(1))
    }
}

fn run(seed: u64, registry: usize, per_scenario: usize) -> BTreeMap<Scenario, Tally> {
    let set = synth::generate(seed, registry, per_scenario);
    let records: Vec<Record> = set.registry.iter().map(Record::of).collect();
    let tf = TermFrequencies::count(&records);
    let model = estimate::estimate(&records, tf, records.len() as u64, &Estimation::default());
    println!(
        "model: {}",
        serde_json::to_string(&model.provenance).unwrap_or_default()
    );
    let mut index = BlockIndex::default();
    for (i, r) in records.iter().enumerate() {
        index.insert(i, r);
    }
    let mut tallies: BTreeMap<Scenario, Tally> = BTreeMap::new();
    let (started, mut compared) = (std::time::Instant::now(), 0usize);
    for probe in &set.probes {
        let incoming = Record::of(&probe.person);
        let (found, capped) = index.candidates(&incoming);
        compared += found.len();
        let outcome = matcher::rank(
            &model,
            &incoming,
            found.iter().map(|&i| (i, &records[i])),
            capped,
        );
        let t = tallies.entry(probe.scenario).or_default();
        t.probes += 1;
        match outcome.decision {
            Decision::Link => {
                let linked = outcome
                    .ranked
                    .first()
                    .map(|r| set.registry[r.patient].external_id.as_str());
                if linked.is_some() && linked == probe.truth.as_deref() {
                    t.linked += 1;
                } else {
                    t.false_links += 1;
                    if let Some(r) = outcome.ranked.first() {
                        let levels: Vec<String> = carepath_identity::compare::Field::ALL
                            .iter()
                            .map(|f| {
                                format!(
                                    "{}={}({:.1})",
                                    f.name(),
                                    r.scored.levels.name(*f),
                                    r.scored.field_weights[f.index()]
                                )
                            })
                            .collect();
                        println!(
                            "FALSE {} w={:.1} {}",
                            probe.scenario.name(),
                            r.scored.weight,
                            levels.join(" ")
                        );
                    }
                }
            }
            Decision::Review => t.review += 1,
            Decision::Create => t.created += 1,
        }
    }
    // Not an assertion: what the blocking and scoring cost, for the record.
    println!(
        "{} intakes scored against {compared} candidate records in {:.2?} (in memory, this build)",
        set.probes.len(),
        started.elapsed()
    );
    tallies
}

/// Weighted by each scenario's share of a realistic intake stream.
fn weighted(
    tallies: &BTreeMap<Scenario, Tally>,
    pick: impl Fn(Scenario) -> bool,
    n: impl Fn(&Tally) -> u32,
) -> f64 {
    let (mut num, mut den) = (0.0, 0.0);
    for (s, t) in tallies.iter().filter(|(s, _)| pick(**s)) {
        num += f64::from(s.weight()) * t.share(n(t));
        den += f64::from(s.weight());
    }
    num / den.max(1.0)
}

#[test]
fn no_false_links_and_returning_patients_are_found() {
    // Another seed: CAREPATH_EVAL_SEED=3 cargo test -p carepath-identity --test evaluation
    let seed = std::env::var("CAREPATH_EVAL_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(12);
    let tallies = run(seed, 100_000, 300);
    println!(
        "| scenario | returning | probes | linked (right patient) | false links | review | new chart |"
    );
    println!("|---|---|---:|---:|---:|---:|---:|");
    for (s, t) in &tallies {
        println!(
            "| {} | {} | {} | {:.3} | {} | {:.3} | {:.3} |",
            s.name(),
            if s.returning() { "yes" } else { "no" },
            t.probes,
            t.share(t.linked),
            t.false_links,
            t.share(t.review),
            t.share(t.created)
        );
    }
    let false_links: u32 = tallies.values().map(|t| t.false_links).sum();
    let kept_address = weighted(&tallies, |s| s.keeps_address(), |t| t.linked);
    let new_contacts = tallies
        .get(&Scenario::NewPhoneAndEmail)
        .map_or(0.0, |t| t.share(t.linked));
    let review = weighted(&tallies, |s| s.returning(), |t| t.review);
    let created = weighted(&tallies, |s| s.returning(), |t| t.created);
    println!(
        "false links {false_links}; recall, kept address {kept_address:.4}; recall, new phone and email {new_contacts:.4}; \
         returning patients to review {review:.4}, to a new chart {created:.4} (weighted by scenario frequency)"
    );
    assert_eq!(false_links, 0, "two different people were linked");
    assert!(
        kept_address >= 0.97,
        "recall with the same address {kept_address:.4}"
    );
    assert!(
        new_contacts >= 0.90,
        "recall with a new phone and email {new_contacts:.4}"
    );
    assert!(review <= 0.03, "review share {review:.4}");
    assert!(created <= 0.01, "new-chart share {created:.4}");
}
