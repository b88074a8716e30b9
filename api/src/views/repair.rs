//! The shapes of an operator's repairs: firing a wait, injecting a vendor
//! event, rewinding to a step.

use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;

use super::{JourneyView, Key, Reason, StorableObject};

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct InjectRequest {
    /// The vendor that sent the event (`clinical`, `pharmacy`).
    #[schema(value_type = Key, example = "clinical")]
    pub vendor: String,
    /// The event as the vendor's webhook body carries it: its `type`
    /// (`case.approved`), its `data` (naming the journey's own case or
    /// order) and, where the vendor numbers its events, its id — which
    /// deduplicates it against the webhook, should that arrive after all.
    #[schema(value_type = StorableObject)]
    pub event: Value,
    /// Why: recorded in the journey's history with the caller.
    #[schema(value_type = Reason)]
    pub reason: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct InjectResult {
    pub journey: JourneyView,
    /// The signal the event became (`clinical.case`).
    pub signal: String,
    /// What it is deduplicated by: the event's id, or `sha256:` of its body.
    pub event_id: String,
    /// `false` when the journey already had this event: nothing changed.
    pub applied: bool,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RewindRequest {
    /// The step to keep, by its key as `GET /v1/journeys/{id}` lists it
    /// (`upload_photo_id`, `notify#2`): every position after it is
    /// superseded and run again.
    #[schema(value_type = Key, example = "upload_photo_id")]
    pub to_step: String,
    /// Re-run irreversible steps (a prescription fetched, an order placed)
    /// too; refused (409) without it. Default `false`.
    #[serde(default)]
    pub force: bool,
    /// Why: recorded in the journey's history with the caller.
    #[schema(value_type = Reason)]
    pub reason: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct RewindResult {
    pub journey: JourneyView,
    /// The keys of the positions superseded, in order.
    pub superseded: Vec<String>,
    /// Which of them were irreversible (only when forced).
    pub irreversible: Vec<String>,
}
