//! The shared HTTP policy of every provider: one place for timeouts, retries with backoff and
//! jitter, `Retry-After`, rate-limit headers, and the mapping of HTTP outcomes to
//! [`FailureKind`]s. Providers add only what is vendor-specific, through [`VendorErrors`].
//!
//! Two entry points share the policy:
//! - [`HttpClient`], a reqwest-based client for providers that speak plain HTTP;
//! - [`execute`], the retry/classification loop over any "send once" function, for providers
//!   whose vendor SDK is the transport (e.g. octocrab).
//!
//! Rules this module enforces: rustls only; `User-Agent: opsdeck/<version>`; retries only on
//! connection errors, timeouts, 429 and 5xx — never on other 4xx; a wait longer than the time
//! left before the caller's deadline is not slept but reported; secrets are never logged and
//! are scrubbed from any vendor message we repeat.

use std::collections::HashMap;
use std::fmt;
use std::future::Future;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use bytes::Bytes;
use chrono::{DateTime, TimeZone, Utc};
use http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode};
use secrecy::{ExposeSecret, SecretString};
use serde::de::DeserializeOwned;
use tokio::time::Instant;
use url::Url;

use crate::deadline;
use crate::error::{Error, Result};
use crate::status::{FailureKind, RateLimitInfo};

/// The `User-Agent` every provider sends.
pub const USER_AGENT: &str = concat!("opsdeck/", env!("CARGO_PKG_VERSION"));

/// Timeouts and retry settings. One set per service; the CLI and server derive it from their
/// flags.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpSettings {
    /// Time to establish a TCP+TLS connection.
    pub connect_timeout: Duration,
    /// Time for one request, including reading the body. Capped by the caller's deadline.
    pub request_timeout: Duration,
    /// Retries after the first attempt (0 = no retries).
    pub max_retries: u32,
    /// First backoff; doubles per retry, with jitter.
    pub initial_backoff: Duration,
    /// Backoff cap.
    pub max_backoff: Duration,
    /// Longest `Retry-After` we are willing to sleep when there is no deadline.
    pub max_retry_wait: Duration,
}

impl Default for HttpSettings {
    fn default() -> Self {
        HttpSettings {
            connect_timeout: Duration::from_secs(5),
            request_timeout: Duration::from_secs(10),
            max_retries: 2,
            initial_backoff: Duration::from_millis(200),
            max_backoff: Duration::from_secs(5),
            max_retry_wait: Duration::from_secs(30),
        }
    }
}

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
    /// A response assembled by a custom transport (see [`execute`]).
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
                "{} answered HTTP {} for {} with {what}. The API may have changed or base_url may point at something else.",
                self.provider,
                self.status.as_u16(),
                self.path
            )))
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

    /// `Retry-After`, as seconds or an HTTP date.
    pub fn retry_after(&self) -> Option<Duration> {
        parse_retry_after(&self.headers)
    }
}

/// Vendor-specific parts of the policy. Every method has a default that fits most REST APIs.
pub trait VendorErrors: Send + Sync + 'static {
    /// Extract the vendor's human error message from an error body.
    fn vendor_message(&self, response: &HttpResponse) -> Option<String> {
        default_vendor_message(response)
    }

    /// Rate-limit headroom from the headers.
    fn rate_limit(&self, response: &HttpResponse) -> Option<RateLimitInfo> {
        response.rate_limit()
    }

    /// Adjust the default classification of a non-2xx response (e.g. Gemini's 400
    /// `API_KEY_INVALID` is invalid credentials; GitHub's 403 with no quota left is a rate
    /// limit). Return `default` unchanged when nothing vendor-specific applies.
    fn classify(&self, response: &HttpResponse, default: Error) -> Error {
        let _ = response;
        default
    }

    /// Inspect a 2xx response for errors hidden in it (GraphQL `errors[]` with HTTP 200).
    fn check_success(&self, response: &HttpResponse) -> Result<()> {
        let _ = response;
        Ok(())
    }
}

