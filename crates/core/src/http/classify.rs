//! Turning a failed exchange into an [`Error`]: the vendor's error body parsed once into a
//! [`VendorError`], the request it answered described by a [`RequestCtx`], a [`Verdict`] (kind,
//! whether a retry may help, what to do) from the default table and the vendor's rules, and one
//! formatter that writes the message the same way for every provider.
//!
//! Vendor rules match on the request's path *relative to the service's base URL*
//! ([`RequestCtx::relative_path`]), so a `base_url` behind a path-prefixed proxy
//! (`https://proxy.example.com/datadog`) classifies exactly like the vendor's own address, and
//! on the vendor's own error text — never on a message opsdeck wrote.

use std::collections::BTreeMap;
use std::time::Duration;

use http::StatusCode;

use super::redact::truncate;
use super::response::HttpResponse;
use crate::error::{Error, Result};
use crate::status::{FailureKind, RateLimitInfo};

/// Longest piece of vendor text repeated in a message.
const MAX_VENDOR_TEXT: usize = 300;

/// The request a response answers, as vendor rules see it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RequestCtx<'a> {
    /// What was asked: the HTTP method (`GET`), or the SDK operation (`sts:GetCallerIdentity`).
    pub operation: &'a str,
    /// The request path relative to the service's base URL, starting with `/` (no query).
    pub relative_path: &'a str,
}

impl<'a> RequestCtx<'a> {
    /// A context for `operation` on `relative_path`.
    pub fn new(operation: &'a str, relative_path: &'a str) -> Self {
        RequestCtx {
            operation,
            relative_path,
        }
    }
}

/// A vendor's error body, parsed once: a machine code, the human message, and the few other
/// facts vendors put in error bodies.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct VendorError {
    /// The vendor's machine-readable code (`invalid_api_key`, `RESOURCE_EXHAUSTED`,
    /// `AccessDeniedException`, …).
    pub code: Option<String>,
    /// The vendor's human message, as it wrote it.
    pub message: Option<String>,
    /// Further machine codes (Google `ErrorInfo` reasons, exhausted quota ids, …).
    pub reasons: Vec<String>,
    /// A wait the body asks for (Google `RetryInfo`, Vercel `limit.reset`), clamped.
    pub retry_after: Option<Duration>,
    /// Vendor-specific flags and ids (`invalid_token`, `trace_id`, …).
    pub extra: BTreeMap<String, String>,
}

impl VendorError {
    /// Nothing known.
    pub fn new() -> Self {
        Self::default()
    }

    /// Set the code (blank values are ignored).
    pub fn with_code(mut self, code: Option<impl Into<String>>) -> Self {
        self.code = code.map(Into::into).filter(|c| !c.trim().is_empty());
        self
    }

    /// Set the message (blank values are ignored; surrounding whitespace is trimmed).
    pub fn with_message(mut self, message: Option<impl Into<String>>) -> Self {
        self.message = message
            .map(Into::into)
            .map(|m| m.trim().to_owned())
            .filter(|m| !m.is_empty());
        self
    }

    /// Add a reason code.
    pub fn with_reason(mut self, reason: impl Into<String>) -> Self {
        self.reasons.push(reason.into());
        self
    }

    /// Set the wait the body asks for.
    pub fn with_retry_after(mut self, wait: Option<Duration>) -> Self {
        self.retry_after = wait;
        self
    }

    /// Add a vendor-specific fact.
    pub fn with_extra(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.extra.insert(key.into(), value.into());
        self
    }

    /// Whether the code is `code` (exactly).
    pub fn code_is(&self, code: &str) -> bool {
        self.code.as_deref() == Some(code)
    }

    /// Whether the vendor's message contains `needle`, ignoring ASCII case.
    pub fn message_contains(&self, needle: &str) -> bool {
        self.message.as_deref().is_some_and(|m| {
            m.to_ascii_lowercase()
                .contains(&needle.to_ascii_lowercase())
        })
    }

    /// Whether `reason` is among the reasons.
    pub fn has_reason(&self, reason: &str) -> bool {
        self.reasons.iter().any(|r| r == reason)
    }

    /// A vendor-specific fact.
    pub fn extra(&self, key: &str) -> Option<&str> {
        self.extra.get(key).map(String::as_str)
    }

