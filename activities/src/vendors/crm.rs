//! The CRM: de-identified engagement events only.

use serde::Serialize;
use serde_json::Value;

use crate::client::{Method, VendorClient, VendorError};

pub struct Crm(pub VendorClient);

/// What may cross to the CRM: ids and coarse facts, never a name, a date of
/// birth, contact details or clinical detail. The type has no field for them.
#[derive(Debug, Clone, Serialize)]
pub struct EngagementEvent {
    pub event_id: String,
    pub journey_id: String,
    pub event: String,
    pub occurred_at: String,
}

impl Crm {
    pub async fn send(&self, event: &EngagementEvent, key: &str) -> Result<Value, VendorError> {
        let body = serde_json::to_value(event).unwrap_or(Value::Null);
        self.0
            .call(Method::Post, "/v1/events", Some(&body), Some(key))
            .await
    }
}
