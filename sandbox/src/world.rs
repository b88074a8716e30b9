//! The simulated world behind the vendors: clinicians who pick up cases and
//! decide, pharmacies that fill and ship, and the webhooks that report it.

use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use rand::Rng;
use serde_json::{Value, json};

use super::App;
use super::feed;
use super::scenarios::Scenario;
use super::state::{ClinicianSettings, DroppedWebhook, State};
use super::vendors::Event;
use carepath_activities::webhook_signature;

impl App {
    pub(super) fn spawn_event(self: &Arc<Self>, event: Event) {
        let app = self.clone();
        tokio::spawn(async move { app.play(event).await });
    }

    async fn play(self: Arc<Self>, event: Event) {
        let clinician = self.lock().settings.clinician.clone();
        match event {
            Event::CaseSubmitted { case_id } => {
                tokio::time::sleep(Duration::from_millis(clinician.assign_ms)).await;
                let clinician_id = format!("clin_{}", rand::rng().random_range(100..999));
                // A case withdrawn before a clinician picked it up is not picked up.
                let assigned = self.update_case(&case_id, |c| {
                    if c["status"] != "submitted" {
                        return false;
                    }
                    c["status"] = json!("assigned");
                    c["clinician_id"] = json!(clinician_id);
                    true
                });
                if !assigned {
                    return;
                }
                self.webhook(
                    "clinical",
                    "case.assigned",
                    json!({ "case_id": case_id, "clinician_id": clinician_id }),
                )
                .await;
                tokio::time::sleep(Duration::from_millis(clinician.decide_ms)).await;
                self.decide(&case_id).await;
            }
            Event::PatientAnswered { case_id } => {
                tokio::time::sleep(Duration::from_millis(clinician.decide_ms)).await;
                self.decide(&case_id).await;
            }
            Event::OrderPlaced { order_id } => {
                for status in ["filled", "shipped", "delivered"] {
                    tokio::time::sleep(Duration::from_millis(clinician.decide_ms / 2)).await;
                    let order = {
                        let mut s = self.lock();
                        let Some(o) = s.get_mut("order", &order_id) else {
                            return;
                        };
                        o["status"] = json!(status);
                        o.clone()
                    };
                    let data = json!({ "order_id": order_id, "status": status,
                                       "external_id": order["external_id"] });
                    self.webhook("pharmacy", &format!("order.{status}"), data)
                        .await;
                }
            }
        }
    }

    /// The clinician's next move on the case, reported by webhook.
    async fn decide(self: &Arc<Self>, case_id: &str) {
        let decision = next_move(&mut self.lock(), case_id);
        if let Some((kind, data)) = decision {
            self.webhook("clinical", kind, data).await;
        }
    }

    /// Applies `f` to the case; what it returned, or false without such a case.
    fn update_case(&self, case_id: &str, f: impl FnOnce(&mut Value) -> bool) -> bool {
        self.lock().get_mut("case", case_id).is_some_and(f)
    }

    /// Reports one event: appends it to the vendor's feed (the pharmacy's),
    /// then, unless a fault drops it (kept for a redelivery), sends it to
    /// carepath's inbox: late by up to `max_delay_ms` (which reorders
    /// events), twice at `duplicate_rate`, retried a few times when the inbox
    /// does not answer 2xx, as vendors do. Without a webhook URL, nothing is
    /// sent (nor dropped).
    async fn webhook(self: &Arc<Self>, vendor: &str, kind: &str, data: Value) {
        let event_id = format!("evt_{}", uuid::Uuid::new_v4().simple());
        let occurred_at = Utc::now().to_rfc3339();
        let event = json!({
            "event_id": event_id,
            "type": kind,
            "occurred_at": occurred_at,
            "data": data,
        });
        // The feed item and the webhook body are one JSON object, serialised
        // the same way: byte for byte the same.
        let body = event.to_string();
        let settings = {
            let mut s = self.lock();
            if vendor == feed::VENDOR {
                s.pharmacy_feed.push(event);
            }
            if self.config.webhook_url.is_none() {
                return;
            }
            if s.faults.drops_webhook(vendor, kind) {
                s.counters.webhooks_dropped += 1;
                s.dropped_webhooks.push(DroppedWebhook {
                    vendor: vendor.to_owned(),
                    event_id,
                    occurred_at,
                    body,
                });
                return;
            }
            s.settings.webhooks.clone()
        };
        let copies = if settings.duplicate_rate > 0.0
            && rand::rng().random_bool(settings.duplicate_rate.min(1.0))
        {
            2
        } else {
            1
        };
        for _ in 0..copies {
            let delay = rand::rng().random_range(0..=settings.max_delay_ms);
            // Each copy travels on its own, so a later event can overtake an earlier one.
            let (app, vendor, body) = (self.clone(), vendor.to_owned(), body.clone());
            tokio::spawn(async move {
                app.send(&vendor, body, Duration::from_millis(delay)).await;
            });
        }
    }

    /// Sends every webhook a fault dropped, now, in the order they were
    /// dropped, unchanged (same event id and time; a fresh signature), and
    /// forgets them; how many were sent or given up on (counted in
    /// `webhooks_sent` / `webhooks_failed`).
    pub(super) async fn redeliver(self: &Arc<Self>) -> usize {
        let kept = std::mem::take(&mut self.lock().dropped_webhooks);
        let n = kept.len();
        for d in kept {
            self.send(&d.vendor, d.body, Duration::ZERO).await;
        }
        n
    }

