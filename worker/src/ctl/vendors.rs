//! `ctl vendors`, `vendor-pause` and `vendor-resume`.

use anyhow::Result;
use reqwest::Method;
use serde_json::{Value, json};

use super::Output;
use super::client::{Api, print, s, table};

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

fn vendors_table(v: &Value) -> String {
    let mut t = table(&[
        "vendor",
        "status",
        "until",
        "reason",
        "rate/s",
        "waiting",
        "last error",
    ]);
    for x in v["vendors"].as_array().into_iter().flatten() {
        t.add_row(vec![
            s(&x["name"]),
            s(&x["status"]),
            if x["status"] == "paused" {
                "resumed".to_owned()
            } else {
                s(&x["on_hold_until"])
            },
            s(&x["hold_reason"]),
            x["rate_per_sec"].to_string(),
            x["waiting_journeys"].to_string(),
            s(&x["last_error"]),
        ]);
    }
    t.to_string()
}
