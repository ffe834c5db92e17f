//! Gemini error mapping on top of the shared HTTP policy.
//!
//! Google APIs answer errors with a `google.rpc.Status` in JSON:
//! `{"error":{"code":400,"message":"…","status":"INVALID_ARGUMENT","details":[{"@type":"type.googleapis.com/google.rpc.ErrorInfo","reason":"API_KEY_INVALID",…}]}}`.
//! The Gemini troubleshooting guide (https://ai.google.dev/gemini-api/docs/troubleshooting)
//! lists 400 INVALID_ARGUMENT, 400 FAILED_PRECONDITION ("free tier is not available in your
//! country … enable billing"), 403 PERMISSION_DENIED ("Your API key doesn't have the required
//! permissions"), 404 NOT_FOUND, 429 RESOURCE_EXHAUSTED, 500 INTERNAL, 503 UNAVAILABLE,
//! 504 DEADLINE_EXCEEDED.
//!
//! What differs from the shared defaults:
//! - a bad key is **HTTP 400** with `ErrorInfo.reason = API_KEY_INVALID` (not 401), so 400 is
//!   classified by the reason, never by the status alone;
//! - 400 FAILED_PRECONDITION is a region/billing restriction → permission_denied;
//! - 429 carries its wait in the body (`google.rpc.RetryInfo.retryDelay`, a protobuf Duration
//!   such as `"30s"` or `"1.5s"`) and the exhausted quota in `google.rpc.QuotaFailure`; Gemini
//!   sends no rate-limit headers. A `Retry-After` header, when present, still wins.

use std::time::Duration;

use opsdeck_core::FailureKind;
use opsdeck_core::http::{
    HttpResponse, RequestCtx, VendorError, VendorErrors, Verdict, parse_protobuf_duration,
};
use serde::Deserialize;
use serde_json::Value;

#[derive(Debug, Deserialize)]
struct Envelope {
    error: Status,
}

/// `google.rpc.Status` as JSON.
#[derive(Debug, Default, Deserialize)]
pub(crate) struct Status {
    #[serde(default)]
    pub message: Option<String>,
    #[serde(default)]
    pub status: Option<String>,
    #[serde(default)]
    pub details: Vec<Value>,
}

impl Status {
    /// Parse the error body, if it is a Google error.
    pub(crate) fn from_response(response: &HttpResponse) -> Option<Status> {
        serde_json::from_slice::<Envelope>(&response.body)
            .ok()
            .map(|e| e.error)
    }

    fn details_of<'a>(&'a self, type_suffix: &'a str) -> impl Iterator<Item = &'a Value> + 'a {
        self.details.iter().filter(move |d| {
            d.get("@type")
                .and_then(Value::as_str)
                .is_some_and(|t| t.ends_with(type_suffix))
        })
    }

    /// `google.rpc.ErrorInfo.reason` values.
    pub(crate) fn reasons(&self) -> Vec<&str> {
        self.details_of("google.rpc.ErrorInfo")
            .filter_map(|d| d.get("reason").and_then(Value::as_str))
            .collect()
    }

    /// `google.rpc.RetryInfo.retryDelay`, parsed (and clamped).
    pub(crate) fn retry_delay(&self) -> Option<Duration> {
        self.details_of("google.rpc.RetryInfo")
            .filter_map(|d| d.get("retryDelay").and_then(Value::as_str))
            .find_map(parse_protobuf_duration)
    }

    /// `quotaId`s of `google.rpc.QuotaFailure` violations.
    pub(crate) fn quota_ids(&self) -> Vec<String> {
        self.details_of("google.rpc.QuotaFailure")
            .filter_map(|d| d.get("violations").and_then(Value::as_array))
            .flatten()
            .filter_map(|v| {
                v.get("quotaId")
                    .or_else(|| v.get("quotaMetric"))
                    .or_else(|| v.get("subject"))
                    .and_then(Value::as_str)
                    .map(str::to_owned)
            })
            .collect()
    }
}

/// ErrorInfo reasons that mean the key itself is wrong.
const BAD_KEY_REASONS: &[&str] = &["API_KEY_INVALID", "API_KEY_EXPIRED"];

/// Vendor-specific classification for Gemini.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct GeminiErrors;

impl VendorErrors for GeminiErrors {
    /// A `google.rpc.Status`: the status name as the code, "STATUS: message" as the message,
    /// `ErrorInfo` reasons, the `RetryInfo` wait, and `QuotaFailure` ids (as `quota_ids`).
    fn parse(&self, response: &HttpResponse) -> VendorError {
        let Some(status) = Status::from_response(response) else {
            return VendorError::common(response);
        };
        let msg = status.message.as_deref().map(str::trim).unwrap_or_default();
        let message = match (status.status.as_deref(), msg.is_empty()) {
            (Some(code), false) => Some(format!("{code}: {msg}")),
            (None, false) => Some(msg.to_owned()),
            (Some(code), true) => Some(code.to_owned()),
            (None, true) => None,
        };
        let mut v = VendorError::new()
            .with_code(status.status.clone())
            .with_message(message)
            .with_retry_after(status.retry_delay());
        for r in status.reasons() {
            v = v.with_reason(r);
        }
        let quotas = status.quota_ids();
        if !quotas.is_empty() {
            v = v.with_extra("quota_ids", quotas.join(", "));
        }
        if msg.contains("API key not valid") {
            v = v.with_extra("key_not_valid", "true");
        }
        v
    }

    fn classify(
        &self,
        _: &RequestCtx<'_>,
        response: &HttpResponse,
        error: &VendorError,
        default: Verdict,
    ) -> Verdict {
        let http = response.status.as_u16();
        let bad_key = BAD_KEY_REASONS.iter().any(|r| error.has_reason(r))
            || (http == 400 && error.extra("key_not_valid").is_some());
        if bad_key {
            let why = if error.has_reason("API_KEY_EXPIRED") {
                "the API key has expired"
            } else {
                "the API key is not valid"
            };
            return default
                .with_kind(FailureKind::InvalidCredentials)
                .with_summary(format!(
                    "Gemini rejected the credentials: {why} (Gemini answers a bad key with HTTP {http}, not 401)"
                ))
                .with_hint("Create or copy a key in Google AI Studio (aistudio.google.com → Get API key) and set api_key.");
        }
        match http {
            400 if error.code_is("FAILED_PRECONDITION") => default
                .with_kind(FailureKind::PermissionDenied)
                .with_summary("Gemini refused the request for this project")
                .with_hint("The free tier is not available in every region: enable billing for the key's project in Google AI Studio."),
            403 => default.with_hint(if error.has_reason("SERVICE_DISABLED") {
                "The Generative Language API is disabled in the key's Google Cloud project: enable it (APIs & Services → Generative Language API) or use a key from AI Studio."
            } else if error
                .reasons
                .iter()
                .any(|r| r.starts_with("API_KEY_") && r.ends_with("_BLOCKED"))
            {
                "The key's API restrictions do not allow the Generative Language API (or this client): allow generativelanguage.googleapis.com in the key's restrictions."
            } else {
                "Check that the key belongs to a project with the Generative Language API enabled and that its restrictions allow it."
            }),
            429 => match error.extra("quota_ids") {
                Some(quotas) => {
                    let v = default.with_summary(format!(
                        "Gemini's quota is exhausted ({quotas})"
                    ));
                    if quotas.contains("PerDay") {
                        v.with_hint("A per-day quota resets at midnight Pacific time; higher limits need billing on the project.")
                    } else {
                        v
                    }
                }
                None => default,
            },
            _ => default,
        }
    }
}
