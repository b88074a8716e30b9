//! The telehealth stack the consult tests run against: carepath's API and
//! in-process workers, the sandbox vendors over loopback HTTP with their
//! webhooks coming back through the inbox, and a real PostgreSQL; the test
//! plays the brand's product.
#![allow(dead_code)]

use std::time::Duration;

use carepath_activities::VendorsConfig;
use carepath_api::auth::{Role, create_token};
use carepath_sandbox::{SandboxConfig, SandboxSettings};
use carepath_workflows::consult::config::ConsultConfig;
use carepath_workflows::{Settings, builtin};
use reqwest::StatusCode;
use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use super::*;
use carepath_workflows::engine::vault::KeyRing;
use carepath_workflows::retention::RetentionConfig;
use carepath_workflows::settings::KeyRingSetting;

pub struct Stack {
    pub db: TestDb,
    pub api: String,
    pub sandbox: Sandbox,
    pub http: reqwest::Client,
    pub product: String,
    pub ops: String,
    pub workers: Vec<InProcessWorker>,
    pub patients: CancellationToken,
}

pub struct Options {
    pub sandbox: SandboxSettings,
    pub consult: ConsultConfig,
    /// Breaker settings for every vendor: (failures, open seconds).
    pub breaker: (u32, f64),
    /// Workers inside the test process (0 when the test runs worker processes).
    pub workers: usize,
    /// How often the workers read the pharmacy's event feed; `None`: not at all.
    pub pharmacy_feed: Option<Duration>,
    /// The console signs in through a test OpenID Connect provider too
    /// ([`super::idp`]), started with the stack.
    pub oidc: bool,
    /// `CAREPATH_KEY_RING` of the stack's processes; `None`: development's.
    pub key_ring: Option<String>,
    /// What the stack's workers erase, and when.
    pub retention: RetentionConfig,
}

impl Default for Options {
    fn default() -> Self {
        let mut sandbox = SandboxSettings::default();
        sandbox.clinician.assign_ms = 50;
        sandbox.clinician.decide_ms = 200;
        Self {
            sandbox,
            consult: ConsultConfig {
                decision_sla: Duration::from_secs(60),
                more_info_reminder: Duration::from_secs(60),
                more_info_cancel: Duration::from_secs(120),
                refill_interval: Duration::from_secs(1),
                fulfilment_check: Duration::from_secs(30),
                ..ConsultConfig::default()
            },
            breaker: (5, 2.0),
            workers: 2,
            pharmacy_feed: Some(Duration::from_secs(1)),
            oidc: false,
            key_ring: None,
            retention: RetentionConfig::default(),
        }
    }
}

impl Options {
    /// A stack whose journeys never look a silent vendor up during a test:
    /// a lost webhook, or a clinician who never decides, leaves them
    /// waiting, as it would for a day.
    pub fn patient_vendors() -> Self {
        let mut options = Options::default();
        options.consult.case_check = Duration::from_secs(3600);
        options.consult.fulfilment_check = Duration::from_secs(3600);
        options.consult.check_max = Duration::from_secs(3600);
        options.consult.decision_sla = Duration::from_secs(3600);
        options
    }
}

