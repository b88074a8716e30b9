//! `GET /console/inbox`: stored webhooks by status (received, parked,
//! unmatched…) with their errors, and the door's rejections; replay or skip
//! one or many with a reason, after a preview of exactly what will be done;
//! replay a rejection once its cause is mended.

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
use crate::views::INBOX_STATUSES;

/// The API's limit on one bulk replay or skip.
const MAX_IDS: usize = 500;

/// Which entries to list.
#[derive(Debug, Default, Deserialize)]
pub struct Filters {
    #[serde(default)]
    status: String,
    #[serde(default)]
    vendor: String,
    #[serde(default)]
    cursor: String,
}

/// `GET /console/inbox` (`status=rejected` lists the door's rejections).
pub async fn list(
    State(state): State<ConsoleState>,
    session: Session,
    Query(f): Query<Filters>,
) -> Response {
    let status_word = if f.status.is_empty() {
        "parked"
    } else {
        f.status.as_str()
    };
    let rejected = status_word == "rejected";
    let (path, pairs) = if rejected {
        (
            "/v1/inbox/rejections",
            vec![("vendor", f.vendor.as_str()), ("cursor", f.cursor.as_str())],
        )
    } else {
        (
            "/v1/inbox",
            vec![
                ("status", status_word),
                ("vendor", f.vendor.as_str()),
                ("cursor", f.cursor.as_str()),
            ],
        )
    };
    let (code, listing, next) = match state
        .api
        .get(&session.caller, &with_query(path, pairs))
        .await
        .value()
    {
        Ok(page) => {
            let next = page["next_cursor"].as_str().map(|c| {
                with_query(
                    "/console/inbox",
                    [
                        ("status", status_word),
                        ("vendor", f.vendor.as_str()),
                        ("cursor", c),
                    ],
                )
            });
            let listing = if rejected {
                rejections(&session, &page)
            } else {
                entries(&session, &page, status_word)
            };
            (StatusCode::OK, listing, next)
        }
        Err(r) => (r.status, layout::refusal(&r), None),
    };
    let body = html! {
        nav aria-label="Inbox statuses" { p {
            @for s in INBOX_STATUSES.iter().chain(["rejected"].iter()) {
                @if *s == status_word { strong aria-current="true" { (s) } } @else { a href=(with_query("/console/inbox", [("status", *s)])) { (s) } }
                " "
            }
        } }
        (listing)
        @if let Some(next) = next { p { a rel="next" href=(next) { "Next page" } } }
    };
    (
        code,
        layout::page("Webhook inbox", &session, Section::Inbox, body),
    )
        .into_response()
}

fn entries(session: &Session, page: &Value, status_word: &str) -> Markup {
    let items = page["items"].as_array().cloned().unwrap_or_default();
    html! {
        @if items.is_empty() {
            p.muted { "No " (status_word) " events." }
        } @else {
            form method="post" action="/console/inbox/act" {
                (layout::csrf(session))
                div.scroll { table {
                    thead { tr {
                        th scope="col" { "Select" } th.num scope="col" { "Id" } th scope="col" { "Vendor" } th scope="col" { "Event" }
                        th scope="col" { "Status" } th scope="col" { "Journey" } th scope="col" { "Why" } th.num scope="col" { "Deliveries" } th scope="col" { "Received" }
                    } }
                    tbody {
                        @for e in &items {
                            @let id = text(&e["id"]);
                            tr {
                                td { input type="checkbox" name="ids" value=(id) id={ "sel-" (id) } aria-label={ "Select event " (id) }; }
                                td.num { label for={ "sel-" (id) } { (id) } }
                                td { (text(&e["vendor"])) }
                                td.mono { (text(&e["event_type"])) }
                                td { (status(e["status"].as_str().unwrap_or("unknown"))) }
                                td { @if let Some(j) = e["journey_id"].as_str() { (layout::journey_link(j)) } }
                                td { @if !e["note"].is_null() { (text(&e["note"])) } }
                                td.num { (text(&e["deliveries"])) }
                                td { (when(&e["received_at"])) }
                            }
                        }
                    }
                } }
                fieldset {
                    legend { "With the selected events" }
                    label for="inbox-action" { "Action" }
                    select #inbox-action name="action" { option value="replay" { "Replay (route again)" } option value="skip" { "Skip (never route)" } }
                    (layout::reason("inbox-reason", layout::IN_AUDIT))
                    button type="submit" { "Preview" }
                }
            }
        }
    }
}

