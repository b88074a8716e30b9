//! `ctl list`, `show`, `history`, `verify`, the actions on one journey and
//! `bulk-retry`.

use anyhow::Result;
use chrono::{DateTime, Utc};
use reqwest::Method;
use serde_json::{Value, json};

use super::client::{Api, Layout, clean, items, print, s};
use super::render::{Fit, WIDTH, narrow, short_id, summary, truncate, when, wide};
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

fn journeys_table(p: &Value, layout: Layout) -> String {
    let journeys = items(p, "items");
    if journeys.is_empty() {
        return "no journeys match".to_owned();
    }
    // Why a journey is overdue, in a column of its own when any is.
    let overdue = journeys.iter().any(|j| j["overdue"].is_string());
    let table = match layout {
        Layout::Narrow => journeys_narrow(journeys, overdue),
        Layout::Wide => journeys_wide(journeys, overdue),
    };
    let more = p["next_cursor"]
        .as_str()
        .map(|c| format!("\nmore: --cursor {c}"))
        .unwrap_or_default();
    format!("{table}{more}")
}

/// Journeys a line each in 100 columns: short ids, relative wake times.
fn journeys_narrow(journeys: &[Value], overdue: bool) -> String {
    let now = Utc::now();
    let mut header = vec![
        ("id", Fit::Whole),
        ("workflow", Fit::Shrink(10)),
        ("status", Fit::Whole),
        ("phase", Fit::Shrink(10)),
        ("waits for", Fit::Shrink(10)),
        ("wake", Fit::Whole),
        ("tries", Fit::Whole),
        ("outcome", Fit::Shrink(12)),
    ];
    if overdue {
        header.push(("overdue", Fit::Shrink(12)));
    }
    let rows = journeys.iter().map(|j| {
        let mut row = vec![
            short_id(&j["id"]),
            format!("{}@v{}", s(&j["workflow"]), j["version"]),
            s(&j["status"]),
            s(&j["phase"]),
            s(&j["waiting_for"]),
            when(&j["wake_at"], now),
            j["attempts"].to_string(),
            outcome(j),
        ];
        if overdue {
            row.push(s(&j["overdue"]));
        }
        row
    });
    narrow(&header, rows.collect())
}

/// Journeys with every value whole: ids, times as sent, outcomes.
fn journeys_wide(journeys: &[Value], overdue: bool) -> String {
    let mut header = vec![
        "id",
        "workflow",
        "status",
        "phase",
        "waiting for",
        "wake at",
        "attempts",
        "created",
        "updated",
        "outcome",
    ];
    if overdue {
        header.push("overdue");
    }
    let rows = journeys.iter().map(|j| {
        let mut row = vec![
            s(&j["id"]),
            format!("{}@v{}", s(&j["workflow"]), j["version"]),
            s(&j["status"]),
            s(&j["phase"]),
            s(&j["waiting_for"]),
            s(&j["wake_at"]),
            j["attempts"].to_string(),
            s(&j["created_at"]),
            s(&j["updated_at"]),
            outcome(j),
        ];
        if overdue {
            row.push(s(&j["overdue"]));
        }
        row
    });
    wide(&header, rows.collect())
}

/// How a journey ended, or why it stopped: a failed one's error (its first
/// line), a finished one's `outcome` (what the consult workflows report)
/// or else its output in brief; nothing while it is under way.
fn outcome(j: &Value) -> String {
    let ended = &j["output"]["outcome"];
    match s(&j["status"]).as_str() {
        "failed" => {
            let error = j["last_error"].as_str().unwrap_or_default();
            format!(
                "failed: {}",
                clean(error.lines().next().unwrap_or_default())
            )
        }
        "completed" | "cancelled" if ended.is_string() => s(ended),
        "completed" | "cancelled" => summary(&j["output"]),
        _ => String::new(),
    }
}

