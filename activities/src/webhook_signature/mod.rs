//! How vendors sign their webhooks, one module per scheme, chosen per vendor
//! by its profile (`webhooks.scheme`, see [`WebhooksConfig`]):
//! - [`carepath`]: `X-Carepath-Signature: t=<unix>,v1=<hex>` over
//!   `"{t}.{body}"` — the default, and what the sandbox signs with;
//! - [`hmac_hex`]: a hex HMAC-SHA256 over the raw body in a header the
//!   profile names;
//! - [`standard`]: Standard Webhooks (`webhook-id`, `webhook-timestamp`,
//!   `webhook-signature`).
//!
//! The secrets come from the environment (see [`Secrets`]), the current one
//! and, during a rotation, the previous one: a delivery signed with either
//! is good.

pub mod carepath;
pub mod hmac_hex;
pub mod standard;

use std::collections::BTreeMap;
use std::fmt;

use anyhow::Result;

use crate::config::{SignatureScheme, VENDORS, WebhooksConfig};

pub use carepath::{HEADER, sign, verify};

/// A delivery's headers: the value of the header named (in lowercase), when
/// present and text.
pub type Lookup<'h> = dyn Fn(&str) -> Option<&'h str> + 'h;

/// Why a delivery's signature is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refused {
    /// Missing, unreadable, or made with no secret of the vendor's.
    Signature,
    /// Good, but made `skew_secs` seconds (either way) from now, beyond the
    /// vendor's tolerance.
    Stale { skew_secs: u64 },
}

/// Whether a signature made at `signed` is within `tolerance` seconds of
/// `now` (both Unix seconds), either way.
fn within(now: i64, signed: i64, tolerance: u64) -> Result<(), Refused> {
    // abs_diff: a timestamp at either end of the range cannot overflow it.
    let skew_secs = now.abs_diff(signed);
    if skew_secs > tolerance {
        return Err(Refused::Stale { skew_secs });
    }
    Ok(())
}

/// A webhook secret and the environment variable it came from, which
/// errors name (never the value).
#[derive(Clone)]
pub struct Secret {
    pub value: String,
    pub from: String,
}

impl Secret {
    pub fn new(value: impl Into<String>, from: impl Into<String>) -> Self {
        Self {
            value: value.into(),
            from: from.into(),
        }
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Secret(from {})", self.from)
    }
}

/// Where a development fallback secret says it came from.
const DEVELOPMENT_SOURCE: &str = "the sandbox's development secret";

/// Every vendor's webhook secrets: the current one first, then the one
/// being rotated out. A vendor without any has every delivery refused.
#[derive(Debug, Clone, Default)]
pub struct Secrets {
    by_vendor: BTreeMap<String, Vec<Secret>>,
}

impl Secrets {
    /// From the environment: `CAREPATH_<VENDOR>_WEBHOOK_SECRET` (or
    /// `CAREPATH_WEBHOOK_SECRET` for every vendor), and the previous one in
    /// `..._PREVIOUS`. Empty variables count as unset.
    pub fn from_env() -> Self {
        Self::from_vars(|name| std::env::var(name).ok())
    }

    /// As [`Secrets::from_env`], from the variables `var` gives.
    pub fn from_vars(var: impl Fn(&str) -> Option<String>) -> Self {
        let read = |name: String| {
            var(&name)
                .filter(|v| !v.is_empty())
                .map(|v| Secret::new(v, name))
        };
        let by_vendor = VENDORS
            .iter()
            .map(|vendor| {
                let upper = vendor.to_uppercase();
                let current = read(format!("CAREPATH_{upper}_WEBHOOK_SECRET"))
                    .or_else(|| read("CAREPATH_WEBHOOK_SECRET".into()));
                let previous = read(format!("CAREPATH_{upper}_WEBHOOK_SECRET_PREVIOUS"))
                    .or_else(|| read("CAREPATH_WEBHOOK_SECRET_PREVIOUS".into()));
                (
                    (*vendor).to_owned(),
                    current.into_iter().chain(previous).collect(),
                )
            })
            .collect();
        Self { by_vendor }
    }

    /// These secrets, with `vendor`'s replaced by `secrets` (current first),
    /// as if from `CAREPATH_<VENDOR>_WEBHOOK_SECRET` and `..._PREVIOUS`.
    pub fn with(mut self, vendor: &str, secrets: &[&str]) -> Self {
        let upper = vendor.to_uppercase();
        let named = secrets.iter().enumerate().map(|(i, s)| {
            let suffix = if i == 0 { "" } else { "_PREVIOUS" };
            Secret::new(*s, format!("CAREPATH_{upper}_WEBHOOK_SECRET{suffix}"))
        });
        self.by_vendor.insert(vendor.to_owned(), named.collect());
        self
    }

    /// The same secrets (current first) for every vendor.
    pub fn for_all(secrets: &[&str]) -> Self {
        VENDORS
            .iter()
            .fold(Self::default(), |all, vendor| all.with(vendor, secrets))
    }

    /// These secrets, with the sandbox's development secret
    /// ([`DEVELOPMENT_WEBHOOK_SECRET`](crate::credentials::DEVELOPMENT_WEBHOOK_SECRET))
    /// for every vendor that has none: development mode's.
    pub fn or_development(mut self) -> Self {
        for vendor in VENDORS {
            let secrets = self.by_vendor.entry(vendor.to_owned()).or_default();
            if secrets.is_empty() {
                secrets.push(Secret::new(
                    crate::credentials::DEVELOPMENT_WEBHOOK_SECRET,
                    DEVELOPMENT_SOURCE,
                ));
            }
        }
        self
    }

