//! The telehealth journey end to end: carepath's API and workers, the sandbox
//! vendors (clinicians, pharmacy, EHR, CRM, notifications) over loopback HTTP
//! with their webhooks coming back through the inbox, and a real PostgreSQL.
//! The test plays the brand's product: it starts journeys and, when a patient
//! is asked for more information, answers for them.

mod support;

use std::collections::BTreeMap;
use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{Value, json};
use support::consult_stack::*;
use support::*;
use uuid::Uuid;

/// Whether `expected` appears in `story` in that order (other steps may sit between).
fn tells(story: &[String], expected: &[String]) -> bool {
    let mut it = story.iter();
    expected.iter().all(|e| it.any(|s| s == e))
}

fn expected_story(scenario: &str, refills: u32) -> Vec<String> {
    let mut keys: Vec<String> = [
        "validate_intake",
        "match_patient",
        "sync_patient",
        "submit_case",
        "upload_photo_id",
    ]
    .map(String::from)
    .to_vec();
    let rounds = match scenario {
        "more_info" => 1,
        "more_info_2" => 2,
        _ => 0,
    };
    for r in 1..=rounds {
        let n = if r == 1 {
            String::new()
        } else {
            format!("#{r}")
        };
        keys.push(format!("notify_more_info{n}"));
        keys.push(format!("send_patient_response{n}"));
    }
    if scenario == "decline" {
        keys.extend(
            [
                "decision_time",
                "notify_declined",
                "ehr_encounter",
                "ehr_questionnaire_response",
                "crm_engagement",
            ]
            .map(String::from),
        );
        return keys;
    }
    keys.extend(
        [
            "decision_time",
            "fetch_prescription",
            "notify_approved",
            "place_order",
            "ehr_encounter",
            "ehr_questionnaire_response",
            "ehr_medication_request",
            "crm_engagement",
            "order_delivered",
        ]
        .map(String::from),
    );
    for fill in 2..=refills + 1 {
        keys.push(if fill == 2 {
            "refill_check_in".into()
        } else {
            format!("refill_check_in#{}", fill - 1)
        });
        keys.push(format!("place_order#{fill}"));
        keys.push(format!("order_delivered#{fill}"));
    }
    keys
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_hundred_journeys_end_as_their_scenarios_imply_with_no_duplicate_side_effects() {
    let mut options = Options::default();
    options.sandbox.webhooks.duplicate_rate = 0.3;
    options.sandbox.webhooks.max_delay_ms = 300;
    let stack = Stack::start(options).await;
    stack.answer_patients(vec![]);

    const SCENARIOS: [&str; 4] = ["approve", "decline", "more_info", "more_info_2"];
    let mut journeys = Vec::new();
    for i in 0..200 {
        let (scenario, refills) = (SCENARIOS[i % 4], (i % 3) as u32);
        let id = stack
            .start_consult(&format!("j-{i}"), patient(i), scenario, refills)
            .await;
        journeys.push((id, scenario, refills));
    }
    let ids: Vec<Uuid> = journeys.iter().map(|j| j.0).collect();
    stack.wait_completed(&ids, Duration::from_secs(240)).await;

    let mut expected_orders = 0;
    for (id, scenario, refills) in &journeys {
        let out = stack.output(*id).await;
        let expected = if *scenario == "decline" {
            "declined"
        } else {
            "approved"
        };
        assert_eq!(out["outcome"], expected, "{scenario}: {out}");
        if expected == "approved" {
            expected_orders += refills + 1;
            assert_eq!(
                out["orders"].as_array().map(Vec::len),
                Some(*refills as usize + 1),
                "{out}"
            );
        }
        let story = stack.story(*id).await;
        let want = expected_story(scenario, *refills);
        assert!(
            tells(&story, &want),
            "{scenario} r{refills}: history {story:?}\nexpected in order {want:?}"
        );
    }
    each_thing_once_at_the_vendors(&stack, expected_orders).await;
    assert_eq!(all_histories_verify(&stack.db.pool).await, 200);
    stack.stop().await;
}

/// After the 200 journeys: one chart per patient, one case per journey, one
/// prescription per approval and one order per fill, no duplicate at any
/// vendor; each webhook, some delivered twice, stored once and routed.
async fn each_thing_once_at_the_vendors(stack: &Stack, expected_orders: u32) {
    let c = stack.sandbox.counters().await;
    assert_eq!(c["duplicate_side_effects"], json!({}), "{c}");
    assert_eq!(
        c["cross_journey_duplicates"],
        no_cross_journey_duplicates(),
        "{c}"
    );
    assert!(c["webhooks_sent"].as_u64() > Some(0), "{c}");
    let held = |kind: &'static str| stack.sandbox.resources(kind);
    assert_eq!(held("patient").await.len(), 200, "one chart per patient");
    assert_eq!(held("case").await.len(), 200, "one case per journey");
    assert_eq!(
        held("prescription").await.len(),
        150,
        "one prescription per approval"
    );
    assert_eq!(
        held("order").await.len(),
        expected_orders as usize,
        "one order per fill"
    );
    assert_eq!(
        count(&stack.db.pool, "SELECT count(*) FROM carepath.patients").await,
        200
    );
    // Some webhooks came twice; each was stored once and applied once.
    let repeated = count(
        &stack.db.pool,
        "SELECT count(*) FROM carepath.webhook_inbox WHERE deliveries > 1",
    )
    .await;
    assert!(repeated > 0, "the sandbox duplicated no webhook");
    // Late copies may still be on their way: each reaches its journey (a
    // completed one ignores it), none is left unrouted or unmatched.
    wait_for(
        "every webhook to reach its journey",
        Duration::from_secs(30),
        || async {
            let left = count(
                &stack.db.pool,
                "SELECT count(*) FROM carepath.webhook_inbox WHERE status <> 'applied'",
            )
            .await;
            (left == 0).then_some(())
        },
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_returning_patient_is_linked_and_an_ambiguous_one_waits_for_review() {
    let stack = Stack::start(Options::default()).await;
    let maria = json!({
        "external_id": "brand-maria", "first_name": "María", "last_name": "González",
        "date_of_birth": "1985-03-14", "sex": "female", "email": "maria.g@example.com",
        "phone": "+14155550001",
        "address": { "line1": "1 Main St", "city": "Oakland", "state": "CA", "postal_code": "94601" }
    });
    let first = stack
        .start_consult("maria-1", maria.clone(), "decline", 0)
        .await;
    stack
        .wait_completed(&[first], Duration::from_secs(60))
        .await;

    // Back a year later: a new phone, her surname typed with an s, her email in capitals.
    let mut returning = maria.clone();
    returning["last_name"] = json!("Gonzales");
    returning["phone"] = json!("(415) 555-9999");
    returning["email"] = json!("Maria.G@Example.com");
    let second = stack
        .start_consult("maria-2", returning, "decline", 0)
        .await;
    stack
        .wait_completed(&[second], Duration::from_secs(60))
        .await;
    let (a, b) = (stack.output(first).await, stack.output(second).await);
    assert_eq!(
        a["patient_id"], b["patient_id"],
        "linked to the same patient"
    );
    assert_eq!(a["clinical_patient_id"], b["clinical_patient_id"]);
    assert_eq!(
        stack.sandbox.resources("patient").await.len(),
        1,
        "one chart"
    );
    let chart = &stack.sandbox.resources("patient").await[0];
    assert_eq!(
        chart["phone"], "+14155559999",
        "the chart has her new phone, in E.164 whatever spelling the brand sent"
    );
    assert_eq!(
        chart["email"], "Maria.G@example.com",
        "the email as validated: trimmed, its domain lower-cased"
    );

    let third = a_namesake_waits_for_review(&stack, &maria, &a).await;
    an_operator_decides_the_match(&stack, first, third, &a).await;
    stack
        .wait_completed(&[third], Duration::from_secs(60))
        .await;
    let c = stack.output(third).await;
    assert_ne!(c["patient_id"], a["patient_id"]);
    assert_eq!(stack.sandbox.resources("patient").await.len(), 2);
    the_people_after_the_decision(&stack, third, &a).await;
    let audited: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM carepath.journey_history
          WHERE journey_id = $1 AND kind = 'decide' AND actor = 'token:ops'
            AND detail->>'reason' = 'different person: called the patient'",
    )
    .bind(third)
    .fetch_one(&stack.db.pool)
    .await
    .expect("audit");
    assert_eq!(audited, 1);
    let counters = stack.sandbox.counters().await;
    assert_eq!(counters["duplicate_side_effects"], json!({}), "{counters}");
    assert_eq!(
        counters["cross_journey_duplicates"],
        no_cross_journey_duplicates(),
        "{counters}"
    );
    stack.stop().await;
}

/// Only an operator decides the namesake's match, naming a patient to link
/// to, and only while the journey waits for it; `carepath ctl match` shows
/// the candidates and decides. `a`: Maria's first journey's output.
async fn an_operator_decides_the_match(stack: &Stack, first: Uuid, third: Uuid, a: &Value) {
    let path = format!("/v1/journeys/{third}/patient-match");
    let (status, body) = stack
        .post(
            &stack.ops,
            &path,
            &json!({ "action": "link", "reason": "checked" }),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(body["error"]["fields"][0]["path"], "patient_id");
    let (status, _) = stack
        .post(
            &stack.product,
            &path,
            &json!({ "action": "create", "reason": "x" }),
        )
        .await;
    assert_eq!(
        status,
        StatusCode::FORBIDDEN,
        "product code does not decide matches"
    );
    let (status, body) = stack
        .post(
            &stack.ops,
            &format!("/v1/journeys/{first}/patient-match"),
            &json!({ "action": "create", "reason": "x" }),
        )
        .await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    // The operator's way: `carepath ctl match`, the candidates with how each
    // field compared, then (with a reason) the people side by side.
    let listed = stack.ctl(&["match", &third.to_string()]).await;
    assert!(
        listed.contains(a["patient_id"].as_str().unwrap_or("?")),
        "{listed}"
    );
    assert!(
        listed.contains("date_of_birth") && listed.contains("exact"),
        "{listed}"
    );
    let people = stack
        .ctl(&[
            "match",
            &third.to_string(),
            "--people",
            "--reason",
            "ctl: side by side",
        ])
        .await;
    assert!(
        people.contains("María") && people.contains("maria") && people.contains("(exact)"),
        "the incoming person's and the candidate's given names, with the level: {people}"
    );
    assert_eq!(people_reads(stack, third, "ctl: side by side").await, 1);
    let decided = stack
        .ctl(&[
            "match",
            &third.to_string(),
            "--create",
            "--reason",
            "different person: called the patient",
            "--output",
            "json",
        ])
        .await;
    let decided: Value = serde_json::from_str(&decided).expect("ctl prints JSON");
    assert_eq!(decided["id"], third.to_string());
}

/// Maria's namesake (same name and birthday; neither phone, email nor
/// address agrees) waits for a person, who is shown ids, scores and how each
/// field compared (no PHI), and the people side by side only with a reason;
/// nothing reaches a vendor meanwhile; the namesake's journey. `a`: Maria's
/// first journey's output.
async fn a_namesake_waits_for_review(stack: &Stack, maria: &Value, a: &Value) -> Uuid {
    let mut namesake = maria.clone();
    namesake["external_id"] = json!("brand-other-maria");
    namesake["phone"] = json!("+13125550777");
    namesake["email"] = json!("mgonzalez@elsewhere.example");
    namesake["address"]["line1"] = json!("77 Harbor Boulevard");
    namesake["address"]["postal_code"] = json!("60601");
    let third = stack.start_consult("maria-3", namesake, "decline", 0).await;
    let pool = &stack.db.pool;
    wait_for("the review", Duration::from_secs(30), || async {
        let (phase, waiting) = stack.phase_and_wait(third).await;
        (phase == "patient_match_review" && waiting.as_deref() == Some("signal:patient_match"))
            .then_some(())
    })
    .await;
    let (status, review) = stack
        .get(&stack.ops, &format!("/v1/journeys/{third}/patient-match"))
        .await;
    assert_eq!(status, StatusCode::OK, "{review}");
    assert_eq!(review["awaiting_review"], true);
    assert_eq!(review["decision"], "review");
    assert_eq!(
        review["candidates"][0]["patient_id"], a["patient_id"],
        "{review}"
    );
    // Ids, scores and comparison levels: nothing a person could be
    // recognised by. No `hold`: the namesake scored below a link.
    let keys: Vec<&String> = review
        .as_object()
        .map(|o| o.keys().collect())
        .unwrap_or_default();
    assert_eq!(
        keys,
        [
            "awaiting_review",
            "candidates",
            "decision",
            "journey_id",
            "patient_id"
        ]
    );
    for c in review["candidates"].as_array().into_iter().flatten() {
        let keys: Vec<&String> = c
            .as_object()
            .map(|o| o.keys().collect())
            .unwrap_or_default();
        assert_eq!(
            keys,
            ["levels", "patient_id", "probability", "score"],
            "{c}"
        );
        let fields: Vec<&String> = c["levels"]
            .as_object()
            .map(|o| o.keys().collect())
            .unwrap_or_default();
        assert_eq!(
            fields,
            [
                "address",
                "date_of_birth",
                "email",
                "family_name",
                "given_name",
                "phone"
            ],
            "{c}"
        );
        assert!(
            c["probability"]
                .as_f64()
                .is_some_and(|p| (0.0..=1.0).contains(&p)),
            "{c}"
        );
    }
    let best = &review["candidates"][0]["levels"];
    assert_eq!(
        (&best["given_name"], &best["date_of_birth"], &best["phone"]),
        (&json!("exact"), &json!("exact"), &json!("different")),
        "{review}"
    );
    let shown = review.to_string();
    for phi in [
        "Mar",
        "Gonz",
        "1985-03-14",
        "+1415",
        "+1312",
        "@",
        "Main",
        "Harbor",
        "brand-",
    ] {
        assert!(!shown.contains(phi), "{phi:?} in the review: {shown}");
    }
    the_people_side_by_side(stack, third, a).await;
    // Nothing was created at a vendor while the match is uncertain.
    assert_eq!(stack.sandbox.resources("patient").await.len(), 1);
    assert_eq!(
        count(pool, "SELECT count(*) FROM carepath.patients").await,
        1
    );
    third
}

/// The people behind a match, side by side: only an operator, only with a
/// reason, and the read is recorded with both. `third`: the namesake's
/// journey, waiting for review; `a`: Maria's first journey's output.
async fn the_people_side_by_side(stack: &Stack, third: Uuid, a: &Value) {
    let path = format!("/v1/journeys/{third}/patient-match/people");
    let (status, body) = stack.get(&stack.ops, &path).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(body["error"]["fields"][0]["path"], "reason", "{body}");
    let with_reason = format!("{path}?reason=namesake%20check");
    let (status, body) = stack.get(&stack.product, &with_reason).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    assert_eq!(people_reads(stack, third, "namesake check").await, 0);

    let (status, people) = stack.get(&stack.ops, &with_reason).await;
    assert_eq!(status, StatusCode::OK, "{people}");
    assert_eq!(people["awaiting_review"], true);
    let incoming = &people["incoming"];
    assert_eq!(
        (
            &incoming["first_name"],
            &incoming["phone"],
            &incoming["sex"]
        ),
        (&json!("María"), &json!("+13125550777"), &json!("female")),
        "{people}"
    );
    let maria = &people["candidates"][0];
    assert_eq!(maria["patient_id"], a["patient_id"], "{people}");
    let fields: Vec<&Value> = maria["fields"].as_array().into_iter().flatten().collect();
    let names: Vec<&str> = fields.iter().filter_map(|f| f["field"].as_str()).collect();
    assert_eq!(
        names,
        [
            "given_name",
            "family_name",
            "date_of_birth",
            "address",
            "phone",
            "email"
        ]
    );
    assert_eq!(
        fields[0],
        &json!({ "field": "given_name", "incoming": "María", "candidate": "maria", "level": "exact" })
    );
    assert_eq!(
        fields[2],
        &json!({ "field": "date_of_birth", "incoming": "1985-03-14", "candidate": "1985-03-14",
                 "level": "exact" })
    );
    let phone = fields[4];
    assert_eq!(
        (&phone["incoming"], &phone["level"]),
        (&json!("+13125550777"), &json!("different")),
        "{phone}"
    );
    assert!(
        phone["candidate"]
            .as_str()
            .is_some_and(|p| p.starts_with("+1415555")),
        "Maria's phone on file: {phone}"
    );
    assert!(
        fields[3]["incoming"]
            .as_str()
            .is_some_and(|a| a.contains("77 Harbor Boulevard") && a.contains("60601")),
        "{people}"
    );
    // The read is in the journey's history, once, with who and why.
    let read: Vec<(String, Value)> = sqlx::query_as(
        "SELECT actor, detail FROM carepath.journey_history
          WHERE journey_id = $1 AND kind = 'match_people_read'",
    )
    .bind(third)
    .fetch_all(&stack.db.pool)
    .await
    .expect("history");
    assert_eq!(read.len(), 1, "{read:?}");
    assert_eq!(read[0].0, "token:ops");
    assert_eq!(read[0].1["reason"], "namesake check");
    assert_eq!(read[0].1["patients"], json!([a["patient_id"]]), "{read:?}");
}

/// Once decided, the people side by side are the candidates matching
/// recorded (not the patient the decision created).
async fn the_people_after_the_decision(stack: &Stack, third: Uuid, a: &Value) {
    let path = format!("/v1/journeys/{third}/patient-match/people?reason=audit%20after");
    let (status, people) = stack.get(&stack.ops, &path).await;
    assert_eq!(status, StatusCode::OK, "{people}");
    assert_eq!(people["awaiting_review"], false);
    let shown: Vec<&Value> = people["candidates"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|c| &c["patient_id"])
        .collect();
    assert_eq!(shown, [&a["patient_id"]], "{people}");
    assert_eq!(people_reads(stack, third, "audit after").await, 1);
}

/// How many reads of the journey's match's people gave `reason`.
async fn people_reads(stack: &Stack, journey: Uuid, reason: &str) -> i64 {
    sqlx::query_scalar(
        "SELECT count(*) FROM carepath.journey_history
          WHERE journey_id = $1 AND kind = 'match_people_read' AND detail->>'reason' = $2",
    )
    .bind(journey)
    .bind(reason)
    .fetch_one(&stack.db.pool)
    .await
    .expect("history")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_vendor_down_when_the_clinician_approves_delays_the_journey_but_duplicates_nothing() {
    let mut options = Options::default();
    options.sandbox.clinician.decide_ms = 3000;
    options.breaker = (2, 1.0);
    let stack = Stack::start(options).await;
    let id = stack
        .start_consult("outage", patient(1), "approve", 1)
        .await;
    wait_for(
        "the clinician to pick the case up",
        Duration::from_secs(30),
        || async { (stack.phase_and_wait(id).await.0 == "in_clinician_review").then_some(()) },
    )
    .await;
    // The approval lands during an outage of the clinical network and the
    // pharmacy; the pharmacy also loses some answers after acting on them.
    for vendor in ["clinical", "pharmacy"] {
        stack
            .sandbox
            .fault(json!({ "vendor": vendor, "outage_secs": 5.0 }))
            .await;
    }
    let waited = wait_for(
        "the journey to wait for a vendor",
        Duration::from_secs(30),
        || async {
            let (_, waiting) = stack.phase_and_wait(id).await;
            waiting.filter(|w| w.starts_with("vendor:") || w.starts_with("retry:"))
        },
    )
    .await;
    stack
        .sandbox
        .fault(json!({ "vendor": "pharmacy", "lost_response_rate": 0.5 }))
        .await;
    stack.wait_completed(&[id], Duration::from_secs(90)).await;
    let out = stack.output(id).await;
    assert_eq!(out["outcome"], "approved", "{out}");
    assert_eq!(stack.sandbox.resources("prescription").await.len(), 1);
    assert_eq!(
        stack.sandbox.resources("order").await.len(),
        2,
        "first fill and one refill"
    );
    let c = stack.sandbox.counters().await;
    assert_eq!(c["duplicate_side_effects"], json!({}), "{c}");
    assert_eq!(
        c["cross_journey_duplicates"],
        no_cross_journey_duplicates(),
        "{c}"
    );
    let retried: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM carepath.journey_history WHERE journey_id = $1 AND kind = 'step_retry_scheduled'",
    )
    .bind(id)
    .fetch_one(&stack.db.pool)
    .await
    .expect("history");
    assert!(
        retried > 0,
        "the outage was waited out (first wait: {waited})"
    );
    stack.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn timers_alerts_records_and_what_crosses_to_each_vendor() {
    let mut options = Options::default();
    options.consult.decision_sla = Duration::from_secs(1);
    options.consult.more_info_reminder = Duration::from_secs(1);
    options.consult.more_info_cancel = Duration::from_secs(2);
    let stack = Stack::start(options).await;

    // A stalled case: past the SLA an alert is raised, and the journey keeps waiting.
    let stalled = stack
        .start_consult("stalled", patient(10), "stall", 0)
        .await;
    // A patient who never answers: one reminder, then the consult is withdrawn.
    let silent = stack
        .start_consult("silent", patient(11), "more_info", 0)
        .await;
    stack.answer_patients(vec![silent]);
    // An answer to a round it was never asked is not taken for round 1's.
    let (status, body) = stack
        .post(
            &stack.product,
            &format!("/v1/journeys/{silent}/signals/patient_response"),
            &json!({ "event_id": "early", "payload": { "round": 7, "message": "hello?" } }),
        )
        .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    // An approval, recorded in the EHR and the CRM, shipped to an address
    // typed carelessly: the pharmacy receives it in canonical form.
    let mut careless = patient(12);
    careless["first_name"] = json!(format!(
        "  {} ",
        patient(12)["first_name"].as_str().unwrap_or("?")
    ));
    careless["address"] = json!({ "line1": " 12 Main St ", "line2": " Apt 4 ", "city": "Oakland ",
                                  "state": "ca", "postal_code": "946011234" });
    let approved = stack
        .start_consult("approved", careless, "approve", 0)
        .await;
    stack
        .wait_completed(&[silent, approved], Duration::from_secs(60))
        .await;

    let out = stack.output(silent).await;
    assert_eq!(out["outcome"], "cancelled_no_response", "{out}");
    let notes = stack.sandbox.resources("notification").await;
    let templates: Vec<&str> = notes
        .iter()
        .filter_map(|n| n["template"].as_str())
        .collect();
    assert!(templates.contains(&"more_info_reminder"), "{templates:?}");
    assert!(templates.contains(&"consult_cancelled"), "{templates:?}");

    the_stalled_case_raised_one_alert(&stack, stalled).await;

    the_pharmacy_and_the_network_got_canonical_input(&stack, approved).await;

    the_ehr_got_valid_fhir_and_the_crm_no_phi(&stack).await;

    let (status, _) = stack
        .post(
            &stack.ops,
            &format!("/v1/journeys/{stalled}/cancel"),
            &json!({ "reason": "clinician unreachable" }),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    stack.stop().await;
}

/// The EHR received FHIR R4 that an independent validator accepts; the
/// CRM learnt that two consults closed and nothing about who or what.
async fn the_ehr_got_valid_fhir_and_the_crm_no_phi(stack: &Stack) {
    let mut fhir = Vec::new();
    for kind in ["Encounter", "QuestionnaireResponse", "MedicationRequest"] {
        let held = stack.sandbox.resources(&format!("fhir_{kind}")).await;
        assert!(!held.is_empty(), "no {kind} recorded");
        fhir.extend(held.into_iter().map(|mut r| {
            // The sandbox's own bookkeeping is not part of the resource.
            if let Some(o) = r.as_object_mut() {
                o.remove("id");
                o.remove("created_at");
            }
            r
        }));
    }
    assert_validates(&fhir, true);
    let mut broken = fhir[0].clone();
    broken.as_object_mut().map(|o| o.remove("status"));
    assert_validates(&[broken], false);

    // The CRM learns that a consult closed, for which offering, and nothing
    // about who or what: no name, birthday, contact, answer or decision.
    let events = stack.sandbox.resources("crm_event").await;
    assert_eq!(events.len(), 2, "silent and approved closed");
    let crossed = serde_json::to_string(&events).expect("json");
    for i in [11, 12] {
        let p = patient(i);
        for field in ["first_name", "last_name", "date_of_birth", "email", "phone"] {
            let v = p[field].as_str().expect("text");
            assert!(
                !crossed.contains(v),
                "{field} crossed to the CRM: {crossed}"
            );
        }
        assert!(!crossed.contains(p["address"]["line1"].as_str().expect("text")));
    }
    for clinical in [
        "glp1",
        "approve",
        "decline",
        "prescription",
        "weight",
        "lose_weight",
        "more_info",
    ] {
        assert!(
            !crossed.contains(clinical),
            "{clinical:?} crossed to the CRM: {crossed}"
        );
    }
}

/// The approved journey's order went to the pharmacy in canonical form,
/// and its case to the network in the wording of the questionnaire version
/// the patient answered, with the photo ID; no duplicate anywhere.
async fn the_pharmacy_and_the_network_got_canonical_input(stack: &Stack, approved: Uuid) {
    let orders = stack.sandbox.resources("order").await;
    assert_eq!(orders.len(), 1, "{orders:?}");
    assert_eq!(
        orders[0]["ship_to"],
        json!({ "line1": "12 Main St", "line2": "Apt 4", "city": "Oakland",
                "state": "CA", "postal_code": "94601-1234" }),
        "{orders:?}"
    );
    assert_eq!(
        orders[0]["patient_name"],
        json!({ "first_name": patient(12)["first_name"], "last_name": patient(12)["last_name"] }),
        "{orders:?}"
    );
    assert_eq!(orders[0]["fill"], 0);
    assert_eq!(
        orders[0]["external_id"],
        format!("{approved}:fill:0"),
        "{orders:?}"
    );
    let c = stack.sandbox.counters().await;
    assert_eq!(c["duplicate_side_effects"], json!({}), "{c}");
    assert_eq!(
        c["cross_journey_duplicates"],
        no_cross_journey_duplicates(),
        "{c}"
    );

    // The case went out in the wording of the version the patient answered
    // (v1), though v2 is the latest.
    let cases = stack.sandbox.resources("case").await;
    let case = cases
        .iter()
        .find(|c| c["external_id"] == approved.to_string())
        .expect("the approved journey's case");
    assert_eq!(case["questionnaire"]["version"], 1);
    assert_eq!(
        case["answers"][0]["question"], "How tall are you (cm)?",
        "{case}"
    );
    let files = stack.sandbox.resources("case_file").await;
    assert!(
        files.iter().any(|f| f["case_id"] == case["id"]),
        "photo ID attached"
    );
}

/// Past the decision SLA the stalled case's journey raised one alert (a
/// metric too) and still waits for the clinician.
async fn the_stalled_case_raised_one_alert(stack: &Stack, stalled: Uuid) {
    wait_for("the SLA alert", Duration::from_secs(30), || async {
        (count(
            &stack.db.pool,
            "SELECT count(*) FROM carepath.alerts WHERE kind = 'decision_sla_exceeded'",
        )
        .await
            >= 1)
            .then_some(())
    })
    .await;
    let stalled_alerts: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM carepath.alerts WHERE kind = 'decision_sla_exceeded' AND journey_id = $1",
    )
    .bind(stalled)
    .fetch_one(&stack.db.pool)
    .await
    .expect("alerts");
    assert_eq!(
        stalled_alerts, 1,
        "one alert for the stalled case's turn, however long it waits"
    );
    assert_eq!(status_of(&stack.db.pool, stalled).await, "waiting");
    assert_eq!(
        stack.phase_and_wait(stalled).await.1.as_deref(),
        Some("signal:clinical.case"),
        "still waiting for the clinician"
    );
    stack
        .metric_becomes(
            "carepath_alerts_total{kind=\"decision_sla_exceeded\"} ",
            |raised| raised >= 1.0,
        )
        .await;
}

fn assert_validates(resources: &[Value], valid: bool) {
    let path = std::env::temp_dir().join(format!("carepath-fhir-{}.json", Uuid::new_v4().simple()));
    std::fs::write(&path, serde_json::to_vec(resources).expect("json")).expect("write");
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/../tests/fhir_validate.py");
    let Some(python) = tools::or_skip("FHIR validation", tools::python()) else {
        return;
    };
    let out = std::process::Command::new(python)
        .arg(script)
        .arg(&path)
        .output()
        .expect("the test virtualenv's python");
    let _ = std::fs::remove_file(&path);
    let text =
        String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr);
    assert_ne!(
        out.status.code(),
        Some(2),
        "the FHIR validator is missing: {text}"
    );
    assert_eq!(out.status.success(), valid, "{text}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_intake_and_bad_answers_are_refused_by_field_and_change_nothing() {
    let stack = Stack::start(Options::default()).await;
    bad_start_requests_are_refused_by_field(&stack).await;

    // A good journey, and an answer without text.
    let id = stack.start_consult("good", patient(2), "stall", 0).await;
    let (status, body) = stack
        .post(
            &stack.product,
            &format!("/v1/journeys/{id}/signals/patient_response"),
            &json!({ "event_id": "e1", "payload": { "message": "  " } }),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(body["error"]["fields"][0]["path"], "payload.message");
    assert_eq!(body["error"]["fields"][1]["path"], "payload.round");
    // Product code cannot speak for an operator or a vendor.
    for name in ["patient_match", "clinical.case", "pharmacy.order"] {
        let (status, body) = stack
            .post(
                &stack.product,
                &format!("/v1/journeys/{id}/signals/{name}"),
                &json!({ "event_id": "forged", "payload": { "type": "case.declined",
                          "action": "link", "patient_id": Uuid::new_v4() } }),
            )
            .await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{name}: {body}");
        assert_eq!(body["error"]["fields"][0]["path"], "name", "{body}");
    }
    assert_eq!(
        count(&stack.db.pool, "SELECT count(*) FROM carepath.signals").await,
        0
    );
    let mut by_status = BTreeMap::new();
    for (s, n) in statuses(&stack.db.pool).await {
        by_status.insert(s, n);
    }
    // The good journey, and the one started naming the retired `scenario`.
    assert_eq!(by_status.values().sum::<i64>(), 2, "{by_status:?}");
    stack.stop().await;
}

/// Start requests with bad values or an unknown field are refused naming
/// each field, without echoing a value, and store nothing; the retired
/// `scenario` is accepted and dropped.
async fn bad_start_requests_are_refused_by_field(stack: &Stack) {
    let mut bad = consult_input(patient(1), 1);
    bad["patient"]["date_of_birth"] = json!("2012-05-01");
    bad["patient"]["address"]["state"] = json!("PR");
    bad["patient"]["phone"] = json!("555");
    bad["questionnaire"]["answers"]["weight_kg"] = json!("heavy");
    let (status, body) = stack
        .post(
            &stack.product,
            "/v1/journeys",
            &json!({ "workflow": "async_consult", "idempotency_key": "bad", "input": bad }),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    let paths: Vec<&str> = body["error"]["fields"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|f| f["path"].as_str())
        .collect();
    let mut sorted = paths.clone();
    sorted.sort();
    assert_eq!(
        sorted,
        vec![
            "input.patient.address.state",
            "input.patient.date_of_birth",
            "input.patient.phone",
            "input.questionnaire.answers.weight_kg"
        ],
        "{body}"
    );
    // An unknown field is refused by its path.
    let mut ssn = consult_input(patient(1), 1);
    ssn["patient"]["ssn"] = json!("123-45-6789");
    for (key, input, path) in [("bad2", ssn, "input.patient.ssn")] {
        let (status, body) = stack
            .post(
                &stack.product,
                "/v1/journeys",
                &json!({ "workflow": "async_consult", "idempotency_key": key, "input": input }),
            )
            .await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
        assert_eq!(body["error"]["fields"][0]["path"], path, "{body}");
        assert!(
            !body.to_string().contains("123-45-6789"),
            "the error does not echo input"
        );
    }
    assert_eq!(
        count(&stack.db.pool, "SELECT count(*) FROM carepath.journeys").await,
        0
    );
    // `scenario`, retired, is accepted from clients written against the old
    // contract and dropped at the door: never stored, never sent to the network.
    let mut retired = consult_input(patient(1), 1);
    retired["scenario"] = json!("approve");
    let (status, body) = stack
        .post(
            &stack.product,
            "/v1/journeys",
            &json!({ "workflow": "async_consult", "idempotency_key": "retired", "input": retired }),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let stored: i64 = count(
        &stack.db.pool,
        "SELECT count(*) FROM carepath.journeys WHERE input ? 'scenario'",
    )
    .await;
    assert_eq!(stored, 0, "the retired field is not stored");
}

/// The journeys started for one patient in the re-submission tests.
struct Resubmitted {
    patient: usize,
    journeys: Vec<Uuid>,
}

/// `patients` patients each send two or three intakes for the same offering
/// within about a second, under different keys — every other patient's
/// second intake at the same instant as the first.
async fn resubmit(stack: &std::sync::Arc<Stack>, patients: usize) -> Vec<Resubmitted> {
    let mut starts = Vec::new();
    for i in 0..patients {
        let stack = stack.clone();
        starts.push(tokio::spawn(async move {
            let send = |n: usize| {
                let stack = stack.clone();
                async move {
                    stack
                        .start_consult(&format!("p{i}-intake-{n}"), patient(i), "approve", 0)
                        .await
                }
            };
            let mut journeys = Vec::new();
            if i % 2 == 0 {
                let (a, b) = tokio::join!(send(0), send(1));
                journeys.extend([a, b]);
            } else {
                journeys.push(send(0).await);
                tokio::time::sleep(Duration::from_millis(300)).await;
                journeys.push(send(1).await);
            }
            if i % 3 == 0 {
                tokio::time::sleep(Duration::from_millis(500)).await;
                journeys.push(send(2).await);
            }
            Resubmitted {
                patient: i,
                journeys,
            }
        }));
    }
    let mut sent = Vec::new();
    for s in starts {
        sent.push(s.await.expect("intakes"));
    }
    sent
}

/// Every patient ended with one approved consult and the rest of their
/// intakes merged into it; the vendors hold one case, one prescription and
/// one order per patient, and each re-submission reached the clinician once.
/// The approved journeys' outputs, by patient.
async fn one_consult_each(stack: &Stack, patients: &[Resubmitted]) -> BTreeMap<usize, Value> {
    let all: Vec<Uuid> = patients.iter().flat_map(|p| p.journeys.clone()).collect();
    let mut approved = BTreeMap::new();
    for p in patients {
        let mut open = None;
        let mut merged = Vec::new();
        for id in &p.journeys {
            let out = stack.output(*id).await;
            match out["outcome"].as_str() {
                Some("approved") => {
                    assert!(
                        open.is_none(),
                        "patient {}: two consults approved",
                        p.patient
                    );
                    open = Some((*id, out));
                }
                Some("merged") => merged.push((*id, out)),
                _ => panic!("patient {}: unexpected outcome {out}", p.patient),
            }
        }
        let (open_id, open_out) =
            open.unwrap_or_else(|| panic!("patient {}: no consult", p.patient));
        for (id, out) in &merged {
            assert_eq!(out["merged_into"], json!(open_id), "{out}");
            assert_eq!(out["case_id"], open_out["case_id"], "{out}");
            let story = stack.story(*id).await;
            assert!(
                story.contains(&"attach_to_open_consult".to_owned())
                    && !story.contains(&"submit_case".to_owned()),
                "{story:?}"
            );
            // The product reads the outcome where it reads everything else.
            let (_, view) = stack
                .get(&stack.product, &format!("/v1/journeys/{id}"))
                .await;
            assert_eq!(view["output"]["merged_into"], json!(open_id), "{view}");
        }
        assert_eq!(merged.len(), p.journeys.len() - 1);
        approved.insert(p.patient, open_out);
    }
    let n = patients.len();
    let held = |kind: &'static str| stack.sandbox.resources(kind);
    assert_eq!(held("case").await.len(), n, "one case per patient");
    assert_eq!(
        held("prescription").await.len(),
        n,
        "one prescription per patient"
    );
    assert_eq!(
        held("order").await.len(),
        n,
        "one order per prescription fill"
    );
    let attached = held("message")
        .await
        .into_iter()
        .filter(|m| m["from"] == "partner")
        .count();
    assert_eq!(
        attached,
        all.len() - n,
        "each re-submission reached the clinician once"
    );
    let c = stack.sandbox.counters().await;
    assert_eq!(c["duplicate_side_effects"], json!({}), "{c}");
    assert_eq!(
        c["cross_journey_duplicates"],
        no_cross_journey_duplicates(),
        "{c}"
    );
    approved
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_patient_who_submits_again_gets_one_consult_one_case_one_prescription() {
    let mut options = Options::default();
    options.sandbox.webhooks.duplicate_rate = 0.3;
    options.sandbox.webhooks.max_delay_ms = 300;
    // The clinician takes a while, so the re-submissions land while the first
    // consult is open; refills are a minute apart, so the prescription stays
    // active for the intake sent after the approval.
    options.sandbox.clinician.decide_ms = 10_000;
    options.consult.refill_interval = Duration::from_secs(60);
    let stack = std::sync::Arc::new(Stack::start(options).await);
    let patients = resubmit(&stack, 50).await;
    let all: Vec<Uuid> = patients.iter().flat_map(|p| p.journeys.clone()).collect();
    stack.wait_completed(&all, Duration::from_secs(180)).await;
    let approved = one_consult_each(&stack, &patients).await;
    let held = |kind: &'static str| stack.sandbox.resources(kind);

    // An intake after the approval, while the prescription is active, waits
    // for a person, showing them the prescription.
    let mut after = Vec::new();
    for i in [1usize, 2, 4] {
        let id = stack
            .start_consult(&format!("p{i}-after-approval"), patient(i), "decline", 0)
            .await;
        after.push((i, id));
    }
    for (i, id) in &after {
        let pool = &stack.db.pool;
        wait_for(
            "the intake to wait for review",
            Duration::from_secs(30),
            || async move {
                let w: Option<String> =
                    sqlx::query_scalar("SELECT waiting_for FROM carepath.journeys WHERE id = $1")
                        .bind(id)
                        .fetch_one(pool)
                        .await
                        .ok()?;
                (w.as_deref() == Some("signal:intake_review")).then_some(())
            },
        )
        .await;
        assert_eq!(stack.phase_and_wait(*id).await.0, "active_treatment_review");
        let (status, review) = stack
            .get(&stack.ops, &format!("/v1/journeys/{id}/intake-review"))
            .await;
        assert_eq!(status, StatusCode::OK, "{review}");
        assert_eq!(review["kind"], "active_treatment", "{review}");
        assert_eq!(
            review["prescription"]["prescription_id"], approved[i]["prescription_id"],
            "{review}"
        );
        assert_eq!(review["actions"], json!(["proceed", "close"]), "{review}");
    }
    an_operator_closes_one_and_lets_one_proceed(&stack, &after).await;
    // The third still waits: nothing reaches a vendor without a decision.
    assert_eq!(
        stack.phase_and_wait(after[2].1).await.1.as_deref(),
        Some("signal:intake_review")
    );
    assert_eq!(
        held("case").await.len(),
        51,
        "only the proceeded intake opened a case"
    );
    let c = stack.sandbox.counters().await;
    assert_eq!(
        c["cross_journey_duplicates"],
        no_cross_journey_duplicates(),
        "{c}"
    );
    match std::sync::Arc::try_unwrap(stack) {
        Ok(stack) => stack.stop().await,
        Err(_) => panic!("the stack is still shared"),
    }
}

/// Of the intakes held for review after an approval, an operator closes
/// the first (attach does not apply) and lets the second proceed to a
/// consult of its own, each with the reason on record.
async fn an_operator_closes_one_and_lets_one_proceed(stack: &Stack, after: &[(usize, Uuid)]) {
    let (status, b) = stack
        .post(
            &stack.ops,
            &format!("/v1/journeys/{}/intake-review", after[0].1),
            &json!({ "action": "attach", "reason": "same thing" }),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{b}");
    let shown = stack.ctl(&["intake-review", &after[0].1.to_string()]).await;
    assert!(shown.contains("active_treatment"), "{shown}");
    stack
        .ctl(&[
            "intake-review",
            &after[0].1.to_string(),
            "--close",
            "--reason",
            "already on treatment; told the patient",
        ])
        .await;
    let (status, b) = stack
        .post(
            &stack.ops,
            &format!("/v1/journeys/{}/intake-review", after[1].1),
            &json!({ "action": "proceed", "reason": "dose change requested by the clinician" }),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{b}");
    let decided = [after[0].1, after[1].1];
    stack
        .wait_completed(&decided, Duration::from_secs(60))
        .await;
    assert_eq!(
        stack.output(after[0].1).await["outcome"],
        "closed_by_review"
    );
    assert_eq!(stack.output(after[1].1).await["outcome"], "declined");
    let history: Vec<String> = sqlx::query_scalar(
        "SELECT detail->>'reason' FROM carepath.journey_history WHERE journey_id = $1 AND kind = 'decide'",
    )
    .bind(after[0].1)
    .fetch_all(&stack.db.pool)
    .await
    .expect("history");
    assert_eq!(history, vec!["already on treatment; told the patient"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn resubmissions_stay_one_consult_when_a_worker_is_killed_during_the_claim() {
    let mut options = Options::default();
    options.sandbox.webhooks.duplicate_rate = 0.3;
    options.sandbox.webhooks.max_delay_ms = 300;
    options.sandbox.clinician.decide_ms = 6000;
    options.workers = 0;
    let stack = std::sync::Arc::new(Stack::start(options).await);
    let config = write_config(&format!(
        "{}[consult]\ndecision_sla = \"60s\"\nmore_info_reminder = \"60s\"\n\
         more_info_cancel = \"120s\"\nrefill_interval = \"60s\"\nfulfilment_check = \"30s\"\n",
        stack.sandbox.all_vendors_toml()
    ));
    let config = config.to_string_lossy().to_string();
    let env = [("CAREPATH_CONFIG", config.as_str())];
    let spawn = |name: &str| WorkerProcess::spawn_with(&stack.db.url, name, &env);
    let mut workers = vec![spawn("claim-a"), spawn("claim-b")];

    let sending = {
        let stack = stack.clone();
        tokio::spawn(async move { resubmit(&stack, 30).await })
    };
    // Kill a worker as soon as journeys are claiming, and once more while
    // the rest still are; each time a replacement starts.
    let claims = |n: i64| {
        let pool = stack.db.pool.clone();
        async move {
            wait_for(
                "journeys to claim consults",
                Duration::from_secs(60),
                || {
                    let pool = pool.clone();
                    async move {
                        let claimed: i64 = sqlx::query_scalar(
                            "SELECT count(*) FROM carepath.journey_history
                          WHERE kind = 'step_completed' AND detail->>'step' = 'claim_consult'",
                        )
                        .fetch_one(&pool)
                        .await
                        .ok()?;
                        (claimed >= n).then_some(())
                    }
                },
            )
            .await;
        }
    };
    claims(1).await;
    workers[0].kill9();
    workers[0] = spawn("claim-c");
    claims(30).await;
    workers[1].kill9();
    workers[1] = spawn("claim-d");

    let patients = sending.await.expect("intakes");
    let all: Vec<Uuid> = patients.iter().flat_map(|p| p.journeys.clone()).collect();
    stack.wait_completed(&all, Duration::from_secs(180)).await;
    one_consult_each(&stack, &patients).await;
    workers.iter_mut().for_each(WorkerProcess::assert_alive);
    drop(workers);
    let _ = std::fs::remove_file(&config);
    match std::sync::Arc::try_unwrap(stack) {
        Ok(stack) => stack.stop().await,
        Err(_) => panic!("the stack is still shared"),
    }
}

/// Waits until journey `id` waits for `what`.
async fn wait_waiting_for(stack: &Stack, id: Uuid, what: &str) {
    let pool = &stack.db.pool;
    wait_for(
        &format!("journey {id} to wait for {what}"),
        Duration::from_secs(30),
        || async move {
            let w: Option<String> =
                sqlx::query_scalar("SELECT waiting_for FROM carepath.journeys WHERE id = $1")
                    .bind(id)
                    .fetch_one(pool)
                    .await
                    .ok()?;
            (w.as_deref() == Some(what)).then_some(())
        },
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_intake_never_merges_into_a_consult_nobody_will_act_on() {
    let mut options = Options::default();
    options.sandbox.clinician.decide_ms = 5000;
    let stack = Stack::start(options).await;
    // The first intake stops before it has a case: the network is down and
    // an operator pauses it. It keeps the patient's consult, and nobody will
    // act on it until someone resumes it.
    stack
        .sandbox
        .fault(json!({ "vendor": "clinical", "outage_secs": 600.0 }))
        .await;
    let first = stack
        .start_consult("stuck-1", patient(7), "approve", 0)
        .await;
    wait_waiting_for(&stack, first, "vendor:clinical").await;
    let (status, b) = stack
        .post(
            &stack.ops,
            &format!("/v1/journeys/{first}/pause"),
            &json!({ "reason": "looking into the network's answers" }),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{b}");
    stack
        .sandbox
        .fault(json!({ "vendor": "clinical", "outage_secs": 0.0 }))
        .await;

    // The patient tries again: a person decides, rather than a merge into a
    // stopped consult or a wait for a case that may never come.
    let second = stack
        .start_consult("stuck-2", patient(7), "approve", 0)
        .await;
    wait_waiting_for(&stack, second, "signal:intake_review").await;
    assert_eq!(
        stack.phase_and_wait(second).await.0,
        "duplicate_intake_review"
    );
    an_operator_lets_it_proceed(&stack, first, second).await;
    wait_waiting_for(&stack, second, "signal:clinical.case").await;

    // A third intake while the proceeded consult is open merges into it (the
    // operator's consult is recorded like any other, and a live consult is
    // preferred to a stopped one).
    let third = stack
        .start_consult("stuck-3", patient(7), "approve", 0)
        .await;
    stack
        .wait_completed(&[second, third], Duration::from_secs(60))
        .await;
    assert_eq!(stack.output(second).await["outcome"], "approved");
    let merged = stack.output(third).await;
    assert_eq!(
        (&merged["outcome"], &merged["merged_into"]),
        (&json!("merged"), &json!(second)),
        "{merged}"
    );
    assert_eq!(stack.sandbox.resources("case").await.len(), 1);
    let c = stack.sandbox.counters().await;
    assert_eq!(
        c["cross_journey_duplicates"],
        no_cross_journey_duplicates(),
        "{c}"
    );
    stack.stop().await;
}

/// The review of `second` names the paused consult `first` and offers
/// attach, proceed and close; the operator lets it proceed.
async fn an_operator_lets_it_proceed(stack: &Stack, first: Uuid, second: Uuid) {
    let (_, review) = stack
        .get(&stack.ops, &format!("/v1/journeys/{second}/intake-review"))
        .await;
    assert_eq!(review["kind"], "duplicate_intake", "{review}");
    assert_eq!(review["open_journey_id"], json!(first), "{review}");
    assert_eq!(
        review["actions"],
        json!(["attach", "proceed", "close"]),
        "{review}"
    );
    let (status, b) = stack
        .post(
            &stack.ops,
            &format!("/v1/journeys/{second}/intake-review"),
            &json!({ "action": "proceed", "reason": "the first intake is paused" }),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{b}");
}
