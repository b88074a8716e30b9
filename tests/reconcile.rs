//! A lost webhook never strands a journey: with the vendors' webhooks
//! dropped (as a vendor gives up on a receiver that did not answer), every
//! journey learns what happened by asking — the clinical network by lookup,
//! the pharmacy through its pull feed — ends as its scenario implies, and a
//! webhook that arrives late afterwards changes nothing. Alerts raised while
//! the vendor was silent are resolved once the journey gets past their cause.

mod support;

use std::collections::BTreeMap;
use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{Value, json};
use support::consult_stack::*;
use support::*;
use uuid::Uuid;

/// Timings for a silent vendor: asked after 1 s, then 2 s, capped at 3 s;
/// the clinician's SLA (1 s) passes well before the clinician acts (3 s).
fn silent_vendor_options() -> Options {
    let mut options = Options::default();
    options.sandbox.clinician.decide_ms = 3000;
    options.consult.decision_sla = Duration::from_secs(1);
    options.consult.case_check = Duration::from_secs(1);
    options.consult.fulfilment_check = Duration::from_secs(1);
    options.consult.check_backoff = 2.0;
    options.consult.check_max = Duration::from_secs(3);
    options.consult.more_info_reminder = Duration::from_secs(4);
    options.consult.more_info_cancel = Duration::from_secs(8);
    options
}

/// The journey's steps by key, with their recorded outputs.
async fn outputs(stack: &Stack, id: Uuid) -> BTreeMap<String, Value> {
    let rows: Vec<(String, Option<Value>)> = sqlx::query_as(
        "SELECT key, output FROM carepath.journey_steps WHERE journey_id = $1 AND kind = 'step'",
    )
    .bind(id)
    .fetch_all(&stack.db.pool)
    .await
    .expect("steps");
    rows.into_iter()
        .map(|(k, v)| (k, v.unwrap_or(Value::Null)))
        .collect()
}

/// Every journey's steps and outputs, to compare before and after.
async fn snapshot(stack: &Stack, ids: &[Uuid]) -> Vec<BTreeMap<String, Value>> {
    let mut all = Vec::new();
    for id in ids {
        all.push(outputs(stack, *id).await);
    }
    all
}

async fn overdue(stack: &Stack) -> Vec<Value> {
    let (status, body) = stack
        .get(&stack.ops, "/v1/journeys?overdue=true&limit=200")
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body["items"].as_array().cloned().unwrap_or_default()
}

async fn open_alerts(stack: &Stack) -> Vec<(Uuid, String)> {
    sqlx::query_as("SELECT journey_id, kind FROM carepath.alerts WHERE resolved_at IS NULL")
        .fetch_all(&stack.db.pool)
        .await
        .expect("alerts")
}

