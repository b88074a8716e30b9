//! Vendor profiles: where each vendor is, how to authenticate, and how hard
//! carepath may lean on it. They are the `[vendors.<name>]` tables of the
//! configuration file (read by `carepath_workflows::Settings`); secrets come
//! from the environment, never the file.

use std::collections::BTreeMap;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use serde::Deserialize;

pub use crate::credentials::Mode;

/// The vendors journeys use. Each has a profile, defaulted to the sandbox.
pub const VENDORS: [&str; 5] = ["clinical", "pharmacy", "ehr", "crm", "notify"];

/// The vendors whose client can read an event feed (a profile may declare
/// `feed` only for these).
pub const FEED_VENDORS: [&str; 1] = ["pharmacy"];

pub const DEFAULT_SANDBOX: &str = "http://127.0.0.1:8090";

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, tag = "kind", rename_all = "snake_case")]
pub enum AuthConfig {
    /// OAuth2 client credentials; the secret is read from `client_secret_env`.
    Oauth2 {
        token_path: String,
        client_id: String,
        client_secret_env: String,
    },
    /// A static key sent in `header`, read from `key_env`.
    ApiKey { header: String, key_env: String },
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct BreakerConfig {
    /// Consecutive transient failures that open the breaker.
    pub failures: u32,
    /// How long it stays open (and the vendor on hold) before a trial call.
    pub open_secs: f64,
}

impl Default for BreakerConfig {
    fn default() -> Self {
        Self {
            failures: 5,
            open_secs: 30.0,
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RetryConfig {
    /// Tries of one call inside a step, before the engine's durable retry takes over.
    pub attempts: u32,
    pub initial_ms: u64,
    pub max_ms: u64,
}

impl Default for RetryConfig {
    fn default() -> Self {
        Self {
            attempts: 3,
            initial_ms: 200,
            max_ms: 2000,
        }
    }
}

/// A vendor's cursor-based "events since" endpoint, which workers read every
/// `every` for the events whose webhooks were lost (`[vendors.pharmacy]
/// feed = { path = "/v1/events", every = "30s" }`).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FeedConfig {
    /// The endpoint's path under the profile's `base_url`, starting with `/`
    /// (carepath adds the query: `after`, `limit`).
    pub path: String,
    /// How often a worker reads it: a duration such as `"30s"` or `"5m"`
    /// (more than zero). Of all the workers, one reads at a time.
    #[serde(with = "humantime_serde")]
    pub every: Duration,
    /// Events asked for per request, 1 to 500 (default 100); a read goes on
    /// until a page comes back with fewer.
    #[serde(default = "default_page")]
    pub page: u32,
    /// Where the first read begins, when carepath has no cursor of this
    /// feed yet: `"beginning"` (the default) reads the vendor's whole
    /// history; `"now"` skips every event the feed already holds — events
    /// that happened before the first read are never stored (their webhooks
    /// still are) — and reads on from there.
    #[serde(default)]
    pub start: FeedStart,
}

/// Where a feed's first read begins ([`FeedConfig::start`]).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FeedStart {
    /// From the vendor's first event: the whole history is read.
    #[default]
    Beginning,
    /// From the vendor's last event at the first read: what the feed held
    /// before it is paged past without being stored.
    Now,
}

fn default_page() -> u32 {
    100
}

/// The most events a feed request may ask for.
pub const MAX_FEED_PAGE: u32 = 500;

/// How far a signed timestamp may be from now by default (seconds).
pub const DEFAULT_TOLERANCE_SECS: u64 = 300;
/// The widest tolerance a profile may set (seconds): a day.
pub const MAX_TOLERANCE_SECS: u64 = 86_400;

/// How a vendor signs its webhooks and where its events carry their id:
/// `[vendors.<name>] webhooks = { scheme = "hmac_hex", header = "X-Signature" }`.
/// The secrets are never here (`CAREPATH_<VENDOR>_WEBHOOK_SECRET`, see
/// [`crate::webhook_signature::Secrets`]).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WebhooksConfig {
    /// The signature scheme; `carepath` by default.
    #[serde(default)]
    pub scheme: SignatureScheme,
    /// The header the signature comes in: required for `hmac_hex`, and for
    /// it only (the other schemes name their own headers).
    #[serde(default)]
    pub header: Option<String>,
    /// Where an event's id is in its body: a JSON pointer (RFC 6901),
    /// `/event_id` by default. An event without one there (a vendor that
    /// gives none) is keyed by its body's SHA-256.
    #[serde(default = "default_event_id")]
    pub event_id: String,
    /// How far a signed timestamp may be from now, either way, in seconds
    /// (1 to a day; 300 by default): for `carepath` and `standard`, which
    /// sign a time; `hmac_hex` signs none.
    #[serde(default)]
    pub tolerance_secs: Option<u64>,
}

impl Default for WebhooksConfig {
    fn default() -> Self {
        Self {
            scheme: SignatureScheme::default(),
            header: None,
            event_id: default_event_id(),
            tolerance_secs: None,
        }
    }
}

impl WebhooksConfig {
    /// The tolerance in seconds ([`DEFAULT_TOLERANCE_SECS`] unless set).
    pub fn tolerance(&self) -> u64 {
        self.tolerance_secs.unwrap_or(DEFAULT_TOLERANCE_SECS)
    }
}

fn default_event_id() -> String {
    "/event_id".into()
}

/// The ways vendors sign webhooks ([`WebhooksConfig::scheme`]).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SignatureScheme {
    /// `X-Carepath-Signature: t=<unix>,v1=<hex>`, HMAC-SHA256 over
    /// `"{t}.{body}"`: the sandbox's.
    #[default]
    Carepath,
    /// A hex HMAC-SHA256 over the raw body in the profile's `header`.
    HmacHex,
    /// Standard Webhooks: `webhook-id`, `webhook-timestamp`,
    /// `webhook-signature`; secrets are `whsec_<base64>`.
    Standard,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VendorProfile {
    pub base_url: String,
    pub auth: AuthConfig,
    /// Requests per second, for all worker processes together.
    #[serde(default = "default_rate")]
    pub rate_per_sec: f64,
    #[serde(default = "default_burst")]
    pub burst: u32,
    #[serde(default)]
    pub breaker: BreakerConfig,
    #[serde(default)]
    pub retry: RetryConfig,
    #[serde(default = "default_timeout_ms")]
    pub timeout_ms: u64,
    #[serde(default = "default_connect_timeout_ms")]
    pub connect_timeout_ms: u64,
    /// The longest a call waits in process for a rate-limit slot; beyond it
    /// the step hands the journey back to wait durably.
    #[serde(default = "default_max_wait_ms")]
    pub max_wait_ms: u64,
    /// The vendor's event feed, read by the workers; none by default. Only
    /// for [`FEED_VENDORS`].
    #[serde(default)]
    pub feed: Option<FeedConfig>,
    /// How the vendor signs its webhooks and where its events carry their
    /// id; carepath's own scheme and `/event_id` by default.
    #[serde(default)]
    pub webhooks: WebhooksConfig,
}

fn default_rate() -> f64 {
    20.0
}
fn default_burst() -> u32 {
    5
}
fn default_timeout_ms() -> u64 {
    10_000
}
fn default_connect_timeout_ms() -> u64 {
    2_000
}
fn default_max_wait_ms() -> u64 {
    5_000
}

impl VendorProfile {
    /// The profile for `vendor` on a sandbox at `sandbox`. The pharmacy's
    /// declares the sandbox's feed (`/v1/events`, read every 5 s).
    pub fn sandbox(vendor: &str, sandbox: &str) -> Self {
        let auth = if vendor == "clinical" {
            AuthConfig::Oauth2 {
                token_path: "/v1/partner/auth/token".into(),
                client_id: "carepath".into(),
                client_secret_env: "CAREPATH_CLINICAL_CLIENT_SECRET".into(),
            }
        } else {
            AuthConfig::ApiKey {
                header: "x-api-key".into(),
                key_env: format!("CAREPATH_{}_API_KEY", vendor.to_uppercase()),
            }
        };
        Self {
            base_url: format!("{}/{vendor}", sandbox.trim_end_matches('/')),
            auth,
            rate_per_sec: default_rate(),
            burst: default_burst(),
            breaker: BreakerConfig::default(),
            retry: RetryConfig::default(),
            timeout_ms: default_timeout_ms(),
            connect_timeout_ms: default_connect_timeout_ms(),
            max_wait_ms: default_max_wait_ms(),
            feed: (vendor == "pharmacy").then(|| FeedConfig {
                path: "/v1/events".into(),
                every: Duration::from_secs(5),
                page: default_page(),
                start: FeedStart::Beginning,
            }),
            webhooks: WebhooksConfig::default(),
        }
    }

