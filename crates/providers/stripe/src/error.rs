//! Stripe error mapping.
//!
//! Stripe answers errors with `{"error": {"type", "code"?, "message", "param"?, "doc_url"?}}`
//! and these statuses (https://docs.stripe.com/api/errors): "401 Unauthorized — No valid API key
//! provided", "403 Forbidden — The API key doesn't have permissions to perform the request",
//! "429 Too Many Requests". The shared policy already maps those statuses; what is
//! Stripe-specific is *which* permission a restricted key lacks: Stripe names it in the 403
//! message ("… Having the 'rak_balance_read' permission would allow this request to
//! continue."), and the operator needs that name to fix the key.

use opsdeck_core::FailureKind;
use opsdeck_core::http::{HttpResponse, RequestCtx, VendorError, VendorErrors, Verdict, mask_keys};
use serde::Deserialize;

#[derive(Debug, Deserialize)]
struct Envelope {
    error: StripeError,
}

#[derive(Debug, Deserialize)]
struct StripeError {
    #[serde(default, rename = "type")]
    kind: Option<String>,
    #[serde(default)]
    code: Option<String>,
    #[serde(default)]
    message: Option<String>,
}

/// The `rak_…` permission named in a restricted-key 403 message, if any.
pub fn missing_permission(message: &str) -> Option<&str> {
    let start = message.find("'rak_")? + 1;
    let rest = &message[start..];
    let end = rest.find('\'')?;
    let name = &rest[..end];
    name.chars()
        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
        .then_some(name)
}

/// "rak_balance_read" → "Read on Balance" — the wording of Stripe's restricted-key editor.
pub fn describe_permission(permission: &str) -> String {
    let body = permission.strip_prefix("rak_").unwrap_or(permission);
    let (resource, level) = if let Some(r) = body.strip_suffix("_read") {
        (r, "Read")
    } else if let Some(r) = body.strip_suffix("_write") {
        (r, "Write")
    } else {
        (body, "access")
    };
    let mut words: Vec<String> = resource
        .split('_')
        .filter(|w| !w.is_empty())
        .map(str::to_owned)
        .collect();
    if let Some(first) = words.first_mut() {
        let mut chars = first.chars();
        if let Some(c) = chars.next() {
            *first = c.to_ascii_uppercase().to_string() + chars.as_str();
        }
    }
    format!("{level} on {}", words.join(" "))
}

/// Vendor-specific classification for Stripe.
#[derive(Debug, Clone, Copy, Default)]
pub struct StripeErrors;

impl VendorErrors for StripeErrors {
    /// `{"error": {"type", "code", "message"}}`. Stripe's 401 message echoes the key, masked but
    /// with its last four characters ("Invalid API Key provided: sk_test_****…Aso0"): the key is
    /// dropped entirely.
    fn parse(&self, response: &HttpResponse) -> VendorError {
        match serde_json::from_slice::<Envelope>(&response.body) {
            Ok(Envelope { error }) => VendorError::new()
                .with_code(error.code.or(error.kind))
                .with_message(error.message.map(|m| mask_keys(&m, &["sk_", "rk_", "pk_"]))),
            Err(_) => {
                let common = VendorError::common(response);
                let message = common.message.clone();
                common.with_message(message.map(|m| mask_keys(&m, &["sk_", "rk_", "pk_"])))
            }
        }
    }

    fn classify(
        &self,
        ctx: &RequestCtx<'_>,
        response: &HttpResponse,
        error: &VendorError,
        default: Verdict,
    ) -> Verdict {
        let verdict = Self::describe(ctx, error, default);
        // Whether to retry is Stripe's call, the way its own SDKs decide: the
        // `Stripe-Should-Retry` header when sent; otherwise a 429 is retried only for
        // `lock_timeout` (contention on one object clears quickly; an account over its request
        // rate does not), and everything else keeps the shared policy's default.
        match response.header("stripe-should-retry").map(str::trim) {
            Some(v) if v.eq_ignore_ascii_case("true") => verdict.with_temporary(true),
            Some(v) if v.eq_ignore_ascii_case("false") => verdict.with_temporary(false),
            _ if response.status.as_u16() == 429 => {
                verdict.with_temporary(error.code_is("lock_timeout"))
            }
            _ => verdict,
        }
    }
}

impl StripeErrors {
    /// The summary and hint for a failure (what to tell the operator).
    fn describe(ctx: &RequestCtx<'_>, error: &VendorError, default: Verdict) -> Verdict {
        match default.kind {
            FailureKind::InvalidCredentials => default.with_hint(if error.code_is("api_key_expired") {
                "The key has expired: roll a new one in Dashboard → Developers → API keys and update secret_key."
            } else {
                "Check secret_key: it must be a live or test secret key (sk_…) or restricted key (rk_…) from Dashboard → Developers → API keys, not revoked or rolled."
            }),
            FailureKind::PermissionDenied => {
                match error.message.as_deref().and_then(missing_permission) {
                    Some(permission) => default
                        .with_summary(format!(
                            "The restricted key lacks the '{permission}' permission that {} needs",
                            // Relative to base_url: behind a proxy, the vendor's own path.
                            ctx.relative_path
                        ))
                        .without_vendor_message()
                        .with_hint(format!(
                            "Edit the key in Dashboard → Developers → API keys and grant {}.",
                            describe_permission(permission)
                        )),
                    None => default.with_hint(
                        "Restricted keys need Read on Balance, Charges and Subscriptions (Dashboard → Developers → API keys).",
                    ),
                }
            }
            // A lock timeout is contention on one object, not the account's request rate; say
            // so, because the fix (fewer concurrent writers) differs.
            FailureKind::RateLimited if error.code_is("lock_timeout") => default.with_hint(
                "Stripe reported lock_timeout: another request was modifying the same object.",
            ),
            FailureKind::RateLimited => default.with_hint(
                "Stripe allows about 100 read requests per second in live mode and 25 in test mode.",
            ),
            _ => default,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_the_permission_in_stripes_message() {
        let m = "The provided key 'rk_test_***' does not have the required permissions for this endpoint on account 'acct_1'. Having the 'rak_subscription_read' permission would allow this request to continue.";
        assert_eq!(missing_permission(m), Some("rak_subscription_read"));
        assert_eq!(missing_permission("No permissions were named here."), None);
    }

    #[test]
    fn describes_permissions_like_the_dashboard() {
        assert_eq!(describe_permission("rak_balance_read"), "Read on Balance");
        assert_eq!(
            describe_permission("rak_accounts_kyc_basic_read"),
            "Read on Accounts kyc basic"
        );
        assert_eq!(describe_permission("rak_charge_write"), "Write on Charge");
    }
}
