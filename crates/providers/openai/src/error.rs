//! OpenAI error mapping: what OpenAI's statuses and error bodies mean, on top of the shared
//! HTTP policy.
//!
//! Error body (openapi.yaml `ErrorResponse`): `{"error": {"message", "type", "param", "code"}}`.
//! Facts this module relies on (sources in docs/providers/openai.md):
//! - a wrong key is 401 with `code: "invalid_api_key"`, and the message echoes a masked key
//!   (`sk-proj-****…MxYA`), which we never repeat;
//! - a valid key that lacks a scope is **also 401**, `code: null`, message "You have insufficient
//!   permissions for this operation. Missing scopes: api.usage.read. …" — that is a permission
//!   problem, not a bad key; some answers carry `error` as a bare string;
//! - 401 "IP not authorized" means the project's or organization's IP allowlist;
//! - 403 `unsupported_country_region_territory` is a region block;
//! - 429 `insufficient_quota` ("You exceeded your current quota") is billing, not throttling:
//!   retrying does not help;
//! - inference responses carry `x-ratelimit-{limit,remaining,reset}-{requests,tokens}` with
//!   resets written as Go durations (`12ms`, `1s`, `6m0s`).

use chrono::Utc;
use opsdeck_core::http::{HttpResponse, RequestCtx, VendorError, VendorErrors, Verdict};

/// OpenAI writes rate-limit resets as Go durations (`12ms`, `6m0s`); the parser is core's
/// (bounded, never panics), re-exported here where the crate always offered it.
pub use opsdeck_core::http::parse_go_duration;
use opsdeck_core::{FailureKind, RateLimitInfo};
use serde::Deserialize;

/// Which credential a client carries; hints name the config field to fix.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyRole {
    /// `api_key`, used for `/models`.
    Api,
    /// `admin_key`, used for `/organization/*`.
    Admin,
}

impl KeyRole {
    fn field(self) -> &'static str {
        match self {
            KeyRole::Api => "api_key",
            KeyRole::Admin => "admin_key",
        }
    }
}

/// OpenAI's vendor-specific classification for one client.
#[derive(Debug, Clone, Copy)]
pub struct OpenAiErrors {
    role: KeyRole,
}

impl OpenAiErrors {
    /// Classification for a client carrying the `role` credential.
    pub fn new(role: KeyRole) -> Self {
        OpenAiErrors { role }
    }
}

#[derive(Debug, Deserialize)]
struct Envelope {
    error: ErrorField,
}

/// `error` is an object per the spec; some answers send a bare string.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum ErrorField {
    Object(ErrorObject),
    Text(String),
}

#[derive(Debug, Default, Deserialize)]
struct ErrorObject {
    #[serde(default)]
    message: Option<String>,
    #[serde(default, rename = "type")]
    kind: Option<String>,
    #[serde(default)]
    code: Option<serde_json::Value>,
}

/// The parts of an OpenAI error body we act on. Gateways send `""` for absent codes; `error`
/// may be a bare string.
fn parse_body(response: &HttpResponse) -> Option<VendorError> {
    let env = serde_json::from_slice::<Envelope>(&response.body).ok()?;
    Some(match env.error {
        ErrorField::Text(t) => VendorError::new().with_message(Some(mask_keys(&t))),
        ErrorField::Object(o) => VendorError::new()
            .with_message(o.message.map(|m| mask_keys(&m)))
            // Codes are strings in the spec; tolerate numbers from gateways.
            .with_code(o.code.and_then(|c| match c {
                serde_json::Value::String(s) => Some(s),
                serde_json::Value::Number(n) => Some(n.to_string()),
                _ => None,
            }))
            .with_extra("type", o.kind.unwrap_or_default()),
    })
}

/// Replace key-looking tokens (`sk-…`, `sess-…`) with `[key]`: OpenAI echoes a masked key in
/// 401 messages, and even a masked key's tail does not belong in reports or logs.
pub fn mask_keys(text: &str) -> String {
    opsdeck_core::http::mask_keys(text, &["sk-", "sess-"])
}

/// The scope named in "Missing scopes: api.usage.read." messages.
fn missing_scope(message: &str) -> Option<String> {
    let rest = message.split("Missing scopes:").nth(1)?.trim_start();
    // The scope list ends with the sentence: "…: api.usage.read. Check that …".
    let end = rest.find(". ").unwrap_or(rest.len());
    let scope = rest[..end].trim().trim_end_matches('.').trim();
    let plausible = scope
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | ',' | ' '));
    (!scope.is_empty() && plausible && scope.len() <= 100).then(|| scope.to_owned())
}

