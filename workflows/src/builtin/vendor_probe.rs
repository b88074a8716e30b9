use std::sync::Arc;

use async_trait::async_trait;
use carepath_activities::Vendors;
use carepath_activities::vendors::clinical::{CaseRequest, PatientRecord};
use serde_json::{Value, json};
use sqlx::PgPool;

use crate::store::refs;
use crate::webhooks::CASE;
use crate::webhooks::signals::CLINICAL_CASE;

use crate::{JourneyCtx, StepError, Workflow, WorkflowError};

/// Creates a patient and submits a case at the clinical network, through the
/// full resilient client: what the vendor resilience tests and a deployment's
/// smoke test drive. Input: `{"patient": {...}, "await_decision": true}`;
/// with `await_decision` it also waits for the clinician's decision, which
/// arrives by webhook through the inbox (in the sandbox, the one its
/// controls set for the patient's email).
pub struct VendorProbe {
    vendors: Arc<Vendors>,
    pool: PgPool,
}

impl VendorProbe {
    pub fn new(vendors: Arc<Vendors>, pool: PgPool) -> Self {
        Self { vendors, pool }
    }

    /// Waits for the clinician's decision on the case, answering each round
    /// of questions; `approved` or `declined`.
    async fn await_decision(
        &self,
        ctx: &mut JourneyCtx,
        case_id: &str,
    ) -> Result<String, WorkflowError> {
        // The clinician's decision arrives by webhook: the case is linked to
        // this journey so the inbox can route the clinical network's events here.
        let pool = self.pool.clone();
        let (journey_id, linked_case) = (ctx.journey_id(), case_id.to_owned());
        ctx.step("link_case", |_| async move {
            refs::link(&pool, journey_id, "clinical", CASE, &linked_case).await?;
            Ok(())
        })
        .await?;
        ctx.set_phase("awaiting_clinician");
        loop {
            let Some(event) = ctx.wait_signal(CLINICAL_CASE, None).await? else {
                continue;
            };
            match event["type"].as_str() {
                Some(t @ ("case.approved" | "case.declined")) => {
                    return Ok(t.trim_start_matches("case.").to_owned());
                }
                Some("case.more_info_requested") => {
                    let vendors = self.vendors.clone();
                    let case = case_id.to_owned();
                    ctx.step("answer_more_info", |s| async move {
                        vendors
                            .clinical
                            .send_message(
                                &case,
                                "patient",
                                "more information",
                                &s.idempotency_key(),
                            )
                            .await?;
                        Ok(())
                    })
                    .await?;
                }
                _ => {}
            }
        }
    }
}

#[async_trait]
impl Workflow for VendorProbe {
    fn signals(&self) -> &[&str] {
        &[CLINICAL_CASE]
    }
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
            refills: 0,
            questionnaire: json!({ "id": "probe", "version": 1 }),
            answers: json!({}),
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
        if input["await_decision"].as_bool() != Some(true) {
            return Ok(json!({ "patient_id": patient_id, "case_id": case_id }));
        }
        let decision = self.await_decision(ctx, &case_id).await?;
        Ok(json!({ "patient_id": patient_id, "case_id": case_id, "decision": decision }))
    }
}