/// The defaults of [`VendorErrors`], for vendors with nothing special.
#[derive(Debug, Clone, Copy, Default)]
pub struct DefaultVendor;

impl VendorErrors for DefaultVendor {}

/// Removes known secret values from text before it is shown, stored or logged.
#[derive(Clone, Default)]
pub struct Redactor {
    secrets: Arc<Vec<SecretString>>,
}

impl fmt::Debug for Redactor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Redactor({} secrets)", self.secrets.len())
    }
}

impl Redactor {
    /// A redactor for these secrets.
    pub fn new(secrets: impl IntoIterator<Item = SecretString>) -> Self {
        Redactor {
            secrets: Arc::new(secrets.into_iter().collect()),
        }
    }

    /// `text` with every secret replaced by `[REDACTED]`.
    pub fn scrub(&self, text: &str) -> String {
        let mut out = text.to_owned();
        for s in self.secrets.iter() {
            let s = s.expose_secret();
            // Very short values would redact ordinary words; they are not real credentials.
            if s.len() >= 6 && out.contains(s) {
                out = out.replace(s, "[REDACTED]");
            }
        }
        out
    }
}

/// Best-effort extraction of an error message from common JSON error shapes, or a short
/// plain-text body. HTML pages yield `None`.
pub fn default_vendor_message(response: &HttpResponse) -> Option<String> {
    if response.body.is_empty() || response.is_html() {
        return None;
    }
    if let Ok(v) = serde_json::from_slice::<serde_json::Value>(&response.body) {
        let candidates = [
            v.pointer("/error/message"),
            v.pointer("/message"),
            v.pointer("/error_description"),
            v.pointer("/errorMessages/0"),
            v.pointer("/errors/0/message"),
            v.pointer("/errors/0"),
            v.pointer("/detail"),
            v.pointer("/title"),
            v.pointer("/error"),
        ];
        return candidates
            .into_iter()
            .flatten()
            .find_map(|m| m.as_str().map(str::to_owned))
            .filter(|m| !m.trim().is_empty())
            .map(|m| truncate(m.trim(), 300));
    }
    let text = String::from_utf8_lossy(&response.body);
    let text = text.trim();
    (!text.is_empty() && text.len() <= 300 && !text.contains('<')).then(|| text.to_owned())
}

/// Replace key-looking words that start with one of `prefixes` (e.g. `sk_`, `sk-`) with `[key]`.
/// Vendors echo masked keys in error messages ("Invalid API Key provided: sk_test_****…Aso0");
/// even a masked key's tail does not belong in reports or logs, and the [`Redactor`] only knows
/// whole secrets.
pub fn mask_keys(text: &str, prefixes: &[&str]) -> String {
    let is_key_char = |c: char| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '*' | '…');
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(c) = rest.chars().next() {
        let at_word_start = out.chars().last().is_none_or(|p| !is_key_char(p));
        if at_word_start && prefixes.iter().any(|p| rest.starts_with(p)) {
            let len = rest.find(|c: char| !is_key_char(c)).unwrap_or(rest.len());
            out.push_str("[key]");
            rest = &rest[len..];
        } else {
            out.push(c);
            rest = &rest[c.len_utf8()..];
        }
    }
    out
}

fn truncate(s: &str, max: usize) -> String {
    if s.len() <= max {
        return s.to_owned();
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &s[..end])
}

/// Parse `Retry-After` (delta seconds or HTTP date).
pub fn parse_retry_after(headers: &HeaderMap) -> Option<Duration> {
    let raw = headers.get("retry-after")?.to_str().ok()?.trim();
    if let Ok(secs) = raw.parse::<f64>() {
        return (secs.is_finite() && secs >= 0.0).then(|| Duration::from_secs_f64(secs));
    }
    let when = httpdate::parse_http_date(raw).ok()?;
    Some(
        when.duration_since(std::time::SystemTime::now())
            .unwrap_or(Duration::ZERO),
    )
}

