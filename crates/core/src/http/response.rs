//! [`HttpResponse`]: one complete vendor answer (status, headers, body capped at `max_body`) and
//! the ways providers read it — JSON with an operator-grade error, text, HTML detection.

use std::fmt;
use std::time::Duration;

use bytes::Bytes;
use http::{HeaderMap, StatusCode};
use serde::de::DeserializeOwned;

use super::headers::{parse_rate_limit, parse_retry_after};
use super::redact::Redactor;
use crate::error::{Error, Result};
use crate::status::RateLimitInfo;

/// A complete HTTP response: status, headers and the whole body.
#[derive(Clone)]
pub struct HttpResponse {
    /// Status code.
    pub status: StatusCode,
    /// Response headers.
    pub headers: HeaderMap,
    /// Body bytes.
    pub body: Bytes,
    /// Request path (no query), for messages.
    pub path: String,
    provider: &'static str,
    redactor: Redactor,
}

impl fmt::Debug for HttpResponse {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Bodies and headers may echo credentials; show only the shape.
        f.debug_struct("HttpResponse")
            .field("status", &self.status)
            .field("path", &self.path)
            .field("body_len", &self.body.len())
            .finish_non_exhaustive()
    }
}

impl HttpResponse {
    /// A response assembled by a custom transport (see [`execute`](super::execute)).
    pub fn new(
        status: StatusCode,
        headers: HeaderMap,
        body: Bytes,
        path: impl Into<String>,
    ) -> Self {
        HttpResponse {
            status,
            headers,
            body,
            path: path.into(),
            provider: "the provider",
            redactor: Redactor::default(),
        }
    }

    /// Name the vendor that answered and the secrets to keep out of messages built from it.
    pub(crate) fn attribute(&mut self, provider: &'static str, redactor: &Redactor) {
        self.provider = provider;
        self.redactor = redactor.clone();
    }

    /// The display name of the provider that answered.
    pub fn provider(&self) -> &'static str {
        self.provider
    }

    /// A header as text.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// Whether the body looks like an HTML page (a proxy, CDN or login page, not the API).
    pub fn is_html(&self) -> bool {
        let ct = self.header("content-type").unwrap_or_default();
        if ct.contains("text/html") {
            return true;
        }
        let head = &self.body[..self.body.len().min(256)];
        let text = String::from_utf8_lossy(head).to_ascii_lowercase();
        let text = text.trim_start();
        text.starts_with("<!doctype html") || text.starts_with("<html")
    }

    /// Parse the body as JSON, or fail with `invalid_response` saying what was wrong.
    pub fn json<T: DeserializeOwned>(&self) -> Result<T> {
        serde_json::from_slice(&self.body).map_err(|e| {
            let what = if self.body.is_empty() {
                "an empty body".to_owned()
            } else if self.is_html() {
                "an HTML page".to_owned()
            } else {
                format!("a body that does not match the expected format ({e})")
            };
            Error::invalid_response(self.redactor.scrub(&format!(
                "{} answered HTTP {} for {} with {what}.",
                self.provider,
                self.status.as_u16(),
                self.path
            )))
            .with_hint(
                "The API may have changed, or base_url may point at something other than the API.",
            )
            .with_http_status(self.status.as_u16())
        })
    }

    /// The body as (lossy) text.
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// Rate-limit headroom parsed from the standard headers (`x-ratelimit-*`, `ratelimit-*`).
    pub fn rate_limit(&self) -> Option<RateLimitInfo> {
        parse_rate_limit(&self.headers)
    }

    /// `Retry-After`, as seconds or an HTTP date (clamped, see
    /// [`MAX_WAIT`](super::headers::MAX_WAIT)).
    pub fn retry_after(&self) -> Option<Duration> {
        parse_retry_after(&self.headers)
    }

    /// Remove known secrets from vendor text.
    pub fn scrub(&self, text: &str) -> String {
        self.redactor.scrub(text)
    }
}
