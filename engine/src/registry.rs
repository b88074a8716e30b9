//! Which workflow code runs which journeys. A journey is pinned to the
//! (name, version) that started it, so old versions stay registered beside new
//! ones until their journeys finish.

use std::collections::BTreeMap;
use std::sync::Arc;

use async_trait::async_trait;
use serde_json::Value;

use crate::context::JourneyCtx;
use crate::error::{EngineError, WorkflowError};

/// A journey definition: an async function of its input, written against a
/// [`JourneyCtx`]. It is re-run from the top on every resume, so everything that
/// is not deterministic must happen inside `ctx.step`.
#[async_trait]
pub trait Workflow: Send + Sync + 'static {
    /// Runs the journey from the top with the input it was started with,
    /// answered from history up to where it stopped; returns its output,
    /// stored when the journey completes. Errors come from `ctx`'s calls,
    /// passed on with `?`, or from [`WorkflowError::fail`].
    async fn run(&self, ctx: &mut JourneyCtx, input: Value) -> Result<Value, WorkflowError>;

    /// Checks a start request's input before any row is written and returns
    /// its canonical form, which is what the journey is started with (and
    /// what its idempotency digest is taken over): the same request written
    /// two ways is one request, and what later leaves carepath for a vendor
    /// is what was validated. Errors are `(path, message)` pairs, paths
    /// relative to `input`. The default accepts anything, unchanged.
    fn validate(&self, input: Value) -> Result<Value, Vec<(String, String)>> {
        Ok(input)
    }

    /// The signal names this workflow can receive — through
    /// `POST /v1/journeys/{id}/signals/{name}`, an operator's decision, or the
    /// webhook inbox (`<vendor>.<topic>`). Any other name is refused (422 at
    /// the API, `ignored` in the inbox) rather than stored where no wait will
    /// ever consume it. The default receives none.
    fn signals(&self) -> &[&str] {
        &[]
    }

    /// Signals whose wait an operator's `wake` may end early (its timeout
    /// then fires now): waits whose timeout asks a vendor, never ones whose
    /// timeout acts on a person (a reminder, a cancellation). The default: none.
    fn wakeable_signals(&self) -> &[&str] {
        &[]
    }

    /// Checks a signal's payload before it is stored (paths relative to the
    /// request body). The default accepts anything.
    fn validate_signal(&self, _name: &str, _payload: &Value) -> Result<(), Vec<(String, String)>> {
        Ok(())
    }

    /// Fields of step outputs that are not PHI (ids, statuses, times), shown
    /// to operators as they are; every other value is redacted until an
    /// operator reveals it with a reason ([`crate::redact`]). The default:
    /// none.
    fn shown_output_fields(&self) -> &[&str] {
        &[]
    }

    /// Steps whose side effect cannot be undone (a prescription written, an
    /// order placed), by key without `#n`: a rewind that would run one again
    /// is refused unless forced ([`Engine::rewind`](crate::Engine::rewind)).
    /// The default: none.
    fn irreversible_steps(&self) -> &[&str] {
        &[]
    }

    /// The identifiers a journey started with `input` (its canonical form,
    /// as [`Workflow::validate`] returned it) is known by, written as it
    /// starts so that an operator finds it by them ([`crate::search`]):
    /// keyed terms for PHI. The default: none.
    fn search_terms(&self, _input: &Value) -> Vec<crate::search::SearchTerm> {
        Vec::new()
    }

    /// What a search `query` may be, as terms of the kinds this workflow's
    /// journeys are indexed by (the same canonical forms as
    /// [`Workflow::search_terms`] and the identifiers its steps index). The
    /// default: none, leaving idempotency keys and journey ids.
    fn search_candidates(&self, _query: &str) -> Vec<crate::search::SearchTerm> {
        Vec::new()
    }

    /// Whether `payload` holds PHI, and so is sealed at rest when
    /// encryption is on ([`crate::vault`]). The default: unmarked, which
    /// [`EngineConfig::seal_unmarked`](crate::EngineConfig::seal_unmarked)
    /// decides (sealed, by default).
    fn sensitivity(&self, _payload: crate::vault::Payload<'_>) -> crate::vault::Sensitivity {
        crate::vault::Sensitivity::Unmarked
    }
}

/// The workflows this process can run, by name and version; built at start-up
/// and given to [`Engine::new`](crate::Engine::new).
#[derive(Default, Clone)]
pub struct Registry {
    workflows: BTreeMap<String, BTreeMap<i32, Arc<dyn Workflow>>>,
}

impl Registry {
    /// A registry with no workflows.
    pub fn new() -> Self {
        Self::default()
    }

    /// This registry with `workflow` as version `version` of `name` (see
    /// [`Registry::register`]).
    #[must_use]
    pub fn with(mut self, name: &str, version: i32, workflow: impl Workflow) -> Self {
        self.register(name, version, workflow);
        self
    }

    /// Registers `workflow` as version `version` of `name`, replacing what
    /// that pair had. New journeys start on the highest version and keep it,
    /// so a version must stay registered until its journeys have finished.
    pub fn register(&mut self, name: &str, version: i32, workflow: impl Workflow) {
        self.workflows
            .entry(name.to_owned())
            .or_default()
            .insert(version, Arc::new(workflow));
    }

    /// The version new journeys of `name` start on: the highest registered.
    pub fn latest(&self, name: &str) -> Option<(i32, Arc<dyn Workflow>)> {
        let versions = self.workflows.get(name)?;
        let (v, w) = versions.iter().next_back()?;
        Some((*v, w.clone()))
    }

    /// The code journeys pinned to `name` at `version` run; `None` when this
    /// process does not have it (during a rolling deploy such a journey waits
    /// for a worker that does).
    pub fn get(&self, name: &str, version: i32) -> Option<Arc<dyn Workflow>> {
        self.workflows.get(name)?.get(&version).cloned()
    }

    /// The names of the registered workflows.
    pub fn names(&self) -> Vec<String> {
        self.workflows.keys().cloned().collect()
    }

    /// Every registered workflow code, each version once.
    pub fn all(&self) -> impl Iterator<Item = &Arc<dyn Workflow>> {
        self.workflows.values().flat_map(BTreeMap::values)
    }

    /// Whether journeys of `workflow` at `version` receive the signal `name`
    /// ([`Workflow::signals`]). A version this process does not have (a
    /// rolling deploy) is given the benefit of the doubt.
    ///
    /// # Errors
    /// [`EngineError::UnknownSignal`], listing the names it does receive, when
    /// the version is registered and does not receive `name`.
    pub fn check_signal(
        &self,
        workflow: &str,
        version: i32,
        name: &str,
    ) -> Result<(), EngineError> {
        let Some(code) = self.get(workflow, version) else {
            return Ok(());
        };
        if code.signals().contains(&name) {
            return Ok(());
        }
        let accepted = code.signals().iter().map(|n| (*n).to_owned()).collect();
        Err(EngineError::UnknownSignal {
            workflow: workflow.to_owned(),
            name: name.to_owned(),
            accepted,
        })
    }
}
