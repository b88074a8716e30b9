//! Engine-level operations: start a journey, signal it, and the operator's
//! controls. Each one locks the journey row, changes it, appends to its history
//! and, when the journey must run, pushes its wake-up — all in one transaction.

use std::time::Duration;

use serde_json::{Value, json};
use sqlx::{PgConnection, Postgres, Transaction};
use uuid::Uuid;

use crate::Engine;
use crate::error::EngineError;
use crate::journey_columns;
use crate::queue::push_wakeup;
use crate::store::journeys::{self, Journey, JourneyStatus};
use crate::store::{history, signals};
use crate::waiting::WaitingFor;

/// Who did something, as recorded in history: `engine`, `cli`, a token's name.
#[derive(Debug, Clone)]
pub struct Actor(pub String);

impl Actor {
    pub fn new(name: impl Into<String>) -> Self {
        Self(name.into())
    }
}

#[derive(Debug)]
pub struct StartOutcome {
    pub journey: Journey,
    /// `false` when the idempotency key had already started this journey.
    pub created: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SignalOutcome {
    Accepted,
    /// This (source, event id) was already stored; nothing changed.
    Duplicate,
}

impl Engine {
    /// Starts a journey on the latest registered version of `workflow`, or
    /// returns the journey this idempotency key already started.
    pub async fn start(
        &self,
        workflow: &str,
        idempotency_key: &str,
        input: Value,
        actor: &Actor,
    ) -> Result<StartOutcome, EngineError> {
        let (version, _) = self
            .registry
            .latest(workflow)
            .ok_or_else(|| EngineError::UnknownWorkflow(workflow.to_owned()))?;
        if let Err(e) = crate::storable::check(&input) {
            return Err(EngineError::unstorable("input", e));
        }
        let mut tx = self.pool.begin().await?;
        // The digest is taken by PostgreSQL over jsonb's canonical text, so
        // it is the same for the same input however the client spelled it.
        let inserted: Option<Journey> = sqlx::query_as(concat!(
            "INSERT INTO carepath.journeys
                 (id, workflow, version, idempotency_key, input, wake_at, trace_context,
                  request_digest)
             VALUES ($1, $2, $3, $4, $5, now(), $6,
                     encode(sha256(convert_to($5::jsonb::text, 'UTF8')), 'hex'))
             ON CONFLICT ON CONSTRAINT journeys_idempotency_key DO NOTHING
             RETURNING ",
            journey_columns!()
        ))
        .bind(Uuid::now_v7())
        .bind(workflow)
        .bind(version)
        .bind(idempotency_key)
        .bind(&input)
        .bind(crate::tracecontext::current_traceparent())
        .fetch_optional(&mut *tx)
        .await?;
        let Some(journey) = inserted else {
            tx.commit().await?;
            let same: bool = sqlx::query_scalar(
                "SELECT request_digest IS NULL
                        OR request_digest = encode(sha256(convert_to($3::jsonb::text, 'UTF8')), 'hex')
                   FROM carepath.journeys WHERE workflow = $1 AND idempotency_key = $2",
            )
            .bind(workflow)
            .bind(idempotency_key)
            .bind(&input)
            .fetch_one(&self.pool)
            .await?;
            if !same {
                // Never the other request's journey: its id and status are
                // someone else's business.
                return Err(EngineError::IdempotencyKeyReused);
            }
            let existing: Journey = sqlx::query_as(concat!(
                "SELECT ",
                journey_columns!(),
                " FROM carepath.journeys WHERE workflow = $1 AND idempotency_key = $2"
            ))
            .bind(workflow)
            .bind(idempotency_key)
            .fetch_one(&self.pool)
            .await?;
            return Ok(StartOutcome {
                journey: existing,
                created: false,
            });
        };
        history::append(
            &mut *tx,
            journey.id,
            &actor.0,
            "started",
            json!({ "workflow": workflow, "version": version }),
        )
        .await?;
        push_wakeup(&mut tx, journey.id, Duration::ZERO).await?;
        tx.commit().await?;
        Ok(StartOutcome {
            journey,
            created: true,
        })
    }

    /// Stores a signal for the journey (once per source and event id) and wakes
    /// the journey if it is waiting for it; otherwise it is kept until it waits.
    #[allow(clippy::too_many_arguments)]
    pub async fn signal(
        &self,
        journey_id: Uuid,
        name: &str,
        source: &str,
        event_id: &str,
        payload: &Value,
        actor: &Actor,
    ) -> Result<SignalOutcome, EngineError> {
        let mut tx = self.pool.begin().await?;
        let outcome = self
            .signal_in(&mut tx, journey_id, name, source, event_id, payload, actor)
            .await?;
        tx.commit().await?;
        Ok(outcome)
    }

