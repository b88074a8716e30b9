//! Repairing one journey: `ctl fire`, `ctl inject`, `ctl rewind`.

use anyhow::{Context, Result};
use reqwest::Method;
use serde_json::{Value, json};

use super::Output;
use super::client::{Api, items, print, s};

/// `ctl fire <id> --reason`: the journey's timer, or its signal wait's
/// timeout, fires now.
pub(super) async fn fire(api: &Api, out: Output, id: &str, reason: String) -> Result<()> {
    let j = api
        .call(
            Method::POST,
            &format!("/v1/journeys/{id}/fire-wait"),
            None,
            Some(&json!({ "reason": reason })),
        )
        .await?;
    print(out, &j, |j, _| {
        format!(
            "fired: {} is {} ({})",
            s(&j["id"]),
            s(&j["status"]),
            s(&j["phase"])
        )
    });
    Ok(())
}

/// `ctl inject <id> --vendor --event <json or @file> --reason`: the vendor's
/// event delivered as its webhook would have been.
pub(super) async fn inject(
    api: &Api,
    out: Output,
    id: &str,
    vendor: String,
    event: &str,
    reason: String,
) -> Result<()> {
    let text = match event.strip_prefix('@') {
        Some(path) => std::fs::read_to_string(path).with_context(|| format!("reading {path}"))?,
        None => event.to_owned(),
    };
    let event: Value = serde_json::from_str(&text).context("--event is not JSON")?;
    let answer = api
        .call(
            Method::POST,
            &format!("/v1/journeys/{id}/inject"),
            None,
            Some(&json!({ "vendor": vendor, "event": event, "reason": reason })),
        )
        .await?;
    print(out, &answer, |a, _| {
        let what = if a["applied"] == true {
            "delivered"
        } else {
            "already had it (nothing changed)"
        };
        format!(
            "{what}: {} as {} (event id {}); the journey is {}",
            s(&a["journey"]["id"]),
            s(&a["signal"]),
            s(&a["event_id"]),
            s(&a["journey"]["status"])
        )
    });
    Ok(())
}

/// `ctl rewind <id> --to-step <key> [--force] --reason`.
pub(super) async fn rewind(
    api: &Api,
    out: Output,
    id: &str,
    to_step: String,
    force: bool,
    reason: String,
) -> Result<()> {
    let answer = api
        .call(
            Method::POST,
            &format!("/v1/journeys/{id}/rewind"),
            None,
            Some(&json!({ "to_step": to_step, "force": force, "reason": reason })),
        )
        .await?;
    print(out, &answer, |a, _| {
        let keys: Vec<String> = items(a, "superseded").iter().map(s).collect();
        let irreversible: Vec<String> = items(a, "irreversible").iter().map(s).collect();
        let mut text = format!(
            "rewound {}: re-runs {} step(s) after {}: {}",
            s(&a["journey"]["id"]),
            keys.len(),
            s(&json!(to_step)),
            keys.join(", ")
        );
        if !irreversible.is_empty() {
            text.push_str(&format!("\nforced past: {}", irreversible.join(", ")));
        }
        text
    });
    Ok(())
}
