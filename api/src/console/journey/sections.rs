//! The read-only parts of a journey's page, each from what the API answered.

use maud::{Markup, html};
use serde_json::Value;

use super::Journey;
use crate::console::layout::{self, duration_ms, status, text, when};
use crate::console::session::Session;

fn items(v: &Value) -> &[Value] {
    v.as_array().map(Vec::as_slice).unwrap_or_default()
}

/// Where the journey stands.
pub fn summary(j: &Journey) -> Markup {
    let v = &j.view;
    html! {
        h2 { "Where it stands" }
        dl.facts {
            dt { "Journey" } dd.mono { (j.id) }
            dt { "Workflow" } dd { (text(&v["workflow"])) " v" (text(&v["version"])) }
            dt { "Status" } dd { (status(v["status"].as_str().unwrap_or("unknown"))) }
            dt { "Phase" } dd { (text(&v["phase"])) }
            @if !v["outcome"].is_null() { dt { "Outcome" } dd { (text(&v["outcome"])) } }
            @if !v["overdue"].is_null() { dt { "Overdue" } dd { span.badge.s-waiting { "overdue" } " " (text(&v["overdue"])) } }
            @if !v["last_error"].is_null() { dt { "Last error" } dd.mono { (text(&v["last_error"])) } }
            dt { "Attempts" } dd { (text(&v["attempts"])) }
            dt { "Started" } dd { (when(&v["created_at"])) }
            dt { "Last change" } dd { (when(&v["updated_at"])) }
            @if !v["finished_at"].is_null() { dt { "Finished" } dd { (when(&v["finished_at"])) } }
        }
    }
}

/// What it waits for, in words, and until when.
pub fn waits(j: &Journey) -> Markup {
    let waits = items(&j.detail["waits"]);
    html! {
        h2 { "What it waits for" }
        @if waits.is_empty() {
            p.muted { "Nothing: it is not waiting." }
        } @else {
            ul {
                @for w in waits {
                    li {
                        (text(&w["waits_for"]))
                        @if !w["until"].is_null() { ", until " (when(&w["until"])) }
                        " " span.muted { "(step " code { (text(&w["key"])) } ")" }
                    }
                }
            }
        }
    }
}

/// The steps in order, outputs redacted ([`reveal`] shows one whole).
pub fn steps(j: &Journey) -> Markup {
    let steps = items(&j.detail["steps"]);
    html! {
        h2 { "Steps" }
        div.scroll {
            table {
                thead { tr {
                    th.num scope="col" { "#" } th scope="col" { "Step" } th scope="col" { "Kind" }
                    th scope="col" { "Status" } th.num scope="col" { "Attempts" } th scope="col" { "Started" }
                    th.num scope="col" { "Took" } th scope="col" { "Error" } th scope="col" { "Output" }
                } }
                tbody {
                    @for s in steps {
                        tr {
                            td.num { (text(&s["seq"])) }
                            td.mono { (text(&s["key"])) }
                            td { (text(&s["kind"])) }
                            td { (status(s["status"].as_str().unwrap_or("unknown"))) }
                            td.num { (text(&s["attempts"])) }
                            td { (when(&s["started_at"])) }
                            td.num { (duration_ms(&s["duration_ms"])) }
                            td.mono { @if !s["last_error"].is_null() { (text(&s["last_error"])) } }
                            td { @if !s["output"].is_null() { (short_json(&s["output"])) } }
                        }
                    }
                }
            }
        }
        (superseded(j))
    }
}

/// The form that reveals a redacted step's whole output with a reason:
/// outside the live region, so a refresh never clears what is being typed.
pub fn reveal(j: &Journey, session: &Session) -> Markup {
    let redacted: Vec<&str> = items(&j.detail["steps"])
        .iter()
        .filter(|s| s["redacted"].as_bool() == Some(true))
        .filter_map(|s| s["key"].as_str())
        .collect();
    html! {
        @if !redacted.is_empty() {
            form.stack method="post" action={ "/console/journeys/" (j.id) "/reveal" } {
                (layout::csrf(session))
                label for="reveal-step" { "Reveal a step's whole output (PHI; the read is audited)" }
                select #reveal-step name="key" {
                    @for key in &redacted { option value=(key) { (key) } }
                }
                (layout::reason_for("reveal-reason", "reveal the output", layout::IN_HISTORY))
                button type="submit" { "Reveal" }
            }
        }
    }
}

fn superseded(j: &Journey) -> Markup {
    let gone = items(&j.detail["superseded"]);
    html! {
        @if !gone.is_empty() {
            details {
                summary { (gone.len()) " positions superseded by rewinds" }
                ul {
                    @for s in gone {
                        li { "rewind " (text(&s["rewind"])) ": " code { (text(&s["key"])) } " (" (text(&s["status"])) "), superseded " (when(&s["superseded_at"])) }
                    }
                }
            }
        }
    }
}

/// A value in one line, cut at 160 characters.
fn short_json(v: &Value) -> Markup {
    let text = v.to_string();
    let cut: String = text.chars().take(160).collect();
    html! { code { (cut) @if cut.len() < text.len() { "…" } } }
}

/// Alerts raised for the journey, open first.
pub fn alerts(j: &Journey) -> Markup {
    let alerts = items(&j.detail["alerts"]);
    html! {
        @if !alerts.is_empty() {
            h2 { "Alerts" }
            ul {
                @for a in alerts {
                    li {
                        @if a["resolved_at"].is_null() { (status("open")) } @else { (status("resolved")) }
                        " " strong { (text(&a["kind"])) } " at " code { (text(&a["occasion"])) }
                        ", raised " (when(&a["raised_at"]))
                        @if !a["resolution"].is_null() { " — " (text(&a["resolution"])) }
                    }
                }
            }
        }
    }
}

/// The history, newest last, with the hash chain's verification.
pub fn history(j: &Journey) -> Markup {
    let events = items(&j.history["events"]);
    let verified = &j.verify;
    html! {
        h2 #history { "History" }
        @if verified["retired"].as_bool() == Some(true) {
            p.notice { "History retired: its month was archived and the archive dropped; nothing left to verify." }
        } @else if verified["ok"].as_bool() == Some(true) {
            p.notice { "Hash chain verified: " (text(&verified["events"])) " events, none altered or missing." }
        } @else {
            p.error role="alert" { "Hash chain broken at event " (text(&verified["broken_at"])) ": the history was altered." }
        }
        ol.timeline {
            @for e in events {
                li {
                    (when(&e["at"])) " · " strong { (text(&e["kind"])) } " · " span.mono { (text(&e["actor"])) }
                    @if e["detail"].as_object().is_some_and(|d| !d.is_empty()) { " " (short_json(&e["detail"])) }
                }
            }
        }
    }
}