fn rejections(session: &Session, page: &Value) -> Markup {
    let items = page["items"].as_array().cloned().unwrap_or_default();
    html! {
        p.hint { "Webhooks refused at the door (bad signature, unreadable body), kept for 72 hours. Replay one once its cause is mended (a secret set, say): it goes through the door's checks again." }
        @if items.is_empty() { p.muted { "No rejections." } } @else {
            div.scroll { table {
                thead { tr { th.num scope="col" { "Id" } th scope="col" { "Vendor" } th.num scope="col" { "Answered" } th scope="col" { "Why" } th.num scope="col" { "Bytes" } th scope="col" { "Received" } th scope="col" { "Replayed" } } }
                tbody { @for r in &items { tr {
                    td.num { (text(&r["id"])) } td { (text(&r["vendor"])) } td.num { (text(&r["status_code"])) }
                    td { (text(&r["reason"])) } td.num { (text(&r["body_bytes"])) } td { (when(&r["received_at"])) }
                    td { @if !r["replay_outcome"].is_null() { (text(&r["replay_outcome"])) } }
                } } }
            } }
            @let replayable: Vec<String> = items.iter().filter(|r| r["replayable"].as_bool() == Some(true) && r["replayed_at"].is_null()).map(|r| text(&r["id"])).collect();
            @if !replayable.is_empty() {
                form.stack method="post" action="/console/inbox/rejections/replay" {
                    (layout::csrf(session))
                    label for="rejection-id" { "Replay rejection" }
                    select #rejection-id name="id" { @for id in &replayable { option value=(id) { (id) } } }
                    (layout::reason("rejection-reason", layout::IN_AUDIT))
                    button type="submit" { "Replay" }
                }
            }
        }
    }
}

/// The selection form, previewed and then confirmed.
#[derive(Debug, Deserialize)]
pub struct ActForm {
    #[serde(default)]
    ids: Vec<i64>,
    #[serde(default)]
    action: String,
    #[serde(default)]
    reason: String,
    /// Present on the preview's confirmation.
    #[serde(default)]
    confirm: String,
}

/// `POST /console/inbox/act`: first a preview of what will be done; with
/// `confirm`, the API's bulk replay or skip of exactly those ids.
pub async fn act(
    State(state): State<ConsoleState>,
    Posted(session, form): Posted<ActForm>,
) -> Response {
    if let Some(problem) = invalid(&form) {
        let body = html! { p.error role="alert" { (problem) } p { a href="/console/inbox" { "Back to the inbox" } } };
        return (
            StatusCode::UNPROCESSABLE_ENTITY,
            layout::page("Webhook inbox", &session, Section::Inbox, body),
        )
            .into_response();
    }
    if form.confirm != "yes" {
        return preview(&session, &form);
    }
    let body = json!({ "ids": form.ids, "reason": form.reason });
    match state
        .api
        .post(
            &session.caller,
            &format!("/v1/inbox/{}", form.action),
            &body,
        )
        .await
        .value()
    {
        Ok(done) => {
            let count = |k: &str| done[k].as_array().map_or(0, Vec::len);
            let said = format!(
                "{}: {} done, {} not done (no longer in a state the action applies to).",
                form.action,
                count("done"),
                count("not_done")
            );
            let page = html! { (layout::notice(&said)) p { a href="/console/inbox" { "Back to the inbox" } } };
            layout::page("Webhook inbox", &session, Section::Inbox, page).into_response()
        }
        Err(r) => refused(&session, &r),
    }
}

/// What is wrong with a selection before anything is previewed.
fn invalid(form: &ActForm) -> Option<String> {
    if form.action != "replay" && form.action != "skip" {
        Some("Choose replay or skip.".into())
    } else if form.ids.is_empty() {
        Some("Select at least one event.".into())
    } else if form.ids.len() > MAX_IDS {
        Some(format!("Select at most {MAX_IDS} events at a time."))
    } else if form.reason.trim().is_empty() {
        Some("Give a reason: it is kept in the operator audit.".into())
    } else {
        None
    }
}

fn preview(session: &Session, form: &ActForm) -> Response {
    let ids: Vec<String> = form.ids.iter().map(i64::to_string).collect();
    let body = html! {
        p { "You are about to " strong { (form.action) } " " (form.ids.len()) " event(s): " (ids.join(", ")) "." }
        p { "Reason: " (form.reason) }
        form method="post" action="/console/inbox/act" {
            (layout::csrf(session))
            @for id in &form.ids { input type="hidden" name="ids" value=(id); }
            input type="hidden" name="action" value=(form.action);
            input type="hidden" name="reason" value=(form.reason);
            input type="hidden" name="confirm" value="yes";
            button type="submit" { "Confirm " (form.action) }
            " " a href="/console/inbox" { "Cancel" }
        }
    };
    layout::page("Confirm", session, Section::Inbox, body).into_response()
}

/// The rejection replay form.
#[derive(Debug, Deserialize)]
pub struct RejectionForm {
    #[serde(default)]
    id: i64,
    #[serde(default)]
    reason: String,
}

/// `POST /console/inbox/rejections/replay`: the API's replay of one rejection.
pub async fn replay_rejection(
    State(state): State<ConsoleState>,
    Posted(session, form): Posted<RejectionForm>,
) -> Response {
    let path = format!("/v1/inbox/rejections/{}/replay", form.id);
    match state
        .api
        .post(&session.caller, &path, &json!({ "reason": form.reason }))
        .await
        .value()
    {
        Ok(_) => Redirect::to("/console/inbox?status=rejected").into_response(),
        Err(r) => refused(&session, &r),
    }
}

/// The API's refusal, on an inbox page.
fn refused(session: &Session, r: &super::call::Refusal) -> Response {
    let page = layout::page("Webhook inbox", session, Section::Inbox, layout::refusal(r));
    (r.status, page).into_response()
}