/// `ctl show`: the journey, why it waits, and its steps.
pub(super) async fn show(api: &Api, out: Output, id: &str) -> Result<()> {
    let j = api
        .call(Method::GET, &format!("/v1/journeys/{id}"), None, None)
        .await?;
    print(out, &j, journey_text);
    Ok(())
}

fn journey_text(j: &Value, layout: Layout) -> String {
    let now = Utc::now();
    let time = |v: &Value| match layout {
        Layout::Narrow => when(v, now),
        Layout::Wide => s(v),
    };
    let fields = [
        ("journey", s(&j["id"])),
        (
            "workflow",
            format!("{}@v{}", s(&j["workflow"]), j["version"]),
        ),
        ("status", s(&j["status"])),
        ("phase", s(&j["phase"])),
        ("waits for", s(&j["waiting_for"])),
        ("wake at", time(&j["wake_at"])),
        ("attempts", j["attempts"].to_string()),
        ("created", time(&j["created_at"])),
        ("updated", time(&j["updated_at"])),
        ("error", s(&j["last_error"])),
        ("outcome", outcome(j)),
    ];
    let mut text = String::new();
    for (name, value) in fields {
        let line = format!("{name:<10}{value}");
        let line = match layout {
            Layout::Narrow => truncate(&line, WIDTH),
            Layout::Wide => line,
        };
        text.push_str(line.trim_end());
        text.push('\n');
    }
    text.push_str(&steps_table(j, layout, now));
    text
}

/// A journey's steps, in the order they ran.
fn steps_table(j: &Value, layout: Layout, now: DateTime<Utc>) -> String {
    let steps = items(j, "steps");
    if steps.is_empty() {
        return "no steps yet".to_owned();
    }
    let numbered = steps.iter().enumerate().map(|(i, st)| (i + 1, st));
    match layout {
        Layout::Narrow => {
            let rows = numbered.map(|(n, st)| {
                vec![
                    n.to_string(),
                    s(&st["key"]),
                    s(&st["kind"]),
                    s(&st["status"]),
                    st["attempts"].to_string(),
                    when(&st["due_at"], now),
                    when(&st["finished_at"], now),
                    s(&st["last_error"]),
                ]
            });
            let header = [
                ("#", Fit::Whole),
                ("step", Fit::Shrink(12)),
                ("kind", Fit::Shrink(8)),
                ("status", Fit::Whole),
                ("tries", Fit::Whole),
                ("due", Fit::Whole),
                ("finished", Fit::Whole),
                ("error", Fit::Shrink(10)),
            ];
            narrow(&header, rows.collect())
        }
        Layout::Wide => {
            let rows = numbered.map(|(n, st)| {
                vec![
                    n.to_string(),
                    s(&st["key"]),
                    s(&st["kind"]),
                    s(&st["status"]),
                    st["attempts"].to_string(),
                    s(&st["due_at"]),
                    s(&st["started_at"]),
                    s(&st["finished_at"]),
                    s(&st["last_error"]),
                ]
            });
            let header = [
                "#", "step", "kind", "status", "attempts", "due", "started", "finished", "error",
            ];
            wide(&header, rows.collect())
        }
    }
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
    print(out, &h, history_table);
    Ok(())
}

/// History events, a line each: by default when (relative), who, what, and
/// the detail in brief; wide, the time and the detail whole.
fn history_table(h: &Value, layout: Layout) -> String {
    let events = items(h, "events");
    if events.is_empty() {
        return "no history events".to_owned();
    }
    let now = Utc::now();
    match layout {
        Layout::Narrow => {
            let rows = events.iter().map(|e| {
                vec![
                    e["seq"].to_string(),
                    when(&e["at"], now),
                    s(&e["actor"]),
                    s(&e["kind"]),
                    summary(&e["detail"]),
                ]
            });
            let header = [
                ("#", Fit::Whole),
                ("when", Fit::Whole),
                ("actor", Fit::Shrink(12)),
                ("event", Fit::Shrink(14)),
                ("detail", Fit::Shrink(20)),
            ];
            narrow(&header, rows.collect())
        }
        Layout::Wide => {
            let rows = events.iter().map(|e| {
                vec![
                    e["seq"].to_string(),
                    s(&e["at"]),
                    s(&e["actor"]),
                    s(&e["kind"]),
                    e["detail"].to_string(),
                ]
            });
            wide(&["#", "at", "actor", "event", "detail"], rows.collect())
        }
    }
}

