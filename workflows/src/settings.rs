//! The configuration file (`--config`, `CAREPATH_CONFIG`): vendor profiles
//! under `[vendors.<name>]` and journey timings under `[consult]`. Secrets are
//! never in it; they come from the environment ([`Settings::load`] reads the
//! webhook secrets; the vendor clients read theirs by the names the
//! profiles give).

use std::collections::BTreeMap;
use std::path::Path;

use anyhow::{Context, Result};
use carepath_activities::VendorsConfig;
use carepath_activities::config::VendorProfile;
use carepath_activities::webhook_signature::Secrets;
use serde::Deserialize;

use crate::consult::config::ConsultConfig;

#[derive(Debug, Clone, Default)]
pub struct Settings {
    pub vendors: VendorsConfig,
    pub consult: ConsultConfig,
    /// The vendors' webhook secrets (none unless [`Settings::load`] read
    /// them, or they are set).
    pub webhook_secrets: Secrets,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    #[serde(default)]
    vendors: BTreeMap<String, VendorProfile>,
    #[serde(default)]
    consult: ConsultConfig,
}

impl From<VendorsConfig> for Settings {
    fn from(vendors: VendorsConfig) -> Self {
        Self {
            vendors,
            ..Self::default()
        }
    }
}

impl Settings {
    pub fn from_toml(text: &str) -> Result<Self> {
        let file: File = toml::from_str(text).context("reading the configuration")?;
        file.consult.check()?;
        Ok(Self {
            vendors: VendorsConfig::from_profiles(file.vendors)?,
            consult: file.consult,
            webhook_secrets: Secrets::default(),
        })
    }

    /// The file at `path`, or every default (vendors on a local sandbox,
    /// production timings) without one; with the webhook secrets of the
    /// environment ([`Secrets::from_env`]).
    pub fn load(path: Option<&Path>) -> Result<Self> {
        let settings = match path {
            None => Self::default(),
            Some(p) => {
                let text = std::fs::read_to_string(p)
                    .with_context(|| format!("reading {}", p.display()))?;
                Self::from_toml(&text).with_context(|| format!("in {}", p.display()))?
            }
        };
        Ok(Self {
            webhook_secrets: Secrets::from_env(),
            ..settings
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn timings_read_as_human_durations_and_default_to_production_values() {
        let s =
            Settings::from_toml("[consult]\nrefill_interval = \"2s\"\ndecision_sla = \"500ms\"\n")
                .unwrap_or_else(|e| panic!("{e:#}"));
        assert_eq!(s.consult.refill_interval, Duration::from_secs(2));
        assert_eq!(s.consult.decision_sla, Duration::from_millis(500));
        assert_eq!(
            s.consult.more_info_cancel,
            Duration::from_secs(14 * 24 * 3600)
        );
        assert!(Settings::from_toml("[consult]\nrefill = \"2s\"\n").is_err());
        assert!(
            Settings::from_toml(
                "[consult]\nmore_info_reminder = \"5d\"\nmore_info_cancel = \"1d\"\n"
            )
            .is_err()
        );
    }
}
