//! The Rust verification recipe, exactly as docs/alerts.md shows it (a test checks the two are
//! identical), so the documented code is the code the tests run against real deliveries.

// BEGIN RECIPE
use hmac::{Hmac, Mac};
use sha2::Sha256;

/// Verifies an opsdeck webhook. `timestamp` and `signature` are the `X-Opsdeck-Timestamp` and
/// `X-Opsdeck-Signature` headers, `body` the raw request body (before any JSON parsing), and
/// `now` the current time in unix seconds.
pub fn verify_opsdeck_webhook(
    secret: &[u8],
    timestamp: &str,
    signature: &str,
    body: &[u8],
    now: i64,
) -> bool {
    // Refuse requests signed more than five minutes away from now: a replay fails here.
    let Ok(sent) = timestamp.parse::<i64>() else {
        return false;
    };
    if (now - sent).abs() > 300 {
        return false;
    }
    let Some(Ok(expected)) = signature.strip_prefix("sha256=").map(hex::decode) else {
        return false;
    };
    let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(secret) else {
        return false;
    };
    mac.update(timestamp.as_bytes());
    mac.update(b".");
    mac.update(body);
    // verify_slice compares in constant time.
    mac.verify_slice(&expected).is_ok()
}
// END RECIPE

/// The recipe's source between the markers, as it must appear in docs/alerts.md.
pub fn source() -> &'static str {
    let file = include_str!("recipe.rs");
    let start = file
        .find("// BEGIN RECIPE\n")
        .map_or(0, |i| i + "// BEGIN RECIPE\n".len());
    let end = file.find("// END RECIPE").unwrap_or(file.len());
    &file[start..end]
}
