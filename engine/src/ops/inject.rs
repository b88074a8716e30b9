//! `inject`: an operator delivers a vendor's event to a journey — one the
//! vendor sent and carepath never received (a lost webhook), read off the
//! vendor's dashboard. It becomes the same signal the webhook would have,
//! deduplicated the same way, and history marks it operator-sourced.

use serde_json::{Value, json};
use uuid::Uuid;

use super::{Actor, Delivery, lock};
use crate::Engine;
use crate::error::EngineError;
use crate::ops::SignalOutcome;
use crate::store::journeys::{self, Journey};
use crate::store::{history, refs};
use crate::webhook_source::{Invalid, MAX_REFERENCE, NoHeaders, Reference};

/// A vendor's event as an operator gives it.
#[derive(Debug, Clone, Copy)]
pub struct VendorEvent<'a> {
    /// The vendor that sent it (`clinical`), one with a webhook source.
    pub vendor: &'a str,
    /// The event as the vendor's webhook body would carry it (a JSON object
    /// with its `type`, its `data` and, where the vendor numbers events,
    /// its id).
    pub event: &'a Value,
}

/// What an injection did.
#[derive(Debug, Clone)]
pub struct Injected {
    /// The journey after it.
    pub journey: Journey,
    /// The signal the event became (`clinical.case`).
    pub signal: String,
    /// The key it is deduplicated by, as the vendor's webhook of the same
    /// event would be: its id, or a digest of its body.
    pub event_id: String,
    /// `Duplicate` when the journey already had this event (its webhook
    /// did arrive, or it was injected before): nothing changed.
    pub outcome: SignalOutcome,
}

impl Engine {
    /// Delivers `event` to the journey as the signal the vendor's webhook
    /// of it becomes (the vendor's [`WebhookSource`](crate::WebhookSource)
    /// routes it), deduplicated by the key the webhook would be stored
    /// under — so the webhook arriving late changes nothing — with the
    /// operator as actor and an `inject` event (reason, vendor, type, event
    /// id, `operator_sourced`) in history.
    ///
    /// # Errors
    /// [`EngineError::JourneyNotFound`]; `Invalid` (`vendor`, `event`,
    /// `event.type`, `event.data`) when the vendor has no webhook source,
    /// the event is not an object or names no signal the journey's workflow
    /// receives, or it names a resource another journey owns or none this
    /// one recorded; `NotApplicable` when the journey has ended;
    /// `Database` or `Queue` errors, in which case nothing is stored.
    pub async fn inject(
        &self,
        id: Uuid,
        given: VendorEvent<'_>,
        actor: &Actor,
        reason: &str,
    ) -> Result<Injected, EngineError> {
        let source = self
            .webhooks
            .get(given.vendor)
            .ok_or_else(|| invalid("vendor", "has no webhook source to read its events"))?;
        if !given.event.is_object() {
            return Err(invalid(
                "event",
                "must be the vendor's event, a JSON object",
            ));
        }
        let event_type = source.event_type(given.event);
        let route = source
            .route(given.event, event_type.as_deref())
            .map_err(|Invalid { path, problem }| invalid(&format!("event.{path}"), &problem))?;
        let body = serde_json::to_vec(given.event).map_err(|e| invalid("event", &e.to_string()))?;
        let event_id = source.dedup_key(&NoHeaders, given.event, &body);
        let mut tx = self.pool.begin().await?;
        lock(&mut tx, id).await?;
        check_ours(&mut tx, given.vendor, id, &route.references).await?;
        let delivery = Delivery {
            journey_id: id,
            name: &route.signal,
            source: given.vendor,
            event_id: &event_id,
            payload: given.event,
        };
        let outcome = match self.signal_in(&mut tx, delivery, actor).await {
            Err(e @ EngineError::UnknownSignal { .. }) => {
                return Err(invalid("event.type", &e.to_string()));
            }
            other => other?,
        };
        let detail = json!({ "reason": reason, "vendor": given.vendor, "type": event_type,
                             "signal": route.signal, "event_id": event_id,
                             "operator_sourced": true,
                             "duplicate": outcome == SignalOutcome::Duplicate });
        history::append(&mut *tx, id, &actor.0, "inject", detail).await?;
        let journey = journeys::get(&mut *tx, id)
            .await?
            .ok_or(EngineError::JourneyNotFound(id))?;
        tx.commit().await?;
        Ok(Injected {
            journey,
            signal: route.signal,
            event_id,
            outcome,
        })
    }
}

/// Refuses an event that is not about the journey's own resource, as the
/// webhook's would have to be to reach it: one about another journey's, or
/// about none the journey recorded, would drive it on someone else's (or no
/// one's) clinical decision.
async fn check_ours(
    tx: &mut sqlx::Transaction<'_, sqlx::Postgres>,
    vendor: &str,
    id: Uuid,
    references: &[Reference],
) -> Result<(), EngineError> {
    let mut ours = false;
    for r in references
        .iter()
        .filter(|r| r.id.chars().count() <= MAX_REFERENCE)
    {
        match refs::owner(&mut **tx, vendor, &r.kind, &r.id).await? {
            Some(owner) if owner != id => {
                return Err(invalid(
                    "event",
                    &format!("names {} {:?}, which journey {owner} owns", r.kind, r.id),
                ));
            }
            Some(_) => ours = true,
            None => {}
        }
    }
    if ours {
        return Ok(());
    }
    Err(invalid(
        "event.data",
        &format!(
            "names no resource of this journey's at {vendor} (its case or order, as the \
             vendor's own event would)"
        ),
    ))
}

fn invalid(path: &str, problem: &str) -> EngineError {
    EngineError::Invalid {
        path: path.to_owned(),
        problem: problem.to_owned(),
    }
}
