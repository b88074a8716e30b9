//! `ctx.sleep`: a durable timer — a row, so it survives restarts and fires once.

use std::time::Duration;

use chrono::Utc;
use serde_json::{Value, json};

use super::{JourneyCtx, MAX_WAIT, suspend_in};
use crate::error::WorkflowError;
use crate::store::history;
use crate::store::steps::{self, Position, StepKind, StepStatus};
use crate::waiting::WaitingFor;

impl JourneyCtx {
    /// Waits `duration` of real time (clamped to ten years), durably. An
    /// operator's `wake` fires it early.
    ///
    /// # Errors
    /// [`WorkflowError::Suspended`] until the timer fires (the workflow
    /// function must return it as is); `NonDeterminism` when history recorded
    /// something else here; `Stopped` when an operator stopped the journey;
    /// database errors.
    pub async fn sleep(&mut self, key: &str, duration: Duration) -> Result<(), WorkflowError> {
        let (seq, key) = self.next_position(key);
        if let Some(rec) = self.recorded_at(seq, &key, StepKind::Sleep)? {
            return match rec.status {
                StepStatus::Completed => Ok(()),
                _ if rec.due => self.fire_timer(seq, &key).await,
                _ => self.suspend(&WaitingFor::Timer { key }, rec.due_at).await,
            };
        }
        let position = Position {
            journey_id: self.journey_id,
            seq,
            key: &key,
        };
        let mut tx = sqlx::Connection::begin(self.conn.conn()).await?;
        let (due_at, due) = steps::insert_waiting(
            &mut *tx,
            position,
            StepKind::Sleep,
            Some(duration.min(MAX_WAIT)),
        )
        .await?;
        // A timer always has a due time; the fallback only keeps this total.
        let due_at = due_at.unwrap_or_else(Utc::now);
        history::append(
            &mut *tx,
            self.journey_id,
            "engine",
            "timer_set",
            json!({ "step": key, "until": due_at }),
        )
        .await?;
        if due {
            tx.commit().await?;
            return self.fire_timer(seq, &key).await;
        }
        let waiting_for = WaitingFor::Timer { key: key.clone() };
        let outcome = suspend_in(
            &mut tx,
            self.journey_id,
            &self.phase,
            &waiting_for,
            Some(due_at),
        )
        .await;
        tx.commit().await?;
        self.stored_phase.clone_from(&self.phase);
        Err(outcome)
    }

    async fn fire_timer(&mut self, seq: i32, key: &str) -> Result<(), WorkflowError> {
        let journey_id = self.journey_id;
        let mut tx = sqlx::Connection::begin(self.conn.conn()).await?;
        steps::complete(&mut tx, journey_id, seq, &Value::Null).await?;
        history::append(
            &mut *tx,
            journey_id,
            "engine",
            "timer_fired",
            json!({ "step": key }),
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }
}
