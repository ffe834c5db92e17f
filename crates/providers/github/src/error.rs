//! GitHub's error conventions, layered on the shared classification in `opsdeck_core::http`.
//!
//! The quotes below come from GitHub's REST docs ("Rate limits for the REST API",
//! "Troubleshooting the REST API"); see `docs/providers/github.md` for the table.

use std::time::Duration;

use chrono::Utc;
use opsdeck_core::http::{HttpResponse, VendorErrors};
use opsdeck_core::{Error, FailureKind};

/// Vendor-specific classification for GitHub.
#[derive(Debug, Clone, Copy, Default)]
pub struct GithubErrors;

/// How long to wait after a secondary rate limit that names no time: "Otherwise, wait for at
/// least one minute before retrying."
const SECONDARY_LIMIT_WAIT: Duration = Duration::from_secs(60);

impl GithubErrors {
    /// Decide whether a 403/429 is a rate limit, and when a retry makes sense.
    ///
    /// "If you exceed your primary rate limit, you will receive a 403 or 429 response, and the
    /// x-ratelimit-remaining header will be 0. [...] If you exceed a secondary rate limit, you
    /// will receive a 403 or 429 response and an error message that indicates that you exceeded
    /// a secondary rate limit. If the retry-after response header is present, you should not
    /// retry your request until after that many seconds has elapsed."
    fn rate_limit_wait(response: &HttpResponse, message: &str) -> Option<Duration> {
        if let Some(wait) = response.retry_after() {
            return Some(wait);
        }
        let remaining = response
            .header("x-ratelimit-remaining")
            .and_then(|v| v.trim().parse::<u64>().ok());
        if remaining == Some(0) {
            let until_reset = response
                .rate_limit()
                .and_then(|r| r.reset_at)
                .map(|at| (at - Utc::now()).to_std().unwrap_or(Duration::ZERO))
                .unwrap_or(SECONDARY_LIMIT_WAIT);
            return Some(until_reset);
        }
        // Secondary limits usually leave `x-ratelimit-remaining` above 0; only the message
        // tells them apart from a permission problem.
        let lower = message.to_ascii_lowercase();
        if lower.contains("rate limit") || lower.contains("abuse detection") {
            return Some(SECONDARY_LIMIT_WAIT);
        }
        (response.status.as_u16() == 429).then_some(SECONDARY_LIMIT_WAIT)
    }
}

impl VendorErrors for GithubErrors {
    fn classify(&self, response: &HttpResponse, default: Error) -> Error {
        let message = self.vendor_message(response).unwrap_or_default();
        let status = response.status.as_u16();
        match status {
            401 => {
                let hint = if message.contains("Requires authentication") {
                    "GitHub saw no token: check that `token` is set and not empty."
                } else {
                    "Create a new token (GitHub → Settings → Developer settings → Personal access tokens) and update `token`; tokens expire and can be revoked by you, an organisation or GitHub's secret scanning."
                };
                default.with_hint(hint)
            }
            403 | 429 => match Self::rate_limit_wait(response, &message) {
                Some(wait) => {
                    let primary = response.header("x-ratelimit-remaining") == Some("0")
                        && response.retry_after().is_none();
                    let what = if primary {
                        let bucket = response
                            .header("x-ratelimit-resource")
                            .unwrap_or("core")
                            .to_owned();
                        format!("GitHub's primary rate limit for the `{bucket}` bucket is used up")
                    } else {
                        "GitHub's secondary rate limit was hit (too many requests in a short time)"
                            .to_owned()
                    };
                    let secs = wait.as_secs().max(1);
                    let retry_after = default.retry_after().or(Some(wait));
                    default
                        .with_kind(FailureKind::RateLimited)
                        .with_message(format!(
                            "{what} (HTTP {status}). Retry in {secs}s; the credentials were not judged."
                        ))
                        .with_retry_after(retry_after)
                }
                None => {
                    let mut hints = Vec::new();
                    if message.contains("Resource not accessible by integration") {
                        hints.push("This looks like a GitHub App installation token, which cannot call this endpoint; use a personal access token.".to_owned());
                    } else if message.contains("Resource not accessible by personal access token")
                    {
                        hints.push("The fine-grained token lacks a permission for this resource (or the resource owner differs from the token's).".to_owned());
                    }
                    if message.contains("SAML") {
                        hints.push("The organisation enforces SAML single sign-on: authorise the token for it under the token's settings (Configure SSO).".to_owned());
                    }
                    if let Some(needed) = response.header("x-accepted-github-permissions") {
                        hints.push(format!(
                            "GitHub says this call needs the permission(s): {needed}."
                        ));
                    }
                    if let Some(scopes) = response
                        .header("x-accepted-oauth-scopes")
                        .filter(|s| !s.trim().is_empty())
                    {
                        hints.push(format!("GitHub accepts these scopes for it: {scopes}."));
                    }
                    hints
                        .iter()
                        .fold(default, |e, h| e.with_hint(h))
                }
            },
            404 => {
                if response.path.ends_with("/user") {
                    default.with_hint(
                        "GitHub has no /user endpoint at this base_url: for GitHub Enterprise Server use https://HOST/api/v3.",
                    )
                } else {
                    default.with_hint(
                        "GitHub also answers 404 for private resources the token may not see: check the owner/name and the token's scopes or repository access.",
                    )
                }
            }
            301 | 302 | 307 | 308 if response.path.contains("/repos/") => default.with_hint(
                "The repository was probably renamed or transferred: update `repos` to its new owner/name.",
            ),
            _ => default,
        }
    }
}
