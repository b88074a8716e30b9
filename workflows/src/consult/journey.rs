//! `async_consult`: the telehealth journey of ARCHITECTURE §4, from a paid
//! intake to the last refill. Each vendor side effect is one step (one
//! idempotency key); each wait for a clinician, the patient or the pharmacy is
//! a durable signal wait; each long pause is a durable timer.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use carepath_activities::Vendors;
use carepath_activities::vendors::clinical::{CaseFile, CaseRequest, PatientRecord};
use carepath_activities::vendors::crm::EngagementEvent;
use carepath_activities::vendors::notify::Channel;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use sqlx::PgPool;
use uuid::Uuid;

use super::config::ConsultConfig;
use super::fhir;
use super::input::ConsultInput;
use super::intake::{Problem, Questionnaires};
use super::patients::{self, MatchOutcome};
use crate::store::{alerts, refs};
use crate::{JourneyCtx, StepError, Workflow, WorkflowError};

pub const NAME: &str = "async_consult";

pub struct AsyncConsult {
    vendors: Arc<Vendors>,
    pool: PgPool,
    config: ConsultConfig,
    questionnaires: Arc<Questionnaires>,
}

impl AsyncConsult {
    pub fn new(
        vendors: Arc<Vendors>,
        pool: PgPool,
        config: ConsultConfig,
        questionnaires: Arc<Questionnaires>,
    ) -> Self {
        Self {
            vendors,
            pool,
            config,
            questionnaires,
        }
    }
}

/// The case as submitted, and when: the decision SLA runs from here.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Submitted {
    case_id: String,
    at: DateTime<Utc>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct Prescription {
    id: String,
    medication: String,
    refills: u32,
    clinician_id: Option<String>,
}

enum Decision {
    Approved {
        at: DateTime<Utc>,
    },
    Declined {
        at: DateTime<Utc>,
    },
    /// The patient never answered a request for more information.
    Abandoned,
}

/// Pharmacy order states; an order only ever moves forward.
const ORDER_STATES: [&str; 4] = ["received", "filled", "shipped", "delivered"];

fn order_rank(status: &str) -> Option<usize> {
    ORDER_STATES.iter().position(|s| *s == status)
}

fn event_time(event: &Value) -> DateTime<Utc> {
    event["occurred_at"]
        .as_str()
        .and_then(|t| DateTime::parse_from_rfc3339(t).ok())
        .map_or_else(Utc::now, |t| t.with_timezone(&Utc))
}

fn until(at: DateTime<Utc>) -> Duration {
    (at - Utc::now()).to_std().unwrap_or_default()
}

#[async_trait]
impl Workflow for AsyncConsult {
    fn validate(&self, input: &Value) -> Result<(), Vec<Problem>> {
        ConsultInput::parse(input, &self.questionnaires, Utc::now().date_naive()).map(|_| ())
    }

    fn validate_signal(&self, name: &str, payload: &Value) -> Result<(), Vec<Problem>> {
        if name == "patient_response"
            && payload["message"]
                .as_str()
                .is_none_or(|m| m.trim().is_empty() || m.chars().count() > 10_000)
        {
            return Err(vec![(
                "payload.message".into(),
                "must be the patient's answer, 1 to 10000 characters".into(),
            )]);
        }
        Ok(())
    }

