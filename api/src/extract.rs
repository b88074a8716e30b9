//! Extractors that turn bad input into the API's error body, never a 500 and
//! never axum's plain-text rejections.

use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::StatusCode;
use axum::http::request::Parts;
use bytes::Bytes;
use serde::de::DeserializeOwned;
use uuid::Uuid;

use crate::error::{ApiError, ErrorCode, FieldError};

/// A JSON body: malformed JSON is a 400; a body of the wrong shape (unknown
/// fields, wrong types, missing fields) is a 422 naming the field's path.
pub struct Body<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for Body<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let bytes = Bytes::from_request(req, state)
            .await
            .map_err(body_rejection)?;
        // Syntax first: a body that is not JSON at all is malformed, not invalid.
        let value: serde_json::Value = serde_json::from_slice(&bytes).map_err(|e| {
            ApiError::new(
                StatusCode::BAD_REQUEST,
                ErrorCode::Malformed,
                format!("the body is not JSON: {e}"),
            )
        })?;
        if let Err(e) = carepath_workflows::storable::check(&value) {
            let path = if e.path.is_empty() {
                "body".into()
            } else {
                e.path
            };
            return Err(ApiError::field(&path, e.problem));
        }
        serde_path_to_error::deserialize(value)
            .map(Body)
            .map_err(|e| {
                let (path, message) = failing(e);
                ApiError::invalid(vec![FieldError { path, message }])
            })
    }
}

/// Where a value failed to deserialise, and why. serde reports a missing
/// field at the object that lacks it; the path names the field itself, so a
/// request without `reason` is refused naming `reason`.
fn failing<E: std::fmt::Display>(e: serde_path_to_error::Error<E>) -> (String, String) {
    let at = e.path().to_string();
    let at = if at == "." { String::new() } else { at };
    let message = e.into_inner().to_string();
    let missing = message
        .strip_prefix("missing field `")
        .and_then(|m| m.strip_suffix('`'));
    let path = match missing {
        Some(field) if at.is_empty() => field.to_owned(),
        Some(field) => format!("{at}.{field}"),
        None => at,
    };
    (path, message)
}

/// A body that could not be read, in the API's error shape: 413 past the
/// body limit, 400 otherwise.
pub fn body_rejection(e: axum::extract::rejection::BytesRejection) -> ApiError {
    if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
        ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            ErrorCode::PayloadTooLarge,
            "the body is too large",
        )
    } else {
        ApiError::new(StatusCode::BAD_REQUEST, ErrorCode::Malformed, e.body_text())
    }
}

/// The path parameter `name`, or a 404 in the API's error body saying `missing`:
/// a segment that is absent, cannot be decoded, holds a NUL character or is
/// longer than any name carepath stores ([`MAX_PATH_PARAM`]) names nothing
/// that exists — and never reaches a query.
pub async fn path_param<S: Send + Sync>(
    parts: &mut Parts,
    state: &S,
    name: &str,
    missing: &str,
) -> Result<String, ApiError> {
    let axum::extract::Path(params) =
        axum::extract::Path::<Vec<(String, String)>>::from_request_parts(parts, state)
            .await
            .map_err(|_| ApiError::not_found(missing))?;
    params
        .into_iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v)
        .filter(|v| !v.contains('\0') && v.chars().count() <= MAX_PATH_PARAM)
        .ok_or_else(|| ApiError::not_found(missing))
}

/// The `id` path parameter as a number (an inbox entry's, a rejection's);
/// anything else names nothing: a 404 saying `missing`.
///
/// # Errors
/// A 404 for a missing or non-numeric id.
pub async fn numeric_id<S: Send + Sync>(
    parts: &mut Parts,
    state: &S,
    missing: &str,
) -> Result<i64, ApiError> {
    path_param(parts, state, "id", missing)
        .await?
        .parse()
        .map_err(|_| ApiError::not_found(missing))
}

/// The longest path parameter looked up: every name carepath stores (tokens,
/// vendors, signals) is shorter.
pub const MAX_PATH_PARAM: usize = 200;

/// A journey id in the path; anything that is not a UUID names no journey.
pub struct JourneyId(pub Uuid);

impl<S: Send + Sync> FromRequestParts<S> for JourneyId {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let id = path_param(parts, state, "id", "no such journey").await?;
        Uuid::parse_str(&id)
            .map(JourneyId)
            .map_err(|_| ApiError::not_found("no such journey"))
    }
}

/// A patient id in the path; anything that is not a UUID names no patient.
pub struct PatientId(pub Uuid);

impl<S: Send + Sync> FromRequestParts<S> for PatientId {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let id = path_param(parts, state, "id", "no such patient").await?;
        Uuid::parse_str(&id)
            .map(PatientId)
            .map_err(|_| ApiError::not_found("no such patient"))
    }
}

