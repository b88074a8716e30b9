//! What the API reads and writes, as documented in /openapi.json.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use carepath_workflows::Journey;
use carepath_workflows::store::history::HistoryEvent;
use carepath_workflows::store::steps::StepRecord;

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct StartRequest {
    /// A registered workflow, e.g. `async_consult`.
    pub workflow: String,
    /// The caller's key for this start: the same key again returns the same journey.
    pub idempotency_key: String,
    /// The workflow's input (an object).
    pub input: Value,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SignalRequest {
    /// Deduplicates: the same event id again is acknowledged and not applied twice.
    pub event_id: String,
    #[serde(default)]
    pub payload: Value,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ActionRequest {
    /// Why: recorded in the journey's history with the caller.
    pub reason: String,
}

#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RetryFilter {
    pub status: Option<String>,
    pub phase: Option<String>,
    pub vendor: Option<String>,
    pub error_contains: Option<String>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BulkRetryRequest {
    pub filter: RetryFilter,
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
    pub status: Option<String>,
    pub phase: Option<String>,
    pub workflow: Option<String>,
    /// Journeys waiting on this vendor.
    pub vendor: Option<String>,
    /// Only journeys that should have moved by now.
    pub overdue: Option<bool>,
    /// 1–500, default 50.
    pub limit: Option<i64>,
    /// From the previous page's `next_cursor`.
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
            kind: s.kind,
            status: s.status,
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
    /// Present on `GET /v1/journeys/{id}`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub steps: Option<Vec<StepView>>,
}

impl From<Journey> for JourneyView {
    fn from(j: Journey) -> Self {
        Self {
            id: j.id,
            workflow: j.workflow,
            version: j.version,
            status: j.status.as_str().to_owned(),
            phase: j.phase,
            waiting_for: j.waiting_for,
            wake_at: j.wake_at,
            attempts: j.attempts,
            last_error: j.last_error,
            output: j.output,
            created_at: j.created_at,
            updated_at: j.updated_at,
            finished_at: j.finished_at,
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

#[derive(Debug, Serialize, ToSchema)]
pub struct VendorView {
    pub name: String,
    /// `open` while the vendor is on hold (breaker open, 429, operator pause), else `closed`.
    pub breaker: String,
    pub on_hold_until: Option<DateTime<Utc>>,
    pub hold_reason: Option<String>,
    pub rate_per_sec: f64,
    pub burst: u32,
    /// Journeys running now that last touched this vendor is not tracked; this
    /// counts journeys waiting on it.
    pub waiting_journeys: i64,
    pub last_error: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct VendorsView {
    pub vendors: Vec<VendorView>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TokenRequest {
    pub name: String,
    pub role: crate::auth::Role,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct TokenCreated {
    pub name: String,
    pub role: crate::auth::Role,
    /// Shown once; only its hash is stored.
    pub token: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Health {
    pub status: String,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MatchDecisionRequest {
    /// `link` (to `patient_id`) or `create` (a new patient).
    pub action: String,
    #[serde(default)]
    pub patient_id: Option<Uuid>,
    /// Why: recorded in the journey's history with the caller.
    pub reason: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct MatchView {
    pub journey_id: Uuid,
    /// Whether the journey waits for a person to decide.
    pub awaiting_review: bool,
    /// `link`, `review` or `new`, as matching decided.
    pub decision: String,
    pub patient_id: Option<Uuid>,
    /// Patients it resembles, best first: `{patient_id, score}`.
    pub candidates: Vec<Value>,
}
