use std::time::Duration;

use async_trait::async_trait;
use serde_json::{Value, json};

use crate::{JourneyCtx, StepError, Workflow, WorkflowError};
use carepath_engine::vault::{Payload, Sensitivity};

/// A small journey that shows every engine feature: checkpointed steps, a
/// vendor call that fails twice and is retried with backoff, a wait for a
/// signal with a timeout, and a durable timer.
pub struct Demo;

#[async_trait]
impl Workflow for Demo {
    fn signals(&self) -> &[&str] {
        &["review"]
    }

    /// Its result is a case id and an outcome; the rest is left to the
    /// engine's default (sealed).
    fn sensitivity(&self, payload: Payload<'_>) -> Sensitivity {
        match payload {
            Payload::Output => Sensitivity::NotPhi,
            _ => Sensitivity::Unmarked,
        }
    }

    async fn run(&self, ctx: &mut JourneyCtx, input: Value) -> Result<Value, WorkflowError> {
        let review_timeout =
            Duration::from_millis(input["review_timeout_ms"].as_u64().unwrap_or(3000));
        let follow_up = Duration::from_millis(input["follow_up_ms"].as_u64().unwrap_or(2000));
        let flaky_failures = input["flaky_failures"].as_u64().unwrap_or(2) as u32;

        ctx.set_phase("intake");
        ctx.step("validate_intake", |_| async { Ok(true) }).await?;
        let case: String = ctx
            .step("submit_case", |s| async move {
                if s.attempt <= flaky_failures {
                    return Err(StepError::transient(format!(
                        "vendor answered 503 (attempt {})",
                        s.attempt
                    )));
                }
                // The tail of a v7 UUID is its random part.
                let id = s.journey_id.simple().to_string();
                Ok(format!("case-{}", &id[id.len() - 8..]))
            })
            .await?;

        ctx.set_phase("awaiting_review");
        let decision = ctx.wait_signal("review", Some(review_timeout)).await?;
        let outcome = match decision {
            Some(d) => d["decision"].as_str().unwrap_or("approved").to_owned(),
            None => "no_decision_in_time".to_owned(),
        };

        ctx.set_phase("follow_up");
        ctx.sleep("follow_up", follow_up).await?;
        ctx.step("notify_patient", |_| async { Ok(()) }).await?;
        Ok(json!({ "case": case, "outcome": outcome }))
    }
}
