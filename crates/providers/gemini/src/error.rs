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

use opsdeck_core::http::{HttpResponse, VendorErrors, default_vendor_message};
use opsdeck_core::{Error, FailureKind};
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

    /// `google.rpc.RetryInfo.retryDelay`, parsed.
    pub(crate) fn retry_delay(&self) -> Option<Duration> {
        self.details_of("google.rpc.RetryInfo")
            .filter_map(|d| d.get("retryDelay").and_then(Value::as_str))
            .find_map(parse_duration)
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

/// Parse a protobuf `Duration` in its JSON form: decimal seconds with an `s` suffix.
pub(crate) fn parse_duration(raw: &str) -> Option<Duration> {
    let secs: f64 = raw.trim().strip_suffix('s')?.trim().parse().ok()?;
    (secs.is_finite() && secs >= 0.0).then(|| Duration::from_secs_f64(secs))
}

/// ErrorInfo reasons that mean the key itself is wrong.
const BAD_KEY_REASONS: &[&str] = &["API_KEY_INVALID", "API_KEY_EXPIRED"];

/// Vendor-specific classification for Gemini.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct GeminiErrors;

impl VendorErrors for GeminiErrors {
    fn vendor_message(&self, response: &HttpResponse) -> Option<String> {
        match Status::from_response(response) {
            Some(s) => {
                let msg = s.message.as_deref().map(str::trim).unwrap_or_default();
                match (s.status.as_deref(), msg.is_empty()) {
                    (Some(code), false) => Some(format!("{code}: {msg}")),
                    (None, false) => Some(msg.to_owned()),
                    (Some(code), true) => Some(code.to_owned()),
                    (None, true) => None,
                }
            }
            None => default_vendor_message(response),
        }
    }

    fn classify(&self, response: &HttpResponse, default: Error) -> Error {
        let Some(status) = Status::from_response(response) else {
            return default;
        };
        let reasons = status.reasons();
        let has = |r: &str| reasons.contains(&r);
        let code = status.status.as_deref().unwrap_or_default();
        if BAD_KEY_REASONS.iter().any(|r| has(r))
            || (response.status.as_u16() == 400
                && status
                    .message
                    .as_deref()
                    .is_some_and(|m| m.contains("API key not valid")))
        {
            let why = if has("API_KEY_EXPIRED") {
                "the API key has expired"
            } else {
                "the API key is not valid"
            };
            let said = self
                .vendor_message(response)
                .map(|m| format!(": {m}"))
                .unwrap_or_default();
            let code = response.status.as_u16();
            // Replace the generic "invalid request" wording: this is a credentials verdict.
            return default
                .with_kind(FailureKind::InvalidCredentials)
                .with_message(format!(
                    "Gemini rejected the credentials: {why} (HTTP {code}{said}; Gemini answers a bad key with 400, not 401). Create or copy a key in Google AI Studio (aistudio.google.com → Get API key) and set api_key."
                ));
        }
        match (response.status.as_u16(), code) {
            (400, "FAILED_PRECONDITION") => {
                let said = self.vendor_message(response).unwrap_or_default();
                default.with_kind(FailureKind::PermissionDenied).with_message(format!(
                    "Gemini refused the request for this project (HTTP 400 {said}). The free tier is not available in every region: enable billing for the key's project in Google AI Studio."
                ))
            }
            (403, _) => {
                let hint = if has("SERVICE_DISABLED") {
                    "The Generative Language API is disabled in the key's Google Cloud project: enable it (APIs & Services → Generative Language API) or use a key from AI Studio."
                } else if reasons
                    .iter()
                    .any(|r| r.starts_with("API_KEY_") && r.ends_with("_BLOCKED"))
                {
                    "The key's API restrictions do not allow the Generative Language API (or this client): allow generativelanguage.googleapis.com in the key's restrictions."
                } else {
                    "Check that the key belongs to a project with the Generative Language API enabled and that its restrictions allow it."
                };
                default.with_hint(hint)
            }
            (429, _) => {
                let mut err = default;
                if err.retry_after().is_none()
                    && let Some(delay) = status.retry_delay()
                {
                    let secs = delay.as_secs().max(1);
                    err = err
                        .with_retry_after(Some(delay))
                        .with_hint(format!("Google asks to retry after {secs}s (RetryInfo)."));
                }
                let quotas = status.quota_ids();
                if !quotas.is_empty() {
                    let daily = quotas.iter().any(|q| q.contains("PerDay"));
                    err = err.with_hint(format!(
                        "Exhausted quota: {}.{}",
                        quotas.join(", "),
                        if daily {
                            " A per-day quota resets at midnight Pacific time; higher limits need billing on the project."
                        } else {
                            ""
                        }
                    ));
                }
                err
            }
            _ => default,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn protobuf_durations_parse() {
        assert_eq!(parse_duration("30s"), Some(Duration::from_secs(30)));
        assert_eq!(parse_duration("1.5s"), Some(Duration::from_millis(1500)));
        assert_eq!(parse_duration("0.250s"), Some(Duration::from_millis(250)));
        assert_eq!(parse_duration("30"), None);
        assert_eq!(parse_duration("-1s"), None);
        assert_eq!(parse_duration("soon"), None);
    }
}
