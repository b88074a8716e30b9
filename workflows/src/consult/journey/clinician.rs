//! The clinician's side: waiting for a decision (with its SLA), the
//! more-information rounds with the patient, and the prescription.

use carepath_activities::vendors::notify::Channel;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::{AsyncConsult, PATIENT_RESPONSE, Submitted, event_time, until};
use crate::consult::input::ConsultInput;
use crate::store::alerts;
use crate::{JourneyCtx, StepError, WorkflowError};

pub(super) enum Decision {
    Approved {
        at: DateTime<Utc>,
    },
    Declined {
        at: DateTime<Utc>,
    },
    /// The patient never answered a request for more information.
    Abandoned,
}

/// How a more-information round ended.
enum Round {
    Answered {
        at: DateTime<Utc>,
    },
    Unanswered,
    /// The clinician decided while the patient was silent: the decision is
    /// already waiting among the case's events.
    Overtaken,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub(super) struct Prescription {
    pub id: String,
    pub medication: String,
    pub refills: u32,
    pub clinician_id: Option<String>,
}

impl AsyncConsult {
    /// The clinician's decision, however many more-information rounds it
    /// takes. No decision within the SLA of the clinician's turn: the case is
    /// looked up (its webhook may be lost) and, still undecided, an alert is
    /// raised — once per turn — and the journey keeps waiting and looking.
    pub(super) async fn await_decision(
        &self,
        ctx: &mut JourneyCtx,
        intake: &ConsultInput,
        submitted: &Submitted,
    ) -> Result<Decision, WorkflowError> {
        ctx.set_phase("awaiting_clinician");
        let sla = self.config.decision_sla;
        let mut turn_since = submitted.at;
        let mut alerted = false;
        // The clinician's round numbers seen so far, and how many times the
        // patient was asked (the `round` the product answers with).
        let mut last_round = 0u64;
        let mut asked = 0u64;
        loop {
            let timeout = if alerted {
                sla
            } else {
                until(turn_since + sla)
            };
            let event = match ctx.wait_signal("clinical.case", Some(timeout)).await? {
                Some(event) => event,
                None => {
                    let status = self.check_case(ctx, &submitted.case_id).await?;
                    if matches!(status.as_str(), "approved" | "declined") {
                        // The decision's webhook was lost: act on the case itself.
                        json!({ "type": format!("case.{status}"), "data": {} })
                    } else {
                        if !alerted {
                            self.raise_sla_alert(ctx, &submitted.case_id).await?;
                            alerted = true;
                        }
                        continue;
                    }
                }
            };
            match event["type"].as_str().unwrap_or_default() {
                "case.assigned" => ctx.set_phase("in_clinician_review"),
                "case.more_info_requested" => {
                    let round = event["data"]["round"].as_u64().unwrap_or(last_round + 1);
                    if round <= last_round {
                        continue; // a late repeat of a round already handled
                    }
                    last_round = round;
                    asked += 1;
                    match self
                        .more_info(ctx, intake, &submitted.case_id, asked)
                        .await?
                    {
                        Round::Answered { at } => {
                            turn_since = at;
                            alerted = false;
                            ctx.set_phase("awaiting_clinician");
                        }
                        Round::Overtaken => ctx.set_phase("awaiting_clinician"),
                        Round::Unanswered => return Ok(Decision::Abandoned),
                    }
                }
                kind @ ("case.approved" | "case.declined") => {
                    let at = self.decision_time(ctx, &event).await?;
                    return Ok(if kind == "case.approved" {
                        Decision::Approved { at }
                    } else {
                        Decision::Declined { at }
                    });
                }
                _ => {}
            }
        }
    }

    /// When the clinician decided: the event's time, or (when it names none)
    /// the time the journey learnt of it — recorded either way.
    async fn decision_time(
        &self,
        ctx: &mut JourneyCtx,
        event: &Value,
    ) -> Result<DateTime<Utc>, WorkflowError> {
        let named = event_time(event);
        ctx.step("decision_time", |_| async move {
            Ok::<_, StepError>(named.unwrap_or_else(Utc::now))
        })
        .await
    }

    async fn check_case(
        &self,
        ctx: &mut JourneyCtx,
        case_id: &str,
    ) -> Result<String, WorkflowError> {
        let (vendors, case) = (self.vendors.clone(), case_id.to_owned());
        ctx.step("check_case", |_| async move {
            let case = vendors.clinical.get_case(&case).await?;
            Ok(case["status"].as_str().unwrap_or_default().to_owned())
        })
        .await
    }

