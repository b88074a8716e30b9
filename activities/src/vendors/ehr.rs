//! The EHR: FHIR R4 resources created by type.

use serde_json::Value;

use crate::client::{Method, VendorClient, VendorError};

pub struct Ehr(pub VendorClient);

impl Ehr {
    /// Creates a FHIR resource (Encounter, QuestionnaireResponse, MedicationRequest, ...).
    pub async fn create(&self, resource: &Value, key: &str) -> Result<Value, VendorError> {
        let kind = resource["resourceType"].as_str().unwrap_or("Unknown");
        self.0
            .call(
                Method::Post,
                &format!("/fhir/{kind}"),
                Some(resource),
                Some(key),
            )
            .await
    }
}
