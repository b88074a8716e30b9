use std::time::Duration;

use async_trait::async_trait;
use serde_json::{Value, json};
use sqlx::PgPool;
use uuid::Uuid;

use crate::{JourneyCtx, StepError, Workflow, WorkflowError};

/// `steps` steps, each making one side effect keyed by its idempotency key in
/// `carepath.probe_effects`, the way a vendor would: presenting the same key
/// again returns the first result and only counts the call. `step_ms` holds
/// the step open after the effect, like a slow vendor response, so that a
/// crash can land between the effect and its checkpoint.
pub struct Probe {
    pool: PgPool,
}

impl Probe {
    pub fn new(pool: PgPool) -> Self {
        Self { pool }
    }
}

#[async_trait]
impl Workflow for Probe {
    /// A probe's input and steps are counts and ids: nothing to seal.
    fn sensitivity(
        &self,
        _payload: carepath_engine::vault::Payload<'_>,
    ) -> carepath_engine::vault::Sensitivity {
        carepath_engine::vault::Sensitivity::NotPhi
    }

    async fn run(&self, ctx: &mut JourneyCtx, input: Value) -> Result<Value, WorkflowError> {
        let steps = input["steps"].as_u64().unwrap_or(10);
        let step_ms = input["step_ms"].as_u64().unwrap_or(0);
        let mut nonces = Vec::new();
        for i in 0..steps {
            let pool = self.pool.clone();
            let nonce: Uuid = ctx
                .step(&format!("effect_{i}"), |s| async move {
                    let nonce: Uuid = sqlx::query_scalar(
                        "INSERT INTO carepath.probe_effects (journey_id, step_key, nonce)
                         VALUES ($1, $2, $3)
                         ON CONFLICT (journey_id, step_key)
                         DO UPDATE SET calls = carepath.probe_effects.calls + 1
                         RETURNING nonce",
                    )
                    .bind(s.journey_id)
                    .bind(&s.key)
                    .bind(Uuid::new_v4())
                    .fetch_one(&pool)
                    .await
                    .map_err(|e| StepError::transient(e.to_string()))?;
                    tokio::time::sleep(Duration::from_millis(step_ms)).await;
                    Ok(nonce)
                })
                .await?;
            nonces.push(nonce);
        }
        Ok(json!({ "effects": nonces.len() }))
    }
}
