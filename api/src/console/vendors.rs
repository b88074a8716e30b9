//! `GET /console/vendors`: each vendor's hold or pause, breaker, rate,
//! journeys waiting and last error; pause and resume with a reason.

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use maud::{Markup, html};
use serde::Deserialize;
use serde_json::json;

use super::ConsoleState;
use super::call::{Refusal, segment, with_query};
use super::layout::{self, Section, status, text, when};
use super::session::{Posted, Session};

/// `GET /console/vendors`.
pub async fn list(
    State(state): State<ConsoleState>,
    session: Session,
    Query(done): Query<Done>,
) -> Response {
    // Only the console's own words: a link cannot make the page say anything else.
    let notice = match done.done.as_deref() {
        Some("pause") => Some(layout::notice("Paused. It is in the operator audit.")),
        Some("resume") => Some(layout::notice("Resumed. It is in the operator audit.")),
        _ => None,
    };
    render(&state, &session, StatusCode::OK, notice).await
}

/// The action just done, to say so.
#[derive(Debug, Default, Deserialize)]
pub struct Done {
    #[serde(default)]
    done: Option<String>,
}

async fn render(
    state: &ConsoleState,
    session: &Session,
    code: StatusCode,
    banner: Option<Markup>,
) -> Response {
    let vendors = match state.api.get(&session.caller, "/v1/vendors").await.value() {
        Ok(v) => v["vendors"].as_array().cloned().unwrap_or_default(),
        Err(r) => return super::journey::failed(session, &r),
    };
    let body = html! {
        @if let Some(banner) = banner { (banner) }
        div.scroll { table {
            thead { tr {
                th scope="col" { "Vendor" } th scope="col" { "State" } th scope="col" { "Breaker" }
                th scope="col" { "Held until" } th scope="col" { "Why" } th.num scope="col" { "Rate /s (burst)" }
                th.num scope="col" { "Journeys waiting" } th scope="col" { "Last error" }
            } }
            tbody {
                @for v in &vendors {
                    @let name = v["name"].as_str().unwrap_or_default();
                    tr {
                        th scope="row" { (name) }
                        td { (status(v["status"].as_str().unwrap_or("unknown"))) }
                        td { (text(&v["breaker"])) }
                        td { (when(&v["on_hold_until"])) }
                        td { @if !v["hold_reason"].is_null() { (text(&v["hold_reason"])) } }
                        td.num { (text(&v["rate_per_sec"])) " (" (text(&v["burst"])) ")" }
                        td.num { a href=(with_query("/console/journeys", [("vendor", name)])) { (text(&v["waiting_journeys"])) } }
                        td.mono { @if !v["last_error"].is_null() { (text(&v["last_error"])) } }
                    }
                }
            }
        } }
        h2 { "Pause or resume" }
        div.actions {
            @for v in &vendors {
                (toggle(session, v["name"].as_str().unwrap_or_default(), v["status"].as_str().unwrap_or_default()))
            }
        }
    };
    (
        code,
        layout::page("Vendors", session, Section::Vendors, body),
    )
        .into_response()
}

/// The forms that apply to a vendor in `state`: pause one that is
/// available or held by carepath itself; resume one paused or held (lifting
/// an automatic hold early).
fn toggle(session: &Session, name: &str, state: &str) -> Markup {
    let words: &[(&str, &str)] = match state {
        "available" => &[("pause", "Pause")],
        "held" => &[("resume", "Lift the hold on"), ("pause", "Pause")],
        _ => &[("resume", "Resume")],
    };
    html! {
        @for (word, button) in words {
            form method="post" action={ "/console/vendors/" (segment(name)) "/" (word) } {
                (layout::csrf(session))
                (layout::reason_for(&format!("{name}-{word}-reason"), &format!("{button} {name}"), layout::IN_AUDIT))
                button type="submit" { (button) " " (name) }
            }
        }
    }
}

/// A reason, for pause and resume.
#[derive(Debug, Deserialize)]
pub struct ReasonForm {
    #[serde(default)]
    reason: String,
}

/// `POST /console/vendors/{name}/{pause|resume}`.
pub async fn act(
    State(state): State<ConsoleState>,
    Path((name, action)): Path<(String, String)>,
    Posted(session, form): Posted<ReasonForm>,
) -> Response {
    if action != "pause" && action != "resume" {
        return crate::console::missing();
    }
    let path = format!("/v1/vendors/{}/{action}", segment(&name));
    match state
        .api
        .post(&session.caller, &path, &json!({ "reason": form.reason }))
        .await
        .value()
    {
        Ok(_) => Redirect::to(&format!("/console/vendors?done={action}")).into_response(),
        Err(r) => refused(&state, &session, &r).await,
    }
}

async fn refused(state: &ConsoleState, session: &Session, r: &Refusal) -> Response {
    render(state, session, r.status, Some(layout::refusal(r))).await
}
