//! [`HttpClient`]: the reqwest-based client of one service — its base URL, credentials and
//! headers — sending every request through [`execute`](super::execute), reading bodies in
//! chunks up to `max_body`, and resolving names through the outbound address policy.

use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use http::{HeaderMap, HeaderName, HeaderValue, Method};
use secrecy::{ExposeSecret, SecretString};
use serde::de::DeserializeOwned;
use url::Url;

use super::USER_AGENT;
use super::address::{self, FilteringResolver};
use super::classify::{DefaultVendor, RequestCtx, VendorErrors, classify_transport};
use super::redact::Redactor;
use super::response::HttpResponse;
use super::retry::{Reply, Vendor, execute};
use super::settings::HttpSettings;
use crate::error::{Error, Result};

/// Shared reqwest clients keyed by connect timeout and address policy: services share connection
/// pools and TLS configuration, which keeps thousands of service instances lean.
fn shared_reqwest(settings: &HttpSettings) -> Result<reqwest::Client> {
    type Key = (Duration, bool);
    static CLIENTS: OnceLock<Mutex<HashMap<Key, reqwest::Client>>> = OnceLock::new();
    let key = (settings.connect_timeout, settings.allow_link_local);
    let map = CLIENTS.get_or_init(|| Mutex::new(HashMap::new()));
    let mut map = map.lock().unwrap_or_else(|p| p.into_inner());
    if let Some(c) = map.get(&key) {
        return Ok(c.clone());
    }
    let client = build_reqwest(
        settings.connect_timeout,
        FilteringResolver::system(settings.allow_link_local),
    )?;
    map.insert(key, client.clone());
    Ok(client)
}

pub(crate) fn build_reqwest(
    connect_timeout: Duration,
    resolver: FilteringResolver,
) -> Result<reqwest::Client> {
    if !crate::install_crypto_provider() {
        return Err(Error::invalid_config(crate::NO_TLS_PROVIDER));
    }
    reqwest::Client::builder()
        .user_agent(USER_AGENT)
        .connect_timeout(connect_timeout)
        .pool_idle_timeout(Duration::from_secs(60))
        // Redirects to another host would carry our auth headers; refuse them all and report.
        .redirect(reqwest::redirect::Policy::none())
        .dns_resolver(Arc::new(resolver))
        .build()
        .map_err(|e| Error::invalid_config(format!("could not build the HTTP client: {e}")))
}

/// A reqwest-based client bound to one vendor base URL, its credentials and the shared policy.
/// Build it once per service instance.
#[derive(Clone)]
pub struct HttpClient {
    base: String,
    base_path: String,
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
    reqwest: Option<reqwest::Client>,
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
        let encoded = base64::engine::general_purpose::STANDARD.encode(raw.as_bytes());
        let value = format!("Basic {encoded}");
        // A vendor may echo the header whole or only its credential part.
        self.secrets.push(SecretString::from(value.clone()));
        self.secrets.push(SecretString::from(encoded));
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

    /// Use this reqwest client instead of the shared one (tests that stand in a resolver).
    #[doc(hidden)]
    pub fn reqwest_client(mut self, client: reqwest::Client) -> Self {
        self.reqwest = Some(client);
        self
    }

    /// Build the client. No I/O. A base URL whose host is a link-local or metadata address is
    /// refused here unless the settings allow it.
    pub fn build(self) -> Result<HttpClient> {
        if let Some(p) = self.problem {
            return Err(p);
        }
        address::check_url(&self.base, self.settings.allow_link_local)
            .map_err(|why| Error::invalid_config(format!("{} base_url: {why}.", self.name)))?;
        let client = match self.reqwest {
            Some(c) => c,
            None => shared_reqwest(&self.settings)?,
        };
        let base = self.base.as_str().trim_end_matches('/').to_owned();
        let base_path = self.base.path().trim_end_matches('/').to_owned();
        let origin = self.base.origin().ascii_serialization();
        let host = self.base.host_str().unwrap_or("?").to_owned();
        let host = match self.base.port() {
            Some(p) => format!("{host}:{p}"),
            None => host,
        };
        Ok(HttpClient {
            base,
            base_path,
            origin,
            client,
            settings: self.settings,
            headers: self.headers,
            vendor: Vendor::new(self.name, host, self.errors, Redactor::new(self.secrets)),
        })
    }
}

