//! Who the patient is: carepath's registry (match, review or create), then
//! the clinical network's chart and the case.

use carepath_activities::vendors::clinical::{CaseFile, CaseRequest, PatientRecord};
use chrono::Utc;
use serde_json::{Value, json};
use uuid::Uuid;

use super::{AsyncConsult, REVIEW_SIGNAL, Submitted};
use crate::SearchTerm;
use crate::consult::input::ConsultInput;
use crate::consult::patients::{self, MatchOutcome};
use crate::search;
use crate::store::refs;
use crate::webhooks::CASE;
use crate::{JourneyCtx, StepError, WorkflowError};
use carepath_identity::{Decision, Person};

impl AsyncConsult {
    /// Links the journey to carepath's patient: an existing one when matching
    /// is sure, a reviewer's choice when it is not, a new one otherwise.
    pub(super) async fn find_patient(
        &self,
        ctx: &mut JourneyCtx,
        intake: &ConsultInput,
    ) -> Result<Uuid, WorkflowError> {
        let who = patients::person_of(&intake.patient);
        ctx.set_phase("matching_patient");
        let (pool, journey, person) = (self.pool.clone(), ctx.journey_id(), who.clone());
        let (models, keys) = (self.models.clone(), self.keys.clone());
        let matched: MatchOutcome = ctx
            .step(super::MATCH_STEP, |_| async move {
                Ok(patients::match_or_create(&pool, &keys, &models, journey, &person).await?)
            })
            .await?;
        let (patient_id, linked) = match matched.patient_id {
            Some(id) => (id, matched.decision == Decision::Link),
            None => {
                ctx.set_phase("patient_match_review");
                self.review(ctx, &who).await?
            }
        };
        if linked {
            let (pool, journey, keys) = (self.pool.clone(), ctx.journey_id(), self.keys.clone());
            ctx.step("refresh_patient_contact", |_| async move {
                Ok(patients::refresh_contact(&pool, &keys, patient_id, journey, &who).await?)
            })
            .await?;
        }
        Ok(patient_id)
    }

    /// Waits for an operator's decision on an uncertain match (checked by the
    /// API before it is signalled): link to a patient, or create a new one.
    async fn review(
        &self,
        ctx: &mut JourneyCtx,
        who: &Person,
    ) -> Result<(Uuid, bool), WorkflowError> {
        loop {
            let Some(decision) = ctx.wait_signal(REVIEW_SIGNAL, None).await? else {
                continue;
            };
            let patient = decision["patient_id"].as_str().and_then(|p| p.parse().ok());
            match (decision["action"].as_str(), patient) {
                (Some("link"), Some(id)) => return Ok((id, true)),
                (Some("create"), _) => {
                    let (pool, journey, who) = (self.pool.clone(), ctx.journey_id(), who.clone());
                    let keys = self.keys.clone();
                    let id = ctx
                        .step("create_patient_record", |_| async move {
                            Ok(patients::create_for(&pool, &keys, journey, &who).await?)
                        })
                        .await?;
                    return Ok((id, false));
                }
                _ => {}
            }
        }
    }

    /// The clinical network's chart for the patient: created once per patient
    /// (the idempotency key is the patient's, not the journey's, so two
    /// journeys of one patient cannot create two charts), updated on return.
    pub(super) async fn sync_patient(
        &self,
        ctx: &mut JourneyCtx,
        intake: &ConsultInput,
        patient_id: Uuid,
    ) -> Result<String, WorkflowError> {
        ctx.set_phase("syncing_patient");
        let p = &intake.patient;
        let record = PatientRecord {
            external_id: patient_id.to_string(),
            first_name: p.first_name.clone(),
            last_name: p.last_name.clone(),
            date_of_birth: p.date_of_birth.clone(),
            sex: Some(p.sex.as_str().to_owned()),
            email: Some(p.email.clone()),
            phone: Some(p.phone.clone()),
            state: p.address.state.clone(),
        };
        let (vendors, pool, journey) = (self.vendors.clone(), self.pool.clone(), ctx.journey_id());
        ctx.step("sync_patient", |s| async move {
            let id = match patients::clinical_id(&pool, patient_id).await? {
                Some(id) => {
                    let changes = json!({ "email": record.email, "phone": record.phone,
                                          "state": record.state });
                    vendors
                        .clinical
                        .update_patient(&id, &changes, &s.idempotency_key())
                        .await?;
                    id
                }
                None => {
                    let created = vendors
                        .clinical
                        .create_patient(&record, &format!("patient:{patient_id}"))
                        .await?;
                    let id = created["id"].as_str().ok_or_else(|| {
                        StepError::permanent("the clinical network returned no patient id")
                    })?;
                    patients::set_clinical_id(&pool, patient_id, id).await?
                }
            };
            let term = SearchTerm::clear(search::CLINICAL_PATIENT, id.clone());
            crate::engine::search::index(&pool, None, journey, &[term]).await?;
            Ok(id)
        })
        .await
    }

    pub(super) async fn submit_case(
        &self,
        ctx: &mut JourneyCtx,
        intake: &ConsultInput,
        clinical_patient: &str,
        answers: Value,
    ) -> Result<Submitted, WorkflowError> {
        ctx.set_phase("submitting_case");
        let journey = ctx.journey_id();
        let case = CaseRequest {
            patient_id: clinical_patient.to_owned(),
            external_id: journey.to_string(),
            offering_id: intake.offering.id.clone(),
            refills: intake.offering.refills,
            questionnaire: answers["questionnaire"].clone(),
            answers: answers["answers"].clone(),
        };
        let (vendors, pool) = (self.vendors.clone(), self.pool.clone());
        let submitted: Submitted = ctx
            .step("submit_case", |s| async move {
                let created = vendors
                    .clinical
                    .create_case(&case, &s.idempotency_key())
                    .await?;
                let case_id = created["id"].as_str().ok_or_else(|| {
                    StepError::permanent("the clinical network returned no case id")
                })?;
                // Before the step is recorded, so the clinician's webhooks
                // about this case find their journey (and any that came early
                // are routed again).
                refs::link(&pool, journey, "clinical", CASE, case_id).await?;
                Ok(Submitted {
                    case_id: case_id.to_owned(),
                    at: Utc::now(),
                })
            })
            .await?;
        let (vendors, case_id) = (self.vendors.clone(), submitted.case_id.clone());
        let file = CaseFile {
            kind: "photo_id".into(),
            name: intake.photo_id.file_name.clone(),
            content_type: intake.photo_id.content_type.clone(),
            url: intake.photo_id.url.clone(),
        };
        ctx.step("upload_photo_id", |s| async move {
            vendors
                .clinical
                .add_case_file(&case_id, &file, &s.idempotency_key())
                .await?;
            Ok(())
        })
        .await?;
        Ok(submitted)
    }
}
