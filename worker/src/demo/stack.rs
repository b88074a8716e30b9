//! Everything the demo runs: the sandbox and the API in this process, two
//! `carepath worker` processes (real ones, so one can be killed), and the
//! patients who answer the clinicians' questions through the product's API.

use std::collections::HashSet;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::{Context, Result, bail};
use carepath_activities::config::VENDORS;
use carepath_activities::webhook_signature::Secrets;
use carepath_api::auth::{Role, create_token};
use carepath_sandbox::{SandboxConfig, SandboxSettings, ScenarioRule};
use carepath_workflows::{EngineConfig, Settings, builtin};
use serde_json::{Value, json};
use sqlx::PgPool;
use tokio_util::sync::CancellationToken;

use crate::db;

const WEBHOOK_SECRET: &str = "demo-webhook-secret";

/// Months in seconds: a refill every 3 s, a reminder after 4 s, a withdrawal after 15.
const TIMINGS: &str = r#"
[consult]
decision_sla = "20s"
more_info_reminder = "4s"
more_info_cancel = "15s"
refill_interval = "3s"
case_check = "3s"
fulfilment_check = "4s"
check_max = "10s"
duplicate_intake_by_offering = { demo_offering_review = "review" }
"#;

pub struct Stack {
    pub run_id: String,
    pub pool: PgPool,
    pub sandbox_url: String,
    pub api_url: String,
    pub operator_token: String,
    product_token: String,
    http: reqwest::Client,
    database_url: String,
    config_path: PathBuf,
    workers: Mutex<Vec<Child>>,
    generation: Mutex<usize>,
    silent: Arc<Mutex<HashSet<String>>>,
    stop: CancellationToken,
    setup: Setup,
}

/// How a stack is set up: the demo's (the default), or a benchmark's.
#[derive(Debug, Clone, Copy)]
pub struct Setup {
    /// Whether PHI is sealed at rest (off: `CAREPATH_PHI_ENCRYPTION=off`
    /// for every process of the stack).
    pub sealed: bool,
    /// Clinicians who decide in tens of milliseconds, webhooks neither
    /// repeated nor delayed: what the stack's own work costs shows.
    pub quick_vendors: bool,
}

impl Default for Setup {
    fn default() -> Self {
        Self {
            sealed: true,
            quick_vendors: false,
        }
    }
}

impl Stack {
    pub async fn start(database_url: &str) -> Result<Self> {
        Self::start_with(database_url, Setup::default()).await
    }

    /// A stack set up as `setup` says.
    pub async fn start_with(database_url: &str, setup: Setup) -> Result<Self> {
        carepath_activities::tls::install_crypto_provider();
        let pool = db::connect(database_url, 16).await?;
        db::migrate(&pool).await?;
        // A new sandbox, whose feed numbers its events from 1: a cursor
        // stored by an earlier demo on this database is not one it gave (it
        // would refuse it), so the feeds are read from its beginning.
        sqlx::query("DELETE FROM carepath.vendor_feeds")
            .execute(&pool)
            .await?;

        let api_listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let api_url = format!("http://{}", api_listener.local_addr()?);
        let sandbox_listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let sandbox_url = format!("http://{}", sandbox_listener.local_addr()?);
        tokio::spawn(carepath_sandbox::serve(
            sandbox_listener,
            SandboxConfig {
                webhook_url: Some(format!("{api_url}/webhooks")),
                webhook_secret: WEBHOOK_SECRET.into(),
                settings: sandbox_settings(setup.quick_vendors),
            },
        ));

        let config_text = config_toml(&sandbox_url);
        let mut settings = Settings::from_toml(&config_text)?;
        settings.webhook_secrets = Secrets::for_all(&[WEBHOOK_SECRET]);
        if !setup.sealed {
            settings.key_ring = carepath_workflows::settings::KeyRingSetting::Off;
        }
        let config_path = std::env::temp_dir().join(format!(
            "carepath-demo-{}.toml",
            uuid::Uuid::new_v4().simple()
        ));
        std::fs::write(&config_path, &config_text)
            .with_context(|| format!("writing {}", config_path.display()))?;
        let engine = builtin::engine(&pool, &settings, EngineConfig::default())?;
        tokio::spawn(carepath_api::serve(
            api_listener,
            carepath_api::AppState {
                engine,
                vendors: Arc::new(settings.vendors),
            },
        ));

        let run_id = uuid::Uuid::new_v4().simple().to_string()[..8].to_owned();
        let operator_token =
            create_token(&pool, &format!("demo-operator-{run_id}"), Role::Operator).await?;
        let product_token =
            create_token(&pool, &format!("demo-brand-{run_id}"), Role::Product).await?;
        let stack = Self {
            run_id,
            pool,
            sandbox_url,
            api_url,
            operator_token,
            product_token,
            http: reqwest::Client::new(),
            database_url: database_url.to_owned(),
            config_path,
            workers: Mutex::new(Vec::new()),
            generation: Mutex::new(0),
            silent: Arc::new(Mutex::new(HashSet::new())),
            stop: CancellationToken::new(),
            setup,
        };
        for _ in 0..2 {
            let worker = stack.spawn_worker()?;
            stack.lock_workers().push(worker);
        }
        stack.answer_patients();
        stack.review_intakes();
        Ok(stack)
    }

