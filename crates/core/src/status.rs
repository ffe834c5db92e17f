//! The status model every connection test produces: `Status`, the typed `FailureKind`, and the
//! `ConnectionReport` that the CLI prints, the server stores and the dashboard shows.
//!
//! The JSON field names and enum spellings here are a user-facing contract (design.md,
//! "Status model"): add fields, never rename or remove them.

use std::collections::BTreeMap;
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::error::Error;

/// Outcome of a connection test.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// The provider answered and accepted the credentials.
    Connected,
    /// The check decided the connection does not work.
    Failed,
    /// Never tested, disabled, or the check could not decide (e.g. rate limited before the
    /// vendor judged the credentials).
    Unknown,
}

impl Status {
    /// Stable lowercase name, as in the JSON output.
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Connected => "connected",
            Status::Failed => "failed",
            Status::Unknown => "unknown",
        }
    }
}

impl std::fmt::Display for Status {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why a check did not end in [`Status::Connected`]. Also the kind of every [`Error`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum FailureKind {
    /// The vendor rejected the token/key (HTTP 401 or the vendor's equivalent).
    InvalidCredentials,
    /// The credentials are valid but lack a scope, role or permission.
    PermissionDenied,
    /// The configured resource (org, project, site, board, …) does not exist or is hidden.
    NotFound,
    /// The vendor throttled us; see `retry_after_secs` / `rate_limit` in the report details.
    RateLimited,
    /// No answer within the deadline.
    Timeout,
    /// Could not connect: DNS failure, refused connection, TLS failure.
    Unreachable,
    /// The vendor answered with a server error (5xx, overloaded).
    ProviderError,
    /// The vendor answered something we cannot interpret (malformed JSON, unexpected shape).
    InvalidResponse,
    /// The configuration is wrong (missing field, bad URL, a configured value the vendor says is
    /// wrong).
    InvalidConfig,
    /// The vendor refused the request itself (HTTP 400/422 that is not a configuration problem
    /// opsdeck can name): the request, or the account's state, is not acceptable to the vendor.
    Rejected,
}

impl FailureKind {
    /// Every kind, in declaration order (used by docs and conformance tests).
    pub const ALL: [FailureKind; 10] = [
        FailureKind::InvalidCredentials,
        FailureKind::PermissionDenied,
        FailureKind::NotFound,
        FailureKind::RateLimited,
        FailureKind::Timeout,
        FailureKind::Unreachable,
        FailureKind::ProviderError,
        FailureKind::InvalidResponse,
        FailureKind::InvalidConfig,
        FailureKind::Rejected,
    ];

    /// The status a check ending in this failure gets.
    ///
    /// Only a rate limit is `unknown`: the vendor refused to judge the credentials at all.
    /// Everything else means the connection, as configured, does not work right now.
    pub fn status(self) -> Status {
        match self {
            FailureKind::RateLimited => Status::Unknown,
            _ => Status::Failed,
        }
    }

    /// Whether repeating the same request later may succeed without a config change.
    pub fn is_temporary(self) -> bool {
        matches!(
            self,
            FailureKind::RateLimited
                | FailureKind::Timeout
                | FailureKind::Unreachable
                | FailureKind::ProviderError
        )
    }

    /// Stable snake_case name, as in the JSON output.
    pub fn as_str(self) -> &'static str {
        match self {
            FailureKind::InvalidCredentials => "invalid_credentials",
            FailureKind::PermissionDenied => "permission_denied",
            FailureKind::NotFound => "not_found",
            FailureKind::RateLimited => "rate_limited",
            FailureKind::Timeout => "timeout",
            FailureKind::Unreachable => "unreachable",
            FailureKind::ProviderError => "provider_error",
            FailureKind::InvalidResponse => "invalid_response",
            FailureKind::InvalidConfig => "invalid_config",
            FailureKind::Rejected => "rejected",
        }
    }
}

impl std::fmt::Display for FailureKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Rate-limit headroom as the vendor reported it on the last response.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct RateLimitInfo {
    /// Requests allowed in the current window.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub limit: Option<u64>,
    /// Requests left in the current window.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub remaining: Option<u64>,
    /// When the window resets.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reset_at: Option<DateTime<Utc>>,
    /// Which bucket the numbers describe (e.g. GitHub's `core` or `search`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub resource: Option<String>,
}

impl RateLimitInfo {
    /// Headroom of the bucket named `resource` (`None` when the vendor names none); fill the
    /// other fields as the vendor reports them.
    pub fn new(resource: Option<String>) -> Self {
        RateLimitInfo {
            resource,
            ..RateLimitInfo::default()
        }
    }

    /// True when no field is known.
    pub fn is_empty(&self) -> bool {
        self.limit.is_none()
            && self.remaining.is_none()
            && self.reset_at.is_none()
            && self.resource.is_none()
    }
}

/// A secondary check made during a connection test (e.g. "can this key read usage?").
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct SubCheck {
    /// Short stable name, e.g. `usage_api`.
    pub name: String,
    /// Outcome of this sub-check.
    pub status: Status,
    /// Failure kind when it did not pass.
    pub failure: Option<FailureKind>,
    /// What it means for the user.
    pub message: String,
    /// What to do about it, when it did not pass and there is something to do.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hint: Option<String>,
}

impl SubCheck {
    /// A passing sub-check.
    pub fn passed(name: impl Into<String>, message: impl Into<String>) -> Self {
        SubCheck {
            name: name.into(),
            status: Status::Connected,
            failure: None,
            message: message.into(),
            hint: None,
        }
    }