impl Stack {
    pub async fn start(options: Options) -> Self {
        // What a configuration file would be refused for, a test is too.
        if let Err(e) = options.consult.check() {
            panic!("the test's [consult] is not valid: {e:#}");
        }
        let db = fresh_db().await;
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let api = format!("http://{}", listener.local_addr().expect("address"));
        let sandbox = Sandbox::start_with(SandboxConfig {
            webhook_url: Some(format!("{api}/webhooks")),
            webhook_secret: "test-secret".into(),
            settings: options.sandbox,
        })
        .await;
        let mut vendors = VendorsConfig::for_sandbox(&sandbox.url);
        for profile in vendors.vendors.values_mut() {
            profile.rate_per_sec = 2000.0;
            profile.burst = 200;
            profile.breaker.failures = options.breaker.0;
            profile.breaker.open_secs = options.breaker.1;
            profile.feed = profile.feed.take().and_then(|mut feed| {
                feed.every = options.pharmacy_feed?;
                Some(feed)
            });
        }
        let key_ring = match &options.key_ring {
            Some(text) => KeyRingSetting::Configured(std::sync::Arc::new(
                KeyRing::parse(text).expect("the test's key ring"),
            )),
            None => KeyRingSetting::Development,
        };
        let settings = Settings {
            vendors: vendors.clone(),
            consult: options.consult,
            key_ring,
            ..Settings::default()
        };
        let (engine, feeds) =
            builtin::engine_and_feeds(&db.pool, &settings, test_engine_config()).expect("engine");
        let mut console = carepath_api::console::ConsoleConfig::default();
        if options.oidc {
            let redirect_url = format!("{api}/console/oidc/callback");
            console.oidc = Some(carepath_api::console::oidc::OidcSettings {
                issuer: super::idp::start(&redirect_url).await,
                client_id: super::idp::CLIENT_ID.into(),
                client_secret: super::idp::CLIENT_SECRET.into(),
                redirect_url,
                label: "Clinic ID".into(),
                allowed_domains: vec!["clinic.example".into()],
            });
        }
        serve_api_console(listener, engine.clone(), vendors, console);
        let workers = (0..options.workers)
            .map(|i| {
                InProcessWorker::start_with(
                    engine.clone(),
                    feeds.clone(),
                    options.retention.clone(),
                    &format!("consult-{i}"),
                )
            })
            .collect();
        let product = create_token(&db.pool, "brand", Role::Product)
            .await
            .expect("token");
        let ops = create_token(&db.pool, "ops", Role::Operator)
            .await
            .expect("token");
        Self {
            db,
            api,
            sandbox,
            http: reqwest::Client::new(),
            product,
            ops,
            workers,
            patients: CancellationToken::new(),
        }
    }

    pub async fn stop(self) {
        self.patients.cancel();
        for w in self.workers {
            w.shutdown().await;
        }
    }

    pub async fn post(&self, token: &str, path: &str, body: &Value) -> (StatusCode, Value) {
        let resp = self
            .http
            .post(format!("{}{path}", self.api))
            .bearer_auth(token)
            .json(body)
            .send()
            .await
            .expect("POST");
        let status = resp.status();
        (status, resp.json().await.unwrap_or(Value::Null))
    }

    pub async fn get(&self, token: &str, path: &str) -> (StatusCode, Value) {
        let resp = self
            .http
            .get(format!("{}{path}", self.api))
            .bearer_auth(token)
            .send()
            .await
            .expect("GET");
        let status = resp.status();
        (status, resp.json().await.unwrap_or(Value::Null))
    }

    /// Waits until the API's `/metrics` has a sample whose line starts with
    /// `prefix` (name and labels, then a space) and whose value `ready`
    /// accepts: the database gauges are computed once per interval.
    pub async fn metric_becomes(&self, prefix: &str, ready: impl Fn(f64) -> bool) {
        wait_for(
            &format!("/metrics: {prefix}"),
            Duration::from_secs(10),
            || async {
                let text = self
                    .http
                    .get(format!("{}/metrics", self.api))
                    .send()
                    .await
                    .ok()?
                    .text()
                    .await
                    .ok()?;
                let shown: f64 = text
                    .lines()
                    .find_map(|l| l.strip_prefix(prefix))
                    .and_then(|n| n.parse().ok())?;
                ready(shown).then_some(())
            },
        )
        .await;
    }

