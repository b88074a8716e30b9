use std::sync::Arc;

use async_trait::async_trait;
use carepath_activities::Vendors;
use carepath_activities::vendors::clinical::{CaseRequest, PatientRecord};
use serde_json::{Value, json};

use crate::{JourneyCtx, StepError, Workflow, WorkflowError};

/// Creates a patient and submits a case at the clinical network, through the
/// full resilient client: what the vendor resilience tests and a deployment's
/// smoke test drive. Input: `{"patient": {...}, "scenario": "approve"}`.
pub struct VendorProbe {
    vendors: Arc<Vendors>,
}

impl VendorProbe {
    pub fn new(vendors: Arc<Vendors>) -> Self {
        Self { vendors }
    }
}

#[async_trait]
impl Workflow for VendorProbe {
    async fn run(&self, ctx: &mut JourneyCtx, input: Value) -> Result<Value, WorkflowError> {
        let journey = ctx.journey_id().to_string();
        let p = &input["patient"];
        let text = |v: &Value| v.as_str().unwrap_or_default().to_owned();
        let patient = PatientRecord {
            external_id: journey.clone(),
            first_name: text(&p["first_name"]),
            last_name: text(&p["last_name"]),
            date_of_birth: text(&p["date_of_birth"]),
            sex: p["sex"].as_str().map(str::to_owned),
            email: p["email"].as_str().map(str::to_owned),
            phone: p["phone"].as_str().map(str::to_owned),
            state: text(&p["state"]),
        };
        ctx.set_phase("syncing_patient");
        let vendors = self.vendors.clone();
        let patient_id: String = ctx
            .step("create_patient", |s| async move {
                let created = vendors
                    .clinical
                    .create_patient(&patient, &s.idempotency_key())
                    .await?;
                created["id"].as_str().map(str::to_owned).ok_or_else(|| {
                    StepError::permanent("the clinical network returned no patient id")
                })
            })
            .await?;
        ctx.set_phase("submitting_case");
        let vendors = self.vendors.clone();
        let case = CaseRequest {
            patient_id: patient_id.clone(),
            external_id: journey,
            offering_id: "probe".into(),
            questionnaire: json!({ "id": "probe", "version": 1 }),
            answers: json!({}),
            scenario: input["scenario"].as_str().map(str::to_owned),
        };
        let case_id: String = ctx
            .step("submit_case", |s| async move {
                let created = vendors
                    .clinical
                    .create_case(&case, &s.idempotency_key())
                    .await?;
                created["id"]
                    .as_str()
                    .map(str::to_owned)
                    .ok_or_else(|| StepError::permanent("the clinical network returned no case id"))
            })
            .await?;
        Ok(json!({ "patient_id": patient_id, "case_id": case_id }))
    }
}
