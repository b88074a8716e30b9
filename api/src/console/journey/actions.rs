//! A journey's operator actions: each form posts here, and each becomes the
//! API's own action as the signed-in token, with the reason the form requires.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use maud::{Markup, html};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::console::extract::JourneyPath;

use super::{Journey, failed, render};
use crate::console::ConsoleState;
use crate::console::call::{Refusal, segment, with_query};
use crate::console::layout::{self, Section};
use crate::console::session::{Posted, Session};

/// The vendors an event can be injected from.
const VENDORS: [&str; 5] = ["clinical", "pharmacy", "crm", "ehr", "notify"];

/// The simple actions: (path word, button, what it does, the statuses it applies to).
type Simple = (
    &'static str,
    &'static str,
    &'static str,
    &'static [&'static str],
);

const SIMPLE: [Simple; 5] = [
    (
        "pause",
        "Pause",
        "Stops the journey where it is.",
        &["running", "waiting"],
    ),
    (
        "resume",
        "Resume",
        "Lets a paused journey go on.",
        &["paused"],
    ),
    (
        "retry",
        "Retry",
        "Retries a failed journey, or a waiting step now.",
        &["failed", "waiting"],
    ),
    (
        "fire-wait",
        "Fire the wait",
        "Ends what it waits for now, taking the wait's timeout branch.",
        &["waiting"],
    ),
    (
        "cancel",
        "Cancel",
        "Ends the journey for good.",
        &["running", "waiting", "paused", "failed"],
    ),
];

/// What the page may say was done (`?done=`): the actions, and a review.
pub const DONE: [&str; 8] = [
    "pause",
    "resume",
    "retry",
    "fire-wait",
    "cancel",
    "inject",
    "rewind",
    "review",
];

/// The action forms, under the live region (they do not refresh under the operator).
pub fn forms(j: &Journey, session: &Session) -> Markup {
    let keys: Vec<&str> = j.detail["steps"]
        .as_array()
        .map(|s| s.iter().filter_map(|s| s["key"].as_str()).collect())
        .unwrap_or_default();
    let action = |word: &str| format!("/console/journeys/{}/act/{word}", j.id);
    let status = j.view["status"].as_str().unwrap_or_default();
    let on_signal = status == "waiting"
        && j.view["waiting_for"]
            .as_str()
            .is_some_and(|w| w.starts_with("signal:"));
    html! {
        h2 { "Actions" }
        div.actions {
            @for (word, button, what, _) in SIMPLE.iter().filter(|a| a.3.contains(&status)) {
                form method="post" action=(action(word)) data-confirm=[(*word == "cancel").then_some("Cancel this journey for good?")] {
                    (layout::csrf(session))
                    p.hint { (what) }
                    (layout::reason_for(&format!("{word}-reason"), button, layout::IN_HISTORY))
                    button.danger[*word == "cancel"] type="submit" { (button) }
                }
            }
            @if on_signal { form method="post" action=(action("inject")) {
                (layout::csrf(session))
                p.hint { "Delivers a vendor event the webhook never brought (it must name this journey's case or order)." }
                label for="inject-vendor" { "Vendor" }
                select #inject-vendor name="vendor" { @for v in VENDORS { option value=(v) { (v) } } }
                label for="inject-event" { "Event (JSON, as the vendor sends it)" }
                textarea #inject-event name="event" required {}
                (layout::reason_for("inject-reason", "inject the event", layout::IN_HISTORY))
                button type="submit" { "Inject" }
            } }
            form method="post" action=(action("rewind")) data-confirm="Rewind this journey? The steps after the one chosen run again." {
                (layout::csrf(session))
                p.hint { "Runs the journey again from a step; later steps are superseded (kept, shown above)." }
                label for="rewind-step" { "Rewind to step" }
                select #rewind-step name="to_step" { @for k in &keys { option value=(k) { (k) } } }
                @if !j.irreversible.is_empty() {
                    p.warning {
                        "Irreversible at the vendor: " @for (i, s) in j.irreversible.iter().enumerate() { @if i > 0 { ", " } code { (s) } }
                        ". Rewinding past one repeats it (a second case, prescription or order) and is refused unless forced."
                    }
                }
                label { input type="checkbox" name="force" value="true"; " Force past irreversible steps" }
                (layout::reason_for("rewind-reason", "rewind", layout::IN_HISTORY))
                button type="submit" { "Rewind" }
            }
        }
    }
}

