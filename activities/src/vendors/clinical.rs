//! The clinical network (MDI-like): patients, cases, case files, messages.

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::client::{Method, VendorClient, VendorError};

pub struct ClinicalNetwork(pub VendorClient);

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PatientRecord {
    /// carepath's id for the patient, so the network can tell a retry from a new patient.
    pub external_id: String,
    pub first_name: String,
    pub last_name: String,
    pub date_of_birth: String,
    pub sex: Option<String>,
    pub email: Option<String>,
    pub phone: Option<String>,
    pub state: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct CaseRequest {
    pub patient_id: String,
    /// carepath's id for the case: one journey, one case.
    pub external_id: String,
    pub offering_id: String,
    /// Refills the offering allows; the clinician prescribes within it.
    pub refills: u32,
    pub questionnaire: Value,
    pub answers: Value,
}

/// A file attached to a case (the patient's photo ID), by reference: the
/// brand already stores it; the network fetches it from `url`.
#[derive(Debug, Clone, Serialize)]
pub struct CaseFile {
    pub kind: String,
    pub name: String,
    pub content_type: String,
    pub url: String,
}

/// A clinician's question on a case.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Question {
    pub text: String,
    /// Which round of questions it opened, when the network numbers them.
    pub round: Option<u64>,
}

impl ClinicalNetwork {
    pub async fn create_patient(
        &self,
        patient: &PatientRecord,
        key: &str,
    ) -> Result<Value, VendorError> {
        let body = serde_json::to_value(patient).unwrap_or(Value::Null);
        self.0
            .call(Method::Post, "/v1/partner/patients", Some(&body), Some(key))
            .await
    }

    pub async fn update_patient(
        &self,
        id: &str,
        changes: &Value,
        key: &str,
    ) -> Result<Value, VendorError> {
        let path = format!("/v1/partner/patients/{id}");
        self.0
            .call(Method::Patch, &path, Some(changes), Some(key))
            .await
    }

    pub async fn create_case(&self, case: &CaseRequest, key: &str) -> Result<Value, VendorError> {
        let body = serde_json::to_value(case).unwrap_or(Value::Null);
        self.0
            .call(Method::Post, "/v1/partner/cases", Some(&body), Some(key))
            .await
    }

    pub async fn get_case(&self, id: &str) -> Result<Value, VendorError> {
        self.0
            .call(Method::Get, &format!("/v1/partner/cases/{id}"), None, None)
            .await
    }

    pub async fn add_case_file(
        &self,
        case_id: &str,
        file: &CaseFile,
        key: &str,
    ) -> Result<Value, VendorError> {
        let path = format!("/v1/partner/cases/{case_id}/files");
        let mut body = serde_json::to_value(file).unwrap_or(Value::Null);
        body["external_id"] = json!(key);
        self.0
            .call(Method::Post, &path, Some(&body), Some(key))
            .await
    }

    /// Withdraws a case the patient will not go on with (`reason` is shown
    /// to the clinician): it is no longer reviewed, and is closed, so a later
    /// case for the same patient and offering is a new consult. Withdrawing
    /// twice answers the withdrawn case; a case already approved or declined
    /// is refused (409, [`VendorError::Rejected`]).
    pub async fn withdraw_case(
        &self,
        case_id: &str,
        reason: &str,
        key: &str,
    ) -> Result<Value, VendorError> {
        let path = format!("/v1/partner/cases/{case_id}/withdraw");
        let body = json!({ "reason": reason });
        self.0
            .call(Method::Post, &path, Some(&body), Some(key))
            .await
    }

    /// The case's messages, oldest first: `{"items": [{"id", "from":
    /// "clinician"|"patient"|"partner", "text", "round" (a clinician's
    /// round of questions), "created_at"}]}`.
    pub async fn messages(&self, case_id: &str) -> Result<Value, VendorError> {
        let path = format!("/v1/partner/cases/{case_id}/messages");
        self.0.call(Method::Get, &path, None, None).await
    }

    /// The clinician's questions on the case, oldest first (its messages
    /// from the clinician). Errors as [`Self::messages`].
    pub async fn questions(&self, case_id: &str) -> Result<Vec<Question>, VendorError> {
        let listed = self.messages(case_id).await?;
        Ok(listed["items"]
            .as_array()
            .map(Vec::as_slice)
            .unwrap_or_default()
            .iter()
            .filter(|m| m["from"] == "clinician")
            .filter_map(|m| {
                Some(Question {
                    text: m["text"].as_str()?.to_owned(),
                    round: m["round"].as_u64(),
                })
            })
            .collect())
    }

    /// A message on the case; `from` is `patient` or `partner`.
    pub async fn send_message(
        &self,
        case_id: &str,
        from: &str,
        text: &str,
        key: &str,
    ) -> Result<Value, VendorError> {
        let path = format!("/v1/partner/cases/{case_id}/messages");
        let body = json!({ "from": from, "text": text, "external_id": key });
        self.0
            .call(Method::Post, &path, Some(&body), Some(key))
            .await
    }
}
