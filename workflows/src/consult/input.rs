//! The start request of an `async_consult` journey: its types here, its
//! validation (`ConsultInput::parse`, `ConsultInput::from_stored`) in
//! `input/validation.rs` — shape (unknown fields refused, types named by
//! path), the canonical form of every identity field, the questionnaire
//! version the patient answered, and eligibility. What passes is the
//! canonical form, which is what the journey stores and what vendors are
//! sent.

mod validation;

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// Refills an offering may carry: a year of monthly fills.
pub const MAX_REFILLS: u32 = 12;

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ConsultInput {
    pub patient: Patient,
    pub questionnaire: QuestionnaireAnswers,
    pub offering: Offering,
    pub payment_reference: String,
    pub photo_id: PhotoId,
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
