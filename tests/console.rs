//! The operator console (`/console`) in a real headless Chromium, against
//! the real API, workers, sandbox vendors and PostgreSQL: an operator signs
//! in, finds a journey by its case id, reads why it waits, pauses and
//! resumes it, reveals a step's output with a reason, rewinds a journey,
//! resolves a patient-match review, replays a parked webhook and pauses in
//! bulk after a preview. Screenshots of each page are saved under
//! `target/tmp/console-screenshots`. And, over plain HTTP: the session and
//! CSRF rules a browser cannot be made to break.

mod support;

use std::time::Duration;

use fantoccini::Locator;
use reqwest::StatusCode;
use serde_json::{Value, json};
use support::browser::Browser;
use support::consult_stack::*;
use support::tools::or_skip;
use support::*;
use uuid::Uuid;

async fn indexed(stack: &Stack, id: Uuid, kind: &str) -> String {
    wait_for(
        &format!("the journey's {kind}"),
        Duration::from_secs(60),
        || async {
            sqlx::query_scalar(
                "SELECT key FROM carepath.journey_keys WHERE journey_id = $1 AND kind = $2",
            )
            .bind(id)
            .bind(kind)
            .fetch_optional(&stack.db.pool)
            .await
            .ok()
            .flatten()
        },
    )
    .await
}

async fn history_kinds(stack: &Stack, id: Uuid) -> Vec<Value> {
    let (status, body) = stack
        .get(&stack.ops, &format!("/v1/journeys/{id}/history"))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body["events"].as_array().cloned().unwrap_or_default()
}

async fn status_of(stack: &Stack, id: Uuid) -> String {
    let (_, body) = stack.get(&stack.ops, &format!("/v1/journeys/{id}")).await;
    body["status"].as_str().unwrap_or_default().to_owned()
}

