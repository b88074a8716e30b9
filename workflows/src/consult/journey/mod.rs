//! `async_consult`: the telehealth journey of ARCHITECTURE §4, from a paid
//! intake to the last refill. Each vendor side effect is one step (one
//! idempotency key); each wait for a clinician, the patient or the pharmacy is
//! a durable signal wait; each long pause is a durable timer. Every value the
//! journey acts on — a time, a vendor's answer — comes from a recorded step or
//! signal, so a replay months later takes the same path.

mod admission;
mod clinician;
mod fulfilment;
mod patient;
mod reconcile;
mod records;

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use carepath_activities::Vendors;
use carepath_activities::vendors::notify::Channel;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use sqlx::PgPool;

use super::config::ConsultConfig;
use super::input::ConsultInput;
use super::intake::{Problem, Questionnaires};
use crate::webhooks::signals::{CLINICAL_CASE, PHARMACY_ORDER};
use crate::{JourneyCtx, SearchTerm, StepError, Workflow, WorkflowError};
use carepath_engine::vault::{Payload, Sensitivity};
use clinician::Decision;

pub const NAME: &str = "async_consult";

/// The signal an operator's patient-match decision arrives as (only through
/// `/v1/journeys/{id}/patient-match`, never the generic signal endpoint).
pub const REVIEW_SIGNAL: &str = "patient_match";
/// The patient's answer to a request for more information, relayed by the product.
pub const PATIENT_RESPONSE: &str = "patient_response";
/// The signal an operator's decision on an intake held for review (a
/// duplicate intake, or one over an active prescription) arrives as (only
/// through `/v1/journeys/{id}/intake-review`).
pub const INTAKE_REVIEW: &str = "intake_review";
/// The step that matches the journey's patient; its output (a
/// `MatchOutcome`) is what `/v1/journeys/{id}/patient-match` shows.
pub const MATCH_STEP: &str = "match_patient";
/// The step that claims the patient's consult for the offering (run again,
/// as `claim_consult#2` ..., when the consult it was merging into ended); its
/// latest output (a `Claim`) is what `/v1/journeys/{id}/intake-review` shows.
pub const CLAIM_STEP: &str = "claim_consult";
/// The version new consults start on: one open consult per patient and
/// offering. Version 1 (registered beside it until its journeys end) has no
/// such guard; its journeys keep their recorded sequence of steps.
pub const VERSION: i32 = 2;

pub use admission::ReviewAction;

pub struct AsyncConsult {
    vendors: Arc<Vendors>,
    pool: PgPool,
    config: ConsultConfig,
    questionnaires: Arc<Questionnaires>,
    /// Whether journeys claim the patient's consult (version 2 on).
    patient_guards: bool,
    /// The patient-matching model, shared by this process's journeys.
    models: crate::consult::patients::ModelCache,
    /// What the patient registry hashes and seals with.
    keys: crate::consult::patients::Keys,
}

impl AsyncConsult {
    pub fn new(
        vendors: Arc<Vendors>,
        pool: PgPool,
        config: ConsultConfig,
        questionnaires: Arc<Questionnaires>,
        keys: crate::consult::patients::Keys,
    ) -> Self {
        Self {
            vendors,
            pool,
            config,
            questionnaires,
            keys,
            models: Default::default(),
            patient_guards: true,
        }
    }

    /// The journey as version 1 ran it: no consult claim, no prescription
    /// record. Kept so that journeys started on it replay as they recorded.
    #[must_use]
    pub fn version_1(mut self) -> Self {
        self.patient_guards = false;
        self
    }
}

/// The case as submitted, and when: the decision SLA runs from here.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Submitted {
    case_id: String,
    at: DateTime<Utc>,
}

/// The time an event names, if it names one it can be read from.
fn event_time(event: &Value) -> Option<DateTime<Utc>> {
    event["occurred_at"]
        .as_str()
        .and_then(|t| DateTime::parse_from_rfc3339(t).ok())
        .map(|t| t.with_timezone(&Utc))
}

/// From now until `at` (zero if past). Only ever used for a wait or a timer
/// the journey reaches for the first time; on replay the stored time wins.
fn until(at: DateTime<Utc>) -> Duration {
    (at - Utc::now()).to_std().unwrap_or_default()
}

#[async_trait]
impl Workflow for AsyncConsult {
    fn signals(&self) -> &[&str] {
        &[
            REVIEW_SIGNAL,
            INTAKE_REVIEW,
            PATIENT_RESPONSE,
            CLINICAL_CASE,
            PHARMACY_ORDER,
        ]
    }

