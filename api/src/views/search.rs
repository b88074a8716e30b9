//! Finding journeys by a business identifier (`POST /v1/journeys/search`).

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::{JourneyView, Key};

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SearchRequest {
    /// What a support ticket names: a case, order, prescription or clinical
    /// patient id; the patient's external id, email or phone (PHI, so it
    /// travels in this body and never in a URL); an idempotency key; or the
    /// first 6 or more hex digits of a journey id.
    #[schema(value_type = Key, example = "case_8f2c")]
    pub query: String,
    /// 1–100, default 20.
    #[schema(minimum = 1, maximum = 100)]
    pub limit: Option<i64>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct SearchHit {
    #[serde(flatten)]
    pub journey: JourneyView,
    /// What named it: `case`, `order`, `prescription`, `clinical_patient`,
    /// `patient_external_id`, `email`, `phone`, `idempotency_key` or
    /// `journey_id`.
    pub matched_by: Vec<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct SearchResult {
    /// Newest first; empty when nothing matches.
    pub items: Vec<SearchHit>,
}
