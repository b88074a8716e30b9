//! `ctl bulk <action>`: an action over every journey a filter selects. It
//! shows the count and a sample first (the API's dry run) and acts only when
//! given the confirmation token the dry run printed (`--confirm <token>`).

use anyhow::Result;
use chrono::Utc;
use reqwest::Method;
use serde_json::{Value, json};

use super::client::{Api, Layout, items, print, s};
use super::render::{Fit, narrow, short_id, when};
use super::{BulkActionArgs, Output};

/// Runs the dry run, or with `--confirm` the action it planned.
pub(super) async fn run(api: &Api, out: Output, action: &str, b: BulkActionArgs) -> Result<()> {
    if let Some(token) = b.confirm {
        let done = api
            .call(
                Method::POST,
                "/v1/ops/bulk/confirm",
                None,
                Some(&json!({ "confirm_token": token, "action": action })),
            )
            .await?;
        print(out, &done, outcome_text);
        return Ok(());
    }
    let filter = json!({ "status": b.filter.status.map(super::statuses::wire), "phase": b.filter.phase,
                         "workflow": b.filter.workflow, "vendor": b.filter.vendor,
                         "overdue": b.filter.overdue.then_some(true),
                         "error_contains": b.filter.error_contains });
    let mut body = json!({ "action": action, "filter": filter, "reason": b.reason });
    if let Some(step) = b.to_step {
        body["to_step"] = json!(step);
        body["force"] = json!(b.force);
    }
    let plan = api
        .call(Method::POST, "/v1/ops/bulk", None, Some(&body))
        .await?;
    print(out, &plan, plan_text);
    Ok(())
}

fn plan_text(p: &Value, _: Layout) -> String {
    let matched = p["matched"].as_i64().unwrap_or(0);
    if matched == 0 {
        return "no journeys match: nothing to do".into();
    }
    let now = Utc::now();
    let rows = items(p, "sample")
        .iter()
        .map(|j| {
            vec![
                short_id(&j["id"]),
                s(&j["status"]),
                s(&j["phase"]),
                s(&j["waiting_for"]),
                when(&j["updated_at"], now),
            ]
        })
        .collect();
    let sample = narrow(
        &[
            ("id", Fit::Whole),
            ("status", Fit::Whole),
            ("phase", Fit::Shrink(12)),
            ("waits for", Fit::Shrink(12)),
            ("updated", Fit::Whole),
        ],
        rows,
    );
    format!(
        "dry run: {} would apply to {matched} journey(s); the newest:\n{sample}\n\n\
         to do it, within 10 minutes:\n  carepath ctl bulk {} --confirm {}",
        s(&p["action"]),
        s(&p["action"]),
        s(&p["confirm_token"])
    )
}

fn outcome_text(o: &Value, _: Layout) -> String {
    let mut text = format!(
        "bulk operation {}: {} applied to {} of {} journey(s); {} skipped",
        o["operation_id"],
        s(&o["action"]),
        o["done"],
        o["matched"],
        o["skipped"]
    );
    for skipped in items(o, "skipped_sample") {
        text.push_str(&format!(
            "\n  {}: {}",
            short_id(&skipped["id"]),
            s(&skipped["why"])
        ));
    }
    text
}