    /// Whether `vendor`'s deliveries are checked with the development secret
    /// only ([`Secrets::or_development`]).
    pub fn is_development(&self, vendor: &str) -> bool {
        matches!(self.of(vendor), [only] if only.from == DEVELOPMENT_SOURCE)
    }

    /// `vendor`'s secrets, current first; none when it has none.
    pub fn of(&self, vendor: &str) -> &[Secret] {
        self.by_vendor.get(vendor).map_or(&[], Vec::as_slice)
    }
}

/// A vendor's scheme, with its secrets and settings: what checks its
/// deliveries.
pub enum Verifier {
    Carepath(carepath::Carepath),
    HmacHex(hmac_hex::HmacHex),
    Standard(standard::Standard),
}

impl Verifier {
    /// The scheme `config` names, with `secrets` (current first).
    ///
    /// # Errors
    ///
    /// A secret the scheme cannot use (a Standard Webhooks secret that is not
    /// base64), naming its variable; an `hmac_hex` scheme without its header
    /// (a profile read from a file was checked when read, by
    /// `VendorsConfig::from_profiles`; one built in code may not have been).
    pub fn new(config: &WebhooksConfig, secrets: &[Secret]) -> Result<Self> {
        Ok(match config.scheme {
            SignatureScheme::Carepath => {
                Self::Carepath(carepath::Carepath::new(secrets, config.tolerance()))
            }
            SignatureScheme::HmacHex => match config.header.as_deref() {
                Some(header) if !header.is_empty() => {
                    Self::HmacHex(hmac_hex::HmacHex::new(header, secrets))
                }
                _ => {
                    anyhow::bail!("header: scheme hmac_hex needs the header its signature comes in")
                }
            },
            SignatureScheme::Standard => {
                Self::Standard(standard::Standard::new(secrets, config.tolerance())?)
            }
        })
    }

    /// Whether `body`, delivered with these headers, is signed by the vendor
    /// (and, for the schemes that sign a time, recently: within the
    /// tolerance of `now`, Unix seconds).
    ///
    /// # Errors
    ///
    /// [`Refused`]: why not.
    pub fn verify(&self, header: &Lookup<'_>, body: &[u8], now: i64) -> Result<(), Refused> {
        match self {
            Self::Carepath(s) => s.verify(header, body, now),
            Self::HmacHex(s) => s.verify(header, body),
            Self::Standard(s) => s.verify(header, body, now),
        }
    }

    /// The id the scheme gives the delivered message, the same on every
    /// retry (Standard Webhooks' `webhook-id`); none for the others.
    pub fn message_id<'h>(&self, header: &Lookup<'h>) -> Option<&'h str> {
        match self {
            Self::Standard(_) => header(standard::HEADER_WEBHOOK_ID).filter(|id| !id.is_empty()),
            Self::Carepath(_) | Self::HmacHex(_) => None,
        }
    }

    /// The headers the scheme reads, lowercase.
    pub fn headers(&self) -> Vec<String> {
        match self {
            Self::Carepath(_) => vec![HEADER.to_owned()],
            Self::HmacHex(s) => vec![s.header().to_owned()],
            Self::Standard(_) => [
                standard::HEADER_WEBHOOK_ID,
                standard::HEADER_WEBHOOK_TIMESTAMP,
                standard::HEADER_WEBHOOK_SIGNATURE,
            ]
            .map(str::to_owned)
            .to_vec(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_come_from_the_vendors_variables_or_the_shared_one() {
        let vars = |name: &str| {
            match name {
                "CAREPATH_CLINICAL_WEBHOOK_SECRET" => Some("clinical-now"),
                "CAREPATH_CLINICAL_WEBHOOK_SECRET_PREVIOUS" => Some("clinical-before"),
                "CAREPATH_PHARMACY_WEBHOOK_SECRET" => Some(""),
                "CAREPATH_WEBHOOK_SECRET" => Some("shared"),
                _ => None,
            }
            .map(str::to_owned)
        };
        let secrets = Secrets::from_vars(vars);
        let named = |vendor: &str| -> Vec<(String, String)> {
            secrets
                .of(vendor)
                .iter()
                .map(|s| (s.value.clone(), s.from.clone()))
                .collect()
        };
        assert_eq!(
            named("clinical"),
            [
                (
                    "clinical-now".into(),
                    "CAREPATH_CLINICAL_WEBHOOK_SECRET".into()
                ),
                (
                    "clinical-before".into(),
                    "CAREPATH_CLINICAL_WEBHOOK_SECRET_PREVIOUS".into()
                ),
            ]
        );
        assert_eq!(
            named("pharmacy"),
            [("shared".into(), "CAREPATH_WEBHOOK_SECRET".into())]
        );
        assert!(secrets.of("bank").is_empty());
        assert!(format!("{:?}", secrets.of("clinical")).contains("from CAREPATH_CLINICAL"));
        assert!(!format!("{secrets:?}").contains("clinical-now"));
    }

    #[test]
    fn a_scheme_built_in_code_without_what_it_needs_is_refused() {
        let hmac = WebhooksConfig {
            scheme: SignatureScheme::HmacHex,
            ..WebhooksConfig::default()
        };
        assert!(Verifier::new(&hmac, &[]).is_err());
        let with_header = WebhooksConfig {
            header: Some("X-Signature".into()),
            ..hmac
        };
        let verifier = Verifier::new(&with_header, &[]).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(verifier.headers(), ["x-signature"]);
    }
}
