//! What the simulated clinicians decide, as whoever drives the sandbox sets
//! it: `POST /_sandbox/scenarios` with `{"email", "offering", "scenario"}`
//! before a journey starts. The clinical network never learns carepath's
//! journeys, and a journey's case is created by a worker moments after the
//! start, so a rule names what the network does receive: the patient's
//! email (their chart's, when the case is created), and optionally the
//! offering the case is for. A case without a rule takes the configured
//! decision mix (`settings.clinician`).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// How a simulated clinician handles a case.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Scenario {
    /// Approves it, writing a prescription.
    #[serde(rename = "approve")]
    Approve,
    /// Declines it.
    #[serde(rename = "decline")]
    Decline,
    /// Asks one round of questions, then approves once the patient answers.
    #[serde(rename = "more_info")]
    MoreInfo,
    /// Asks two rounds of questions, then approves.
    #[serde(rename = "more_info_2")]
    MoreInfo2,
    /// The network cancels it (no clinician available).
    #[serde(rename = "cancel")]
    Cancel,
    /// A clinician is assigned and never decides.
    #[serde(rename = "stall")]
    Stall,
}

impl Scenario {
    /// Every scenario, in the order error messages list them.
    pub const ALL: [Scenario; 6] = [
        Scenario::Approve,
        Scenario::Decline,
        Scenario::MoreInfo,
        Scenario::MoreInfo2,
        Scenario::Cancel,
        Scenario::Stall,
    ];

    /// The scenario's name, as requests and cases spell it.
    pub fn as_str(self) -> &'static str {
        match self {
            Scenario::Approve => "approve",
            Scenario::Decline => "decline",
            Scenario::MoreInfo => "more_info",
            Scenario::MoreInfo2 => "more_info_2",
            Scenario::Cancel => "cancel",
            Scenario::Stall => "stall",
        }
    }

    /// The scenario named `name`, exactly as [`Self::as_str`] spells it.
    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|s| s.as_str() == name)
    }

    /// Rounds of questions the clinician asks before deciding.
    pub fn rounds(self) -> u64 {
        match self {
            Scenario::MoreInfo => 1,
            Scenario::MoreInfo2 => 2,
            _ => 0,
        }
    }
}

/// Cases of the patient whose chart has `email` (compared ignoring case and
/// surrounding spaces) — for `offering` only, when it is named — go as
/// `scenario`. A rule for the patient and the case's offering wins over one
/// for the patient alone.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScenarioRule {
    pub email: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub offering: Option<String>,
    pub scenario: Scenario,
}

impl ScenarioRule {
    /// Reads a rule from a `POST /_sandbox/scenarios` body. Errors: the
    /// first problem, as the field it is about and a message — a body that
    /// is not an object (field `body`), an unknown field, an `email` that is
    /// not text or is blank, an `offering` that is not text, a `scenario`
    /// that is not one of [`Scenario::ALL`].
    pub fn from_json(body: &Value) -> Result<Self, (String, String)> {
        let problem = |field: &str, message: String| Err((field.to_owned(), message));
        let Some(fields) = body.as_object() else {
            return problem("body", "must be a JSON object".into());
        };
        if let Some(unknown) = fields
            .keys()
            .find(|k| !["email", "offering", "scenario"].contains(&k.as_str()))
        {
            return problem(unknown, "is not a field of a scenario rule".into());
        }
        let email = match body["email"].as_str().map(str::trim) {
            Some(email) if !email.is_empty() => email.to_owned(),
            _ => return problem("email", "is required: the patient's email".into()),
        };
        let offering = match &body["offering"] {
            Value::Null => None,
            Value::String(o) => Some(o.clone()),
            _ => return problem("offering", "must be an offering id".into()),
        };
        let Some(scenario) = body["scenario"].as_str().and_then(Scenario::parse) else {
            let names: Vec<&str> = Scenario::ALL.iter().map(|s| s.as_str()).collect();
            return problem("scenario", format!("must be one of {}", names.join(", ")));
        };
        Ok(Self {
            email,
            offering,
            scenario,
        })
    }
}

/// The rules set, one per patient email and offering (or none); a rule for
/// the same pair replaces the one before.
#[derive(Debug, Default)]
pub struct Scenarios {
    rules: BTreeMap<(String, Option<String>), Scenario>,
}

impl Scenarios {
    pub fn set(&mut self, rule: ScenarioRule) {
        self.rules
            .insert((key(&rule.email), rule.offering), rule.scenario);
    }

