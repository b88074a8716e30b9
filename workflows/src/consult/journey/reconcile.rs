//! Reconciliation: a journey waiting on a vendor asks it when its webhooks
//! have been silent for a while, and a state it learns that way drives the
//! journey exactly as the webhook would have (ARCHITECTURE §2.11).
//!
//! What a lookup found is recorded as the lookup step's output, together
//! with every judgement that depends on the clock or the configuration (was
//! the SLA past, is the order stalled), so a replay months later, under other
//! settings, takes the same path.

use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::consult::config::ConsultConfig;

/// How long a vendor may stay silent before it is asked (again): the
/// configured first period for the vendor and the state the journey knows,
/// multiplied by `check_backoff` after each lookup that learnt nothing new,
/// up to `check_max`. Hearing from the vendor starts the period over.
pub(super) struct Silence<'a> {
    config: &'a ConsultConfig,
    vendor: &'static str,
    first: Duration,
    fruitless: u32,
}

impl<'a> Silence<'a> {
    pub fn new(config: &'a ConsultConfig, vendor: &'static str, state: &str) -> Self {
        Self {
            config,
            vendor,
            first: config.first_check(vendor, state),
            fruitless: 0,
        }
    }

    /// The silence to allow before the next lookup.
    pub fn period(&self) -> Duration {
        let factor = self
            .config
            .check_backoff
            .powi(self.fruitless.min(64) as i32);
        let max = self.config.check_max.max(self.first);
        Duration::try_from_secs_f64(self.first.as_secs_f64() * factor).map_or(max, |d| d.min(max))
    }

    /// A lookup found nothing the journey did not know.
    pub fn learnt_nothing(&mut self) {
        self.fruitless = self.fruitless.saturating_add(1);
    }

    /// The vendor was heard from (by webhook or a fruitful lookup).
    pub fn heard(&mut self) {
        self.fruitless = 0;
    }

    /// The resource moved to `state`: its own period applies from now.
    pub fn moved_to(&mut self, state: &str) {
        self.first = self.config.first_check(self.vendor, state);
        self.fruitless = 0;
    }
}

/// What the clinical network said about the case when it was looked up.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(super) struct CaseFound {
    /// The case's status at the network (`submitted`, `assigned`,
    /// `more_info_requested`, `info_received`, `approved`, `declined`,
    /// `cancelled`, `withdrawn`).
    pub status: String,
    /// With `more_info_requested`: which round of questions (1, 2, ...).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub round: Option<u64>,
    /// With `more_info_requested`: the clinician's question, from the case's
    /// messages (the webhook carries it; a lookup must fetch it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// Whether the clinician's turn was past its decision SLA at the lookup.
    pub past_sla: bool,
    /// When the case was looked up.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub at: Option<DateTime<Utc>>,
}

/// A `check_case` step's recorded output.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(untagged)]
pub(super) enum CaseLookup {
    Found(CaseFound),
    /// Recorded before lookups drove every state: the bare status. Such a
    /// lookup drives only what it drove then (a decision), and was always
    /// made at the SLA, so it replays as it ran.
    Status(String),
}

/// Case statuses that end the clinician's turn, by webhook type.
pub(super) const DECISIVE: [&str; 4] = [
    "case.approved",
    "case.declined",
    "case.cancelled",
    "case.more_info_requested",
];

impl CaseLookup {
    pub fn status(&self) -> &str {
        match self {
            Self::Found(f) => &f.status,
            Self::Status(s) => s,
        }
    }

    /// When the lookup was made, if it was recorded with its time.
    pub fn at(&self) -> Option<DateTime<Utc>> {
        match self {
            Self::Found(f) => f.at,
            Self::Status(_) => None,
        }
    }

    pub fn past_sla(&self) -> bool {
        match self {
            Self::Found(f) => f.past_sla,
            Self::Status(_) => true,
        }
    }

    /// The event this lookup stands for, shaped as the webhook that was
    /// lost, when it tells the journey something new: a decision, a round of
    /// questions after `last_round`, an assignment it had not heard of.
    /// Marked `"source": "lookup"`.
    pub fn news(&self, known: &str, last_round: u64) -> Option<Value> {
        let event = |kind: &str, data: Value| {
            Some(json!({ "type": kind, "data": data, "source": "lookup" }))
        };
        match self {
            Self::Status(s) if matches!(s.as_str(), "approved" | "declined") => {
                event(&format!("case.{s}"), json!({}))
            }
            Self::Status(_) => None,
            Self::Found(f) => match f.status.as_str() {
                s @ ("approved" | "declined" | "cancelled") => {
                    event(&format!("case.{s}"), json!({}))
                }
                // Withdrawn by someone else (the journey withdraws a case only
                // once it stops waiting): no clinician will decide it either.
                "withdrawn" => event("case.cancelled", json!({ "reason": "withdrawn" })),
                "more_info_requested" => match f.round {
                    Some(round) if round > last_round => event(
                        "case.more_info_requested",
                        json!({ "round": round, "message": f.message }),
                    ),
                    _ => None,
                },
                "assigned" if known == "submitted" => event("case.assigned", json!({})),
                _ => None,
            },
        }
    }
}

/// What the pharmacy said about an order when it was looked up.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(super) struct OrderFound {
    pub status: String,
    /// Whether the order had not moved for `fulfilment_stall` at the lookup.
    pub stalled: bool,
}

/// A `check_order` step's recorded output.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(untagged)]
pub(super) enum OrderLookup {
    Found(OrderFound),
    /// Recorded before stalls were judged by time: the bare status; such
    /// lookups judge a stall as they did then (three silent lookups).
    Status(String),
}

