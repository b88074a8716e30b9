//! The clinician's side: waiting for a decision (with its SLA), the
//! more-information rounds with the patient, and the prescription.

use carepath_activities::vendors::notify::Channel;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::reconcile::{CaseFound, CaseLookup, DECISIVE, Silence};
use super::{AsyncConsult, PATIENT_RESPONSE, Submitted, event_time, until};
use crate::consult::input::ConsultInput;
use crate::store::alerts;
use crate::webhooks::signals::CLINICAL_CASE;
use crate::{JourneyCtx, SearchTerm, StepError, WorkflowError};

pub(super) enum Decision {
    Approved {
        at: DateTime<Utc>,
    },
    Declined {
        at: DateTime<Utc>,
    },
    /// The patient never answered a request for more information.
    Abandoned,
    /// The network cancelled the case (no clinician will decide it).
    Cancelled,
}

/// The alert a clinician's turn past its SLA raises.
const SLA_ALERT: &str = "decision_sla_exceeded";

/// Where the clinician's turn stands, as the wait for their decision goes
/// round.
struct Turn<'a> {
    /// When the turn began: its SLA runs from here.
    since: DateTime<Utc>,
    /// Whether this turn's SLA alert has been raised.
    alerted: bool,
    /// The clinician's round numbers seen so far.
    last_round: u64,
    /// How many times the patient was asked (the `round` the product answers with).
    asked: u64,
    /// The case's state as the journey knows it.
    known: &'static str,
    /// How long the network may stay silent about the case.
    silence: Silence<'a>,
}

impl Turn<'_> {
    /// The patient's turn ended at `at`: the clinician's turn, and its SLA,
    /// start again from there.
    fn restart(&mut self, at: DateTime<Utc>) {
        self.since = at;
        self.alerted = false;
        self.known = "info_received";
        self.silence.moved_to(self.known);
    }
}

/// A round of questions to put to the patient.
struct Asking<'a> {
    case_id: &'a str,
    /// How many times the patient has been asked, this one included: the
    /// `round` their answer names.
    round: u64,
    /// The clinician's question, when the event carried it.
    question: Option<String>,
}

/// Where an event came from, for people reading the history.
fn source_of(event: &Value) -> &str {
    event["source"].as_str().unwrap_or("webhook")
}

/// How a more-information round ended.
enum Round {
    Answered {
        at: DateTime<Utc>,
    },
    Unanswered,
    /// The patient's turn ended without their answer reaching the journey:
    /// the clinician decided (the decision, when the lookup that found it
    /// may drive it; else it waits among the case's events, or the next
    /// lookup finds it), or the answer went to the network another way.
    Overtaken {
        decision: Option<Value>,
        /// When the lookup found it (none for lookups recorded without).
        at: Option<DateTime<Utc>>,
    },
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
    /// takes. A network silent about the case for a while (`case_check`,
    /// backing off) is asked, and what it says drives the journey as the
    /// lost webhook would have; a webhook that arrives after all changes
    /// nothing. Still undecided past the SLA of the clinician's turn, an
    /// alert is raised — once per turn — and resolved when the clinician acts.
    pub(super) async fn await_decision(
        &self,
        ctx: &mut JourneyCtx,
        intake: &ConsultInput,
        submitted: &Submitted,
    ) -> Result<Decision, WorkflowError> {
        ctx.set_phase("awaiting_clinician");
        let mut turn = Turn {
            since: submitted.at,
            alerted: false,
            last_round: 0,
            asked: 0,
            known: "submitted",
            silence: Silence::new(&self.config, "clinical", "submitted"),
        };
        loop {
            let Some(event) = self
                .next_case_event(ctx, &submitted.case_id, &mut turn)
                .await?
            else {
                continue;
            };
            match event["type"].as_str().unwrap_or_default() {
                "case.assigned" => {
                    ctx.set_phase("in_clinician_review");
                    if turn.known == "submitted" {
                        turn.known = "assigned";
                        turn.silence.moved_to(turn.known);
                    }
                }
                "case.more_info_requested" => {
                    let ended = self
                        .more_info_round(ctx, intake, &submitted.case_id, &mut turn, &event)
                        .await?;
                    if let Some(decision) = ended {
                        return Ok(decision);
                    }
                }
                // Recorded by code that passed cancellations over: that path.
                "case.cancelled"
                    if ctx
                        .recorded_next()
                        .is_some_and(|k| k.starts_with("signal:clinical.case")) => {}
                "case.approved" | "case.declined" | "case.cancelled" => {
                    return self.decided(ctx, &event).await;
                }
                _ => {}
            }
        }
    }

