//! The webhook signature: `X-Opsdeck-Signature: sha256=<hex>`, where the hex is HMAC-SHA256
//! keyed with the channel's `secret` (its UTF-8 bytes, exactly as configured) over the bytes
//! `"<timestamp>.<raw body>"`, and `<timestamp>` is the `X-Opsdeck-Timestamp` header (unix
//! seconds). Signing the timestamp lets a receiver refuse replays of an old request.
//!
//! Receivers verify with the recipes in docs/alerts.md; the tests run those recipes.

use hmac::{Hmac, Mac};
use secrecy::{ExposeSecret, SecretString};
use sha2::Sha256;

/// The signature header's value for `body` sent at `timestamp` (unix seconds).
pub fn sign(secret: &SecretString, timestamp: i64, body: &[u8]) -> String {
    format!("sha256={}", hex::encode(mac(secret, timestamp, body)))
}

fn mac(secret: &SecretString, timestamp: i64, body: &[u8]) -> Vec<u8> {
    // HMAC accepts keys of any length, so this cannot fail; the fallback keeps it panic-free.
    let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(secret.expose_secret().as_bytes()) else {
        return Vec::new();
    };
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    mac.finalize().into_bytes().to_vec()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_an_independently_computed_hmac() {
        // Python: hmac.new(b"key", b'1700000000.{"event":"test"}', hashlib.sha256).hexdigest()
        let sig = sign(
            &SecretString::from("key"),
            1_700_000_000,
            br#"{"event":"test"}"#,
        );
        assert_eq!(
            sig,
            "sha256=33c46725e233c2978a8cc476edeb2c4d18233a795146a8b7c59c87714957a066"
        );
    }
}