/// Parse a rate-limit reset value: Unix seconds, delta seconds, or RFC 3339 / ISO 8601.
pub fn parse_reset(raw: &str) -> Option<DateTime<Utc>> {
    let raw = raw.trim();
    if let Ok(n) = raw.parse::<i64>() {
        return if n > 1_000_000_000 {
            Utc.timestamp_opt(n, 0).single()
        } else {
            Some(Utc::now() + chrono::Duration::seconds(n))
        };
    }
    if let Ok(t) = DateTime::parse_from_rfc3339(raw) {
        return Some(t.with_timezone(&Utc));
    }
    // Jira sends minutes precision without seconds: 2024-01-01T10:00Z.
    chrono::NaiveDateTime::parse_from_str(raw.trim_end_matches('Z'), "%Y-%m-%dT%H:%M")
        .ok()
        .map(|n| n.and_utc())
}

/// Parse `x-ratelimit-*` / `ratelimit-*` headers.
pub fn parse_rate_limit(headers: &HeaderMap) -> Option<RateLimitInfo> {
    let get = |names: &[&str]| {
        names
            .iter()
            .find_map(|n| headers.get(*n).and_then(|v| v.to_str().ok()))
    };
    let num = |names: &[&str]| get(names).and_then(|v| v.trim().parse::<u64>().ok());
    let info = RateLimitInfo {
        limit: num(&["x-ratelimit-limit", "ratelimit-limit"]),
        remaining: num(&["x-ratelimit-remaining", "ratelimit-remaining"]),
        reset_at: get(&["x-ratelimit-reset", "ratelimit-reset"]).and_then(parse_reset),
        resource: get(&["x-ratelimit-resource"]).map(str::to_owned),
    };
    (!info.is_empty()).then_some(info)
}

