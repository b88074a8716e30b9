//! The pharmacy: orders and their states.

use serde_json::{Value, json};

use crate::client::{Method, VendorClient, VendorError};

pub struct Pharmacy(pub VendorClient);

impl Pharmacy {
    /// Places the order for a prescription; `external_id` makes one prescription one order.
    pub async fn create_order(
        &self,
        prescription_id: &str,
        patient_id: &str,
        external_id: &str,
        key: &str,
    ) -> Result<Value, VendorError> {
        let body = json!({ "prescription_id": prescription_id, "patient_id": patient_id, "external_id": external_id });
        self.0
            .call(Method::Post, "/v1/orders", Some(&body), Some(key))
            .await
    }

    pub async fn get_order(&self, id: &str) -> Result<Value, VendorError> {
        self.0
            .call(Method::Get, &format!("/v1/orders/{id}"), None, None)
            .await
    }
}
