//! `fire_wait`: an operator ends what a journey waits on now — any timer,
//! or the timeout branch of any signal wait that has one.

use uuid::Uuid;

use super::{Actor, Effect};
use crate::Engine;
use crate::error::EngineError;
use crate::store::journeys::{Journey, JourneyStatus};
use crate::store::steps::Hurry;
use crate::waiting::WaitingFor;

impl Engine {
    /// Fires the journey's wait now: the timer it sleeps on, or the timeout
    /// of the signal it waits for — whatever that timeout does (a reminder,
    /// a cancellation, a lookup at a vendor), unlike [`Engine::wake`], which
    /// hurries only waits whose timeout asks a vendor. The reason is in
    /// history.
    ///
    /// # Errors
    /// [`EngineError::JourneyNotFound`]; `NotApplicable` when it is not
    /// waiting on a timer or on a signal with a timeout (a wait with no
    /// timeout has no branch to fire: inject the event it waits for
    /// instead); `Database` or `Queue` errors.
    pub async fn fire_wait(
        &self,
        id: Uuid,
        actor: &Actor,
        reason: &str,
    ) -> Result<Journey, EngineError> {
        self.act(id, "fire_wait", actor, reason, |j| {
            if j.status != JourneyStatus::Waiting {
                return None;
            }
            match &j.waiting_for {
                Some(WaitingFor::Timer { .. }) => Some(Effect::RunNow(Some(Hurry::FireTimer))),
                Some(WaitingFor::Signal { .. }) if j.wake_at.is_some() => {
                    Some(Effect::RunNow(Some(Hurry::EndSignalTimeout)))
                }
                _ => None,
            }
        })
        .await
    }
}