/// The default classification of a non-2xx response.
pub fn classify_status(response: &HttpResponse, vendor: &dyn VendorErrors) -> Error {
    let p = response.provider;
    let code = response.status.as_u16();
    let said = vendor
        .vendor_message(response)
        .map(|m| format!(": {}", response.redactor.scrub(&m)))
        .unwrap_or_else(|| {
            if response.is_html() {
                " with an HTML page instead of an API answer (a proxy, firewall or CDN such as Cloudflare may have intercepted the request)".to_owned()
            } else {
                String::new()
            }
        });
    let retry_after = response.retry_after();
    let rate_limit = vendor.rate_limit(response);
    let (kind, message) = match code {
        401 => (
            FailureKind::InvalidCredentials,
            format!(
                "{p} rejected the credentials (HTTP 401{said}). Check that they are correct and have not expired or been revoked."
            ),
        ),
        403 => (
            FailureKind::PermissionDenied,
            format!(
                "{p} refused access (HTTP 403{said}). The credentials were accepted but lack a permission, scope or role this check needs."
            ),
        ),
        404 => (
            FailureKind::NotFound,
            format!(
                "{p} answered 404 Not Found for {}{said}. Check base_url and the configured names (organization, project, site…); some vendors also answer 404 when the credentials cannot see a resource.",
                response.path
            ),
        ),
        408 => (
            FailureKind::Timeout,
            format!("{p} timed out the request (HTTP 408{said})."),
        ),
        429 => {
            let wait = retry_after
                .map(|d| format!(" Retry after {}s.", d.as_secs().max(1)))
                .or_else(|| {
                    rate_limit
                        .as_ref()
                        .and_then(|r| r.reset_at)
                        .map(|t| format!(" The limit resets at {}.", t.to_rfc3339()))
                })
                .unwrap_or_default();
            (
                FailureKind::RateLimited,
                format!("{p} is rate limiting requests (HTTP 429{said}).{wait}"),
            )
        }
        400 | 422 => (
            FailureKind::InvalidConfig,
            format!(
                "{p} rejected the request as invalid (HTTP {code}{said}). Check the configured values."
            ),
        ),
        300..=399 => (
            FailureKind::InvalidResponse,
            format!(
                "{p} answered with a redirect (HTTP {code}) to {}. Check base_url: it should be the API's address.",
                response.header("location").unwrap_or("an unknown location")
            ),
        ),
        500..=599 => (
            FailureKind::ProviderError,
            format!(
                "{p} had a server error (HTTP {code}{said}). This is usually temporary; check the vendor's status page."
            ),
        ),
        _ => (
            FailureKind::ProviderError,
            format!("{p} answered with an unexpected HTTP {code}{said}."),
        ),
    };
    Error::new(kind, message)
        .with_http_status(code)
        .with_retry_after(retry_after)
        .with_rate_limit(rate_limit)
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
    let mut chain = Vec::new();
    let mut cur: Option<&(dyn std::error::Error + 'static)> = Some(err);
    while let Some(e) = cur {
        let text = e.to_string();
        if text.contains("timed out") || text.contains("deadline has elapsed") {
            is_timeout = true;
        }
        if let Some(io) = e.downcast_ref::<std::io::Error>()
            && io.kind() == std::io::ErrorKind::TimedOut
        {
            is_timeout = true;
        }
        chain.push(text);
        root = e;
        cur = e.source();
    }
    if let Some(re) = err.downcast_ref::<reqwest::Error>() {
        is_timeout |= re.is_timeout();
        if re.is_decode() || re.is_body() && !is_timeout {
            return Error::invalid_response(format!(
                "{provider} sent a response body that could not be read: {root}"
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
    let cause = root.to_string();
    Error::new(
        FailureKind::Unreachable,
        format!(
            "Could not connect to {provider} at {host}: {cause}. Check base_url, DNS, TLS and proxy settings, and that the host is up."
        ),
    )
}

fn backoff(settings: &HttpSettings, attempt: u32) -> Duration {
    let base = settings
        .initial_backoff
        .saturating_mul(2u32.saturating_pow(attempt))
        .min(settings.max_backoff);
    // "Equal jitter": between half and all of the base, so clients spread out but still wait.
    let half = base / 2;
    half + half.mul_f64(fastrand::f64())
}

/// Vendor identity for [`execute`]: who we talk to and what to redact.
#[derive(Clone)]
pub struct Vendor {
    /// Display name, e.g. "GitHub".
    pub name: &'static str,
    /// Host (for messages).
    pub host: String,
    /// Vendor-specific classification.
    pub errors: Arc<dyn VendorErrors>,
    /// Secrets to scrub from messages.
    pub redactor: Redactor,
}

impl fmt::Debug for Vendor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Vendor")
            .field("name", &self.name)
            .field("host", &self.host)
            .finish_non_exhaustive()
    }
}

/// Run `send_once` under the policy: per-attempt timeout capped by the deadline, retries with
/// backoff on temporary failures, `Retry-After` honoured only while it fits before the deadline,
/// non-2xx responses classified (default, then vendor). `send_once` gets the attempt's timeout
/// and returns the full response for any HTTP status, or a classified transport error.
pub async fn execute<F, Fut>(
    settings: &HttpSettings,
    vendor: &Vendor,
    mut send_once: F,
) -> Result<HttpResponse>
where
    F: FnMut(Duration) -> Fut,
    Fut: Future<Output = Result<HttpResponse>>,
{
    let deadline = deadline::current();
    let mut attempt = 0u32;
    loop {
        let left = deadline.map(|d| d.saturating_duration_since(Instant::now()));
        let attempt_timeout = left.map_or(settings.request_timeout, |l| {
            l.min(settings.request_timeout)
        });
        if attempt_timeout.is_zero() {
            return Err(Error::new(
                FailureKind::Timeout,
                format!(
                    "{} at {}: the time allowed for this check ran out.",
                    vendor.name, vendor.host
                ),
            ));
        }
        let outcome = match tokio::time::timeout(attempt_timeout, send_once(attempt_timeout)).await
        {
            Ok(r) => r,
            Err(_) => Err(Error::new(
                FailureKind::Timeout,
                format!(
                    "{} at {} did not answer within {:.1}s.",
                    vendor.name,
                    vendor.host,
                    attempt_timeout.as_secs_f64()
                ),
            )),
        };
        let err = match outcome {
            Ok(mut resp) => {
                resp.provider = vendor.name;
                resp.redactor = vendor.redactor.clone();
                if resp.status.is_success() {
                    match vendor.errors.check_success(&resp) {
                        Ok(()) => return Ok(resp),
                        Err(e) => e,
                    }
                } else {
                    let default = classify_status(&resp, vendor.errors.as_ref());
                    vendor.errors.classify(&resp, default)
                }
            }
            Err(e) => e,
        };
        let scrubbed = vendor.redactor.scrub(err.message());
        let err = err.with_message(scrubbed);
        if !err.is_temporary() || attempt >= settings.max_retries {
            tracing::debug!(vendor = vendor.name, attempt, kind = %err.kind(), status = ?err.http_status(), "request failed");
            return Err(err);
        }
        let wait = err
            .retry_after()
            .unwrap_or_else(|| backoff(settings, attempt));
        let fits = match deadline {
            Some(d) => Instant::now() + wait < d,
            None => wait <= settings.max_retry_wait,
        };
        if !fits {
            tracing::debug!(
                vendor = vendor.name,
                wait_ms = wait.as_millis() as u64,
                "not retrying: wait exceeds the time left"
            );
            let secs = wait.as_secs().max(1);
            return Err(err.with_hint(format!(
                "Not retried: waiting {secs}s would exceed the time allowed for this check."
            )));
        }
        tracing::debug!(vendor = vendor.name, attempt, kind = %err.kind(), wait_ms = wait.as_millis() as u64, "retrying");
        tokio::time::sleep(wait).await;
        attempt += 1;
    }
}

/// Shared reqwest clients keyed by connect timeout: services share connection pools and TLS
/// configuration, which keeps thousands of service instances lean.
fn shared_reqwest(connect_timeout: Duration) -> Result<reqwest::Client> {
    static CLIENTS: OnceLock<Mutex<HashMap<Duration, reqwest::Client>>> = OnceLock::new();
    let map = CLIENTS.get_or_init(|| Mutex::new(HashMap::new()));
    let mut map = map.lock().unwrap_or_else(|p| p.into_inner());
    if let Some(c) = map.get(&connect_timeout) {
        return Ok(c.clone());
    }
    if !crate::install_crypto_provider() {
        return Err(Error::invalid_config(crate::NO_TLS_PROVIDER));
    }
    let client = reqwest::Client::builder()
        .user_agent(USER_AGENT)
        .connect_timeout(connect_timeout)
        .pool_idle_timeout(Duration::from_secs(60))
        // Redirects to another host would carry our auth headers; refuse them all and report.
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .map_err(|e| Error::invalid_config(format!("could not build the HTTP client: {e}")))?;
    map.insert(connect_timeout, client.clone());
    Ok(client)
}

/// A reqwest-based client bound to one vendor base URL, its credentials and the shared policy.
/// Build it once per service instance.
#[derive(Clone)]
pub struct HttpClient {
    base: String,
    origin: String,
    client: reqwest::Client,
    settings: HttpSettings,
    headers: HeaderMap,
    vendor: Vendor,
}

impl fmt::Debug for HttpClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HttpClient")
            .field("vendor", &self.vendor.name)
            .field("base", &self.base)
            .finish_non_exhaustive()
    }
}

/// Builder for [`HttpClient`].
pub struct HttpClientBuilder {
    name: &'static str,
    base: Url,
    settings: HttpSettings,
    headers: HeaderMap,
    secrets: Vec<SecretString>,
    errors: Arc<dyn VendorErrors>,
    problem: Option<Error>,
}

impl fmt::Debug for HttpClientBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HttpClientBuilder")
            .field("name", &self.name)
            .field("base", &self.base.as_str())
            .finish_non_exhaustive()
    }
}