    fn lock_workers(&self) -> std::sync::MutexGuard<'_, Vec<Child>> {
        self.workers.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn spawn_worker(&self) -> Result<Child> {
        let generation = {
            let mut g = self.generation.lock().unwrap_or_else(|p| p.into_inner());
            *g += 1;
            *g
        };
        let exe = std::env::current_exe().context("finding the carepath binary")?;
        let mut command = Command::new(exe);
        // If the demo dies (killed, not just Ctrl-C), its workers go with it.
        // SAFETY: prctl is async-signal-safe and touches no memory of ours.
        unsafe {
            std::os::unix::process::CommandExt::pre_exec(&mut command, || {
                nix::sys::prctl::set_pdeathsig(nix::sys::signal::Signal::SIGTERM)
                    .map_err(std::io::Error::from)
            });
        }
        command
            .args(["worker", "--concurrency", "16"])
            .env("DATABASE_URL", &self.database_url)
            .env("CAREPATH_CONFIG", &self.config_path)
            .env("HOSTNAME", format!("demo-worker-{generation}"))
            .env("CAREPATH_POLL_INTERVAL_MS", "100")
            .env("CAREPATH_HEARTBEAT_MS", "1000")
            .env("CAREPATH_RECONCILE_MS", "1000")
            .env("CAREPATH_RETRY_INITIAL_MS", "250")
            .env("CAREPATH_RETRY_MAX_MS", "3000")
            .env("CAREPATH_RETRY_MAX_ATTEMPTS", "40")
            .env("RUST_LOG", "error")
            .env(
                "CAREPATH_PHI_ENCRYPTION",
                if self.setup.sealed { "on" } else { "off" },
            )
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .context("starting a worker process")
    }

    /// SIGKILL of the first worker (no goodbye: its journeys are taken over),
    /// then a replacement.
    pub fn kill_and_replace_a_worker(&self) -> Result<()> {
        let mut workers = self.lock_workers();
        if let Some(first) = workers.first_mut() {
            let _ = first.kill();
            let _ = first.wait();
        }
        let replacement = self.spawn_worker()?;
        if let Some(first) = workers.first_mut() {
            *first = replacement;
        }
        Ok(())
    }

