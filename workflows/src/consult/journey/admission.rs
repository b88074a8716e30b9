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
use crate::consult::consults::{self, Claim, ClaimMode};
use crate::consult::input::ConsultInput;
use crate::{JourneyCtx, StepError, WaitingFor, WorkflowError};

/// How often an intake merged into an open consult looks again for that
/// consult's case, while the open journey has not submitted it yet.
const CASE_RECHECK: Duration = Duration::from_secs(3);

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

/// Where admission goes next.
enum Next {
    Claim,
    Attach(Uuid),
    /// Wait for a person; the open consult, for a duplicate intake.
    Review(Option<Uuid>),
}

/// What became of an attempt to attach to an open consult; the output of the
/// `attach_to_open_consult` step.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "attach", rename_all = "snake_case")]
enum Attached {
    /// The answers went to this case.
    Sent { case_id: String },
    /// The open journey ended (completed or cancelled): claim again.
    Ended,
    /// The open journey is failed or paused: nobody would act on the
    /// answers, so a person decides.
    Stuck,
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
        let policy = self.config.duplicate_policy(&intake.offering.id);
        let mode = if policy == DuplicatePolicy::Allow {
            ClaimMode::Parallel
        } else {
            ClaimMode::Exclusive
        };
        let mut next = Next::Claim;
        loop {
            next = match next {
                Next::Claim => {
                    ctx.set_phase("claiming_consult");
                    match self.claim(ctx, intake, patient_id, mode).await? {
                        Claim::Claimed | Claim::Unclaimed => return Ok(None),
                        Claim::Open { journey_id } if policy == DuplicatePolicy::Attach => {
                            Next::Attach(journey_id)
                        }
                        Claim::Open { journey_id } => Next::Review(Some(journey_id)),
                        Claim::ActiveTreatment { .. } => Next::Review(None),
                    }
                }
                Next::Attach(open) => match self.attach(ctx, open, answers).await? {
                    Attached::Sent { case_id } => {
                        ctx.set_phase("merged");
                        return Ok(Some(json!({
                            "outcome": "merged",
                            "merged_into": open,
                            "case_id": case_id,
                            "patient_id": patient_id,
                        })));
                    }
                    Attached::Ended => Next::Claim,
                    Attached::Stuck => Next::Review(Some(open)),
                },
                Next::Review(open) => {
                    ctx.set_phase(if open.is_some() {
                        "duplicate_intake_review"
                    } else {
                        "active_treatment_review"
                    });
                    match (self.reviewed(ctx, open.is_some()).await?, open) {
                        (ReviewAction::Attach, Some(open)) => Next::Attach(open),
                        (ReviewAction::Proceed, _) => {
                            // A person decided: this consult is opened, and
                            // recorded, so later intakes find it open.
                            self.claim(ctx, intake, patient_id, ClaimMode::Forced)
                                .await?;
                            return Ok(None);
                        }
                        _ => {
                            ctx.set_phase("closed_by_review");
                            return Ok(Some(
                                json!({ "outcome": "closed_by_review", "patient_id": patient_id }),
                            ));
                        }
                    }
                }
            };
        }
    }

    /// The reviewer's action (checked by the API before it is signalled;
    /// anything else, or `attach` where there is nothing to attach to, waits on).
    async fn reviewed(
        &self,
        ctx: &mut JourneyCtx,
        duplicate: bool,
    ) -> Result<ReviewAction, WorkflowError> {
        loop {
            let Some(decision) = ctx.wait_signal(INTAKE_REVIEW, None).await? else {
                continue;
            };
            match serde_json::from_value::<ReviewAction>(decision["action"].clone()) {
                Ok(ReviewAction::Attach) if !duplicate => continue,
                Ok(action) => return Ok(action),
                Err(_) => continue,
            }
        }
    }

    async fn claim(
        &self,
        ctx: &mut JourneyCtx,
        intake: &ConsultInput,
        patient_id: Uuid,
        mode: ClaimMode,
    ) -> Result<Claim, WorkflowError> {
        let (pool, journey, offering) = (
            self.pool.clone(),
            ctx.journey_id(),
            intake.offering.id.clone(),
        );
        let key = if mode == ClaimMode::Forced {
            "claim_consult_by_review"
        } else {
            super::CLAIM_STEP
        };
        ctx.step(key, |_| async move {
            Ok(consults::claim(&pool, patient_id, &offering, journey, mode).await?)
        })
        .await
    }

    /// Sends this intake's answers to the open consult's case as a message to
    /// the clinician (one call, under this journey's idempotency key), once
    /// that case exists and while someone will act on it.
    async fn attach(
        &self,
        ctx: &mut JourneyCtx,
        open: Uuid,
        answers: &Value,
    ) -> Result<Attached, WorkflowError> {
        ctx.set_phase("merging_into_open_consult");
        let (vendors, pool) = (self.vendors.clone(), self.pool.clone());
        let text = resubmission_message(answers);
        ctx.step("attach_to_open_consult", |s| async move {
            let consult = consults::open_consult(&pool, open).await?;
            match (consult.status.as_str(), consult.case_id) {
                ("completed" | "cancelled", _) => Ok(Attached::Ended),
                ("failed" | "paused", _) => Ok(Attached::Stuck),
                (_, None) => Err(StepError::Unavailable {
                    message: format!("the open consult (journey {open}) has no case yet"),
                    retry_after: CASE_RECHECK,
                    waiting_for: WaitingFor::Other(format!("consult:{open}")),
                }),
                (_, Some(case_id)) => {
                    vendors
                        .clinical
                        .send_message(&case_id, "partner", &text, &s.idempotency_key())
                        .await?;
                    Ok(Attached::Sent { case_id })
                }
            }
        })
        .await
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