    /// Every rule, by email (as compared: trimmed, in lower case) and offering.
    pub fn rules(&self) -> Vec<ScenarioRule> {
        self.rules
            .iter()
            .map(|((email, offering), scenario)| ScenarioRule {
                email: email.clone(),
                offering: offering.clone(),
                scenario: *scenario,
            })
            .collect()
    }

    /// The scenario of a case for the patient whose chart has `email`, for
    /// `offering`: the rule for both, else the rule for the patient alone.
    pub fn for_case(&self, email: Option<&str>, offering: Option<&str>) -> Option<Scenario> {
        let email = key(email?);
        let specific = offering.and_then(|o| self.rules.get(&(email.clone(), Some(o.to_owned()))));
        specific.or_else(|| self.rules.get(&(email, None))).copied()
    }
}

/// An email as rules are looked up by.
fn key(email: &str) -> String {
    email.trim().to_lowercase()
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn rule(body: Value) -> ScenarioRule {
        ScenarioRule::from_json(&body).unwrap_or_else(|e| panic!("{body}: {e:?}"))
    }

    fn refused(body: Value) -> String {
        match ScenarioRule::from_json(&body) {
            Ok(r) => panic!("{body} was accepted: {r:?}"),
            Err((field, _)) => field,
        }
    }

    #[test]
    fn a_case_takes_its_patients_rule_whatever_the_emails_case_and_spaces() {
        let mut rules = Scenarios::default();
        rules.set(rule(
            json!({ "email": " Ann.Lee@Example.com ", "scenario": "decline" }),
        ));
        for email in [
            "ann.lee@example.com",
            "ANN.LEE@EXAMPLE.COM ",
            "\tAnn.Lee@example.COM",
        ] {
            assert_eq!(
                rules.for_case(Some(email), Some("glp1")),
                Some(Scenario::Decline),
                "{email:?}"
            );
        }
        assert_eq!(rules.for_case(Some("bob@example.com"), Some("glp1")), None);
        assert_eq!(rules.for_case(None, Some("glp1")), None);
    }

    #[test]
    fn a_rule_for_the_offering_wins_and_a_later_rule_replaces_an_earlier_one() {
        let mut rules = Scenarios::default();
        rules.set(rule(
            json!({ "email": "ann@example.com", "scenario": "approve" }),
        ));
        rules.set(rule(
            json!({ "email": "ann@example.com", "offering": "derm", "scenario": "more_info_2" }),
        ));
        let ann = Some("ann@example.com");
        assert_eq!(rules.for_case(ann, Some("derm")), Some(Scenario::MoreInfo2));
        assert_eq!(rules.for_case(ann, Some("glp1")), Some(Scenario::Approve));
        assert_eq!(rules.for_case(ann, None), Some(Scenario::Approve));
        rules.set(rule(
            json!({ "email": "ANN@example.com", "scenario": "stall" }),
        ));
        assert_eq!(rules.for_case(ann, Some("glp1")), Some(Scenario::Stall));
        assert_eq!(rules.rules().len(), 2);
    }

    #[test]
    fn every_scenario_name_is_read_and_anything_else_is_refused_naming_the_field() {
        for s in Scenario::ALL {
            let r = rule(json!({ "email": "a@example.com", "scenario": s.as_str() }));
            assert_eq!(r.scenario, s);
            let shown = serde_json::to_value(&r).unwrap_or_default();
            assert_eq!(shown["scenario"], s.as_str());
        }
        let email = "a@example.com";
        for (body, field) in [
            (
                json!({ "email": email, "scenario": "approved" }),
                "scenario",
            ),
            (json!({ "email": email, "scenario": "Approve" }), "scenario"),
            (json!({ "email": email, "scenario": 1 }), "scenario"),
            (json!({ "email": email }), "scenario"),
            (json!({ "scenario": "approve" }), "email"),
            (json!({ "email": "  ", "scenario": "approve" }), "email"),
            (json!({ "email": 7, "scenario": "approve" }), "email"),
            (
                json!({ "email": email, "offering": 7, "scenario": "approve" }),
                "offering",
            ),
            (
                json!({ "email": email, "scenario": "approve", "journey": "j1" }),
                "journey",
            ),
            (json!(["approve"]), "body"),
        ] {
            assert_eq!(refused(body.clone()), field, "{body}");
        }
    }
}
