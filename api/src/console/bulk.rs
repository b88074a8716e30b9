//! `GET /console/bulk`: build a filter, see the dry run's count and sample,
//! confirm — the API's `POST /v1/ops/bulk` and `/v1/ops/bulk/confirm`.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use maud::{Markup, html};
use serde::Deserialize;
use serde_json::{Map, Value, json};

use super::ConsoleState;
use super::layout::{self, Section, status, text};
use super::session::{Posted, Session};

const ACTIONS: [&str; 6] = ["pause", "resume", "cancel", "retry", "wake", "rewind"];

/// `GET /console/bulk`.
pub async fn form(session: Session) -> Response {
    layout::page(
        "Bulk actions",
        &session,
        Section::Bulk,
        builder(&session, &BulkForm::default()),
    )
    .into_response()
}

/// The filter and action, as the form sends them.
#[derive(Debug, Default, Deserialize)]
pub struct BulkForm {
    #[serde(default)]
    action: String,
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
    error_contains: String,
    #[serde(default)]
    to_step: String,
    #[serde(default)]
    force: String,
    #[serde(default)]
    reason: String,
}

fn builder(session: &Session, f: &BulkForm) -> Markup {
    let field = |id: &str, label: &str, value: &str| {
        html! {
            div { label for=(id) { (label) } input id=(id) type="text" name=(id.trim_start_matches("b-")) value=(value); }
        }
    };
    html! {
        form.stack method="post" action="/console/bulk/preview" {
            (layout::csrf(session))
            label for="b-action" { "Action" }
            select #b-action name="action" { @for a in ACTIONS { option value=(a) selected[f.action == a] { (a) } } }
            fieldset {
                legend { "Which journeys (every field that is filled must hold)" }
                (field("b-status", "Status", &f.status))
                (field("b-phase", "Phase", &f.phase))
                (field("b-workflow", "Workflow", &f.workflow))
                (field("b-vendor", "Waiting on vendor", &f.vendor))
                (field("b-error_contains", "Last error contains", &f.error_contains))
                label { input type="checkbox" name="overdue" value="true" checked[f.overdue == "true"]; " Overdue only" }
            }
            fieldset {
                legend { "Rewind only" }
                (field("b-to_step", "To step", &f.to_step))
                label { input type="checkbox" name="force" value="true" checked[f.force == "true"]; " Force past irreversible steps" }
            }
            (layout::reason("b-reason", layout::IN_HISTORY))
            button type="submit" { "Preview (dry run)" }
        }
    }
}

fn request(f: &BulkForm) -> Value {
    let mut filter = Map::new();
    for (k, v) in [
        ("status", &f.status),
        ("phase", &f.phase),
        ("workflow", &f.workflow),
        ("vendor", &f.vendor),
        ("error_contains", &f.error_contains),
    ] {
        if !v.trim().is_empty() {
            filter.insert(k.into(), json!(v.trim()));
        }
    }
    if f.overdue == "true" {
        filter.insert("overdue".into(), json!(true));
    }
    let mut body = json!({ "action": f.action, "filter": filter, "reason": f.reason });
    if f.action == "rewind" {
        body["to_step"] = json!(f.to_step);
        body["force"] = json!(f.force == "true");
    }
    body
}

/// `POST /console/bulk/preview`: the dry run — how many, a sample, and a
/// confirmation form carrying its token.
pub async fn preview(
    State(state): State<ConsoleState>,
    Posted(session, f): Posted<BulkForm>,
) -> Response {
    let plan = match state
        .api
        .post(&session.caller, "/v1/ops/bulk", &request(&f))
        .await
        .value()
    {
        Ok(plan) => plan,
        Err(r) => {
            let body = html! { (layout::refusal(&r)) (builder(&session, &f)) };
            return (
                r.status,
                layout::page("Bulk actions", &session, Section::Bulk, body),
            )
                .into_response();
        }
    };
    let sample = plan["sample"].as_array().cloned().unwrap_or_default();
    let body = html! {
        p { "The filter selects " strong #matched { (text(&plan["matched"])) } " journeys for " strong { (f.action) } "." }
        @if !sample.is_empty() {
            h2 { "A sample" }
            div.scroll { table {
                thead { tr { th scope="col" { "Journey" } th scope="col" { "Status" } th scope="col" { "Phase" } } }
                tbody { @for j in &sample { tr {
                    td { (layout::journey_link(j["id"].as_str().unwrap_or_default())) }
                    td { (status(j["status"].as_str().unwrap_or("unknown"))) } td { (text(&j["phase"])) }
                } } }
            } }
        }
        @if let Some(token) = plan["confirm_token"].as_str() {
            form.stack method="post" action="/console/bulk/confirm" {
                (layout::csrf(&session))
                input type="hidden" name="confirm_token" value=(token);
                input type="hidden" name="action" value=(f.action);
                p.hint { "Journeys that no longer fit the filter when you confirm are skipped and counted. The plan expires " (layout::when(&plan["expires_at"])) "." }
                button.danger type="submit" { "Confirm: " (f.action) " " (text(&plan["matched"])) " journeys" }
            }
        } @else {
            p.muted { "Nothing to do." }
        }
        h2 { "Change the filter" }
        (builder(&session, &f))
    };
    layout::page("Bulk actions: preview", &session, Section::Bulk, body).into_response()
}

/// The confirmation form.
#[derive(Debug, Deserialize)]
pub struct ConfirmForm {
    #[serde(default)]
    confirm_token: String,
    #[serde(default)]
    action: String,
}

/// `POST /console/bulk/confirm`: runs the plan; what was done and skipped.
pub async fn confirm(
    State(state): State<ConsoleState>,
    Posted(session, f): Posted<ConfirmForm>,
) -> Response {
    let body = json!({ "confirm_token": f.confirm_token, "action": f.action });
    let (code, shown) = match state
        .api
        .post(&session.caller, "/v1/ops/bulk/confirm", &body)
        .await
        .value()
    {
        Ok(out) => (
            StatusCode::OK,
            html! {
                (layout::notice(&format!("{}: {} done, {} skipped of {} selected (operation {}).",
                    f.action, text(&out["done"]), text(&out["skipped"]), text(&out["matched"]), text(&out["operation_id"]))))
                @let skipped = out["skipped_sample"].as_array().cloned().unwrap_or_default();
                @if !skipped.is_empty() {
                    h2 { "Skipped (a sample)" }
                    ul { @for s in &skipped { li { (layout::journey_link(s["id"].as_str().unwrap_or_default())) ": " (text(&s["why"])) } } }
                }
            },
        ),
        Err(r) => (r.status, layout::refusal(&r)),
    };
    (
        code,
        layout::page("Bulk actions: done", &session, Section::Bulk, shown),
    )
        .into_response()
}
