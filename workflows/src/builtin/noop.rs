use async_trait::async_trait;
use serde_json::{Value, json};

use crate::{JourneyCtx, Workflow, WorkflowError};

/// `steps` steps that do nothing: measures the engine's own cost per step.
pub struct Noop;

#[async_trait]
impl Workflow for Noop {
    async fn run(&self, ctx: &mut JourneyCtx, input: Value) -> Result<Value, WorkflowError> {
        let steps = input["steps"].as_u64().unwrap_or(5);
        for i in 0..steps {
            ctx.step("noop", |_| async move { Ok(i) }).await?;
        }
        Ok(json!({ "steps": steps }))
    }
}