    async fn run(&self, ctx: &mut JourneyCtx, input: Value) -> Result<Value, WorkflowError> {
        let intake: ConsultInput = serde_json::from_value(input.clone())
            .map_err(|e| WorkflowError::fail(format!("input: {e}")))?;

        ctx.set_phase("validating_intake");
        let answers: Value = {
            let (questionnaires, input) = (self.questionnaires.clone(), input.clone());
            ctx.step("validate_intake", |_| async move {
                let today = Utc::now().date_naive();
                let parsed = ConsultInput::parse(&input, &questionnaires, today).map_err(|p| {
                    let fields: Vec<String> = p.into_iter().map(|(f, m)| format!("{f} {m}")).collect();
                    StepError::permanent(format!("intake refused: {}", fields.join("; ")))
                })?;
                let q = &parsed.questionnaire;
                let version = questionnaires
                    .get(&q.id, q.version)
                    .ok_or_else(|| StepError::permanent("questionnaire version gone"))?;
                // The wording of the version the patient answered, kept with
                // the journey: later versions never change what was asked.
                let rendered: Vec<Value> = version
                    .render(&q.answers)
                    .into_iter()
                    .map(|(text, answer)| json!({ "question": text, "answer": answer }))
                    .collect();
                Ok(json!({ "questionnaire": { "id": q.id, "version": q.version, "title": version.title },
                           "answers": rendered }))
            })
            .await?
        };

        let patient_id = self.find_patient(ctx, &intake).await?;
        let clinical_patient = self.sync_patient(ctx, &intake, patient_id).await?;
        let submitted = self
            .submit_case(ctx, &intake, &clinical_patient, answers)
            .await?;

        let decision = self.await_decision(ctx, &intake, &submitted).await?;
        let outcome = match decision {
            Decision::Abandoned => {
                ctx.set_phase("cancelled_no_response");
                let (vendors, case) = (self.vendors.clone(), submitted.case_id.clone());
                ctx.step("withdraw_case", |s| async move {
                    let text = "The patient did not answer the request for more information; the consult is withdrawn.";
                    vendors.clinical.send_message(&case, "partner", text, &s.idempotency_key()).await?;
                    Ok(())
                })
                .await?;
                self.notify(
                    ctx,
                    "notify_cancelled",
                    Channel::Email,
                    &intake.patient.email,
                    "consult_cancelled",
                )
                .await?;
                self.engage(ctx, &intake, "consult_closed").await?;
                "cancelled_no_response"
            }
            Decision::Declined { at } => {
                ctx.set_phase("declined");
                self.notify(
                    ctx,
                    "notify_declined",
                    Channel::Email,
                    &intake.patient.email,
                    "consult_declined",
                )
                .await?;
                self.record_encounter(ctx, &intake, patient_id, &submitted, at, None)
                    .await?;
                self.engage(ctx, &intake, "consult_closed").await?;
                "declined"
            }
            Decision::Approved { at } => {
                ctx.set_phase("prescribed");
                let rx = self
                    .fetch_prescription(ctx, &intake, &submitted.case_id)
                    .await?;
                self.notify(
                    ctx,
                    "notify_approved",
                    Channel::Email,
                    &intake.patient.email,
                    "consult_approved",
                )
                .await?;
                self.record_encounter(ctx, &intake, patient_id, &submitted, at, Some(&rx))
                    .await?;
                self.engage(ctx, &intake, "consult_closed").await?;
                let orders = self.fulfil(ctx, &intake, &clinical_patient, &rx).await?;
                return Ok(json!({
                    "outcome": "approved",
                    "patient_id": patient_id,
                    "clinical_patient_id": clinical_patient,
                    "case_id": submitted.case_id,
                    "prescription_id": rx.id,
                    "orders": orders,
                }));
            }
        };
        ctx.set_phase(outcome);
        Ok(json!({
            "outcome": outcome,
            "patient_id": patient_id,
            "clinical_patient_id": clinical_patient,
            "case_id": submitted.case_id,
        }))
    }
}

