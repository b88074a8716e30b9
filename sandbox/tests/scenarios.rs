//! What the simulated clinicians decide, set over the sandbox's control API
//! before a case exists (`POST /_sandbox/scenarios`), as a test or the demo
//! does: the sandbox served on a loopback port, driven over HTTP.

use std::time::{Duration, Instant};

use carepath_sandbox::{SandboxConfig, SandboxSettings};
use serde_json::{Value, json};

struct Sandbox {
    url: String,
    http: reqwest::Client,
    token: String,
}

impl Sandbox {
    /// A sandbox whose clinicians act within milliseconds and, without a
    /// rule, always approve.
    async fn start() -> Self {
        carepath_activities::tls::install_crypto_provider();
        let mut settings = SandboxSettings::default();
        settings.clinician.assign_ms = 10;
        settings.clinician.decide_ms = 10;
        (settings.clinician.approve, settings.clinician.decline) = (1, 0);
        settings.clinician.more_info = 0;
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let url = format!("http://{}", listener.local_addr().expect("address"));
        let config = SandboxConfig {
            webhook_url: None,
            webhook_secret: "secret".into(),
            settings,
        };
        tokio::spawn(carepath_sandbox::serve(listener, config));
        let mut sandbox = Self {
            url,
            http: reqwest::Client::new(),
            token: String::new(),
        };
        sandbox.log_in().await;
        sandbox
    }

    /// A fresh token for the clinical network (a reset forgets the old one).
    async fn log_in(&mut self) {
        let (_, token) = self
            .post(
                "/clinical/v1/partner/auth/token",
                json!({ "grant_type": "client_credentials", "client_id": "test" }),
            )
            .await;
        self.token = token["access_token"].as_str().expect("a token").to_owned();
    }

    async fn post(&self, path: &str, body: Value) -> (u16, Value) {
        self.send(self.http.post(format!("{}{path}", self.url)).json(&body))
            .await
    }

    async fn get(&self, path: &str) -> (u16, Value) {
        self.send(self.http.get(format!("{}{path}", self.url)))
            .await
    }

    async fn send(&self, request: reqwest::RequestBuilder) -> (u16, Value) {
        let resp = request
            .bearer_auth(&self.token)
            .send()
            .await
            .expect("request");
        let status = resp.status().as_u16();
        (status, resp.json().await.unwrap_or(Value::Null))
    }

    /// A chart with this email and a case on it for `offering`; the case's id.
    async fn case_for(&self, email: &str, offering: &str) -> String {
        let (status, patient) = self
            .post(
                "/clinical/v1/partner/patients",
                json!({ "first_name": "Ann", "last_name": "Lee", "date_of_birth": "1990-02-01",
                        "state": "CA", "email": email }),
            )
            .await;
        assert_eq!(status, 201, "{patient}");
        let (status, case) = self
            .post(
                "/clinical/v1/partner/cases",
                json!({ "patient_id": patient["id"], "offering_id": offering, "refills": 0 }),
            )
            .await;
        assert_eq!(status, 201, "{case}");
        case["id"].as_str().expect("case id").to_owned()
    }

    /// Waits (up to 10 s) until the case is no longer with the clinician
    /// (submitted or assigned); its status then.
    async fn outcome(&self, case_id: &str) -> String {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let (_, case) = self
                .get(&format!("/clinical/v1/partner/cases/{case_id}"))
                .await;
            let status = case["status"].as_str().unwrap_or_default().to_owned();
            if !["submitted", "assigned", ""].contains(&status.as_str()) {
                return status;
            }
            assert!(
                Instant::now() < deadline,
                "case {case_id} still {status:?} after 10 s"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

#[tokio::test]
async fn a_rule_for_a_patients_email_decides_their_cases_and_others_follow_the_mix() {
    let sandbox = Sandbox::start().await;
    let (status, rules) = sandbox
        .post(
            "/_sandbox/scenarios",
            json!({ "email": " Ann.Lee@Example.com ", "scenario": "decline" }),
        )
        .await;
    assert_eq!(status, 200, "{rules}");
    assert_eq!(
        rules,
        json!([{ "email": "ann.lee@example.com", "scenario": "decline" }])
    );
    sandbox
        .post(
            "/_sandbox/scenarios",
            json!({ "email": "ann.lee@example.com", "offering": "derm", "scenario": "more_info" }),
        )
        .await;

    let declined = sandbox.case_for("ANN.LEE@example.com", "glp1").await;
    let asked = sandbox.case_for("ann.lee@example.com", "derm").await;
    let mixed = sandbox.case_for("bob@example.com", "glp1").await;
    // A case that asks for a decision itself gets none: the rule decides.
    let (_, chart) = sandbox.get("/_sandbox/resources?kind=patient").await;
    let ann = chart
        .as_array()
        .and_then(|p| p.iter().find(|p| p["email"] == "ANN.LEE@example.com"))
        .map(|p| p["id"].clone())
        .expect("Ann's chart");
    let (_, asking) = sandbox
        .post(
            "/clinical/v1/partner/cases",
            json!({ "patient_id": ann, "offering_id": "glp1", "scenario": "approve" }),
        )
        .await;
    let asking = asking["id"].as_str().expect("case id");
    assert_eq!(sandbox.outcome(asking).await, "declined");
    assert_eq!(sandbox.outcome(&declined).await, "declined");
    assert_eq!(sandbox.outcome(&asked).await, "more_info_requested");
    assert_eq!(sandbox.outcome(&mixed).await, "approved");
}

#[tokio::test]
async fn a_bad_rule_is_a_400_naming_the_field_and_reset_forgets_every_rule() {
    let mut sandbox = Sandbox::start().await;
    for (body, field) in [
        (
            json!({ "email": "a@example.com", "scenario": "approved" }),
            "scenario",
        ),
        (json!({ "scenario": "approve" }), "email"),
        (
            json!({ "email": "a@example.com", "scenario": "approve", "journey_id": "j" }),
            "journey_id",
        ),
    ] {
        let (status, answer) = sandbox.post("/_sandbox/scenarios", body.clone()).await;
        assert_eq!(status, 400, "{body}: {answer}");
        assert_eq!(answer["error"]["fields"][0]["path"], field, "{answer}");
    }
    let (status, answer) = sandbox
        .send(
            sandbox
                .http
                .post(format!("{}/_sandbox/scenarios", sandbox.url))
                .body("decline"),
        )
        .await;
    assert_eq!(status, 400, "{answer}");
    assert_eq!(answer["error"]["fields"][0]["path"], "body", "{answer}");
    assert_eq!(sandbox.get("/_sandbox/scenarios").await.1, json!([]));

    sandbox
        .post(
            "/_sandbox/scenarios",
            json!({ "email": "ann@example.com", "scenario": "decline" }),
        )
        .await;
    sandbox.post("/_sandbox/reset", json!(null)).await;
    assert_eq!(sandbox.get("/_sandbox/scenarios").await.1, json!([]));
    sandbox.log_in().await;
    let case = sandbox.case_for("ann@example.com", "glp1").await;
    assert_eq!(sandbox.outcome(&case).await, "approved");
}