    async fn raise_sla_alert(
        &self,
        ctx: &mut JourneyCtx,
        case_id: &str,
    ) -> Result<(), WorkflowError> {
        let (pool, journey, case) = (self.pool.clone(), ctx.journey_id(), case_id.to_owned());
        let sla = self.config.decision_sla.as_secs();
        ctx.step("decision_sla_alert", |s| async move {
            let detail = json!({ "case_id": case, "sla_secs": sla });
            Ok(alerts::raise(&pool, journey, "decision_sla_exceeded", &s.key, detail).await?)
        })
        .await
    }

    /// Round `round` of questions: tell the patient, wait for their answer
    /// to this round (reminding once), pass it to the clinician. An answer
    /// to another round — early, late or sent twice — is not this round's.
    async fn more_info(
        &self,
        ctx: &mut JourneyCtx,
        intake: &ConsultInput,
        case_id: &str,
        round: u64,
    ) -> Result<Round, WorkflowError> {
        ctx.set_phase("awaiting_patient_response");
        let p = &intake.patient;
        let asked = self
            .notify(
                ctx,
                "notify_more_info",
                Channel::Email,
                &p.email,
                "more_info_requested",
            )
            .await?;
        let (remind_at, give_up_at) = (
            asked + self.config.more_info_reminder,
            asked + self.config.more_info_cancel,
        );
        let mut reminded = false;
        let answer = loop {
            let deadline = if reminded { give_up_at } else { remind_at };
            match ctx
                .wait_signal(PATIENT_RESPONSE, Some(until(deadline)))
                .await?
            {
                Some(answer) if answer["round"].as_u64() == Some(round) => break answer,
                Some(_) => {}
                None if !reminded => {
                    self.notify(
                        ctx,
                        "remind_patient",
                        Channel::Sms,
                        &p.phone,
                        "more_info_reminder",
                    )
                    .await?;
                    reminded = true;
                }
                None => {
                    let status = self.check_case(ctx, case_id).await?;
                    return Ok(if status == "more_info_requested" {
                        Round::Unanswered
                    } else {
                        Round::Overtaken
                    });
                }
            }
        };
        let text = answer["message"].as_str().unwrap_or_default().to_owned();
        let (vendors, case) = (self.vendors.clone(), case_id.to_owned());
        let at: DateTime<Utc> = ctx
            .step("send_patient_response", |s| async move {
                vendors
                    .clinical
                    .send_message(&case, "patient", &text, &s.idempotency_key())
                    .await?;
                Ok(Utc::now())
            })
            .await?;
        Ok(Round::Answered { at })
    }

    pub(super) async fn withdraw_case(
        &self,
        ctx: &mut JourneyCtx,
        case_id: &str,
    ) -> Result<(), WorkflowError> {
        let (vendors, case) = (self.vendors.clone(), case_id.to_owned());
        ctx.step("withdraw_case", |s| async move {
            let reason = "The patient did not answer the request for more information.";
            match vendors
                .clinical
                // Its own key: this step once sent a message under the step's
                // key, and a vendor must not answer a withdrawal with that.
                .withdraw_case(&case, reason, &format!("{}:withdraw", s.idempotency_key()))
                .await
            {
                Ok(_) => Ok(()),
                // Decided in the instant since the case was looked at: nothing
                // is left open at the network to withdraw.
                Err(carepath_activities::VendorError::Rejected { status: 409, .. }) => Ok(()),
                Err(e) => Err(e.into()),
            }
        })
        .await
    }

    /// The prescription as the clinical network holds it (the webhook only
    /// says "approved"), within the refills the offering was sold with.
    pub(super) async fn fetch_prescription(
        &self,
        ctx: &mut JourneyCtx,
        intake: &ConsultInput,
        case_id: &str,
    ) -> Result<Prescription, WorkflowError> {
        let (vendors, case) = (self.vendors.clone(), case_id.to_owned());
        let offering = intake.offering.clone();
        ctx.step("fetch_prescription", |_| async move {
            let case = vendors.clinical.get_case(&case).await?;
            let rx = &case["prescription"];
            let id = rx["id"]
                .as_str()
                .ok_or_else(|| StepError::transient("the approved case has no prescription yet"))?;
            let prescribed = rx["refills"]
                .as_u64()
                .unwrap_or(u64::from(offering.refills));
            Ok(Prescription {
                id: id.to_owned(),
                medication: rx["medication"].as_str().unwrap_or(&offering.id).to_owned(),
                refills: prescribed.min(u64::from(offering.refills)) as u32,
                clinician_id: case["clinician_id"].as_str().map(str::to_owned),
            })
        })
        .await
    }
}
