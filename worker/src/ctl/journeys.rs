//! `ctl list`, `show`, `history`, `verify`, the actions on one journey and
//! `bulk-retry`.

use anyhow::Result;
use reqwest::Method;
use serde_json::{Value, json};

use super::client::{Api, print, s, table};
use super::statuses::wire;
use super::{ActionArgs, BulkArgs, ListArgs, Output};

/// `ctl list`: a page of journeys, and the cursor of the next one.
pub(super) async fn list(api: &Api, out: Output, l: ListArgs) -> Result<()> {
    let mut query = vec![("limit", l.limit.to_string())];
    for (k, v) in [
        ("status", l.status.map(wire)),
        ("phase", l.phase),
        ("workflow", l.workflow),
        ("vendor", l.vendor),
        ("cursor", l.cursor),
    ] {
        if let Some(v) = v {
            query.push((k, v));
        }
    }
    if l.overdue {
        query.push(("overdue", "true".into()));
    }
    let page = api
        .call(Method::GET, "/v1/journeys", Some(&query), None)
        .await?;
    print(out, &page, journeys_table);
    Ok(())
}

fn journeys_table(p: &Value) -> String {
    let items = p["items"].as_array().map(Vec::as_slice).unwrap_or_default();
    // Why a journey is overdue, in a column of its own when any is.
    let overdue = items.iter().any(|j| j["overdue"].is_string());
    let mut header = vec![
        "id",
        "workflow",
        "status",
        "phase",
        "waiting for",
        "wake at",
        "attempts",
    ];
    if overdue {
        header.push("overdue");
    }
    let mut t = table(&header);
    for j in items {
        let mut row = vec![
            s(&j["id"]),
            format!("{}@v{}", s(&j["workflow"]), j["version"]),
            s(&j["status"]),
            s(&j["phase"]),
            s(&j["waiting_for"]),
            s(&j["wake_at"]),
            j["attempts"].to_string(),
        ];
        if overdue {
            row.push(s(&j["overdue"]));
        }
        t.add_row(row);
    }
    let more = p["next_cursor"]
        .as_str()
        .map(|c| format!("\nmore: --cursor {c}"))
        .unwrap_or_default();
    format!("{t}{more}")
}

/// `ctl show`: the journey, why it waits, and its steps.
pub(super) async fn show(api: &Api, out: Output, id: &str) -> Result<()> {
    let j = api
        .call(Method::GET, &format!("/v1/journeys/{id}"), None, None)
        .await?;
    print(out, &j, journey_text);
    Ok(())
}

fn journey_text(j: &Value) -> String {
    let mut text = format!(
        "journey   {}\nworkflow  {}@v{}\nstatus    {}\nphase     {}\nwaits for {}\nwake at   {}\nattempts  {}\nerror     {}\n",
        s(&j["id"]),
        s(&j["workflow"]),
        j["version"],
        s(&j["status"]),
        s(&j["phase"]),
        s(&j["waiting_for"]),
        s(&j["wake_at"]),
        j["attempts"],
        s(&j["last_error"])
    );
    let mut t = table(&["#", "step", "kind", "status", "attempts", "due", "finished"]);
    for (i, st) in j["steps"].as_array().into_iter().flatten().enumerate() {
        t.add_row(vec![
            (i + 1).to_string(),
            s(&st["key"]),
            s(&st["kind"]),
            s(&st["status"]),
            st["attempts"].to_string(),
            s(&st["due_at"]),
            s(&st["finished_at"]),
        ]);
    }
    text.push_str(&t.to_string());
    text
}

/// `ctl history`: the journey's audit trail.
pub(super) async fn history(api: &Api, out: Output, id: &str) -> Result<()> {
    let h = api
        .call(
            Method::GET,
            &format!("/v1/journeys/{id}/history"),
            None,
            None,
        )
        .await?;
    print(out, &h, |h| {
        let mut t = table(&["#", "at", "actor", "event", "detail"]);
        for e in h["events"].as_array().into_iter().flatten() {
            t.add_row(vec![
                e["seq"].to_string(),
                s(&e["at"]),
                s(&e["actor"]),
                s(&e["kind"]),
                e["detail"].to_string(),
            ]);
        }
        t.to_string()
    });
    Ok(())
}

/// `ctl verify`: whether the journey's history chain is intact.
pub(super) async fn verify(api: &Api, out: Output, id: &str) -> Result<()> {
    let v = api
        .call(
            Method::GET,
            &format!("/v1/journeys/{id}/history/verify"),
            None,
            None,
        )
        .await?;
    print(out, &v, |v| {
        format!("chain intact: {} ({} events)", v["ok"], v["events"])
    });
    Ok(())
}

/// `ctl pause|resume|retry|cancel|wake`: the action, then where the
/// journey now is.
pub(super) async fn act(api: &Api, out: Output, action: &str, a: ActionArgs) -> Result<()> {
    let j = api
        .call(
            Method::POST,
            &format!("/v1/journeys/{}/{action}", a.id),
            None,
            Some(&json!({ "reason": a.reason })),
        )
        .await?;
    print(out, &j, |j| {
        format!(
            "{} is now {} ({})",
            s(&j["id"]),
            s(&j["status"]),
            s(&j["phase"])
        )
    });
    Ok(())
}

/// `ctl bulk-retry`: how many journeys were retried and skipped.
pub(super) async fn bulk_retry(api: &Api, out: Output, b: BulkArgs) -> Result<()> {
    let body = json!({
        "filter": { "status": wire(b.status), "phase": b.phase, "vendor": b.vendor, "error_contains": b.error_contains },
        "reason": b.reason,
    });
    let r = api
        .call(Method::POST, "/v1/ops/retry", None, Some(&body))
        .await?;
    print(out, &r, |r| {
        let n = |k: &str| r[k].as_array().map_or(0, Vec::len);
        format!("retried {}, skipped {}", n("retried"), n("skipped"))
    });
    Ok(())
}