impl AsyncConsult {
    /// Links the journey to carepath's patient: an existing one when matching
    /// is sure, a reviewer's choice when it is not, a new one otherwise.
    async fn find_patient(
        &self,
        ctx: &mut JourneyCtx,
        intake: &ConsultInput,
    ) -> Result<Uuid, WorkflowError> {
        let p = &intake.patient;
        let who = patients::person(
            &p.first_name,
            &p.last_name,
            &p.date_of_birth,
            &p.phone,
            &p.email,
        );
        ctx.set_phase("matching_patient");
        let (pool, journey, person) = (self.pool.clone(), ctx.journey_id(), who.clone());
        let matched: MatchOutcome = ctx
            .step("match_patient", |_| async move {
                Ok(patients::match_or_create(&pool, journey, &person).await?)
            })
            .await?;
        let (patient_id, linked) = match matched.patient_id {
            Some(id) => (id, matched.decision == "link"),
            None => {
                ctx.set_phase("patient_match_review");
                self.review(ctx, &who).await?
            }
        };
        if linked {
            let pool = self.pool.clone();
            ctx.step("refresh_patient_contact", |_| async move {
                Ok(patients::refresh_contact(&pool, patient_id, &who).await?)
            })
            .await?;
        }
        Ok(patient_id)
    }

    /// Waits for an operator's decision on an uncertain match: link to a
    /// patient, or create a new one. Returns the patient and whether it was a link.
    async fn review(
        &self,
        ctx: &mut JourneyCtx,
        who: &super::matching::Person,
    ) -> Result<(Uuid, bool), WorkflowError> {
        loop {
            let Some(decision) = ctx.wait_signal("patient_match", None).await? else {
                continue;
            };
            match (
                decision["action"].as_str(),
                decision["patient_id"].as_str().and_then(|p| p.parse().ok()),
            ) {
                (Some("link"), Some(id)) => return Ok((id, true)),
                (Some("create"), _) => {
                    let (pool, journey, who) = (self.pool.clone(), ctx.journey_id(), who.clone());
                    let id = ctx
                        .step("create_patient_record", |_| async move {
                            Ok(patients::create_for(&pool, journey, &who).await?)
                        })
                        .await?;
                    return Ok((id, false));
                }
                // The API checks decisions before signalling; anything else is ignored.
                _ => {}
            }
        }
    }