    pub fn timeout(&self) -> Duration {
        Duration::from_millis(self.timeout_ms)
    }
}

#[derive(Debug, Clone, Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct FileConfig {
    #[serde(default)]
    mode: Mode,
    #[serde(default)]
    vendors: BTreeMap<String, VendorProfile>,
}

/// Every vendor's profile, and whether unset secrets may fall back to the
/// sandbox's ([`Mode`]).
#[derive(Debug, Clone)]
pub struct VendorsConfig {
    /// Production (a configuration file's default) or development.
    pub mode: Mode,
    /// One profile per vendor of [`VENDORS`].
    pub vendors: BTreeMap<String, VendorProfile>,
}

impl Default for VendorsConfig {
    fn default() -> Self {
        Self::for_sandbox(DEFAULT_SANDBOX)
    }
}

impl VendorsConfig {
    /// Every vendor pointed at the sandbox at `url`, in development mode.
    pub fn for_sandbox(url: &str) -> Self {
        Self {
            mode: Mode::Development,
            vendors: VENDORS
                .iter()
                .map(|v| ((*v).to_owned(), VendorProfile::sandbox(v, url)))
                .collect(),
        }
    }

    /// The `mode` and `[vendors.<name>]` tables of a TOML file, over the
    /// sandbox defaults.
    pub fn from_toml(text: &str) -> Result<Self> {
        let file: FileConfig = toml::from_str(text).context("reading the configuration")?;
        Self::from_profiles(file.mode, file.vendors)
    }

