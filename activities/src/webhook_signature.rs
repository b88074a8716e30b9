//! How webhooks are signed: HMAC-SHA256 over `"{timestamp}.{raw body}"`, sent
//! as `X-Carepath-Signature: t=<unix seconds>,v1=<hex>`. The sandbox signs with
//! it; carepath's webhook inbox verifies with it.

use hmac::{Hmac, Mac};
use sha2::Sha256;

pub const HEADER: &str = "x-carepath-signature";

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
}
