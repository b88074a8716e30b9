//! `ctx.wait_signal`: a wait for a named signal, with an optional timeout. A
//! signal that arrived before the journey got here is kept and taken now.

use std::time::Duration;

use serde_json::{Value, json};

use super::{JourneyCtx, MAX_WAIT, suspend_in};
use crate::error::WorkflowError;
use crate::store::journeys::{self, JourneyStatus};
use crate::store::steps::{self, Position, StepKind, StepStatus};
use crate::store::{history, signals};
use crate::vault::{Payload, Place};
use crate::waiting::WaitingFor;

impl JourneyCtx {
    /// Waits for the signal `name`; `None` when `timeout` passes first. A signal
    /// that arrived before the journey got here is kept and returned now.
    ///
    /// # Errors
    /// [`WorkflowError::Suspended`] until the signal or the timeout comes (the
    /// workflow function must return it as is); `NonDeterminism` when history
    /// recorded something else here; `Stopped` when an operator stopped the
    /// journey; database errors.
    pub async fn wait_signal(
        &mut self,
        name: &str,
        timeout: Option<Duration>,
    ) -> Result<Option<Value>, WorkflowError> {
        let waiting_for = WaitingFor::signal(name);
        let (seq, key) = self.next_position(&waiting_for.to_string());
        let recorded = self.recorded_at(seq, &key, StepKind::Signal)?;
        if let Some(rec) = &recorded
            && rec.status == StepStatus::Completed
        {
            let output = rec.output.clone().unwrap_or(Value::Null);
            return Ok(output.get("signal").map(|s| s["payload"].clone()));
        }
        // The journey row is locked before looking for the signal, so a signal
        // stored concurrently either is seen here or sees the journey waiting
        // and wakes it: it can never slip between the look and the wait.
        let seal = self.seal().clone();
        let journey_id = self.journey_id;
        let mut tx = sqlx::Connection::begin(self.conn.conn()).await?;
        if journeys::status(&mut *tx, self.journey_id, true).await? != JourneyStatus::Running {
            return Err(WorkflowError::Stopped);
        }
        if recorded.is_none() {
            let position = Position {
                journey_id: self.journey_id,
                seq,
                key: &key,
            };
            let wait = timeout.map(|t| t.min(MAX_WAIT));
            steps::insert_waiting(&mut *tx, position, StepKind::Signal, wait).await?;
        }
        if let Some(signal) = signals::consume_next(&mut *tx, self.journey_id, name, seq).await? {
            let place = Place::signal_payload(self.journey_id, &signal.source, &signal.event_id);
            let payload = seal.open(&place, signal.payload)?;
            let output = json!({ "signal": {
                "event_id": signal.event_id, "source": signal.source, "payload": payload,
            }});
            let place = Place::step_output(journey_id, seq, &key);
            let stored = seal.seal(Payload::Signal(name), &place, &output);
            steps::complete(&mut tx, self.journey_id, seq, &stored).await?;
            history::append(
                &mut *tx,
                self.journey_id,
                "engine",
                "signal_applied",
                json!({ "name": name, "source": signal.source, "event_id": signal.event_id }),
            )
            .await?;
            tx.commit().await?;
            return Ok(Some(payload));
        }
        let (due_at, due) = steps::due(&mut *tx, self.journey_id, seq).await?;
        if due {
            steps::complete(&mut tx, self.journey_id, seq, &json!({ "timed_out": true })).await?;
            history::append(
                &mut *tx,
                self.journey_id,
                "engine",
                "signal_timed_out",
                json!({ "name": name }),
            )
            .await?;
            tx.commit().await?;
            return Ok(None);
        }
        let outcome = suspend_in(&mut tx, self.journey_id, &self.phase, &waiting_for, due_at).await;
        tx.commit().await?;
        self.stored_phase.clone_from(&self.phase);
        Err(outcome)
    }
}
