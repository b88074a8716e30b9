//! Standard Webhooks (<https://www.standardwebhooks.com>): the signed
//! content is `"{webhook-id}.{webhook-timestamp}.{body}"`, the secret is
//! `whsec_<base64>`, and `webhook-signature` is a space-separated list of
//! `v1,<base64 HMAC-SHA256>` (several during a key rotation). The
//! `webhook-id` names the message, the same on every retry.
//!
//! Signing is the spec authors' own crate (`standardwebhooks`). Its
//! `verify` is not used: it reads the clock itself and holds the timestamp
//! to a fixed five minutes, where the vendor's profile sets the tolerance;
//! so the comparison, in constant time as the crate makes it, is here.

use anyhow::{Result, bail};
use standardwebhooks::Webhook;

use super::{Lookup, Refused, Secret, within};

pub use standardwebhooks::{HEADER_WEBHOOK_ID, HEADER_WEBHOOK_SIGNATURE, HEADER_WEBHOOK_TIMESTAMP};

/// The `webhook-signature` value signing `body` as message `id` at
/// `timestamp` (Unix seconds) with `secret` (`whsec_<base64>`): `v1,<base64>`.
///
/// # Errors
///
/// A secret that is not base64, or a body that is not UTF-8 (the crate
/// signs text).
pub fn sign(secret: &str, id: &str, timestamp: i64, body: &[u8]) -> Result<String> {
    Ok(Webhook::new(secret)?.sign(id, timestamp, body)?)
}

/// The scheme with a vendor's secrets and tolerance.
pub struct Standard {
    keys: Vec<Webhook>,
    /// How far `webhook-timestamp` may be from now, either way (seconds).
    tolerance: u64,
}

impl Standard {
    /// # Errors
    ///
    /// A secret that is not `whsec_` and base64, naming the variable it
    /// came from.
    pub fn new(secrets: &[Secret], tolerance: u64) -> Result<Self> {
        let keys = secrets
            .iter()
            .map(|s| match Webhook::new(&s.value) {
                Ok(key) if !s.value.trim_start_matches("whsec_").is_empty() => Ok(key),
                _ => bail!(
                    "{}: not a Standard Webhooks secret (whsec_ followed by base64)",
                    s.from
                ),
            })
            .collect::<Result<_>>()?;
        Ok(Self { keys, tolerance })
    }

    /// Whether `body` was signed, as the message the headers name, with one
    /// of the secrets, within the tolerance of `now` (Unix seconds).
    ///
    /// # Errors
    ///
    /// [`Refused::Signature`] for a missing header, a timestamp that is not
    /// a number, or no signature a secret made; [`Refused::Stale`] for a
    /// good one made too far from `now`.
    pub fn verify(&self, header: &Lookup<'_>, body: &[u8], now: i64) -> Result<(), Refused> {
        let id = header(HEADER_WEBHOOK_ID).ok_or(Refused::Signature)?;
        let timestamp: i64 = header(HEADER_WEBHOOK_TIMESTAMP)
            .and_then(|t| t.trim().parse().ok())
            .ok_or(Refused::Signature)?;
        let given = header(HEADER_WEBHOOK_SIGNATURE).ok_or(Refused::Signature)?;
        let signed = self
            .keys
            .iter()
            .filter_map(|key| key.sign(id, timestamp, body).ok())
            .any(|expected| given.split(' ').any(|s| same(s, &expected)));
        if !signed {
            return Err(Refused::Signature);
        }
        within(now, timestamp, self.tolerance)
    }
}

/// Whether `a` and `b` are equal, in time that depends on their length only.
fn same(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && a.bytes()
            .zip(b.bytes())
            .fold(0, |acc, (x, y)| acc | (x ^ y))
            == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The example the Standard Webhooks reference libraries test against.
    const SECRET: &str = "whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD";
    const ID: &str = "msg_27UH4WbU6Z5A5EzD8u03UvzRbpk";
    const TIMESTAMP: i64 = 1_649_367_553;
    const BODY: &[u8] = br#"{"email":"test@example.com","username":"test_user"}"#;
    const SIGNATURE: &str = "v1,tZ1I4/hDygAJgO5TYxiSd6Sd0kDW6hPenDe+bTa3Kkw=";

    fn check(scheme: &Standard, id: &str, t: &str, sig: &str, now: i64) -> Result<(), Refused> {
        let header = |name: &str| match name {
            HEADER_WEBHOOK_ID => Some(id),
            HEADER_WEBHOOK_TIMESTAMP => Some(t),
            HEADER_WEBHOOK_SIGNATURE => Some(sig),
            _ => None,
        };
        scheme.verify(&header, BODY, now)
    }

    #[test]
    fn the_published_example_signs_and_verifies() {
        assert_eq!(
            sign(SECRET, ID, TIMESTAMP, BODY).unwrap_or_else(|e| panic!("{e}")),
            SIGNATURE
        );
        let scheme =
            Standard::new(&[Secret::new(SECRET, "ENV")], 300).unwrap_or_else(|e| panic!("{e}"));
        let t = TIMESTAMP.to_string();
        assert_eq!(check(&scheme, ID, &t, SIGNATURE, TIMESTAMP), Ok(()));
        // One of several, as during the vendor's key rotation.
        let several = format!("v1,AAAA v1a,{} {SIGNATURE}", &SIGNATURE[3..]);
        assert_eq!(check(&scheme, ID, &t, &several, TIMESTAMP + 300), Ok(()));
        assert_eq!(
            check(&scheme, ID, &t, SIGNATURE, TIMESTAMP + 301),
            Err(Refused::Stale { skew_secs: 301 })
        );
        assert_eq!(
            check(&scheme, ID, &t, SIGNATURE, TIMESTAMP - 400),
            Err(Refused::Stale { skew_secs: 400 })
        );
        for (id, t, sig) in [
            ("msg_other", t.as_str(), SIGNATURE),
            (ID, "1649367554", SIGNATURE),
            (ID, "soon", SIGNATURE),
            (ID, t.as_str(), &SIGNATURE[..20]),
            (ID, t.as_str(), &SIGNATURE[3..]),
        ] {
            assert_eq!(
                check(&scheme, id, t, sig, TIMESTAMP),
                Err(Refused::Signature),
                "{id} {t} {sig}"
            );
        }
    }

    #[test]
    fn the_previous_secret_still_verifies_and_a_bad_secret_is_refused_by_name() {
        let previous = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
        let scheme = Standard::new(
            &[Secret::new(SECRET, "NEW"), Secret::new(previous, "OLD")],
            60,
        )
        .unwrap_or_else(|e| panic!("{e}"));
        let sig = sign(previous, "msg_1", 100, BODY).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(check(&scheme, "msg_1", "100", &sig, 130), Ok(()));
        assert_eq!(
            check(&scheme, "msg_1", "100", &sig, 161),
            Err(Refused::Stale { skew_secs: 61 })
        );
        for bad in ["not-base64!", "whsec_", "whsec_***"] {
            let refused = Standard::new(&[Secret::new(bad, "CAREPATH_X_WEBHOOK_SECRET")], 60)
                .err()
                .map(|e| e.to_string());
            assert!(
                refused.is_some_and(|e| e.starts_with("CAREPATH_X_WEBHOOK_SECRET: not a")),
                "{bad}"
            );
        }
    }
}
