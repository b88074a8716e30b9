//! The configuration file (`--config`, `CAREPATH_CONFIG`): its `mode`
//! (production unless it says `mode = "development"`), vendor profiles under
//! `[vendors.<name>]` and journey timings under `[consult]`. Secrets are
//! never in it; they come from the environment ([`Settings::load`] reads the
//! webhook secrets; the vendor clients read theirs by the names the
//! profiles give).

use std::collections::BTreeMap;
use std::path::Path;

use anyhow::{Context, Result};
use carepath_activities::VendorsConfig;
use carepath_activities::config::VendorProfile;
use carepath_activities::credentials::{self, Mode};
use carepath_activities::webhook_signature::Secrets;
use carepath_engine::SearchKey;
use carepath_engine::vault::{KeyRing, Vault};
use serde::Deserialize;

use crate::consult::config::ConsultConfig;
use crate::retention::RetentionConfig;

#[derive(Debug, Clone, Default)]
pub struct Settings {
    pub vendors: VendorsConfig,
    pub consult: ConsultConfig,
    /// How long PHI is kept, per class (`[retention]`).
    pub retention: RetentionConfig,
    /// The vendors' webhook secrets (none unless [`Settings::load`] read
    /// them, or they are set).
    pub webhook_secrets: Secrets,
    /// The key PHI search identifiers are hashed with (see [`SearchKeySetting`]).
    pub search_key: SearchKeySetting,
    /// The key-encryption keys PHI is sealed under (see [`KeyRingSetting`]).
    pub key_ring: KeyRingSetting,
}

/// Where the key-encryption keys that seal PHI at rest come from.
#[derive(Debug, Clone, Default)]
pub enum KeyRingSetting {
    /// `CAREPATH_KEY_RING`.
    Configured(std::sync::Arc<KeyRing>),
    /// Development without one: [`DEVELOPMENT_KEY_RING`].
    #[default]
    Development,
    /// `CAREPATH_PHI_ENCRYPTION=off`: PHI is stored plain (what was sealed
    /// before does not open).
    Off,
    /// Production without `CAREPATH_KEY_RING`: PHI is stored plain, and
    /// every start says so loudly. The process still starts (as without a
    /// search key) — a deployment that has not set its ring yet keeps
    /// running — but a data key already stored cannot be opened, so a
    /// database that holds sealed values refuses it at start
    /// (`vault::verify`).
    Unset,
}

/// The variable holding the key-encryption keys: `id:base64` entries,
/// comma-separated, the current one first (see
/// [`carepath_engine::vault::KeyRing`]), the same in every process.
pub const KEY_RING_VARIABLE: &str = "CAREPATH_KEY_RING";

/// `off` stores PHI plain (benchmarks, or a deliberate choice); anything
/// else, or unset, seals it.
pub const ENCRYPTION_VARIABLE: &str = "CAREPATH_PHI_ENCRYPTION";

/// The key ring development uses without `CAREPATH_KEY_RING`. It is
/// published here, so what it seals is as good as plain: production never
/// uses it.
pub const DEVELOPMENT_KEY_RING: &str = "dev:Y2FyZXBhdGggZGV2IGtleS1lbmNyeXB0aW9uIGtleSE=";

/// Where the key PHI search identifiers are hashed with comes from.
#[derive(Debug, Clone, Default)]
pub enum SearchKeySetting {
    /// `CAREPATH_SEARCH_KEY`.
    Configured(SearchKey),
    /// Development without one: [`DEVELOPMENT_SEARCH_KEY`].
    #[default]
    Development,
    /// Production without one: PHI identifiers are neither indexed nor
    /// searched (a published key would make their hashes as good as clear),
    /// and the process says so at start. It still starts: search by a case
    /// or an order, and everything else, works.
    Unset,
}

/// The variable holding the deployment's search key: at least
/// [`carepath_engine::search::MIN_KEY_BYTES`] bytes, the same in every worker
/// and API process (e.g. `openssl rand -base64 32`).
pub const SEARCH_KEY_VARIABLE: &str = "CAREPATH_SEARCH_KEY";

