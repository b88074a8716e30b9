//! `GET /console/inbox`: stored webhooks by status (received, parked,
//! unmatched…) with their errors, and the door's rejections; replay or skip
//! one or many with a reason, after a preview of exactly what will be done.

use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use maud::{Markup, html};
use serde::Deserialize;
use serde_json::{Value, json};

use super::ConsoleState;
use super::call::with_query;
use super::layout::{self, Section, status, text, when};
use super::session::{Posted, Session};
use crate::views::INBOX_STATUSES;

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
    let path = if rejected {
        with_query(
            "/v1/inbox/rejections",
            [("vendor", f.vendor.as_str()), ("cursor", f.cursor.as_str())],
        )
    } else {
        with_query(
            "/v1/inbox",
            [
                ("status", status_word),
                ("vendor", f.vendor.as_str()),
                ("cursor", f.cursor.as_str()),
            ],
        )
    };
    let (code, listing) = match state.api.get(&session.caller, &path).await.value() {
        Ok(page) if rejected => (StatusCode::OK, rejections(&page)),
        Ok(page) => (StatusCode::OK, entries(&session, &page, status_word)),
        Err(r) => (r.status, layout::refusal(&r)),
    };
    let body = html! {
        nav aria-label="Inbox statuses" { p {
            @for s in INBOX_STATUSES.iter().chain(["rejected"].iter()) {
                @if *s == status_word { strong aria-current="true" { (s) } } @else { a href=(with_query("/console/inbox", [("status", *s)])) { (s) } }
                " "
            }
        } }
        (listing)
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
                    (layout::reason("inbox-reason"))
                    button type="submit" { "Preview" }
                }
            }
        }
    }
}

fn rejections(page: &Value) -> Markup {
    let items = page["items"].as_array().cloned().unwrap_or_default();
    html! {
        p.hint { "Webhooks refused at the door (bad signature, unreadable body), kept for 72 hours. Replay one once its cause is mended: " code { "carepath ctl inbox-replay-rejected <id> --reason <why>" } "." }
        @if items.is_empty() { p.muted { "No rejections." } } @else {
            div.scroll { table {
                thead { tr { th.num scope="col" { "Id" } th scope="col" { "Vendor" } th.num scope="col" { "Answered" } th scope="col" { "Why" } th.num scope="col" { "Bytes" } th scope="col" { "Received" } th scope="col" { "Replayed" } } }
                tbody { @for r in &items { tr {
                    td.num { (text(&r["id"])) } td { (text(&r["vendor"])) } td.num { (text(&r["status_code"])) }
                    td { (text(&r["reason"])) } td.num { (text(&r["body_bytes"])) } td { (when(&r["received_at"])) }
                    td { @if !r["replay_outcome"].is_null() { (text(&r["replay_outcome"])) } }
                } } }
            } }
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
    if form.action != "replay" && form.action != "skip" {
        return layout::bare_error(StatusCode::UNPROCESSABLE_ENTITY, "Choose replay or skip.");
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
            let page = html! {
                (layout::notice(&format!("{}: {} done, {} not done (no longer in a state the action applies to).",
                    form.action, done["done"].as_array().map_or(0, Vec::len), done["not_done"].as_array().map_or(0, Vec::len))))
                p { a href="/console/inbox" { "Back to the inbox" } }
            };
            layout::page("Webhook inbox", &session, Section::Inbox, page).into_response()
        }
        Err(r) => (
            r.status,
            layout::page(
                "Webhook inbox",
                &session,
                Section::Inbox,
                layout::refusal(&r),
            ),
        )
            .into_response(),
    }
}

fn preview(session: &Session, form: &ActForm) -> Response {
    if form.ids.is_empty() {
        let body = html! { p.error role="alert" { "Select at least one event." } p { a href="/console/inbox" { "Back" } } };
        return (
            StatusCode::UNPROCESSABLE_ENTITY,
            layout::page("Webhook inbox", session, Section::Inbox, body),
        )
            .into_response();
    }
    let body = html! {
        p { "You are about to " strong { (form.action) } " " (form.ids.len()) " event(s): " (form.ids.iter().map(i64::to_string).collect::<Vec<_>>().join(", ")) "." }
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
