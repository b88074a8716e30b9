//! Bulk actions by filter (`POST /v1/ops/bulk`, `POST /v1/ops/bulk/confirm`):
//! a dry run that counts and samples, then the action with its token.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use super::{FilterText, JourneyStatusName, JourneyView, Key, Reason};

/// What a bulk action does to each journey it selects: as the action of the
/// same name on one journey (`POST /v1/journeys/{id}/<action>`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum BulkAction {
    Pause,
    Resume,
    Cancel,
    Retry,
    Wake,
    Rewind,
}

impl BulkAction {
    /// The action as written in requests and the audit.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pause => "pause",
            Self::Resume => "resume",
            Self::Cancel => "cancel",
            Self::Retry => "retry",
            Self::Wake => "wake",
            Self::Rewind => "rewind",
        }
    }
}

/// Which journeys: those every given criterion keeps (none given: all).
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BulkFilter {
    #[schema(value_type = Option<JourneyStatusName>)]
    pub status: Option<String>,
    #[schema(value_type = Option<FilterText>)]
    pub phase: Option<String>,
    #[schema(value_type = Option<FilterText>)]
    pub workflow: Option<String>,
    /// Journeys waiting on this vendor.
    #[schema(value_type = Option<FilterText>)]
    pub vendor: Option<String>,
    /// Only overdue journeys.
    pub overdue: Option<bool>,
    /// Journeys whose last error contains this text.
    #[schema(value_type = Option<FilterText>)]
    pub error_contains: Option<String>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BulkRequest {
    pub action: BulkAction,
    pub filter: BulkFilter,
    /// For `rewind` (and only for it): the step to rewind each journey to.
    #[schema(value_type = Option<Key>)]
    pub to_step: Option<String>,
    /// For `rewind`: re-run irreversible steps too. Default `false`.
    #[serde(default)]
    pub force: bool,
    /// Why: recorded in each journey's history and in the operator audit.
    #[schema(value_type = Reason)]
    pub reason: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct BulkPlan {
    pub action: BulkAction,
    /// How many journeys the filter selects now.
    pub matched: i64,
    /// Up to 20 of them, newest first.
    pub sample: Vec<JourneyView>,
    /// Runs this plan once (`POST /v1/ops/bulk/confirm`), for the caller
    /// who made it, until `expires_at`. Absent when nothing matched.
    pub confirm_token: Option<String>,
    pub expires_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BulkConfirm {
    /// A dry run's `confirm_token`.
    #[schema(value_type = Key)]
    pub confirm_token: String,
    /// The action the caller means to run: refused (409) when the token's
    /// plan is another, so a token cannot run what its caller did not mean.
    pub action: Option<BulkAction>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct SkippedJourney {
    pub id: Uuid,
    /// Why the action did not apply to it (its status changed meanwhile).
    pub why: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct BulkOutcome {
    /// The operation, as the operator audit records it.
    pub operation_id: i64,
    pub action: BulkAction,
    /// How many the dry run counted.
    pub matched: i64,
    /// Journeys the action was applied to.
    pub done: i64,
    /// Journeys it no longer applied to.
    pub skipped: i64,
    /// Up to 50 of those, with why.
    pub skipped_sample: Vec<SkippedJourney>,
}
