//! carepath's own scheme, which the sandbox signs with: HMAC-SHA256 over
//! `"{timestamp}.{raw body}"`, sent as `X-Carepath-Signature: t=<unix
//! seconds>,v1=<hex>`; the timestamp must be within the vendor's tolerance
//! of now.

use hmac::{Hmac, Mac};
use sha2::Sha256;

use super::{Lookup, Refused, Secret, within};

pub const HEADER: &str = "x-carepath-signature";

/// The header value signing `body` at `timestamp` (Unix seconds) with `secret`.
pub fn sign(secret: &[u8], timestamp: i64, body: &[u8]) -> String {
    // HMAC takes keys of any length, so `mac` always succeeds here.
    let signature = mac(secret, timestamp, body)
        .map(|m| hex::encode(m.finalize().into_bytes()))
        .unwrap_or_default();
    format!("t={timestamp},v1={signature}")
}

fn mac(secret: &[u8], timestamp: i64, body: &[u8]) -> Option<Hmac<Sha256>> {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret).ok()?;
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    Some(mac)
}

/// Checks a signature header against `body` with any of `secrets` (current
/// and previous, during a rotation), in constant time; the signed timestamp.
pub fn verify(secrets: &[&[u8]], header: &str, body: &[u8]) -> Option<i64> {
    let mut timestamp = None;
    let mut signature = None;
    for part in header.split(',') {
        match part.trim().split_once('=') {
            Some(("t", t)) => timestamp = t.parse::<i64>().ok(),
            Some(("v1", v)) => signature = hex::decode(v).ok(),
            _ => {}
        }
    }
    let (timestamp, signature) = (timestamp?, signature?);
    secrets.iter().find_map(|secret| {
        mac(secret, timestamp, body)?
            .verify_slice(&signature)
            .ok()
            .map(|()| timestamp)
    })
}

/// The scheme with a vendor's secrets and tolerance.
pub struct Carepath {
    secrets: Vec<Vec<u8>>,
    /// How far the signed timestamp may be from now, either way (seconds).
    tolerance: u64,
}

impl Carepath {
    pub fn new(secrets: &[Secret], tolerance: u64) -> Self {
        Self {
            secrets: secrets
                .iter()
                .map(|s| s.value.as_bytes().to_vec())
                .collect(),
            tolerance,
        }
    }

    /// Whether `body` was signed with one of the secrets, within the
    /// tolerance of `now` (Unix seconds).
    ///
    /// # Errors
    ///
    /// [`Refused::Signature`], or [`Refused::Stale`] for a good signature
    /// made too far from `now`.
    pub fn verify(&self, header: &Lookup<'_>, body: &[u8], now: i64) -> Result<(), Refused> {
        let keys: Vec<&[u8]> = self.secrets.iter().map(Vec::as_slice).collect();
        let signed =
            verify(&keys, header(HEADER).unwrap_or_default(), body).ok_or(Refused::Signature)?;
        within(now, signed, self.tolerance)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_signature_verifies_with_its_secret_only() {
        let header = sign(b"current", 1_700_000_000, b"{\"a\":1}");
        assert_eq!(
            verify(&[b"old", b"current"], &header, b"{\"a\":1}"),
            Some(1_700_000_000)
        );
        assert_eq!(verify(&[b"other"], &header, b"{\"a\":1}"), None);
        assert_eq!(verify(&[b"current"], &header, b"{\"a\":2}"), None);
        assert_eq!(verify(&[b"current"], "garbage", b"{\"a\":1}"), None);
    }

    #[test]
    fn the_scheme_holds_a_good_signature_to_its_tolerance() {
        let secrets = [
            Secret::new("current", "ENV"),
            Secret::new("old", "ENV_PREVIOUS"),
        ];
        let scheme = Carepath::new(&secrets, 300);
        let t = 1_700_000_000;
        for (secret, now, expected) in [
            ("current", t, Ok(())),
            ("old", t + 300, Ok(())),
            ("current", t - 301, Err(Refused::Stale { skew_secs: 301 })),
            ("forged", t, Err(Refused::Signature)),
        ] {
            let signature = sign(secret.as_bytes(), t, b"{}");
            let header = |name: &str| (name == HEADER).then_some(signature.as_str());
            assert_eq!(scheme.verify(&header, b"{}", now), expected, "{secret}");
        }
        assert_eq!(
            scheme.verify(&|_: &str| None, b"{}", t),
            Err(Refused::Signature)
        );
    }
}
