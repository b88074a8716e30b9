//! Email and SMS to the patient, by template.

use serde_json::{Value, json};

use crate::client::{Method, VendorClient, VendorError};

pub struct Notifications(pub VendorClient);

#[derive(Debug, Clone, Copy)]
pub enum Channel {
    Email,
    Sms,
}

impl Notifications {
    /// Sends `template` to `to` (an email address or an E.164 phone number).
    /// Errors as [`crate::VendorClient::call`]'s.
    pub async fn send(
        &self,
        channel: Channel,
        to: &str,
        template: &str,
        key: &str,
    ) -> Result<Value, VendorError> {
        self.send_with(channel, to, template, &Value::Null, key)
            .await
    }

    /// Sends `template` filled with `data` (an object of the template's
    /// variables, e.g. `{"question": "..."}`; `null` for none). The data is
    /// for the patient and may hold PHI: it goes to the sender only.
    pub async fn send_with(
        &self,
        channel: Channel,
        to: &str,
        template: &str,
        data: &Value,
        key: &str,
    ) -> Result<Value, VendorError> {
        let channel = match channel {
            Channel::Email => "email",
            Channel::Sms => "sms",
        };
        let mut body =
            json!({ "channel": channel, "to": to, "template": template, "external_id": key });
        if !data.is_null() {
            body["data"] = data.clone();
        }
        self.0
            .call(Method::Post, "/v1/messages", Some(&body), Some(key))
            .await
    }
}
