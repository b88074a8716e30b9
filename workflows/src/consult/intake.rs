//! Intake: versioned questionnaires kept as data (`workflows/questionnaires/`),
//! the answers checked against the version the patient saw, and eligibility.
//! A journey keeps the version it started on, so its wording stays the one the
//! patient answered after a new version ships.

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::canonical::{self, DateRule};

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
        self.canonical(answers, DateRule::Strict)
            .err()
            .unwrap_or_default()
    }

    /// `answers` checked against this version, in canonical form (dates
    /// `YYYY-MM-DD`, read by `dates`), or every problem.
    pub fn canonical(&self, answers: &Value, dates: DateRule) -> Result<Value, Vec<Problem>> {
        let path = |id: &str| format!("questionnaire.answers.{id}");
        let Some(given) = answers.as_object() else {
            return Err(vec![(
                "questionnaire.answers".into(),
                "must be an object".into(),
            )]);
        };
        let mut canonical = given.clone();
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
                (Some(answer), true) => match q.check(answer, dates) {
                    Ok(answer) => {
                        canonical.insert(q.id.clone(), answer);
                    }
                    Err(message) => problems.push((path(&q.id), message)),
                },
                _ => {}
            }
        }
        if problems.is_empty() {
            Ok(Value::Object(canonical))
        } else {
            Err(problems)
        }
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
    /// The answer in canonical form, or why it is not an answer to this
    /// question. Only dates have more than one spelling in JSON.
    fn check(&self, answer: &Value, dates: DateRule) -> Result<Value, String> {
        let as_given = Ok(answer.clone());
        match self.kind {
            Kind::Text => match answer.as_str() {
                Some(s) if !s.trim().is_empty() && s.chars().count() <= 2000 => as_given,
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
                as_given
            }
            Kind::Boolean => match answer.as_bool() {
                Some(_) => as_given,
                None => Err("must be true or false".into()),
            },
            Kind::Choice => match answer.as_str() {
                Some(c) if self.choices.iter().any(|x| x == c) => as_given,
                _ => Err(format!("must be one of {}", self.choices.join(", "))),
            },
            Kind::MultiChoice => match answer.as_array() {
                Some(items)
                    if items.iter().all(|i| {
                        i.as_str()
                            .is_some_and(|c| self.choices.iter().any(|x| x == c))
                    }) =>
                {
                    as_given
                }
                _ => Err(format!(
                    "must be a list drawn from {}",
                    self.choices.join(", ")
                )),
            },
            Kind::Date => answer
                .as_str()
                .and_then(|d| dates.read(d))
                .map(|d| Value::String(canonical::date_text(d)))
                .ok_or_else(|| "must be a date written YYYY-MM-DD".into()),
        }
    }
}

/// US states the clinical network has licensed clinicians in.
pub const SERVED_STATES: &[&str] = &[
    "AL", "AZ", "CA", "CO", "CT", "FL", "GA", "IL", "IN", "MA", "MD", "MI", "MN", "MO", "NC", "NJ",
    "NV", "NY", "OH", "OR", "PA", "TN", "TX", "UT", "VA", "WA", "WI",
];

/// The age a patient must have reached.
pub const ADULT: u32 = 18;
/// The oldest age a date of birth can plausibly give: older is a typo or a
/// placeholder (`0001-01-01`), never a patient.
pub const OLDEST: u32 = 120;

