//! Whether this intake opens a consult: one open consult per patient and
//! offering, and no new consult over an active prescription without a person
//! deciding so (ARCHITECTURE §2.9). Decided right after the patient is known,
//! before anything is sent to the clinical network.

use std::time::Duration;

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use uuid::Uuid;

use super::{AsyncConsult, INTAKE_REVIEW};
use crate::consult::config::DuplicatePolicy;
use crate::consult::consults::{self, Claim};
use crate::consult::input::ConsultInput;
use crate::{JourneyCtx, StepError, WorkflowError};

/// How often an intake merged into an open consult looks again for that
/// consult's case, while the open journey has not submitted it yet.
const CASE_RECHECK: Duration = Duration::from_secs(1);

/// What an operator decided about an intake held for review.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum ReviewAction {
    /// Merge the answers into the patient's open consult (duplicate intakes only).
    Attach,
    /// Open a consult anyway (a dose change, a second condition).
    Proceed,
    /// End this intake without a consult.
    Close,
}

impl AsyncConsult {
    /// Claims the patient's consult for the offering. `None`: this journey
    /// goes on to open a case. `Some(output)`: it ends here (merged into the
    /// open consult, or closed by a reviewer), with that output.
    pub(super) async fn admit(
        &self,
        ctx: &mut JourneyCtx,
        intake: &ConsultInput,
        patient_id: Uuid,
        answers: &Value,
    ) -> Result<Option<Value>, WorkflowError> {
        ctx.set_phase("claiming_consult");
        let policy = self.config.duplicate_policy(&intake.offering.id);
        let claim = self
            .claim(ctx, "claim_consult", intake, patient_id, false)
            .await?;
        let review = match claim {
            Claim::Claimed | Claim::Unclaimed => return Ok(None),
            Claim::Open { journey_id } if policy == DuplicatePolicy::Attach => {
                return self
                    .attach(ctx, journey_id, patient_id, answers)
                    .await
                    .map(Some);
            }
            Claim::Open { journey_id } => {
                ctx.set_phase("duplicate_intake_review");
                Some(journey_id)
            }
            Claim::ActiveTreatment { .. } => {
                ctx.set_phase("active_treatment_review");
                None
            }
        };
        let action = loop {
            let Some(decision) = ctx.wait_signal(INTAKE_REVIEW, None).await? else {
                continue;
            };
            // Checked by the API before it is signalled; anything else waits on.
            match serde_json::from_value::<ReviewAction>(decision["action"].clone()) {
                Ok(ReviewAction::Attach) if review.is_none() => continue,
                Ok(action) => break action,
                Err(_) => continue,
            }
        };
        match (action, review) {
            (ReviewAction::Attach, Some(open)) => {
                self.attach(ctx, open, patient_id, answers).await.map(Some)
            }
            (ReviewAction::Close, _) | (ReviewAction::Attach, None) => {
                ctx.set_phase("closed_by_review");
                Ok(Some(
                    json!({ "outcome": "closed_by_review", "patient_id": patient_id }),
                ))
            }
            (ReviewAction::Proceed, Some(_)) => Ok(None),
            (ReviewAction::Proceed, None) => {
                // Over an active prescription, by a person's decision: the
                // pair is still claimed, so a consult opened meanwhile merges.
                match self
                    .claim(ctx, "claim_consult_after_review", intake, patient_id, true)
                    .await?
                {
                    Claim::Open { journey_id } => self
                        .attach(ctx, journey_id, patient_id, answers)
                        .await
                        .map(Some),
                    _ => Ok(None),
                }
            }
        }
    }

    async fn claim(
        &self,
        ctx: &mut JourneyCtx,
        key: &str,
        intake: &ConsultInput,
        patient_id: Uuid,
        despite_treatment: bool,
    ) -> Result<Claim, WorkflowError> {
        let exclusive = self.config.duplicate_policy(&intake.offering.id) != DuplicatePolicy::Allow;
        let (pool, journey, offering) = (
            self.pool.clone(),
            ctx.journey_id(),
            intake.offering.id.clone(),
        );
        ctx.step(key, |_| async move {
            Ok(consults::claim(
                &pool,
                patient_id,
                &offering,
                journey,
                exclusive,
                despite_treatment,
            )
            .await?)
        })
        .await
    }

    /// Sends this intake's answers to the open consult's case as a message to
    /// the clinician (one call, under this journey's idempotency key), once
    /// that case exists; this journey then ends `merged`, naming the open one.
    async fn attach(
        &self,
        ctx: &mut JourneyCtx,
        open: Uuid,
        patient_id: Uuid,
        answers: &Value,
    ) -> Result<Value, WorkflowError> {
        ctx.set_phase("merging_into_open_consult");
        let (vendors, pool) = (self.vendors.clone(), self.pool.clone());
        let text = resubmission_message(answers);
        let case_id: String = ctx
            .step("attach_to_open_consult", |s| async move {
                let (case, ended) = consults::case_of(&pool, open).await?;
                let Some(case) = case else {
                    if ended {
                        return Err(StepError::permanent(format!(
                            "the open consult (journey {open}) ended before it had a case"
                        )));
                    }
                    return Err(StepError::Unavailable {
                        message: format!("the open consult (journey {open}) has no case yet"),
                        retry_after: CASE_RECHECK,
                        waiting_for: format!("consult:{open}"),
                    });
                };
                vendors
                    .clinical
                    .send_message(&case, "partner", &text, &s.idempotency_key())
                    .await?;
                Ok(case)
            })
            .await?;
        ctx.set_phase("merged");
        Ok(json!({
            "outcome": "merged",
            "merged_into": open,
            "case_id": case_id,
            "patient_id": patient_id,
        }))
    }
}

/// The clinician's message for a re-submitted intake: the new answers, in
/// the wording the patient saw.
fn resubmission_message(answers: &Value) -> String {
    let mut text = String::from(
        "The patient submitted this intake again while this consult was open. Their new answers:",
    );
    for qa in answers["answers"].as_array().into_iter().flatten() {
        let question = qa["question"].as_str().unwrap_or_default();
        let answer = match &qa["answer"] {
            Value::String(s) => s.clone(),
            other => other.to_string(),
        };
        text.push_str(&format!("\n- {question}: {answer}"));
    }
    text
}
