//! The vendors' shapes.

use chrono::{DateTime, Utc};
use serde::Serialize;
use utoipa::ToSchema;

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