/// `path` relative to the base URL's path: `/datadog/api/v1/validate` under `/datadog` is
/// `/api/v1/validate`. A path outside the base is returned unchanged.
fn relative_to(base_path: &str, path: &str) -> String {
    let rest = match path.strip_prefix(base_path) {
        Some(rest) if base_path.is_empty() || rest.is_empty() || rest.starts_with('/') => rest,
        _ => path,
    };
    if rest.is_empty() {
        "/".to_owned()
    } else {
        rest.to_owned()
    }
}

fn human_bytes(n: usize) -> String {
    const MIB: usize = 1024 * 1024;
    if n >= MIB && n.is_multiple_of(MIB) {
        format!("{} MiB", n / MIB)
    } else if n >= 1024 && n.is_multiple_of(1024) {
        format!("{} KiB", n / 1024)
    } else {
        format!("{n} bytes")
    }
}

/// Read a body in chunks, refusing (without buffering) one longer than `max`.
async fn read_body(
    mut resp: reqwest::Response,
    max: usize,
    vendor: &Vendor,
    path: &str,
    timeout: Duration,
) -> Result<Bytes> {
    let too_large = || {
        Error::invalid_response(format!(
            "{} sent a response larger than {} for {path}; opsdeck stopped reading it.",
            vendor.name,
            human_bytes(max)
        ))
        .with_hint("base_url may point at something other than the API (a file or a stream). If this API really answers that much, raise max_body.")
    };
    let announced = resp.content_length();
    if announced.is_some_and(|len| len > max as u64) {
        return Err(too_large());
    }
    let capacity = announced
        .and_then(|l| usize::try_from(l).ok())
        .unwrap_or(0)
        .min(max);
    let mut buf = BytesMut::with_capacity(capacity);
    while let Some(chunk) = resp
        .chunk()
        .await
        .map_err(|e| classify_transport(vendor.name, &vendor.host, &e, timeout))?
    {
        if buf.len().saturating_add(chunk.len()) > max {
            return Err(too_large());
        }
        buf.extend_from_slice(&chunk);
    }
    Ok(buf.freeze())
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
            reqwest: None,
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
                Error::invalid_response(format!("{} sent an invalid link ({e}).", self.vendor.name))
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
        let method = request.method().as_str().to_owned();
        let path = request.url().path().to_owned();
        let relative = relative_to(&self.base_path, &path);
        let ctx = RequestCtx::new(&method, &relative);
        let client = &self.client;
        let vendor = &self.vendor;
        let max_body = self.settings.max_body;
        let ctx_ref = &ctx;
        execute(&self.settings, vendor, &ctx, |timeout| {
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
                let body = read_body(resp, max_body, vendor, &path, timeout).await?;
                let mut response = HttpResponse::new(status, headers, body, path);
                response.attribute(vendor.name, &vendor.redactor);
                if !status.is_success() {
                    return Ok(Reply::Response(response));
                }
                vendor.errors.check_success(ctx_ref, &response)?;
                Ok(Reply::Value(response))
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
    fn paths_are_made_relative_to_the_base() {
        assert_eq!(
            relative_to("/datadog", "/datadog/api/v1/validate"),
            "/api/v1/validate"
        );
        assert_eq!(relative_to("", "/api/v1/validate"), "/api/v1/validate");
        assert_eq!(relative_to("/graphql/v2", "/graphql/v2"), "/");
        assert_eq!(relative_to("/api", "/apiary/x"), "/apiary/x");
        assert_eq!(relative_to("/api/v3", "/other"), "/other");
    }

    #[test]
    fn sizes_read_like_humans_write_them() {
        assert_eq!(human_bytes(8 * 1024 * 1024), "8 MiB");
        assert_eq!(human_bytes(2048), "2 KiB");
        assert_eq!(human_bytes(1000), "1000 bytes");
    }
}
