//! `GET /console/reviews`: journeys waiting for a person — an uncertain
//! patient match, or an intake that collided with an open consult or an
//! active prescription. A match's page shows ids, scores and each field's
//! comparison level (no PHI); the people side by side only with a reason
//! (audited); decisions with a reason.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use maud::{Markup, html};
use serde::Deserialize;
use serde_json::{Value, json};
use uuid::Uuid;

use crate::console::extract::JourneyPath;

use super::ConsoleState;
use super::call::{Refusal, with_query};
use super::layout::{self, Section, text, when};
use super::overview::REVIEW_PHASES;
use super::session::{Posted, Session};

/// `GET /console/reviews`.
pub async fn list(State(state): State<ConsoleState>, session: Session) -> Response {
    let mut sections = Vec::new();
    for phase in REVIEW_PHASES {
        let path = with_query(
            "/v1/journeys",
            [("phase", phase), ("status", "waiting"), ("limit", "100")],
        );
        match state.api.get(&session.caller, &path).await.value() {
            Ok(page) => {
                sections.push((phase, page["items"].as_array().cloned().unwrap_or_default()))
            }
            Err(r) => return super::journey::failed(&session, &r),
        }
    }
    let body = html! {
        @for (phase, items) in &sections {
            h2 { (phase.replace('_', " ")) " (" (items.len()) @if items.len() >= 100 { " or more" } ")" }
            @if items.len() >= 100 {
                p { "The oldest 100 are below; " a href=(with_query("/console/journeys", [("phase", *phase), ("status", "waiting")])) { "all of them" } " are in the journeys list." }
            }
            @if items.is_empty() { p.muted { "None waiting." } } @else {
                ul { @for j in items {
                    @let id = j["id"].as_str().unwrap_or_default();
                    li { a href={ "/console/reviews/" (id) } { "Review journey …" (layout::short(id)) } " — waiting since " (when(&j["updated_at"])) }
                } }
            }
        }
    };
    layout::page("Reviews", &session, Section::Reviews, body).into_response()
}

/// `GET /console/reviews/{id}`.
pub async fn page(
    State(state): State<ConsoleState>,
    session: Session,
    JourneyPath(id): JourneyPath,
) -> Response {
    render(&state, &session, id, StatusCode::OK, None).await
}

async fn render(
    state: &ConsoleState,
    session: &Session,
    id: Uuid,
    code: StatusCode,
    extra: Option<Markup>,
) -> Response {
    let journey = match state
        .api
        .get(&session.caller, &format!("/v1/journeys/{id}"))
        .await
        .value()
    {
        Ok(j) => j,
        Err(r) => return super::journey::failed(session, &r),
    };
    let phase = journey["phase"].as_str().unwrap_or_default();
    // An intake review while one is held; else the patient match, which a
    // consult that got past intake has (decided or waiting); else the intake's.
    let intake_phases = ["duplicate_intake_review", "active_treatment_review"];
    let mut what = if intake_phases.contains(&phase) {
        "intake-review"
    } else {
        "patient-match"
    };
    let mut answer = state
        .api
        .get(&session.caller, &format!("/v1/journeys/{id}/{what}"))
        .await;
    if what == "patient-match" && answer.status == StatusCode::NOT_FOUND {
        what = "intake-review";
        answer = state
            .api
            .get(&session.caller, &format!("/v1/journeys/{id}/{what}"))
            .await;
    }
    let review = match answer.value() {
        Ok(r) => r,
        Err(r) => return super::journey::failed(session, &r),
    };
    let short = layout::short(&id.to_string()).to_owned();
    // A duplicate intake is shown beside the consult it collided with.
    let open = match review["open_journey_id"].as_str() {
        Some(open) => state
            .api
            .get(&session.caller, &format!("/v1/journeys/{open}"))
            .await
            .value()
            .ok(),
        None => None,
    };
    let body = html! {
        @if let Some(extra) = extra { (extra) }
        p { "Journey " (layout::journey_link(&id.to_string())) ", phase " code { (phase) } "." }
        @if review["awaiting_review"].as_bool() != Some(true) {
            p.notice { "This journey does not wait for a review (it was decided, or never held)." }
        }
        @if what == "patient-match" { (match_review(session, id, &review)) } @else { (intake_review(session, id, &review, &journey, open.as_ref())) }
    };
    (
        code,
        layout::page(
            &format!("Review · journey …{short}"),
            session,
            Section::Reviews,
            body,
        ),
    )
        .into_response()
}

