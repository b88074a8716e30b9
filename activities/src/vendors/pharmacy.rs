//! The pharmacy: orders and their states, and the feed of its events.

use serde::Serialize;
use serde_json::Value;

use crate::client::{Method, VendorClient, VendorError};

pub struct Pharmacy(pub VendorClient);

/// One order: one fill of a prescription, and what the pharmacy needs to
/// ship it. Sent as JSON as is; the pharmacy answers 422, naming the field
/// by path (`ship_to.postal_code`), when a name or address part is missing
/// or empty, the state is not a two-letter code in capitals, or the ZIP
/// code is not `12345` or `12345-6789`. Name and address are sent as given:
/// the caller passes them in canonical form.
#[derive(Debug, Clone, Serialize)]
pub struct OrderRequest {
    /// The clinical network's id of the prescription being filled.
    pub prescription_id: String,
    /// The clinical network's id of the patient.
    pub patient_id: String,
    /// carepath's id for this order (one journey's fill): the pharmacy
    /// recognises a repeat of one by it.
    pub external_id: String,
    /// Which fill: 0 for the first, then 1, 2, ... for the refills.
    pub fill: u32,
    pub patient_name: PatientName,
    pub ship_to: ShipTo,
}

/// The patient's name as the parcel is addressed.
#[derive(Debug, Clone, Serialize)]
pub struct PatientName {
    pub first_name: String,
    pub last_name: String,
}

/// A US postal address.
#[derive(Debug, Clone, Serialize)]
pub struct ShipTo {
    pub line1: String,
    /// Apartment, suite, ...; omitted from the JSON when there is none.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub line2: Option<String>,
    pub city: String,
    /// Two-letter state code in capitals: `CA`.
    pub state: String,
    /// `12345` or `12345-6789`.
    pub postal_code: String,
}

impl Pharmacy {
    /// Places `order`; the pharmacy's order (with its `id` and `status`).
    /// Errors as [`VendorClient::call`]'s: a refused order (422) is
    /// [`VendorError::Rejected`] with the pharmacy's message, which names the field.
    pub async fn create_order(
        &self,
        order: &OrderRequest,
        key: &str,
    ) -> Result<Value, VendorError> {
        // Strings and a number always serialise; were it ever to fail, the
        // pharmacy would refuse the empty body (422): a failed step, not a panic.
        let body = serde_json::to_value(order).unwrap_or(Value::Null);
        self.0
            .call(Method::Post, "/v1/orders", Some(&body), Some(key))
            .await
    }

    pub async fn get_order(&self, id: &str) -> Result<Value, VendorError> {
        self.0
            .call(Method::Get, &format!("/v1/orders/{id}"), None, None)
            .await
    }

    /// One page of the pharmacy's events after the cursor `after` (from the
    /// first event without one), at most `limit` of them: the pharmacy's
    /// answer, `{"items": [<event>...], "next_cursor": "<cursor>"}`, each
    /// item an event as its webhook's body (`{"event_id", "type",
    /// "occurred_at", "data"}`), `next_cursor` the cursor after the last item
    /// (the given one when nothing is new). Read from the profile's
    /// `feed.path` ([`DEFAULT_FEED_PATH`] when it declares no feed). Errors
    /// as [`VendorClient::call`]'s; a cursor the pharmacy cannot read is
    /// [`VendorError::Rejected`] (400).
    pub async fn events(&self, after: Option<&str>, limit: u32) -> Result<Value, VendorError> {
        let path = self
            .0
            .profile()
            .feed
            .as_ref()
            .map_or(DEFAULT_FEED_PATH, |f| f.path.as_str());
        // The serializer is not Send: finished before the await.
        let query = {
            let mut query = form_urlencoded::Serializer::new(String::new());
            query.append_pair("limit", &limit.to_string());
            if let Some(cursor) = after {
                query.append_pair("after", cursor);
            }
            query.finish()
        };
        self.0
            .call(Method::Get, &format!("{path}?{query}"), None, None)
            .await
    }
}

/// Where the pharmacy's event feed is when the profile does not say.
pub const DEFAULT_FEED_PATH: &str = "/v1/events";
