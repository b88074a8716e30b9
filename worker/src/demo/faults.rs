//! The trouble the demo makes while journeys run, on a schedule: each a
//! failure carepath exists to survive.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::json;

use super::Stack;

/// What was injected so far, for the summary.
pub type Injected = Arc<Mutex<Vec<String>>>;

pub fn schedule(stack: Arc<Stack>) -> (tokio::task::JoinHandle<()>, Injected) {
    let injected: Injected = Arc::new(Mutex::new(vec![
        "webhooks: 30% delivered twice, every one up to 0.4 s late (so some arrive out of order)"
            .to_owned(),
    ]));
    let log = injected.clone();
    let note = move |what: &str| {
        log.lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(what.to_owned());
    };
    let handle = tokio::spawn(async move {
        let at = |secs: u64| tokio::time::sleep(Duration::from_secs(secs));
        at(3).await;
        stack
            .set_fault(json!({ "vendor": "clinical", "outage_secs": 4.0 }))
            .await;
        note("clinical network outage: every request a 503 for 4 s");
        at(5).await;
        stack
            .set_fault(json!({ "vendor": "pharmacy", "storm_secs": 3.0 }))
            .await;
        note("pharmacy 429 storm for 3 s, with Retry-After");
        at(3).await;
        stack
            .set_fault(json!({ "vendor": "clinical", "token_504_secs": 6.0 }))
            .await;
        note("clinical token endpoint answering 504 for 6 s (tokens live 8 s)");
        at(3).await;
        if stack.kill_and_replace_a_worker().is_ok() {
            note("a worker process killed with SIGKILL mid-run, and a new one started");
        }
        at(3).await;
        stack
            .set_fault(json!({ "vendor": "pharmacy", "lost_response_rate": 0.3,
                               "drop_webhook_types": ["order.shipped"] }))
            .await;
        note(
            "pharmacy losing 30% of its answers after acting on them, and every `shipped` \
              webhook (for the rest of the run: its event feed tells)",
        );
        at(2).await;
        stack
            .set_fault(json!({ "vendor": "clinical", "drop_webhooks_secs": 6.0 }))
            .await;
        note("clinical network losing every webhook for 6 s (carepath asks after 3 s of silence)");
    });
    (handle, injected)
}