    /// The given profiles over the sandbox defaults; unknown vendors,
    /// impossible limits and a feed for a vendor whose client cannot read
    /// one (or one with no interval, a page out of 1–500, a path without its
    /// leading `/`) are refused.
    pub fn from_profiles(mode: Mode, profiles: BTreeMap<String, VendorProfile>) -> Result<Self> {
        let mut cfg = Self {
            mode,
            ..Self::default()
        };
        for (name, profile) in profiles {
            if !VENDORS.contains(&name.as_str()) {
                bail!(
                    "unknown vendor {name:?} in [vendors]; known: {}",
                    VENDORS.join(", ")
                );
            }
            if profile.rate_per_sec <= 0.0 || profile.burst == 0 {
                bail!("vendors.{name}: rate_per_sec and burst must be positive");
            }
            if let Some(feed) = &profile.feed {
                check_feed(&name, feed)?;
            }
            check_webhooks(&name, &profile.webhooks)?;
            cfg.vendors.insert(name, profile);
        }
        Ok(cfg)
    }
}

fn check_feed(vendor: &str, feed: &FeedConfig) -> Result<()> {
    if !FEED_VENDORS.contains(&vendor) {
        bail!(
            "vendors.{vendor}.feed: carepath cannot read a feed of {vendor}; only of {}",
            FEED_VENDORS.join(", ")
        );
    }
    if feed.every.is_zero() {
        bail!("vendors.{vendor}.feed.every must be more than zero");
    }
    if !(1..=MAX_FEED_PAGE).contains(&feed.page) {
        bail!("vendors.{vendor}.feed.page must be from 1 to {MAX_FEED_PAGE}");
    }
    if !feed.path.starts_with('/') || feed.path.contains(['?', '#']) {
        bail!("vendors.{vendor}.feed.path must start with / and hold no query");
    }
    Ok(())
}