    /// The common JSON error shapes (`error.message`, `message`, `errorMessages[0]`,
    /// `errors[0]`, `detail`, …, with `error.code`/`code`/`error.type` as the code), or a short
    /// plain-text body as the message. HTML pages yield nothing.
    pub fn common(response: &HttpResponse) -> VendorError {
        if response.body.is_empty() || response.is_html() {
            return VendorError::new();
        }
        if let Ok(v) = serde_json::from_slice::<serde_json::Value>(&response.body) {
            let message = [
                "/error/message",
                "/message",
                "/error_description",
                "/errorMessages/0",
                "/errors/0/message",
                "/errors/0",
                "/detail",
                "/title",
                "/error",
            ]
            .iter()
            .filter_map(|p| v.pointer(p))
            .find_map(|m| m.as_str().filter(|s| !s.trim().is_empty()))
            .map(str::to_owned);
            let code = ["/error/code", "/code", "/error/type", "/type"]
                .iter()
                .filter_map(|p| v.pointer(p))
                .find_map(|c| match c {
                    serde_json::Value::String(s) if !s.trim().is_empty() => Some(s.clone()),
                    serde_json::Value::Number(n) => Some(n.to_string()),
                    _ => None,
                });
            return VendorError::new().with_code(code).with_message(message);
        }
        let text = String::from_utf8_lossy(&response.body);
        let text = text.trim();
        let plain = !text.is_empty() && text.len() <= MAX_VENDOR_TEXT && !text.contains('<');
        VendorError::new().with_message(plain.then(|| text.to_owned()))
    }
}

/// What a failed response means: the kind, whether a retry may help, what happened (when the
/// default sentence for the kind does not fit) and what to do.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Verdict {
    /// The failure kind.
    pub kind: FailureKind,
    /// Whether a retry may help; `None` follows the kind.
    pub temporary: Option<bool>,
    /// What happened, without the final full stop (e.g. "GitHub's secondary rate limit was
    /// hit"); `None` uses the default sentence for the kind.
    pub summary: Option<String>,
    /// What to do; `None` uses the default advice for the kind.
    pub hint: Option<String>,
    /// A wait the vendor implies when it sends no `Retry-After` (e.g. a reset time).
    pub retry_after: Option<Duration>,
    /// Whether the vendor's own message is quoted in the message (default yes).
    pub quote_vendor: bool,
    /// Facts for the report's `details.extra` (e.g. the vendor's request id).
    pub extra: BTreeMap<String, serde_json::Value>,
}

impl Verdict {
    /// A verdict of `kind` with the default wording.
    pub fn new(kind: FailureKind) -> Self {
        Verdict {
            kind,
            temporary: None,
            summary: None,
            hint: None,
            retry_after: None,
            quote_vendor: true,
            extra: BTreeMap::new(),
        }
    }

    /// The default verdict for an HTTP status: 401 bad credentials, 403 permission, 404/410
    /// not found, 408 timeout, 429 rate limited, 400/422 rejected, 3xx unexpected redirect,
    /// anything else a provider error.
    pub fn for_status(status: StatusCode) -> Self {
        let kind = match status.as_u16() {
            401 => FailureKind::InvalidCredentials,
            403 => FailureKind::PermissionDenied,
            404 | 410 => FailureKind::NotFound,
            408 => FailureKind::Timeout,
            429 => FailureKind::RateLimited,
            400 | 422 => FailureKind::Rejected,
            300..=399 => FailureKind::InvalidResponse,
            _ => FailureKind::ProviderError,
        };
        Verdict::new(kind)
    }

    /// Change the kind (the default wording follows the new kind).
    pub fn with_kind(mut self, kind: FailureKind) -> Self {
        self.kind = kind;
        self
    }

    /// Say what happened instead of the default sentence (no final full stop).
    pub fn with_summary(mut self, summary: impl Into<String>) -> Self {
        self.summary = Some(summary.into());
        self
    }