impl OrderLookup {
    pub fn status(&self) -> &str {
        match self {
            Self::Found(f) => &f.status,
            Self::Status(s) => s,
        }
    }

    pub fn stalled(&self, silent_lookups: u32) -> bool {
        match self {
            Self::Found(f) => f.stalled,
            Self::Status(_) => silent_lookups >= 3,
        }
    }
}

/// An `order_<status>` step's recorded output: when the order moved.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(untagged)]
pub(super) enum Moved {
    /// When, and how many alerts about the order being stuck it resolved.
    /// A move recorded so re-arms the alert for the order's next state.
    Now { at: DateTime<Utc>, resolved: u64 },
    /// Recorded before alerts resolved: the time only (and no re-arming, as then).
    Before(DateTime<Utc>),
}

impl Moved {
    pub fn at(&self) -> DateTime<Utc> {
        match self {
            Self::Now { at, .. } | Self::Before(at) => *at,
        }
    }

    /// Whether a stall in the order's next state is news again (moves
    /// recorded before alerts resolved did not re-arm them).
    pub fn re_arms(&self) -> bool {
        matches!(self, Self::Now { .. })
    }
}

/// Whether an order last known to move at `since` has stalled by `now`.
pub(super) fn stalled(since: DateTime<Utc>, now: DateTime<Utc>, stall: Duration) -> bool {
    (now - since).to_std().is_ok_and(|quiet| quiet >= stall)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_silence_grows_after_fruitless_lookups_up_to_the_cap_and_restarts_on_news() {
        let config = ConsultConfig {
            case_check: Duration::from_secs(60),
            check_backoff: 2.0,
            check_max: Duration::from_secs(300),
            check_by_state: [("clinical.assigned".to_owned(), Duration::from_secs(10))].into(),
            ..ConsultConfig::default()
        };
        let mut s = Silence::new(&config, "clinical", "submitted");
        let mut seen = Vec::new();
        for _ in 0..5 {
            seen.push(s.period().as_secs());
            s.learnt_nothing();
        }
        assert_eq!(seen, [60, 120, 240, 300, 300]);
        s.heard();
        assert_eq!(s.period().as_secs(), 60);
        s.moved_to("assigned");
        assert_eq!(s.period().as_secs(), 10);
        for _ in 0..1000 {
            s.learnt_nothing();
        }
        assert_eq!(s.period().as_secs(), 300);
    }

    #[test]
    fn a_lookup_recorded_as_a_bare_status_drives_only_a_decision() {
        let old: CaseLookup = serde_json::from_value(json!("more_info_requested")).unwrap();
        assert!(old.news("assigned", 0).is_none());
        assert!(old.past_sla());
        let old: CaseLookup = serde_json::from_value(json!("approved")).unwrap();
        assert_eq!(old.news("assigned", 0).unwrap()["type"], "case.approved");
    }

    #[test]
    fn a_lookup_drives_each_state_once() {
        let found = |status: &str, round: Option<u64>| {
            CaseLookup::Found(CaseFound {
                status: status.into(),
                round,
                message: Some("How long have you had it?".into()),
                past_sla: false,
                at: None,
            })
        };
        let asked = found("more_info_requested", Some(2))
            .news("assigned", 1)
            .unwrap();
        assert_eq!(asked["type"], "case.more_info_requested");
        assert_eq!(asked["data"]["round"], 2);
        assert_eq!(asked["data"]["message"], "How long have you had it?");
        assert!(
            found("more_info_requested", Some(2))
                .news("assigned", 2)
                .is_none()
        );
        assert!(
            found("more_info_requested", None)
                .news("assigned", 0)
                .is_none()
        );
        assert!(found("assigned", None).news("submitted", 0).is_some());
        assert!(found("assigned", None).news("assigned", 0).is_none());
        assert!(
            found("info_received", None)
                .news("info_received", 1)
                .is_none()
        );
        for s in ["approved", "declined", "cancelled"] {
            let e = found(s, None).news("assigned", 0).unwrap();
            assert_eq!(e["type"], format!("case.{s}"));
            assert!(DECISIVE.contains(&e["type"].as_str().unwrap_or_default()));
        }
        let withdrawn = found("withdrawn", None).news("assigned", 0).unwrap();
        assert_eq!(withdrawn["type"], "case.cancelled");
        let recorded = serde_json::to_value(found("assigned", None)).unwrap();
        let back: CaseLookup = serde_json::from_value(recorded).unwrap();
        assert!(matches!(back, CaseLookup::Found(_)));
    }

    #[test]
    fn a_move_recorded_as_a_bare_time_re_arms_nothing() {
        let at = Utc::now();
        let old: Moved = serde_json::from_value(json!(at)).unwrap();
        assert_eq!((old.at(), old.re_arms()), (at, false));
        let new = serde_json::to_value(Moved::Now { at, resolved: 0 }).unwrap();
        let back: Moved = serde_json::from_value(new).unwrap();
        assert_eq!((back.at(), back.re_arms()), (at, true));
    }

    #[test]
    fn an_order_lookup_recorded_as_a_bare_status_judges_a_stall_by_count() {
        let old: OrderLookup = serde_json::from_value(json!("received")).unwrap();
        assert!(!old.stalled(2));
        assert!(old.stalled(3));
        let now = Utc::now();
        let day = Duration::from_secs(86_400);
        assert!(stalled(now - chrono::Duration::days(2), now, day));
        assert!(!stalled(now - chrono::Duration::hours(2), now, day));
        assert!(!stalled(now + chrono::Duration::hours(2), now, day));
    }
}