/// The search key development uses when `CAREPATH_SEARCH_KEY` is not set. It
/// is published here, so PHI identifiers hashed with it are as good as in
/// clear: production never uses it.
pub const DEVELOPMENT_SEARCH_KEY: &str = "carepath development search key: not a secret";

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    #[serde(default)]
    mode: Mode,
    #[serde(default)]
    vendors: BTreeMap<String, VendorProfile>,
    #[serde(default)]
    consult: ConsultConfig,
    #[serde(default)]
    retention: RetentionConfig,
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
            vendors: VendorsConfig::from_profiles(file.mode, file.vendors)?,
            consult: file.consult,
            retention: file.retention,
            webhook_secrets: Secrets::default(),
            search_key: SearchKeySetting::Development,
            key_ring: KeyRingSetting::Development,
        })
    }

    /// The file at `path`, or every default (vendors on a local sandbox with
    /// its development credentials, production timings) without one; with
    /// the webhook secrets of the environment ([`Secrets::from_env`]) and,
    /// only for a file that says `mode = "development"`, the sandbox's for
    /// vendors that have none.
    ///
    /// # Errors
    /// An unreadable or invalid file; in production, a secret variable a
    /// profile names that is not set ([`credentials::check`]), naming each;
    /// a `CAREPATH_SEARCH_KEY` shorter than 32 bytes.
    pub fn load(path: Option<&Path>) -> Result<Self> {
        let settings = match path {
            None => Self::default(),
            Some(p) => {
                let text = std::fs::read_to_string(p)
                    .with_context(|| format!("reading {}", p.display()))?;
                Self::from_toml(&text).with_context(|| format!("in {}", p.display()))?
            }
        };
        credentials::check(&settings.vendors, env)?;
        let production = path.is_some() && settings.vendors.mode == Mode::Production;
        let search_key = search_key(production)?;
        let key_ring = key_ring(production)?;
        // Only a file that says `mode = "development"` checks webhooks with
        // the sandbox's published secret: a deployment that lost its
        // configuration must not accept events anyone can sign.
        let said_development = path.is_some() && settings.vendors.mode == Mode::Development;
        let webhook_secrets = if said_development {
            Secrets::from_env().or_development()
        } else {
            Secrets::from_env()
        };
        Ok(Self {
            webhook_secrets,
            search_key,
            key_ring,
            ..settings
        })
    }

    /// The key PHI search identifiers are hashed with: the configured one,
    /// in development [`DEVELOPMENT_SEARCH_KEY`], in production without one
    /// none.
    pub fn search_key(&self) -> Option<SearchKey> {
        match &self.search_key {
            SearchKeySetting::Configured(k) => Some(k.clone()),
            SearchKeySetting::Development => SearchKey::new(DEVELOPMENT_SEARCH_KEY.as_bytes()).ok(),
            SearchKeySetting::Unset => None,
        }
    }

    /// What the patient registry hashes and seals with (see
    /// [`crate::consult::patients::Keys::for_deployment`]).
    ///
    /// # Errors
    /// No search key while PHI is encrypted at rest: patients cannot be
    /// matched, and the process refuses to start.
    pub fn registry_keys(
        &self,
    ) -> Result<crate::consult::patients::Keys, crate::consult::patients::NoSearchKey> {
        crate::consult::patients::Keys::for_deployment(self.vault(), self.search_key())
    }

    /// What seals PHI at rest: the configured key ring, in development
    /// [`DEVELOPMENT_KEY_RING`], or nothing when encryption is off.
    pub fn vault(&self) -> Vault {
        match &self.key_ring {
            KeyRingSetting::Configured(ring) => Vault::new(ring.clone()),
            KeyRingSetting::Development => KeyRing::parse(DEVELOPMENT_KEY_RING)
                .map(|ring| Vault::new(std::sync::Arc::new(ring)))
                .unwrap_or_else(|_| Vault::off()),
            KeyRingSetting::Off | KeyRingSetting::Unset => Vault::off(),
        }
    }

    /// What an operator should know at start, one line each, no secret in
    /// any: vendors on development credentials or the development webhook
    /// secret, and vendors whose webhooks will all be refused for want of a
    /// secret.
    pub fn warnings(&self) -> Vec<String> {
        let mut lines = Vec::new();
        let unset: Vec<String> = credentials::unset(&self.vendors, env)
            .into_iter()
            .map(|m| m.variable)
            .collect();
        if self.vendors.mode == Mode::Development && !unset.is_empty() {
            lines.push(format!(
                "development mode: the sandbox's development credential stands in for {}",
                unset.join(", ")
            ));
        }
        match self.search_key {
            SearchKeySetting::Development => lines.push(format!(
                "development mode: patients' identifiers are hashed for search with the \
                 published development key (set {SEARCH_KEY_VARIABLE})"
            )),
            SearchKeySetting::Unset => lines.push(format!(
                "{SEARCH_KEY_VARIABLE} is not set: journeys are not indexed by, and cannot be \
                 found by, the patient's external id, email or phone (set it: 32 bytes or \
                 more, the same in every process, e.g. `openssl rand -base64 32`)"
            )),
            SearchKeySetting::Configured(_) => {}
        }
        match self.key_ring {
            KeyRingSetting::Development => lines.push(format!(
                "development mode: PHI is sealed at rest under the published development \
                 key-encryption key (set {KEY_RING_VARIABLE})"
            )),
            KeyRingSetting::Off => lines.push(format!(
                "{ENCRYPTION_VARIABLE}=off: PHI is stored in clear, and what was sealed \
                 before cannot be read"
            )),
            KeyRingSetting::Unset => lines.push(format!(
                "{KEY_RING_VARIABLE} is not set: PHI is stored IN CLEAR in the database and \
                 its backups (set it: `id:base64` entries, the current first, e.g. \
                 `k1:$(openssl rand -base64 32)`, the same in every process)"
            )),
            KeyRingSetting::Configured(_) => {}
        }
        let (mut development, mut refused) = (Vec::new(), Vec::new());
        for vendor in self.vendors.vendors.keys() {
            let variable = format!("CAREPATH_{}_WEBHOOK_SECRET", vendor.to_uppercase());
            if self.webhook_secrets.of(vendor).is_empty() {
                refused.push(format!("{vendor} (set {variable})"));
            } else if self.webhook_secrets.is_development(vendor) {
                development.push(vendor.as_str());
            }
        }
        if !development.is_empty() {
            lines.push(format!(
                "development mode: webhooks from {} are checked with the sandbox's development \
                 secret, as the sandbox signs them by default",
                development.join(", ")
            ));
        }
        for vendor in refused {
            lines.push(format!(
                "no webhook secret for {vendor}: every webhook it sends will be refused \
                 (and kept for 72 hours, to replay once the secret is set: \
                 `carepath ctl inbox --status rejected`, then \
                 `carepath ctl inbox-replay-rejected <id> --reason <why>`)"
            ));
        }
        lines
    }
}