    /// Say what to do instead of the default advice.
    pub fn with_hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }

    /// Override whether a retry may help.
    pub fn with_temporary(mut self, temporary: bool) -> Self {
        self.temporary = Some(temporary);
        self
    }

    /// The wait implied when the vendor sent no `Retry-After`.
    pub fn with_retry_after(mut self, wait: Option<Duration>) -> Self {
        self.retry_after = wait;
        self
    }

    /// Do not quote the vendor's message (the summary already says it).
    pub fn without_vendor_message(mut self) -> Self {
        self.quote_vendor = false;
        self
    }

    /// Add a fact to the report's `details.extra`.
    pub fn with_detail(
        mut self,
        key: impl Into<String>,
        value: impl Into<serde_json::Value>,
    ) -> Self {
        self.extra.insert(key.into(), value.into());
        self
    }
}

/// Vendor-specific parts of the policy. Every method has a default that fits most REST APIs.
pub trait VendorErrors: Send + Sync + 'static {
    /// Parse an error body once (default: the common JSON shapes, see [`VendorError::common`]).
    fn parse(&self, response: &HttpResponse) -> VendorError {
        VendorError::common(response)
    }

    /// Rate-limit headroom from the headers.
    fn rate_limit(&self, response: &HttpResponse) -> Option<RateLimitInfo> {
        response.rate_limit()
    }

    /// Decide what a non-2xx response means. `default` is the verdict for the status; return
    /// it unchanged when nothing vendor-specific applies. Match on `ctx.relative_path`, never
    /// on a full path.
    fn classify(
        &self,
        ctx: &RequestCtx<'_>,
        response: &HttpResponse,
        error: &VendorError,
        default: Verdict,
    ) -> Verdict {
        let _ = (ctx, response, error);
        default
    }

    /// Inspect a 2xx response for errors hidden in it (GraphQL `errors[]` with HTTP 200).
    fn check_success(&self, ctx: &RequestCtx<'_>, response: &HttpResponse) -> Result<()> {
        let _ = (ctx, response);
        Ok(())
    }
}

/// The defaults of [`VendorErrors`], for vendors with nothing special.
#[derive(Debug, Clone, Copy, Default)]
pub struct DefaultVendor;

impl VendorErrors for DefaultVendor {}

/// The vendor's human error message in the common shapes (see [`VendorError::common`]),
/// shortened to 300 bytes.
pub fn default_vendor_message(response: &HttpResponse) -> Option<String> {
    VendorError::common(response)
        .message
        .map(|m| truncate(&m, MAX_VENDOR_TEXT))
}

/// Classify a non-2xx response: parse the body once, apply the vendor's rules, format.
pub(crate) fn classify_response(
    vendor: &dyn VendorErrors,
    ctx: &RequestCtx<'_>,
    response: &HttpResponse,
) -> Error {
    let error = vendor.parse(response);
    let verdict = vendor.classify(ctx, response, &error, Verdict::for_status(response.status));
    failure(response, &error, verdict, vendor.rate_limit(response))
}

/// Write the error for `verdict` on `response`: "<what happened> (HTTP <status>: <vendor
/// text>).", the wait for rate limits, the hint apart, and the facts (status, `Retry-After`,
/// headroom). Vendor text is scrubbed of every known secret.
pub(crate) fn failure(
    response: &HttpResponse,
    error: &VendorError,
    verdict: Verdict,
    rate_limit: Option<RateLimitInfo>,
) -> Error {
    let status = response.status;
    let code = status.as_u16();
    let summary = verdict
        .summary
        .clone()
        .unwrap_or_else(|| default_summary(verdict.kind, response));
    let said = match error.message.as_deref().filter(|_| verdict.quote_vendor) {
        // Scrub before cutting: a secret cut in half would no longer be recognised.
        Some(m) => format!(
            ": {}",
            truncate(response.scrub(m.trim()).trim_end_matches('.'), MAX_VENDOR_TEXT)
        ),
        None if verdict.quote_vendor && response.is_html() => " with an HTML page instead of an API answer (a proxy, firewall or CDN such as Cloudflare may have intercepted the request)".to_owned(),
        None => String::new(),
    };
    let retry_after = response
        .retry_after()
        .or(verdict.retry_after)
        .or(error.retry_after);
    let mut message = format!("{summary} (HTTP {code}{said}).");
    if verdict.kind == FailureKind::RateLimited {
        if let Some(wait) = retry_after {
            message.push_str(&format!(" Retry after {}s.", wait.as_secs().max(1)));
        } else if let Some(at) = rate_limit.as_ref().and_then(|r| r.reset_at) {
            message.push_str(&format!(" The limit resets at {}.", at.to_rfc3339()));
        }
    }
    let hint = verdict
        .hint
        .clone()
        .or_else(|| default_hint(verdict.kind, status).map(str::to_owned));
    let mut err = Error::new(verdict.kind, response.scrub(&message))
        .with_hint_replaced(hint.map(|h| response.scrub(&h)))
        .with_http_status(code)
        .with_retry_after(retry_after)
        .with_rate_limit(rate_limit);
    if let Some(t) = verdict.temporary {
        err = err.with_temporary(t);
    }
    err.details_mut().extra.extend(verdict.extra);
    err
}