impl HttpClientBuilder {
    fn sensitive(&mut self, name: HeaderName, value: String, secret: SecretString) {
        match HeaderValue::from_str(&value) {
            Ok(mut v) => {
                v.set_sensitive(true);
                self.headers.insert(name, v);
                self.secrets.push(secret);
            }
            Err(_) => {
                self.problem = Some(Error::invalid_config(format!(
                    "the {} credential contains characters that cannot be sent in an HTTP header (a stray newline or quote?)",
                    self.name
                )));
            }
        }
    }

    /// `Authorization: Bearer <token>`.
    pub fn bearer(mut self, token: &SecretString) -> Self {
        let value = format!("Bearer {}", token.expose_secret());
        self.sensitive(http::header::AUTHORIZATION, value, token.clone());
        self
    }

    /// `Authorization: Basic base64(user:password)`.
    pub fn basic(mut self, user: &str, password: &SecretString) -> Self {
        use base64::Engine as _;
        let raw = format!("{user}:{}", password.expose_secret());
        let value = format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode(raw.as_bytes())
        );
        self.secrets.push(SecretString::from(value.clone()));
        self.sensitive(http::header::AUTHORIZATION, value, password.clone());
        self
    }

    /// A secret header such as `x-api-key`.
    pub fn secret_header(mut self, name: &'static str, value: &SecretString) -> Self {
        self.sensitive(
            HeaderName::from_static(name),
            value.expose_secret().to_owned(),
            value.clone(),
        );
        self
    }

    /// A plain header sent on every request.
    pub fn header(mut self, name: &'static str, value: &str) -> Self {
        match HeaderValue::from_str(value) {
            Ok(v) => {
                self.headers.insert(HeaderName::from_static(name), v);
            }
            Err(_) => {
                self.problem = Some(Error::invalid_config(format!(
                    "the value for the {name} header contains characters not allowed in HTTP headers"
                )));
            }
        }
        self
    }

    /// Vendor-specific classification.
    pub fn vendor(mut self, errors: impl VendorErrors) -> Self {
        self.errors = Arc::new(errors);
        self
    }

    /// Build the client. No I/O.
    pub fn build(self) -> Result<HttpClient> {
        if let Some(p) = self.problem {
            return Err(p);
        }
        let client = shared_reqwest(self.settings.connect_timeout)?;
        let base = self.base.as_str().trim_end_matches('/').to_owned();
        let origin = self.base.origin().ascii_serialization();
        let host = self.base.host_str().unwrap_or("?").to_owned();
        let host = match self.base.port() {
            Some(p) => format!("{host}:{p}"),
            None => host,
        };
        Ok(HttpClient {
            base,
            origin,
            client,
            settings: self.settings,
            headers: self.headers,
            vendor: Vendor {
                name: self.name,
                host,
                errors: self.errors,
                redactor: Redactor::new(self.secrets),
            },
        })
    }
}