/// Query parameters: unknown or ill-typed ones are a 422 naming the parameter.
pub struct QueryParams<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequestParts<S> for QueryParams<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        let query = parts.uri.query().unwrap_or_default();
        if let Some((key, _)) = form_urlencoded::parse(query.as_bytes())
            .find(|(k, v)| k.contains('\0') || v.contains('\0'))
        {
            return Err(ApiError::field(&key, "must not contain the NUL character"));
        }
        let de = serde_urlencoded::Deserializer::new(form_urlencoded::parse(query.as_bytes()));
        serde_path_to_error::deserialize(de)
            .map(QueryParams)
            .map_err(|e| {
                let (path, message) = failing(e);
                let path = if path.is_empty() {
                    "query".into()
                } else {
                    path
                };
                ApiError::invalid(vec![FieldError { path, message }])
            })
    }
}

/// A named path parameter (`{name}`); a segment that cannot be decoded names
/// nothing that exists, so it is a 404 in the API's error body, not axum's text.
pub struct NameParam(pub String);

impl<S: Send + Sync> FromRequestParts<S> for NameParam {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        path_param(parts, state, "name", "no such resource")
            .await
            .map(NameParam)
    }
}

/// The `{vendor}` path parameter, as [`NameParam`] does for `{name}`.
pub struct VendorParam(pub String);

impl<S: Send + Sync> FromRequestParts<S> for VendorParam {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        path_param(parts, state, "vendor", "no such vendor")
            .await
            .map(VendorParam)
    }
}

/// The `{key}` path parameter: a journey's step key (`notify#2`, written
/// `notify%232` in a URL).
pub struct StepKeyParam(pub String);

impl<S: Send + Sync> FromRequestParts<S> for StepKeyParam {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        path_param(parts, state, "key", "no such step")
            .await
            .map(StepKeyParam)
    }
}

/// Deserializes a list of 64-bit integers as JSON has them: `2.0` is the
/// same number as `2` (JSON Schema's `integer` admits both), so a client
/// whose JSON writer spells whole numbers with a fraction is not refused.
pub fn whole_i64s<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Vec<i64>, D::Error> {
    use serde::Deserialize;
    use serde::de::Error;
    Vec::<serde_json::Number>::deserialize(d)?
        .iter()
        .map(|n| {
            whole_i64(n).ok_or_else(|| D::Error::custom(format!("{n} is not a 64-bit integer")))
        })
        .collect()
}

fn whole_i64(n: &serde_json::Number) -> Option<i64> {
    if let Some(i) = n.as_i64() {
        return Some(i);
    }
    // Past 2^53 a float no longer names one integer: refused, not guessed.
    const EXACT: f64 = 9_007_199_254_740_992.0;
    let f = n.as_f64()?;
    (f.fract() == 0.0 && f.abs() <= EXACT).then_some(f as i64)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[derive(Debug, serde::Deserialize)]
    struct Ids {
        #[serde(deserialize_with = "whole_i64s")]
        ids: Vec<i64>,
    }

    fn ids(v: serde_json::Value) -> Result<Vec<i64>, serde_json::Error> {
        serde_json::from_value::<Ids>(json!({ "ids": v })).map(|i| i.ids)
    }

    #[test]
    fn whole_numbers_are_integers_however_spelled() {
        assert_eq!(
            ids(json!([1, 2.0, -3.0, i64::MIN, i64::MAX])).ok(),
            Some(vec![1, 2, -3, i64::MIN, i64::MAX])
        );
        assert_eq!(ids(json!([9007199254740992.0])).ok(), Some(vec![1 << 53]));
        for refused in [
            json!([1.5]),
            json!([1e300]),
            json!([u64::MAX]),
            json!(["1"]),
        ] {
            assert!(ids(refused.clone()).is_err(), "{refused}");
        }
    }

    #[derive(Debug, serde::Deserialize)]
    #[allow(dead_code)]
    struct Outer {
        reason: String,
        inner: Option<Inner>,
    }

    #[derive(Debug, serde::Deserialize)]
    #[allow(dead_code)]
    struct Inner {
        name: String,
    }

    fn failing_path(v: serde_json::Value) -> Option<String> {
        serde_path_to_error::deserialize::<_, Outer>(v)
            .err()
            .map(|e| failing(e).0)
    }

    /// A missing field is named by its own path, at any depth.
    #[test]
    fn a_missing_field_is_named() {
        assert_eq!(failing_path(json!({})).as_deref(), Some("reason"));
        assert_eq!(
            failing_path(json!({ "reason": "x", "inner": {} })).as_deref(),
            Some("inner.name")
        );
        assert_eq!(
            failing_path(json!({ "reason": 1 })).as_deref(),
            Some("reason")
        );
    }
}
