//! Datadog error mapping.
//!
//! Datadog's error body is `{"errors": ["…"]}` everywhere. Specific to Datadog:
//!
//! - `GET /api/v1/validate` answers an invalid API key with **403** (`{"errors":["Forbidden"]}`;
//!   docs: "Check if the API key (not the APP key) is valid. If invalid, a 403 is returned.").
//!   That is bad credentials, not a missing permission.
//! - `GET /api/v2/validate_keys` answers 401 or 403 when either key is invalid.
//! - Keys belong to one site (datadoghq.com, datadoghq.eu, …): a valid key sent to the wrong
//!   site looks exactly like an invalid one, so every credentials message names the site tried
//!   and lists the others.
//! - 429 responses carry `X-RateLimit-Reset` (seconds until the window resets) and
//!   `X-RateLimit-Name` (the bucket) rather than `Retry-After`
//!   (https://docs.datadoghq.com/api/latest/rate-limits).

use std::time::Duration;

use opsdeck_core::http::{HttpResponse, MAX_WAIT, RequestCtx, VendorError, VendorErrors, Verdict};
use opsdeck_core::{FailureKind, RateLimitInfo};

use crate::config::SITES;

/// Path of the API-key validation call.
pub const VALIDATE_PATH: &str = "/api/v1/validate";
/// Path of the two-key validation call.
pub const VALIDATE_KEYS_PATH: &str = "/api/v2/validate_keys";
/// Path of the estimated-cost call.
pub const ESTIMATED_COST_PATH: &str = "/api/v2/usage/estimated_cost";

/// Vendor-specific classification for Datadog; knows which site the keys were sent to.
#[derive(Debug, Clone)]
pub struct DatadogErrors {
    /// The site (or overriding host) requests go to, for messages.
    pub target: String,
    /// The configured site.
    pub site: String,
}

impl DatadogErrors {
    fn site_hint(&self) -> String {
        let others: Vec<&str> = SITES.iter().copied().filter(|s| *s != self.site).collect();
        format!(
            "Datadog keys only work on their own site and opsdeck sent them to {}; if your organisation is on another site (the address you log in to), set `site` to one of: {}.",
            self.target,
            others.join(", ")
        )
    }
}

impl VendorErrors for DatadogErrors {
    fn rate_limit(&self, response: &HttpResponse) -> Option<RateLimitInfo> {
        let mut info = response.rate_limit().unwrap_or_default();
        if let Some(name) = response.header("x-ratelimit-name") {
            info.resource = Some(name.to_owned());
        }
        (!info.is_empty()).then_some(info)
    }

    /// Rules match the path relative to `base_url`, so keys sent through a path-prefixed proxy
    /// (`https://proxy.example.com/datadog`) are judged exactly as at the vendor's address.
    fn classify(
        &self,
        ctx: &RequestCtx<'_>,
        response: &HttpResponse,
        error: &VendorError,
        default: Verdict,
    ) -> Verdict {
        let credentials = matches!(
            default.kind,
            FailureKind::PermissionDenied | FailureKind::InvalidCredentials
        );
        match default.kind {
            _ if credentials && ctx.relative_path == VALIDATE_PATH => default
                .with_kind(FailureKind::InvalidCredentials)
                .with_summary("Datadog rejected the API key")
                .with_hint(self.site_hint()),
            _ if credentials && ctx.relative_path == VALIDATE_KEYS_PATH => default
                .with_kind(FailureKind::InvalidCredentials)
                .with_summary("Datadog accepted the API key but rejected the application key")
                .with_hint(format!(
                    "Check app_key (Organization Settings → Application Keys): it must belong to the same organisation and not be revoked. {}",
                    self.site_hint()
                )),
            FailureKind::InvalidCredentials => default.with_hint(self.site_hint()),
            FailureKind::PermissionDenied => default.with_hint(
                "The application key's role or scopes lack a permission this needs (monitors_read for monitors; usage_read and billing_read for cost).",
            ),
            // Datadog: "API called with non-parent org keys. Data is only available at the root
            // level org".
            FailureKind::Rejected
                if ctx.relative_path == ESTIMATED_COST_PATH
                    && error.message_contains("non-parent") =>
            {
                default
                    .with_kind(FailureKind::PermissionDenied)
                    .with_summary("Datadog reports estimated cost only to the parent (root) organisation; these keys belong to a child organisation")
                    .with_hint("Use keys of the parent organisation for cost.")
            }
            FailureKind::RateLimited if response.retry_after().is_none() => {
                let reset = response
                    .header("x-ratelimit-reset")
                    .and_then(|v| v.trim().parse::<u64>().ok())
                    .map(|secs| Duration::from_secs(secs.max(1)).min(MAX_WAIT));
                default.with_retry_after(reset)
            }
            _ => default,
        }
    }
}