    /// Delivers `body` to `vendor`'s webhook URL after `delay`, and counts it.
    async fn send(&self, vendor: &str, body: String, delay: Duration) {
        let Some(base) = self.config.webhook_url.as_deref() else {
            return;
        };
        let url = format!("{}/{vendor}", base.trim_end_matches('/'));
        let sent = deliver(
            self.http.clone(),
            self.config.webhook_secret.clone(),
            url,
            body,
            delay,
        )
        .await;
        let mut s = self.lock();
        if sent {
            s.counters.webhooks_sent += 1;
        } else {
            s.counters.webhooks_failed += 1;
        }
    }
}

/// A case is decided as its scenario says: the one a rule set when it was
/// created (see `scenarios.rs`), or else one drawn from the configured mix
/// and kept. The move it makes now, as the webhook's event type and data;
/// none for a case that is gone, withdrawn, cancelled or stalled.
fn next_move(s: &mut State, case_id: &str) -> Option<(&'static str, Value)> {
    let mix = s.settings.clinician.clone();
    let case = s.get_mut("case", case_id)?;
    // A withdrawn or cancelled case is no longer reviewed.
    if matches!(case["status"].as_str(), Some("withdrawn" | "cancelled")) {
        return None;
    }
    let scenario = match case["scenario"].as_str().and_then(Scenario::parse) {
        Some(scenario) => scenario,
        None => {
            let drawn = from_mix(&mix);
            case["scenario"] = json!(drawn.as_str());
            drawn
        }
    };
    if scenario == Scenario::Stall {
        return None;
    }
    // When the clinician acted: what a lost webhook's delay is measured from.
    case["status_changed_at"] = json!(Utc::now().to_rfc3339());
    let rounds = case["more_info_rounds"].as_u64().unwrap_or(0);
    if rounds < scenario.rounds() {
        return Some(ask_more_info(s, case_id, rounds + 1));
    }
    let (status, kind, reason) = match scenario {
        Scenario::Cancel => ("cancelled", "case.cancelled", "no clinician available"),
        Scenario::Decline => ("declined", "case.declined", "not a candidate"),
        _ => return approve(s, case_id),
    };
    case["status"] = json!(status);
    Some((kind, json!({ "case_id": case_id, "reason": reason })))
}

/// A scenario drawn from the configured decision mix.
fn from_mix(mix: &ClinicianSettings) -> Scenario {
    let total = (mix.approve + mix.decline + mix.more_info).max(1);
    let roll = rand::rng().random_range(0..total);
    if roll < mix.approve {
        Scenario::Approve
    } else if roll < mix.approve + mix.decline {
        Scenario::Decline
    } else {
        Scenario::MoreInfo
    }
}

/// Round `round` of questions: the question is a message on the case, as at
/// a real network: the webhook carries it, a lookup must fetch it.
fn ask_more_info(s: &mut State, case_id: &str, round: u64) -> (&'static str, Value) {
    if let Some(case) = s.get_mut("case", case_id) {
        case["status"] = json!("more_info_requested");
        case["more_info_rounds"] = json!(round);
    }
    let question = question(round);
    s.create(
        "message",
        None,
        json!({ "case_id": case_id, "from": "clinician", "text": question, "round": round }),
    );
    (
        "case.more_info_requested",
        json!({ "case_id": case_id, "round": round, "message": question }),
    )
}

/// Approves the case, writing its prescription.
fn approve(s: &mut State, case_id: &str) -> Option<(&'static str, Value)> {
    let case = s.get_mut("case", case_id)?;
    case["status"] = json!("approved");
    let rx = json!({
        "patient_id": case["patient_id"].clone(),
        "medication": case["offering_id"].clone(),
        "refills": case["refills"].clone(),
        "case_id": case_id,
    });
    // One case, one prescription: a second one is counted as a duplicate;
    // so is one for a medication the patient still has.
    let prescription = s.create_prescription(case_id, rx);
    if let Some(case) = s.get_mut("case", case_id) {
        case["prescription"] = prescription.clone();
    }
    Some((
        "case.approved",
        json!({ "case_id": case_id, "prescription": prescription }),
    ))
}

/// The clinician's question in round `round` (no patient data in it).
fn question(round: u64) -> String {
    match round {
        1 => "How long have you had these symptoms, and have you tried any treatment?".into(),
        n => format!("Round {n}: could you send a photo of the affected area in daylight?"),
    }
}

async fn deliver(
    http: reqwest::Client,
    secret: String,
    url: String,
    body: String,
    delay: Duration,
) -> bool {
    tokio::time::sleep(delay).await;
    for attempt in 0..5u32 {
        let signature =
            webhook_signature::sign(secret.as_bytes(), Utc::now().timestamp(), body.as_bytes());
        let sent = http
            .post(&url)
            .header("content-type", "application/json")
            .header(webhook_signature::HEADER, signature)
            .body(body.clone())
            .send()
            .await;
        if sent.is_ok_and(|r| r.status().is_success()) {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(500 * 2u64.pow(attempt))).await;
    }
    false
}
