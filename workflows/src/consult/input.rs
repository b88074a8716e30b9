//! The start request of an `async_consult` journey, and its validation:
//! shape (unknown fields refused, types named by path), the questionnaire
//! version the patient answered, and eligibility.

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::intake::{Problem, Questionnaires, eligibility};

/// Refills an offering may carry: a year of monthly fills.
pub const MAX_REFILLS: u32 = 12;
/// Sandbox-only decisions a start request may ask for.
pub const SCENARIOS: [&str; 5] = ["approve", "decline", "more_info", "more_info_2", "stall"];

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ConsultInput {
    pub patient: Patient,
    pub questionnaire: QuestionnaireAnswers,
    pub offering: Offering,
    pub payment_reference: String,
    pub photo_id: PhotoId,
    /// Sandbox only: the clinician decision to simulate.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scenario: Option<String>,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Patient {
    /// The brand's id for the patient.
    pub external_id: String,
    pub first_name: String,
    pub last_name: String,
    pub date_of_birth: String,
    pub sex: Sex,
    pub email: String,
    pub phone: String,
    pub address: Address,
}

#[derive(Debug, Clone, Copy, Deserialize, Serialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum Sex {
    Female,
    Male,
    Other,
    Unknown,
}

impl Sex {
    pub fn as_str(self) -> &'static str {
        match self {
            Sex::Female => "female",
            Sex::Male => "male",
            Sex::Other => "other",
            Sex::Unknown => "unknown",
        }
    }
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Address {
    pub line1: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub line2: Option<String>,
    pub city: String,
    pub state: String,
    pub postal_code: String,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct QuestionnaireAnswers {
    pub id: String,
    pub version: u32,
    pub answers: Value,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Offering {
    pub id: String,
    #[serde(default)]
    pub refills: u32,
}

/// The patient's photo ID, already uploaded by the brand: a reference, not the image.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct PhotoId {
    pub file_name: String,
    pub content_type: String,
    pub url: String,
}

impl ConsultInput {
    /// Parses and checks `input` as of `today`; every problem, by field path.
    pub fn parse(
        input: &Value,
        questionnaires: &Questionnaires,
        today: NaiveDate,
    ) -> Result<Self, Vec<Problem>> {
        let parsed: Self = serde_path_to_error::deserialize(input).map_err(|e| {
            let path = e.path().to_string();
            let message = without_value(&e.inner().to_string());
            // serde names a missing field in its message, not its path.
            let path = match message.strip_prefix("missing field `") {
                Some(rest) => {
                    let field = rest.split('`').next().unwrap_or_default();
                    if path == "." {
                        field.to_owned()
                    } else {
                        format!("{path}.{field}")
                    }
                }
                None => path,
            };
            vec![(path, message)]
        })?;
        let mut problems = Vec::new();
        let mut required = |path: &str, value: &str| {
            if value.trim().is_empty() {
                problems.push((path.to_owned(), "must not be empty".to_owned()));
            } else if value.chars().count() > 200 {
                problems.push((path.to_owned(), "must be at most 200 characters".to_owned()));
            }
        };
        let p = &parsed.patient;
        required("patient.external_id", &p.external_id);
        required("patient.first_name", &p.first_name);
        required("patient.last_name", &p.last_name);
        required("patient.address.line1", &p.address.line1);
        required("patient.address.city", &p.address.city);
        required("offering.id", &parsed.offering.id);
        required("payment_reference", &parsed.payment_reference);
        required("photo_id.file_name", &parsed.photo_id.file_name);
        required("photo_id.url", &parsed.photo_id.url);
        if !matches!(
            parsed.photo_id.content_type.as_str(),
            "image/jpeg" | "image/png" | "application/pdf"
        ) {
            problems.push((
                "photo_id.content_type".into(),
                "must be image/jpeg, image/png or application/pdf".into(),
            ));
        }
        if !is_zip(&p.address.postal_code) {
            problems.push((
                "patient.address.postal_code".into(),
                "must be a US ZIP code (12345 or 12345-6789)".into(),
            ));
        }
        if parsed.offering.refills > MAX_REFILLS {
            problems.push((
                "offering.refills".into(),
                format!("must be at most {MAX_REFILLS}"),
            ));
        }
        if let Some(s) = &parsed.scenario
            && !SCENARIOS.contains(&s.as_str())
        {
            problems.push((
                "scenario".into(),
                format!("must be one of {}", SCENARIOS.join(", ")),
            ));
        }
        problems.extend(eligibility(&input["patient"], today));
        let q = &parsed.questionnaire;
        match questionnaires.get(&q.id, q.version) {
            Some(version) => problems.extend(version.validate(&q.answers)),
            None if questionnaires.latest(&q.id).is_some() => problems.push((
                "questionnaire.version".into(),
                format!("{} has no version {}", q.id, q.version),
            )),
            None => problems.push((
                "questionnaire.id".into(),
                "is not a known questionnaire".into(),
            )),
        }
        if problems.is_empty() {
            Ok(parsed)
        } else {
            Err(problems)
        }
    }
}

/// serde quotes the offending value (`invalid type: string "Ann", expected
/// u32`); what the patient wrote is not repeated back in an error.
fn without_value(message: &str) -> String {
    if message.starts_with("unknown variant")
        && let Some((_, expected)) = message.split_once(", expected ")
    {
        return format!("must be {expected}");
    }
    if (message.starts_with("invalid type:") || message.starts_with("invalid value:"))
        && let Some((_, expected)) = message.split_once(", expected ")
    {
        return format!("must be {expected}");
    }
    message.to_owned()
}

fn is_zip(code: &str) -> bool {
    let digits = |s: &str, n: usize| s.len() == n && s.bytes().all(|b| b.is_ascii_digit());
    match code.split_once('-') {
        Some((a, b)) => digits(a, 5) && digits(b, 4),
        None => digits(code, 5),
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use serde_json::json;

    pub fn sample() -> Value {
        json!({
            "patient": {
                "external_id": "brand-1", "first_name": "Ann", "last_name": "Lee",
                "date_of_birth": "1990-02-01", "sex": "female",
                "email": "ann@example.com", "phone": "+14155550100",
                "address": { "line1": "1 Main St", "city": "Oakland", "state": "CA", "postal_code": "94601" }
            },
            "questionnaire": { "id": "weight_management", "version": 1, "answers": {
                "height_cm": 170, "weight_kg": 95, "goal": "lose_weight", "diabetes": false, "pregnant": false } },
            "offering": { "id": "glp1_monthly", "refills": 2 },
            "payment_reference": "pay_1",
            "photo_id": { "file_name": "id.jpg", "content_type": "image/jpeg", "url": "https://files.example/id.jpg" }
        })
    }

    fn problems(input: &Value) -> Vec<String> {
        let q = Questionnaires::bundled().unwrap_or_else(|e| panic!("{e}"));
        let today = NaiveDate::from_ymd_opt(2026, 11, 23).unwrap_or_default();
        match ConsultInput::parse(input, &q, today) {
            Ok(_) => vec![],
            Err(p) => p.into_iter().map(|(path, _)| path).collect(),
        }
    }

    #[test]
    fn a_good_request_passes() {
        assert_eq!(problems(&sample()), Vec::<String>::new());
    }

    #[test]
    fn shape_errors_name_the_field() {
        let mut missing = sample();
        missing["patient"]
            .as_object_mut()
            .map(|p| p.remove("email"));
        assert_eq!(problems(&missing), vec!["patient.email"]);
        let mut wrong_type = sample();
        wrong_type["offering"]["refills"] = json!("two");
        assert_eq!(problems(&wrong_type), vec!["offering.refills"]);
        let mut unknown = sample();
        unknown["patient"]["ssn"] = json!("123");
        assert_eq!(problems(&unknown), vec!["patient.ssn"]);
    }

    #[test]
    fn every_semantic_problem_is_reported_at_once() {
        let mut bad = sample();
        bad["patient"]["date_of_birth"] = json!("2015-01-01");
        bad["patient"]["address"]["state"] = json!("PR");
        bad["patient"]["address"]["postal_code"] = json!("ABCDE");
        bad["questionnaire"]["answers"]["goal"] = json!("fly");
        bad["offering"]["refills"] = json!(40);
        assert_eq!(
            problems(&bad),
            vec![
                "patient.address.postal_code",
                "offering.refills",
                "patient.date_of_birth",
                "patient.address.state",
                "questionnaire.answers.goal"
            ]
        );
        let mut unknown_version = sample();
        unknown_version["questionnaire"]["version"] = json!(9);
        assert_eq!(problems(&unknown_version), vec!["questionnaire.version"]);
    }
}
