//! The vendors' shapes.

use chrono::{DateTime, Utc};
use serde::Serialize;
use utoipa::ToSchema;

#[derive(Debug, Serialize, ToSchema)]
pub struct VendorView {
    pub name: String,
    /// `available`; `held` — carepath holds it after failures (its breaker
    /// opened) or a 429, until `on_hold_until`; or `paused` — an operator
    /// paused it (`paused_by`), until resumed.
    #[schema(example = "available")]
    pub status: String,
    /// `open` while carepath holds the vendor after failures or a 429, else
    /// `closed` (an operator's pause is not a breaker: see `status`).
    pub breaker: String,
    /// When a hold by carepath ends; none for an operator's pause, which
    /// lasts until resumed.
    pub on_hold_until: Option<DateTime<Utc>>,
    pub hold_reason: Option<String>,
    /// Who paused it (`token:<name>`), when `status` is `paused`.
    pub paused_by: Option<String>,
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
