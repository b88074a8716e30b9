//! The console is a client of the API, in-process: every page reads through
//! the same routes, and every action is the same audited API action, with the
//! signed-in token as the caller. Nothing is re-implemented for the browser.

use axum::Router;
use axum::body::Body;
use axum::http::{Method, Request, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::Value;
use tower::ServiceExt;

use crate::auth::{Caller, Delegated};

/// The largest API answer a page reads (a journey's full step detail is the
/// biggest, at tens of KiB).
const ANSWER_LIMIT: usize = 16 * 1024 * 1024;

/// The API's router, called in-process.
#[derive(Clone)]
pub(crate) struct Api {
    router: Router,
}

/// What the API answered: its status and JSON body (`Value::Null` if none).
pub(crate) struct Answer {
    pub status: StatusCode,
    pub body: Value,
}

impl Answer {
    /// The body of a 2xx answer, or the API's refusal.
    pub fn value(self) -> Result<Value, Refusal> {
        if self.status.is_success() {
            Ok(self.body)
        } else {
            Err(Refusal::from(self))
        }
    }
}

/// An API error, as a page shows it: its status, message, and the fields it
/// names (`ErrorBody` of the API: `{error: {code, message, fields: [{path, message}]}}`).
#[derive(Debug, Clone)]
pub(crate) struct Refusal {
    pub status: StatusCode,
    pub message: String,
    pub fields: Vec<(String, String)>,
}

impl From<Answer> for Refusal {
    fn from(answer: Answer) -> Self {
        let error = &answer.body["error"];
        let fields = error["fields"]
            .as_array()
            .map(|fields| {
                fields
                    .iter()
                    .map(|f| {
                        let text = |k: &str| f[k].as_str().unwrap_or_default().to_owned();
                        (text("path"), text("message"))
                    })
                    .collect()
            })
            .unwrap_or_default();
        Refusal {
            status: answer.status,
            message: error["message"]
                .as_str()
                .unwrap_or("the request was refused")
                .to_owned(),
            fields,
        }
    }
}

impl Api {
    /// `router`: the API's routes with their state, without the console.
    pub fn new(router: Router) -> Self {
        Api { router }
    }

    /// `GET path` (with its query string) as `caller`.
    pub async fn get(&self, caller: &Caller, path: &str) -> Answer {
        self.call(caller, Method::GET, path, None).await
    }

    /// `POST path` with a JSON `body`, as `caller`.
    pub async fn post(&self, caller: &Caller, path: &str, body: &Value) -> Answer {
        self.call(caller, Method::POST, path, Some(body)).await
    }

    /// The API's raw response to `GET path` (an event stream, say), as `caller`.
    pub async fn stream(
        &self,
        caller: &Caller,
        path: &str,
        last_event_id: Option<&str>,
    ) -> Response {
        let mut request = Request::builder().method(Method::GET).uri(path);
        if let Some(id) = last_event_id {
            request = request.header("last-event-id", id);
        }
        self.send(caller, request, Body::empty()).await
    }

    async fn call(
        &self,
        caller: &Caller,
        method: Method,
        path: &str,
        body: Option<&Value>,
    ) -> Answer {
        let mut request = Request::builder().method(method).uri(path);
        let body = match body {
            Some(json) => {
                request = request.header(header::CONTENT_TYPE, "application/json");
                Body::from(json.to_string())
            }
            None => Body::empty(),
        };
        let response = self.send(caller, request, body).await;
        let status = response.status();
        let body = match axum::body::to_bytes(response.into_body(), ANSWER_LIMIT).await {
            Ok(bytes) if !bytes.is_empty() => serde_json::from_slice(&bytes).unwrap_or(Value::Null),
            _ => Value::Null,
        };
        Answer { status, body }
    }

    async fn send(
        &self,
        caller: &Caller,
        request: axum::http::request::Builder,
        body: Body,
    ) -> Response {
        let request = match request.extension(Delegated(caller.clone())).body(body) {
            Ok(request) => request,
            Err(_) => return StatusCode::BAD_REQUEST.into_response(),
        };
        match self.router.clone().oneshot(request).await {
            Ok(response) => response,
            Err(never) => match never {},
        }
    }
}

/// A path with a query string from `pairs`, URL-encoded; empty values left out.
pub(crate) fn with_query<'a>(
    path: &str,
    pairs: impl IntoIterator<Item = (&'a str, &'a str)>,
) -> String {
    let mut query = form_urlencoded::Serializer::new(String::new());
    let mut any = false;
    for (k, v) in pairs.into_iter().filter(|(_, v)| !v.is_empty()) {
        query.append_pair(k, v);
        any = true;
    }
    if any {
        format!("{path}?{}", query.finish())
    } else {
        path.to_owned()
    }
}

/// `s` as one URL path segment, percent-encoded.
pub(crate) fn segment(s: &str) -> String {
    percent_encoding::utf8_percent_encode(s, percent_encoding::NON_ALPHANUMERIC).to_string()
}