fn match_review(session: &Session, id: Uuid, review: &Value) -> Markup {
    let candidates = review["candidates"].as_array().cloned().unwrap_or_default();
    let fields: Vec<String> = candidates
        .first()
        .and_then(|c| c["levels"].as_object())
        .map(|l| l.keys().cloned().collect())
        .unwrap_or_default();
    html! {
        p { "Matching decided " strong { (text(&review["decision"])) }
            @if !review["hold"].is_null() { " (held: " (text(&review["hold"])) ")" } "." }
        h2 { "Candidates: how each field compared" }
        div.scroll { table {
            thead { tr {
                th scope="col" { "Patient" } th.num scope="col" { "Weight (bits)" } th.num scope="col" { "Probability" }
                @for f in &fields { th scope="col" { (f) } }
            } }
            tbody { @for c in &candidates { tr {
                td.mono { (text(&c["patient_id"])) }
                td.num { (format!("{:.1}", c["score"].as_f64().unwrap_or_default())) }
                td.num { (format!("{:.3}", c["probability"].as_f64().unwrap_or_default())) }
                @for f in &fields { td { (text(&c["levels"][f])) } }
            } } }
        } }
        form.stack method="post" action={ "/console/reviews/" (id) "/people" } {
            (layout::csrf(session))
            p.hint { "The people themselves (names, birth date, contacts) are PHI: reading them is recorded with your reason." }
            (layout::reason_for("people-reason", "show the people", layout::IN_HISTORY))
            button.secondary type="submit" { "Show the people side by side" }
        }
        @if review["awaiting_review"].as_bool() == Some(true) {
            form.stack method="post" action={ "/console/reviews/" (id) "/decide" } {
                (layout::csrf(session))
                input type="hidden" name="kind" value="patient-match";
                fieldset {
                    legend { "Decision" }
                    @for c in &candidates {
                        @let pid = text(&c["patient_id"]);
                        label { input type="radio" name="choice" value={ "link:" (pid) } required; " Same person: link to patient " code { (pid) } }
                    }
                    label { input type="radio" name="choice" value="create" required; " A different person: create a new patient" }
                }
                (layout::reason("decide-reason", layout::IN_HISTORY))
                button type="submit" { "Decide" }
            }
        }
    }
}

/// This intake and the open consult it collided with, side by side (no PHI:
/// where each stands).
fn side_by_side(this: &Value, open: &Value) -> Markup {
    let rows = [
        ("Journey", "id"),
        ("Status", "status"),
        ("Phase", "phase"),
        ("Waiting for", "waiting_for"),
        ("Started", "created_at"),
        ("Last change", "updated_at"),
        ("Outcome", "outcome"),
    ];
    html! {
        div.scroll { table {
            thead { tr { th scope="col" { "" } th scope="col" { "This intake" } th scope="col" { "The open consult" } } }
            tbody { @for (label, key) in rows { tr {
                th scope="row" { (label) }
                @for j in [this, open] {
                    td { @match key {
                        "id" => (layout::journey_link(j["id"].as_str().unwrap_or_default())),
                        "created_at" | "updated_at" => (when(&j[key])),
                        _ => (text(&j[key])),
                    } }
                }
            } } }
        } }
    }
}

