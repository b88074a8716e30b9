//! Talking to the API, and printing what it answers: as JSON for scripts,
//! or rendered for people.

use anyhow::{Context, Result, bail};
use comfy_table::{ContentArrangement, Table};
use reqwest::Method;
use serde_json::Value;

use super::Output;

/// The API, as the caller's token reaches it.
pub(super) struct Api {
    base: String,
    token: Option<String>,
    http: reqwest::Client,
}

impl Api {
    /// The API at `base` (a trailing `/` ignored), called with `token`.
    pub(super) fn new(base: &str, token: Option<String>) -> Self {
        Self {
            base: base.trim_end_matches('/').to_owned(),
            token,
            http: reqwest::Client::new(),
        }
    }

    /// The answer to `method path`, with `query` and a JSON `body`.
    ///
    /// # Errors
    /// No token, a failure to reach the API, or a refusal: its status, its
    /// message and the fields it names.
    pub(super) async fn call(
        &self,
        method: Method,
        path: &str,
        query: Option<&[(&str, String)]>,
        body: Option<&Value>,
    ) -> Result<Value> {
        let token = self
            .token
            .as_deref()
            .context("no token: pass --token or set CAREPATH_TOKEN")?;
        let mut req = self
            .http
            .request(method, format!("{}{path}", self.base))
            .bearer_auth(token);
        if let Some(q) = query {
            req = req.query(q);
        }
        if let Some(b) = body {
            req = req.json(b);
        }
        let resp = req
            .send()
            .await
            .with_context(|| format!("calling {}", self.base))?;
        let status = resp.status();
        let text = resp.text().await.unwrap_or_default();
        let value: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
        if !status.is_success() {
            let e = &value["error"];
            let fields: Vec<String> = e["fields"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|f| format!("{}: {}", s(&f["path"]), s(&f["message"])))
                .collect();
            let detail = if fields.is_empty() {
                String::new()
            } else {
                format!(" ({})", fields.join("; "))
            };
            bail!(
                "{status}: {}{detail}",
                e["message"].as_str().unwrap_or(&text)
            );
        }
        Ok(value)
    }
}

impl Api {
    /// An open `text/event-stream` at `path` with `query`, resuming after
    /// `last_event_id` when given.
    ///
    /// # Errors
    /// No token, a failure to reach the API, or a refusal (its status).
    pub(super) async fn stream(
        &self,
        path: &str,
        query: &[(&str, String)],
        last_event_id: Option<&str>,
    ) -> Result<reqwest::Response> {
        let token = self
            .token
            .as_deref()
            .context("no token: pass --token or set CAREPATH_TOKEN")?;
        let mut req = self
            .http
            .get(format!("{}{path}", self.base))
            .bearer_auth(token)
            .query(query);
        if let Some(id) = last_event_id {
            req = req.header("last-event-id", id);
        }
        let resp = req
            .send()
            .await
            .with_context(|| format!("calling {}", self.base))?;
        if !resp.status().is_success() {
            let status = resp.status();
            let text = resp.text().await.unwrap_or_default();
            let value: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
            bail!(
                "{status}: {}",
                value["error"]["message"].as_str().unwrap_or(&text)
            );
        }
        Ok(resp)
    }
}

/// A table with these column headers.
pub(super) fn table(header: &[&str]) -> Table {
    let mut t = Table::new();
    t.set_header(header.to_vec());
    t
}

/// How wide a [`fitted`] table may be when its output is not a terminal
/// (piped, logged): the terminal's width otherwise.
const WIDTH_OFF_TERMINAL: u16 = 160;

/// A table with these column headers whose cells wrap so that it fits the
/// terminal (or [`WIDTH_OFF_TERMINAL`] columns): for tables with many or
/// long columns, such as a match's side-by-side view.
pub(super) fn fitted(header: &[&str]) -> Table {
    let mut t = table(header);
    t.set_content_arrangement(ContentArrangement::Dynamic);
    if t.width().is_none() {
        t.set_width(WIDTH_OFF_TERMINAL);
    }
    t
}

/// A JSON number with `decimals` decimals; empty when it is not a number.
pub(super) fn decimal(v: &Value, decimals: usize) -> String {
    v.as_f64()
        .map(|n| format!("{n:.decimals$}"))
        .unwrap_or_default()
}

/// A JSON value as a table cell: strings bare (as [`clean`] has them),
/// null empty.
pub(super) fn s(v: &Value) -> String {
    match v {
        Value::Null => String::new(),
        Value::String(s) => clean(s),
        other => other.to_string(),
    }
}

/// `text` with its control characters written escaped: a vendor's event
/// type or an error may hold any, and nothing a vendor sent may move the
/// cursor or recolour an operator's terminal.
pub(super) fn clean(text: &str) -> String {
    if !text.chars().any(char::is_control) {
        return text.to_owned();
    }
    text.chars()
        .map(|c| {
            if c.is_control() {
                c.escape_default().to_string()
            } else {
                c.to_string()
            }
        })
        .collect()
}

/// Whether people asked for every value whole (`-o wide`) rather than a
/// table that fits 100 columns.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Layout {
    Narrow,
    Wide,
}

/// Prints `value` as JSON (the API's answer, whatever `render` would leave
/// out), or as `render` lays it out for people.
pub(super) fn print(out: Output, value: &Value, render: impl Fn(&Value, Layout) -> String) {
    match out {
        Output::Json => println!("{value}"),
        Output::Table => println!("{}", render(value, Layout::Narrow)),
        Output::Wide => println!("{}", render(value, Layout::Wide)),
    }
}

/// The array under `key` of a listing (empty when there is none).
pub(super) fn items<'v>(v: &'v Value, key: &str) -> &'v [Value] {
    v[key].as_array().map(Vec::as_slice).unwrap_or_default()
}
