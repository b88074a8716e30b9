//! Finding a journey and reading it step by step: `ctl find`, `ctl steps`,
//! `ctl reveal`, and the short ids every command takes.

use anyhow::{Result, bail};
use chrono::Utc;
use reqwest::Method;
use serde_json::{Value, json};
use uuid::Uuid;

use super::Output;
use super::client::{Api, Layout, items, print, s};
use super::render::{Fit, narrow, short_id, when, wide};

/// The full id of the journey `given` names: a full id as it is; otherwise
/// the one journey whose id ends (or starts) with it, as a short id from a
/// listing does.
///
/// # Errors
/// No journey, or more than one, has such an id (they are listed); the
/// API's refusal.
pub(super) async fn resolve(api: &Api, given: &str) -> Result<String> {
    if Uuid::parse_str(given).is_ok() {
        return Ok(given.to_owned());
    }
    let found = api
        .call(
            Method::POST,
            "/v1/journeys/search",
            None,
            Some(&json!({ "query": given, "limit": 10 })),
        )
        .await?;
    let ids: Vec<String> = items(&found, "items")
        .iter()
        .filter(|j| {
            j["matched_by"]
                .as_array()
                .is_some_and(|m| m.contains(&json!("journey_id")))
        })
        .map(|j| s(&j["id"]))
        .collect();
    match ids.as_slice() {
        [one] => Ok(one.clone()),
        [] => bail!(
            "no journey's id ends or starts with {given:?} (a short id is the last 8 characters \
             a listing shows; `ctl find` takes any business id)"
        ),
        many => bail!(
            "{given:?} is the end or start of several journeys' ids: {}",
            many.join(", ")
        ),
    }
}

/// `ctl find <query>`: the journeys a business id names.
pub(super) async fn find(api: &Api, out: Output, query: &str) -> Result<()> {
    let found = api
        .call(
            Method::POST,
            "/v1/journeys/search",
            None,
            Some(&json!({ "query": query })),
        )
        .await?;
    print(out, &found, found_table);
    Ok(())
}

fn found_table(v: &Value, layout: Layout) -> String {
    let hits = items(v, "items");
    if hits.is_empty() {
        return "no journey is known by that".into();
    }
    let now = Utc::now();
    let row = |j: &Value, id: String, created: String| {
        let by: Vec<String> = j["matched_by"]
            .as_array()
            .into_iter()
            .flatten()
            .map(s)
            .collect();
        vec![
            id,
            s(&j["workflow"]),
            s(&j["status"]),
            s(&j["phase"]),
            s(&j["outcome"]),
            created,
            by.join(","),
        ]
    };
    match layout {
        Layout::Narrow => {
            let header = [
                ("id", Fit::Whole),
                ("workflow", Fit::Shrink(10)),
                ("status", Fit::Whole),
                ("phase", Fit::Shrink(10)),
                ("outcome", Fit::Shrink(10)),
                ("created", Fit::Whole),
                ("matched by", Fit::Shrink(10)),
            ];
            let rows = hits
                .iter()
                .map(|j| row(j, short_id(&j["id"]), when(&j["created_at"], now)));
            narrow(&header, rows.collect())
        }
        Layout::Wide => {
            let header = [
                "id",
                "workflow",
                "status",
                "phase",
                "outcome",
                "created",
                "matched by",
            ];
            let rows = hits
                .iter()
                .map(|j| row(j, s(&j["id"]), s(&j["created_at"])));
            wide(&header, rows.collect())
        }
    }
}

/// `ctl steps <id>`: each step's attempts, timings, error and output (PHI
/// redacted), what it waits on, its alerts and superseded steps.
pub(super) async fn steps(api: &Api, out: Output, id: &str) -> Result<()> {
    let detail = api
        .call(Method::GET, &format!("/v1/journeys/{id}/steps"), None, None)
        .await?;
    print(out, &detail, steps_text);
    Ok(())
}

fn steps_text(d: &Value, layout: Layout) -> String {
    let now = Utc::now();
    let mut text = format!(
        "{}  {}  phase {}  outcome {}\n",
        s(&d["journey_id"]),
        s(&d["status"]),
        s(&d["phase"]),
        if d["outcome"].is_null() {
            "-".into()
        } else {
            s(&d["outcome"])
        }
    );
    let rows: Vec<Vec<String>> = items(d, "steps")
        .iter()
        .map(|st| {
            let output = if st["output"].is_null() {
                String::new()
            } else {
                st["output"].to_string()
            };
            let took = st["duration_ms"]
                .as_i64()
                .map(|ms| format!("{ms}ms"))
                .unwrap_or_default();
            let started = match layout {
                Layout::Narrow => when(&st["started_at"], now),
                Layout::Wide => s(&st["started_at"]),
            };
            vec![
                st["seq"].to_string(),
                s(&st["key"]),
                s(&st["status"]),
                st["attempts"].to_string(),
                started,
                took,
                s(&st["last_error"]),
                output,
            ]
        })
        .collect();
    text.push_str(&match layout {
        Layout::Narrow => narrow(
            &[
                ("#", Fit::Whole),
                ("step", Fit::Shrink(12)),
                ("status", Fit::Whole),
                ("tries", Fit::Whole),
                ("started", Fit::Whole),
                ("took", Fit::Whole),
                ("error", Fit::Shrink(8)),
                ("output (redacted)", Fit::Shrink(17)),
            ],
            rows,
        ),
        Layout::Wide => wide(
            &[
                "#",
                "step",
                "status",
                "tries",
                "started",
                "took",
                "error",
                "output (redacted)",
            ],
            rows,
        ),
    });
    text.push_str(&footer(d, layout));
    text
}

/// What the journey waits on, its alerts and its superseded steps, a line each.
fn footer(d: &Value, layout: Layout) -> String {
    let now = Utc::now();
    let mut text = String::new();
    for w in items(d, "waits") {
        let until = match layout {
            Layout::Narrow => when(&w["until"], now),
            Layout::Wide => s(&w["until"]),
        };
        let until = if until.is_empty() {
            String::new()
        } else {
            format!(", until {until}")
        };
        text.push_str(&format!("\nwaits for {}{until}", s(&w["waits_for"])));
    }
    for a in items(d, "alerts") {
        let state = if a["resolved_at"].is_null() {
            "open".into()
        } else {
            format!("resolved: {}", s(&a["resolution"]))
        };
        text.push_str(&format!(
            "\nalert {} at {} ({state})",
            s(&a["kind"]),
            s(&a["occasion"])
        ));
    }
    for st in items(d, "superseded") {
        text.push_str(&format!(
            "\nsuperseded by rewind {}: #{} {} ({})",
            st["rewind"],
            st["seq"],
            s(&st["key"]),
            s(&st["status"])
        ));
    }
    text
}

/// `ctl reveal <id> <step> --reason`: one step's output whole (PHI; the
/// read is recorded in the journey's history with the reason).
pub(super) async fn reveal(
    api: &Api,
    out: Output,
    id: &str,
    step: &str,
    reason: String,
) -> Result<()> {
    let path = format!(
        "/v1/journeys/{id}/steps/{}/output",
        step.replace('#', "%23")
    );
    let answer = api
        .call(Method::GET, &path, Some(&[("reason", reason)]), None)
        .await?;
    print(out, &answer, |v, _| {
        serde_json::to_string_pretty(&v["output"]).unwrap_or_default()
    });
    Ok(())
}