/// Waits until `/metrics` shows `carepath_alerts_open{kind="..."}` as
/// `expected`.
async fn open_alerts_metric_becomes(stack: &Stack, kind: &str, expected: f64) {
    let prefix = format!("carepath_alerts_open{{kind=\"{kind}\"}} ");
    stack.metric_becomes(&prefix, |v| v == expected).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn journeys_in_every_scenario_end_as_implied_while_the_clinical_networks_webhooks_are_lost() {
    let stack = Stack::start(silent_vendor_options()).await;
    // The network gives up on every webhook for 25 s, around every
    // clinician's action here (the last comes about 15 s in): each reaches
    // carepath only by asking.
    stack
        .sandbox
        .fault(json!({ "vendor": "clinical", "drop_webhooks_secs": 25.0 }))
        .await;
    let scenarios = [
        ("approve", "approved"),
        ("decline", "declined"),
        ("more_info", "approved"),
        ("more_info_2", "approved"),
        ("silent", "cancelled_no_response"),
        ("cancel", "cancelled_by_network"),
    ];
    let mut ids = Vec::new();
    for (i, (scenario, _)) in scenarios.iter().enumerate() {
        let asks = if *scenario == "silent" {
            "more_info"
        } else {
            scenario
        };
        let id = stack
            .start_consult(&format!("lost-{scenario}"), patient(400 + i), asks, 0)
            .await;
        ids.push(id);
    }
    stack.answer_patients(vec![ids[4]]);
    stack.wait_completed(&ids, Duration::from_secs(90)).await;

    for ((scenario, outcome), id) in scenarios.iter().zip(&ids) {
        let out = stack.output(*id).await;
        assert_eq!(out["outcome"], *outcome, "{scenario}: {out}");
        // The decision came from a lookup: no clinical webhook got through.
        let steps = outputs(&stack, *id).await;
        assert!(
            steps.keys().any(|k| k.starts_with("check_case")),
            "{scenario} never looked its case up: {:?}",
            steps.keys()
        );
    }
    let clinical_webhooks: i64 =
        sqlx::query_scalar("SELECT count(*) FROM carepath.webhook_inbox WHERE vendor = 'clinical'")
            .fetch_one(&stack.db.pool)
            .await
            .expect("inbox");
    assert_eq!(
        clinical_webhooks, 0,
        "the window was meant to lose them all"
    );
    let counters = stack.sandbox.counters().await;
    assert!(
        counters["webhooks_dropped"].as_u64() >= Some(6),
        "{counters}"
    );

    every_question_reached_its_patient(&stack).await;

    sla_alerts_were_resolved_by_the_clinicians_action(&stack).await;

    print_how_long_each_took_to_learn(&stack, &scenarios, &ids).await;

    late_clinical_webhooks_change_nothing(&stack, &ids).await;
    stack.stop().await;
}

/// The lost webhooks arrive after all: nothing changes, no patient is
/// written to again, no vendor sees a duplicate.
async fn late_clinical_webhooks_change_nothing(stack: &Stack, ids: &[Uuid]) {
    let before = snapshot(stack, ids).await;
    let notifications = stack.sandbox.resources("notification").await.len();
    let n = stack.sandbox.redeliver().await as i64;
    assert!(n >= 6, "{n} redelivered");
    wait_for(
        "the late webhooks to be stored and routed",
        Duration::from_secs(30),
        || async {
            let (stored, waiting): (i64, i64) = sqlx::query_as(
                "SELECT count(*), count(*) FILTER (WHERE status = 'received')
                   FROM carepath.webhook_inbox WHERE vendor = 'clinical'",
            )
            .fetch_one(&stack.db.pool)
            .await
            .expect("inbox");
            (stored >= n && waiting == 0).then_some(())
        },
    )
    .await;
    assert_eq!(
        snapshot(stack, ids).await,
        before,
        "a late webhook changed a journey"
    );
    for id in ids {
        assert_eq!(status_of(&stack.db.pool, *id).await, "completed");
    }
    assert_eq!(
        stack.sandbox.resources("notification").await.len(),
        notifications,
        "a late webhook made carepath write to a patient again"
    );
    let counters = stack.sandbox.counters().await;
    assert_eq!(counters["duplicate_side_effects"], json!({}), "{counters}");
    assert_eq!(
        counters["cross_journey_duplicates"],
        no_cross_journey_duplicates()
    );
    assert_eq!(overdue(stack).await, Vec::<Value>::new());
}

/// Prints, for the record, how long each journey took to learn the
/// clinician's last action that its lost webhook would have told it
/// (asserting on it would make this a timing test).
async fn print_how_long_each_took_to_learn(
    stack: &Stack,
    scenarios: &[(&str, &str)],
    ids: &[Uuid],
) {
    let cases = stack.sandbox.resources("case").await;
    for ((scenario, _), id) in scenarios.iter().zip(ids) {
        let Some(case) = cases.iter().find(|c| c["external_id"] == id.to_string()) else {
            continue;
        };
        let (Some(status), Some(acted)) =
            (case["status"].as_str(), case["status_changed_at"].as_str())
        else {
            continue;
        };
        let learnt: Option<f64> = sqlx::query_scalar(
            "SELECT extract(epoch FROM min(finished_at) - $3::timestamptz)::float8
               FROM carepath.journey_steps
              WHERE journey_id = $1 AND key LIKE 'check_case%' AND output->>'status' = $2",
        )
        .bind(id)
        .bind(status)
        .bind(acted)
        .fetch_one(&stack.db.pool)
        .await
        .expect("lag");
        eprintln!("{scenario}: the case became {status}; the journey learnt it {learnt:?} s later");
    }
}

/// The SLA passed while the network was silent: each alert it raised was
/// resolved when the clinician's action was learnt; nothing is overdue.
async fn sla_alerts_were_resolved_by_the_clinicians_action(stack: &Stack) {
    let raised: i64 = count(
        &stack.db.pool,
        "SELECT count(*) FROM carepath.alerts WHERE kind = 'decision_sla_exceeded'",
    )
    .await;
    assert!(raised >= 1, "the SLA was meant to pass during the silence");
    assert_eq!(open_alerts(stack).await, vec![]);
    assert_eq!(overdue(stack).await, Vec::<Value>::new());
    open_alerts_metric_becomes(stack, "decision_sla_exceeded", 0.0).await;
    let resolved: Vec<String> = sqlx::query_scalar(
        "SELECT resolution FROM carepath.alerts WHERE kind = 'decision_sla_exceeded'",
    )
    .fetch_all(&stack.db.pool)
    .await
    .expect("resolutions");
    assert!(
        resolved
            .iter()
            .all(|r| r.contains("clinician") || r.contains("network cancelled")),
        "resolved by the clinician's action, not by the journey's end: {resolved:?}"
    );
}

/// The clinician's question reached the patient in every round, fetched
/// from the case's messages since its webhook was lost.
async fn every_question_reached_its_patient(stack: &Stack) {
    let questions: Vec<String> = stack
        .sandbox
        .resources("message")
        .await
        .iter()
        .filter(|m| m["from"] == "clinician")
        .filter_map(|m| m["text"].as_str().map(str::to_owned))
        .collect();
    let asked: Vec<Value> = stack
        .sandbox
        .resources("notification")
        .await
        .into_iter()
        .filter(|n| n["template"] == "more_info_requested")
        .collect();
    // more_info: 1, more_info_2: 2, silent: 1.
    assert_eq!(asked.len(), 4, "{asked:?}");
    for n in &asked {
        let q = n["data"]["question"].as_str().unwrap_or_default();
        assert!(
            !q.is_empty() && questions.iter().any(|c| c == q),
            "the patient was not sent the clinician's question: {n}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn orders_advance_through_the_pharmacy_feed_when_every_pharmacy_webhook_is_lost() {
    let mut options = Options::default();
    // Lookups an hour away: only the feed can move these orders.
    options.consult.fulfilment_check = Duration::from_secs(3600);
    options.pharmacy_feed = Some(Duration::from_secs(1));
    let stack = Stack::start(options).await;
    let order_events = ["order.filled", "order.shipped", "order.delivered"];
    stack
        .sandbox
        .fault(json!({ "vendor": "pharmacy", "drop_webhook_types": order_events }))
        .await;
    let mut ids = Vec::new();
    for i in 0..3 {
        let key = format!("feed-{i}");
        ids.push(
            stack
                .start_consult(&key, patient(420 + i), "approve", 1)
                .await,
        );
    }
    stack.wait_completed(&ids, Duration::from_secs(90)).await;

    // Two fills each, three events per order, every one read from the feed.
    let by_source: Vec<(String, String, i64)> = sqlx::query_as(
        "SELECT source, status, count(*) FROM carepath.webhook_inbox
          WHERE vendor = 'pharmacy' GROUP BY 1, 2 ORDER BY 1, 2",
    )
    .fetch_all(&stack.db.pool)
    .await
    .expect("inbox");
    assert_eq!(by_source, vec![("feed".into(), "applied".into(), 18)]);
    // Operators see where each came from.
    let (status, page) = stack
        .get(
            &stack.ops,
            "/v1/inbox?status=applied&vendor=pharmacy&limit=100",
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{page}");
    let sources: Vec<&str> = page["items"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|i| i["source"].as_str())
        .collect();
    assert_eq!(sources, ["feed"; 18], "{page}");
    for id in &ids {
        let steps = outputs(&stack, *id).await;
        assert!(
            !steps.keys().any(|k| k.starts_with("check_order")),
            "the feed, not a lookup, was meant to move the orders: {:?}",
            steps.keys()
        );
        assert_eq!(
            stack.output(*id).await["orders"].as_array().map(Vec::len),
            Some(2)
        );
    }

    late_pharmacy_webhooks_are_absorbed(&stack, &ids).await;
    stack.stop().await;
}

/// The pharmacy's webhooks turn up after all: absorbed as repeat
/// deliveries, changing nothing.
async fn late_pharmacy_webhooks_are_absorbed(stack: &Stack, ids: &[Uuid]) {
    let before = snapshot(stack, ids).await;
    stack.sandbox.fault(json!({ "vendor": "pharmacy" })).await;
    assert_eq!(stack.sandbox.redeliver().await, 18);
    wait_for("the late webhooks to be absorbed", Duration::from_secs(30), || async {
        let repeats = count(
            &stack.db.pool,
            "SELECT count(*) FROM carepath.webhook_inbox WHERE vendor = 'pharmacy' AND deliveries = 2",
        )
        .await;
        (repeats == 18).then_some(())
    })
    .await;
    let rows = count(
        &stack.db.pool,
        "SELECT count(*) FROM carepath.webhook_inbox WHERE vendor = 'pharmacy'",
    )
    .await;
    assert_eq!(rows, 18, "a late webhook was stored as a new event");
    assert_eq!(
        snapshot(stack, ids).await,
        before,
        "a late webhook changed a journey"
    );
    let counters = stack.sandbox.counters().await;
    assert_eq!(counters["duplicate_side_effects"], json!({}), "{counters}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_order_that_stops_moving_raises_an_alert_that_clears_when_it_moves() {
    let mut options = Options::default();
    // The pharmacy takes 4 s per state and its webhooks are lost; with no
    // feed, lookups every second are all that move the order, and one that
    // finds it unmoved for a second finds it stalled.
    options.sandbox.clinician.decide_ms = 8000;
    options.consult.fulfilment_check = Duration::from_millis(500);
    options.consult.case_check = Duration::from_secs(1);
    options.consult.check_max = Duration::from_secs(1);
    options.consult.fulfilment_stall = Duration::from_secs(1);
    options.pharmacy_feed = None;
    let stack = Stack::start(options).await;
    stack
        .sandbox
        .fault(json!({ "vendor": "pharmacy", "drop_webhooks_secs": 600.0 }))
        .await;
    let id = stack
        .start_consult("slow-pharmacy", patient(430), "approve", 0)
        .await;

    let overdue_ids = || async {
        overdue(&stack)
            .await
            .iter()
            .filter_map(|j| j["id"].as_str().map(str::to_owned))
            .collect::<Vec<_>>()
    };
    wait_for(
        "the stalled order's alert",
        Duration::from_secs(60),
        || async {
            let open = open_alerts(&stack).await;
            open.contains(&(id, "fulfilment_stalled".to_owned()))
                .then_some(())
        },
    )
    .await;
    // The overdue set is computed once per interval: the journey shows
    // within it (unless it has completed meanwhile).
    wait_for(
        "a journey with an open alert to be listed overdue",
        Duration::from_secs(10),
        || async {
            (overdue_ids().await.contains(&id.to_string())
                || status_of(&stack.db.pool, id).await == "completed")
                .then_some(())
        },
    )
    .await;
    stack.wait_completed(&[id], Duration::from_secs(60)).await;

    let resolution: Vec<(String, Option<String>)> =
        sqlx::query_as("SELECT kind, resolution FROM carepath.alerts WHERE journey_id = $1")
            .bind(id)
            .fetch_all(&stack.db.pool)
            .await
            .expect("alerts");
    assert!(
        resolution.iter().any(|(k, r)| k == "fulfilment_stalled"
            && r.as_deref().is_some_and(|r| r.starts_with("the order is"))),
        "{resolution:?}"
    );
    assert_eq!(open_alerts(&stack).await, vec![]);
    assert_eq!(overdue_ids().await, Vec::<String>::new());
    open_alerts_metric_becomes(&stack, "fulfilment_stalled", 0.0).await;
    each_stall_was_raised_and_resolved_in_turn(&stack, id).await;
    stack.stop().await;
}

/// The journey's alert history: stalled in each state it waited in, each
/// time resolved as it moved; raised and resolved in turn, nothing left open.
async fn each_stall_was_raised_and_resolved_in_turn(stack: &Stack, id: Uuid) {
    let history: Vec<String> = sqlx::query_scalar(
        "SELECT kind FROM carepath.journey_history WHERE journey_id = $1 AND kind LIKE 'alert_%' ORDER BY seq",
    )
    .bind(id)
    .fetch_all(&stack.db.pool)
    .await
    .expect("history");
    // Stalled in each state it waited in, each time resolved as it moved:
    // raised and resolved in turn, nothing left open.
    assert!(
        history.len() >= 4,
        "a stall in a later state was news again: {history:?}"
    );
    for (n, kind) in history.iter().enumerate() {
        let expected = if n % 2 == 0 {
            "alert_raised"
        } else {
            "alert_resolved"
        };
        assert_eq!(kind, expected, "{history:?}");
    }
    assert_eq!(history.last().map(String::as_str), Some("alert_resolved"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_case_nobody_decides_stays_overdue_with_its_alert_open_until_an_operator_cancels_it() {
    let mut options = Options::default();
    options.consult.decision_sla = Duration::from_secs(1);
    options.consult.case_check = Duration::from_millis(500);
    options.consult.fulfilment_check = Duration::from_secs(1);
    options.consult.check_max = Duration::from_secs(1);
    let stack = Stack::start(options).await;
    let id = stack
        .start_consult("stalled-case", patient(440), "stall", 0)
        .await;
    wait_for("the SLA alert", Duration::from_secs(30), || async {
        open_alerts(&stack)
            .await
            .contains(&(id, "decision_sla_exceeded".to_owned()))
            .then_some(())
    })
    .await;
    // Lookups go on (backing off) and find nothing new: the alert stays
    // open, raised once, and the journey is overdue.
    wait_for("more lookups", Duration::from_secs(30), || async {
        let looks = count(
            &stack.db.pool,
            "SELECT count(*) FROM carepath.journey_steps WHERE key LIKE 'check_case%'",
        )
        .await;
        (looks >= 3).then_some(())
    })
    .await;
    let listed = wait_for(
        "the journey to be listed overdue",
        Duration::from_secs(10),
        || async {
            let listed = overdue(&stack).await;
            (!listed.is_empty()).then_some(listed)
        },
    )
    .await;
    let ids: Vec<String> = listed
        .iter()
        .filter_map(|j| j["id"].as_str().map(str::to_owned))
        .collect();
    assert_eq!(ids, vec![id.to_string()]);
    // The listing says why.
    assert_eq!(
        listed[0]["overdue"], "alert: decision_sla_exceeded",
        "{listed:?}"
    );
    open_alerts_metric_becomes(&stack, "decision_sla_exceeded", 1.0).await;
    let raised = count(&stack.db.pool, "SELECT count(*) FROM carepath.alerts").await;
    assert_eq!(raised, 1, "one alert per turn, however many lookups");

    let (status, body) = stack
        .post(
            &stack.ops,
            &format!("/v1/journeys/{id}/cancel"),
            &json!({ "reason": "the network lost the case; the patient was refunded" }),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(open_alerts(&stack).await, vec![]);
    assert_eq!(overdue(&stack).await, Vec::<Value>::new());
    open_alerts_metric_becomes(&stack, "decision_sla_exceeded", 0.0).await;
    stack.stop().await;
}
