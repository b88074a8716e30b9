//! How long PHI is kept, per class (`[retention]` in the configuration
//! file), and the worker's retention pass that erases what is past it:
//! ended journeys' PHI, webhook bodies and refused webhooks through the
//! engine ([`carepath_engine::retention`]), patients without journeys
//! through [`crate::erasure::retain_unlinked`].
//!
//! Each period is a duration (`"30d"`, `"6years"`) or `"keep"` (never
//! erased). The defaults keep what a clinical record needs and little
//! else: an ended journey's PHI and a patient nobody came back as for six
//! years (HIPAA's documentation period, 45 CFR 164.316(b)(2); state law on
//! medical records may ask for longer, and the clinical network holds the
//! chart itself), a webhook's body for 30 days after it arrived (it was
//! routed long before), a refused webhook for 7 days.

use std::time::Duration;

use carepath_engine::retention::RetentionPolicy;
use serde::{Deserialize, Deserializer};

use crate::search::PHI_KINDS;

const YEAR: Duration = Duration::from_secs(365 * 24 * 3600);
const DAY: Duration = Duration::from_secs(24 * 3600);

/// `[retention]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RetentionConfig {
    /// Completed or cancelled journeys' PHI, from when they ended.
    #[serde(deserialize_with = "period")]
    pub completed_journeys: Option<Duration>,
    /// Webhook bodies, from when they arrived (once routed).
    #[serde(deserialize_with = "period")]
    pub inbox_bodies: Option<Duration>,
    /// Refused webhooks, from when they arrived.
    #[serde(deserialize_with = "period")]
    pub rejected_webhooks: Option<Duration>,
    /// Patients no journey took (imported), from when they were created.
    #[serde(deserialize_with = "period")]
    pub unlinked_patients: Option<Duration>,
    /// Whether a month's steps and history are detached to the
    /// `carepath_archive` schema once all its journeys' PHI was erased.
    pub archive_months: bool,
    /// How often a worker runs a retention pass (one worker at a time does).
    #[serde(with = "humantime_serde")]
    pub every: Duration,
}

impl Default for RetentionConfig {
    fn default() -> Self {
        Self {
            completed_journeys: Some(6 * YEAR),
            inbox_bodies: Some(30 * DAY),
            rejected_webhooks: Some(7 * DAY),
            unlinked_patients: Some(6 * YEAR),
            archive_months: true,
            every: Duration::from_secs(60),
        }
    }
}

impl RetentionConfig {
    /// The engine's part of it.
    pub fn policy(&self) -> RetentionPolicy {
        RetentionPolicy {
            completed_journeys: self.completed_journeys,
            inbox_bodies: self.inbox_bodies,
            rejected_webhooks: self.rejected_webhooks,
            forget_kinds: PHI_KINDS.iter().map(|k| (*k).to_owned()).collect(),
            batch: 500,
            archive_months: self.archive_months,
        }
    }
}

/// A period: a human duration, or `keep` for none.
fn period<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Duration>, D::Error> {
    let text = String::deserialize(d)?;
    if text.trim().eq_ignore_ascii_case("keep") {
        return Ok(None);
    }
    humantime::parse_duration(text.trim())
        .map(Some)
        .map_err(|e| serde::de::Error::custom(format!("{text:?}: {e} (a duration, or \"keep\")")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn periods_read_as_durations_or_keep() {
        let c: RetentionConfig =
            toml::from_str("completed_journeys = \"keep\"\ninbox_bodies = \"2s\"\n")
                .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(c.completed_journeys, None);
        assert_eq!(c.inbox_bodies, Some(Duration::from_secs(2)));
        assert_eq!(c.rejected_webhooks, Some(7 * DAY));
        let bad = toml::from_str::<RetentionConfig>("inbox_bodies = \"soon\"\n");
        assert!(bad.is_err_and(|e| e.to_string().contains("or \"keep\"")));
    }
}