    /// A sub-check that ended in `error`.
    pub fn failed(name: impl Into<String>, error: &Error) -> Self {
        SubCheck {
            name: name.into(),
            status: error.kind().status(),
            failure: Some(error.kind()),
            message: error.message().to_owned(),
            hint: error.hint().map(str::to_owned),
        }
    }

    /// A sub-check that was not run, with the reason.
    pub fn skipped(name: impl Into<String>, message: impl Into<String>) -> Self {
        SubCheck {
            name: name.into(),
            status: Status::Unknown,
            failure: None,
            message: message.into(),
            hint: None,
        }
    }
}

/// Extra facts a check learned. All optional; absent fields are omitted from JSON.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct ReportDetails {
    /// Scopes/permissions the vendor says the credentials carry.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scopes: Option<Vec<String>>,
    /// Rate-limit headroom from the last response.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rate_limit: Option<RateLimitInfo>,
    /// When the credentials expire, when the vendor says so.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token_expires_at: Option<DateTime<Utc>>,
    /// How long the vendor asked us to wait before retrying.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry_after_secs: Option<u64>,
    /// HTTP status of the response that decided the outcome, when there was one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub http_status: Option<u16>,
    /// Secondary checks (e.g. whether usage collection will work).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub checks: Vec<SubCheck>,
    /// Provider-specific facts (e.g. Stripe's live/test mode, the AWS account id).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub extra: BTreeMap<String, serde_json::Value>,
}

/// What a successful probe learned about the connection.
#[derive(Debug, Clone, Default)]
pub struct Connected {
    /// The account/login/org the credentials belong to.
    pub identity: Option<String>,
    /// Human summary, e.g. "Authenticated as octocat".
    pub message: String,
    /// Extra facts.
    pub details: ReportDetails,
}

impl Connected {
    /// A connected outcome with an identity and message.
    pub fn new(identity: impl Into<Option<String>>, message: impl Into<String>) -> Self {
        Connected {
            identity: identity.into(),
            message: message.into(),
            details: ReportDetails::default(),
        }
    }

    /// Replace the details.
    pub fn with_details(mut self, details: ReportDetails) -> Self {
        self.details = details;
        self
    }
}

/// The result of one connection test.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct ConnectionReport {
    /// connected | failed | unknown
    pub status: Status,
    /// Typed reason whenever `status` is not connected; null when connected, never tested or
    /// disabled.
    pub failure: Option<FailureKind>,
    /// Wall time of the check.
    pub latency_ms: u64,
    /// What happened, as a sentence that reads well on its own.
    pub message: String,
    /// What to do about it, when there is something to do (omitted from JSON when absent).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hint: Option<String>,
    /// The account/login/org the credentials belong to, when known.
    pub identity: Option<String>,
    /// When the check finished (RFC 3339).
    pub checked_at: DateTime<Utc>,
    /// Extra facts (scopes, rate limit, expiry, sub-checks).
    #[serde(default)]
    pub details: ReportDetails,
}

impl ConnectionReport {
    /// Report for a successful probe.
    pub fn connected(outcome: Connected, latency: Duration) -> Self {
        ConnectionReport {
            status: Status::Connected,
            failure: None,
            latency_ms: millis(latency),
            message: outcome.message,
            hint: None,
            identity: outcome.identity,
            checked_at: Utc::now(),
            details: outcome.details,
        }
    }

    /// Report for a failed probe; the status follows from the error kind.
    pub fn from_error(error: &Error, latency: Duration) -> Self {
        let mut details = error.details().clone();
        if details.http_status.is_none() {
            details.http_status = error.http_status();
        }
        if details.retry_after_secs.is_none() {
            details.retry_after_secs = error.retry_after().map(|d| d.as_secs().max(1));
        }
        ConnectionReport {
            status: error.kind().status(),
            failure: Some(error.kind()),
            latency_ms: millis(latency),
            message: error.message().to_owned(),
            hint: error.hint().map(str::to_owned),
            identity: None,
            checked_at: Utc::now(),
            details,
        }
    }

    /// Report for a service that is disabled in its configuration.
    pub fn disabled() -> Self {
        ConnectionReport {
            status: Status::Unknown,
            failure: None,
            latency_ms: 0,
            message: "Disabled in the configuration (enabled = false); not tested.".into(),
            hint: None,
            identity: None,
            checked_at: Utc::now(),
            details: ReportDetails::default(),
        }
    }

    /// Build a report from a probe outcome.
    pub fn from_outcome(outcome: Result<Connected, Error>, latency: Duration) -> Self {
        match outcome {
            Ok(ok) => Self::connected(ok, latency),
            Err(err) => Self::from_error(&err, latency),
        }
    }
}

fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_rate_limits_are_unknown() {
        for kind in FailureKind::ALL {
            let expected = if kind == FailureKind::RateLimited {
                Status::Unknown
            } else {
                Status::Failed
            };
            assert_eq!(kind.status(), expected, "{kind}");
        }
    }

    #[test]
    fn kinds_serialize_as_their_names() {
        for kind in FailureKind::ALL {
            let json = serde_json::to_value(kind).unwrap_or_default();
            assert_eq!(json, serde_json::Value::String(kind.as_str().into()));
        }
    }
}