/// Every action form's fields; which apply depends on the action.
#[derive(Debug, Deserialize)]
pub struct ActForm {
    #[serde(default)]
    reason: String,
    vendor: Option<String>,
    event: Option<String>,
    to_step: Option<String>,
    force: Option<String>,
}

/// `POST /console/journeys/{id}/act/{action}`: on success, back to the page
/// (303, saying what was done); refused, the page with the API's reason.
pub async fn act(
    State(state): State<ConsoleState>,
    JourneyPath(id): JourneyPath,
    Path((_, action)): Path<(String, String)>,
    Posted(session, form): Posted<ActForm>,
) -> Response {
    let body = match request_for(&action, form) {
        Ok(body) => body,
        Err(refusal) => {
            return render(
                &state,
                &session,
                id,
                refusal.status,
                Some(layout::refusal(&refusal)),
            )
            .await;
        }
    };
    let path = format!("/v1/journeys/{id}/{action}");
    let answer = state.api.post(&session.caller, &path, &body).await;
    match answer.value() {
        Ok(_) => Redirect::to(&with_query(
            &format!("/console/journeys/{id}"),
            [("done", action.as_str())],
        ))
        .into_response(),
        Err(refusal) => {
            render(
                &state,
                &session,
                id,
                refusal.status,
                Some(layout::refusal(&refusal)),
            )
            .await
        }
    }
}

fn request_for(action: &str, form: ActForm) -> Result<Value, Refusal> {
    let reason = form.reason;
    match action {
        "pause" | "resume" | "retry" | "fire-wait" | "cancel" => Ok(json!({ "reason": reason })),
        "inject" => {
            let event: Value = serde_json::from_str(form.event.as_deref().unwrap_or_default())
                .map_err(|e| unreadable("event", &format!("is not JSON: {e}")))?;
            Ok(
                json!({ "vendor": form.vendor.unwrap_or_default(), "event": event, "reason": reason }),
            )
        }
        "rewind" => Ok(json!({
            "to_step": form.to_step.unwrap_or_default(),
            "force": form.force.as_deref() == Some("true"),
            "reason": reason,
        })),
        _ => Err(Refusal {
            status: StatusCode::NOT_FOUND,
            message: format!("no action {action:?}"),
            fields: vec![],
        }),
    }
}

fn unreadable(field: &str, why: &str) -> Refusal {
    Refusal {
        status: StatusCode::UNPROCESSABLE_ENTITY,
        message: "the form is invalid".into(),
        fields: vec![(field.into(), why.into())],
    }
}

/// The reveal form's fields.
#[derive(Debug, Deserialize)]
pub struct RevealForm {
    key: String,
    #[serde(default)]
    reason: String,
}

/// `POST /console/journeys/{id}/reveal`: one step's whole output, read
/// through the API's audited route with the form's reason. Answered as the
/// POST's own page, so the PHI is in no URL and no history entry.
pub async fn reveal(
    State(state): State<ConsoleState>,
    JourneyPath(id): JourneyPath,
    Posted(session, form): Posted<RevealForm>,
) -> Response {
    let path = with_query(
        &format!("/v1/journeys/{id}/steps/{}/output", segment(&form.key)),
        [("reason", form.reason.as_str())],
    );
    let output = match state.api.get(&session.caller, &path).await.value() {
        Ok(output) => output,
        Err(refusal) if refusal.status == StatusCode::NOT_FOUND => {
            return failed(&session, &refusal);
        }
        Err(refusal) => {
            return render(
                &state,
                &session,
                id,
                refusal.status,
                Some(layout::refusal(&refusal)),
            )
            .await;
        }
    };
    let title = format!("Step output · journey …{}", layout::short(&id.to_string()));
    let body = html! {
        p.warning { "PHI: this read is recorded in the journey's history with your reason. Nothing here is kept by the browser." }
        p { "Step " code { (form.key) } " of journey " (layout::journey_link(&id.to_string())) }
        (layout::json_block(&output["output"]))
        p { a href={ "/console/journeys/" (id) } { "Back to the journey" } }
    };
    layout::page(&title, &session, Section::Journeys, body).into_response()
}