fn default_summary(kind: FailureKind, response: &HttpResponse) -> String {
    let p = response.provider();
    let status = response.status;
    match kind {
        FailureKind::InvalidCredentials => format!("{p} rejected the credentials"),
        FailureKind::PermissionDenied => format!(
            "{p} refused access: the credentials were accepted but lack a permission, scope or role this needs"
        ),
        FailureKind::NotFound => format!("{p} found nothing at {}", response.path),
        FailureKind::RateLimited => format!("{p} is rate limiting requests"),
        FailureKind::Timeout => format!("{p} timed out the request"),
        FailureKind::Unreachable => format!("{p} could not be reached"),
        FailureKind::ProviderError if status.is_server_error() => {
            format!("{p} had a server error")
        }
        FailureKind::ProviderError => format!("{p} answered with an unexpected status"),
        FailureKind::InvalidResponse if status.is_redirection() => format!(
            "{p} answered with a redirect to {}",
            response.header("location").unwrap_or("an unknown location")
        ),
        FailureKind::InvalidResponse => {
            format!("{p} answered something opsdeck cannot interpret")
        }
        FailureKind::InvalidConfig => format!("{p} refused a configured value"),
        FailureKind::Rejected => format!("{p} refused the request as invalid"),
    }
}

fn default_hint(kind: FailureKind, status: StatusCode) -> Option<&'static str> {
    match kind {
        FailureKind::InvalidCredentials => {
            Some("Check that the credentials are correct and have not expired or been revoked.")
        }
        FailureKind::PermissionDenied => {
            Some("Grant the missing permission, scope or role, or use credentials that have it.")
        }
        FailureKind::NotFound => Some(
            "Check base_url and the configured names (organization, project, site…); some vendors also answer 404 when the credentials cannot see a resource.",
        ),
        FailureKind::ProviderError if status.is_server_error() => {
            Some("This is usually temporary; check the vendor's status page.")
        }
        FailureKind::InvalidResponse if status.is_redirection() => {
            Some("Check base_url: it should be the API's address.")
        }
        FailureKind::InvalidResponse => {
            Some("The API may have changed, or base_url may point at something other than the API.")
        }
        FailureKind::InvalidConfig => Some("Check the configured values."),
        FailureKind::Rejected => Some(
            "Check the configured values and whether the account allows this request; if they are right, the vendor's API may have changed.",
        ),
        FailureKind::Unreachable => {
            Some("Check base_url, DNS, TLS and proxy settings, and that the host is up.")
        }
        FailureKind::RateLimited | FailureKind::Timeout | FailureKind::ProviderError => None,
    }
}

