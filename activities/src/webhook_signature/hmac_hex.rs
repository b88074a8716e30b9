//! A hex HMAC-SHA256 over the raw body, in a header the vendor names (as
//! MD Integrations-style networks sign: `X-Signature: <hex>`), optionally
//! written `sha256=<hex>`. It signs no time, so a captured delivery can be
//! replayed; the inbox's dedup key is what makes a replay harmless.

use hmac::{Hmac, Mac};
use sha2::Sha256;

use super::{Lookup, Refused, Secret};

/// What may stand before the hex digest (GitHub-style).
const PREFIX: &str = "sha256=";

/// The hex HMAC-SHA256 of `body` under `secret`: the header's value.
pub fn sign(secret: &[u8], body: &[u8]) -> String {
    mac(secret, body)
        .map(|m| hex::encode(m.finalize().into_bytes()))
        .unwrap_or_default()
}

fn mac(secret: &[u8], body: &[u8]) -> Option<Hmac<Sha256>> {
    // HMAC takes keys of any length, so this always succeeds.
    let mut mac = Hmac::<Sha256>::new_from_slice(secret).ok()?;
    mac.update(body);
    Some(mac)
}

/// The scheme with a vendor's header and secrets.
pub struct HmacHex {
    /// The header the signature comes in, lowercase.
    header: String,
    secrets: Vec<Vec<u8>>,
}

impl HmacHex {
    pub fn new(header: &str, secrets: &[Secret]) -> Self {
        Self {
            header: header.to_ascii_lowercase(),
            secrets: secrets
                .iter()
                .map(|s| s.value.as_bytes().to_vec())
                .collect(),
        }
    }

    /// The header the signature comes in, lowercase.
    pub fn header(&self) -> &str {
        &self.header
    }

    /// Whether `body` was signed with one of the secrets (compared in
    /// constant time).
    ///
    /// # Errors
    ///
    /// [`Refused::Signature`]: no such header, not hex, or no secret's.
    pub fn verify(&self, header: &Lookup<'_>, body: &[u8]) -> Result<(), Refused> {
        let value = header(&self.header).ok_or(Refused::Signature)?.trim();
        let digest = match value.get(..PREFIX.len()) {
            Some(p) if p.eq_ignore_ascii_case(PREFIX) => &value[PREFIX.len()..],
            _ => value,
        };
        let signature = hex::decode(digest).map_err(|_| Refused::Signature)?;
        self.secrets
            .iter()
            .filter_map(|secret| mac(secret, body))
            .any(|m| m.verify_slice(&signature).is_ok())
            .then_some(())
            .ok_or(Refused::Signature)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_hex_digest_verifies_with_or_without_its_prefix_in_the_configured_header() {
        let secrets = [
            Secret::new("current", "ENV"),
            Secret::new("old", "ENV_PREVIOUS"),
        ];
        let scheme = HmacHex::new("X-Signature", &secrets);
        let body = br#"{"event_id":"e1"}"#;
        let good = sign(b"old", body);
        for value in [
            good.clone(),
            format!("sha256={good}"),
            format!("SHA256={}", good.to_uppercase()),
        ] {
            let header = |name: &str| (name == "x-signature").then_some(value.as_str());
            assert_eq!(scheme.verify(&header, body), Ok(()), "{value}");
        }
        let forged = sign(b"forged", body);
        for (name, value) in [
            ("x-signature", forged.as_str()),
            ("x-signature", good.get(..20).unwrap_or_default()),
            ("x-signature", "not hex"),
            ("x-other", good.as_str()),
        ] {
            let header = |n: &str| (n == name).then_some(value);
            assert_eq!(scheme.verify(&header, body), Err(Refused::Signature));
        }
        let header = |_: &str| Some(good.as_str());
        assert_eq!(scheme.verify(&header, b"{}"), Err(Refused::Signature));
    }
}
