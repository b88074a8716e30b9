//! `ctl inbox` (stored webhooks, or with `--status rejected` the ones refused
//! at the door), `inbox-replay` and `inbox-skip`.

use anyhow::Result;
use chrono::Utc;
use reqwest::Method;
use serde_json::{Value, json};

use super::Output;
use super::client::{Api, Layout, items, print, s};
use super::render::{Fit, narrow, short_id, when, wide};

/// `ctl inbox --status rejected`: the webhooks refused at the door.
pub(super) async fn rejections(api: &Api, out: Output, vendor: Option<String>) -> Result<()> {
    let query: Vec<(&str, String)> = vendor.into_iter().map(|v| ("vendor", v)).collect();
    let page = api
        .call(Method::GET, "/v1/inbox/rejections", Some(&query), None)
        .await?;
    print(out, &page, rejections_table);
    Ok(())
}

/// Refused webhooks, a line each, with whether each can be replayed.
fn rejections_table(p: &Value, layout: Layout) -> String {
    let rejections = items(p, "items");
    if rejections.is_empty() {
        return "no rejected webhooks match".to_owned();
    }
    let now = Utc::now();
    let rows = rejections.iter().map(|i| {
        vec![
            i["id"].to_string(),
            s(&i["vendor"]),
            i["status_code"].to_string(),
            s(&i["reason"]),
            i["body_bytes"].to_string(),
            match layout {
                Layout::Narrow => when(&i["received_at"], now),
                Layout::Wide => s(&i["received_at"]),
            },
            match (s(&i["replay_outcome"]), i["replayable"].as_bool()) {
                (done, _) if !done.is_empty() => done,
                (_, Some(true)) => "replayable".to_owned(),
                _ => "not kept".to_owned(),
            },
        ]
    });
    let header = [
        ("rejection", Fit::Whole),
        ("vendor", Fit::Shrink(10)),
        ("answered", Fit::Whole),
        ("reason", Fit::Shrink(16)),
        ("bytes", Fit::Whole),
        ("received", Fit::Whole),
        ("replay", Fit::Shrink(12)),
    ];
    match layout {
        Layout::Narrow => narrow(&header, rows.collect()),
        Layout::Wide => wide(&header.map(|(name, _)| name), rows.collect()),
    }
}

/// `ctl inbox`: stored webhooks in `status`.
pub(super) async fn list(
    api: &Api,
    out: Output,
    status: String,
    vendor: Option<String>,
) -> Result<()> {
    let mut query = vec![("status", status)];
    if let Some(v) = vendor {
        query.push(("vendor", v));
    }
    let page = api
        .call(Method::GET, "/v1/inbox", Some(&query), None)
        .await?;
    print(out, &page, inbox_table);
    Ok(())
}

/// Stored webhooks, a line each: by default the journey's id short and the
/// time relative; wide, every value whole.
fn inbox_table(p: &Value, layout: Layout) -> String {
    let entries = items(p, "items");
    if entries.is_empty() {
        return "no webhooks match".to_owned();
    }
    let now = Utc::now();
    let rows = entries.iter().map(|i| {
        let (journey, received) = match layout {
            Layout::Narrow => (short_id(&i["journey_id"]), when(&i["received_at"], now)),
            Layout::Wide => (s(&i["journey_id"]), s(&i["received_at"])),
        };
        vec![
            i["id"].to_string(),
            s(&i["vendor"]),
            s(&i["dedup_key"]),
            s(&i["event_type"]),
            s(&i["status"]),
            journey,
            i["deliveries"].to_string(),
            received,
            s(&i["note"]),
        ]
    });
    let header = [
        ("id", Fit::Whole),
        ("vendor", Fit::Shrink(8)),
        ("event", Fit::Shrink(12)),
        ("type", Fit::Shrink(10)),
        ("status", Fit::Whole),
        ("journey", Fit::Whole),
        ("deliveries", Fit::Whole),
        ("received", Fit::Whole),
        ("note", Fit::Shrink(12)),
    ];
    match layout {
        Layout::Narrow => narrow(&header, rows.collect()),
        Layout::Wide => wide(&header.map(|(name, _)| name), rows.collect()),
    }
}

/// `inbox-replay` / `inbox-skip`: one call for all the ids, then what was
/// done and what was left as it was.
pub(super) async fn bulk(
    api: &Api,
    out: Output,
    action: &str,
    done_text: &str,
    ids: &[i64],
    reason: &str,
) -> Result<()> {
    let r = api
        .call(
            Method::POST,
            &format!("/v1/inbox/{action}"),
            None,
            Some(&json!({ "ids": ids, "reason": reason })),
        )
        .await?;
    print(out, &r, |r, _| {
        let list = |v: &Value| {
            v.as_array()
                .into_iter()
                .flatten()
                .map(Value::to_string)
                .collect::<Vec<_>>()
                .join(" ")
        };
        let mut text = format!("{done_text}: {}", list(&r["done"]));
        if r["not_done"].as_array().is_some_and(|a| !a.is_empty()) {
            text.push_str(&format!(
                "\nleft as they were (absent, or in a status this does not apply to): {}",
                list(&r["not_done"])
            ));
        }
        text
    });
    Ok(())
}

/// `inbox-replay-rejected`: one refused delivery through the door again.
pub(super) async fn replay_rejected(api: &Api, out: Output, id: i64, reason: &str) -> Result<()> {
    let r = api
        .call(
            Method::POST,
            &format!("/v1/inbox/rejections/{id}/replay"),
            None,
            Some(&json!({ "reason": reason })),
        )
        .await?;
    print(out, &r, |r, _| {
        format!(
            "rejection {id} admitted: {} as {}",
            s(&r["status"]),
            s(&r["dedup_key"])
        )
    });
    Ok(())
}
