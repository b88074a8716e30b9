//! `ctl intake-review` and `ctl match`: what a held intake or an uncertain
//! patient match looks like, or the reviewer's decision on it.

use anyhow::Result;
use reqwest::Method;
use serde_json::{Value, json};

use super::Output;
use super::client::{Api, print, s, table};

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
    print(out, &r, |r| {
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

/// `ctl match`: with `--link` or `--create`, that decision; otherwise the
/// journey's match and its candidates.
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
    print(out, &m, |m| {
        let mut t = table(&["candidate patient", "score"]);
        for c in m["candidates"].as_array().into_iter().flatten() {
            t.add_row(vec![s(&c["patient_id"]), c["score"].to_string()]);
        }
        format!(
            "decision: {}  patient: {}  awaiting review: {}\n{t}",
            s(&m["decision"]),
            s(&m["patient_id"]),
            m["awaiting_review"]
        )
    });
    Ok(())
}

/// A reviewer's decision (`match`, `intake-review`): posted, then where the
/// journey now is.
async fn decide(api: &Api, out: Output, path: &str, body: &Value) -> Result<()> {
    let j = api.call(Method::POST, path, None, Some(body)).await?;
    print(out, &j, |j| {
        format!(
            "journey {}: {} {}",
            s(&j["id"]),
            s(&j["status"]),
            s(&j["phase"])
        )
    });
    Ok(())
}
