//! Anthropic error mapping on top of the shared HTTP policy.
//!
//! Anthropic documents (https://platform.claude.com/docs/en/api/errors):
//! "Errors are always returned as JSON, with a top-level error object that always includes a
//! type and message value": `{"type":"error","error":{"type":"…","message":"…"},"request_id":"req_…"}`.
//! Status → type: 400 `invalid_request_error` (also when an org/workspace spend limit you set is
//! reached), 401 `authentication_error`, 402 `billing_error`, 403 `permission_error`,
//! 404 `not_found_error`, 413 `request_too_large`, 429 `rate_limit_error` (also the monthly tier
//! spend cap, which sends no `retry-after`), 500 `api_error`, 504 `timeout_error`,
//! 529 `overloaded_error`. The shared defaults already fit most of these; this module adds the
//! error type to messages, maps 402, explains 529, reads `anthropic-ratelimit-*` headers and
//! gives key-specific hints (Admin API key vs. workspace API key).

use opsdeck_core::http::{
    HttpResponse, RequestCtx, VendorError, VendorErrors, Verdict, parse_reset,
};
use opsdeck_core::{FailureKind, RateLimitInfo};
use serde::Deserialize;

#[derive(Debug, Deserialize)]
struct ErrorBody {
    error: ErrorDetail,
}

#[derive(Debug, Deserialize)]
struct ErrorDetail {
    #[serde(rename = "type", default)]
    kind: Option<String>,
    #[serde(default)]
    message: Option<String>,
}

/// Which key a client sends; hints differ.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum KeyRole {
    /// The workspace API key (`api_key`).
    Api {
        /// The configured api_key starts with the Admin key prefix.
        looks_like_admin: bool,
    },
    /// The organization Admin API key (`admin_key`).
    Admin {
        /// The configured admin_key looks like a workspace key.
        looks_like_api_key: bool,
    },
}

/// Vendor-specific classification for Anthropic.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ClaudeErrors {
    pub(crate) role: KeyRole,
}

impl VendorErrors for ClaudeErrors {
    /// `{"type":"error","error":{"type","message"}}`; the message keeps the error type in
    /// front ("overloaded_error: Overloaded"), which is what Anthropic's docs and status page use.
    fn parse(&self, response: &HttpResponse) -> VendorError {
        match serde_json::from_slice::<ErrorBody>(&response.body) {
            Ok(ErrorBody { error }) => {
                let message = match (&error.kind, error.message.as_deref().map(str::trim)) {
                    (Some(kind), Some(m)) if !m.is_empty() => Some(format!("{kind}: {m}")),
                    (Some(kind), _) => Some(kind.clone()),
                    (None, m) => m.map(str::to_owned),
                };
                VendorError::new()
                    .with_code(error.kind)
                    .with_message(message)
            }
            Err(_) => VendorError::common(response),
        }
    }

    fn rate_limit(&self, response: &HttpResponse) -> Option<RateLimitInfo> {
        anthropic_rate_limit(response).or_else(|| response.rate_limit())
    }

    fn classify(
        &self,
        _: &RequestCtx<'_>,
        response: &HttpResponse,
        error: &VendorError,
        default: Verdict,
    ) -> Verdict {
        match (response.status.as_u16(), self.role) {
            (401, KeyRole::Api { looks_like_admin }) => default.with_hint(if looks_like_admin {
                "api_key looks like an Admin API key (sk-ant-admin…); the Messages and Models APIs need a workspace API key (sk-ant-api…). Put the Admin key in admin_key instead."
            } else {
                "Create or copy a valid key in the Claude Console (Settings → API keys) and set api_key."
            }),
            (401 | 403, KeyRole::Admin { looks_like_api_key }) => {
                default.with_hint(if looks_like_api_key {
                    "admin_key looks like a workspace API key; usage, cost and organization endpoints accept only an Admin API key (sk-ant-admin…), which organization admins create in Console → Settings → Admin keys."
                } else {
                    "Usage, cost and organization endpoints need a valid Admin API key (sk-ant-admin…) created by an organization admin in Console → Settings → Admin keys."
                })
            }
            (402, _) => default
                .with_kind(FailureKind::PermissionDenied)
                .with_summary("Anthropic refused the request because of a billing problem")
                .with_hint("Check the payment details and credit balance in the Claude Console."),
            (404, KeyRole::Admin { .. }) => default.with_hint(
                "The Admin API is unavailable for individual accounts and for Claude Platform on AWS organizations.",
            ),
            (429, _) if response.retry_after().is_none() => default.with_hint(
                "Anthropic sent no retry-after: a monthly spend cap of the usage tier may have been reached (see Console → Settings → Limits).",
            ),
            (529, _) => default.with_hint(
                "HTTP 529 overloaded_error means Anthropic's API is temporarily overloaded for all users; it is not a problem with the credentials.",
            ),
            (400, _)
                if error.code_is("invalid_request_error")
                    && (error.message_contains("credit balance")
                        || error.message_contains("spend limit")
                        || error.message_contains("usage limit")) =>
            {
                default
                    .with_kind(FailureKind::PermissionDenied)
                    .with_summary(
                        "Anthropic refused the request: the organization or workspace reached a spend limit or ran out of credits",
                    )
                    .with_hint("Raise the limit or add credits in the Claude Console.")
            }
            _ => default,
        }
    }
}

/// `anthropic-ratelimit-requests-{limit,remaining,reset}` (reset is RFC 3339).
pub(crate) fn anthropic_rate_limit(response: &HttpResponse) -> Option<RateLimitInfo> {
    let num = |name: &str| {
        response
            .header(name)
            .and_then(|v| v.trim().parse::<u64>().ok())
    };
    let mut info = RateLimitInfo::new(None);
    info.limit = num("anthropic-ratelimit-requests-limit");
    info.remaining = num("anthropic-ratelimit-requests-remaining");
    info.reset_at = response
        .header("anthropic-ratelimit-requests-reset")
        .and_then(parse_reset);
    if info.is_empty() {
        return None;
    }
    info.resource = Some("requests".to_owned());
    Some(info)
}