fn intake_review(
    session: &Session,
    id: Uuid,
    review: &Value,
    this: &Value,
    open: Option<&Value>,
) -> Markup {
    let actions: Vec<String> = review["actions"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|s| s.as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default();
    html! {
        p { "Collided with: " strong { (text(&review["kind"])) } }
        @if let Some(open) = open { (side_by_side(this, open)) }
        @if !review["prescription"].is_null() {
            dl.facts {
                dt { "Prescription" } dd.mono { (text(&review["prescription"]["prescription_id"])) }
                dt { "Medication" } dd { (text(&review["prescription"]["medication"])) }
                dt { "Active until" } dd { (when(&review["prescription"]["active_until"])) }
            }
        }
        @if review["awaiting_review"].as_bool() == Some(true) {
            form.stack method="post" action={ "/console/reviews/" (id) "/decide" } {
                (layout::csrf(session))
                input type="hidden" name="kind" value="intake-review";
                fieldset {
                    legend { "Decision" }
                    @for a in &actions { label { input type="radio" name="choice" value=(a) required; " " (a) } }
                }
                (layout::reason("decide-reason", layout::IN_HISTORY))
                button type="submit" { "Decide" }
            }
        }
    }
}

/// The people form and the decision form.
#[derive(Debug, Deserialize)]
pub struct ReviewForm {
    #[serde(default)]
    reason: String,
    /// `patient-match` or `intake-review`: which review the decision is for.
    #[serde(default)]
    kind: String,
    #[serde(default)]
    choice: String,
}

/// `POST /console/reviews/{id}/people`: the incoming person and each
/// candidate field by field, with the comparison level (audited read).
pub async fn people(
    State(state): State<ConsoleState>,
    JourneyPath(id): JourneyPath,
    Posted(session, form): Posted<ReviewForm>,
) -> Response {
    let path = with_query(
        &format!("/v1/journeys/{id}/patient-match/people"),
        [("reason", form.reason.as_str())],
    );
    let people = match state.api.get(&session.caller, &path).await.value() {
        Ok(p) => p,
        Err(r) => return refused(&state, &session, id, &r).await,
    };
    let shown = html! {
        p.warning { "PHI: this read is recorded in the journey's history with your reason." }
        div.side { @for c in people["candidates"].as_array().cloned().unwrap_or_default() {
            section {
                h2 { "Patient " span.mono { (text(&c["patient_id"])) } }
                table {
                    thead { tr { th scope="col" { "Field" } th scope="col" { "Incoming" } th scope="col" { "Candidate" } th scope="col" { "Level" } } }
                    tbody { @for f in c["fields"].as_array().cloned().unwrap_or_default() { tr {
                        th scope="row" { (text(&f["field"])) } td { (text(&f["incoming"])) } td { (text(&f["candidate"])) } td { (text(&f["level"])) }
                    } } }
                }
            }
        } }
    };
    render(&state, &session, id, StatusCode::OK, Some(shown)).await
}

/// `POST /console/reviews/{id}/decide`: the API's decision, with the reason.
pub async fn decide(
    State(state): State<ConsoleState>,
    JourneyPath(id): JourneyPath,
    Posted(session, form): Posted<ReviewForm>,
) -> Response {
    let path = format!(
        "/v1/journeys/{id}/{}",
        if form.kind == "patient-match" {
            "patient-match"
        } else {
            "intake-review"
        }
    );
    let body = match (form.kind.as_str(), form.choice.split_once(':')) {
        _ if form.choice.is_empty() => {
            let r = Refusal {
                status: StatusCode::UNPROCESSABLE_ENTITY,
                message: "choose a decision".into(),
                fields: vec![("decision".into(), "choose one".into())],
            };
            return refused(&state, &session, id, &r).await;
        }
        ("patient-match", Some(("link", patient))) => {
            json!({ "action": "link", "patient_id": patient, "reason": form.reason })
        }
        ("patient-match", _) => json!({ "action": form.choice, "reason": form.reason }),
        _ => json!({ "action": form.choice, "reason": form.reason }),
    };
    match state.api.post(&session.caller, &path, &body).await.value() {
        Ok(_) => Redirect::to(&format!("/console/journeys/{id}?done=review")).into_response(),
        Err(r) => refused(&state, &session, id, &r).await,
    }
}

async fn refused(state: &ConsoleState, session: &Session, id: Uuid, r: &Refusal) -> Response {
    render(state, session, id, r.status, Some(layout::refusal(r))).await
}