/// Classify a transport-level failure (no HTTP response).
pub fn classify_transport(
    provider: &str,
    host: &str,
    err: &(dyn std::error::Error + 'static),
    timeout: Duration,
) -> Error {
    let mut root: &(dyn std::error::Error + 'static) = err;
    let mut is_timeout = false;
    let mut cur: Option<&(dyn std::error::Error + 'static)> = Some(err);
    while let Some(e) = cur {
        if let Some(blocked) = e.downcast_ref::<super::address::BlockedAddress>() {
            return blocked.to_error(provider);
        }
        let text = e.to_string();
        if text.contains("timed out") || text.contains("deadline has elapsed") {
            is_timeout = true;
        }
        if let Some(io) = e.downcast_ref::<std::io::Error>()
            && io.kind() == std::io::ErrorKind::TimedOut
        {
            is_timeout = true;
        }
        root = e;
        cur = e.source();
    }
    if let Some(re) = err.downcast_ref::<reqwest::Error>() {
        is_timeout |= re.is_timeout();
        if re.is_decode() || re.is_body() && !is_timeout {
            return Error::invalid_response(format!(
                "{provider} sent a response body that could not be read: {root}."
            ))
            .with_source(std::io::Error::other(root.to_string()));
        }
    }
    if is_timeout {
        return Error::new(
            FailureKind::Timeout,
            format!(
                "{provider} at {host} did not answer within {:.1}s.",
                timeout.as_secs_f64()
            ),
        );
    }
    Error::new(
        FailureKind::Unreachable,
        format!("Could not connect to {provider} at {host}: {root}."),
    )
    .with_hint("Check base_url, DNS, TLS and proxy settings, and that the host is up.")
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;
    use http::{HeaderMap, HeaderValue};

    fn response(status: u16, body: &str, headers: &[(&'static str, &str)]) -> HttpResponse {
        let mut h = HeaderMap::new();
        for (k, v) in headers {
            if let Ok(v) = HeaderValue::from_str(v) {
                h.insert(*k, v);
            }
        }
        let mut r = HttpResponse::new(
            StatusCode::from_u16(status).unwrap_or(StatusCode::IM_A_TEAPOT),
            h,
            Bytes::from(body.to_owned()),
            "/api/v3/user",
        );
        r.attribute("Demo", &super::super::redact::Redactor::default());
        r
    }

    fn classify(r: &HttpResponse) -> Error {
        classify_response(&DefaultVendor, &RequestCtx::new("GET", "/user"), r)
    }

    #[test]
    fn statuses_map_to_kinds_with_message_and_hint_apart() {
        let e = classify(&response(401, r#"{"message":"Bad credentials"}"#, &[]));
        assert_eq!(e.kind(), FailureKind::InvalidCredentials);
        assert_eq!(
            e.message(),
            "Demo rejected the credentials (HTTP 401: Bad credentials)."
        );
        assert!(e.hint().is_some_and(|h| h.contains("expired")), "{e}");
        let e = classify(&response(
            422,
            r#"{"error":{"message":"bad","code":"x"}}"#,
            &[],
        ));
        assert_eq!(e.kind(), FailureKind::Rejected);
        assert!(!e.is_temporary());
        let e = classify(&response(503, "", &[]));
        assert_eq!(e.kind(), FailureKind::ProviderError);
        assert!(e.is_temporary());
        let e = classify(&response(429, "", &[("retry-after", "1e300")]));
        assert_eq!(e.kind(), FailureKind::RateLimited);
        assert_eq!(e.retry_after(), Some(super::super::headers::MAX_WAIT));
        assert!(e.message().ends_with("Retry after 86400s."), "{e}");
    }

    #[test]
    fn the_vendor_message_is_parsed_once_into_code_and_text() {
        let r = response(
            400,
            r#"{"error":{"message":" Nope. ","type":"invalid_request"}}"#,
            &[],
        );
        let v = VendorError::common(&r);
        assert_eq!(v.code.as_deref(), Some("invalid_request"));
        assert_eq!(v.message.as_deref(), Some("Nope."));
        let html = response(403, "<!DOCTYPE html><html>denied</html>", &[]);
        assert_eq!(VendorError::common(&html), VendorError::new());
        assert!(classify(&html).message().contains("HTML page"));
    }

    #[test]
    fn vendor_verdicts_change_kind_wording_and_retry() {
        struct Quota;
        impl VendorErrors for Quota {
            fn classify(
                &self,
                ctx: &RequestCtx<'_>,
                _: &HttpResponse,
                error: &VendorError,
                default: Verdict,
            ) -> Verdict {
                if ctx.relative_path == "/user" && error.code_is("insufficient_quota") {
                    return default
                        .with_kind(FailureKind::PermissionDenied)
                        .with_temporary(false)
                        .with_hint("Add credits.");
                }
                default
            }
        }
        let r = response(
            429,
            r#"{"error":{"code":"insufficient_quota","message":"Out"}}"#,
            &[],
        );
        let e = classify_response(&Quota, &RequestCtx::new("GET", "/user"), &r);
        assert_eq!(e.kind(), FailureKind::PermissionDenied);
        assert_eq!(e.hint(), Some("Add credits."));
        assert!(!e.is_temporary());
        // Another path: the rule does not apply.
        let e = classify_response(&Quota, &RequestCtx::new("GET", "/other"), &r);
        assert_eq!(e.kind(), FailureKind::RateLimited);
    }
}
