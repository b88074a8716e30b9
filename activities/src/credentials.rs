//! Where a vendor's credential comes from: the environment variable its
//! profile names (`auth.key_env` or `auth.client_secret_env`). In production
//! every one must be set, or the process refuses to start and names it. In
//! development — no configuration file at all, or one that says
//! `mode = "development"` — an unset variable falls back to the sandbox's
//! development credential, and the process says so at start.

use std::fmt;

use serde::Deserialize;

use crate::config::{AuthConfig, VendorProfile, VendorsConfig};

/// What a configuration is for: `mode = "production"` (the default for a
/// configuration file) or `mode = "development"` (the default without one,
/// when every vendor is the local sandbox).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Mode {
    /// Every secret a profile names must be set; none has a default.
    #[default]
    Production,
    /// Unset secrets fall back to the sandbox's development credentials:
    /// [`DEVELOPMENT_CREDENTIAL`] and [`DEVELOPMENT_WEBHOOK_SECRET`].
    Development,
}

impl Mode {
    /// `"production"` or `"development"`, as the file spells it.
    pub fn as_str(self) -> &'static str {
        match self {
            Mode::Production => "production",
            Mode::Development => "development",
        }
    }
}

/// The API key and client secret the sandbox takes (it accepts any
/// non-empty one), used in development for a variable that is not set.
pub const DEVELOPMENT_CREDENTIAL: &str = "sandbox";

/// The secret the sandbox signs webhooks with unless told otherwise
/// (`carepath sandbox --webhook-secret`), and the one the API verifies them
/// with in development for a vendor whose `CAREPATH_<VENDOR>_WEBHOOK_SECRET`
/// is not set.
pub const DEVELOPMENT_WEBHOOK_SECRET: &str = "sandbox-webhook-secret";

/// A secret variable a profile names that the environment does not set.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MissingSecret {
    /// The vendor whose profile names it, e.g. `pharmacy`.
    pub vendor: String,
    /// The variable, e.g. `CAREPATH_PHARMACY_API_KEY`.
    pub variable: String,
}

impl fmt::Display for MissingSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} is not set (vendors.{}.auth names it)",
            self.variable, self.vendor
        )
    }
}

impl std::error::Error for MissingSecret {}

/// The environment variable holding `profile`'s credential.
pub fn variable(profile: &VendorProfile) -> &str {
    match &profile.auth {
        AuthConfig::Oauth2 {
            client_secret_env, ..
        } => client_secret_env,
        AuthConfig::ApiKey { key_env, .. } => key_env,
    }
}

/// `vendor`'s credential: the value of the variable its profile names, read
/// through `var` (empty counts as unset), or in development the sandbox's.
///
/// # Errors
/// In production, the variable unset or empty.
pub fn resolve(
    mode: Mode,
    vendor: &str,
    profile: &VendorProfile,
    var: impl Fn(&str) -> Option<String>,
) -> Result<String, MissingSecret> {
    let name = variable(profile);
    match (var(name).filter(|v| !v.is_empty()), mode) {
        (Some(value), _) => Ok(value),
        (None, Mode::Development) => Ok(DEVELOPMENT_CREDENTIAL.to_owned()),
        (None, Mode::Production) => Err(MissingSecret {
            vendor: vendor.to_owned(),
            variable: name.to_owned(),
        }),
    }
}

/// Every secret variable the profiles name that `var` does not give, in
/// vendor order: what [`check`] refuses in production, and what falls back
/// to the development credential in development.
pub fn unset(config: &VendorsConfig, var: impl Fn(&str) -> Option<String>) -> Vec<MissingSecret> {
    config
        .vendors
        .iter()
        .filter_map(|(vendor, profile)| resolve(Mode::Production, vendor, profile, &var).err())
        .collect()
}

/// Refuses a production configuration whose profiles name a secret variable
/// the environment does not set, naming every one.
///
/// # Errors
/// One error listing each missing variable and the vendor naming it.
pub fn check(config: &VendorsConfig, var: impl Fn(&str) -> Option<String>) -> anyhow::Result<()> {
    let missing = unset(config, var);
    if config.mode == Mode::Development || missing.is_empty() {
        return Ok(());
    }
    let list: Vec<String> = missing.iter().map(ToString::to_string).collect();
    anyhow::bail!(
        "secrets missing from the environment: {}; set them (a Kubernetes Secret, say), \
         or mark the configuration `mode = \"development\"` to use the sandbox's",
        list.join("; ")
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn production(toml: &str) -> VendorsConfig {
        VendorsConfig::from_toml(toml).unwrap_or_else(|e| panic!("{e:#}"))
    }

    #[test]
    fn production_names_every_unset_secret_and_development_falls_back() {
        let mut config = production(
            "[vendors.pharmacy]\nbase_url = \"https://pharmacy.example\"\n\
             auth = { kind = \"api_key\", header = \"x-api-key\", key_env = \"PHARMACY_KEY\" }\n",
        );
        let env = |name: &str| (name == "CAREPATH_CRM_API_KEY").then(|| "k".to_owned());
        let text = format!("{:#}", check(&config, env).unwrap_err());
        for named in [
            "PHARMACY_KEY",
            "CAREPATH_CLINICAL_CLIENT_SECRET",
            "CAREPATH_EHR_API_KEY",
        ] {
            assert!(text.contains(named), "{text}");
        }
        assert!(!text.contains("CAREPATH_CRM_API_KEY"), "{text}");
        let pharmacy = &config.vendors["pharmacy"];
        assert_eq!(
            resolve(Mode::Production, "pharmacy", pharmacy, |_| Some(
                String::new()
            )),
            Err(MissingSecret {
                vendor: "pharmacy".into(),
                variable: "PHARMACY_KEY".into()
            })
        );

        config.mode = Mode::Development;
        assert!(check(&config, env).is_ok());
        let pharmacy = &config.vendors["pharmacy"];
        assert_eq!(
            resolve(Mode::Development, "pharmacy", pharmacy, |_| None).as_deref(),
            Ok(DEVELOPMENT_CREDENTIAL)
        );
        assert_eq!(
            resolve(Mode::Development, "pharmacy", pharmacy, |_| Some(
                "real".into()
            ))
            .as_deref(),
            Ok("real")
        );
    }

    #[test]
    fn no_file_is_development_and_a_file_is_production_unless_it_says_so() {
        assert_eq!(VendorsConfig::default().mode, Mode::Development);
        assert_eq!(production("").mode, Mode::Production);
        assert_eq!(
            production("mode = \"development\"\n").mode,
            Mode::Development
        );
        assert!(VendorsConfig::from_toml("mode = \"staging\"\n").is_err());
    }
}