    /// Waits on a vendor: woken, the journey looks the case or order up now.
    /// A patient's wait is never hurried (its timeout reminds, then cancels).
    fn wakeable_signals(&self) -> &[&str] {
        &[CLINICAL_CASE, PHARMACY_ORDER]
    }

    fn validate(&self, input: Value) -> Result<Value, Vec<Problem>> {
        let parsed = ConsultInput::parse(&input, &self.questionnaires, Utc::now())?;
        serde_json::to_value(parsed)
            .map_err(|e| vec![(String::new(), format!("cannot be represented: {e}"))])
    }

    /// Ids, statuses, decisions, counts and times: what an operator needs to
    /// follow a consult, none of it about the patient's person or health
    /// (a medication, an answer, a clinician's message stay redacted).
    fn shown_output_fields(&self) -> &[&str] {
        &[
            "id",
            "case_id",
            "order_id",
            "patient_id",
            "clinician_id",
            "event_id",
            "source",
            "type",
            "status",
            "decision",
            "outcome",
            "hold",
            "timed_out",
            "round",
            "fill",
            "refills",
            "score",
            "probability",
            "at",
            "occurred_at",
            "created",
            "decided_at",
        ]
    }

    /// A case the clinical network was sent, a prescription it wrote, an
    /// order the pharmacy was sent: a rewind that would submit, fetch or
    /// place them again is refused unless forced (a second case for one
    /// consult is what the network calls a duplicate).
    fn irreversible_steps(&self) -> &[&str] {
        &["submit_case", "fetch_prescription", "place_order"]
    }

    fn search_terms(&self, input: &Value) -> Vec<SearchTerm> {
        // The canonical input the API validated: anything else indexes nothing.
        serde_json::from_value::<ConsultInput>(input.clone())
            .map(|i| crate::search::input_terms(&i.patient))
            .unwrap_or_default()
    }

    fn search_candidates(&self, query: &str) -> Vec<SearchTerm> {
        crate::search::candidates(query)
    }

    /// What a consult stores is about a patient's person or health (the
    /// intake, the clinician's messages, the patient's answers, what was
    /// prescribed) and is sealed at rest — all but its result, which is
    /// ids and an outcome ([`Opened::summary`]). Operators still see the
    /// [`shown_output_fields`](Self::shown_output_fields) of steps, opened
    /// in memory.
    fn sensitivity(&self, payload: Payload<'_>) -> Sensitivity {
        match payload {
            Payload::Output => Sensitivity::NotPhi,
            _ => Sensitivity::Phi,
        }
    }

    fn validate_signal(&self, name: &str, payload: &Value) -> Result<(), Vec<Problem>> {
        match name {
            REVIEW_SIGNAL => Err(vec![(
                "name".into(),
                "is decided by an operator at /v1/journeys/{id}/patient-match".into(),
            )]),
            INTAKE_REVIEW => Err(vec![(
                "name".into(),
                "is decided by an operator at /v1/journeys/{id}/intake-review".into(),
            )]),
            PATIENT_RESPONSE => {
                let mut problems = Vec::new();
                if payload["message"]
                    .as_str()
                    .is_none_or(|m| m.trim().is_empty() || m.chars().count() > 10_000)
                {
                    problems.push((
                        "payload.message".into(),
                        "must be the patient's answer, 1 to 10000 characters".into(),
                    ));
                }
                if payload["round"].as_u64().is_none_or(|r| r == 0) {
                    problems.push((
                        "payload.round".into(),
                        "must name the request answered: 1 for the first, 2 for the second, ..."
                            .into(),
                    ));
                }
                if problems.is_empty() {
                    Ok(())
                } else {
                    Err(problems)
                }
            }
            _ => Ok(()),
        }
    }

