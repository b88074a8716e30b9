//! `GET /console`: the state of every journey at a glance. Each number links
//! to the list it counts. Counts come from the same aggregates as `/metrics`
//! (no PHI), a few seconds old at most ([`super::counts`]); vendors from the API.

use std::collections::BTreeMap;

use axum::extract::State;
use axum::response::{IntoResponse, Response};
use maud::{Markup, html};
use serde_json::Value;

use super::ConsoleState;
use super::call::with_query;
use super::counts::{Counts, FRESH};
use super::journey::failed;
use super::layout::{self, Section, status, text};
use super::session::Session;

/// The phases where a person must decide before the journey goes on.
pub const REVIEW_PHASES: [&str; 3] = [
    "patient_match_review",
    "duplicate_intake_review",
    "active_treatment_review",
];

/// `GET /console`.
pub async fn page(State(state): State<ConsoleState>, session: Session) -> Response {
    let counts = match state.counts.get(state.pool()).await {
        Ok(c) => c,
        Err(_) => return super::session::Turned::Unavailable.into_response(),
    };
    let vendors = match state.api.get(&session.caller, "/v1/vendors").await.value() {
        Ok(v) => v,
        Err(r) => return failed(&session, &r),
    };
    let body = html! {
        p.hint { "Counts taken " (layout::when(&serde_json::json!(counts.taken.to_rfc3339()))) " (read again once older than " (FRESH.as_secs()) " s)." }
        div.cards {
            (statuses(&counts))
            (attention(&counts))
            (inbox(&counts))
            (vendor_card(&vendors))
        }
        (phases(&counts))
    };
    layout::page("Overview", &session, Section::Overview, body).into_response()
}

fn list_link(pairs: &[(&str, &str)]) -> String {
    with_query("/console/journeys", pairs.iter().copied())
}

fn statuses(c: &Counts) -> Markup {
    let mut by: BTreeMap<&str, i64> = BTreeMap::new();
    for (_, s, _, n) in &c.by_status {
        *by.entry(s.as_str()).or_default() += n;
    }
    html! {
        section.card aria-labelledby="c-status" {
            h2 #c-status { "Journeys by status" }
            table { thead { tr { th scope="col" { "Status" } th.num scope="col" { "Journeys" } } } tbody {
                @for (s, n) in &by {
                    tr { td { (status(s)) } td.num { a href=(list_link(&[("status", s)])) { (n) } } }
                }
            } }
        }
    }
}

fn attention(c: &Counts) -> Markup {
    let failed: i64 = c
        .by_status
        .iter()
        .filter(|r| r.1 == "failed")
        .map(|r| r.3)
        .sum();
    let overdue: i64 = c.overdue.iter().map(|r| r.1).sum();
    let reviews: i64 = c
        .by_status
        .iter()
        .filter(|r| REVIEW_PHASES.contains(&r.2.as_str()) && r.1 == "waiting")
        .map(|r| r.3)
        .sum();
    html! {
        section.card aria-labelledby="c-attention" {
            h2 #c-attention { "Needs attention" }
            table { thead { tr { th scope="col" { "What" } th.num scope="col" { "Journeys" } } } tbody {
                tr { td { "Failed" } td.num { a href=(list_link(&[("status", "failed")])) { (failed) } } }
                tr { td { "Overdue" } td.num { a href=(list_link(&[("overdue", "true")])) { (overdue) } } }
                tr { td { "Awaiting review" } td.num { a href="/console/reviews" { (reviews) } } }
                @for (kind, n) in &c.open_alerts {
                    tr { td { "Open alert: " code { (kind) } } td.num { a href=(list_link(&[("overdue", "true")])) { (n) } } }
                }
            } }
            @for (phase, n, age) in &c.overdue {
                p.hint { (n) " overdue in " a href=(list_link(&[("overdue", "true"), ("phase", phase)])) { (phase) }
                    // An open alert makes a journey overdue before its wake time: no age then.
                    @if *age >= 1.0 { ", the oldest for " (layout::relative(chrono::Utc::now() - chrono::Duration::seconds(*age as i64), chrono::Utc::now()).trim_end_matches(" ago")) } }
            }
        }
    }
}

fn inbox(c: &Counts) -> Markup {
    html! {
        section.card aria-labelledby="c-inbox" {
            h2 #c-inbox { "Webhook inbox" }
            table { thead { tr { th scope="col" { "Status" } th.num scope="col" { "Events" } } } tbody {
                @for (s, n) in &c.inbox {
                    tr { td { (status(s)) } td.num { a href=(with_query("/console/inbox", [("status", s.as_str())])) { (n) } } }
                }
            } }
            p.hint { a href=(with_query("/console/inbox", [("status", "received")])) { "Routing lag" } ": " (format!("{:.0}", c.lag_secs)) " s (the oldest event not yet routed)" }
        }
    }
}

fn vendor_card(vendors: &Value) -> Markup {
    let list = vendors["vendors"].as_array().cloned().unwrap_or_default();
    html! {
        section.card aria-labelledby="c-vendors" {
            h2 #c-vendors { a href="/console/vendors" { "Vendors" } }
            table { thead { tr { th scope="col" { "Vendor" } th scope="col" { "State" } th.num scope="col" { "Waiting" } } } tbody {
                @for v in &list {
                    tr {
                        td { (text(&v["name"])) }
                        td { (status(v["status"].as_str().unwrap_or("unknown"))) }
                        td.num { a href=(list_link(&[("vendor", v["name"].as_str().unwrap_or_default())])) { (text(&v["waiting_journeys"])) } }
                    }
                }
            } }
        }
    }
}

fn phases(c: &Counts) -> Markup {
    html! {
        h2 { "Journeys by workflow, status and phase" }
        div.scroll { table {
            thead { tr { th scope="col" { "Workflow" } th scope="col" { "Status" } th scope="col" { "Phase" } th.num scope="col" { "Journeys" } } }
            tbody {
                @for (w, s, p, n) in &c.by_status {
                    tr {
                        td { (w) } td { (status(s)) } td { (p) }
                        td.num { a href=(list_link(&[("workflow", w), ("status", s), ("phase", p)])) { (n) } }
                    }
                }
            }
        } }
    }
}
