//! Intake: versioned questionnaires kept as data (`workflows/questionnaires/`),
//! the answers checked against the version the patient saw, and eligibility.
//! A journey keeps the version it started on, so its wording stays the one the
//! patient answered after a new version ships.

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use serde_json::Value;

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Questionnaire {
    pub id: String,
    pub version: u32,
    pub title: String,
    pub questions: Vec<Question>,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Question {
    pub id: String,
    pub text: String,
    #[serde(rename = "type")]
    pub kind: Kind,
    #[serde(default)]
    pub required: bool,
    #[serde(default)]
    pub choices: Vec<String>,
    pub min: Option<f64>,
    pub max: Option<f64>,
    /// Asked only when another answer has this value.
    pub when: Option<Condition>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    Text,
    Number,
    Boolean,
    Choice,
    MultiChoice,
    Date,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Condition {
    pub question: String,
    pub equals: Value,
}

/// A problem with the input, as (field path, message).
pub type Problem = (String, String);

/// The questionnaires shipped with this build.
pub struct Questionnaires(Vec<Questionnaire>);

const BUNDLED: [&str; 4] = [
    include_str!("../../questionnaires/weight_management.v1.json"),
    include_str!("../../questionnaires/weight_management.v2.json"),
    include_str!("../../questionnaires/dermatology.v1.json"),
    include_str!("../../questionnaires/dermatology.v2.json"),
];

impl Questionnaires {
    pub fn bundled() -> Result<Self, serde_json::Error> {
        BUNDLED
            .iter()
            .map(|text| serde_json::from_str(text))
            .collect::<Result<Vec<_>, _>>()
            .map(Self)
    }

    pub fn get(&self, id: &str, version: u32) -> Option<&Questionnaire> {
        self.0.iter().find(|q| q.id == id && q.version == version)
    }

    pub fn latest(&self, id: &str) -> Option<&Questionnaire> {
        self.0
            .iter()
            .filter(|q| q.id == id)
            .max_by_key(|q| q.version)
    }
}

impl Questionnaire {
    /// Checks `answers` (an object keyed by question id) against this version.
    pub fn validate(&self, answers: &Value) -> Vec<Problem> {
        let path = |id: &str| format!("questionnaire.answers.{id}");
        let Some(given) = answers.as_object() else {
            return vec![("questionnaire.answers".into(), "must be an object".into())];
        };
        let mut problems = Vec::new();
        for key in given.keys() {
            if !self.questions.iter().any(|q| &q.id == key) {
                problems.push((
                    path(key),
                    format!("is not a question of {} v{}", self.id, self.version),
                ));
            }
        }
        for q in &self.questions {
            let asked = q
                .when
                .as_ref()
                .is_none_or(|c| given.get(&c.question) == Some(&c.equals));
            match (given.get(&q.id), asked) {
                (Some(_), false) => {
                    problems.push((path(&q.id), "answers a question that was not asked".into()))
                }
                (None, true) if q.required => problems.push((path(&q.id), "is required".into())),
                (Some(answer), true) => {
                    if let Err(message) = q.check(answer) {
                        problems.push((path(&q.id), message));
                    }
                }
                _ => {}
            }
        }
        problems
    }

    /// The questions as this version worded them, with the patient's answers.
    pub fn render(&self, answers: &Value) -> Vec<(String, Value)> {
        self.questions
            .iter()
            .filter_map(|q| answers.get(&q.id).map(|a| (q.text.clone(), a.clone())))
            .collect()
    }
}

impl Question {
    fn check(&self, answer: &Value) -> Result<(), String> {
        match self.kind {
            Kind::Text => match answer.as_str() {
                Some(s) if !s.trim().is_empty() && s.chars().count() <= 2000 => Ok(()),
                _ => Err("must be text of 1 to 2000 characters".into()),
            },
            Kind::Number => {
                let n = answer.as_f64().ok_or("must be a number")?;
                if self.min.is_some_and(|m| n < m) || self.max.is_some_and(|m| n > m) {
                    return Err(format!(
                        "must be between {} and {}",
                        self.min.unwrap_or(f64::MIN),
                        self.max.unwrap_or(f64::MAX)
                    ));
                }
                Ok(())
            }
            Kind::Boolean => answer
                .as_bool()
                .map(|_| ())
                .ok_or_else(|| "must be true or false".into()),
            Kind::Choice => match answer.as_str() {
                Some(c) if self.choices.iter().any(|x| x == c) => Ok(()),
                _ => Err(format!("must be one of {}", self.choices.join(", "))),
            },
            Kind::MultiChoice => match answer.as_array() {
                Some(items)
                    if items.iter().all(|i| {
                        i.as_str()
                            .is_some_and(|c| self.choices.iter().any(|x| x == c))
                    }) =>
                {
                    Ok(())
                }
                _ => Err(format!(
                    "must be a list drawn from {}",
                    self.choices.join(", ")
                )),
            },
            Kind::Date => answer
                .as_str()
                .and_then(|d| NaiveDate::parse_from_str(d, "%Y-%m-%d").ok())
                .map(|_| ())
                .ok_or_else(|| "must be a date (YYYY-MM-DD)".into()),
        }
    }
}

/// US states the clinical network has licensed clinicians in.
pub const SERVED_STATES: &[&str] = &[
    "AL", "AZ", "CA", "CO", "CT", "FL", "GA", "IL", "IN", "MA", "MD", "MI", "MN", "MO", "NC", "NJ",
    "NV", "NY", "OH", "OR", "PA", "TN", "TX", "UT", "VA", "WA", "WI",
];

/// Eligibility of the patient in `input.patient`, on `today` (injected, so
/// tests can pin it): adult, in a served state, reachable.
pub fn eligibility(patient: &Value, today: NaiveDate) -> Vec<Problem> {
    let mut problems = Vec::new();
    let path = |f: &str| format!("patient.{f}");
    match patient["date_of_birth"]
        .as_str()
        .and_then(|d| NaiveDate::parse_from_str(d, "%Y-%m-%d").ok())
    {
        None => problems.push((path("date_of_birth"), "must be a date (YYYY-MM-DD)".into())),
        Some(dob) if dob > today => {
            problems.push((path("date_of_birth"), "is in the future".into()))
        }
        Some(dob) if today.years_since(dob).unwrap_or(0) < 18 => {
            problems.push((
                path("date_of_birth"),
                "the patient must be 18 or older".into(),
            ));
        }
        Some(_) => {}
    }
    match patient["address"]["state"].as_str() {
        Some(s) if SERVED_STATES.contains(&s) => {}
        Some(_) => problems.push((
            path("address.state"),
            "is not a US state the clinical network serves".into(),
        )),
        None => problems.push((path("address.state"), "is required".into())),
    }
    if patient["phone"]
        .as_str()
        .and_then(super::matching::phone)
        .is_none()
    {
        problems.push((
            path("phone"),
            "must be a phone number (E.164, or 10 US digits)".into(),
        ));
    }
    let email_ok = patient["email"].as_str().is_some_and(|e| {
        let e = e.trim();
        e.split_once('@').is_some_and(|(local, domain)| {
            !local.is_empty()
                && domain.contains('.')
                && !domain.starts_with('.')
                && !domain.ends_with('.')
        }) && !e.contains(char::is_whitespace)
    });
    if !email_ok {
        problems.push((path("email"), "must be an email address".into()));
    }
    problems
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn bundled() -> Questionnaires {
        Questionnaires::bundled().unwrap_or_else(|e| panic!("bundled questionnaires: {e}"))
    }

    fn paths(problems: &[Problem]) -> Vec<&str> {
        problems.iter().map(|p| p.0.as_str()).collect()
    }

    #[test]
    fn two_questionnaires_in_two_versions_ship() {
        let q = bundled();
        for id in ["weight_management", "dermatology"] {
            assert!(q.get(id, 1).is_some() && q.get(id, 2).is_some(), "{id}");
            assert_eq!(q.latest(id).map(|q| q.version), Some(2));
        }
    }

    #[test]
    fn answers_are_checked_against_the_version_answered() {
        let q = bundled();
        let v1 = q
            .get("weight_management", 1)
            .unwrap_or_else(|| unreachable!());
        let good = json!({ "height_cm": 170, "weight_kg": 95, "goal": "lose_weight", "diabetes": false, "pregnant": false });
        assert!(v1.validate(&good).is_empty(), "{:?}", v1.validate(&good));

        let bad = json!({ "height_cm": "tall", "weight_kg": 9, "goal": "improve_metabolic_health",
                          "diabetes": true, "pregnant": false, "favourite_colour": "blue" });
        let problems = v1.validate(&bad);
        let p = paths(&problems);
        for expected in [
            "height_cm",
            "weight_kg",
            "goal",
            "diabetes_medication",
            "favourite_colour",
        ] {
            assert!(
                p.contains(&format!("questionnaire.answers.{expected}").as_str()),
                "{expected}: {problems:?}"
            );
        }
        // v2 offers the goal v1 did not.
        let v2 = q
            .get("weight_management", 2)
            .unwrap_or_else(|| unreachable!());
        let v2_answers = json!({ "height_cm": 170, "weight_kg": 95, "goal": "improve_metabolic_health",
                                 "diabetes": true, "diabetes_medication": "metformin", "pregnant": false });
        assert!(
            v2.validate(&v2_answers).is_empty(),
            "{:?}",
            v2.validate(&v2_answers)
        );
    }

    #[test]
    fn a_conditional_question_is_required_only_when_asked_and_refused_otherwise() {
        let q = bundled();
        let derm = q.get("dermatology", 1).unwrap_or_else(|| unreachable!());
        let base = json!({ "concern": "acne", "duration_months": 6, "tried_treatments": false, "photo_id_uploaded": true });
        assert!(derm.validate(&base).is_empty());
        let mut not_asked = base.clone();
        not_asked["treatments"] = json!("benzoyl peroxide");
        assert_eq!(
            paths(&derm.validate(&not_asked)),
            vec!["questionnaire.answers.treatments"]
        );
        let mut asked = base;
        asked["tried_treatments"] = json!(true);
        assert_eq!(
            paths(&derm.validate(&asked)),
            vec!["questionnaire.answers.treatments"]
        );
    }

    #[test]
    fn each_version_keeps_its_own_wording() {
        let q = bundled();
        let answers = json!({ "height_cm": 170 });
        let v1 = q
            .get("weight_management", 1)
            .unwrap_or_else(|| unreachable!())
            .render(&answers);
        let v2 = q
            .get("weight_management", 2)
            .unwrap_or_else(|| unreachable!())
            .render(&answers);
        assert_eq!(v1[0].0, "How tall are you (cm)?");
        assert_eq!(v2[0].0, "Your height, in centimetres");
    }

    #[test]
    fn eligibility_needs_an_adult_in_a_served_state_who_can_be_reached() {
        let today = NaiveDate::from_ymd_opt(2026, 11, 23).unwrap_or_default();
        let ok = json!({ "date_of_birth": "1990-02-01", "address": { "state": "CA" },
                         "phone": "(415) 555-0100", "email": "ann@example.com" });
        assert!(
            eligibility(&ok, today).is_empty(),
            "{:?}",
            eligibility(&ok, today)
        );
        let turns_18_tomorrow = json!({ "date_of_birth": "2008-11-24", "address": { "state": "CA" },
                                        "phone": "+14155550100", "email": "ann@example.com" });
        assert_eq!(
            paths(&eligibility(&turns_18_tomorrow, today)),
            vec!["patient.date_of_birth"]
        );
        let bad = json!({ "date_of_birth": "1990-02-01", "address": { "state": "PR" },
                          "phone": "555-0100", "email": "ann@example" });
        assert_eq!(
            paths(&eligibility(&bad, today)),
            vec!["patient.address.state", "patient.phone", "patient.email"]
        );
    }
}
