//! `ctl vendors`, `vendor-pause` and `vendor-resume`.

use anyhow::Result;
use chrono::Utc;
use reqwest::Method;
use serde_json::{Value, json};

use super::Output;
use super::client::{Api, Layout, items, print, s};
use super::render::{Fit, narrow, when, wide};

/// `ctl vendors`: each vendor's hold, rate, waiting journeys and last error.
pub(super) async fn list(api: &Api, out: Output) -> Result<()> {
    let v = api.call(Method::GET, "/v1/vendors", None, None).await?;
    print(out, &v, vendors_table);
    Ok(())
}

/// `ctl vendor-pause|vendor-resume`: the action, then the vendors as they
/// now are.
pub(super) async fn act(
    api: &Api,
    out: Output,
    action: &str,
    name: &str,
    reason: &str,
) -> Result<()> {
    let v = api
        .call(
            Method::POST,
            &format!("/v1/vendors/{name}/{action}"),
            None,
            Some(&json!({ "reason": reason })),
        )
        .await?;
    print(out, &v, vendors_table);
    Ok(())
}

/// Each vendor on a line: by default its hold's end relative to now and its
/// reason and last error cut to fit; wide, every value whole.
fn vendors_table(v: &Value, layout: Layout) -> String {
    let vendors = items(v, "vendors");
    if vendors.is_empty() {
        return "no vendors".to_owned();
    }
    let now = Utc::now();
    let rows = vendors.iter().map(|x| {
        let until = match (x["status"].as_str(), layout) {
            // An operator's hold has no end: it lasts until resumed.
            (Some("paused"), _) => "resumed".to_owned(),
            (_, Layout::Narrow) => when(&x["on_hold_until"], now),
            (_, Layout::Wide) => s(&x["on_hold_until"]),
        };
        vec![
            s(&x["name"]),
            s(&x["status"]),
            until,
            s(&x["hold_reason"]),
            x["rate_per_sec"].to_string(),
            x["waiting_journeys"].to_string(),
            s(&x["last_error"]),
        ]
    });
    match layout {
        Layout::Narrow => narrow(
            &[
                ("vendor", Fit::Shrink(10)),
                ("status", Fit::Whole),
                ("until", Fit::Whole),
                ("reason", Fit::Shrink(12)),
                ("rate/s", Fit::Whole),
                ("waiting", Fit::Whole),
                ("last error", Fit::Shrink(16)),
            ],
            rows.collect(),
        ),
        Layout::Wide => wide(
            &[
                "vendor",
                "status",
                "until",
                "reason",
                "rate/s",
                "waiting",
                "last error",
            ],
            rows.collect(),
        ),
    }
}