/// The search key `CAREPATH_SEARCH_KEY` holds, or what stands in for it
/// in `production` or development.
///
/// # Errors
/// A key shorter than 32 bytes.
fn search_key(production: bool) -> Result<SearchKeySetting> {
    Ok(match env(SEARCH_KEY_VARIABLE) {
        Some(k) => SearchKeySetting::Configured(
            SearchKey::new(k.as_bytes()).with_context(|| format!("in {SEARCH_KEY_VARIABLE}"))?,
        ),
        None if production => SearchKeySetting::Unset,
        None => SearchKeySetting::Development,
    })
}

/// The key ring `CAREPATH_KEY_RING` holds, what stands in for it in
/// development, or off when `CAREPATH_PHI_ENCRYPTION=off` (or, with a
/// warning, in production without a ring).
///
/// # Errors
/// A malformed ring (which entry, never a key).
fn key_ring(production: bool) -> Result<KeyRingSetting> {
    if env(ENCRYPTION_VARIABLE).is_some_and(|v| v.eq_ignore_ascii_case("off")) {
        return Ok(KeyRingSetting::Off);
    }
    Ok(match env(KEY_RING_VARIABLE) {
        Some(text) => KeyRingSetting::Configured(std::sync::Arc::new(
            KeyRing::parse(&text).with_context(|| format!("in {KEY_RING_VARIABLE}"))?,
        )),
        None if production => KeyRingSetting::Unset,
        None => KeyRingSetting::Development,
    })
}

/// An environment variable, empty counting as unset.
fn env(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.is_empty())
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

    /// The configurations the repository ships parse: the local one in
    /// development mode, the Kubernetes ConfigMap's in production mode.
    #[test]
    fn the_shipped_configurations_load() {
        let local = include_str!("../../config/local.toml");
        let local =
            Settings::from_toml(local).unwrap_or_else(|e| panic!("config/local.toml: {e:#}"));
        assert_eq!(local.vendors.mode, Mode::Development);
        assert_eq!(local.consult.decision_sla, Duration::from_secs(120));

        let configmap = include_str!("../../deploy/kubernetes/base/config/configmap.yaml");
        let toml: String = configmap
            .lines()
            .skip_while(|l| !l.trim_start().starts_with("carepath.toml: |"))
            .skip(1)
            .take_while(|l| l.is_empty() || l.starts_with("    "))
            .map(|l| format!("{}\n", l.get(4..).unwrap_or("")))
            .collect();
        let kubernetes =
            Settings::from_toml(&toml).unwrap_or_else(|e| panic!("the ConfigMap: {e:#}"));
        assert_eq!(kubernetes.vendors.mode, Mode::Production);
        assert!(
            kubernetes.vendors.vendors["pharmacy"]
                .base_url
                .starts_with("https://")
        );
    }
}
