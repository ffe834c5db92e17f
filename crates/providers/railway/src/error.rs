//! How Railway's answers map to failure kinds.
//!
//! Railway follows the GraphQL convention (docs.railway.com "Public API" → Errors): "HTTP 200
//! with an `errors` array — the request executed but something in it failed, including
//! authorization failures"; HTTP 400 for parse/validation errors (`GRAPHQL_PARSE_FAILED`,
//! `GRAPHQL_VALIDATION_FAILED`, `BAD_USER_INPUT`); HTTP 429 with `Retry-After` when rate
//! limited. An authorization denial is `{"message":"Not Authorized","extensions":{"code":
//! "INTERNAL_SERVER_ERROR"}}`. Railway renders a dead token and a resource it may not read the
//! same way (railwayapp/cli `client.rs`), so this module calls "Not Authorized" invalid
//! credentials and the metrics code downgrades it to "not available" for optional sub-queries.
//!
//! Cloudflare sits in front of the API and can answer with its own HTML (or `error code: NNNN`
//! text) 403 page before Railway sees the request. That says nothing about the token, so it is
//! never reported as a credentials failure.

use opsdeck_core::http::{HttpResponse, VendorErrors};
use opsdeck_core::{Error, FailureKind, Result};
use serde::Deserialize;

use crate::config::TokenKind;

/// Vendor-specific classification for Railway, aware of the configured token kind so a
/// "Not Authorized" can say which mismatch is likely.
#[derive(Debug, Clone, Copy)]
pub struct RailwayErrors {
    pub(crate) token_kind: TokenKind,
}

/// The part of a GraphQL response that carries errors. Everything else is ignored here.
#[derive(Debug, Deserialize)]
struct ErrorEnvelope {
    #[serde(default)]
    errors: Vec<GraphQlError>,
}

#[derive(Debug, Deserialize)]
struct GraphQlError {
    #[serde(default)]
    message: String,
    #[serde(default)]
    extensions: Option<Extensions>,
    /// Observed top-level in live answers; the docs put it in `extensions`.
    #[serde(default, rename = "traceId")]
    trace_id: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
struct Extensions {
    #[serde(default)]
    code: Option<String>,
    #[serde(default, rename = "traceId")]
    trace_id: Option<String>,
    #[serde(default, rename = "workspaceName")]
    workspace_name: Option<String>,
}

impl GraphQlError {
    fn code(&self) -> Option<&str> {
        self.extensions.as_ref().and_then(|e| e.code.as_deref())
    }

    fn trace(&self) -> String {
        self.trace_id
            .as_deref()
            .or_else(|| self.extensions.as_ref().and_then(|e| e.trace_id.as_deref()))
            .map(|t| format!(" (Railway trace id {t})"))
            .unwrap_or_default()
    }
}

fn errors_of(response: &HttpResponse) -> Vec<GraphQlError> {
    serde_json::from_slice::<ErrorEnvelope>(&response.body)
        .map(|e| e.errors)
        .unwrap_or_default()
}

impl RailwayErrors {
    fn wrong_kind_hint(&self) -> &'static str {
        match self.token_kind {
            TokenKind::Account => {
                "The token may be wrong, expired or revoked, or it is not an account token: a token created for one workspace needs token_kind = \"workspace\" (it cannot read `me`), and a project token needs token_kind = \"project\"."
            }
            TokenKind::Workspace => {
                "The token may be wrong, expired or revoked, or it is not an account or workspace token: a project token needs token_kind = \"project\"."
            }
            TokenKind::Project => {
                "The token may be wrong, expired or revoked, or it is not a project token: account and workspace tokens need token_kind = \"account\" or \"workspace\"."
            }
        }
    }

