//! What a vendor's answer means for the step that asked.

use std::time::Duration;

use reqwest::StatusCode;
use reqwest::header::HeaderMap;
use serde_json::Value;

#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    Success,
    /// Refresh the token once, then treat as transient.
    Auth,
    /// Try again later; `retry_after` when the vendor said when.
    Transient {
        retry_after: Option<Duration>,
    },
    /// The vendor refused this request (validation and the like): do not retry.
    Rejected,
}

pub fn classify(status: StatusCode, headers: &HeaderMap) -> Outcome {
    match status.as_u16() {
        200..=299 => Outcome::Success,
        // 403 is a permission the token does not carry: a new token will not help.
        401 => Outcome::Auth,
        408 | 425 | 429 | 500..=599 => Outcome::Transient {
            retry_after: retry_after(headers),
        },
        _ => Outcome::Rejected,
    }
}

const MAX_RETRY_AFTER_SECS: u64 = 7 * 24 * 3600;

/// `Retry-After` in seconds (the HTTP-date form is rare among these vendors
/// and is treated as absent).
fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    headers
        .get(reqwest::header::RETRY_AFTER)?
        .to_str()
        .ok()?
        .trim()
        .parse::<u64>()
        .ok()
        // Beyond a week is not believed (and would overflow date arithmetic).
        .map(|secs| Duration::from_secs(secs.min(MAX_RETRY_AFTER_SECS)))
}

/// The vendor's own words, for the step's error: `error.message`, `message`,
/// `error_description` or `detail`, with the fields it names.
pub fn vendor_message(status: StatusCode, body: &Value) -> String {
    let text = [
        &body["error"]["message"],
        &body["message"],
        &body["error_description"],
        &body["detail"],
        &body["error"],
    ]
    .into_iter()
    .find_map(|v| v.as_str())
    .unwrap_or("no message");
    let fields: Vec<&str> = body["error"]["fields"]
        .as_array()
        .map(|fs| fs.iter().filter_map(|f| f["path"].as_str()).collect())
        .unwrap_or_default();
    if fields.is_empty() {
        format!("HTTP {}: {text}", status.as_u16())
    } else {
        format!(
            "HTTP {}: {text} (fields: {})",
            status.as_u16(),
            fields.join(", ")
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn answers_are_classified() {
        let none = HeaderMap::new();
        assert_eq!(classify(StatusCode::CREATED, &none), Outcome::Success);
        assert_eq!(classify(StatusCode::UNAUTHORIZED, &none), Outcome::Auth);
        assert_eq!(
            classify(StatusCode::UNPROCESSABLE_ENTITY, &none),
            Outcome::Rejected
        );
        assert_eq!(
            classify(StatusCode::GATEWAY_TIMEOUT, &none),
            Outcome::Transient { retry_after: None }
        );
        let mut h = HeaderMap::new();
        h.insert(
            reqwest::header::RETRY_AFTER,
            "7".parse().unwrap_or_else(|_| unreachable!()),
        );
        assert_eq!(
            classify(StatusCode::TOO_MANY_REQUESTS, &h),
            Outcome::Transient {
                retry_after: Some(Duration::from_secs(7))
            }
        );
    }

    #[test]
    fn the_vendor_message_names_the_field() {
        let body =
            json!({"error": {"message": "state is not served", "fields": [{"path": "state"}]}});
        assert_eq!(
            vendor_message(StatusCode::UNPROCESSABLE_ENTITY, &body),
            "HTTP 422: state is not served (fields: state)"
        );
    }
}
