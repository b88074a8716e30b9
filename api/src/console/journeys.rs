//! `GET /console/journeys`: the list with the API's filters (none of them
//! PHI, so they may sit in the URL), paged; and `POST /console/journeys/search`,
//! a search box that takes any business identifier — in the body, since a
//! patient's email or phone is PHI. One match goes straight to its page.

use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use maud::{Markup, html};
use serde::Deserialize;
use serde_json::{Value, json};

use super::ConsoleState;
use super::call::with_query;
use super::layout::{self, Section, status, text, when};
use super::session::{Posted, Session};

/// The list's filters, as the API takes them.
#[derive(Debug, Default, Deserialize)]
pub struct Filters {
    #[serde(default)]
    status: String,
    #[serde(default)]
    phase: String,
    #[serde(default)]
    workflow: String,
    #[serde(default)]
    vendor: String,
    #[serde(default)]
    overdue: String,
    #[serde(default)]
    cursor: String,
}

impl Filters {
    fn pairs(&self) -> [(&'static str, &str); 5] {
        [
            ("status", &self.status),
            ("phase", &self.phase),
            ("workflow", &self.workflow),
            ("vendor", &self.vendor),
            ("overdue", &self.overdue),
        ]
    }
}

const STATUSES: [&str; 7] = [
    "running",
    "waiting",
    "paused",
    "completed",
    "failed",
    "cancelled",
    "pending",
];

/// `GET /console/journeys`.
pub async fn list(
    State(state): State<ConsoleState>,
    session: Session,
    Query(f): Query<Filters>,
) -> Response {
    let mut pairs: Vec<(&str, &str)> = f.pairs().to_vec();
    pairs.push(("cursor", &f.cursor));
    pairs.push(("limit", "50"));
    let answer = state
        .api
        .get(&session.caller, &with_query("/v1/journeys", pairs))
        .await;
    let (code, listing, next) = match answer.value() {
        Ok(page) => (
            StatusCode::OK,
            rows(&page["items"], None),
            next_page(&f, &page["next_cursor"]),
        ),
        Err(r) => (r.status, layout::refusal(&r), None),
    };
    let body = html! {
        (search_box(&session, ""))
        (filters(&f))
        (listing)
        @if let Some(next) = next {
            p { a rel="next" href=(next) { "Next page" } }
        }
    };
    (
        code,
        layout::page("Journeys", &session, Section::Journeys, body),
    )
        .into_response()
}

/// The next page's link, from the API's cursor.
fn next_page(f: &Filters, cursor: &Value) -> Option<String> {
    let cursor = cursor.as_str()?;
    let mut next: Vec<(&str, &str)> = f.pairs().to_vec();
    next.push(("cursor", cursor));
    Some(with_query("/console/journeys", next))
}

fn filters(f: &Filters) -> Markup {
    html! {
        form.filters method="get" action="/console/journeys" aria-label="Filters" {
            div { label for="f-status" { "Status" }
                select #f-status name="status" {
                    option value="" { "any" }
                    @for s in STATUSES { option value=(s) selected[f.status == s] { (s) } }
                } }
            div { label for="f-phase" { "Phase" } input #f-phase type="text" name="phase" value=(f.phase); }
            div { label for="f-workflow" { "Workflow" } input #f-workflow type="text" name="workflow" value=(f.workflow); }
            div { label for="f-vendor" { "Vendor" } input #f-vendor type="text" name="vendor" value=(f.vendor); }
            div { label { input type="checkbox" name="overdue" value="true" checked[f.overdue == "true"]; " Overdue only" } }
            button.secondary type="submit" { "Filter" }
        }
    }
}

/// The search box (POST: the query may be PHI).
pub fn search_box(session: &Session, query: &str) -> Markup {
    html! {
        form.filters method="post" action="/console/journeys/search" role="search" {
            (layout::csrf(session))
            div {
                label for="q" { "Find by case, order, prescription, patient id, email, phone or journey id" }
                input #q type="search" name="query" value=(query) required autocomplete="off";
            }
            button type="submit" { "Find" }
        }
    }
}

/// Journeys as rows; `matched` gives each row's `matched_by` (search only).
fn rows(items: &Value, matched: Option<&[Vec<String>]>) -> Markup {
    let items = items.as_array().map(Vec::as_slice).unwrap_or_default();
    html! {
        @if items.is_empty() {
            p.muted { "No journeys." }
        } @else {
            div.scroll { table {
                thead { tr {
                    th scope="col" { "Journey" } th scope="col" { "Workflow" } th scope="col" { "Status" }
                    th scope="col" { "Phase" } th scope="col" { "Waiting for" } th scope="col" { "Outcome" }
                    th scope="col" { "Changed" }
                    @if matched.is_some() { th scope="col" { "Matched by" } }
                } }
                tbody {
                    @for (i, j) in items.iter().enumerate() {
                        tr {
                            td { (layout::journey_link(j["id"].as_str().unwrap_or_default())) }
                            td { (text(&j["workflow"])) }
                            td { (status(j["status"].as_str().unwrap_or("unknown"))) @if !j["overdue"].is_null() { " " span.badge.s-waiting { "overdue" } } }
                            td { (text(&j["phase"])) }
                            td { @if !j["waiting_for"].is_null() { (text(&j["waiting_for"])) } }
                            td { @if !j["outcome"].is_null() { (text(&j["outcome"])) } }
                            td { (when(&j["updated_at"])) }
                            @if let Some(m) = matched { td { (m.get(i).map(|m| m.join(", ")).unwrap_or_default()) } }
                        }
                    }
                }
            } }
        }
    }
}

/// The search form's field.
#[derive(Debug, Deserialize)]
pub struct SearchForm {
    #[serde(default)]
    query: String,
}

/// `POST /console/journeys/search`: one match → its page (303); otherwise
/// the matches, on this POST's own page (the query stays out of URLs).
pub async fn search(
    State(state): State<ConsoleState>,
    Posted(session, form): Posted<SearchForm>,
) -> Response {
    let answer = state
        .api
        .post(
            &session.caller,
            "/v1/journeys/search",
            &json!({ "query": form.query, "limit": 50 }),
        )
        .await;
    let found = match answer.value() {
        Ok(found) => found,
        Err(r) => return shown(&session, &form.query, r.status, layout::refusal(&r)),
    };
    let hits = found["items"].as_array().cloned().unwrap_or_default();
    if let [one] = hits.as_slice()
        && let Some(id) = one["id"].as_str()
    {
        return Redirect::to(&format!("/console/journeys/{id}")).into_response();
    }
    // A hit is the journey's view with `matched_by` beside its fields.
    let journeys = Value::Array(hits.clone());
    let matched: Vec<Vec<String>> = hits
        .iter()
        .map(|h| {
            h["matched_by"]
                .as_array()
                .map(|m| {
                    m.iter()
                        .filter_map(|s| s.as_str().map(str::to_owned))
                        .collect()
                })
                .unwrap_or_default()
        })
        .collect();
    shown(
        &session,
        &form.query,
        StatusCode::OK,
        rows(&journeys, Some(&matched)),
    )
}

fn shown(session: &Session, query: &str, code: StatusCode, results: Markup) -> Response {
    let body = html! {
        (search_box(session, query))
        h2 { "Matches" }
        (results)
    };
    (
        code,
        layout::page("Journeys found", session, Section::Journeys, body),
    )
        .into_response()
}