    /// Turn the first GraphQL error into an opsdeck error.
    fn classify_graphql(&self, e: &GraphQlError, http_status: u16) -> Error {
        let msg = e.message.trim();
        let lower = msg.to_ascii_lowercase();
        let trace = e.trace();
        let (kind, text) = if lower.contains("not authorized") {
            (
                FailureKind::InvalidCredentials,
                format!(
                    "Railway answered \"Not Authorized\"{trace}. {}",
                    self.wrong_kind_hint()
                ),
            )
        } else if lower.contains("project token not found") {
            (
                FailureKind::InvalidCredentials,
                format!(
                    "Railway does not know this project token (\"{msg}\"){trace}. Check that it was copied whole and has not been deleted in Project settings → Tokens."
                ),
            )
        } else if msg == "Two Factor Authentication Required" {
            let ws = e
                .extensions
                .as_ref()
                .and_then(|x| x.workspace_name.as_deref())
                .unwrap_or("the workspace");
            (
                FailureKind::PermissionDenied,
                format!(
                    "Railway refused: {ws} requires two-factor authentication for the token's user{trace}. Enable 2FA on the account (railway.com/account/security) or use a token of a user who has it."
                ),
            )
        } else if matches!(
            e.code(),
            Some("GRAPHQL_PARSE_FAILED" | "GRAPHQL_VALIDATION_FAILED")
        ) {
            (
                FailureKind::InvalidResponse,
                format!(
                    "Railway rejected opsdeck's query: {msg}{trace}. Railway's API may have changed, or base_url points at another GraphQL server."
                ),
            )
        } else if e.code() == Some("BAD_USER_INPUT") {
            (
                FailureKind::InvalidConfig,
                format!("Railway rejected a value in the request: {msg}{trace}."),
            )
        } else if lower.contains("not found") {
            (
                FailureKind::NotFound,
                format!("Railway answered: {msg}{trace}."),
            )
        } else {
            (
                FailureKind::ProviderError,
                format!(
                    "Railway returned an error: {}{trace}. This is usually temporary; check status.railway.com.",
                    if msg.is_empty() { "(no message)" } else { msg }
                ),
            )
        };
        Error::new(kind, text).with_http_status(http_status)
    }
}

/// The Cloudflare Ray ID of a response, for support requests.
fn ray_id(response: &HttpResponse) -> Option<&str> {
    response.header("cf-ray").filter(|r| !r.is_empty())
}

/// An answer from Cloudflare's edge rather than from Railway: an HTML page, or Cloudflare's
/// plain `error code: NNNN` body, on a response Cloudflare served.
fn is_cloudflare_page(response: &HttpResponse) -> bool {
    let from_cloudflare = response
        .header("server")
        .is_some_and(|s| s.eq_ignore_ascii_case("cloudflare"))
        || response.header("cf-ray").is_some()
        || response.header("cf-mitigated").is_some();
    let body = String::from_utf8_lossy(&response.body[..response.body.len().min(4096)])
        .to_ascii_lowercase();
    let page = response.is_html() || body.trim_start().starts_with("error code:");
    page && (from_cloudflare || body.contains("cloudflare"))
}

fn cloudflare_error(response: &HttpResponse, default: Error) -> Error {
    let body = String::from_utf8_lossy(&response.body[..response.body.len().min(8192)])
        .to_ascii_lowercase();
    let ray = ray_id(response)
        .map(|r| format!(" (Cloudflare Ray ID {r})"))
        .unwrap_or_default();
    let code = response.status.as_u16();
    // Cloudflare's 1015 is its own rate limit; anything else (1010 browser signature, 1020
    // firewall rule, a challenge) is a block of this client or network.
    let rate_limited = code == 429 || body.contains("1015") || body.contains("rate limited");
    if rate_limited {
        Error::new(
            FailureKind::RateLimited,
            format!(
                "Railway's Cloudflare edge is rate limiting this client (HTTP {code} page instead of an API answer){ray}. The token was not checked. Wait and retry; reduce how often opsdeck polls Railway."
            ),
        )
        .with_http_status(code)
        .with_retry_after(default.retry_after())
    } else {
        Error::new(
            FailureKind::Unreachable,
            format!(
                "Railway's Cloudflare edge blocked the request with an HTTP {code} \"access denied\" page before Railway saw it{ray}, so the token was not checked. This happens when Railway throttles or blocks this machine's IP address or network; retry later, and if it persists ask Railway support with the Ray ID."
            ),
        )
        .with_http_status(code)
    }
}

impl VendorErrors for RailwayErrors {
    fn classify(&self, response: &HttpResponse, default: Error) -> Error {
        let code = response.status.as_u16();
        if matches!(code, 403 | 429 | 503) && is_cloudflare_page(response) {
            return cloudflare_error(response, default);
        }
        if let Some(first) = errors_of(response).first() {
            let mapped = self.classify_graphql(first, code);
            // The HTTP status decides for rate limits and server errors; the GraphQL message
            // decides for 4xx answers (a 400 validation error is our query, not the config).
            // An unrecognised message (mapped to provider_error) keeps the status-based kind,
            // whose message already quotes Railway's text.
            return match (default.kind(), mapped.kind()) {
                (FailureKind::RateLimited | FailureKind::ProviderError, _)
                | (_, FailureKind::ProviderError) => default,
                _ => mapped
                    .with_retry_after(default.retry_after())
                    .with_rate_limit(default.rate_limit().cloned()),
            };
        }
        default
    }

    fn check_success(&self, response: &HttpResponse) -> Result<()> {
        match errors_of(response).first() {
            None => Ok(()),
            Some(first) => {
                let err = self.classify_graphql(first, response.status.as_u16());
                tracing::debug!(kind = %err.kind(), code = ?first.code(), "Railway answered with GraphQL errors");
                Err(err.with_rate_limit(response.rate_limit()))
            }
        }
    }
}