    pub async fn stop(&self) {
        self.stop.cancel();
        let mut workers = std::mem::take(&mut *self.lock_workers());
        for w in &workers {
            let _ = nix::sys::signal::kill(
                nix::unistd::Pid::from_raw(w.id() as i32),
                nix::sys::signal::Signal::SIGTERM,
            );
        }
        for w in &mut workers {
            for _ in 0..100 {
                if matches!(w.try_wait(), Ok(Some(_))) {
                    break;
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            let _ = w.kill();
            let _ = w.wait();
        }
        let _ = std::fs::remove_file(&self.config_path);
    }

    pub async fn start_journey(&self, key: &str, input: Value) -> Result<String> {
        self.start_workflow("async_consult", key, input).await
    }

    /// Starts a journey of `workflow` as the product would; its id.
    pub async fn start_workflow(&self, workflow: &str, key: &str, input: Value) -> Result<String> {
        let resp = self
            .http
            .post(format!("{}/v1/journeys", self.api_url))
            .bearer_auth(&self.product_token)
            .json(&json!({ "workflow": workflow, "idempotency_key": key, "input": input }))
            .send()
            .await?;
        let status = resp.status();
        let body: Value = resp.json().await.unwrap_or(Value::Null);
        if !status.is_success() {
            bail!("starting a journey: {status} {body}");
        }
        Ok(super::text(&body, "/id").to_owned())
    }

    /// This journey's patient will never answer.
    pub fn silence(&self, id: &str) {
        self.silent
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(id.to_owned());
    }

    /// Sets what the sandbox's clinicians decide for the rule's patient and
    /// offering (`POST /_sandbox/scenarios`). Errors: the sandbox could not
    /// be reached or refused the rule.
    pub async fn set_scenario(&self, rule: &ScenarioRule) -> Result<()> {
        let resp = self
            .http
            .post(format!("{}/_sandbox/scenarios", self.sandbox_url))
            .json(rule)
            .send()
            .await?;
        let status = resp.status();
        if !status.is_success() {
            let body = resp.text().await.unwrap_or_default();
            bail!("the sandbox refused a scenario rule: {status} {body}");
        }
        Ok(())
    }

    /// `POST path` on the API as the demo's operator. Errors: not answered,
    /// or answered with anything but success.
    pub async fn operate(&self, path: &str, body: Value) -> Result<Value> {
        let resp = self
            .http
            .post(format!("{}{path}", self.api_url))
            .bearer_auth(&self.operator_token)
            .json(&body)
            .send()
            .await?;
        let status = resp.status();
        let body: Value = resp.json().await.unwrap_or(Value::Null);
        if !status.is_success() {
            bail!("POST {path}: {status} {body}");
        }
        Ok(body)
    }

    /// Delivers `event` to the API's webhook door as `vendor`, signed as the
    /// sandbox signs; the HTTP status.
    pub async fn deliver_webhook(&self, vendor: &str, event: &Value) -> Result<u16> {
        let body = event.to_string();
        let signature = carepath_activities::webhook_signature::sign(
            WEBHOOK_SECRET.as_bytes(),
            chrono::Utc::now().timestamp(),
            body.as_bytes(),
        );
        let resp = self
            .http
            .post(format!("{}/webhooks/{vendor}", self.api_url))
            .header(carepath_activities::webhook_signature::HEADER, signature)
            .header("content-type", "application/json")
            .body(body)
            .send()
            .await?;
        Ok(resp.status().as_u16())
    }

    pub async fn set_fault(&self, fault: Value) {
        let _ = self
            .http
            .post(format!("{}/_sandbox/faults", self.sandbox_url))
            .json(&fault)
            .send()
            .await;
    }

    pub async fn sandbox(&self, path: &str) -> Value {
        match self
            .http
            .get(format!("{}{path}", self.sandbox_url))
            .send()
            .await
        {
            Ok(r) => r.json().await.unwrap_or(Value::Null),
            Err(_) => Value::Null,
        }
    }

    /// The operator on duty. An intake held in `duplicate_intake_review` is
    /// the same patient asking again while their consult is open: it is
    /// attached to that consult. One held in `active_treatment_review` came
    /// after the first consult's approval (the patient is on treatment): it is
    /// closed. Each with the reason on record.
    fn review_intakes(&self) {
        let (http, api, ops, stop) = (
            self.http.clone(),
            self.api_url.clone(),
            self.operator_token.clone(),
            self.stop.clone(),
        );
        tokio::spawn(async move {
            let decisions = [
                (
                    "duplicate_intake_review",
                    "attach",
                    "demo operator: the same patient again while their consult is open",
                ),
                (
                    "active_treatment_review",
                    "close",
                    "demo operator: already on treatment for this offering; told the patient",
                ),
            ];
            while !stop.is_cancelled() {
                for (phase, action, reason) in decisions {
                    let url = format!("{api}/v1/journeys?phase={phase}&status=waiting&limit=500");
                    let page: Value = match http.get(url).bearer_auth(&ops).send().await {
                        Ok(r) => r.json().await.unwrap_or(Value::Null),
                        Err(_) => Value::Null,
                    };
                    for j in page["items"].as_array().into_iter().flatten() {
                        let id = super::text(j, "/id");
                        let _ = http
                            .post(format!("{api}/v1/journeys/{id}/intake-review"))
                            .bearer_auth(&ops)
                            .json(&json!({ "action": action, "reason": reason }))
                            .send()
                            .await;
                    }
                }
                tokio::time::sleep(Duration::from_millis(500)).await;
            }
        });
    }

    /// The patients, as the brand's product relays them: a journey waiting
    /// for an answer gets one for the round it is on (`notify_more_info`,
    /// `notify_more_info#2`, ... tell which), except the silent patients'.
    fn answer_patients(&self) {
        let (http, api, product, ops, silent, stop) = (
            self.http.clone(),
            self.api_url.clone(),
            self.product_token.clone(),
            self.operator_token.clone(),
            self.silent.clone(),
            self.stop.clone(),
        );
        tokio::spawn(async move {
            while !stop.is_cancelled() {
                let url = format!(
                    "{api}/v1/journeys?phase=awaiting_patient_response&status=waiting&limit=500"
                );
                let page: Value = match http.get(url).bearer_auth(&ops).send().await {
                    Ok(r) => r.json().await.unwrap_or(Value::Null),
                    Err(_) => Value::Null,
                };
                for j in page["items"].as_array().into_iter().flatten() {
                    let id = super::text(j, "/id");
                    if silent
                        .lock()
                        .unwrap_or_else(|p| p.into_inner())
                        .contains(id)
                    {
                        continue;
                    }
                    let Ok(resp) = http
                        .get(format!("{api}/v1/journeys/{id}"))
                        .bearer_auth(&product)
                        .send()
                        .await
                    else {
                        continue;
                    };
                    let journey: Value = resp.json().await.unwrap_or(Value::Null);
                    let round = journey["steps"]
                        .as_array()
                        .into_iter()
                        .flatten()
                        .filter(|s| super::text(s, "/key").starts_with("notify_more_info"))
                        .count();
                    let _ = http
                        .post(format!("{api}/v1/journeys/{id}/signals/patient_response"))
                        .bearer_auth(&product)
                        .json(&json!({ "event_id": format!("answer-{id}-{round}"),
                                       "payload": { "round": round, "message": "Yes, no other medication." } }))
                        .send()
                        .await;
                }
                tokio::time::sleep(Duration::from_millis(300)).await;
            }
        });
    }
}

/// Whatever way the demo ends, no worker process outlives it.
impl Drop for Stack {
    fn drop(&mut self) {
        for w in self.lock_workers().iter_mut() {
            let _ = w.kill();
            let _ = w.wait();
        }
    }
}

/// Clinicians who act within a second, webhooks late, reordered and
/// duplicated, tokens that expire during the run.
fn sandbox_settings(quick: bool) -> SandboxSettings {
    let mut settings = SandboxSettings::default();
    if quick {
        settings.clinician.assign_ms = 10;
        settings.clinician.decide_ms = 50;
        settings.prescription_active_secs = 3;
        return settings;
    }
    settings.clinician.assign_ms = 300;
    settings.clinician.decide_ms = 900;
    settings.webhooks.duplicate_rate = 0.3;
    settings.webhooks.max_delay_ms = 400;
    settings.webhooks.token_ttl_secs = 8;
    // A prescription is active for carepath until its last refill runs
    // out: here at least one refill interval (3 s). The sandbox counts a
    // second one within that time as a duplicate — never a false one.
    settings.prescription_active_secs = 3;
    settings
}

fn config_toml(sandbox: &str) -> String {
    // The sandbox takes any credential: the workers use its development ones.
    let mut text = String::from("mode = \"development\"\n");
    for vendor in VENDORS {
        let auth = if vendor == "clinical" {
            r#"{ kind = "oauth2", token_path = "/v1/partner/auth/token", client_id = "carepath-demo", client_secret_env = "CAREPATH_CLINICAL_CLIENT_SECRET" }"#.to_owned()
        } else {
            format!(
                r#"{{ kind = "api_key", header = "x-api-key", key_env = "CAREPATH_{}_API_KEY" }}"#,
                vendor.to_uppercase()
            )
        };
        // The workers also read the pharmacy's event feed, as they would a real one's.
        let feed = if vendor == "pharmacy" {
            "feed = { path = \"/v1/events\", every = \"2s\" }\n"
        } else {
            ""
        };
        text.push_str(&format!(
            "[vendors.{vendor}]\nbase_url = \"{sandbox}/{vendor}\"\nauth = {auth}\n\
             rate_per_sec = 150.0\nburst = 30\nbreaker = {{ failures = 4, open_secs = 3.0 }}\n{feed}\n"
        ));
    }
    text.push_str(TIMINGS);
    text
}
