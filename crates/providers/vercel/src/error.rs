//! Vercel error mapping.
//!
//! Vercel's errors are `{"error": {"code", "message", …}}`
//! (https://vercel.com/docs/rest-api/errors). Two things differ from the shared defaults:
//!
//! - A missing, invalid or expired token is answered with **403** `forbidden` ("Not
//!   authorized", sometimes with `"invalidToken": true`), not 401. That is a credentials
//!   problem. A 403 that names an action/resource ("You don't have permission to …") is a
//!   real permission problem on a valid token.
//! - A 429 carries the reset time in the body (`error.limit.reset`, epoch seconds) besides
//!   the `X-RateLimit-*` headers.

use std::time::Duration;

use opsdeck_core::http::{HttpResponse, VendorErrors};
use opsdeck_core::{Error, FailureKind};
use serde::Deserialize;

#[derive(Debug, Deserialize)]
struct Envelope {
    error: VercelError,
}

#[derive(Debug, Deserialize)]
struct VercelError {
    #[serde(default)]
    code: Option<String>,
    #[serde(default)]
    message: Option<String>,
    #[serde(default, rename = "invalidToken")]
    invalid_token: Option<bool>,
    #[serde(default)]
    limit: Option<Limit>,
}

#[derive(Debug, Deserialize)]
struct Limit {
    /// Epoch seconds when the limit resets.
    #[serde(default)]
    reset: Option<i64>,
}

fn parse(response: &HttpResponse) -> Option<VercelError> {
    serde_json::from_slice::<Envelope>(&response.body)
        .ok()
        .map(|e| e.error)
}

/// Paths whose 403 can only mean the token itself is not accepted: every valid account or
/// team token may read its own user.
const IDENTITY_PATH: &str = "/v2/user";

/// Whether a 403 means "bad token" rather than "valid token, missing permission".
fn is_token_rejection(response: &HttpResponse, body: Option<&VercelError>) -> bool {
    let Some(b) = body else {
        // No Vercel body at all (a proxy?): only the identity call is unambiguous.
        return response.path == IDENTITY_PATH;
    };
    if b.invalid_token == Some(true) {
        return true;
    }
    let not_authorized = b
        .message
        .as_deref()
        .is_some_and(|m| m.trim().eq_ignore_ascii_case("not authorized"));
    not_authorized || response.path == IDENTITY_PATH
}

/// Vendor-specific classification for Vercel.
#[derive(Debug, Clone, Copy, Default)]
pub struct VercelErrors;

impl VendorErrors for VercelErrors {
    fn classify(&self, response: &HttpResponse, default: Error) -> Error {
        let body = parse(response);
        match default.kind() {
            FailureKind::PermissionDenied if is_token_rejection(response, body.as_ref()) => {
                let said = body
                    .as_ref()
                    .and_then(|b| b.message.clone())
                    .map(|m| format!(": {m}"))
                    .unwrap_or_default();
                Error::new(
                    FailureKind::InvalidCredentials,
                    format!(
                        "Vercel rejected the token (HTTP 403{said}). Check that it is valid and not expired, and that it is scoped to your account or team: project-scoped tokens cannot be used. Create one under Account Settings → Tokens."
                    ),
                )
                .with_http_status(403)
            }
            FailureKind::PermissionDenied => default.with_hint(
                "The token is valid but its role on the team does not allow this (billing needs Owner, Member, Developer, Security, Billing or Enterprise Viewer).",
            ),
            FailureKind::InvalidCredentials => default.with_hint(
                "Create a new token under Account Settings → Tokens and update `token`.",
            ),
            FailureKind::RateLimited if default.retry_after().is_none() => {
                let reset = body.as_ref().and_then(|b| b.limit.as_ref()?.reset);
                match reset {
                    Some(epoch) => {
                        let now = chrono::Utc::now().timestamp();
                        let wait = u64::try_from(epoch.saturating_sub(now)).unwrap_or(0);
                        default
                            .with_retry_after(Some(Duration::from_secs(wait.max(1))))
                            .with_hint(format!("Vercel's limit resets in {}s.", wait.max(1)))
                    }
                    None => default,
                }
            }
            FailureKind::NotFound => {
                let code = body.as_ref().and_then(|b| b.code.clone());
                if code.as_deref() == Some("not_found") {
                    default.with_hint("Check team_id (Team Settings → General shows it).")
                } else {
                    default
                }
            }
            _ => default,
        }
    }
}
