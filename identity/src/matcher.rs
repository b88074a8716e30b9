//! Ranking a person's candidates: the best record of each candidate
//! patient, best first, and the decision.

use std::collections::HashMap;
use std::hash::Hash;

use crate::decision::{self, Decision, Hold};
use crate::model::{Model, Scored};
use crate::record::Record;

/// How many candidate patients an outcome keeps (best first).
pub const KEPT: usize = 5;

/// One candidate patient: its best-scoring record.
#[derive(Debug, Clone)]
pub struct Ranked<K> {
    /// The patient.
    pub patient: K,
    /// The position of its best record in the candidates given to [`rank`].
    pub record: usize,
    /// That record's score.
    pub scored: Scored,
}

/// What matching decided for one incoming person.
#[derive(Debug, Clone)]
pub struct Outcome<K> {
    /// Link (to `ranked[0]`), review or create.
    pub decision: Decision,
    /// Why a link-level score went to review.
    pub hold: Option<Hold>,
    /// Candidate patients, best first, at most [`KEPT`].
    pub ranked: Vec<Ranked<K>>,
}

/// Scores `incoming` against `candidates` (each a patient and one of its
/// records; a patient may come with several) and decides. `capped`: a
/// blocking key's rows were capped.
pub fn rank<'a, K: Eq + Hash + Clone + 'a>(
    model: &Model,
    incoming: &Record,
    candidates: impl IntoIterator<Item = (K, &'a Record)>,
    capped: bool,
) -> Outcome<K> {
    let mut best: HashMap<K, Ranked<K>> = HashMap::new();
    let prepared = crate::compare::Prepared::new(incoming);
    for (i, (patient, record)) in candidates.into_iter().enumerate() {
        let scored = model.score_prepared(&prepared, record);
        match best.get(&patient) {
            Some(r) if r.scored.weight >= scored.weight => {}
            _ => {
                best.insert(
                    patient.clone(),
                    Ranked {
                        patient,
                        record: i,
                        scored,
                    },
                );
            }
        }
    }
    let mut ranked: Vec<Ranked<K>> = best.into_values().collect();
    ranked.sort_by(|a, b| {
        b.scored
            .weight
            .total_cmp(&a.scored.weight)
            .then(a.record.cmp(&b.record))
    });
    ranked.truncate(KEPT);
    let scores: Vec<&Scored> = ranked.iter().map(|r| &r.scored).collect();
    let (decision, hold) = decision::decide(&scores, capped);
    Outcome {
        decision,
        hold,
        ranked,
    }
}
