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
    /// A pharmacy silent this long about an order is asked for its status,
    /// in case its webhooks were lost.
    #[serde(with = "humantime_serde")]
    pub fulfilment_check: Duration,
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
            fulfilment_check: Duration::from_secs(DAY),
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
        Ok(())
    }
}
