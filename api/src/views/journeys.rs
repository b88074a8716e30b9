//! The journeys' shapes: starting one, reading it, its steps and history,
//! signals, operator actions and bulk retries.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use carepath_workflows::store::history::HistoryEvent;
use carepath_workflows::store::steps::StepRecord;
use carepath_workflows::{Journey, JourneyStatus};

use super::{
    FilterText, JourneyCursor, JourneyStatusName, Key, Reason, RetryableStatus, Storable,
    StorableObject,
};

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct StartRequest {
    /// A registered workflow, e.g. `async_consult`.
    #[schema(value_type = Key, example = "noop")]
    pub workflow: String,
    /// The caller's key for this start: the same key again returns the same journey.
    #[schema(value_type = Key)]
    pub idempotency_key: String,
    /// The workflow's input, checked by the workflow (a 422 names what it refuses).
    #[schema(value_type = StorableObject)]
    pub input: Value,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SignalRequest {
    /// Deduplicates: the same event id again is acknowledged and not applied twice.
    #[schema(value_type = Key)]
    pub event_id: String,
    /// What the signal carries, checked by the journey's workflow (a 422
    /// names what it refuses). Default `null`.
    #[serde(default)]
    #[schema(value_type = Storable)]
    pub payload: Value,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ActionRequest {
    /// Why: recorded in the journey's history with the caller.
    #[schema(value_type = Reason)]
    pub reason: String,
}

#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RetryFilter {
    #[schema(value_type = Option<RetryableStatus>)]
    pub status: Option<String>,
    #[schema(value_type = Option<FilterText>)]
    pub phase: Option<String>,
    /// Journeys waiting on this vendor.
    #[schema(value_type = Option<FilterText>)]
    pub vendor: Option<String>,
    /// Journeys whose last error contains this text.
    #[schema(value_type = Option<FilterText>)]
    pub error_contains: Option<String>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BulkRetryRequest {
    pub filter: RetryFilter,
    #[schema(value_type = Reason)]
    pub reason: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct BulkRetryResult {
    /// The journeys retried.
    pub retried: Vec<Uuid>,
    /// Journeys that matched but could not be retried (their status changed meanwhile).
    pub skipped: Vec<Uuid>,
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ListQuery {
    #[param(inline, value_type = Option<JourneyStatusName>)]
    pub status: Option<String>,
    #[param(inline, value_type = Option<FilterText>)]
    pub phase: Option<String>,
    #[param(inline, value_type = Option<FilterText>)]
    pub workflow: Option<String>,
    /// Journeys waiting on this vendor.
    #[param(inline, value_type = Option<FilterText>)]
    pub vendor: Option<String>,
    /// Only journeys that should have moved by now.
    pub overdue: Option<bool>,
    /// Journeys whose last error contains this text.
    #[param(inline, value_type = Option<FilterText>)]
    pub error_contains: Option<String>,
    /// 1–500, default 50.
    #[param(minimum = 1, maximum = 500)]
    pub limit: Option<i64>,
    /// From the previous page's `next_cursor`.
    #[param(inline, value_type = Option<JourneyCursor>)]
    pub cursor: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct StepView {
    pub key: String,
    pub kind: String,
    pub status: String,
    pub attempts: i32,
    pub last_error: Option<String>,
    pub due_at: Option<DateTime<Utc>>,
    pub started_at: DateTime<Utc>,
    pub finished_at: Option<DateTime<Utc>>,
}

impl From<StepRecord> for StepView {
    fn from(s: StepRecord) -> Self {
        Self {
            key: s.key,
            kind: s.kind.to_string(),
            status: s.status.to_string(),
            attempts: s.attempts,
            last_error: s.last_error,
            due_at: s.due_at,
            started_at: s.started_at,
            finished_at: s.finished_at,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct JourneyView {
    pub id: Uuid,
    pub workflow: String,
    pub version: i32,
    /// running, waiting, paused, failed, completed or cancelled.
    pub status: String,
    pub phase: String,
    /// What a waiting journey waits for: `timer:<step>`, `signal:<name>`,
    /// `retry:<step>`, `vendor:<name>`, `code:<workflow>@v<version>`.
    pub waiting_for: Option<String>,
    pub wake_at: Option<DateTime<Utc>>,
    pub attempts: i32,
    pub last_error: Option<String>,
    pub output: Option<Value>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub finished_at: Option<DateTime<Utc>>,
    /// In listings and `GET /v1/journeys/{id}`: why the journey is overdue —
    /// `alert: <kind>` (an open
    /// alert, e.g. `alert: decision_sla_exceeded`), `wake time passed`, or
    /// `no progress` (running, nothing recorded for
    /// `CAREPATH_STUCK_AFTER_SECS`); absent when it is not overdue.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub overdue: Option<String>,
    /// How it ended: the workflow's `outcome` when it completed with one
    /// (`approved`, `declined`), else `completed`, `failed` or `cancelled`;
    /// none while it runs or waits.
    pub outcome: Option<String>,
    /// Present on `GET /v1/journeys/{id}`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub steps: Option<Vec<StepView>>,
}

/// How `j` ended or stands (see [`JourneyView::outcome`]).
pub fn outcome_of(j: &Journey) -> Option<String> {
    match j.status {
        JourneyStatus::Completed => Some(
            j.output
                .as_ref()
                .and_then(|o| o["outcome"].as_str())
                .unwrap_or("completed")
                .to_owned(),
        ),
        JourneyStatus::Failed | JourneyStatus::Cancelled => Some(j.status.to_string()),
        _ => None,
    }
}

impl From<Journey> for JourneyView {
    fn from(j: Journey) -> Self {
        Self {
            outcome: outcome_of(&j),
            id: j.id,
            workflow: j.workflow,
            version: j.version,
            status: j.status.as_str().to_owned(),
            phase: j.phase,
            waiting_for: j.waiting_for.map(|w| w.to_string()),
            wake_at: j.wake_at,
            attempts: j.attempts,
            last_error: j.last_error,
            // A sealed result is shown as redacted: listings open nothing.
            output: j.output.map(|o| {
                if carepath_workflows::engine::vault::envelope::sealed_json(&o).is_some() {
                    Value::String(carepath_workflows::engine::redact::REDACTED.into())
                } else {
                    o
                }
            }),
            created_at: j.created_at,
            updated_at: j.updated_at,
            finished_at: j.finished_at,
            overdue: j.overdue,
            steps: None,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Page {
    pub items: Vec<JourneyView>,
    pub next_cursor: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct HistoryEventView {
    pub seq: i64,
    pub at: DateTime<Utc>,
    pub actor: String,
    pub kind: String,
    pub detail: Value,
    pub prev_hash: String,
    pub hash: String,
}

impl From<HistoryEvent> for HistoryEventView {
    fn from(e: HistoryEvent) -> Self {
        Self {
            seq: e.seq,
            at: e.at,
            actor: e.actor,
            kind: e.kind,
            detail: e.detail,
            prev_hash: e.prev_hash,
            hash: e.hash,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct HistoryView {
    pub events: Vec<HistoryEventView>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct VerifyView {
    pub ok: bool,
    pub events: usize,
    pub broken_at: Option<i64>,
    /// The journey's month was archived and its archive dropped: nothing is
    /// left to verify (`ok` is then true and says nothing).
    pub retired: bool,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct SignalAccepted {
    pub journey_id: Uuid,
    pub event_id: String,
    /// `false` when this event id had already been received.
    pub applied: bool,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct InputView {
    pub journey_id: Uuid,
    pub input: Value,
}