    /// An operator's answer to a journey that waits for a person's decision
    /// (`signal:<name>`, such as a patient-match review): stored as that
    /// signal, with the reason in history, only while the journey waits for it.
    pub async fn decide(
        &self,
        id: Uuid,
        name: &str,
        payload: &Value,
        actor: &Actor,
        reason: &str,
    ) -> Result<Journey, EngineError> {
        let mut tx = self.pool.begin().await?;
        let journey = lock(&mut tx, id).await?;
        if journey.status != JourneyStatus::Waiting
            || journey.waiting_for != Some(WaitingFor::signal(name))
        {
            return Err(EngineError::NotApplicable {
                action: "decide",
                status: journey.status,
            });
        }
        let event_id = format!("decision:{}", Uuid::new_v4());
        self.signal_in(&mut tx, id, name, "operator", &event_id, payload, actor)
            .await?;
        history::append(
            &mut *tx,
            id,
            &actor.0,
            "decide",
            json!({ "action": "decide", "signal": name, "decision": payload, "reason": reason }),
        )
        .await?;
        let journey = lock(&mut tx, id).await?;
        tx.commit().await?;
        Ok(journey)
    }

    /// Stops a running or waiting journey where it is. A step already under
    /// way finishes and is recorded; nothing after it starts.
    pub async fn pause(
        &self,
        id: Uuid,
        actor: &Actor,
        reason: &str,
    ) -> Result<Journey, EngineError> {
        self.act(id, "pause", actor, reason, |j| {
            matches!(j.status, JourneyStatus::Running | JourneyStatus::Waiting)
                .then_some(Effect::SetStatus("paused"))
        })
        .await
    }

    /// Lets a paused journey go on: it replays, so a timer that has not fired
    /// or a signal not yet received puts it back to waiting.
    pub async fn resume(
        &self,
        id: Uuid,
        actor: &Actor,
        reason: &str,
    ) -> Result<Journey, EngineError> {
        self.act(id, "resume", actor, reason, |j| {
            (j.status == JourneyStatus::Paused).then_some(Effect::RunNow(None))
        })
        .await
    }

    pub async fn cancel(
        &self,
        id: Uuid,
        actor: &Actor,
        reason: &str,
    ) -> Result<Journey, EngineError> {
        self.act(id, "cancel", actor, reason, |j| {
            (!j.status.is_terminal()).then_some(Effect::SetStatus("cancelled"))
        })
        .await
    }

    /// A failed journey gets a fresh attempt budget for the step that failed;
    /// a journey waiting to retry a step, or waiting on a vendor, retries it now.
    pub async fn retry(
        &self,
        id: Uuid,
        actor: &Actor,
        reason: &str,
    ) -> Result<Journey, EngineError> {
        self.act(id, "retry", actor, reason, |j| {
            let retrying = j.status == JourneyStatus::Waiting
                && j.waiting_for.as_ref().is_some_and(WaitingFor::is_retry);
            (j.status == JourneyStatus::Failed || retrying).then_some(Effect::RunNow(Some(
                // A failed step starts a fresh attempt budget; a waiting one keeps its count.
                "UPDATE carepath.journey_steps
                    SET status = 'retrying', due_at = now(), finished_at = NULL,
                        attempts = CASE WHEN status = 'failed' THEN 0 ELSE attempts END
                  WHERE journey_id = $1 AND status IN ('retrying', 'failed')",
            )))
        })
        .await
    }

    /// Fires the timer a journey is sleeping on now, or ends now the timeout
    /// of the signal it waits for when its workflow lets an operator hurry
    /// that wait ([`Workflow::wakeable_signals`](crate::registry::Workflow):
    /// a journey waiting on a vendor then asks the vendor at once). Any other
    /// wait cannot be woken (409).
    pub async fn wake(
        &self,
        id: Uuid,
        actor: &Actor,
        reason: &str,
    ) -> Result<Journey, EngineError> {
        let registry = self.registry.clone();
        self.act(id, "wake", actor, reason, move |j| {
            if j.status != JourneyStatus::Waiting {
                return None;
            }
            if let Some(WaitingFor::Timer { .. }) = &j.waiting_for {
                return Some(Effect::RunNow(Some(
                    "UPDATE carepath.journey_steps SET due_at = now()
                      WHERE journey_id = $1 AND kind = 'sleep' AND status = 'waiting'",
                )));
            }
            // A wait its workflow lets an operator hurry, with a timeout:
            // the timeout fires now.
            let hurried = match &j.waiting_for {
                Some(WaitingFor::Signal { name }) => registry
                    .get(&j.workflow, j.version)
                    .is_some_and(|w| w.wakeable_signals().contains(&name.as_str())),
                _ => false,
            };
            (hurried && j.wake_at.is_some()).then_some(Effect::RunNow(Some(
                "UPDATE carepath.journey_steps SET due_at = now()
                  WHERE journey_id = $1 AND kind = 'signal' AND status = 'waiting'
                    AND due_at IS NOT NULL",
            )))
        })
        .await
    }

