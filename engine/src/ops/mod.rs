//! Engine-level operations: start a journey, signal it, and the operator's
//! controls. Each one locks the journey row, changes it, appends to its history
//! and, when the journey must run, pushes its wake-up — all in one transaction.

mod fire;
mod inject;
mod rewind;

use std::time::Duration;

use serde_json::{Value, json};
use sqlx::{PgConnection, Postgres, Transaction};
use uuid::Uuid;

use crate::Engine;
use crate::error::EngineError;
use crate::queue::push_wakeup;
use crate::store::journeys::{self, Journey, JourneyStatus};
use crate::store::steps::{self, Hurry};
use crate::store::{history, signals};
use crate::vault::{JourneySeal, Owner, Payload, Place};
use crate::waiting::WaitingFor;

pub use inject::{Injected, VendorEvent};
pub use rewind::{RewindTo, Rewound};

/// Who did something, as recorded in history: `engine`, `cli`, a token's name.
#[derive(Debug, Clone)]
pub struct Actor(pub String);

impl Actor {
    /// An actor named `name`, recorded as the `actor` of the history events
    /// it causes.
    pub fn new(name: impl Into<String>) -> Self {
        Self(name.into())
    }
}

/// What [`Engine::start`] did.
#[derive(Debug)]
pub struct StartOutcome {
    /// The journey started — or, when `created` is `false`, the one the
    /// idempotency key started earlier, as it is now.
    pub journey: Journey,
    /// `false` when the idempotency key had already started this journey.
    pub created: bool,
}

/// What [`Engine::signal`] did with a signal.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SignalOutcome {
    /// Stored. A journey waiting for a signal of this name is made due; any
    /// other keeps it until a `wait_signal` for the name consumes it.
    Accepted,
    /// This (source, event id) was already stored; nothing changed.
    Duplicate,
}

impl Engine {
    /// Starts a journey on the latest registered version of `workflow`, or
    /// returns the journey this idempotency key already started.
    ///
    /// `input` is stored as given: checking it with
    /// [`Workflow::validate`](crate::Workflow::validate) first is the caller's
    /// business (the API does).
    ///
    /// # Errors
    /// [`EngineError::UnknownWorkflow`] when no version of `workflow` is
    /// registered; `Invalid` when `input` breaks the [storable](crate::storable)
    /// rule; `IdempotencyKeyReused` when the key already started a journey of
    /// this workflow with a different input; `Database` or `Queue` errors, in
    /// which case nothing is stored.
    pub async fn start(
        &self,
        workflow: &str,
        idempotency_key: &str,
        input: Value,
        actor: &Actor,
    ) -> Result<StartOutcome, EngineError> {
        let (version, code) = self
            .registry
            .latest(workflow)
            .ok_or_else(|| EngineError::UnknownWorkflow(workflow.to_owned()))?;
        if let Err(e) = crate::storable::check(&input) {
            return Err(EngineError::unstorable("input", e));
        }
        let mut tx = self.pool.begin().await?;
        // The digest is taken by PostgreSQL over jsonb's canonical text, so
        // it is the same for the same input however the client spelled it.
        let traceparent = crate::tracecontext::current_traceparent();
        let id = Uuid::now_v7();
        // The journey's data key is stored only if the journey is.
        let fresh = self.vault.fresh(&Owner::Journey(id)).await?;
        let seal = JourneySeal::with_key(
            fresh.as_ref().map(|f| f.key.clone()),
            code.clone(),
            self.config.seal_unmarked,
        );
        let stored = seal.seal(Payload::Input, &Place::journey_input(id), &input);
        let new = journeys::NewJourney {
            id,
            workflow,
            version,
            idempotency_key,
            input: &stored,
            request: &input,
            trace_context: traceparent.as_deref(),
        };
        let Some(journey) = journeys::insert(&mut *tx, new).await? else {
            tx.commit().await?;
            if !journeys::same_request(&self.pool, workflow, idempotency_key, &input).await? {
                // Never the other request's journey: its id and status are
                // someone else's business.
                return Err(EngineError::IdempotencyKeyReused);
            }
            let existing = journeys::by_key(&self.pool, workflow, idempotency_key).await?;
            return Ok(StartOutcome {
                journey: existing,
                created: false,
            });
        };
        if let Some(fresh) = &fresh {
            fresh.store(&mut *tx).await?;
        }
        history::append(
            &mut *tx,
            journey.id,
            &actor.0,
            "started",
            json!({ "workflow": workflow, "version": version }),
        )
        .await?;
        let terms = code.search_terms(&input);
        crate::search::index(&mut *tx, self.search_key.as_deref(), journey.id, &terms).await?;
        push_wakeup(&mut tx, journey.id, Duration::ZERO).await?;
        tx.commit().await?;
        Ok(StartOutcome {
            journey,
            created: true,
        })
    }

