//! `ctl inbox` (stored webhooks, or with `--status rejected` the ones refused
//! at the door), `inbox-replay` and `inbox-skip`.

use anyhow::Result;
use reqwest::Method;
use serde_json::{Value, json};

use super::Output;
use super::client::{Api, print, s, table};

/// `ctl inbox --status rejected`: the webhooks refused at the door.
pub(super) async fn rejections(api: &Api, out: Output, vendor: Option<String>) -> Result<()> {
    let query: Vec<(&str, String)> = vendor.into_iter().map(|v| ("vendor", v)).collect();
    let page = api
        .call(Method::GET, "/v1/inbox/rejections", Some(&query), None)
        .await?;
    print(out, &page, |p| {
        let mut t = table(&[
            "rejection",
            "vendor",
            "answered",
            "reason",
            "bytes",
            "received",
            "replay",
        ]);
        for i in p["items"].as_array().into_iter().flatten() {
            t.add_row(vec![
                i["id"].to_string(),
                s(&i["vendor"]),
                i["status_code"].to_string(),
                s(&i["reason"]),
                i["body_bytes"].to_string(),
                s(&i["received_at"]),
                match (s(&i["replay_outcome"]), i["replayable"].as_bool()) {
                    (done, _) if !done.is_empty() => done,
                    (_, Some(true)) => "replayable".to_owned(),
                    _ => "not kept".to_owned(),
                },
            ]);
        }
        t.to_string()
    });
    Ok(())
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
    print(out, &page, |p| {
        let mut t = table(&[
            "id",
            "vendor",
            "event",
            "type",
            "status",
            "journey",
            "deliveries",
            "received",
            "note",
        ]);
        for i in p["items"].as_array().into_iter().flatten() {
            t.add_row(vec![
                i["id"].to_string(),
                s(&i["vendor"]),
                s(&i["dedup_key"]),
                s(&i["event_type"]),
                s(&i["status"]),
                s(&i["journey_id"]),
                i["deliveries"].to_string(),
                s(&i["received_at"]),
                s(&i["note"]),
            ]);
        }
        t.to_string()
    });
    Ok(())
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
    print(out, &r, |r| {
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
    print(out, &r, |r| {
        format!(
            "rejection {id} admitted: {} as {}",
            s(&r["status"]),
            s(&r["dedup_key"])
        )
    });
    Ok(())
}
