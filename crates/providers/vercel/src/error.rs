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

use opsdeck_core::FailureKind;
use opsdeck_core::http::{
    HttpResponse, RequestCtx, VendorError, VendorErrors, Verdict, wait_from_secs_f64,
};
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

/// Paths whose 403 can only mean the token itself is not accepted: every valid account or
/// team token may read its own user.
const IDENTITY_PATH: &str = "/v2/user";

/// Whether a 403 means "bad token" rather than "valid token, missing permission".
fn is_token_rejection(ctx: &RequestCtx<'_>, error: &VendorError) -> bool {
    if error.extra("vercel_body").is_none() {
        // No Vercel body at all (a proxy?): only the identity call is unambiguous.
        return ctx.relative_path == IDENTITY_PATH;
    }
    error.extra("invalid_token") == Some("true")
        || error
            .message
            .as_deref()
            .is_some_and(|m| m.trim().eq_ignore_ascii_case("not authorized"))
        || ctx.relative_path == IDENTITY_PATH
}

/// Vendor-specific classification for Vercel.
#[derive(Debug, Clone, Copy, Default)]
pub struct VercelErrors;

impl VendorErrors for VercelErrors {
    fn parse(&self, response: &HttpResponse) -> VendorError {
        let Ok(Envelope { error }) = serde_json::from_slice::<Envelope>(&response.body) else {
            return VendorError::common(response);
        };
        let reset_in = error.limit.and_then(|l| l.reset).and_then(|epoch| {
            let secs = epoch.saturating_sub(chrono::Utc::now().timestamp()).max(1);
            // i64 → f64 loses nothing that matters here: the wait is clamped to a day.
            #[allow(clippy::cast_precision_loss)]
            wait_from_secs_f64(secs as f64)
        });
        let mut v = VendorError::new()
            .with_code(error.code)
            .with_message(error.message)
            .with_retry_after(reset_in)
            .with_extra("vercel_body", "true");
        if error.invalid_token == Some(true) {
            v = v.with_extra("invalid_token", "true");
        }
        v
    }

    fn classify(
        &self,
        ctx: &RequestCtx<'_>,
        _: &HttpResponse,
        error: &VendorError,
        default: Verdict,
    ) -> Verdict {
        match default.kind {
            FailureKind::PermissionDenied if is_token_rejection(ctx, error) => default
                .with_kind(FailureKind::InvalidCredentials)
                .with_summary("Vercel rejected the token")
                .with_hint("Check that it is valid and not expired, and that it is scoped to your account or team: project-scoped tokens cannot be used. Create one under Account Settings → Tokens."),
            FailureKind::PermissionDenied => default.with_hint(
                "The token is valid but its role on the team does not allow this (billing needs Owner, Member, Developer, Security, Billing or Enterprise Viewer).",
            ),
            FailureKind::InvalidCredentials => default.with_hint(
                "Create a new token under Account Settings → Tokens and update `token`.",
            ),
            FailureKind::NotFound if error.code_is("not_found") => {
                default.with_hint("Check team_id (Team Settings → General shows it).")
            }
            _ => default,
        }
    }
}