    /// The next event about the case: its webhook, or what a lookup found
    /// after a silence, raising the turn's SLA alert on the way when the turn
    /// is past it; `None` when the lookup found nothing the journey did not know.
    async fn next_case_event(
        &self,
        ctx: &mut JourneyCtx,
        case_id: &str,
        turn: &mut Turn<'_>,
    ) -> Result<Option<Value>, WorkflowError> {
        let sla_at = turn.since + self.config.decision_sla;
        let timeout = if turn.alerted {
            turn.silence.period()
        } else {
            turn.silence.period().min(until(sla_at))
        };
        if let Some(event) = ctx.wait_signal(CLINICAL_CASE, Some(timeout)).await? {
            turn.silence.heard();
            return Ok(Some(event));
        }
        let looked = self.check_case(ctx, case_id, sla_at).await?;
        let news = looked.news(turn.known, turn.last_round);
        let decisive = news
            .as_ref()
            .is_some_and(|e| DECISIVE.contains(&e["type"].as_str().unwrap_or_default()));
        if !decisive && !turn.alerted && looked.past_sla() {
            self.raise_sla_alert(ctx, case_id).await?;
            turn.alerted = true;
        }
        if news.is_some() {
            turn.silence.heard();
        } else {
            turn.silence.learnt_nothing();
        }
        Ok(news)
    }

    /// A round of questions the clinician asked (`event`), put to the
    /// patient; the decision when the wait for the clinician ends with it
    /// (the patient never answered, or the clinician decided meanwhile).
    async fn more_info_round(
        &self,
        ctx: &mut JourneyCtx,
        intake: &ConsultInput,
        case_id: &str,
        turn: &mut Turn<'_>,
        event: &Value,
    ) -> Result<Option<Decision>, WorkflowError> {
        let round = event["data"]["round"]
            .as_u64()
            .unwrap_or(turn.last_round + 1);
        if round <= turn.last_round {
            return Ok(None); // a late repeat of a round already handled
        }
        turn.last_round = round;
        turn.asked += 1;
        let question = event["data"]["message"].as_str().map(str::to_owned);
        let asking = Asking {
            case_id,
            round: turn.asked,
            question,
        };
        match self.more_info(ctx, intake, asking).await? {
            Round::Answered { at } => turn.restart(at),
            Round::Overtaken {
                decision: Some(decision),
                ..
            } => {
                return self.decided(ctx, &decision).await.map(Some);
            }
            // The patient's turn ended elsewhere (answered on the
            // network's own portal): the clinician's turn, and its
            // SLA, run from the lookup that found it.
            Round::Overtaken {
                decision: None,
                at: Some(at),
            } => turn.restart(at),
            Round::Overtaken { .. } => {}
            Round::Unanswered => return Ok(Some(Decision::Abandoned)),
        }
        ctx.set_phase("awaiting_clinician");
        Ok(None)
    }

    /// The clinician's decision in `event` (a webhook or its lookup).
    async fn decided(
        &self,
        ctx: &mut JourneyCtx,
        event: &Value,
    ) -> Result<Decision, WorkflowError> {
        if event["type"] == "case.cancelled" {
            return Ok(Decision::Cancelled);
        }
        let at = self.decision_time(ctx, event).await?;
        Ok(if event["type"] == "case.approved" {
            Decision::Approved { at }
        } else {
            Decision::Declined { at }
        })
    }

    /// The network cancelled the case: no clinician will decide it, so the
    /// turn's SLA alert, if one was raised, is resolved.
    pub(super) async fn case_cancelled(&self, ctx: &mut JourneyCtx) -> Result<(), WorkflowError> {
        let (pool, journey) = (self.pool.clone(), ctx.journey_id());
        ctx.step("case_cancelled", |_| async move {
            let how = "the network cancelled the case";
            alerts::resolve(&pool, journey, &[SLA_ALERT], None, how).await?;
            Ok::<_, StepError>(())
        })
        .await
    }

    /// When the clinician decided: the event's time, or (when it names none)
    /// the time the journey learnt of it — recorded either way. The turn's
    /// SLA alert, if one was raised, is resolved with it.
    async fn decision_time(
        &self,
        ctx: &mut JourneyCtx,
        event: &Value,
    ) -> Result<DateTime<Utc>, WorkflowError> {
        let named = event_time(event);
        let (pool, journey) = (self.pool.clone(), ctx.journey_id());
        let how = format!("the clinician decided ({})", source_of(event));
        ctx.step("decision_time", |_| async move {
            alerts::resolve(&pool, journey, &[SLA_ALERT], None, &how).await?;
            Ok::<_, StepError>(named.unwrap_or_else(Utc::now))
        })
        .await
    }