    pub async fn start_journey(&self, key: &str, input: Value) -> Uuid {
        let (status, body) = self
            .post(
                &self.product,
                "/v1/journeys",
                &json!({ "workflow": "async_consult", "idempotency_key": key, "input": input }),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        body["id"]
            .as_str()
            .and_then(|id| id.parse().ok())
            .expect("journey id")
    }

    /// Starts `patient`'s consult ([`consult_input`]) under `key`, its case to
    /// be decided as `scenario` says (set at the sandbox first, for the
    /// patient's email, as the case is created moments after the start).
    pub async fn start_consult(
        &self,
        key: &str,
        patient: Value,
        scenario: &str,
        refills: u32,
    ) -> Uuid {
        let email = patient["email"].as_str().expect("the patient's email");
        self.sandbox.scenario(email, scenario).await;
        self.start_journey(key, consult_input(patient, refills))
            .await
    }

    /// Patients who answer every request for more information, except those
    /// of journeys in `silent`, as the brand's product would relay them.
    pub fn answer_patients(&self, silent: Vec<Uuid>) {
        let (http, api, product, ops, stop) = (
            self.http.clone(),
            self.api.clone(),
            self.product.clone(),
            self.ops.clone(),
            self.patients.clone(),
        );
        tokio::spawn(async move {
            while !stop.is_cancelled() {
                let page: Value = match http
                    .get(format!(
                        "{api}/v1/journeys?phase=awaiting_patient_response&status=waiting&limit=200"
                    ))
                    .bearer_auth(&ops)
                    .send()
                    .await
                {
                    Ok(r) => r.json().await.unwrap_or(Value::Null),
                    Err(_) => Value::Null,
                };
                for j in page["items"].as_array().into_iter().flatten() {
                    let Some(id) = j["id"].as_str() else { continue };
                    if silent.iter().any(|s| s.to_string() == id) {
                        continue;
                    }
                    // The round is the number of requests the patient was sent:
                    // the same round answered twice is one event.
                    let journey: Value = match http
                        .get(format!("{api}/v1/journeys/{id}"))
                        .bearer_auth(&product)
                        .send()
                        .await
                    {
                        Ok(r) => r.json().await.unwrap_or(Value::Null),
                        Err(_) => continue,
                    };
                    let round = journey["steps"]
                        .as_array()
                        .into_iter()
                        .flatten()
                        .filter(|s| {
                            s["key"]
                                .as_str()
                                .is_some_and(|k| k.starts_with("notify_more_info"))
                        })
                        .count();
                    let _ = http
                        .post(format!("{api}/v1/journeys/{id}/signals/patient_response"))
                        .bearer_auth(&product)
                        .json(&json!({ "event_id": format!("answer-{id}-{round}"),
                                       "payload": { "round": round, "message": "I take no other medication." } }))
                        .send()
                        .await;
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        });
    }

    /// `carepath ctl ARGS` as an operator, as a real process; its standard output.
    pub async fn ctl(&self, args: &[&str]) -> String {
        let out = tokio::process::Command::new(env!("CARGO_BIN_EXE_carepath"))
            .arg("ctl")
            .args(args)
            .env("CAREPATH_API_URL", &self.api)
            .env("CAREPATH_TOKEN", &self.ops)
            .env_remove("DATABASE_URL")
            .output()
            .await
            .expect("run ctl");
        let stdout = String::from_utf8_lossy(&out.stdout).to_string();
        assert!(
            out.status.success(),
            "ctl {args:?}: {stdout}{}",
            String::from_utf8_lossy(&out.stderr)
        );
        stdout
    }

    pub async fn output(&self, id: Uuid) -> Value {
        super::journey_output(&self.db.pool, id).await
    }

    pub async fn phase_and_wait(&self, id: Uuid) -> (String, Option<String>) {
        sqlx::query_as("SELECT phase, waiting_for FROM carepath.journeys WHERE id = $1")
            .bind(id)
            .fetch_one(&self.db.pool)
            .await
            .expect("phase")
    }

    /// Waits (60 s at most) until journey `id` waits for `what`
    /// (`signal:clinical.case`, say), as its `waiting_for` names it.
    pub async fn wait_waiting_for(&self, id: Uuid, what: &str) {
        wait_for(
            &format!("the journey to wait for {what}"),
            Duration::from_secs(60),
            || async {
                let (_, w) = self.phase_and_wait(id).await;
                (w.as_deref() == Some(what)).then_some(())
            },
        )
        .await;
    }

    /// The keys of the journey's completed steps, in the order history recorded them.
    pub async fn story(&self, id: Uuid) -> Vec<String> {
        sqlx::query_scalar(
            "SELECT detail->>'step' FROM carepath.journey_history
              WHERE journey_id = $1 AND kind = 'step_completed' ORDER BY seq",
        )
        .bind(id)
        .fetch_all(&self.db.pool)
        .await
        .expect("history")
    }

    pub async fn wait_completed(&self, ids: &[Uuid], timeout: Duration) {
        let pool = &self.db.pool;
        let deadline = std::time::Instant::now() + timeout;
        loop {
            let failed: Vec<(Uuid, Option<String>)> = sqlx::query_as(
                "SELECT id, last_error FROM carepath.journeys WHERE id = ANY($1) AND status = 'failed'",
            )
            .bind(ids)
            .fetch_all(pool)
            .await
            .expect("failed journeys");
            assert!(failed.is_empty(), "journeys failed: {failed:?}");
            // Where the unfinished ones are, by status, phase and what they wait for.
            let pending: Vec<(String, String, Option<String>, i64)> = sqlx::query_as(
                "SELECT status, phase, waiting_for, count(*) FROM carepath.journeys
                  WHERE id = ANY($1) AND status <> 'completed' GROUP BY 1, 2, 3 ORDER BY 4 DESC",
            )
            .bind(ids)
            .fetch_all(pool)
            .await
            .expect("pending journeys");
            if pending.is_empty() {
                return;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "timed out after {timeout:?} waiting for every journey to complete; not yet: {pending:?}"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

/// A distinct adult for `i`: names, birthday, phone and email shared with nobody else.
pub fn patient(i: usize) -> Value {
    const FIRST: [&str; 8] = [
        "Avery", "Jordan", "Riley", "Casey", "Morgan", "Quinn", "Harper", "Rowan",
    ];
    const LAST: [&str; 10] = [
        "Okafor",
        "Lindqvist",
        "Moreau",
        "Tanaka",
        "Brennan",
        "Castillo",
        "Novak",
        "Haddad",
        "Kowalski",
        "Ferreira",
    ];
    let dob = chrono::NaiveDate::from_ymd_opt(1960, 1, 1).unwrap_or_default()
        + chrono::Duration::days(37 * i as i64);
    json!({
        "external_id": format!("brand-{i}"),
        "first_name": FIRST[i % FIRST.len()],
        "last_name": format!("{}-{}", LAST[i % LAST.len()], ["Ash", "Birch", "Cedar", "Elm", "Fir"][i / 10 % 5]),
        "date_of_birth": dob.format("%Y-%m-%d").to_string(),
        "sex": "female",
        "email": format!("patient{i}@example.com"),
        "phone": format!("+1415555{:04}", i),
        "address": { "line1": format!("{i} Main St"), "city": "Oakland", "state": "CA", "postal_code": "94601" }
    })
}

/// A start request for `patient`'s consult for `glp1_monthly` with `refills`.
pub fn consult_input(patient: Value, refills: u32) -> Value {
    json!({
        "patient": patient,
        "questionnaire": { "id": "weight_management", "version": 1, "answers": {
            "height_cm": 170, "weight_kg": 95, "goal": "lose_weight", "diabetes": false, "pregnant": false } },
        "offering": { "id": "glp1_monthly", "refills": refills },
        "payment_reference": "pay_test",
        "photo_id": { "file_name": "id.jpg", "content_type": "image/jpeg", "url": "https://files.example/id.jpg" },
    })
}

/// What the sandbox counts when no vendor saw a duplicate across journeys.
pub fn no_cross_journey_duplicates() -> Value {
    json!({ "open_case": 0, "active_prescription": 0, "order_per_fill": 0 })
}