fn check_webhooks(vendor: &str, hooks: &WebhooksConfig) -> Result<()> {
    let field = |name: &str| format!("vendors.{vendor}.webhooks.{name}");
    match (hooks.scheme, &hooks.header) {
        (SignatureScheme::HmacHex, None) => {
            bail!(
                "{} is required by scheme hmac_hex: the header its signature comes in",
                field("header")
            )
        }
        (SignatureScheme::HmacHex, Some(h)) if !is_header_name(h) => {
            bail!(
                "{} must be a header name (letters, digits, - and _), not {h:?}",
                field("header")
            )
        }
        (SignatureScheme::HmacHex, Some(_)) | (_, None) => {}
        (_, Some(_)) => bail!(
            "{} is for scheme hmac_hex only: the others name their own headers",
            field("header")
        ),
    }
    match hooks.tolerance_secs {
        Some(_) if hooks.scheme == SignatureScheme::HmacHex => bail!(
            "{} does not apply to scheme hmac_hex, which signs no time",
            field("tolerance_secs")
        ),
        Some(t) if !(1..=MAX_TOLERANCE_SECS).contains(&t) => {
            bail!(
                "{} must be from 1 to {MAX_TOLERANCE_SECS}",
                field("tolerance_secs")
            )
        }
        _ => {}
    }
    if !hooks.event_id.starts_with('/') {
        bail!(
            "{} must be a JSON pointer such as \"/event_id\"",
            field("event_id")
        );
    }
    Ok(())
}