    /// Asks the network for the case (its webhooks may be lost): its status,
    /// and with a round of questions, the clinician's question from the
    /// case's messages. Whether the turn's SLA (ending `sla_at`) had passed
    /// is judged now and recorded, so a replay takes the same path.
    async fn check_case(
        &self,
        ctx: &mut JourneyCtx,
        case_id: &str,
        sla_at: DateTime<Utc>,
    ) -> Result<CaseLookup, WorkflowError> {
        let (vendors, case) = (self.vendors.clone(), case_id.to_owned());
        ctx.step("check_case", |_| async move {
            let found = vendors.clinical.get_case(&case).await?;
            let status = found["status"].as_str().unwrap_or_default().to_owned();
            let (mut round, mut message) = (None, None);
            if status == "more_info_requested" {
                // The messages give the question (best had: a 4xx from them
                // leaves the patient asked without the wording) and, where
                // the case does not count its rounds, the round.
                let asked = match vendors.clinical.questions(&case).await {
                    Ok(asked) => asked,
                    Err(carepath_activities::VendorError::Rejected { .. }) => Vec::new(),
                    Err(e) => return Err(e.into()),
                };
                // The round as the case counts it; else as its questions do.
                round = found["more_info_rounds"]
                    .as_u64()
                    .or_else(|| asked.last().and_then(|q| q.round))
                    .or_else(|| (!asked.is_empty()).then_some(asked.len() as u64));
                message = asked
                    .iter()
                    .rev()
                    .find(|q| q.round.is_none() || q.round == round)
                    .map(|q| q.text.clone());
            }
            let now = Utc::now();
            Ok(CaseLookup::Found(CaseFound {
                status,
                round,
                message,
                past_sla: now >= sla_at,
                at: Some(now),
            }))
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
            Ok(alerts::raise(&pool, journey, SLA_ALERT, &s.key, detail).await?)
        })
        .await
    }

    /// A round of questions: tell the patient (with the clinician's
    /// question), wait for their answer to this round (reminding once), pass
    /// it to the clinician. An answer to another round — early, late or sent
    /// twice — is not this round's.
    async fn more_info(
        &self,
        ctx: &mut JourneyCtx,
        intake: &ConsultInput,
        asking: Asking<'_>,
    ) -> Result<Round, WorkflowError> {
        ctx.set_phase("awaiting_patient_response");
        let p = &intake.patient;
        let Asking {
            case_id,
            round,
            question,
        } = asking;
        let asked = self.ask_patient(ctx, case_id, &p.email, question).await?;
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
                    // The SLA does not apply while the patient has the turn.
                    let looked = self
                        .check_case(ctx, case_id, DateTime::<Utc>::MAX_UTC)
                        .await?;
                    if looked.status() == "more_info_requested" {
                        return Ok(Round::Unanswered);
                    }
                    // Decided meanwhile: act on it now unless the lookup was
                    // recorded before lookups drove decisions here.
                    let decision = match &looked {
                        CaseLookup::Found(_) => looked
                            .news("info_received", u64::MAX)
                            .filter(|e| e["type"] != "case.more_info_requested"),
                        CaseLookup::Status(_) => None,
                    };
                    return Ok(Round::Overtaken {
                        decision,
                        at: looked.at(),
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

    /// Tells the patient the clinician needs more information, with the
    /// clinician's question (fetched from the case when the event that
    /// brought the round did not carry it); the clinician has acted, so the
    /// turn's SLA alert is resolved. Returns when the patient was asked.
    async fn ask_patient(
        &self,
        ctx: &mut JourneyCtx,
        case_id: &str,
        email: &str,
        question: Option<String>,
    ) -> Result<DateTime<Utc>, WorkflowError> {
        let (vendors, pool, journey) = (self.vendors.clone(), self.pool.clone(), ctx.journey_id());
        let (case, to) = (case_id.to_owned(), email.to_owned());
        ctx.step("notify_more_info", |s| async move {
            let question = match question {
                Some(q) => Some(q),
                // Best had: the patient is asked even without the wording.
                None => match vendors.clinical.questions(&case).await {
                    Ok(asked) => asked.last().map(|q| q.text.clone()),
                    Err(carepath_activities::VendorError::Rejected { .. }) => None,
                    Err(e) => return Err(e.into()),
                },
            };
            let data = json!({ "question": question });
            vendors
                .notify
                .send_with(
                    Channel::Email,
                    &to,
                    "more_info_requested",
                    &data,
                    &s.idempotency_key(),
                )
                .await?;
            let how = "the clinician asked the patient for more information";
            alerts::resolve(&pool, journey, &[SLA_ALERT], None, how).await?;
            Ok(Utc::now())
        })
        .await
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
        let (pool, journey) = (self.pool.clone(), ctx.journey_id());
        let offering = intake.offering.clone();
        ctx.step("fetch_prescription", |_| async move {
            let case = vendors.clinical.get_case(&case).await?;
            let rx = &case["prescription"];
            let id = rx["id"]
                .as_str()
                .ok_or_else(|| StepError::transient("the approved case has no prescription yet"))?;
            let term = SearchTerm::clear(crate::search::PRESCRIPTION, id);
            crate::engine::search::index(&pool, None, journey, &[term]).await?;
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
