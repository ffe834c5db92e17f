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

use opsdeck_core::http::{HttpResponse, VendorErrors};
use opsdeck_core::{Error, FailureKind, RateLimitInfo};

use crate::config::SITES;

/// Path of the API-key validation call.
pub const VALIDATE_PATH: &str = "/api/v1/validate";
/// Path of the two-key validation call.
pub const VALIDATE_KEYS_PATH: &str = "/api/v2/validate_keys";

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

    fn classify(&self, response: &HttpResponse, default: Error) -> Error {
        let status = response.status.as_u16();
        let path = response.path.as_str();
        match default.kind() {
            FailureKind::PermissionDenied | FailureKind::InvalidCredentials
                if path == VALIDATE_PATH =>
            {
                Error::new(
                    FailureKind::InvalidCredentials,
                    format!(
                        "Datadog rejected the API key (HTTP {status}: {}).",
                        said(response)
                    ),
                )
                .with_http_status(status)
                .with_hint(self.site_hint())
            }
            FailureKind::PermissionDenied | FailureKind::InvalidCredentials
                if path == VALIDATE_KEYS_PATH =>
            {
                Error::new(
                    FailureKind::InvalidCredentials,
                    format!(
                        "Datadog accepted the API key but rejected the application key (HTTP {status}: {}). Check app_key (Organization Settings → Application Keys): it must belong to the same organisation and not be revoked.",
                        said(response)
                    ),
                )
                .with_http_status(status)
                .with_hint(self.site_hint())
            }
            FailureKind::InvalidCredentials => default.with_hint(self.site_hint()),
            FailureKind::PermissionDenied => default.with_hint(
                "The application key's role or scopes lack a permission this needs (monitors_read for monitors; usage_read and billing_read for cost).",
            ),
            FailureKind::RateLimited if default.retry_after().is_none() => {
                let reset = response
                    .header("x-ratelimit-reset")
                    .and_then(|v| v.trim().parse::<u64>().ok());
                match reset {
                    Some(secs) => default.with_retry_after(Some(Duration::from_secs(secs.max(1)))),
                    None => default,
                }
            }
            _ => default,
        }
    }
}

fn said(response: &HttpResponse) -> String {
    opsdeck_core::http::default_vendor_message(response).unwrap_or_else(|| "no details".into())
}