impl HttpClient {
    /// Start a client for `name` (display name, e.g. "GitHub") at `base`.
    pub fn builder(name: &'static str, base: &Url, settings: &HttpSettings) -> HttpClientBuilder {
        HttpClientBuilder {
            name,
            base: base.clone(),
            settings: settings.clone(),
            headers: HeaderMap::new(),
            secrets: Vec::new(),
            errors: Arc::new(DefaultVendor),
            problem: None,
        }
    }

    /// The base URL without a trailing slash.
    pub fn base(&self) -> &str {
        &self.base
    }

    /// Vendor identity (for custom transports sharing this client's policy).
    pub fn vendor(&self) -> &Vendor {
        &self.vendor
    }

    /// The settings in force.
    pub fn settings(&self) -> &HttpSettings {
        &self.settings
    }

    /// Absolute URL for `path` (appended to the base, so `https://ghe/api/v3` + `/user` keeps
    /// the `/api/v3` prefix). Absolute URLs (pagination links) must share the base's origin.
    pub fn url(&self, path: &str) -> Result<String> {
        if path.starts_with("http://") || path.starts_with("https://") {
            let u = Url::parse(path).map_err(|e| {
                Error::invalid_response(format!("{} sent an invalid link ({e})", self.vendor.name))
            })?;
            if u.origin().ascii_serialization() != self.origin {
                return Err(Error::invalid_response(format!(
                    "{} sent a link to another host ({}); not following it with our credentials.",
                    self.vendor.name,
                    u.host_str().unwrap_or("?")
                )));
            }
            return Ok(path.to_owned());
        }
        let sep = if path.starts_with('/') { "" } else { "/" };
        Ok(format!("{}{sep}{path}", self.base))
    }