/// `ctl input`: the journey's input, as JSON whatever the output (it is
/// the workflow's own shape); the API records the read with `reason`.
pub(super) async fn input(api: &Api, out: Output, id: &str, reason: String) -> Result<()> {
    let query = [("reason", reason)];
    let path = format!("/v1/journeys/{id}/input");
    let v = api.call(Method::GET, &path, Some(&query), None).await?;
    print(out, &v, |v, _| {
        serde_json::to_string_pretty(&v["input"]).unwrap_or_else(|_| v["input"].to_string())
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
    print(out, &v, |v, _| {
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
    print(out, &j, |j, _| {
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
    print(out, &r, |r, _| {
        let n = |k: &str| r[k].as_array().map_or(0, Vec::len);
        format!("retried {}, skipped {}", n("retried"), n("skipped"))
    });
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The widest values the consult workflows write, in every column.
    fn crowded_page() -> Value {
        let journey = |status: &str| {
            json!({
                "id": "01a22ce9-b229-758f-8f99-1e8efab4b62c",
                "workflow": "async_consult",
                "version": 12,
                "status": status,
                "phase": "merging_into_open_consult",
                "waiting_for": "signal:patient_response",
                "wake_at": "2026-05-01T11:57:00Z",
                "attempts": 12,
                "last_error": "clinical: 503 Service Unavailable: upstream timed out after 30s while submitting the case\nretry later",
                "output": { "outcome": "approved", "case_id": "c-1", "orders": [1, 2, 3] },
                "overdue": "alert: decision_sla_exceeded",
                "created_at": "2026-05-01T11:00:00Z",
                "updated_at": "2026-05-01T11:00:00Z",
            })
        };
        json!({
            "items": [journey("failed"), journey("completed"), journey("waiting")],
            "next_cursor": "01a22ce9-b229-758f-8f99-1e8efab4b62c",
        })
    }

    #[test]
    fn a_crowded_listing_fits_100_columns_and_wide_keeps_everything() {
        let text = journeys_table(&crowded_page(), Layout::Narrow);
        assert!(text.lines().all(|l| l.chars().count() <= WIDTH), "{text}");
        assert!(
            text.contains("failed: cli…") && text.contains("approved"),
            "{text}"
        );
        assert!(text.contains("alert: "), "{text}");
        assert!(text.contains("more: --cursor"), "{text}");
        let text = journeys_table(&crowded_page(), Layout::Wide);
        assert!(
            text.contains("01a22ce9-b229-758f-8f99-1e8efab4b62c"),
            "{text}"
        );
        assert!(text.contains("upstream timed out after 30s while submitting the case"));
        assert!(text.contains("alert: decision_sla_exceeded"), "{text}");
    }

    #[test]
    fn outcomes_say_how_a_journey_ended() {
        let page = crowded_page();
        let [failed, completed, waiting] = [0, 1, 2].map(|i| outcome(&page["items"][i]));
        assert_eq!(
            failed,
            "failed: clinical: 503 Service Unavailable: upstream timed out after 30s while submitting the case"
        );
        assert_eq!(completed, "approved");
        assert_eq!(waiting, "");
        let noop = json!({ "status": "completed", "output": { "steps": 3 } });
        assert_eq!(outcome(&noop), "steps=3");
    }

    #[test]
    fn empty_listings_say_so() {
        let empty = json!({ "items": [], "next_cursor": null });
        assert_eq!(journeys_table(&empty, Layout::Narrow), "no journeys match");
        assert_eq!(
            history_table(&json!({ "events": [] }), Layout::Wide),
            "no history events"
        );
    }
}
