//! The fake clinical network's routes (MDI-like, under
//! `/clinical/v1/partner/`): patients, cases, case files, messages and
//! withdrawals. Its token endpoint is served before authentication, by the
//! shared handler.

use serde_json::{Value, json};

use super::state::State;
use super::vendors::{Call, Event, merge, no_route, not_found, unprocessable};

/// US states the fake clinical network has licensed clinicians in.
const SERVED_STATES: &[&str] = &[
    "AL", "AZ", "CA", "CO", "CT", "FL", "GA", "IL", "IN", "MA", "MD", "MI", "MN", "MO", "NC", "NJ",
    "NV", "NY", "OH", "OR", "PA", "TN", "TX", "UT", "VA", "WA", "WI",
];

/// The route under `/clinical/` for the request: its status and body.
pub fn route(s: &mut State, call: &Call<'_>, body: Value, events: &mut Vec<Event>) -> (u16, Value) {
    let ["v1", "partner", path @ ..] = call.segments else {
        return no_route();
    };
    match (call.method.as_str(), path) {
        ("POST", ["patients"]) => create_patient(s, body),
        ("PATCH", ["patients", id]) => update_patient(s, id, &body),
        ("GET", ["patients"]) => (200, json!({ "items": [] })),
        ("POST", ["cases"]) => create_case(s, body, events),
        ("GET", ["cases", id]) => match s.get("case", id) {
            Some(c) => (200, c.clone()),
            None => not_found("case"),
        },
        ("POST", ["cases", id, "withdraw"]) => withdraw_case(s, id, &body),
        ("POST", ["cases", id, "files"]) => add_case_file(s, id, &body),
        ("POST", ["cases", id, "messages"]) => add_message(s, id, &body, events),
        ("GET", ["cases", id, "messages"]) => messages(s, id),
        _ => no_route(),
    }
}

fn create_patient(s: &mut State, body: Value) -> (u16, Value) {
    if let Some(problem) = invalid_patient(&body) {
        return (422, problem);
    }
    let ext = body["external_id"].as_str().map(str::to_owned);
    (201, s.create("patient", ext.as_deref(), body))
}

fn update_patient(s: &mut State, id: &str, body: &Value) -> (u16, Value) {
    if let Some(problem) = invalid_patient_update(body) {
        return (422, problem);
    }
    match s.get_mut("patient", id) {
        Some(p) => {
            merge(p, body);
            (200, p.clone())
        }
        None => not_found("patient"),
    }
}

/// A new case for a patient the network holds; a clinician will pick it up,
/// and decide as the scenario rule for the patient's email says (the
/// configured mix when none does).
fn create_case(s: &mut State, body: Value, events: &mut Vec<Event>) -> (u16, Value) {
    let Some(patient_id) = body["patient_id"].as_str() else {
        return unprocessable("patient_id", "is required");
    };
    let Some(patient) = s.get("patient", patient_id) else {
        return unprocessable("patient_id", "no such patient");
    };
    let ruled = s
        .scenarios
        .for_case(patient["email"].as_str(), body["offering_id"].as_str());
    let ext = body["external_id"].as_str().map(str::to_owned);
    let mut case = body.clone();
    // What the clinician decides is the sandbox's own to say: a request
    // cannot choose it, as no real network's would.
    if let Some(fields) = case.as_object_mut() {
        fields.remove("scenario");
    }
    if let Some(scenario) = ruled {
        case["scenario"] = json!(scenario.as_str());
    }
    case["status"] = json!("submitted");
    case["more_info_rounds"] = json!(0);
    let case = s.create_case(ext.as_deref(), case);
    if let Some(id) = case["id"].as_str() {
        events.push(Event::CaseSubmitted {
            case_id: id.to_owned(),
        });
    }
    (201, case)
}

fn withdraw_case(s: &mut State, id: &str, body: &Value) -> (u16, Value) {
    let Some(case) = s.get_mut("case", id) else {
        return not_found("case");
    };
    match case["status"].as_str() {
        // Withdrawing twice changes nothing, as a retry should.
        Some("withdrawn") => (200, case.clone()),
        Some(decided @ ("approved" | "declined")) => (
            409,
            json!({ "error": { "message": format!("the case is already {decided}") } }),
        ),
        _ => {
            case["status"] = json!("withdrawn");
            case["withdrawn_reason"] = body["reason"].clone();
            (200, case.clone())
        }
    }
}

fn add_case_file(s: &mut State, id: &str, body: &Value) -> (u16, Value) {
    if s.get("case", id).is_none() {
        return not_found("case");
    }
    let ext = body["external_id"].as_str().map(str::to_owned);
    (
        201,
        s.create(
            "case_file",
            ext.as_deref(),
            json!({ "case_id": id, "name": body["name"] }),
        ),
    )
}

/// A message on the case; the patient's, while the clinician waits for an
/// answer, is that answer.
fn add_message(s: &mut State, id: &str, body: &Value, events: &mut Vec<Event>) -> (u16, Value) {
    let Some(case) = s.get_mut("case", id) else {
        return not_found("case");
    };
    let answering = case["status"] == "more_info_requested" && body["from"] == "patient";
    if answering {
        case["status"] = json!("info_received");
    }
    let ext = body["external_id"].as_str().map(str::to_owned);
    let message = s.create(
        "message",
        ext.as_deref(),
        json!({ "case_id": id, "from": body["from"], "text": body["text"] }),
    );
    if answering {
        events.push(Event::PatientAnswered {
            case_id: id.to_owned(),
        });
    }
    (201, message)
}

fn messages(s: &State, id: &str) -> (u16, Value) {
    if s.get("case", id).is_none() {
        return not_found("case");
    }
    let mut items: Vec<Value> = s
        .resources
        .get("message")
        .map(|m| {
            m.values()
                .filter(|m| m["case_id"] == *id)
                .cloned()
                .collect()
        })
        .unwrap_or_default();
    // Oldest first; RFC 3339 times of one clock sort as text.
    items.sort_by(|a, b| a["created_at"].as_str().cmp(&b["created_at"].as_str()));
    (200, json!({ "items": items }))
}

fn invalid_patient(p: &Value) -> Option<Value> {
    for field in ["first_name", "last_name", "date_of_birth", "state"] {
        if p[field].as_str().is_none_or(str::is_empty) {
            return Some(unprocessable(field, "is required").1);
        }
    }
    invalid_patient_update(p)
}

fn invalid_patient_update(p: &Value) -> Option<Value> {
    match p["state"].as_str() {
        Some(st) if !SERVED_STATES.contains(&st) => {
            Some(unprocessable("state", "is not a US state this network serves").1)
        }
        _ => None,
    }
}