    /// A request to `path` with the client's headers. Add query/body, then [`send`](Self::send).
    pub fn request(&self, method: Method, path: &str) -> Result<reqwest::RequestBuilder> {
        let url = self.url(path)?;
        Ok(self
            .client
            .request(method, url)
            .headers(self.headers.clone()))
    }

    /// GET `path`.
    pub fn get(&self, path: &str) -> Result<reqwest::RequestBuilder> {
        self.request(Method::GET, path)
    }

    /// POST `path`.
    pub fn post(&self, path: &str) -> Result<reqwest::RequestBuilder> {
        self.request(Method::POST, path)
    }

    /// Send under the policy; returns 2xx responses, classified errors otherwise.
    pub async fn send(&self, request: reqwest::RequestBuilder) -> Result<HttpResponse> {
        let request = request.build().map_err(|e| {
            Error::invalid_config(format!(
                "could not build a request to {}: {e}",
                self.vendor.name
            ))
        })?;
        let path = request.url().path().to_owned();
        let client = &self.client;
        let vendor = &self.vendor;
        execute(&self.settings, vendor, |timeout| {
            let attempt = request.try_clone();
            let path = path.clone();
            async move {
                let Some(mut attempt) = attempt else {
                    return Err(Error::invalid_config("request body cannot be retried"));
                };
                *attempt.timeout_mut() = Some(timeout);
                let resp = client
                    .execute(attempt)
                    .await
                    .map_err(|e| classify_transport(vendor.name, &vendor.host, &e, timeout))?;
                let status = resp.status();
                let headers = resp.headers().clone();
                let body = resp
                    .bytes()
                    .await
                    .map_err(|e| classify_transport(vendor.name, &vendor.host, &e, timeout))?;
                Ok(HttpResponse::new(status, headers, body, path))
            }
        })
        .await
    }

    /// GET `path` with `query` and parse the JSON body.
    pub async fn get_json<T: DeserializeOwned>(
        &self,
        path: &str,
        query: &[(&str, String)],
    ) -> Result<(T, HttpResponse)> {
        let resp = self.send(self.get(path)?.query(query)).await?;
        let value = resp.json()?;
        Ok((value, resp))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resets_parse_in_all_vendor_formats() {
        assert_eq!(
            parse_reset("1700000000").map(|t| t.timestamp()),
            Some(1_700_000_000)
        );
        assert!(parse_reset("30").is_some_and(|t| t > Utc::now()));
        assert!(parse_reset("2024-01-01T10:00Z").is_some());
        assert!(parse_reset("2024-01-01T10:00:00+00:00").is_some());
        assert!(parse_reset("soon").is_none());
    }

    #[test]
    fn echoed_masked_keys_are_masked_whole() {
        assert_eq!(
            mask_keys(
                "Invalid API Key provided: sk_test_****…Aso0.",
                &["sk_", "rk_"]
            ),
            "Invalid API Key provided: [key]."
        );
        assert_eq!(mask_keys("task-sk_1 stays", &["sk_"]), "task-sk_1 stays");
    }

    #[test]
    fn redactor_scrubs_secrets() {
        let r = Redactor::new([SecretString::from("sk-verysecret")]);
        assert_eq!(r.scrub("bad key sk-verysecret!"), "bad key [REDACTED]!");
    }

    #[test]
    fn backoff_grows_and_is_capped() {
        let s = HttpSettings::default();
        for attempt in 0..10 {
            let b = backoff(&s, attempt);
            assert!(b <= s.max_backoff, "{b:?}");
        }
        assert!(backoff(&s, 0) <= s.initial_backoff);
    }
}