/// Eligibility at `now`: a plausible date of birth, an adult, in a served
/// state. Both values are canonical; `None` is one that had no canonical
/// form, which the caller reports.
///
/// Ages are counted on the date it is where the patient lives, not in UTC:
/// at 05:00 UTC it is still yesterday in California, and a Californian
/// whose 18th birthday is today in UTC is 17 there. For a state spanning
/// several time zones the westernmost is used ([`canonical::state_zone`]).
pub fn eligibility(
    date_of_birth: Option<NaiveDate>,
    state: Option<&str>,
    now: DateTime<Utc>,
) -> Vec<Problem> {
    let mut problems = Vec::new();
    let path = |f: &str| format!("patient.{f}");
    if let Some(dob) = date_of_birth {
        let today = canonical::local_date(state.unwrap_or_default(), now);
        match today.years_since(dob) {
            None => problems.push((path("date_of_birth"), "is in the future".into())),
            Some(age) if age > OLDEST => problems.push((
                path("date_of_birth"),
                format!("is more than {OLDEST} years ago"),
            )),
            Some(age) if age < ADULT => problems.push((
                path("date_of_birth"),
                format!("the patient must be {ADULT} or older"),
            )),
            Some(_) => {}
        }
    }
    if let Some(s) = state
        && !SERVED_STATES.contains(&s)
    {
        problems.push((
            path("address.state"),
            "is not a US state the clinical network serves".into(),
        ));
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

    fn at(instant: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(instant)
            .map(|t| t.with_timezone(&Utc))
            .unwrap_or_else(|e| panic!("{instant}: {e}"))
    }

    fn born(date: &str) -> Option<NaiveDate> {
        canonical::date(date)
    }

    #[test]
    fn eligibility_needs_a_plausible_adult_in_a_served_state() {
        let now = at("2026-11-23T20:00:00Z");
        for dob in ["1990-02-01", "2008-11-23", "1906-11-23"] {
            assert!(eligibility(born(dob), Some("CA"), now).is_empty(), "{dob}");
        }
        for dob in [
            "2026-11-23",
            "2008-11-24",
            "1905-11-22",
            "0001-01-01",
            "2027-01-01",
        ] {
            assert_eq!(
                paths(&eligibility(born(dob), Some("CA"), now)),
                vec!["patient.date_of_birth"],
                "{dob}"
            );
        }
        assert_eq!(
            paths(&eligibility(born("1990-02-01"), Some("AK"), now)),
            vec!["patient.address.state"]
        );
        // A value with no canonical form was reported by the caller already.
        assert!(eligibility(None, None, now).is_empty());
        // Without a state, the age is still judged (on the latest US date).
        assert_eq!(
            paths(&eligibility(born("2015-01-01"), None, now)),
            vec!["patient.date_of_birth"]
        );
    }

    #[test]
    fn eligibility_turns_on_the_patients_local_midnight() {
        // 18 on 2026-11-24: in California that is 08:00 UTC (PST is UTC-8).
        let dob = born("2008-11-24");
        for (instant, eligible) in [
            ("2026-11-24T05:00:00Z", false),
            ("2026-11-24T07:59:59Z", false),
            ("2026-11-24T08:00:00Z", true),
            ("2026-11-24T09:00:00Z", true),
        ] {
            assert_eq!(
                eligibility(dob, Some("CA"), at(instant)).is_empty(),
                eligible,
                "{instant}"
            );
        }
        // Summer: PDT is UTC-7.
        let summer = born("2008-07-04");
        assert!(!eligibility(summer, Some("CA"), at("2026-07-04T06:59:00Z")).is_empty());
        assert!(eligibility(summer, Some("CA"), at("2026-07-04T07:00:00Z")).is_empty());
    }

    #[test]
    fn date_answers_are_strict_and_canonical() {
        let q = bundled();
        let derm = q.get("dermatology", 2).unwrap_or_else(|| unreachable!());
        let answers = |d: &str| {
            json!({ "concern": "acne", "duration_months": 6, "tried_treatments": false,
                    "photo_id_uploaded": true, "first_noticed": d })
        };
        let canonical = derm.canonical(&answers("2024-03-01 "), DateRule::Strict);
        assert_eq!(canonical.ok(), Some(answers("2024-03-01")));
        for poison in [
            "+2024-03-01",
            "2024-3-1",
            "2024-03-01T10:00:00Z",
            "03/01/2024",
        ] {
            assert_eq!(
                paths(&derm.validate(&answers(poison))),
                vec!["questionnaire.answers.first_noticed"],
                "{poison}"
            );
        }
        assert_eq!(
            derm.canonical(&answers("2024-3-1"), DateRule::Legacy).ok(),
            Some(answers("2024-03-01"))
        );
    }
}