/// Clicks the submit button of the form whose action ends with `action`.
async fn press(browser: &Browser, action: &str) {
    browser
        .submit(&format!("form[action$='{action}'] button[type=submit]"))
        .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_operator_finds_understands_and_repairs_journeys_in_the_browser() {
    let test = "an_operator_finds_understands_and_repairs_journeys_in_the_browser";
    let Some(browser) = or_skip(test, Browser::start().await) else {
        return;
    };
    let stack = Stack::start(Options::patient_vendors()).await;
    let maria = patient(7);
    let stalled = stack
        .start_consult("console-stalled", maria.clone(), "stall", 0)
        .await;
    let done = stack
        .start_consult("console-done", patient(8), "approve", 0)
        .await;
    let case = indexed(&stack, stalled, "case").await;
    stack
        .wait_waiting_for(stalled, "signal:clinical.case")
        .await;
    stack.wait_completed(&[done], Duration::from_secs(60)).await;

    signs_in(&browser, &stack).await;
    let page = finds_by_case_and_reads_why(&browser, &stack, stalled, &case).await;
    pauses_and_resumes(&browser, &stack, stalled, &page).await;
    reveals_with_a_reason(&browser, &stack, stalled, &page).await;
    rewinds(&browser, &stack, done).await;
    resolves_a_review(&browser, &stack, &maria).await;
    replays_a_parked_webhook(&browser, &stack, &case).await;
    pauses_in_bulk(&browser, &stack, stalled).await;
    refuses_a_form_without_its_csrf_token(&browser, &stack, stalled).await;
    browser.close().await;
    stack.stop().await;
}

async fn signs_in(browser: &Browser, stack: &Stack) {
    browser.open(&format!("{}/console", stack.api)).await;
    let url = browser.client.current_url().await.expect("url");
    assert!(url.path().ends_with("/console/sign-in"), "{url}");
    browser.screenshot("sign-in").await;
    browser.fill("#token", &stack.product).await;
    browser
        .submit("form[action='/console/sign-in'] button")
        .await;
    assert!(
        browser
            .text()
            .await
            .contains("Product tokens cannot sign in")
    );
    browser.fill("#token", &stack.ops).await;
    browser
        .submit("form[action='/console/sign-in'] button")
        .await;
    let text = browser.text().await;
    assert!(
        text.contains("Signed in as ops") && text.contains("Journeys by status"),
        "{text}"
    );
    browser.screenshot("overview").await;
}

/// Searches by case id; lands on the journey's page; its URL and title carry no identifier but the journey's.
async fn finds_by_case_and_reads_why(
    browser: &Browser,
    stack: &Stack,
    id: Uuid,
    case: &str,
) -> String {
    browser
        .open(&format!("{}/console/journeys", stack.api))
        .await;
    browser.fill("#q", case).await;
    browser
        .submit("form[action='/console/journeys/search'] button")
        .await;
    let url = browser.client.current_url().await.expect("url");
    assert_eq!(
        url.path(),
        format!("/console/journeys/{id}"),
        "{}",
        browser.client.source().await.unwrap_or_default()
    );
    assert!(!url.as_str().contains(case));
    let title = browser.client.title().await.expect("title");
    assert!(
        title.starts_with("Journey …") && !title.contains(case),
        "{title}"
    );
    let text = browser.text().await;
    assert!(
        text.contains("signal clinical.case"),
        "why it waits, in words: {text}"
    );
    assert!(text.contains("Hash chain verified"), "{text}");
    browser.screenshot("journey").await;
    // On a tablet the page fits its width: nothing scrolls sideways.
    browser
        .client
        .set_window_size(768, 1000)
        .await
        .expect("resize");
    browser.open(url.as_str()).await;
    let overflow = browser
        .client
        .execute(
            "return document.documentElement.scrollWidth - window.innerWidth",
            vec![],
        )
        .await
        .expect("measure");
    assert!(
        overflow.as_i64().unwrap_or(i64::MAX) <= 0,
        "the page is {overflow} px too wide at 768 px"
    );
    browser.screenshot("journey-tablet").await;
    browser
        .client
        .set_window_size(1280, 1000)
        .await
        .expect("resize");
    url.to_string()
}

async fn pauses_and_resumes(browser: &Browser, stack: &Stack, id: Uuid, page: &str) {
    browser
        .fill("#pause-reason", "ticket 4711: patient asked us to hold")
        .await;
    press(browser, "/act/pause").await;
    assert!(browser.text().await.contains("Done: pause"));
    assert_eq!(status_of(stack, id).await, "paused");
    browser
        .fill("#resume-reason", "ticket 4711: patient ready again")
        .await;
    press(browser, "/act/resume").await;
    assert_ne!(status_of(stack, id).await, "paused");
    browser.open(page).await;
    let text = browser.text().await;
    for reason in ["patient asked us to hold", "patient ready again"] {
        assert!(
            text.contains(reason),
            "the history shows {reason:?}: {text}"
        );
    }
    let events = history_kinds(stack, id).await;
    for kind in ["pause", "resume"] {
        let e = events
            .iter()
            .find(|e| e["kind"] == kind)
            .unwrap_or_else(|| panic!("no {kind}"));
        assert_eq!(e["actor"], "token:ops");
    }
}

async fn reveals_with_a_reason(browser: &Browser, stack: &Stack, id: Uuid, page: &str) {
    browser.open(page).await;
    let key = browser
        .wait(Locator::Css("#reveal-step option"))
        .await
        .attr("value")
        .await
        .expect("attr")
        .expect("a redacted step");
    browser
        .fill(
            "#reveal-reason",
            "ticket 4711: confirm the shipping address",
        )
        .await;
    press(browser, "/reveal").await;
    let text = browser.text().await;
    assert!(text.contains("this read is recorded"), "{text}");
    let url = browser.client.current_url().await.expect("url");
    assert!(!url.as_str().contains("reason"), "{url}");
    let events = history_kinds(stack, id).await;
    let read = events
        .iter()
        .find(|e| e["kind"] == "output_read")
        .expect("the read is audited");
    assert_eq!(read["actor"], "token:ops");
    assert_eq!(
        read["detail"]["reason"],
        "ticket 4711: confirm the shipping address"
    );
    assert_eq!(read["detail"]["step"], key.as_str());
}

async fn rewinds(browser: &Browser, stack: &Stack, id: Uuid) {
    let page = format!("{}/console/journeys/{id}", stack.api);
    browser.open(&page).await;
    assert!(browser.text().await.contains("Irreversible at the vendor"));
    // Across the prescription: refused, with the API's reason.
    let step = browser.wait(Locator::Css("#rewind-step")).await;
    step.select_by_value("upload_photo_id")
        .await
        .expect("select");
    browser.fill("#rewind-reason", "redo the photo").await;
    browser
        .submit_confirming("form[action$='/act/rewind'] button[type=submit]")
        .await;
    let text = browser.text().await;
    assert!(
        text.contains("409") && text.contains("place_order"),
        "{text}"
    );
    let step = browser.wait(Locator::Css("#rewind-step")).await;
    step.select_by_value("place_order").await.expect("select");
    browser
        .fill("#rewind-reason", "the EHR lost our records")
        .await;
    browser
        .submit_confirming("form[action$='/act/rewind'] button[type=submit]")
        .await;
    assert!(browser.text().await.contains("Done: rewind"));
    let events = history_kinds(stack, id).await;
    assert!(
        events
            .iter()
            .any(|e| e["kind"] == "rewind" && e["actor"] == "token:ops")
    );
}

async fn resolves_a_review(browser: &Browser, stack: &Stack, maria: &Value) {
    let mut namesake = maria.clone();
    namesake["external_id"] = json!("brand-other-7");
    namesake["phone"] = json!("+13125550777");
    namesake["email"] = json!("namesake7@elsewhere.example");
    namesake["address"]["line1"] = json!("77 Harbor Boulevard");
    namesake["address"]["postal_code"] = json!("60601");
    let id = stack
        .start_consult("console-namesake", namesake, "decline", 0)
        .await;
    wait_for("the review", Duration::from_secs(60), || async {
        let (phase, _) = stack.phase_and_wait(id).await;
        (phase == "patient_match_review").then_some(())
    })
    .await;
    browser
        .open(&format!("{}/console/reviews", stack.api))
        .await;
    browser
        .submit(&format!("a[href='/console/reviews/{id}']"))
        .await;
    assert!(browser.text().await.contains("how each field compared"));
    browser.screenshot("review").await;
    browser
        .fill("#people-reason", "ticket 4712: same person?")
        .await;
    press(browser, "/people").await;
    let text = browser.text().await;
    assert!(
        text.contains("Incoming") && text.contains("Candidate"),
        "{text}"
    );
    browser.screenshot("review-people").await;
    // A patient the review does not show cannot be linked (the API refuses
    // what the console would never offer).
    let (_, review) = stack
        .get(&stack.ops, &format!("/v1/journeys/{id}/patient-match"))
        .await;
    let shown: Vec<Uuid> = review["candidates"]
        .as_array()
        .map(|c| {
            c.iter()
                .filter_map(|c| c["patient_id"].as_str()?.parse().ok())
                .collect()
        })
        .unwrap_or_default();
    let stranger: Uuid =
        sqlx::query_scalar("SELECT id FROM carepath.patients WHERE id <> ALL($1) LIMIT 1")
            .bind(&shown)
            .fetch_one(&stack.db.pool)
            .await
            .expect("another patient");
    let (status, body) = stack
        .post(
            &stack.ops,
            &format!("/v1/journeys/{id}/patient-match"),
            &json!({ "action": "link", "patient_id": stranger, "reason": "wrong chart" }),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(body["error"]["fields"][0]["path"], "patient_id", "{body}");
    browser.click("input[name=choice][value=create]").await;
    browser
        .fill("#decide-reason", "different birth town per the patient")
        .await;
    press(browser, "/decide").await;
    assert!(browser.text().await.contains("Done: review"));
    let events = history_kinds(stack, id).await;
    assert!(events.iter().any(|e| e["kind"] == "match_people_read"));
    wait_for(
        "the journey past review",
        Duration::from_secs(60),
        || async {
            let (phase, _) = stack.phase_and_wait(id).await;
            (phase != "patient_match_review").then_some(())
        },
    )
    .await;
}

async fn replays_a_parked_webhook(browser: &Browser, stack: &Stack, case: &str) {
    let event = json!({ "event_id": "console-parked", "type": "case approved\u{1}.x", "data": { "case_id": case } });
    let body = event.to_string();
    let signature = carepath_activities::webhook_signature::sign(
        b"test-secret",
        chrono::Utc::now().timestamp(),
        body.as_bytes(),
    );
    let resp = stack
        .http
        .post(format!("{}/webhooks/clinical", stack.api))
        .header(carepath_activities::webhook_signature::HEADER, signature)
        .header("content-type", "application/json")
        .body(body)
        .send()
        .await
        .expect("webhook");
    assert_eq!(resp.status(), StatusCode::OK);
    let parked: i64 = wait_for("the event to be parked", Duration::from_secs(30), || async {
        sqlx::query_scalar("SELECT id FROM carepath.webhook_inbox WHERE dedup_key = 'console-parked' AND status = 'parked'")
            .fetch_optional(&stack.db.pool)
            .await
            .ok()
            .flatten()
    })
    .await;
    browser
        .open(&format!("{}/console/inbox?status=parked", stack.api))
        .await;
    browser.click(&format!("#sel-{parked}")).await;
    browser
        .fill("#inbox-reason", "vendor fixed the event type")
        .await;
    press(browser, "/console/inbox/act").await;
    assert!(
        browser
            .text()
            .await
            .contains("You are about to replay 1 event")
    );
    press(browser, "/console/inbox/act").await;
    assert!(
        browser.text().await.contains("replay: 1 done"),
        "{}",
        browser.text().await
    );
    let audited: i64 = sqlx::query_scalar("SELECT count(*) FROM carepath.operator_audit WHERE detail->>'reason' = 'vendor fixed the event type'")
        .fetch_one(&stack.db.pool)
        .await
        .expect("audit");
    assert!(audited >= 1);
}

async fn pauses_in_bulk(browser: &Browser, stack: &Stack, stalled: Uuid) {
    let (phase, _) = stack.phase_and_wait(stalled).await;
    browser.open(&format!("{}/console/bulk", stack.api)).await;
    browser
        .wait(Locator::Css("#b-action"))
        .await
        .select_by_value("pause")
        .await
        .expect("select");
    browser.fill("#b-phase", &phase).await;
    browser.fill("#b-status", "waiting").await;
    browser
        .fill("#b-reason", "clinical network maintenance window")
        .await;
    press(browser, "/console/bulk/preview").await;
    let matched = browser
        .wait(Locator::Css("#matched"))
        .await
        .text()
        .await
        .expect("text");
    assert_eq!(matched, "1", "{}", browser.text().await);
    browser.screenshot("bulk-preview").await;
    assert_ne!(
        status_of(stack, stalled).await,
        "paused",
        "a dry run changes nothing"
    );
    press(browser, "/console/bulk/confirm").await;
    assert!(
        browser.text().await.contains("pause: 1 done"),
        "{}",
        browser.text().await
    );
    assert_eq!(status_of(stack, stalled).await, "paused");
}

/// A form posted from the signed-in browser without the session's CSRF
/// token (as another site's form would be) is refused and changes nothing.
async fn refuses_a_form_without_its_csrf_token(browser: &Browser, stack: &Stack, id: Uuid) {
    browser
        .open(&format!("{}/console/journeys/{id}", stack.api))
        .await;
    let script = "const [url, done] = arguments; \
        fetch(url, {method: 'POST', headers: {'content-type': 'application/x-www-form-urlencoded'}, body: 'reason=forged'}) \
        .then(r => done(r.status));";
    let status = browser
        .client
        .execute_async(
            script,
            vec![json!(format!("/console/journeys/{id}/act/resume"))],
        )
        .await
        .expect("script");
    assert_eq!(status, json!(403));
    assert_eq!(status_of(stack, id).await, "paused");
}

/// A session cookie and CSRF token, signed in over plain HTTP as a browser would.
async fn http_sign_in(stack: &Stack, client: &reqwest::Client, token: &str) -> (String, String) {
    let form = client
        .get(format!("{}/console/sign-in", stack.api))
        .send()
        .await
        .expect("sign-in page");
    let nonce_cookie = cookie(&form, "carepath_sign_in").expect("the sign-in cookie");
    let html = form.text().await.expect("html");
    let nonce = hidden_csrf(&html);
    let signed = client
        .post(format!("{}/console/sign-in", stack.api))
        .header("cookie", format!("carepath_sign_in={nonce_cookie}"))
        .form(&[("token", token), ("csrf", nonce.as_str())])
        .send()
        .await
        .expect("sign in");
    assert_eq!(signed.status(), StatusCode::SEE_OTHER);
    let set = signed
        .headers()
        .get("set-cookie")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    for attribute in ["HttpOnly", "SameSite=Strict", "Path=/console"] {
        assert!(set.contains(attribute), "{set}");
    }
    let session = cookie(&signed, "carepath_console").expect("a session cookie");
    let page = client
        .get(format!("{}/console/journeys", stack.api))
        .header("cookie", format!("carepath_console={session}"))
        .send()
        .await
        .expect("page");
    let csrf = hidden_csrf(&page.text().await.expect("html"));
    (session, csrf)
}

fn cookie(resp: &reqwest::Response, name: &str) -> Option<String> {
    resp.headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find_map(|v| {
            v.strip_prefix(&format!("{name}="))
                .map(|rest| rest.split(';').next().unwrap_or_default().to_owned())
        })
}

fn hidden_csrf(html: &str) -> String {
    let at =
        html.find("name=\"csrf\" value=\"").expect("a csrf field") + "name=\"csrf\" value=\"".len();
    html[at..].split('"').next().unwrap_or_default().to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sessions_end_and_forged_forms_are_refused() {
    let stack = Stack::start(Options::patient_vendors()).await;
    let id = stack
        .start_consult("console-http", patient(9), "stall", 0)
        .await;
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client");
    let page = |session: String| {
        let client = client.clone();
        let url = format!("{}/console/journeys/{id}", stack.api);
        async move {
            client
                .get(url)
                .header("cookie", format!("carepath_console={session}"))
                .send()
                .await
                .expect("page")
        }
    };

    // Outside the console's pages: its own 404, with its headers.
    let nowhere = client
        .get(format!("{}/console/nowhere", stack.api))
        .send()
        .await
        .expect("404");
    assert_eq!(nowhere.status(), StatusCode::NOT_FOUND);
    assert!(nowhere.headers().contains_key("content-security-policy"));
    assert!(
        nowhere
            .text()
            .await
            .unwrap_or_default()
            .contains("no such page")
    );

    // Sign-in without its double-submit cookie (another site's form): refused.
    let forged = client
        .post(format!("{}/console/sign-in", stack.api))
        .form(&[("token", stack.ops.as_str()), ("csrf", "x")])
        .send()
        .await
        .expect("post");
    assert_eq!(forged.status(), StatusCode::FORBIDDEN);

    let (session, csrf) = http_sign_in(&stack, &client, &stack.ops).await;
    let audited: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM carepath.operator_audit WHERE action = 'console_sign_in' AND actor = 'token:ops'",
    )
    .fetch_one(&stack.db.pool)
    .await
    .expect("audit");
    assert_eq!(audited, 1, "the sign-in is in the operator audit");
    let shown = page(session.clone()).await;
    assert_eq!(shown.status(), StatusCode::OK);
    let headers = shown.headers();
    assert_eq!(headers["cache-control"], "no-store");
    let csp = headers["content-security-policy"]
        .to_str()
        .unwrap_or_default();
    assert!(
        csp.contains("default-src 'none'")
            && csp.contains("script-src 'self'")
            && csp.contains("frame-ancestors 'none'"),
        "{csp}"
    );

    // An action with the wrong CSRF token, or none: 403, nothing done.
    let act = |body: Vec<(&'static str, String)>| {
        let client = client.clone();
        let url = format!("{}/console/journeys/{id}/act/pause", stack.api);
        let session = session.clone();
        async move {
            client
                .post(url)
                .header("cookie", format!("carepath_console={session}"))
                .form(&body)
                .send()
                .await
                .expect("act")
                .status()
        }
    };
    assert_eq!(
        act(vec![("reason", "no token".into())]).await,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        act(vec![
            ("reason", "bad token".into()),
            ("csrf", "0".repeat(64))
        ])
        .await,
        StatusCode::FORBIDDEN
    );
    assert_ne!(status_of(&stack, id).await, "paused");
    assert_eq!(
        act(vec![("reason", "real".into()), ("csrf", csrf.clone())]).await,
        StatusCode::SEE_OTHER
    );
    assert_eq!(status_of(&stack, id).await, "paused");

    // Signed out: the cookie opens nothing.
    let out = client
        .post(format!("{}/console/sign-out", stack.api))
        .header("cookie", format!("carepath_console={session}"))
        .form(&[("csrf", csrf.as_str())])
        .send()
        .await
        .expect("sign out");
    assert_eq!(out.status(), StatusCode::SEE_OTHER);
    let after = page(session.clone()).await;
    assert_eq!(
        (after.status(), after.headers()["location"].to_str().ok()),
        (StatusCode::SEE_OTHER, Some("/console/sign-in"))
    );

    // Idle past the limit (the clock moved by the database): signed out.
    let (idle, _) = http_sign_in(&stack, &client, &stack.ops).await;
    assert_eq!(page(idle.clone()).await.status(), StatusCode::OK);
    sqlx::query("UPDATE carepath.console_sessions SET last_seen_at = now() - interval '31 minutes' WHERE signed_out_at IS NULL")
        .execute(&stack.db.pool)
        .await
        .expect("age");
    assert_eq!(page(idle).await.status(), StatusCode::SEE_OTHER);

    // Revoking the token ends its sessions.
    let (live, _) = http_sign_in(&stack, &client, &stack.ops).await;
    assert_eq!(page(live.clone()).await.status(), StatusCode::OK);
    sqlx::query("UPDATE carepath.api_tokens SET revoked_at = now() WHERE name = 'ops'")
        .execute(&stack.db.pool)
        .await
        .expect("revoke");
    assert_eq!(page(live).await.status(), StatusCode::SEE_OTHER);
    stack.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_person_signs_in_through_openid_connect_and_their_actions_bear_their_name() {
    let test = "a_person_signs_in_through_openid_connect_and_their_actions_bear_their_name";
    let Some(browser) = or_skip(test, Browser::start().await) else {
        return;
    };
    let mut options = Options::patient_vendors();
    options.oidc = true;
    let stack = Stack::start(options).await;
    let id = stack
        .start_consult("console-oidc", patient(10), "stall", 0)
        .await;
    stack.wait_waiting_for(id, "signal:clinical.case").await;

    browser.open(&format!("{}/console", stack.api)).await;
    assert!(browser.text().await.contains("Sign in with Clinic ID"));
    browser.submit("a[href='/console/oidc/start']").await;
    let person = support::idp::PERSON;
    wait_for(
        "the console, signed in through the provider",
        Duration::from_secs(30),
        || async {
            let url = browser.client.current_url().await.ok()?;
            let text = browser.text().await;
            (url.path() == "/console" && text.contains(&format!("Signed in as {person}")))
                .then_some(())
        },
    )
    .await;
    browser
        .open(&format!("{}/console/journeys/{id}", stack.api))
        .await;
    browser.fill("#pause-reason", "per the clinical lead").await;
    press(&browser, "/act/pause").await;
    let events = history_kinds(&stack, id).await;
    let pause = events.iter().find(|e| e["kind"] == "pause").expect("pause");
    assert_eq!(pause["actor"], format!("oidc:{person}"));

    // No token to revoke: an admin ends the person's sessions by name.
    let admin =
        carepath_api::auth::create_token(&stack.db.pool, "root", carepath_api::auth::Role::Admin)
            .await
            .expect("admin token");
    let (status, ended) = stack
        .post(
            &admin,
            "/v1/console-sessions/end",
            &json!({ "holder": format!("oidc:{person}"), "reason": "left the clinic" }),
        )
        .await;
    assert_eq!(
        (status, &ended["ended"]),
        (StatusCode::OK, &json!(1)),
        "{ended}"
    );
    browser
        .open(&format!("{}/console/vendors", stack.api))
        .await;
    let url = browser.client.current_url().await.expect("url");
    assert!(
        url.path().ends_with("/console/sign-in"),
        "signed out: {url}"
    );
    browser.close().await;

    // A callback whose state is not the one its flow was sent with is refused.
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client");
    let started = client
        .get(format!("{}/console/oidc/start", stack.api))
        .send()
        .await
        .expect("start");
    assert_eq!(started.status(), StatusCode::SEE_OTHER);
    let flow = cookie(&started, "carepath_oidc").expect("the flow cookie");
    let to_provider = started.headers()["location"]
        .to_str()
        .expect("location")
        .to_owned();
    let back = client.get(&to_provider).send().await.expect("authorize");
    let back =
        reqwest::Url::parse(back.headers()["location"].to_str().expect("location")).expect("url");
    let code = back
        .query_pairs()
        .find(|(k, _)| k == "code")
        .map(|(_, v)| v.into_owned())
        .expect("code");
    let forged = client
        .get(format!(
            "{}/console/oidc/callback?code={code}&state=forged",
            stack.api
        ))
        .header("cookie", format!("carepath_oidc={flow}"))
        .send()
        .await
        .expect("callback");
    assert_eq!(forged.status(), StatusCode::UNAUTHORIZED);
    assert!(cookie(&forged, "carepath_console").is_none(), "no session");
    stack.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_duplicate_intake_is_reviewed_beside_the_consult_it_collided_with() {
    let mut options = Options::patient_vendors();
    options.consult.duplicate_intake = carepath_workflows::consult::config::DuplicatePolicy::Review;
    let stack = Stack::start(options).await;
    let first = stack
        .start_consult("console-dup-1", patient(11), "stall", 0)
        .await;
    stack.wait_waiting_for(first, "signal:clinical.case").await;
    let second = stack
        .start_consult("console-dup-2", patient(11), "stall", 0)
        .await;
    stack.wait_waiting_for(second, "signal:intake_review").await;

    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client");
    let (session, csrf) = http_sign_in(&stack, &client, &stack.ops).await;
    let get = |path: String| {
        let client = client.clone();
        let cookie = format!("carepath_console={session}");
        async move {
            client
                .get(path)
                .header("cookie", cookie)
                .send()
                .await
                .expect("get")
                .text()
                .await
                .expect("html")
        }
    };
    let listed = get(format!("{}/console/reviews", stack.api)).await;
    assert!(
        listed.contains(&format!("/console/reviews/{second}")),
        "{listed}"
    );
    let page = get(format!("{}/console/reviews/{second}", stack.api)).await;
    let first_short = &first.to_string()[28..];
    assert!(
        page.contains("The open consult") && page.contains(first_short),
        "{page}"
    );
    assert!(page.contains("value=\"close\""), "{page}");

    // No choice: said on the page, nothing decided.
    let decide = |choice: &'static str| {
        let client = client.clone();
        let url = format!("{}/console/reviews/{second}/decide", stack.api);
        let (cookie, csrf) = (format!("carepath_console={session}"), csrf.clone());
        async move {
            client
                .post(url)
                .header("cookie", cookie)
                .form(&[
                    ("csrf", csrf.as_str()),
                    ("kind", "intake-review"),
                    ("choice", choice),
                    ("reason", "the patient wrote twice"),
                ])
                .send()
                .await
                .expect("decide")
        }
    };
    assert_eq!(decide("").await.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(
        stack.phase_and_wait(second).await.0,
        "duplicate_intake_review"
    );
    assert_eq!(decide("close").await.status(), StatusCode::SEE_OTHER);
    stack
        .wait_completed(&[second], Duration::from_secs(60))
        .await;
    assert_eq!(stack.output(second).await["outcome"], "closed_by_review");
    stack.stop().await;
}