/// Request-quota headroom from OpenAI's `x-ratelimit-*-requests` headers.
pub fn openai_rate_limit(response: &HttpResponse) -> Option<RateLimitInfo> {
    let num = |name: &str| {
        response
            .header(name)
            .and_then(|v| v.trim().parse::<u64>().ok())
    };
    let mut info = RateLimitInfo::new(None);
    info.limit = num("x-ratelimit-limit-requests");
    info.remaining = num("x-ratelimit-remaining-requests");
    info.reset_at = response
        .header("x-ratelimit-reset-requests")
        .and_then(parse_go_duration)
        .and_then(|d| chrono::Duration::from_std(d).ok())
        .and_then(|d| Utc::now().checked_add_signed(d));
    if info.is_empty() {
        return None;
    }
    info.resource = Some("requests".to_owned());
    Some(info)
}

impl VendorErrors for OpenAiErrors {
    fn parse(&self, response: &HttpResponse) -> VendorError {
        parse_body(response).unwrap_or_else(|| {
            let common = VendorError::common(response);
            let message = common.message.clone();
            common.with_message(message.map(|m| mask_keys(&m)))
        })
    }

    fn rate_limit(&self, response: &HttpResponse) -> Option<RateLimitInfo> {
        openai_rate_limit(response).or_else(|| response.rate_limit())
    }

    fn classify(
        &self,
        _: &RequestCtx<'_>,
        response: &HttpResponse,
        error: &VendorError,
        default: Verdict,
    ) -> Verdict {
        let message = error.message.as_deref().unwrap_or_default();
        let field = self.role.field();
        let verdict = match response.status.as_u16() {
            401 if message.contains("Missing scopes") || message.contains("insufficient permissions") => {
                let scope = missing_scope(message);
                let hint = match (self.role, scope.as_deref()) {
                    (KeyRole::Admin, _) => "Usage and cost are served only to an organization Admin key (sk-admin-…, created by an Owner under Settings → Organization → Admin keys) with Usage: Read (api.usage.read); project keys cannot read them.".to_owned(),
                    (KeyRole::Api, Some(s)) => format!("Give the key the missing permission ({s}; for GET /models: Models → Read) or use an unrestricted project key."),
                    (KeyRole::Api, None) => "Give the key Models → Read (api.model.read) or use an unrestricted project key.".to_owned(),
                };
                default
                    .with_kind(FailureKind::PermissionDenied)
                    .with_summary(format!(
                        "OpenAI accepted {field} but it lacks a permission{}",
                        scope.map(|s| format!(": missing scope {s}")).unwrap_or_default()
                    ))
                    .without_vendor_message()
                    .with_hint(hint)
            }
            401 if message.contains("IP not authorized") || message.contains("IP address") => default
                .with_kind(FailureKind::PermissionDenied)
                .with_summary(format!(
                    "OpenAI refused {field} from this IP address (the project or organization has an IP allowlist)"
                ))
                .with_hint("Add this machine's outbound IP to the allowlist or run opsdeck from an allowed network."),
            401 => default.with_hint(format!(
                "Set {field} to a current key from platform.openai.com/api-keys{}.",
                if self.role == KeyRole::Admin {
                    " (an Admin key, sk-admin-…, from Settings → Organization → Admin keys)"
                } else {
                    ""
                }
            )),
            403 if error.code_is("unsupported_country_region_territory") => default.with_hint(
                "OpenAI blocks requests from this country, region or territory; run opsdeck from a supported location or through a proxy there.",
            ),
            404 => default.with_hint(
                "base_url must be the API root including /v1 (default https://api.openai.com/v1).",
            ),
            429 if error.code_is("insufficient_quota") || error.extra("type") == Some("insufficient_quota") => default
                .with_kind(FailureKind::PermissionDenied)
                .with_temporary(false)
                .with_summary("OpenAI refused the request because the organization's quota is used up (insufficient_quota)")
                .without_vendor_message()
                .with_hint("Add credits or raise the monthly budget under Settings → Billing. Retrying does not help."),
            _ => default,
        };
        match response.header("x-request-id") {
            Some(id) => verdict.with_detail("request_id", id),
            None => verdict,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_masked() {
        assert_eq!(
            mask_keys("Incorrect API key provided: sk-proj-****abcd. You can find"),
            "Incorrect API key provided: [key]. You can find"
        );
        assert_eq!(
            mask_keys("no key here, task-sk-1"),
            "no key here, task-sk-1"
        );
        assert_eq!(mask_keys("key \"sk-abc_12*34\" end"), "key \"[key]\" end");
    }

    #[test]
    fn scopes_are_extracted() {
        assert_eq!(
            missing_scope(
                "You have insufficient permissions for this operation. Missing scopes: api.usage.read. Check that"
            ),
            Some("api.usage.read".to_owned())
        );
        assert_eq!(missing_scope("nothing"), None);
    }
}