    /// Stores a signal for the journey (once per source and event id) and wakes
    /// the journey if it is waiting for it; otherwise it is kept until it waits.
    /// A repeated (`source`, `event_id`) is no error: it returns
    /// [`SignalOutcome::Duplicate`].
    ///
    /// # Errors
    /// [`EngineError::Invalid`] when `payload` breaks the
    /// [storable](crate::storable) rule; `JourneyNotFound` when no journey has
    /// `journey_id`; `NotApplicable` when the journey is completed or
    /// cancelled; `UnknownSignal` when its workflow version does not receive
    /// `name` ([`Workflow::signals`](crate::Workflow::signals)); `Database` or
    /// `Queue` errors, in which case nothing is stored.
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
        let delivery = Delivery {
            journey_id,
            name,
            source,
            event_id,
            payload,
        };
        let outcome = self.signal_in(&mut tx, delivery, actor).await?;
        tx.commit().await?;
        Ok(outcome)
    }

    /// An operator's answer to a journey that waits for a person's decision
    /// (`signal:<name>`, such as a patient-match review): stored as that
    /// signal, with the reason in history, only while the journey waits for it.
    /// Returns the journey as the decision left it.
    ///
    /// # Errors
    /// [`EngineError::JourneyNotFound`] when no journey has `id`;
    /// `NotApplicable` when it is not waiting for the signal `name` (whatever
    /// its status); `Invalid` when `payload` breaks the storable rule;
    /// `UnknownSignal`, `Database` or `Queue` errors as for [`Engine::signal`].
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
        let delivery = Delivery {
            journey_id: id,
            name,
            source: "operator",
            event_id: &event_id,
            payload,
        };
        self.signal_in(&mut tx, delivery, actor).await?;
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
    ///
    /// # Errors
    /// [`EngineError::JourneyNotFound`] when no journey has `id`;
    /// `NotApplicable` when it is neither running nor waiting; database errors.
    pub async fn pause(
        &self,
        id: Uuid,
        actor: &Actor,
        reason: &str,
    ) -> Result<Journey, EngineError> {
        self.act(id, "pause", actor, reason, |j| {
            matches!(j.status, JourneyStatus::Running | JourneyStatus::Waiting)
                .then_some(Effect::SetStatus(JourneyStatus::Paused))
        })
        .await
    }

    /// Lets a paused journey go on: it replays, so a timer that has not fired
    /// or a signal not yet received puts it back to waiting.
    ///
    /// # Errors
    /// [`EngineError::JourneyNotFound`] when no journey has `id`;
    /// `NotApplicable` when it is not paused; `Database` or `Queue` errors.
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

    /// Ends a journey for good: it never runs again, its wake time is
    /// cleared and its open alerts are resolved. A step already under way
    /// finishes and is recorded; nothing after it starts.
    ///
    /// # Errors
    /// [`EngineError::JourneyNotFound`] when no journey has `id`;
    /// `NotApplicable` when it is already completed or cancelled; database
    /// errors.
    pub async fn cancel(
        &self,
        id: Uuid,
        actor: &Actor,
        reason: &str,
    ) -> Result<Journey, EngineError> {
        self.act(id, "cancel", actor, reason, |j| {
            (!j.status.is_terminal()).then_some(Effect::SetStatus(JourneyStatus::Cancelled))
        })
        .await
    }

    /// A failed journey gets a fresh attempt budget for the step that failed;
    /// a journey waiting to retry a step, or waiting on a vendor, retries it now.
    ///
    /// # Errors
    /// [`EngineError::JourneyNotFound`] when no journey has `id`;
    /// `NotApplicable` when it is neither failed nor waiting to retry a step
    /// or on a vendor ([`WaitingFor::is_retry`]); `Database` or `Queue` errors.
    pub async fn retry(
        &self,
        id: Uuid,
        actor: &Actor,
        reason: &str,
    ) -> Result<Journey, EngineError> {
        self.act(id, "retry", actor, reason, |j| {
            let retrying = j.status == JourneyStatus::Waiting
                && j.waiting_for.as_ref().is_some_and(WaitingFor::is_retry);
            (j.status == JourneyStatus::Failed || retrying)
                .then_some(Effect::RunNow(Some(Hurry::RetryNow)))
        })
        .await
    }

    /// Fires the timer a journey is sleeping on now, or ends now the timeout
    /// of the signal it waits for when its workflow lets an operator hurry
    /// that wait ([`Workflow::wakeable_signals`](crate::registry::Workflow):
    /// a journey waiting on a vendor then asks the vendor at once). Any other
    /// wait cannot be woken (409).
    ///
    /// # Errors
    /// [`EngineError::JourneyNotFound`] when no journey has `id`;
    /// `NotApplicable` when it is not waiting on a timer or on such a signal
    /// with a timeout; `Database` or `Queue` errors.
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
                return Some(Effect::RunNow(Some(Hurry::FireTimer)));
            }
            // A wait its workflow lets an operator hurry, with a timeout:
            // the timeout fires now.
            let hurried = match &j.waiting_for {
                Some(WaitingFor::Signal { name }) => registry
                    .get(&j.workflow, j.version)
                    .is_some_and(|w| w.wakeable_signals().contains(&name.as_str())),
                _ => false,
            };
            (hurried && j.wake_at.is_some())
                .then_some(Effect::RunNow(Some(Hurry::EndSignalTimeout)))
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
                journeys::set_status(&mut *tx, id, status).await?;
                if status == JourneyStatus::Cancelled {
                    steps::cancel_open(&mut *tx, id).await?;
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
            Effect::RunNow(hurry) => {
                if let Some(hurry) = hurry {
                    steps::hurry(&mut *tx, id, hurry).await?;
                }
                journeys::reset_attempts_if_failed(&mut *tx, id).await?;
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

/// A signal to store: for which journey, its name, and who sent it under
/// which event id (together, its dedup key), with its payload.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Delivery<'a> {
    pub journey_id: Uuid,
    pub name: &'a str,
    pub source: &'a str,
    pub event_id: &'a str,
    pub payload: &'a Value,
}

impl Engine {
    /// [`Engine::signal`] inside the caller's transaction (the webhook router
    /// marks its inbox row in the same one). Refuses a name the journey's
    /// workflow does not receive and a payload that breaks the storable rule,
    /// so nothing is stored that no one will ever consume or read back.
    pub(crate) async fn signal_in(
        &self,
        tx: &mut Transaction<'_, Postgres>,
        delivery: Delivery<'_>,
        actor: &Actor,
    ) -> Result<SignalOutcome, EngineError> {
        let Delivery {
            journey_id,
            name,
            source,
            event_id,
            payload,
        } = delivery;
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
        let code = self.registry.get(&journey.workflow, journey.version);
        let unmarked = self.config.seal_unmarked;
        let seal = JourneySeal::for_writing(&self.vault, tx, journey_id, code, unmarked).await?;
        let place = Place::signal_payload(journey_id, source, event_id);
        let stored = seal.seal(Payload::Signal(name), &place, payload);
        if !signals::insert(&mut **tx, journey_id, name, source, event_id, &stored).await? {
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
    SetStatus(JourneyStatus),
    /// Make the journey due now, after hurrying its waiting positions.
    RunNow(Option<Hurry>),
}

async fn lock(tx: &mut Transaction<'_, Postgres>, id: Uuid) -> Result<Journey, EngineError> {
    journeys::get_for_update(&mut **tx, id)
        .await?
        .ok_or(EngineError::JourneyNotFound(id))
}

async fn make_due(conn: &mut PgConnection, id: Uuid) -> Result<(), EngineError> {
    journeys::run_now(&mut *conn, id).await?;
    push_wakeup(conn, id, Duration::ZERO).await
}
