//! What an operator does with a support ticket, over real HTTP against the
//! API, workers, the sandbox vendors and PostgreSQL: find the journey by
//! what the ticket names, read what happened at each step, and put it
//! right (fire a wait, inject a lost vendor event, rewind, act in bulk).

mod support;

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{Value, json};
use support::consult_stack::*;
use support::*;
use uuid::Uuid;

/// The journeys `query` finds, each with what named it.
async fn search(stack: &Stack, query: &str) -> Vec<(Uuid, Vec<String>)> {
    let (status, body) = stack
        .post(
            &stack.ops,
            "/v1/journeys/search",
            &json!({ "query": query }),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|hit| {
            let id = hit["id"].as_str().and_then(|s| s.parse().ok()).expect("id");
            let by = hit["matched_by"]
                .as_array()
                .expect("matched_by")
                .iter()
                .filter_map(|k| k.as_str().map(str::to_owned))
                .collect();
            (id, by)
        })
        .collect()
}

/// A key of `kind` the journey's index holds.
async fn indexed(stack: &Stack, id: Uuid, kind: &str) -> String {
    sqlx::query_scalar("SELECT key FROM carepath.journey_keys WHERE journey_id = $1 AND kind = $2")
        .bind(id)
        .bind(kind)
        .fetch_one(&stack.db.pool)
        .await
        .unwrap_or_else(|e| panic!("no {kind} key for {id}: {e}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn each_business_identifier_finds_its_journey_and_phi_is_not_stored_in_clear() {
    let stack = Stack::start(Options::default()).await;
    let ann = patient(1);
    let id = stack
        .start_consult("ticket-4711", ann.clone(), "approve", 0)
        .await;
    // A second patient's journey, which no search for the first may find.
    let other = stack
        .start_consult("ticket-4712", patient(2), "approve", 0)
        .await;
    stack
        .wait_completed(&[id, other], Duration::from_secs(60))
        .await;

    let case = indexed(&stack, id, "case").await;
    let order = indexed(&stack, id, "order").await;
    let prescription = indexed(&stack, id, "prescription").await;
    let clinical_patient = indexed(&stack, id, "clinical_patient").await;
    let full_id = id.to_string();
    let queries = [
        (case.as_str(), "case"),
        (order.as_str(), "order"),
        (prescription.as_str(), "prescription"),
        (clinical_patient.as_str(), "clinical_patient"),
        ("brand-1", "patient_external_id"),
        // As a support person types them: other case, other punctuation.
        ("  patient1@EXAMPLE.com ", "email"),
        ("(415) 555-0001", "phone"),
        ("ticket-4711", "idempotency_key"),
        // The first digits of a UUIDv7 are its creation time: a prefix
        // names the journey once it reaches its random part.
        (&full_id[..23], "journey_id"),
        // The last digits are random: what ctl shows as a short id.
        (&full_id[28..], "journey_id"),
        (full_id.as_str(), "journey_id"),
    ];
    for (query, kind) in queries {
        let hits = search(&stack, query).await;
        let hit = hits.iter().find(|(j, _)| *j == id);
        assert!(
            hit.is_some_and(|(_, by)| by.contains(&kind.to_owned())),
            "{kind} {query:?} found {hits:?}"
        );
        assert!(
            hits.iter().all(|(j, _)| *j != other),
            "{kind} found the other patient's journey"
        );
    }
    assert!(search(&stack, "case_that_does_not_exist").await.is_empty());

    // The PHI identifiers are in the table only as keyed hashes.
    let keys: Vec<(String, String)> = sqlx::query_as(
        "SELECT kind, key FROM carepath.journey_keys WHERE journey_id = $1 ORDER BY kind",
    )
    .bind(id)
    .fetch_all(&stack.db.pool)
    .await
    .expect("keys");
    let phi = [
        "brand-1",
        "patient1@example.com",
        "+14155550001",
        "4155550001",
    ];
    for (kind, key) in &keys {
        assert!(
            phi.iter().all(|p| !key.contains(p)),
            "{kind} is stored in clear: {key}"
        );
        if ["patient_external_id", "email", "phone"].contains(&kind.as_str()) {
            assert!(
                key.len() == 64 && key.chars().all(|c| c.is_ascii_hexdigit()),
                "{kind}: {key}"
            );
        }
    }
    let kinds: Vec<&str> = keys.iter().map(|(k, _)| k.as_str()).collect();
    for kind in ["email", "patient_external_id", "phone"] {
        assert!(kinds.contains(&kind), "{kinds:?}");
    }

    // Its steps: ids show, the patient's medication is redacted until an
    // operator reveals it with a reason, which history records.
    let (status, detail) = stack
        .get(&stack.ops, &format!("/v1/journeys/{id}/steps"))
        .await;
    assert_eq!(status, StatusCode::OK, "{detail}");
    assert_eq!(detail["outcome"], "approved");
    let steps = detail["steps"].as_array().expect("steps");
    let step = |key: &str| {
        steps
            .iter()
            .find(|s| s["key"] == key)
            .unwrap_or_else(|| panic!("no step {key}: {detail}"))
            .clone()
    };
    let rx = step("fetch_prescription");
    assert_eq!(rx["output"]["id"], prescription.as_str(), "{rx}");
    assert_eq!(rx["output"]["medication"], "[redacted]", "{rx}");
    assert_eq!(rx["redacted"], true);
    assert!(
        rx["duration_ms"].is_i64() && rx["attempts"].is_i64(),
        "{rx}"
    );
    let (status, revealed) = stack
        .get(
            &stack.ops,
            &format!("/v1/journeys/{id}/steps/fetch_prescription/output?reason=ticket%204711"),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{revealed}");
    assert_ne!(revealed["output"]["medication"], "[redacted]", "{revealed}");
    let (_, history) = stack
        .get(&stack.ops, &format!("/v1/journeys/{id}/history"))
        .await;
    assert!(
        history["events"]
            .as_array()
            .is_some_and(|e| e.iter().any(|e| e["kind"] == "output_read"
                && e["detail"]["reason"] == "ticket 4711"
                && e["actor"] == "token:ops")),
        "{history}"
    );

    // The query is PHI: it is refused anywhere but in the body.
    let (status, body) = stack
        .post(
            &stack.product,
            "/v1/journeys/search",
            &json!({ "query": case }),
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    let (status, body) = stack
        .post(&stack.ops, "/v1/journeys/search", &json!({ "query": " " }))
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(body["error"]["fields"][0]["path"], "query", "{body}");
    stack.stop().await;
}

async fn history_of(stack: &Stack, id: Uuid) -> Vec<Value> {
    let (status, body) = stack
        .get(&stack.ops, &format!("/v1/journeys/{id}/history"))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body["events"].as_array().cloned().unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_journey_whose_approval_webhook_was_lost_is_unstuck_by_an_injected_event() {
    let stack = Stack::start(Options::patient_vendors()).await;
    stack
        .sandbox
        .fault(json!({ "vendor": "clinical", "drop_webhook_types": ["case.approved"] }))
        .await;
    let id = stack
        .start_consult("lost-approval", patient(3), "approve", 0)
        .await;

    // The clinician approves; the webhook never comes; the journey waits on.
    let dropped = wait_for(
        "the approval to be dropped",
        Duration::from_secs(60),
        || async {
            stack
                .sandbox
                .dropped_webhooks()
                .await
                .into_iter()
                .find(|w| {
                    w["body"]
                        .as_str()
                        .is_some_and(|b| b.contains("case.approved"))
                })
        },
    )
    .await;
    // The sandbox may drop the webhook before the journey has recorded its wait.
    stack.wait_waiting_for(id, "signal:clinical.case").await;
    let event: Value = serde_json::from_str(dropped["body"].as_str().unwrap_or_default())
        .expect("the dropped body is JSON");

    // Another journey's case is refused: an operator cannot misroute.
    let other = stack
        .start_consult("lost-other", patient(4), "stall", 0)
        .await;
    stack.wait_waiting_for(other, "signal:clinical.case").await;
    let reason = "clinician approved per the network's dashboard; webhook never arrived";
    let request = json!({ "vendor": "clinical", "event": event, "reason": reason });
    let (status, body) = stack
        .post(
            &stack.ops,
            &format!("/v1/journeys/{other}/inject"),
            &request,
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    // So is an event about no case of the journey's.
    let mut nobodys = event.clone();
    nobodys["data"]["case_id"] = json!("case_nope");
    let stray = json!({ "vendor": "clinical", "event": nobodys, "reason": reason });
    let (status, body) = stack
        .post(&stack.ops, &format!("/v1/journeys/{id}/inject"), &stray)
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(body["error"]["fields"][0]["path"], "event.data", "{body}");

    let (status, body) = stack
        .post(&stack.ops, &format!("/v1/journeys/{id}/inject"), &request)
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        (body["applied"].as_bool(), body["signal"].as_str()),
        (Some(true), Some("clinical.case"))
    );
    // The same event again, by an operator or by the late webhook, is a duplicate.
    let (status, again) = stack
        .post(&stack.ops, &format!("/v1/journeys/{id}/inject"), &request)
        .await;
    assert_eq!(
        (status, again["applied"].as_bool()),
        (StatusCode::OK, Some(false)),
        "{again}"
    );
    stack.wait_completed(&[id], Duration::from_secs(60)).await;
    assert_eq!(stack.output(id).await["outcome"], "approved");

    stack.sandbox.redeliver().await;
    let late = dropped["event_id"].as_str().unwrap_or_default().to_owned();
    wait_for("the late webhook to be routed", Duration::from_secs(30), || async {
        let status: Option<String> = sqlx::query_scalar(
            "SELECT status FROM carepath.webhook_inbox WHERE vendor = 'clinical' AND dedup_key = $1",
        )
        .bind(&late)
        .fetch_optional(&stack.db.pool)
        .await
        .expect("inbox");
        status.filter(|s| s != "received")
    })
    .await;
    let signals: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM carepath.signals WHERE journey_id = $1 AND event_id = $2",
    )
    .bind(id)
    .bind(&late)
    .fetch_one(&stack.db.pool)
    .await
    .expect("signals");
    assert_eq!(signals, 1, "the approval is applied once");
    let counters = stack.sandbox.counters().await;
    assert_eq!(counters["duplicate_side_effects"], json!({}), "{counters}");

    // History says who injected what, and why.
    let events = history_of(&stack, id).await;
    let injected: Vec<&Value> = events.iter().filter(|e| e["kind"] == "inject").collect();
    assert_eq!(injected.len(), 2, "both attempts are audited");
    assert_eq!(injected[0]["actor"], "token:ops");
    assert_eq!(injected[0]["detail"]["operator_sourced"], true);
    assert_eq!(injected[0]["detail"]["reason"], reason);
    assert_eq!(injected[1]["detail"]["duplicate"], true);
    stack.stop().await;
}

/// The keys of the journey's current positions after `key`, in order.
async fn positions_after(stack: &Stack, id: Uuid, key: &str) -> Vec<String> {
    sqlx::query_scalar(
        "SELECT key FROM carepath.journey_steps WHERE journey_id = $1
            AND seq > (SELECT seq FROM carepath.journey_steps WHERE journey_id = $1 AND key = $2)
          ORDER BY seq",
    )
    .bind(id)
    .bind(key)
    .fetch_all(&stack.db.pool)
    .await
    .expect("positions")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_rewind_re_runs_the_steps_after_the_chosen_one_and_refuses_to_cross_a_prescription() {
    let stack = Stack::start(Options::default()).await;
    let id = stack
        .start_consult("rewind-me", patient(5), "approve", 0)
        .await;
    stack.wait_completed(&[id], Duration::from_secs(60)).await;
    let rewind = |body: Value| {
        let stack = &stack;
        async move {
            stack
                .post(&stack.ops, &format!("/v1/journeys/{id}/rewind"), &body)
                .await
        }
    };
    let before = stack.sandbox.counters().await;
    let after_order = positions_after(&stack, id, "place_order").await;
    assert!(!after_order.is_empty());

    // Across the prescription and the order: refused, nothing changes.
    let (status, body) = rewind(json!({ "to_step": "upload_photo_id", "reason": "redo" })).await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    let message = body["error"]["message"].as_str().unwrap_or_default();
    assert!(
        message.contains("fetch_prescription") && message.contains("place_order"),
        "{message}"
    );
    assert_eq!(
        positions_after(&stack, id, "place_order").await,
        after_order
    );

    // After the order: exactly the positions after it run again.
    let (status, body) =
        rewind(json!({ "to_step": "place_order", "reason": "the EHR lost our records" })).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let superseded: Vec<String> = body["superseded"]
        .as_array()
        .expect("superseded")
        .iter()
        .filter_map(|k| k.as_str().map(str::to_owned))
        .collect();
    assert_eq!(superseded, after_order);
    // The same steps again, up to the wait for the pharmacy, whose events
    // (about the world before the rewind) are not delivered again.
    let until_wait: Vec<String> = after_order
        .iter()
        .take_while(|k| !k.starts_with("signal:"))
        .cloned()
        .collect();
    let wait = after_order
        .iter()
        .find(|k| k.starts_with("signal:"))
        .expect("a wait for the pharmacy")
        .clone();
    wait_for(
        "the re-run to wait for the pharmacy",
        Duration::from_secs(60),
        || async {
            let (_, waiting) = stack.phase_and_wait(id).await;
            (waiting.as_deref() == wait.split('#').next()).then_some(())
        },
    )
    .await;
    let mut expected = until_wait.clone();
    expected.push(wait.clone());
    assert_eq!(positions_after(&stack, id, "place_order").await, expected);
    // An operator looks the order up now rather than at the silence's end.
    let (status, body) = stack
        .post(
            &stack.ops,
            &format!("/v1/journeys/{id}/fire-wait"),
            &json!({ "reason": "look the order up" }),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    stack.wait_completed(&[id], Duration::from_secs(60)).await;
    assert_eq!(stack.output(id).await["outcome"], "approved");
    let after = stack.sandbox.counters().await;
    let again = &after["duplicate_side_effects"];
    assert!(again.get("order").is_none(), "no second order: {after}");
    // The EHR and CRM steps ran again with fresh keys: the EHR filed the
    // records anew (what the operator rewound for), none was answered
    // from the superseded calls' records.
    assert_eq!(again["fhir_Encounter"], 1, "{after}");
    assert_eq!(again["crm_event"], 1, "{after}");
    assert_eq!(
        after["idempotent_replays"], before["idempotent_replays"],
        "{after}"
    );
    let (_, detail) = stack
        .get(&stack.ops, &format!("/v1/journeys/{id}/steps"))
        .await;
    let shown: Vec<&str> = detail["superseded"]
        .as_array()
        .expect("superseded steps")
        .iter()
        .filter_map(|s| s["key"].as_str())
        .collect();
    assert_eq!(
        shown,
        superseded.iter().map(String::as_str).collect::<Vec<_>>()
    );

    // Forced across the order: it is placed again, under a fresh key.
    let (status, body) = rewind(json!({ "to_step": "notify_approved", "force": true,
                                        "reason": "the pharmacy lost the order" }))
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["irreversible"], json!(["place_order"]), "{body}");
    stack.wait_completed(&[id], Duration::from_secs(60)).await;
    let forced = stack.sandbox.counters().await;
    assert_eq!(forced["duplicate_side_effects"]["order"], 1, "{forced}");
    let rewinds: Vec<Value> = history_of(&stack, id)
        .await
        .into_iter()
        .filter(|e| e["kind"] == "rewind")
        .collect();
    assert_eq!(rewinds.len(), 2);
    assert_eq!(rewinds[1]["detail"]["forced"], true);
    assert_eq!(rewinds[1]["actor"], "token:ops");
    stack.stop().await;
}

/// Starts `n` journeys of the built-in `demo` workflow under `prefix`
/// through the API, each to wait an hour for its review; their ids.
async fn demo_journeys(stack: &Stack, prefix: &str, n: usize) -> Vec<Uuid> {
    let mut ids = Vec::with_capacity(n);
    for i in 0..n {
        let (status, body) = stack
            .post(
                &stack.product,
                "/v1/journeys",
                &json!({ "workflow": "demo", "idempotency_key": format!("{prefix}-{i}"),
                         "input": { "review_timeout_ms": 3_600_000, "flaky_failures": 0 } }),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        ids.push(
            body["id"]
                .as_str()
                .and_then(|s| s.parse().ok())
                .expect("id"),
        );
    }
    ids
}

async fn count_status(stack: &Stack, ids: &[Uuid], status: &str) -> i64 {
    sqlx::query_scalar("SELECT count(*) FROM carepath.journeys WHERE id = ANY($1) AND status = $2")
        .bind(ids)
        .bind(status)
        .fetch_one(&stack.db.pool)
        .await
        .expect("count")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_bulk_pause_of_a_thousand_journeys_runs_only_after_its_dry_run_is_confirmed() {
    let stack = Stack::start(Options::default()).await;
    let ids = demo_journeys(&stack, "bulk", 1000).await;
    // Journeys of another phase the filter must leave alone.
    let others = demo_journeys(&stack, "keep", 5).await;
    wait_for(
        "every journey to wait for its review",
        Duration::from_secs(120),
        || async {
            (count_status(&stack, &ids, "waiting").await == 1000
                && count_status(&stack, &others, "waiting").await == 5)
                .then_some(())
        },
    )
    .await;
    sqlx::query("UPDATE carepath.journeys SET phase = 'elsewhere' WHERE id = ANY($1)")
        .bind(&others)
        .execute(&stack.db.pool)
        .await
        .expect("set the others aside");
    let (_, one) = stack
        .get(&stack.ops, &format!("/v1/journeys/{}", ids[0]))
        .await;
    let phase = one["phase"].as_str().expect("phase").to_owned();

    let request = json!({ "action": "pause", "reason": "vendor incident INC-42",
                          "filter": { "workflow": "demo", "status": "waiting", "phase": phase } });
    let (status, plan) = stack.post(&stack.ops, "/v1/ops/bulk", &request).await;
    assert_eq!(status, StatusCode::OK, "{plan}");
    assert_eq!(plan["matched"], 1000, "{plan}");
    assert_eq!(plan["sample"].as_array().map(Vec::len), Some(20));
    // A dry run changes nothing.
    assert_eq!(count_status(&stack, &ids, "paused").await, 0);

    let token = plan["confirm_token"].as_str().expect("token").to_owned();
    let (status, body) = stack
        .post(
            &stack.ops,
            "/v1/ops/bulk/confirm",
            &json!({ "confirm_token": "bulk_forged" }),
        )
        .await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    // A token runs only the action it was planned for.
    let (status, body) = stack
        .post(
            &stack.ops,
            "/v1/ops/bulk/confirm",
            &json!({ "confirm_token": token, "action": "cancel" }),
        )
        .await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    assert_eq!(count_status(&stack, &ids, "cancelled").await, 0);
    let (status, done) = stack
        .post(
            &stack.ops,
            "/v1/ops/bulk/confirm",
            &json!({ "confirm_token": token, "action": "pause" }),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{done}");
    assert_eq!(
        (done["done"].as_i64(), done["skipped"].as_i64()),
        (Some(1000), Some(0)),
        "{done}"
    );
    assert_eq!(count_status(&stack, &ids, "paused").await, 1000);
    assert_eq!(count_status(&stack, &others, "waiting").await, 5);
    // A token runs its plan once.
    let (status, _) = stack
        .post(
            &stack.ops,
            "/v1/ops/bulk/confirm",
            &json!({ "confirm_token": token }),
        )
        .await;
    assert_eq!(status, StatusCode::CONFLICT);

    // Audited once per journey, and once for the whole operation.
    let per_journey: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM carepath.journey_history
          WHERE journey_id = ANY($1) AND kind = 'pause' AND actor = 'token:ops'
            AND detail->>'reason' LIKE 'vendor incident INC-42 [bulk operation %]'",
    )
    .bind(&ids)
    .fetch_one(&stack.db.pool)
    .await
    .expect("history");
    assert_eq!(per_journey, 1000);
    let audit: Vec<Value> = sqlx::query_scalar(
        "SELECT detail FROM carepath.operator_audit WHERE action = 'bulk_pause'",
    )
    .fetch_all(&stack.db.pool)
    .await
    .expect("audit");
    assert_eq!(audit.len(), 1, "{audit:?}");
    assert_eq!(audit[0]["done"], 1000);
    stack.stop().await;
}

/// An open Server-Sent Events stream, read as a browser's EventSource does.
struct EventStream {
    response: reqwest::Response,
    buffer: String,
}

/// One event of a stream: its `id`, `event` and `data` fields.
#[derive(Debug, Clone)]
struct Sse {
    id: String,
    event: String,
    data: Value,
}

impl EventStream {
    async fn open(stack: &Stack, path: &str, last_event_id: Option<&str>) -> Self {
        let mut request = stack
            .http
            .get(format!("{}{path}", stack.api))
            .bearer_auth(&stack.ops);
        if let Some(id) = last_event_id {
            request = request.header("last-event-id", id);
        }
        let response = request.send().await.expect("open the stream");
        assert_eq!(response.status(), StatusCode::OK);
        let kind = response.headers().get("content-type").cloned();
        assert_eq!(
            kind.as_ref().and_then(|v| v.to_str().ok()),
            Some("text/event-stream")
        );
        Self {
            response,
            buffer: String::new(),
        }
    }

    /// The next event, waiting up to `timeout` for it (keep-alive comments
    /// do not count as events, nor extend the wait).
    async fn next(&mut self, timeout: Duration) -> Sse {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            if let Some(end) = self.buffer.find("\n\n") {
                let block: String = self.buffer.drain(..end + 2).collect();
                let field = |name: &str| {
                    block
                        .lines()
                        .find_map(|l| l.strip_prefix(&format!("{name}:")))
                        .map(|v| v.trim_start().to_owned())
                };
                // A comment alone (a keep-alive) is no event.
                let Some(data) = field("data") else { continue };
                return Sse {
                    id: field("id").unwrap_or_default(),
                    event: field("event").unwrap_or_default(),
                    data: serde_json::from_str(&data).expect("event data is JSON"),
                };
            }
            let chunk = tokio::time::timeout_at(deadline, self.response.chunk())
                .await
                .expect("an event within the deadline")
                .expect("read the stream")
                .expect("the stream stays open");
            self.buffer.push_str(&String::from_utf8_lossy(&chunk));
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_journeys_event_stream_delivers_its_history_in_order_across_a_worker_restart() {
    let stack = Stack::start(Options {
        workers: 0,
        ..Options::default()
    })
    .await;
    let mut worker = WorkerProcess::spawn(&stack.db.url, "sse-1");
    let id = demo_journeys(&stack, "sse", 1).await[0];
    let mut stream = EventStream::open(&stack, &format!("/v1/journeys/{id}/events"), None).await;
    // Up to its wait for a review, on the first worker.
    wait_for(
        "the journey to wait for its review",
        Duration::from_secs(30),
        || async {
            let (_, waiting) = stack.phase_and_wait(id).await;
            (waiting.as_deref() == Some("signal:review")).then_some(())
        },
    )
    .await;
    let so_far = history_of(&stack, id).await.len();
    let mut seen: Vec<Sse> = Vec::new();
    while seen.len() < so_far {
        seen.push(stream.next(Duration::from_secs(30)).await);
    }

    worker.kill9();
    let mut second = WorkerProcess::spawn(&stack.db.url, "sse-2");
    let (status, body) = stack
        .post(
            &stack.product,
            &format!("/v1/journeys/{id}/signals/review"),
            &json!({ "event_id": "review-1", "payload": { "decision": "approved" } }),
        )
        .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    wait_status(&stack.db.pool, id, "completed", Duration::from_secs(30)).await;
    let history = history_of(&stack, id).await;
    while seen.len() < history.len() {
        seen.push(stream.next(Duration::from_secs(30)).await);
    }
    let ids: Vec<String> = seen.iter().map(|e| e.id.clone()).collect();
    let expected: Vec<String> = (1..=history.len()).map(|s| s.to_string()).collect();
    assert_eq!(ids, expected, "every event once, in order");
    for (event, recorded) in seen.iter().zip(&history) {
        assert_eq!(event.event, recorded["kind"].as_str().unwrap_or_default());
        assert_eq!(event.data["hash"], recorded["hash"]);
    }

    // A client that reconnects with the last id it saw gets the rest.
    let resume_after = history.len() - 3;
    let mut resumed = EventStream::open(
        &stack,
        &format!("/v1/journeys/{id}/events"),
        Some(&resume_after.to_string()),
    )
    .await;
    let next = resumed.next(Duration::from_secs(10)).await;
    assert_eq!(next.id, (resume_after + 1).to_string());

    // The feed of every journey carries it too, filtered by kind.
    let mut feed = EventStream::open(&stack, "/v1/events?kind=rewind", None).await;
    let (status, body) = stack
        .post(
            &stack.ops,
            &format!("/v1/journeys/{id}/rewind"),
            &json!({ "to_step": "submit_case", "reason": "watch it on the feed" }),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let rewound = feed.next(Duration::from_secs(30)).await;
    assert_eq!(rewound.event, "rewind");
    assert_eq!(rewound.data["journey_id"], id.to_string());
    second.kill9();
    stack.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn ctl_finds_reads_and_repairs_journeys_by_their_short_ids() {
    let stack = Stack::start(Options::default()).await;
    let ids = demo_journeys(&stack, "ctl", 3).await;
    wait_for("the journeys to wait", Duration::from_secs(30), || async {
        (count_status(&stack, &ids, "waiting").await == 3).then_some(())
    })
    .await;
    let full = ids[0].to_string();
    let short = &full[full.len() - 8..];
    let fits = |text: &str| {
        let over: Vec<&str> = text.lines().filter(|l| l.chars().count() > 100).collect();
        assert!(over.is_empty(), "over 100 columns:\n{}", over.join("\n"));
    };

    let found = stack.ctl(&["find", "ctl-0"]).await;
    assert!(
        found.contains(short) && found.contains("idempotency_key"),
        "{found}"
    );
    let steps = stack.ctl(&["steps", short]).await;
    fits(&steps);
    assert!(
        steps.contains("submit_case") && steps.contains("[redacted]"),
        "{steps}"
    );
    assert!(
        steps.contains("waits for signal review (or its timeout)"),
        "{steps}"
    );
    let revealed = stack
        .ctl(&["reveal", short, "submit_case", "--reason", "ticket 4711"])
        .await;
    assert!(revealed.contains("case-"), "{revealed}");

    stack
        .ctl(&["fire", short, "--reason", "no reviewer today"])
        .await;
    wait_status(&stack.db.pool, ids[0], "completed", Duration::from_secs(30)).await;
    assert_eq!(stack.output(ids[0]).await["outcome"], "no_decision_in_time");

    let plan = stack
        .ctl(&[
            "bulk",
            "pause",
            "--workflow",
            "demo",
            "--status",
            "waiting",
            "--reason",
            "INC-7",
        ])
        .await;
    fits(&plan);
    assert!(plan.contains("would apply to 2 journey(s)"), "{plan}");
    assert_eq!(
        count_status(&stack, &ids, "paused").await,
        0,
        "a dry run acts on nothing"
    );
    let token = plan
        .split_whitespace()
        .find(|w| w.starts_with("bulk_"))
        .expect("the confirmation token")
        .to_owned();
    let done = stack.ctl(&["bulk", "pause", "--confirm", &token]).await;
    assert!(done.contains("applied to 2 of 2"), "{done}");
    assert_eq!(count_status(&stack, &ids, "paused").await, 2);

    // Watching a journey's history shows a rewind as it happens.
    let mut watch = tokio::process::Command::new(env!("CARGO_BIN_EXE_carepath"))
        .args(["ctl", "history", short, "--watch"])
        .env("CAREPATH_API_URL", &stack.api)
        .env("CAREPATH_TOKEN", &stack.ops)
        .stdout(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("ctl history --watch");
    let rewound = stack
        .ctl(&[
            "rewind",
            short,
            "--to-step",
            "validate_intake",
            "--reason",
            "replay it",
        ])
        .await;
    assert!(rewound.contains("re-runs"), "{rewound}");
    let stdout = watch.stdout.take().expect("stdout");
    let mut lines = tokio::io::AsyncBufReadExt::lines(tokio::io::BufReader::new(stdout));
    let seen = tokio::time::timeout(Duration::from_secs(30), async {
        while let Ok(Some(line)) = lines.next_line().await {
            if line.contains("rewind") {
                return line;
            }
        }
        String::new()
    })
    .await
    .expect("the rewind within the deadline");
    assert!(
        seen.contains("token:ops") && seen.chars().count() <= 100,
        "{seen}"
    );
    let _ = watch.kill().await;
    stack.stop().await;
}
