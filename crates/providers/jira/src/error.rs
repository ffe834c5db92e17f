//! Jira's error bodies and what its status codes mean, on top of the shared classification.
//!
//! Jira answers errors in several shapes, so nothing here requires JSON:
//! - `{"errorMessages": [..], "errors": {field: message}}` — the platform and Agile APIs
//!   (OpenAPI schema `ErrorCollection`); Agile often leaves `errorMessages` empty and puts the
//!   text under `errors.rapidViewId`.
//! - `{"code": 401, "message": "Unauthorized; scope does not match"}` — the api.atlassian.com
//!   gateway when a scoped token lacks the scope for the call.
//! - plain text `Client must be authenticated to access this resource.` (401 on the site), or
//!   an HTML page from a proxy.
//!
//! Status meanings (Jira Cloud REST docs and the Agile OpenAPI description): 401 = bad,
//! expired or wrong-kind token; 403 on Agile = "user does not have a valid license"; 404 =
//! "does not exist or you do not have permission to see it" (Jira does not tell the two apart);
//! 400 = invalid JQL, including a project key the account cannot see ("The value 'X' does not
//! exist for the field 'project'.") and a Kanban board asked for sprints ("The board does not
//! support sprints").

use opsdeck_core::FailureKind;
use opsdeck_core::http::{HttpResponse, RequestCtx, VendorError, VendorErrors, Verdict};

/// Vendor-specific classification for Jira Cloud.
#[derive(Debug, Clone, Copy, Default)]
pub struct JiraErrors {
    /// Requests go through the api.atlassian.com gateway (scoped token).
    pub gateway: bool,
}

/// Collect the human messages from a Jira `ErrorCollection` (both lists), if the body is one.
fn error_collection(body: &serde_json::Value) -> Option<String> {
    let mut parts: Vec<String> = Vec::new();
    if let Some(list) = body.get("errorMessages").and_then(|v| v.as_array()) {
        parts.extend(
            list.iter()
                .filter_map(|m| m.as_str())
                .map(str::trim)
                .filter(|m| !m.is_empty())
                .map(str::to_owned),
        );
    }
    if let Some(map) = body.get("errors").and_then(|v| v.as_object()) {
        parts.extend(
            map.iter()
                .filter_map(|(field, m)| m.as_str().map(|m| (field, m.trim())))
                .filter(|(_, m)| !m.is_empty())
                .map(|(field, m)| format!("{field}: {m}")),
        );
    }
    (!parts.is_empty()).then(|| parts.join("; "))
}

impl VendorErrors for JiraErrors {
    /// An `ErrorCollection`, the gateway's `{"code", "message"}`, or plain text.
    fn parse(&self, response: &HttpResponse) -> VendorError {
        if let Ok(v) = serde_json::from_slice::<serde_json::Value>(&response.body)
            && let Some(m) = error_collection(&v)
        {
            return VendorError::new().with_message(Some(m));
        }
        VendorError::common(response)
    }

    fn classify(
        &self,
        ctx: &RequestCtx<'_>,
        response: &HttpResponse,
        error: &VendorError,
        default: Verdict,
    ) -> Verdict {
        let agile = ctx.relative_path.starts_with("/rest/agile/");
        match response.status.as_u16() {
            401 if error.message_contains("scope does not match") => default
                .with_kind(FailureKind::PermissionDenied)
                .with_summary("The Atlassian API gateway accepted the scoped API token but it lacks a scope this call needs")
                .with_hint("Grant read:jira-user (connection test), read:jira-work (issue counts) and read:sprint:jira-software (sprints), or the granular read:user:jira, read:issue-details:jira, read:jql:jira."),
            401 if self.gateway => default.with_hint(
                "Check email and api_token, that the token has not expired, and that cloud_id is this site's cloud id (https://<site>.atlassian.net/_edge/tenant_info).",
            ),
            401 => default.with_hint(
                "Check email and api_token; API tokens expire (at most one year after creation). A scoped API token or a service-account token is rejected on the site address: set cloud_id so opsdeck uses the Atlassian API gateway.",
            ),
            403 if response.header("x-authentication-denied-reason").is_some() => default
                .with_kind(FailureKind::InvalidCredentials)
                .with_summary("Jira refused the login and asks for a CAPTCHA after repeated failed logins")
                .with_hint("Sign in once in a browser, then check email and api_token."),
            403 if agile => default.with_hint(
                "The Jira Software (Agile) API answers 403 when the account has no Jira Software licence.",
            ),
            404 if agile => default.with_hint(
                "Jira says this both when the board does not exist and when the account may not see it: check board_id and the board's filter permissions.",
            ),
            404 => default.with_hint(
                "Check that base_url is your Jira Cloud site (https://<site>.atlassian.net); Jira also answers 404 when the account may not see a resource.",
            ),
            400 if error.message_contains("does not exist for the field 'project'") => default
                .with_kind(FailureKind::NotFound)
                .with_summary("Jira rejected the query")
                .with_hint("A key in `projects` does not exist or the account lacks the Browse projects permission on it."),
            400 if error.message_contains("does not support sprints") => default
                .with_kind(FailureKind::InvalidConfig)
                .with_summary("board_id points at a Kanban board, which has no sprints")
                .with_hint("Use a Scrum board's id or remove board_id."),
            429 => match response.header("ratelimit-reason") {
                Some(reason) => default.with_hint(format!(
                    "Jira's reason: {reason}. API-token traffic is subject to Jira's burst limits; fewer projects or a longer interval help."
                )),
                None => default,
            },
            _ => default,
        }
    }
}
