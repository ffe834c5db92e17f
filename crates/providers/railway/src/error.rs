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

use opsdeck_core::http::{HttpResponse, RequestCtx, VendorError, VendorErrors, Verdict};
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

/// The first GraphQL error of a response, as a [`VendorError`] (`graphql` marks that there was
/// one; `trace_id` and `workspace` carry Railway's extras).
fn first_graphql_error(response: &HttpResponse) -> Option<VendorError> {
    let env = serde_json::from_slice::<ErrorEnvelope>(&response.body).ok()?;
    let e = env.errors.into_iter().next()?;
    let ext = e.extensions.unwrap_or_default();
    let mut v = VendorError::new()
        .with_code(ext.code)
        .with_message(Some(e.message))
        .with_extra("graphql", "true");
    if let Some(t) = e.trace_id.or(ext.trace_id) {
        v = v.with_extra("trace_id", t);
    }
    if let Some(w) = ext.workspace_name {
        v = v.with_extra("workspace", w);
    }
    Some(v)
}

/// What a GraphQL error means: the kind, what happened (no final full stop) and what to do.
struct Meaning {
    kind: FailureKind,
    summary: String,
    hint: Option<String>,
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

    /// What Railway's GraphQL error means.
    fn meaning(&self, e: &VendorError) -> Meaning {
        let msg = e.message.as_deref().unwrap_or_default().trim();
        let trace = e
            .extra("trace_id")
            .map(|t| format!(" (Railway trace id {t})"))
            .unwrap_or_default();
        let meaning = |kind, summary: String, hint: Option<&str>| Meaning {
            kind,
            summary,
            hint: hint.map(str::to_owned),
        };
        if e.message_contains("not authorized") {
            meaning(
                FailureKind::InvalidCredentials,
                format!("Railway answered \"Not Authorized\"{trace}"),
                Some(self.wrong_kind_hint()),
            )
        } else if e.message_contains("project token not found") {
            meaning(
                FailureKind::InvalidCredentials,
                format!("Railway does not know this project token (\"{msg}\"){trace}"),
                Some(
                    "Check that it was copied whole and has not been deleted in Project settings → Tokens.",
                ),
            )
        } else if msg == "Two Factor Authentication Required" {
            let ws = e.extra("workspace").unwrap_or("the workspace");
            meaning(
                FailureKind::PermissionDenied,
                format!(
                    "Railway refused: {ws} requires two-factor authentication for the token's user{trace}"
                ),
                Some(
                    "Enable 2FA on the account (railway.com/account/security) or use a token of a user who has it.",
                ),
            )
        } else if e.code_is("GRAPHQL_PARSE_FAILED") || e.code_is("GRAPHQL_VALIDATION_FAILED") {
            meaning(
                FailureKind::InvalidResponse,
                format!("Railway rejected opsdeck's query: {msg}{trace}"),
                Some(
                    "Railway's API may have changed, or base_url points at another GraphQL server.",
                ),
            )
        } else if e.code_is("BAD_USER_INPUT") {
            meaning(
                FailureKind::Rejected,
                format!("Railway rejected a value in the request: {msg}{trace}"),
                None,
            )
        } else if e.message_contains("not found") {
            meaning(
                FailureKind::NotFound,
                format!("Railway answered: {msg}{trace}"),
                None,
            )
        } else {
            meaning(
                FailureKind::ProviderError,
                format!(
                    "Railway returned an error: {}{trace}",
                    if msg.is_empty() { "(no message)" } else { msg }
                ),
                Some("This is usually temporary; check status.railway.com."),
            )
        }
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

fn cloudflare_verdict(response: &HttpResponse, default: Verdict) -> Verdict {
    let body = String::from_utf8_lossy(&response.body[..response.body.len().min(8192)])
        .to_ascii_lowercase();
    let ray = ray_id(response)
        .map(|r| format!(" (Cloudflare Ray ID {r})"))
        .unwrap_or_default();
    // Cloudflare's 1015 is its own rate limit; anything else (1010 browser signature, 1020
    // firewall rule, a challenge) is a block of this client or network.
    let rate_limited =
        response.status.as_u16() == 429 || body.contains("1015") || body.contains("rate limited");
    if rate_limited {
        default
            .with_kind(FailureKind::RateLimited)
            .with_summary(format!(
                "Railway's Cloudflare edge is rate limiting this client with its own page instead of an API answer{ray}; the token was not checked"
            ))
            .without_vendor_message()
            .with_hint("Wait and retry; reduce how often opsdeck polls Railway.")
    } else {
        default
            .with_kind(FailureKind::Unreachable)
            .with_summary(format!(
                "Railway's Cloudflare edge blocked the request with an \"access denied\" page before Railway saw it{ray}, so the token was not checked"
            ))
            .without_vendor_message()
            .with_hint("This happens when Railway throttles or blocks this machine's IP address or network; retry later, and if it persists ask Railway support with the Ray ID.")
    }
}

impl VendorErrors for RailwayErrors {
    fn parse(&self, response: &HttpResponse) -> VendorError {
        first_graphql_error(response).unwrap_or_else(|| VendorError::common(response))
    }

    fn classify(
        &self,
        _: &RequestCtx<'_>,
        response: &HttpResponse,
        error: &VendorError,
        default: Verdict,
    ) -> Verdict {
        if matches!(response.status.as_u16(), 403 | 429 | 503) && is_cloudflare_page(response) {
            return cloudflare_verdict(response, default);
        }
        if error.extra("graphql").is_none() {
            return default;
        }
        let m = self.meaning(error);
        // The HTTP status decides for rate limits and server errors; the GraphQL message
        // decides for 4xx answers (a 400 validation error is our query, not the config). An
        // unrecognised message keeps the status-based kind, whose message quotes Railway's text.
        if matches!(
            default.kind,
            FailureKind::RateLimited | FailureKind::ProviderError
        ) || m.kind == FailureKind::ProviderError
        {
            return default;
        }
        let v = default
            .with_kind(m.kind)
            .with_summary(m.summary)
            .without_vendor_message();
        match m.hint {
            Some(h) => v.with_hint(h),
            None => v,
        }
    }

    fn check_success(&self, _: &RequestCtx<'_>, response: &HttpResponse) -> Result<()> {
        let Some(error) = first_graphql_error(response) else {
            return Ok(());
        };
        let m = self.meaning(&error);
        tracing::debug!(kind = %m.kind, code = ?error.code, "Railway answered with GraphQL errors");
        Err(Error::new(m.kind, format!("{}.", m.summary))
            .with_hint_replaced(m.hint)
            .with_http_status(response.status.as_u16())
            .with_rate_limit(response.rate_limit()))
    }
}
