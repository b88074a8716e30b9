//! From scores to a decision: link, review or create, with the rules no
//! score can override.

use serde::{Deserialize, Serialize};

use crate::compare::{self, Field, Levels};
use crate::model::Scored;

/// Match weight (bits, prior included) at or above which a pair is linked:
/// a match probability of 0.999, so the model expects at most one false link
/// in a thousand auto-links. The evaluation set (see `synth`) sees none.
pub const LINK_WEIGHT: f64 = 9.97;
/// Match weight a pair needs to be linked when nothing but names and date of
/// birth agree (no address, phone or email): P ≥ 1 − 1e-6. Namesakes born
/// the same day exist, and a common name and birthday can reach
/// [`LINK_WEIGHT`]; a rare name and birthday still reach this.
pub const UNCORROBORATED_LINK_WEIGHT: f64 = 20.0;
/// Match weight at or above which a person reviews (probability 0.25): below,
/// a new patient is created.
pub const REVIEW_WEIGHT: f64 = -1.6;

/// What to do with an incoming person.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Decision {
    /// The same person as the best candidate.
    Link,
    /// A person decides.
    Review,
    /// A new patient.
    #[serde(alias = "new")]
    Create,
}

impl Decision {
    /// `link`, `review` or `create`.
    pub fn as_str(self) -> &'static str {
        match self {
            Decision::Link => "link",
            Decision::Review => "review",
            Decision::Create => "create",
        }
    }
}

/// Why a pair that scored as a link goes to review instead.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Hold {
    /// Shares a household's contact or address but not the person's given
    /// name or date of birth: twins, a father and his "Jr.".
    Household,
    /// More than one patient scores as a link: the registry may already hold
    /// this person twice.
    Ambiguous,
    /// A blocking key's rows were capped, so the true record may be unseen:
    /// nobody is created without a person looking.
    BlockingCapped,
}

impl Hold {
    /// Every hold, in the order they are documented.
    pub const ALL: [Hold; 3] = [Hold::Household, Hold::Ambiguous, Hold::BlockingCapped];

    /// `household`, `ambiguous` or `blocking_capped`, as serialised.
    pub fn as_str(self) -> &'static str {
        match self {
            Hold::Household => "household",
            Hold::Ambiguous => "ambiguous",
            Hold::BlockingCapped => "blocking_capped",
        }
    }
}

/// The household rule: a pair that agrees on a shared phone, email or
/// address may be linked only when given name and date of birth agree too
/// (exactly, as a nickname or swap, or by a typo that is not itself another
/// name people in the registry have: twins are named Kayla and Layla,
/// Donald and Ronald) and the recorded sex does not differ.
pub fn household_hold(scored: &Scored) -> bool {
    let levels = &scored.levels;
    let shares_household = levels.get(Field::Phone) == compare::contact::EXACT
        || levels.get(Field::Email) == compare::contact::EXACT
        || matches!(
            levels.get(Field::Address),
            compare::address::EXACT | compare::address::SIMILAR_LINE
        );
    let given_agrees = match levels.get(Field::GivenName) {
        compare::given::EXACT | compare::given::NICKNAME | compare::given::SWAPPED => true,
        compare::given::TYPO => !scored.typo_is_a_name,
        _ => false,
    };
    let dob_agrees = matches!(
        levels.get(Field::DateOfBirth),
        compare::dob::EXACT | compare::dob::DAY_MONTH_SWAPPED | compare::dob::ONE_COMPONENT
    );
    shares_household && (scored.sexes_differ || !(given_agrees && dob_agrees))
}

/// Whether anything beyond names and date of birth agrees.
fn corroborated(levels: &Levels) -> bool {
    levels.get(Field::Phone) == compare::contact::EXACT
        || levels.get(Field::Email) == compare::contact::EXACT
        || matches!(
            levels.get(Field::Address),
            compare::address::EXACT | compare::address::SIMILAR_LINE
        )
}

/// Whether the pair scores as a link: at least [`LINK_WEIGHT`] when an
/// address, phone or email agrees; otherwise at least
/// [`UNCORROBORATED_LINK_WEIGHT`] on names and date of birth alone (what a
/// shared ZIP adds does not count there: namesakes born the same day live
/// in one town too).
pub fn scores_as_link(scored: &Scored) -> bool {
    if corroborated(&scored.levels) {
        return scored.weight >= LINK_WEIGHT;
    }
    let others: f64 = [Field::Address, Field::Phone, Field::Email]
        .iter()
        .map(|f| scored.field_weights[f.index()].max(0.0))
        .sum();
    scored.weight - others >= UNCORROBORATED_LINK_WEIGHT
}

/// Another member of a household the registry knows: what agrees is the
/// household's (address, phone, email, perhaps the family name), while both
/// the given name and the date of birth disagree. A spouse, a parent, a
/// sibling: a new patient, whatever the household's contacts add up to.
pub fn household_member(levels: &Levels) -> bool {
    levels.get(Field::GivenName) == compare::given::DIFFERENT
        && levels.get(Field::DateOfBirth) == compare::dob::DIFFERENT
}

/// The decision for an incoming person, given the best-scoring record of each
/// candidate patient (best first) and whether blocking was capped.
pub fn decide(best_per_patient: &[&Scored], capped: bool) -> (Decision, Option<Hold>) {
    let Some(best) = best_per_patient.first() else {
        return not_found(capped);
    };
    if household_member(&best.levels) {
        return not_found(capped);
    }
    if scores_as_link(best) {
        if household_hold(best) {
            return (Decision::Review, Some(Hold::Household));
        }
        if best_per_patient
            .get(1)
            .is_some_and(|s| scores_as_link(s) && !household_hold(s))
        {
            return (Decision::Review, Some(Hold::Ambiguous));
        }
        return (Decision::Link, None);
    }
    if best.weight >= REVIEW_WEIGHT {
        (Decision::Review, None)
    } else {
        not_found(capped)
    }
}

/// Nobody is this person: create, unless a capped key may hide them.
fn not_found(capped: bool) -> (Decision, Option<Hold>) {
    if capped {
        (Decision::Review, Some(Hold::BlockingCapped))
    } else {
        (Decision::Create, None)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A hold's name is the one it is stored under.
    #[test]
    fn hold_names_are_their_serialised_names() {
        for hold in Hold::ALL {
            assert_eq!(serde_json::to_value(hold).ok(), Some(hold.as_str().into()));
        }
    }
}
