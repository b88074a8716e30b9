//! A person as the brand sends them: the start request's `patient`.

use serde::{Deserialize, Serialize};

/// A patient as an intake (or an import line) describes them: the start
/// request's `patient` object. Strings are as the brand sent them; matching
/// normalises them itself.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Person {
    /// The brand's id for the patient (not used as evidence: brands reissue ids).
    pub external_id: String,
    /// Given name.
    pub first_name: String,
    /// Family name; may be hyphenated or have several parts.
    pub last_name: String,
    /// `YYYY-MM-DD`.
    pub date_of_birth: String,
    /// `female`, `male`, `other` or `unknown`.
    pub sex: String,
    /// An email address.
    pub email: String,
    /// A phone number, US-default (`(415) 555-0100`, `+1 415 555 0100`).
    pub phone: String,
    /// Postal address.
    pub address: Address,
}

/// A US postal address.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Address {
    /// Street line (`12 Oak Street`).
    pub line1: String,
    /// Apartment, suite.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub line2: Option<String>,
    /// City.
    pub city: String,
    /// Two-letter US state.
    pub state: String,
    /// ZIP or ZIP+4.
    pub postal_code: String,
}
