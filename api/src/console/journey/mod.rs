//! One journey's page: where it stands and what it waits for, its steps
//! (outputs redacted, revealed with a reason), alerts, history with the
//! chain's verification, and the operator actions, each with a reason.
//! Live: the page's script follows [`events`] and refreshes the `#live` region.

mod actions;
mod live;
mod sections;

pub use actions::{act, reveal};
pub use live::events;

use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use maud::{Markup, html};
use serde::Deserialize;
use serde_json::Value;
use uuid::Uuid;

use crate::console::extract::JourneyPath;

use super::ConsoleState;
use super::call::Refusal;
use super::layout::{self, Section};
use super::session::Session;

/// What the page was asked to show beyond the journey.
#[derive(Debug, Default, Deserialize)]
pub struct Shown {
    /// The action just done (`pause`, `rewind`…), to say so.
    #[serde(default)]
    done: Option<String>,
}

/// Everything the page shows, read from the API.
pub(crate) struct Journey {
    pub id: Uuid,
    pub view: Value,
    pub detail: Value,
    pub history: Value,
    pub verify: Value,
    /// The steps a rewind past would repeat at a vendor.
    pub irreversible: Vec<String>,
}

/// Reads the journey's page data as `session`'s caller.
pub(crate) async fn load(
    state: &ConsoleState,
    session: &Session,
    id: Uuid,
) -> Result<Journey, Refusal> {
    let caller = &session.caller;
    let base = format!("/v1/journeys/{id}");
    let view = state.api.get(caller, &base).await.value()?;
    let detail = state
        .api
        .get(caller, &format!("{base}/steps"))
        .await
        .value()?;
    let history = state
        .api
        .get(caller, &format!("{base}/history"))
        .await
        .value()?;
    let verify = state
        .api
        .get(caller, &format!("{base}/history/verify"))
        .await
        .value()?;
    let irreversible = view["workflow"]
        .as_str()
        .zip(view["version"].as_i64())
        .and_then(|(w, v)| state.app.engine.registry().get(w, v as i32))
        .map(|w| {
            w.irreversible_steps()
                .iter()
                .map(|s| (*s).to_owned())
                .collect()
        })
        .unwrap_or_default();
    Ok(Journey {
        id,
        view,
        detail,
        history,
        verify,
        irreversible,
    })
}

/// `GET /console/journeys/{id}`.
pub async fn page(
    State(state): State<ConsoleState>,
    session: Session,
    JourneyPath(id): JourneyPath,
    Query(shown): Query<Shown>,
) -> Response {
    // Only the console's own words: a link cannot make the page say anything else.
    let banner = shown
        .done
        .as_deref()
        .and_then(|done| actions::DONE.iter().find(|d| **d == done))
        .map(|done| layout::notice(&format!("Done: {done}. It is in the history below.")));
    render(&state, &session, id, StatusCode::OK, banner).await
}

/// The page with `banner` above it (a notice, or a refused action), answered with `status`.
pub(crate) async fn render(
    state: &ConsoleState,
    session: &Session,
    id: Uuid,
    status: StatusCode,
    banner: Option<Markup>,
) -> Response {
    let journey = match load(state, session, id).await {
        Ok(j) => j,
        Err(r) if r.status == StatusCode::NOT_FOUND => return not_found(session),
        Err(r) => return failed(session, &r),
    };
    let title = format!("Journey …{}", layout::short(&id.to_string()));
    let last_seq = journey.history["events"]
        .as_array()
        .and_then(|e| e.last())
        .and_then(|e| e["seq"].as_i64())
        .unwrap_or(0);
    let body = html! {
        @if let Some(banner) = banner { (banner) }
        p.live #live-status aria-live="polite" { "Reload for the latest." }
        div #live data-after=(last_seq) {
            (sections::summary(&journey))
            (sections::waits(&journey))
            (sections::steps(&journey))
            (sections::alerts(&journey))
            (sections::history(&journey))
        }
        (sections::reveal(&journey, session))
        (actions::forms(&journey, session))
    };
    // A finished journey keeps no stream open (a rewind starts it again: reload).
    let finished = matches!(
        journey.view["status"].as_str(),
        Some("completed" | "cancelled")
    );
    let live = (!finished).then(|| layout::Live {
        page: format!("/console/journeys/{id}"),
        events: format!("/console/journeys/{id}/events?after={last_seq}"),
    });
    let markup = layout::page_with(&title, session, Section::Journeys, live.as_ref(), body);
    (status, markup).into_response()
}

fn not_found(session: &Session) -> Response {
    let body = html! { p { "No such journey. " a href="/console/journeys" { "Find one" } } };
    (
        StatusCode::NOT_FOUND,
        layout::page("Not found", session, Section::Journeys, body),
    )
        .into_response()
}

pub(crate) fn failed(session: &Session, r: &Refusal) -> Response {
    let body = layout::refusal(r);
    (
        r.status,
        layout::page("Refused", session, Section::Journeys, body),
    )
        .into_response()
}
