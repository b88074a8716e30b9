//! A journey's step detail (`GET /v1/journeys/{id}/steps`) and the revealed
//! output of one step.

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::Value;
use utoipa::ToSchema;
use uuid::Uuid;

use carepath_workflows::store::detail::{Alert, Superseded};

#[derive(Debug, Serialize, ToSchema)]
pub struct StepDetail {
    /// Its place in the run (1-based).
    pub seq: i32,
    /// Its key (`notify#2`); `{key}` of the reveal route.
    pub key: String,
    /// `step`, `sleep` (a timer) or `signal` (a wait for one).
    pub kind: String,
    /// completed, retrying, failed, waiting or cancelled.
    pub status: String,
    /// Failed attempts so far.
    pub attempts: i32,
    pub last_error: Option<String>,
    pub started_at: DateTime<Utc>,
    pub finished_at: Option<DateTime<Utc>>,
    /// From first reached to finished, in milliseconds; none while open.
    pub duration_ms: Option<i64>,
    /// A timer's firing time, a signal wait's timeout, a retry's next attempt.
    pub due_at: Option<DateTime<Utc>>,
    /// What it recorded, with every value that may be PHI replaced by
    /// `[redacted]` (ids, statuses and times show).
    #[schema(value_type = Object)]
    pub output: Option<Value>,
    /// Whether anything in `output` is redacted (reveal it with a reason).
    pub redacted: bool,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct SupersededStep {
    /// Which rewind superseded it (1 for the first).
    pub rewind: i32,
    pub seq: i32,
    pub key: String,
    pub kind: String,
    /// Its status when it was superseded.
    pub status: String,
    pub attempts: i32,
    pub last_error: Option<String>,
    pub started_at: DateTime<Utc>,
    pub finished_at: Option<DateTime<Utc>>,
    pub superseded_at: DateTime<Utc>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct WaitView {
    /// The position waiting.
    pub key: String,
    /// What it waits for, in words: `the timer refill_due`, `signal
    /// clinical.case (or its timeout)`, `a retry of place_order`.
    pub waits_for: String,
    /// When it fires, times out or is retried; none for a wait only a
    /// signal or an operator ends.
    pub until: Option<DateTime<Utc>>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct AlertView {
    /// What it is about (`decision_sla_exceeded`).
    pub kind: String,
    /// The step it was raised at.
    pub occasion: String,
    #[schema(value_type = Object)]
    pub detail: Value,
    pub raised_at: DateTime<Utc>,
    /// None while open.
    pub resolved_at: Option<DateTime<Utc>>,
    pub resolution: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct JourneyDetail {
    pub journey_id: Uuid,
    /// running, waiting, paused, failed, completed or cancelled.
    pub status: String,
    pub phase: String,
    /// How it ended or stands: the workflow's `outcome` when it completed
    /// with one (`approved`, `declined`), else `completed`, `failed`,
    /// `cancelled`; none while it runs or waits.
    pub outcome: Option<String>,
    pub steps: Vec<StepDetail>,
    /// What it waits on now.
    pub waits: Vec<WaitView>,
    pub alerts: Vec<AlertView>,
    /// Positions rewinds superseded, kept for the record.
    pub superseded: Vec<SupersededStep>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct StepOutputView {
    pub journey_id: Uuid,
    pub key: String,
    /// What the step recorded, whole (PHI): the read is in the journey's history.
    #[schema(value_type = Object)]
    pub output: Option<Value>,
}

impl From<Superseded> for SupersededStep {
    fn from(s: Superseded) -> Self {
        Self {
            rewind: s.rewind,
            seq: s.seq,
            key: s.key,
            kind: s.kind,
            status: s.status,
            attempts: s.attempts,
            last_error: s.last_error,
            started_at: s.started_at,
            finished_at: s.finished_at,
            superseded_at: s.superseded_at,
        }
    }
}

impl From<Alert> for AlertView {
    fn from(a: Alert) -> Self {
        Self {
            kind: a.kind,
            occasion: a.occasion,
            detail: a.detail,
            raised_at: a.raised_at,
            resolved_at: a.resolved_at,
            resolution: a.resolution,
        }
    }
}
