//! `rewind`: an operator re-runs a journey from after a chosen step, as
//! Temporal's reset and DBOS's fork-from-step do.

use serde_json::json;
use uuid::Uuid;

use super::{Actor, lock, make_due};
use crate::Engine;
use crate::error::EngineError;
use crate::store::journeys::{self, Journey, JourneyStatus};
use crate::store::{history, rewind};

/// How long a rewind waits for a worker to let go of a journey whose run has
/// just ended (it is no longer `running`): long enough for the worker to
/// release its lock, short enough that the operator is not kept waiting.
const RUN_LOCK_WAIT: std::time::Duration = std::time::Duration::from_secs(2);

/// What a rewind is asked to do.
#[derive(Debug, Clone, Copy)]
pub struct RewindTo<'a> {
    /// The step to keep: everything recorded after it is superseded and
    /// re-run. Its key as recorded (`notify#2` for the second `notify`).
    pub step: &'a str,
    /// Rewind even past an irreversible step
    /// ([`Workflow::irreversible_steps`](crate::Workflow::irreversible_steps)).
    pub force: bool,
}

/// What a rewind did.
#[derive(Debug, Clone)]
pub struct Rewound {
    /// The journey, due to run again from after the chosen step.
    pub journey: Journey,
    /// The keys of the positions superseded, in order.
    pub superseded: Vec<String>,
    /// Which of them were irreversible (non-empty only when forced).
    pub irreversible: Vec<String>,
}

impl Engine {
    /// Rewinds the journey to `to.step`: the positions recorded after it are
    /// superseded (kept, in `journey_steps_superseded`, and in history) and
    /// the journey runs again from there — a paused or failed one too. The
    /// signals the superseded positions consumed are not delivered again:
    /// they were about the world before the rewind (a case submitted again
    /// is a new case), so a re-run wait hears new events or looks the
    /// vendor up as its timeout says (an operator may fire it). Steps it runs from now on
    /// call vendors with fresh idempotency keys
    /// ([`StepCtx::idempotency_key`](crate::StepCtx::idempotency_key)).
    ///
    /// # Errors
    /// [`EngineError::JourneyNotFound`]; `NotApplicable` for a cancelled
    /// journey; `Invalid` (`to_step`) when the journey recorded no completed
    /// position with that key; `Conflict` when nothing was recorded after
    /// it, when a worker is running the journey this moment (pause it, then
    /// rewind), or when an irreversible step would be re-run and `force` is
    /// not set; `Database` or `Queue` errors, in which case nothing changed.
    pub async fn rewind(
        &self,
        id: Uuid,
        to: RewindTo<'_>,
        actor: &Actor,
        reason: &str,
    ) -> Result<Rewound, EngineError> {
        let mut tx = self.pool.begin().await?;
        if !rewind::try_lock_runs(&mut tx, id).await? {
            // A worker holds the journey. Still `running`: refused at once
            // (a bulk rewind must not wait on each running journey). Ended
            // or waiting: the run has just ended and is letting go.
            let running = journeys::get(&mut *tx, id)
                .await?
                .is_some_and(|j| j.status == JourneyStatus::Running);
            if running || !rewind::lock_runs_within(&mut tx, id, RUN_LOCK_WAIT).await? {
                return Err(conflict(
                    "a worker is running the journey this moment; pause it, then rewind",
                ));
            }
        }
        let journey = lock(&mut tx, id).await?;
        if journey.status == JourneyStatus::Cancelled {
            return Err(EngineError::NotApplicable {
                action: "rewind",
                status: journey.status,
            });
        }
        // Its input and outputs no longer open; and an erased journey never
        // runs again, which is what lets its month be archived.
        if rewind::is_erased(&mut tx, id).await? {
            return Err(EngineError::Vault(crate::vault::VaultError::Erased));
        }
        let at = match rewind::position(&mut tx, id, to.step).await? {
            Some(at) if at.status == "completed" => at,
            Some(_) => {
                return Err(invalid(
                    "has not completed: a rewind keeps the step and re-runs what follows it \
                     (retry or fire the step instead)",
                ));
            }
            None => return Err(invalid("is not a position this journey has recorded")),
        };
        let later = rewind::after(&mut tx, id, at.seq).await?;
        if later.is_empty() {
            return Err(conflict(&format!(
                "nothing was recorded after {}: there is nothing to re-run",
                to.step
            )));
        }
        let irreversible = self.irreversible_among(&journey, &later);
        if !irreversible.is_empty() && !to.force {
            return Err(conflict(&format!(
                "it would re-run irreversible steps ({}); force it, with a reason, to re-run \
                 them anyway",
                irreversible.join(", ")
            )));
        }
        let n = rewind::count(&mut tx, id).await?;
        rewind::supersede(&mut tx, id, at.seq, n).await?;
        rewind::restart(&mut tx, id).await?;
        let superseded: Vec<String> = later.into_iter().map(|p| p.key).collect();
        let detail = json!({ "reason": reason, "to_step": to.step, "rewind": n,
                             "from": journey.status, "superseded": superseded,
                             "forced": to.force, "irreversible": irreversible });
        history::append(&mut *tx, id, &actor.0, "rewind", detail).await?;
        make_due(&mut tx, id).await?;
        let journey = journeys::get(&mut *tx, id)
            .await?
            .ok_or(EngineError::JourneyNotFound(id))?;
        tx.commit().await?;
        Ok(Rewound {
            journey,
            superseded,
            irreversible,
        })
    }

    /// The completed positions among `later` whose step the journey's
    /// workflow calls irreversible (by key, before any `#n`).
    fn irreversible_among(&self, journey: &Journey, later: &[rewind::Recorded]) -> Vec<String> {
        let Some(code) = self.registry.get(&journey.workflow, journey.version) else {
            return Vec::new();
        };
        let marked = code.irreversible_steps();
        later
            .iter()
            .filter(|p| p.status == "completed" && p.kind == "step")
            .filter(|p| marked.contains(&p.key.split('#').next().unwrap_or_default()))
            .map(|p| p.key.clone())
            .collect()
    }
}

fn conflict(detail: &str) -> EngineError {
    EngineError::Conflict {
        action: "rewind",
        detail: detail.to_owned(),
    }
}

fn invalid(problem: &str) -> EngineError {
    EngineError::Invalid {
        path: "to_step".into(),
        problem: problem.to_owned(),
    }
}