    async fn run(&self, ctx: &mut JourneyCtx, input: Value) -> Result<Value, WorkflowError> {
        // Checked at start; this only fails for input written around the API,
        // and names the field without quoting the value (PHI).
        let intake = ConsultInput::from_stored(&input, &self.questionnaires).map_err(|e| {
            WorkflowError::fail(format!("input does not fit async_consult at {}", e.path()))
        })?;
        // The intake is checked in the form it is sent on in, which for a
        // journey started before inputs were stored canonical is not `input`.
        let canonical = serde_json::to_value(&intake)
            .map_err(|_| WorkflowError::fail("the intake cannot be written as JSON"))?;
        let answers = self.validate_intake(ctx, &canonical).await?;
        let patient_id = self.find_patient(ctx, &intake).await?;
        if self.patient_guards
            && let Some(ended) = self.admit(ctx, &intake, patient_id, &answers).await?
        {
            return Ok(ended);
        }
        let clinical_patient = self.sync_patient(ctx, &intake, patient_id).await?;
        let submitted = self
            .submit_case(ctx, &intake, &clinical_patient, answers)
            .await?;
        let opened = Opened {
            intake: &intake,
            patient_id,
            clinical_patient: &clinical_patient,
            submitted: &submitted,
        };
        let email = &intake.patient.email;
        match self.await_decision(ctx, &intake, &submitted).await? {
            Decision::Abandoned => {
                ctx.set_phase("cancelled_no_response");
                self.withdraw_case(ctx, &submitted.case_id).await?;
                self.close_undecided(ctx, patient_id, email, "consult_cancelled")
                    .await?;
                Ok(opened.summary("cancelled_no_response"))
            }
            Decision::Cancelled => {
                ctx.set_phase("cancelled_by_network");
                self.case_cancelled(ctx).await?;
                let template = "consult_cancelled_by_network";
                self.close_undecided(ctx, patient_id, email, template)
                    .await?;
                Ok(opened.summary("cancelled_by_network"))
            }
            Decision::Declined { at } => self.declined(ctx, &opened, at).await,
            Decision::Approved { at } => self.approved(ctx, &opened, at).await,
        }
    }
}

/// A consult whose case is submitted: whose it is, and which case.
struct Opened<'a> {
    intake: &'a ConsultInput,
    patient_id: uuid::Uuid,
    clinical_patient: &'a str,
    submitted: &'a Submitted,
}

impl Opened<'_> {
    /// The journey's result when the consult ends with `outcome`.
    fn summary(&self, outcome: &str) -> Value {
        json!({
            "outcome": outcome,
            "patient_id": self.patient_id,
            "clinical_patient_id": self.clinical_patient,
            "case_id": self.submitted.case_id,
        })
    }
}

impl AsyncConsult {
    /// The clinician declined at `at`: the consult closes, the patient is
    /// told, the encounter recorded and the CRM told.
    async fn declined(
        &self,
        ctx: &mut JourneyCtx,
        opened: &Opened<'_>,
        at: DateTime<Utc>,
    ) -> Result<Value, WorkflowError> {
        let Opened {
            intake,
            patient_id,
            submitted,
            ..
        } = *opened;
        ctx.set_phase("declined");
        self.close_consult(ctx, patient_id).await?;
        self.notify(
            ctx,
            "notify_declined",
            Channel::Email,
            &intake.patient.email,
            "consult_declined",
        )
        .await?;
        self.record_encounter(ctx, intake, patient_id, submitted, at, None)
            .await?;
        self.engage(ctx, "consult_closed", at).await?;
        Ok(opened.summary("declined"))
    }

    /// The clinician approved at `at`: the prescription is recorded, the
    /// patient told, the medication ordered, then records and the CRM, and
    /// every refill until the last is delivered.
    async fn approved(
        &self,
        ctx: &mut JourneyCtx,
        opened: &Opened<'_>,
        at: DateTime<Utc>,
    ) -> Result<Value, WorkflowError> {
        let Opened {
            intake,
            patient_id,
            clinical_patient,
            submitted,
        } = *opened;
        ctx.set_phase("prescribed");
        let rx = self
            .fetch_prescription(ctx, intake, &submitted.case_id)
            .await?;
        self.record_prescription(ctx, intake, patient_id, &rx, at)
            .await?;
        self.notify(
            ctx,
            "notify_approved",
            Channel::Email,
            &intake.patient.email,
            "consult_approved",
        )
        .await?;
        // The medication first: records and the CRM must never hold up a patient's order.
        ctx.set_phase("sending_to_pharmacy");
        let first = self
            .place_order(ctx, intake, clinical_patient, &rx, 0)
            .await?;
        self.record_encounter(ctx, intake, patient_id, submitted, at, Some(&rx))
            .await?;
        self.engage(ctx, "consult_closed", at).await?;
        let orders = self
            .fulfil(ctx, intake, clinical_patient, &rx, first)
            .await?;
        self.record_supply_end(ctx).await?;
        ctx.set_phase("completed");
        let mut out = opened.summary("approved");
        out["prescription_id"] = json!(rx.id);
        out["orders"] = json!(orders);
        Ok(out)
    }
}