/// A header name carepath will look up: an HTTP token, kept to the
/// characters header names use in practice.
fn is_header_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 64
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_file_overrides_one_vendor_and_keeps_the_others() {
        let cfg = VendorsConfig::from_toml(
            r#"
            [vendors.pharmacy]
            base_url = "https://pharmacy.example"
            rate_per_sec = 2.5
            auth = { kind = "api_key", header = "x-api-key", key_env = "PHARMACY_KEY" }
            "#,
        )
        .unwrap_or_else(|e| panic!("{e:#}"));
        assert_eq!(cfg.vendors["pharmacy"].base_url, "https://pharmacy.example");
        assert_eq!(cfg.vendors["pharmacy"].rate_per_sec, 2.5);
        assert_eq!(
            cfg.vendors["clinical"].base_url,
            "http://127.0.0.1:8090/clinical"
        );
    }

    #[test]
    fn unknown_vendors_and_fields_are_refused() {
        assert!(VendorsConfig::from_toml("[vendors.bank]\nbase_url = \"x\"").is_err());
        let typo = "[vendors.crm]\nbase_url = \"x\"\nrate = 3\nauth = { kind = \"api_key\", header = \"h\", key_env = \"K\" }";
        assert!(VendorsConfig::from_toml(typo).is_err());
    }

    #[test]
    fn a_feed_is_read_for_the_pharmacy_and_refused_for_vendors_that_have_none() {
        let pharmacy = |feed: &str| {
            format!(
                "[vendors.pharmacy]\nbase_url = \"https://pharmacy.example\"\n\
                 auth = {{ kind = \"api_key\", header = \"x-api-key\", key_env = \"K\" }}\n{feed}\n"
            )
        };
        let cfg = VendorsConfig::from_toml(&pharmacy(
            "feed = { path = \"/v1/events\", every = \"30s\" }",
        ))
        .unwrap_or_else(|e| panic!("{e:#}"));
        assert_eq!(
            cfg.vendors["pharmacy"].feed,
            Some(FeedConfig {
                path: "/v1/events".into(),
                every: Duration::from_secs(30),
                page: 100,
                start: FeedStart::Beginning,
            })
        );
        for (start, read) in [
            ("\"beginning\"", FeedStart::Beginning),
            ("\"now\"", FeedStart::Now),
        ] {
            let cfg = VendorsConfig::from_toml(&pharmacy(&format!(
                "feed = {{ path = \"/v1/events\", every = \"30s\", start = {start} }}"
            )))
            .unwrap_or_else(|e| panic!("{e:#}"));
            assert_eq!(
                cfg.vendors["pharmacy"].feed.as_ref().map(|f| f.start),
                Some(read)
            );
        }
        // A profile without one reads none; the sandbox's default declares one.
        let cfg = VendorsConfig::from_toml(&pharmacy("")).unwrap_or_else(|e| panic!("{e:#}"));
        assert_eq!(cfg.vendors["pharmacy"].feed, None);
        let sandbox = VendorsConfig::default();
        assert_eq!(
            sandbox.vendors["pharmacy"].feed.as_ref().map(|f| f.every),
            Some(Duration::from_secs(5))
        );
        assert!(
            sandbox
                .vendors
                .iter()
                .all(|(name, p)| p.feed.is_none() || name == "pharmacy")
        );

        let clinical = "[vendors.clinical]\nbase_url = \"x\"\n\
            auth = { kind = \"api_key\", header = \"h\", key_env = \"K\" }\n\
            feed = { path = \"/v1/events\", every = \"30s\" }\n";
        let refused = VendorsConfig::from_toml(clinical).map(|_| ()).unwrap_err();
        assert!(
            refused.to_string().contains("vendors.clinical.feed"),
            "{refused:#}"
        );
        for bad in [
            "feed = { path = \"/v1/events\", every = \"0s\" }",
            "feed = { path = \"/v1/events\", every = \"30s\", page = 0 }",
            "feed = { path = \"/v1/events\", every = \"30s\", page = 501 }",
            "feed = { path = \"v1/events\", every = \"30s\" }",
            "feed = { path = \"/v1/events?all=1\", every = \"30s\" }",
            "feed = { path = \"/v1/events\", every = \"often\" }",
            "feed = { path = \"/v1/events\" }",
            "feed = { path = \"/v1/events\", every = \"30s\", start = \"latest\" }",
            "feed = { path = \"/v1/events\", every = \"30s\", start = \"Now\" }",
            "feed = { path = \"/v1/events\", every = \"30s\", start = 0 }",
        ] {
            assert!(VendorsConfig::from_toml(&pharmacy(bad)).is_err(), "{bad}");
        }
    }

    #[test]
    fn a_profile_names_its_webhook_scheme_and_bad_ones_are_refused_by_field() {
        let clinical = |hooks: &str| {
            format!(
                "[vendors.clinical]\nbase_url = \"https://clinical.example\"\n\
                 auth = {{ kind = \"api_key\", header = \"h\", key_env = \"K\" }}\n{hooks}\n"
            )
        };
        let read = |hooks: &str| {
            VendorsConfig::from_toml(&clinical(hooks))
                .map(|c| c.vendors["clinical"].webhooks.clone())
        };
        let default = read("").unwrap_or_else(|e| panic!("{e:#}"));
        assert_eq!(default, WebhooksConfig::default());
        assert_eq!(
            (
                default.scheme,
                default.event_id.as_str(),
                default.tolerance()
            ),
            (SignatureScheme::Carepath, "/event_id", 300)
        );
        let hmac = read(
            "webhooks = { scheme = \"hmac_hex\", header = \"X-Signature\", event_id = \"/id\" }",
        )
        .unwrap_or_else(|e| panic!("{e:#}"));
        assert_eq!(
            (hmac.scheme, hmac.header.as_deref(), hmac.event_id.as_str()),
            (SignatureScheme::HmacHex, Some("X-Signature"), "/id")
        );
        let standard = read("webhooks = { scheme = \"standard\", tolerance_secs = 60 }")
            .unwrap_or_else(|e| panic!("{e:#}"));
        assert_eq!(
            (standard.scheme, standard.tolerance()),
            (SignatureScheme::Standard, 60)
        );
        for (bad, field) in [
            ("webhooks = { scheme = \"hmac_hex\" }", "webhooks.header"),
            (
                "webhooks = { scheme = \"hmac_hex\", header = \"X Sig\" }",
                "webhooks.header",
            ),
            ("webhooks = { header = \"X-Signature\" }", "webhooks.header"),
            (
                "webhooks = { scheme = \"hmac_hex\", header = \"X-S\", tolerance_secs = 60 }",
                "webhooks.tolerance_secs",
            ),
            (
                "webhooks = { scheme = \"standard\", tolerance_secs = 0 }",
                "webhooks.tolerance_secs",
            ),
            (
                "webhooks = { tolerance_secs = 86401 }",
                "webhooks.tolerance_secs",
            ),
            (
                "webhooks = { event_id = \"event_id\" }",
                "webhooks.event_id",
            ),
            ("webhooks = { scheme = \"github\" }", "scheme"),
            (
                "webhooks = { scheme = \"carepath\", secret = \"s\" }",
                "secret",
            ),
        ] {
            let refused = read(bad).map(|_| ()).unwrap_err();
            assert!(format!("{refused:#}").contains(field), "{bad}: {refused:#}");
        }
    }
}