    /// The clinical network's chart for the patient: created once per patient
    /// (the idempotency key is the patient's, not the journey's, so two
    /// journeys of one patient cannot create two charts), updated on return.
    async fn sync_patient(
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
            sex: Some(
                serde_json::to_value(p.sex)
                    .ok()
                    .and_then(|v| v.as_str().map(str::to_owned))
                    .unwrap_or_default(),
            ),
            email: Some(p.email.clone()),
            phone: Some(p.phone.clone()),
            state: p.address.state.clone(),
        };
        let (vendors, pool) = (self.vendors.clone(), self.pool.clone());
        ctx.step("sync_patient", |s| async move {
            if let Some(id) = patients::clinical_id(&pool, patient_id).await? {
                let changes =
                    json!({ "email": record.email, "phone": record.phone, "state": record.state });
                vendors
                    .clinical
                    .update_patient(&id, &changes, &s.idempotency_key())
                    .await?;
                return Ok(id);
            }
            let created = vendors
                .clinical
                .create_patient(&record, &format!("patient:{patient_id}"))
                .await?;
            let id = created["id"].as_str().ok_or_else(|| {
                StepError::permanent("the clinical network returned no patient id")
            })?;
            Ok(patients::set_clinical_id(&pool, patient_id, id).await?)
        })
        .await
    }

    async fn submit_case(
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
            scenario: intake.scenario.clone(),
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
                // Before the step is recorded: the clinician's webhooks about
                // this case must find their journey.
                refs::link(&pool, journey, "clinical", "case", case_id).await?;
                Ok(Submitted {
                    case_id: case_id.to_owned(),
                    at: Utc::now(),
                })
            })
            .await?;
        let (vendors, case_id) = (self.vendors.clone(), submitted.case_id.clone());
        let file = CaseFile {
            name: intake.photo_id.file_name.clone(),
            content_type: intake.photo_id.content_type.clone(),
            url: intake.photo_id.url.clone(),
            kind: "photo_id".into(),
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

    /// The clinician's decision, however many more-information rounds it
    /// takes. A decision later than the SLA raises an alert; the journey keeps waiting.
    async fn await_decision(
        &self,
        ctx: &mut JourneyCtx,
        intake: &ConsultInput,
        submitted: &Submitted,
    ) -> Result<Decision, WorkflowError> {
        ctx.set_phase("awaiting_clinician");
        // The clinician's clock: from submission, and again from each answer.
        let mut clinician_turn_since = submitted.at;
        let mut alerted = false;
        let mut rounds_answered = 0u64;
        loop {
            let timeout =
                (!alerted).then(|| until(clinician_turn_since + self.config.decision_sla));
            let Some(event) = ctx.wait_signal("clinical.case", timeout).await? else {
                let (pool, journey, case) = (
                    self.pool.clone(),
                    ctx.journey_id(),
                    submitted.case_id.clone(),
                );
                let sla = self.config.decision_sla.as_secs();
                ctx.step("decision_sla_alert", |s| async move {
                    let detail = json!({ "case_id": case, "sla_secs": sla });
                    Ok(
                        alerts::raise(&pool, journey, "decision_sla_exceeded", &s.key, detail)
                            .await?,
                    )
                })
                .await?;
                alerted = true;
                continue;
            };
            match event["type"].as_str().unwrap_or_default() {
                "case.assigned" => ctx.set_phase("in_clinician_review"),
                "case.more_info_requested" => {
                    let round = event["data"]["round"]
                        .as_u64()
                        .unwrap_or(rounds_answered + 1);
                    if round <= rounds_answered {
                        continue; // a late repeat of a round already answered
                    }
                    match self.more_info(ctx, intake, &submitted.case_id).await? {
                        Some(answered_at) => {
                            rounds_answered = round;
                            clinician_turn_since = answered_at;
                            alerted = false;
                            ctx.set_phase("awaiting_clinician");
                        }
                        None => return Ok(Decision::Abandoned),
                    }
                }
                "case.approved" => {
                    return Ok(Decision::Approved {
                        at: event_time(&event),
                    });
                }
                "case.declined" => {
                    return Ok(Decision::Declined {
                        at: event_time(&event),
                    });
                }
                _ => {}
            }
        }
    }

    /// One more-information round: tell the patient, wait for the answer
    /// (reminding once), pass it to the clinician. `None` when the patient
    /// never answered; otherwise when the answer was sent.
    async fn more_info(
        &self,
        ctx: &mut JourneyCtx,
        intake: &ConsultInput,
        case_id: &str,
    ) -> Result<Option<DateTime<Utc>>, WorkflowError> {
        ctx.set_phase("awaiting_patient_response");
        let email = &intake.patient.email;
        self.notify(
            ctx,
            "notify_more_info",
            Channel::Email,
            email,
            "more_info_requested",
        )
        .await?;
        let c = &self.config;
        let mut answer = ctx
            .wait_signal("patient_response", Some(c.more_info_reminder))
            .await?;
        if answer.is_none() {
            self.notify(
                ctx,
                "remind_patient",
                Channel::Sms,
                &intake.patient.phone,
                "more_info_reminder",
            )
            .await?;
            answer = ctx
                .wait_signal(
                    "patient_response",
                    Some(c.more_info_cancel.saturating_sub(c.more_info_reminder)),
                )
                .await?;
        }
        let Some(answer) = answer else {
            return Ok(None);
        };
        let text = answer["message"].as_str().unwrap_or_default().to_owned();
        let (vendors, case) = (self.vendors.clone(), case_id.to_owned());
        let sent: DateTime<Utc> = ctx
            .step("send_patient_response", |s| async move {
                vendors
                    .clinical
                    .send_message(&case, "patient", &text, &s.idempotency_key())
                    .await?;
                Ok(Utc::now())
            })
            .await?;
        Ok(Some(sent))
    }

    /// The prescription as the clinical network holds it (the webhook only says "approved").
    async fn fetch_prescription(
        &self,
        ctx: &mut JourneyCtx,
        intake: &ConsultInput,
        case_id: &str,
    ) -> Result<Prescription, WorkflowError> {
        let (vendors, case, offering) = (
            self.vendors.clone(),
            case_id.to_owned(),
            intake.offering.clone(),
        );
        ctx.step("fetch_prescription", |_| async move {
            let case = vendors.clinical.get_case(&case).await?;
            let rx = &case["prescription"];
            let id = rx["id"]
                .as_str()
                .ok_or_else(|| StepError::transient("the approved case has no prescription yet"))?;
            Ok(Prescription {
                id: id.to_owned(),
                medication: rx["medication"].as_str().unwrap_or(&offering.id).to_owned(),
                refills: rx["refills"]
                    .as_u64()
                    .map_or(offering.refills, |r| r as u32),
                clinician_id: case["clinician_id"].as_str().map(str::to_owned),
            })
        })
        .await
    }

    /// The encounter, the answers and (when written) the prescription, as FHIR R4.
    async fn record_encounter(
        &self,
        ctx: &mut JourneyCtx,
        intake: &ConsultInput,
        patient_id: Uuid,
        submitted: &Submitted,
        decided_at: DateTime<Utc>,
        rx: Option<&Prescription>,
    ) -> Result<(), WorkflowError> {
        let journey = ctx.journey_id();
        let q = &intake.questionnaire;
        let Some(version) = self.questionnaires.get(&q.id, q.version) else {
            return Err(WorkflowError::fail(format!(
                "questionnaire {} v{} is not in this build",
                q.id, q.version
            )));
        };
        let mut resources = vec![
            (
                "ehr_encounter",
                fhir::encounter(journey, patient_id, &q.id, submitted.at, decided_at),
            ),
            (
                "ehr_questionnaire_response",
                fhir::questionnaire_response(
                    journey,
                    patient_id,
                    version,
                    &q.answers,
                    submitted.at,
                ),
            ),
        ];
        if let Some(rx) = rx {
            let prescription = fhir::Prescription {
                id: &rx.id,
                medication: &rx.medication,
                refills: rx.refills,
                clinician_id: rx.clinician_id.as_deref(),
            };
            resources.push((
                "ehr_medication_request",
                fhir::medication_request(journey, patient_id, &prescription, decided_at),
            ));
        }
        for (key, resource) in resources {
            let vendors = self.vendors.clone();
            ctx.step(key, |s| async move {
                let created = vendors.ehr.create(&resource, &s.idempotency_key()).await?;
                Ok(created["id"].as_str().map(str::to_owned))
            })
            .await?;
        }
        Ok(())
    }

    /// A de-identified engagement event for the brand's CRM: the journey's
    /// id, the offering the brand sold and a milestone that says nothing
    /// clinical (not even the decision). The type has no field for more.
    async fn engage(
        &self,
        ctx: &mut JourneyCtx,
        intake: &ConsultInput,
        event: &str,
    ) -> Result<(), WorkflowError> {
        let journey = ctx.journey_id();
        let message = EngagementEvent {
            event_id: format!("{journey}:{event}"),
            journey_id: journey.to_string(),
            event: event.to_owned(),
            offering_id: intake.offering.id.clone(),
            occurred_at: Utc::now().to_rfc3339(),
        };
        let vendors = self.vendors.clone();
        ctx.step("crm_engagement", |s| async move {
            vendors.crm.send(&message, &s.idempotency_key()).await?;
            Ok(())
        })
        .await
    }

    async fn notify(
        &self,
        ctx: &mut JourneyCtx,
        key: &str,
        channel: Channel,
        to: &str,
        template: &'static str,
    ) -> Result<(), WorkflowError> {
        let (vendors, to) = (self.vendors.clone(), to.to_owned());
        ctx.step(key, |s| async move {
            vendors
                .notify
                .send(channel, &to, template, &s.idempotency_key())
                .await?;
            Ok(())
        })
        .await
    }

    /// The first fill, then each refill after its interval: order, follow the
    /// order to delivery, sleep until the next refill date, check in, reorder.
    async fn fulfil(
        &self,
        ctx: &mut JourneyCtx,
        intake: &ConsultInput,
        clinical_patient: &str,
        rx: &Prescription,
    ) -> Result<Vec<String>, WorkflowError> {
        let journey = ctx.journey_id();
        let mut orders = Vec::new();
        let mut last_fill: Option<DateTime<Utc>> = None;
        for fill in 0..=rx.refills {
            if let Some(filled_at) = last_fill {
                ctx.set_phase("awaiting_refill");
                ctx.sleep("refill_due", until(filled_at + self.config.refill_interval))
                    .await?;
                self.notify(
                    ctx,
                    "refill_check_in",
                    Channel::Email,
                    &intake.patient.email,
                    "refill_check_in",
                )
                .await?;
                ctx.set_phase("requesting_refill");
            } else {
                ctx.set_phase("sending_to_pharmacy");
            }
            let (vendors, pool) = (self.vendors.clone(), self.pool.clone());
            let (prescription, patient) = (rx.id.clone(), clinical_patient.to_owned());
            let order_id: String = ctx
                .step("place_order", |s| async move {
                    // One prescription fill, one order: the fill number names it.
                    let external = format!("{journey}:fill:{fill}");
                    let created = vendors
                        .pharmacy
                        .create_order(&prescription, &patient, &external, &s.idempotency_key())
                        .await?;
                    let id = created["id"]
                        .as_str()
                        .ok_or_else(|| StepError::permanent("the pharmacy returned no order id"))?;
                    refs::link(&pool, journey, "pharmacy", "order", id).await?;
                    Ok(id.to_owned())
                })
                .await?;
            ctx.set_phase("awaiting_fulfilment");
            last_fill = Some(self.track_order(ctx, intake, &order_id).await?);
            orders.push(order_id);
        }
        Ok(orders)
    }

    /// Follows an order to delivery; returns when it was filled. States only
    /// move forward: an event older than the order's state (a late `filled`
    /// after `shipped`) is absorbed, and a skipped state is implied.
    async fn track_order(
        &self,
        ctx: &mut JourneyCtx,
        intake: &ConsultInput,
        order_id: &str,
    ) -> Result<DateTime<Utc>, WorkflowError> {
        let delivered = ORDER_STATES.len() - 1;
        let mut rank = 0;
        let mut filled_at = None;
        while rank < delivered {
            let (status, at) = match ctx
                .wait_signal("pharmacy.order", Some(self.config.fulfilment_check))
                .await?
            {
                Some(event) => {
                    if event["data"]["order_id"].as_str() != Some(order_id) {
                        continue; // a late event about an earlier fill's order
                    }
                    (
                        event["data"]["status"]
                            .as_str()
                            .unwrap_or_default()
                            .to_owned(),
                        event_time(&event),
                    )
                }
                None => {
                    // The pharmacy has been silent: its webhooks may be lost, so ask.
                    let (vendors, order) = (self.vendors.clone(), order_id.to_owned());
                    let seen: (String, DateTime<Utc>) = ctx
                        .step("check_order", |_| async move {
                            let o = vendors.pharmacy.get_order(&order).await?;
                            Ok((
                                o["status"].as_str().unwrap_or_default().to_owned(),
                                Utc::now(),
                            ))
                        })
                        .await?;
                    seen
                }
            };
            let Some(new) = order_rank(&status).filter(|r| *r > rank) else {
                continue;
            };
            if filled_at.is_none() && new >= 1 {
                filled_at = Some(at);
            }
            rank = new;
            if status == "shipped" {
                self.notify(
                    ctx,
                    "notify_shipped",
                    Channel::Sms,
                    &intake.patient.phone,
                    "order_shipped",
                )
                .await?;
            }
            ctx.step(&format!("order_{status}"), |_| async move {
                Ok::<_, StepError>(at)
            })
            .await?;
        }
        Ok(filled_at.unwrap_or_else(Utc::now))
    }
}