impl AsyncConsult {
    /// A consult that ends with no clinician's decision: closed, the patient
    /// told (by `template`), the CRM told when.
    async fn close_undecided(
        &self,
        ctx: &mut JourneyCtx,
        patient_id: uuid::Uuid,
        email: &str,
        template: &'static str,
    ) -> Result<(), WorkflowError> {
        self.close_consult(ctx, patient_id).await?;
        let closed = self
            .notify(ctx, "notify_cancelled", Channel::Email, email, template)
            .await?;
        self.engage(ctx, "consult_closed", closed).await
    }

    /// The consult is decided: the patient's next intake for the offering
    /// opens a new one.
    async fn close_consult(
        &self,
        ctx: &mut JourneyCtx,
        patient_id: uuid::Uuid,
    ) -> Result<(), WorkflowError> {
        if !self.patient_guards {
            return Ok(());
        }
        let (pool, journey) = (self.pool.clone(), ctx.journey_id());
        ctx.step("close_consult", |_| async move {
            Ok(super::consults::close(&pool, patient_id, journey).await?)
        })
        .await
    }

    /// The prescription is recorded for the patient — active until its last
    /// refill would run out — and the consult closed, at once: an intake
    /// that finds the consult closed finds the prescription.
    async fn record_prescription(
        &self,
        ctx: &mut JourneyCtx,
        intake: &ConsultInput,
        patient_id: uuid::Uuid,
        rx: &clinician::Prescription,
        approved_at: DateTime<Utc>,
    ) -> Result<(), WorkflowError> {
        if !self.patient_guards {
            return Ok(());
        }
        let fills = rx.refills + 1;
        let active_until = chrono::Duration::from_std(self.config.refill_interval * fills)
            .ok()
            .and_then(|d| approved_at.checked_add_signed(d))
            .unwrap_or(DateTime::<Utc>::MAX_UTC);
        let (pool, journey) = (self.pool.clone(), ctx.journey_id());
        let (offering, id, medication) = (
            intake.offering.id.clone(),
            rx.id.clone(),
            rx.medication.clone(),
        );
        ctx.step("record_prescription", |_| async move {
            Ok(super::consults::record_prescription_and_close(
                &pool,
                patient_id,
                &offering,
                journey,
                (&id, &medication),
                active_until,
            )
            .await?)
        })
        .await
    }

    /// The last fill is delivered: its supply lasts one refill interval, and
    /// the prescription stays active (a new intake waits for review) until then.
    async fn record_supply_end(&self, ctx: &mut JourneyCtx) -> Result<(), WorkflowError> {
        if !self.patient_guards {
            return Ok(());
        }
        let (pool, journey) = (self.pool.clone(), ctx.journey_id());
        let supply = chrono::Duration::from_std(self.config.refill_interval).ok();
        ctx.step("record_supply_end", |_| async move {
            let until = supply
                .and_then(|d| Utc::now().checked_add_signed(d))
                .unwrap_or(DateTime::<Utc>::MAX_UTC);
            Ok(super::consults::supply_ends(&pool, journey, until).await?)
        })
        .await
    }

    /// Checks the intake again (a journey can be started around the API) and
    /// keeps the questions in the wording of the version the patient
    /// answered: later versions never change what was asked.
    async fn validate_intake(
        &self,
        ctx: &mut JourneyCtx,
        input: &Value,
    ) -> Result<Value, WorkflowError> {
        ctx.set_phase("validating_intake");
        let (questionnaires, input) = (self.questionnaires.clone(), input.clone());
        ctx.step("validate_intake", |_| async move {
            let parsed = ConsultInput::parse(&input, &questionnaires, Utc::now()).map_err(|p| {
                let fields: Vec<String> = p.into_iter().map(|(f, m)| format!("{f} {m}")).collect();
                StepError::permanent(format!("intake refused: {}", fields.join("; ")))
            })?;
            let q = &parsed.questionnaire;
            let version = questionnaires
                .get(&q.id, q.version)
                .ok_or_else(|| StepError::permanent("questionnaire version gone"))?;
            let rendered: Vec<Value> = version
                .render(&q.answers)
                .into_iter()
                .map(|(text, answer)| json!({ "question": text, "answer": answer }))
                .collect();
            Ok(json!({
                "questionnaire": { "id": q.id, "version": q.version, "title": version.title },
                "answers": rendered,
            }))
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
    ) -> Result<DateTime<Utc>, WorkflowError> {
        let (vendors, to) = (self.vendors.clone(), to.to_owned());
        ctx.step(key, |s| async move {
            vendors
                .notify
                .send(channel, &to, template, &s.idempotency_key())
                .await?;
            Ok(Utc::now())
        })
        .await
    }
}
