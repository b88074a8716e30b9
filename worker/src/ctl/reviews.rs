//! `ctl intake-review` and `ctl match`: what a held intake or an uncertain
//! patient match looks like, or the reviewer's decision on it.

use anyhow::Result;
use comfy_table::ColumnConstraint;
use reqwest::Method;
use serde_json::{Value, json};

use super::Output;
use super::client::{Api, decimal, fitted, items, print, s};

/// `ctl intake-review`: with one of `chosen` (an action and whether it was
/// asked for) set, that decision; with none, what the intake collided with.
pub(super) async fn intake_review(
    api: &Api,
    out: Output,
    id: &str,
    chosen: &[(&str, bool)],
    reason: Option<String>,
) -> Result<()> {
    let path = format!("/v1/journeys/{id}/intake-review");
    let action = chosen
        .iter()
        .find_map(|(name, chosen)| chosen.then_some(*name));
    if let Some(action) = action {
        let body = json!({ "action": action, "reason": reason });
        return decide(api, out, &path, &body).await;
    }
    let r = api.call(Method::GET, &path, None, None).await?;
    print(out, &r, |r, _| {
        let rx = &r["prescription"];
        format!(
            "kind: {}  awaiting review: {}  actions: {}\nopen consult: {}\nactive prescription: {} ({}), written {}, active until {}",
            s(&r["kind"]),
            r["awaiting_review"],
            r["actions"]
                .as_array()
                .into_iter()
                .flatten()
                .map(s)
                .collect::<Vec<_>>()
                .join(", "),
            s(&r["open_journey_id"]),
            s(&rx["prescription_id"]),
            s(&rx["medication"]),
            s(&rx["written_at"]),
            s(&rx["active_until"]),
        )
    });
    Ok(())
}

/// The fields matching compares, in the order the API lists them.
const MATCH_FIELDS: [&str; 6] = [
    "given_name",
    "family_name",
    "date_of_birth",
    "address",
    "phone",
    "email",
];

/// `ctl match`: with `--link` or `--create`, that decision; otherwise the
/// journey's match and its candidates (scores, probabilities, and how each
/// field compared).
pub(super) async fn patient_match(
    api: &Api,
    out: Output,
    id: &str,
    link: Option<String>,
    create: bool,
    reason: Option<String>,
) -> Result<()> {
    let path = format!("/v1/journeys/{id}/patient-match");
    let decision = match (link, create) {
        (Some(patient), _) => {
            Some(json!({ "action": "link", "patient_id": patient, "reason": reason }))
        }
        (None, true) => Some(json!({ "action": "create", "reason": reason })),
        (None, false) => None,
    };
    if let Some(body) = decision {
        return decide(api, out, &path, &body).await;
    }
    let m = api.call(Method::GET, &path, None, None).await?;
    print(out, &m, |m, _| {
        let hold = match s(&m["hold"]) {
            h if h.is_empty() => String::new(),
            h => format!("  hold: {h}"),
        };
        format!(
            "decision: {}  patient: {}  awaiting review: {}{hold}\n{}",
            s(&m["decision"]),
            s(&m["patient_id"]),
            m["awaiting_review"],
            candidates_table(m)
        )
    });
    Ok(())
}

/// A match's candidates, a row each: id, score, probability, then each
/// field's comparison level; or that there are none.
fn candidates_table(m: &Value) -> String {
    if items(m, "candidates").is_empty() {
        return "no candidates".to_owned();
    }
    let mut header = vec!["candidate patient", "score", "probability"];
    header.extend(MATCH_FIELDS);
    let mut t = fitted(&header);
    if let Some(id) = t.column_mut(0) {
        // An id is copied whole, never wrapped.
        id.set_constraint(ColumnConstraint::ContentWidth);
    }
    for c in m["candidates"].as_array().into_iter().flatten() {
        let mut row = vec![s(&c["patient_id"]), c["score"].to_string()];
        row.push(decimal(&c["probability"], 4));
        row.extend(MATCH_FIELDS.map(|f| s(&c["levels"][f])));
        t.add_row(row);
    }
    t.to_string()
}

/// `ctl match --people`: the incoming person and each candidate side by
/// side, a row per compared field, each candidate's value over its level
/// (PHI: the API records the read with `reason`).
pub(super) async fn match_people(api: &Api, out: Output, id: &str, reason: String) -> Result<()> {
    let path = format!("/v1/journeys/{id}/patient-match/people");
    let query = [("reason", reason)];
    let p = api.call(Method::GET, &path, Some(&query), None).await?;
    print(out, &p, |p, _| people_table(p));
    Ok(())
}

/// The incoming person's value of a compared field (the address on one line).
fn incoming_value(who: &Value, field: &str) -> String {
    let a = &who["address"];
    let parts = match field {
        "given_name" => vec![s(&who["first_name"])],
        "family_name" => vec![s(&who["last_name"])],
        "address" => vec![
            s(&a["line1"]),
            s(&a["line2"]),
            s(&a["city"]),
            format!("{} {}", s(&a["state"]), s(&a["postal_code"])),
        ],
        other => vec![s(&who[other])],
    };
    let parts: Vec<&str> = parts
        .iter()
        .map(|p| p.trim())
        .filter(|p| !p.is_empty())
        .collect();
    parts.join(", ")
}

/// The side-by-side table, then which patient each candidate column is.
fn people_table(p: &Value) -> String {
    let candidates: Vec<&Value> = items(p, "candidates").iter().collect();
    if candidates.is_empty() {
        return format!("awaiting review: {}\nno candidates", p["awaiting_review"]);
    }
    let names: Vec<String> = (1..=candidates.len())
        .map(|n| format!("candidate {n}"))
        .collect();
    let mut header = vec!["field", "incoming"];
    header.extend(names.iter().map(String::as_str));
    let mut t = fitted(&header);
    for field in MATCH_FIELDS {
        let mut row = vec![field.to_owned(), incoming_value(&p["incoming"], field)];
        row.extend(candidates.iter().map(|c| {
            let pair = c["fields"]
                .as_array()
                .into_iter()
                .flatten()
                .find(|pair| pair["field"] == field)
                .unwrap_or(&Value::Null);
            format!("{}\n({})", s(&pair["candidate"]), s(&pair["level"]))
        }));
        t.add_row(row);
    }
    let legend: Vec<String> = candidates
        .iter()
        .zip(&names)
        .map(|(c, name)| {
            format!(
                "{name}: patient {}  score {}  probability {}",
                s(&c["patient_id"]),
                c["score"],
                decimal(&c["probability"], 4)
            )
        })
        .collect();
    format!(
        "awaiting review: {}  sex (incoming): {}\n{t}\n{}",
        p["awaiting_review"],
        s(&p["incoming"]["sex"]),
        legend.join("\n")
    )
}

/// A reviewer's decision (`match`, `intake-review`): posted, then where the
/// journey now is.
async fn decide(api: &Api, out: Output, path: &str, body: &Value) -> Result<()> {
    let j = api.call(Method::POST, path, None, Some(body)).await?;
    print(out, &j, |j, _| {
        format!(
            "journey {}: {} {}",
            s(&j["id"]),
            s(&j["status"]),
            s(&j["phase"])
        )
    });
    Ok(())
}
