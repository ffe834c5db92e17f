//! GitHub's error conventions, layered on the shared classification in `opsdeck_core::http`.
//!
//! The quotes below come from GitHub's REST docs ("Rate limits for the REST API",
//! "Troubleshooting the REST API"); see `docs/providers/github.md` for the table. Rules match on
//! the request path relative to `base_url` and on GitHub's own message, never on ours.

use std::time::Duration;

use chrono::Utc;
use opsdeck_core::FailureKind;
use opsdeck_core::http::{HttpResponse, MAX_WAIT, RequestCtx, VendorError, VendorErrors, Verdict};

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
    fn rate_limit_wait(response: &HttpResponse, error: &VendorError) -> Option<Duration> {
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
                .map(|at| {
                    (at - Utc::now())
                        .to_std()
                        .unwrap_or(Duration::ZERO)
                        .min(MAX_WAIT)
                })
                .unwrap_or(SECONDARY_LIMIT_WAIT);
            return Some(until_reset);
        }
        // Secondary limits usually leave `x-ratelimit-remaining` above 0; only GitHub's message
        // tells them apart from a permission problem.
        if error.message_contains("rate limit") || error.message_contains("abuse detection") {
            return Some(SECONDARY_LIMIT_WAIT);
        }
        (response.status.as_u16() == 429).then_some(SECONDARY_LIMIT_WAIT)
    }
}

impl VendorErrors for GithubErrors {
    fn classify(
        &self,
        ctx: &RequestCtx<'_>,
        response: &HttpResponse,
        error: &VendorError,
        default: Verdict,
    ) -> Verdict {
        match response.status.as_u16() {
            401 => default.with_hint(if error.message_contains("Requires authentication") {
                "GitHub saw no token: check that `token` is set and not empty."
            } else {
                "Create a new token (GitHub → Settings → Developer settings → Personal access tokens) and update `token`; tokens expire and can be revoked by you, an organisation or GitHub's secret scanning."
            }),
            403 | 429 => match Self::rate_limit_wait(response, error) {
                Some(wait) => {
                    let primary = response.header("x-ratelimit-remaining") == Some("0")
                        && response.retry_after().is_none();
                    let summary = if primary {
                        let bucket = response.header("x-ratelimit-resource").unwrap_or("core");
                        format!(
                            "GitHub's primary rate limit for the `{bucket}` bucket is used up; the credentials were not judged"
                        )
                    } else {
                        "GitHub's secondary rate limit was hit (too many requests in a short time); the credentials were not judged".to_owned()
                    };
                    default
                        .with_kind(FailureKind::RateLimited)
                        .with_summary(summary)
                        .with_retry_after(Some(wait))
                }
                None => {
                    let mut hints = Vec::new();
                    if error.message_contains("Resource not accessible by integration") {
                        hints.push("This looks like a GitHub App installation token, which cannot call this endpoint; use a personal access token.".to_owned());
                    } else if error
                        .message_contains("Resource not accessible by personal access token")
                    {
                        hints.push("The fine-grained token lacks a permission for this resource (or the resource owner differs from the token's).".to_owned());
                    }
                    if error.message_contains("SAML") {
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
                    if hints.is_empty() {
                        default
                    } else {
                        default.with_hint(hints.join(" "))
                    }
                }
            },
            404 if ctx.relative_path == "/user" => default.with_hint(
                "GitHub has no /user endpoint at this base_url: for GitHub Enterprise Server use https://HOST/api/v3.",
            ),
            404 => default.with_hint(
                "GitHub also answers 404 for private resources the token may not see: check the owner/name and the token's scopes or repository access.",
            ),
            301 | 302 | 307 | 308 if ctx.relative_path.starts_with("/repos/") => default
                .with_hint(
                    "The repository was probably renamed or transferred: update `repos` to its new owner/name.",
                ),
            _ => default,
        }
    }
}
