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
    pub async fn send(
        &self,
        channel: Channel,
        to: &str,
        template: &str,
        key: &str,
    ) -> Result<Value, VendorError> {
        let channel = match channel {
            Channel::Email => "email",
            Channel::Sms => "sms",
        };
        let body =
            json!({ "channel": channel, "to": to, "template": template, "external_id": key });
        self.0
            .call(Method::Post, "/v1/messages", Some(&body), Some(key))
            .await
    }
}
