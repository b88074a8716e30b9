//! What the journey leaves behind: the encounter in the EHR as FHIR R4, and
//! a de-identified engagement event for the brand's CRM.

use carepath_activities::VendorError;
use carepath_activities::vendors::crm::EngagementEvent;
use chrono::{DateTime, Utc};
use serde_json::{Value, json};
use uuid::Uuid;

use super::clinician::Prescription;
use super::{AsyncConsult, Submitted};
use crate::consult::fhir;
use crate::consult::input::ConsultInput;
use crate::{JourneyCtx, StepError, WorkflowError};

impl AsyncConsult {
    /// The encounter, the answers and (when written) the prescription. Each
    /// resource is built inside its step, from recorded values, so a retry
    /// sends the same body under the same key.
    pub(super) async fn record_encounter(
        &self,
        ctx: &mut JourneyCtx,
        intake: &ConsultInput,
        patient_id: Uuid,
        submitted: &Submitted,
        decided_at: DateTime<Utc>,
        rx: Option<&Prescription>,
    ) -> Result<(), WorkflowError> {
        let journey = ctx.journey_id();
        let q = intake.questionnaire.clone();
        let service = q.id.clone();
        let at = submitted.at;
        self.ehr(ctx, "ehr_encounter", move || {
            Ok(fhir::encounter(
                journey, patient_id, &service, at, decided_at,
            ))
        })
        .await?;
        let questionnaires = self.questionnaires.clone();
        self.ehr(ctx, "ehr_questionnaire_response", move || {
            let version = questionnaires.get(&q.id, q.version).ok_or_else(|| {
                StepError::permanent(format!(
                    "questionnaire {} v{} is not in this build",
                    q.id, q.version
                ))
            })?;
            Ok(fhir::questionnaire_response(
                journey, patient_id, version, &q.answers, at,
            ))
        })
        .await?;
        if let Some(rx) = rx.cloned() {
            self.ehr(ctx, "ehr_medication_request", move || {
                let prescription = fhir::Prescription {
                    id: &rx.id,
                    medication: &rx.medication,
                    refills: rx.refills,
                    clinician_id: rx.clinician_id.as_deref(),
                };
                Ok(fhir::medication_request(
                    journey,
                    patient_id,
                    &prescription,
                    decided_at,
                ))
            })
            .await?;
        }
        Ok(())
    }

    async fn ehr(
        &self,
        ctx: &mut JourneyCtx,
        key: &str,
        build: impl FnOnce() -> Result<Value, StepError> + Send,
    ) -> Result<(), WorkflowError> {
        let vendors = self.vendors.clone();
        ctx.step(key, |s| async move {
            let resource = build()?;
            let created = vendors.ehr.create(&resource, &s.idempotency_key()).await?;
            Ok(created["id"].as_str().map(str::to_owned))
        })
        .await?;
        Ok(())
    }

    /// The journey's id, a milestone and its (recorded) time, so a retry
    /// sends the same body. The milestone that says nothing clinical — not the
    /// offering, not even the decision; the type has no field for more. The
    /// The CRM is not the patient's care: if it refuses the event, the refusal is
    /// recorded and the journey goes on.
    pub(super) async fn engage(
        &self,
        ctx: &mut JourneyCtx,
        event: &str,
        at: DateTime<Utc>,
    ) -> Result<(), WorkflowError> {
        let (vendors, journey, event) = (self.vendors.clone(), ctx.journey_id(), event.to_owned());
        ctx.step("crm_engagement", |s| async move {
            let message = EngagementEvent {
                event_id: format!("{journey}:{event}"),
                journey_id: journey.to_string(),
                event,
                occurred_at: at.to_rfc3339(),
            };
            match vendors.crm.send(&message, &s.idempotency_key()).await {
                Ok(_) => Ok(json!({ "sent": true })),
                Err(e @ VendorError::Rejected { .. }) => {
                    Ok(json!({ "sent": false, "refused": e.to_string() }))
                }
                Err(e) => Err(e.into()),
            }
        })
        .await?;
        Ok(())
    }
}
