//! The journey's timings. Every one is configuration (`[consult]` in the TOML
//! file), so tests and the demo run months in seconds.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::Deserialize;

/// What a second intake does while the same patient has an open consult for
/// the same offering.
#[derive(Debug, Clone, Copy, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum DuplicatePolicy {
    /// The new answers go to the open case as a message to the clinician;
    /// the new journey ends `merged`, naming the open one.
    #[default]
    Attach,
    /// The new journey waits in `duplicate_intake_review` for an operator.
    Review,
    /// Parallel consults are fine for this offering (nothing is claimed).
    Allow,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ConsultConfig {
    /// A clinician's decision later than this after (re)submission raises an alert.
    #[serde(with = "humantime_serde")]
    pub decision_sla: Duration,
    /// A more-information request unanswered this long gets a reminder.
    #[serde(with = "humantime_serde")]
    pub more_info_reminder: Duration,
    /// ... and this long after the request, the consult is cancelled.
    #[serde(with = "humantime_serde")]
    pub more_info_cancel: Duration,
    /// From a fill to the next refill.
    #[serde(with = "humantime_serde")]
    pub refill_interval: Duration,
    /// A clinical case the network has been silent about this long is looked
    /// up, in case its webhooks were lost (reconciliation); every state the
    /// lookup finds drives the journey as its webhook would.
    #[serde(with = "humantime_serde")]
    pub case_check: Duration,
    /// A pharmacy silent this long about an order is asked for its status,
    /// in case its webhooks were lost.
    #[serde(with = "humantime_serde")]
    pub fulfilment_check: Duration,
    /// Per vendor state, a silence other than `case_check` / `fulfilment_check`
    /// before the first lookup: `{ "clinical.info_received" = "30m",
    /// "pharmacy.shipped" = "6h" }`. Keys are `clinical.<case status>`
    /// (`submitted`, `assigned`, `info_received`) or `pharmacy.<order status>`
    /// (`received`, `filled`, `shipped`).
    #[serde(with = "humantime_map")]
    pub check_by_state: BTreeMap<String, Duration>,
    /// Each lookup that learns nothing new multiplies the next silence by
    /// this (1.0: a fixed period) ...
    pub check_backoff: f64,
    /// ... up to this (at least `case_check` and `fulfilment_check`; a
    /// `check_by_state` period above it is its own cap).
    #[serde(with = "humantime_serde")]
    pub check_max: Duration,
    /// An order that has not moved for this long since it was placed or last
    /// moved (as a lookup finds it) raises `fulfilment_stalled`.
    #[serde(with = "humantime_serde")]
    pub fulfilment_stall: Duration,
    /// A second intake while the patient's consult for the offering is open.
    pub duplicate_intake: DuplicatePolicy,
    /// Per-offering exceptions to `duplicate_intake` (`{ glp1_monthly = "review" }`).
    pub duplicate_intake_by_offering: BTreeMap<String, DuplicatePolicy>,
}

impl Default for ConsultConfig {
    fn default() -> Self {
        const DAY: u64 = 24 * 3600;
        Self {
            decision_sla: Duration::from_secs(2 * DAY),
            more_info_reminder: Duration::from_secs(3 * DAY),
            more_info_cancel: Duration::from_secs(14 * DAY),
            refill_interval: Duration::from_secs(30 * DAY),
            case_check: Duration::from_secs(10 * 60),
            fulfilment_check: Duration::from_secs(30 * 60),
            check_by_state: BTreeMap::new(),
            check_backoff: 2.0,
            check_max: Duration::from_secs(6 * 3600),
            fulfilment_stall: Duration::from_secs(3 * DAY),
            duplicate_intake: DuplicatePolicy::Attach,
            duplicate_intake_by_offering: BTreeMap::new(),
        }
    }
}

impl ConsultConfig {
    /// The policy for a second intake for `offering_id`.
    pub fn duplicate_policy(&self, offering_id: &str) -> DuplicatePolicy {
        self.duplicate_intake_by_offering
            .get(offering_id)
            .copied()
            .unwrap_or(self.duplicate_intake)
    }

    pub fn check(&self) -> anyhow::Result<()> {
        if self.more_info_cancel <= self.more_info_reminder {
            anyhow::bail!(
                "consult.more_info_cancel must be longer than consult.more_info_reminder"
            );
        }
        if self.refill_interval.is_zero() || self.fulfilment_check.is_zero() {
            anyhow::bail!("consult.refill_interval and consult.fulfilment_check must be positive");
        }
        if self.case_check.is_zero() || self.check_max.is_zero() {
            anyhow::bail!("consult.case_check and consult.check_max must be positive");
        }
        if self.fulfilment_stall.is_zero() {
            anyhow::bail!("consult.fulfilment_stall must be positive");
        }
        if self.check_max < self.case_check || self.check_max < self.fulfilment_check {
            anyhow::bail!(
                "consult.check_max must be at least consult.case_check and consult.fulfilment_check"
            );
        }
        if !(1.0..=10.0).contains(&self.check_backoff) {
            anyhow::bail!("consult.check_backoff must be between 1.0 (a fixed period) and 10.0");
        }
        for (key, period) in &self.check_by_state {
            let known = key
                .strip_prefix("clinical.")
                .is_some_and(|s| CASE_STATES.contains(&s))
                || key
                    .strip_prefix("pharmacy.")
                    .is_some_and(|s| ORDER_STATES.contains(&s));
            if !known {
                anyhow::bail!(
                    "consult.check_by_state: {key:?} names no state a journey waits in; \
                     known: clinical.{}, pharmacy.{}",
                    CASE_STATES.join(", clinical."),
                    ORDER_STATES.join(", pharmacy.")
                );
            }
            if period.is_zero() {
                anyhow::bail!("consult.check_by_state.{key} must be positive");
            }
        }
        Ok(())
    }

    /// How long `vendor` (`clinical`, `pharmacy`) may stay silent about a
    /// resource in `state` before it is looked up, the first time.
    pub fn first_check(&self, vendor: &str, state: &str) -> Duration {
        self.check_by_state
            .get(&format!("{vendor}.{state}"))
            .copied()
            .unwrap_or(if vendor == "clinical" {
                self.case_check
            } else {
                self.fulfilment_check
            })
    }
}

/// Case states a journey waits for the clinician in.
const CASE_STATES: [&str; 3] = ["submitted", "assigned", "info_received"];
/// Order states a journey waits for the pharmacy in.
const ORDER_STATES: [&str; 3] = ["received", "filled", "shipped"];

/// `BTreeMap<String, Duration>` written as humantime strings (`"30m"`).
mod humantime_map {
    use std::collections::BTreeMap;
    use std::time::Duration;

    use serde::{Deserialize, Deserializer};

    pub fn deserialize<'de, D: Deserializer<'de>>(
        d: D,
    ) -> Result<BTreeMap<String, Duration>, D::Error> {
        let text = BTreeMap::<String, String>::deserialize(d)?;
        text.into_iter()
            .map(|(k, v)| {
                humantime::parse_duration(&v)
                    .map(|d| (k.clone(), d))
                    .map_err(|e| serde::de::Error::custom(format!("{k}: {e}")))
            })
            .collect()
    }
}