    async fn act(
        &self,
        id: Uuid,
        action: &'static str,
        actor: &Actor,
        reason: &str,
        decide: impl FnOnce(&Journey) -> Option<Effect>,
    ) -> Result<Journey, EngineError> {
        let mut tx = self.pool.begin().await?;
        let journey = lock(&mut tx, id).await?;
        let effect = decide(&journey).ok_or(EngineError::NotApplicable {
            action,
            status: journey.status,
        })?;
        match effect {
            Effect::SetStatus(status) => {
                let finished = status == "cancelled";
                sqlx::query(
                    "UPDATE carepath.journeys
                        SET status = $2,
                            wake_at = CASE WHEN $3 THEN NULL ELSE wake_at END,
                            finished_at = CASE WHEN $3 THEN now() ELSE finished_at END
                      WHERE id = $1",
                )
                .bind(id)
                .bind(status)
                .bind(finished)
                .execute(&mut *tx)
                .await?;
                if finished {
                    crate::store::alerts::resolve_in(
                        &mut tx,
                        id,
                        &[],
                        None,
                        "an operator cancelled the journey",
                    )
                    .await?;
                }
            }
            Effect::RunNow(steps_sql) => {
                if let Some(sql) = steps_sql {
                    sqlx::query(sql).bind(id).execute(&mut *tx).await?;
                }
                sqlx::query(
                    "UPDATE carepath.journeys SET attempts = 0 WHERE id = $1 AND status = 'failed'",
                )
                .bind(id)
                .execute(&mut *tx)
                .await?;
                make_due(&mut tx, id).await?;
            }
        }
        history::append(
            &mut *tx,
            id,
            &actor.0,
            action,
            json!({ "reason": reason, "from": journey.status, "waiting_for": journey.waiting_for }),
        )
        .await?;
        let journey = journeys::get(&mut *tx, id)
            .await?
            .ok_or(EngineError::JourneyNotFound(id))?;
        tx.commit().await?;
        Ok(journey)
    }
}

impl Engine {
    /// [`Engine::signal`] inside the caller's transaction (the webhook router
    /// marks its inbox row in the same one). Refuses a name the journey's
    /// workflow does not receive and a payload that breaks the storable rule,
    /// so nothing is stored that no one will ever consume or read back.
    #[allow(clippy::too_many_arguments)]
    pub(crate) async fn signal_in(
        &self,
        tx: &mut Transaction<'_, Postgres>,
        journey_id: Uuid,
        name: &str,
        source: &str,
        event_id: &str,
        payload: &Value,
        actor: &Actor,
    ) -> Result<SignalOutcome, EngineError> {
        if let Err(e) = crate::storable::check(payload) {
            return Err(EngineError::unstorable("payload", e));
        }
        let journey = lock(tx, journey_id).await?;
        if journey.status.is_terminal() {
            return Err(EngineError::NotApplicable {
                action: "signal",
                status: journey.status,
            });
        }
        self.registry
            .check_signal(&journey.workflow, journey.version, name)?;
        if !signals::insert(&mut **tx, journey_id, name, source, event_id, payload).await? {
            return Ok(SignalOutcome::Duplicate);
        }
        history::append(
            &mut **tx,
            journey_id,
            &actor.0,
            "signal_received",
            json!({ "name": name, "source": source, "event_id": event_id }),
        )
        .await?;
        let awaited = journey.status == JourneyStatus::Waiting
            && journey.waiting_for == Some(WaitingFor::signal(name));
        if awaited {
            make_due(tx, journey_id).await?;
        }
        Ok(SignalOutcome::Accepted)
    }
}

enum Effect {
    SetStatus(&'static str),
    /// Make the journey due now, after running this statement over its steps.
    RunNow(Option<&'static str>),
}

async fn lock(tx: &mut Transaction<'_, Postgres>, id: Uuid) -> Result<Journey, EngineError> {
    journeys::get_for_update(&mut **tx, id)
        .await?
        .ok_or(EngineError::JourneyNotFound(id))
}

async fn make_due(conn: &mut PgConnection, id: Uuid) -> Result<(), EngineError> {
    sqlx::query(
        "UPDATE carepath.journeys SET status = 'running', waiting_for = NULL, wake_at = now()
          WHERE id = $1",
    )
    .bind(id)
    .execute(&mut *conn)
    .await?;
    push_wakeup(conn, id, Duration::ZERO).await
}
