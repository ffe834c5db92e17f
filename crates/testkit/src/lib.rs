//! # opsdeck-testkit
//!
//! Offline test support for provider crates:
//! - [`Conformance`]: the behaviour suite every provider runs against local mocks — success,
//!   401, 403, 404, 429 with `Retry-After`, 5xx, timeout, connection refused and malformed JSON —
//!   checking the mapped status and failure kind, and that no secret appears in any report,
//!   message, `Debug` output or log line (captured at TRACE level). Every scenario runs twice:
//!   against the stand-in's root, and behind a path-prefixed `base_url` (an egress proxy such as
//!   `https://proxy.example.com/datadog`), where the classifications must be the same;
//! - [`service`]: a service of any registered provider from a JSON config, with fast retries
//!   ([`service_at`]: with an injected clock, e.g. on the first day of a month);
//! - request matchers ([`QueryKeys`], [`NoHeader`], [`param`]), [`dead_url`], [`LogCapture`],
//!   [`assert_no_secrets`], [`fail_section`] and [`assert_partial`] (one metrics section failing),
//!   and the [`PrefixProxy`] the suite uses.
//!
//! Nothing here touches the internet.

#![deny(missing_docs)]

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use opsdeck_core::config::{RawConfig, ServiceSpec};
use opsdeck_core::http::HttpSettings;
use opsdeck_core::{
    BaseService, FailureKind, ManagerOptions, ServiceFactory, ServiceManager, Status,
    metrics::is_valid_metric_name,
};
use serde_json::Value;
use wiremock::matchers::any;
use wiremock::{Match, Mock, MockServer, Request, ResponseTemplate};

mod proxy;

pub use proxy::PrefixProxy;
pub use wiremock;

/// HTTP settings for tests: the defaults with 10–50 ms backoff, so failure paths that retry
/// finish quickly.
pub const FAST_RETRIES: HttpSettings = HttpSettings::new()
    .with_backoff(Duration::from_millis(10), Duration::from_millis(50))
    .with_max_retry_wait(Duration::from_secs(1));

/// A service of `provider` built through the registry from `config` (a JSON object of the
/// provider's fields; `provider` is added), with [`FAST_RETRIES`]. Panics with the config
/// problems if the config is invalid.
pub fn service(provider: &str, config: Value) -> Arc<dyn BaseService> {
    try_service(provider, config, &FAST_RETRIES).unwrap_or_else(|e| panic!("{e}"))
}

/// [`service`] with explicit settings, returning the problems instead of panicking.
pub fn try_service(
    provider: &str,
    config: Value,
    settings: &HttpSettings,
) -> Result<Arc<dyn BaseService>, String> {
    build_service(provider, config, settings, None)
}

/// [`service`] built with `clock` as its wall clock (month boundaries, windows): put it on the
/// first day of a month without waiting for one. Panics with the config problems.
pub fn service_at(
    provider: &str,
    config: Value,
    clock: opsdeck_core::SharedClock,
) -> Arc<dyn BaseService> {
    build_service(provider, config, &FAST_RETRIES, Some(clock)).unwrap_or_else(|e| panic!("{e}"))
}

fn build_service(
    provider: &str,
    config: Value,
    settings: &HttpSettings,
    clock: Option<opsdeck_core::SharedClock>,
) -> Result<Arc<dyn BaseService>, String> {
    let mut factory = ServiceFactory::from_registry()
        .map_err(|e| e.to_string())?
        .with_http_settings(settings.clone());
    if let Some(clock) = clock {
        factory = factory.with_clock(clock);
    }
    let Value::Object(mut map) = config else {
        return Err(format!("the config must be a JSON object, got {config}"));
    };
    map.insert("provider".into(), Value::from(provider));
    let spec = opsdeck_core::config::spec_from_map(&format!("{provider}-test"), map, &|_| None)
        .map_err(|e| e.to_string())?;
    factory.build(&spec).map_err(|e| e.to_string())
}

/// Matches when the query has exactly these keys (no more, no fewer).
#[derive(Debug, Clone, Copy)]
pub struct QueryKeys(pub &'static [&'static str]);

impl Match for QueryKeys {
    fn matches(&self, request: &Request) -> bool {
        let got: BTreeSet<String> = request
            .url
            .query_pairs()
            .map(|(k, _)| k.into_owned())
            .collect();
        let want: BTreeSet<String> = self.0.iter().map(|k| (*k).to_owned()).collect();
        got == want
    }
}

/// Matches when the request lacks this header.
#[derive(Debug, Clone, Copy)]
pub struct NoHeader(pub &'static str);

impl Match for NoHeader {
    fn matches(&self, request: &Request) -> bool {
        !request.headers.contains_key(self.0)
    }
}

/// The value of query parameter `key`.
pub fn param(request: &Request, key: &str) -> Option<String> {
    request
        .url
        .query_pairs()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.into_owned())
}

/// A boxed future borrowing the mock server.
pub type MountFuture<'a> = Pin<Box<dyn Future<Output = ()> + Send + 'a>>;
/// Mounts mocks on a server.
pub type MountFn = for<'a> fn(&'a MockServer) -> MountFuture<'a>;

/// A conformance scenario.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Scenario {
    /// The vendor accepts the credentials.
    Success,
    /// HTTP 401.
    Unauthorized,
    /// HTTP 403.
    Forbidden,
    /// HTTP 404.
    NotFound,
    /// HTTP 429 with `Retry-After: 120`.
    RateLimited,
    /// HTTP 503.
    ServerError,
    /// The vendor does not answer in time.
    Timeout,
    /// Nothing listens on the port.
    ConnectionRefused,
    /// HTTP 200 with a body that is not JSON.
    MalformedJson,
}

impl Scenario {
    /// Every scenario.
    pub const ALL: [Scenario; 9] = [
        Scenario::Success,
        Scenario::Unauthorized,
        Scenario::Forbidden,
        Scenario::NotFound,
        Scenario::RateLimited,
        Scenario::ServerError,
        Scenario::Timeout,
        Scenario::ConnectionRefused,
        Scenario::MalformedJson,
    ];

    fn default_expectation(self) -> Option<FailureKind> {
        match self {
            Scenario::Success => None,
            Scenario::Unauthorized => Some(FailureKind::InvalidCredentials),
            Scenario::Forbidden => Some(FailureKind::PermissionDenied),
            Scenario::NotFound => Some(FailureKind::NotFound),
            Scenario::RateLimited => Some(FailureKind::RateLimited),
            Scenario::ServerError => Some(FailureKind::ProviderError),
            Scenario::Timeout => Some(FailureKind::Timeout),
            Scenario::ConnectionRefused => Some(FailureKind::Unreachable),
            Scenario::MalformedJson => Some(FailureKind::InvalidResponse),
        }
    }

    fn status_code(self) -> Option<u16> {
        match self {
            Scenario::Unauthorized => Some(401),
            Scenario::Forbidden => Some(403),
            Scenario::NotFound => Some(404),
            Scenario::RateLimited => Some(429),
            Scenario::ServerError => Some(503),
            _ => None,
        }
    }
}

/// Builds the vendor-shaped error response for an HTTP status.
pub type ErrorBodyFn = fn(u16) -> ResponseTemplate;
/// Builds the provider's raw config for a base URL.
pub type ConfigFn = Box<dyn Fn(&str) -> Value + Send + Sync>;

/// The conformance suite for one provider. See the crate docs.
pub struct Conformance {
    provider: &'static str,
    config: ConfigFn,
    secrets: Vec<String>,
    success: Option<MountFn>,
    metrics: Option<MountFn>,
    error_body: ErrorBodyFn,
    expect: BTreeMap<Scenario, Option<FailureKind>>,
    skip: BTreeMap<Scenario, &'static str>,
    timeout: Duration,
    budget: Duration,
}

impl std::fmt::Debug for Conformance {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Conformance")
            .field("provider", &self.provider)
            .finish_non_exhaustive()
    }
}

fn generic_error_body(status: u16) -> ResponseTemplate {
    ResponseTemplate::new(status)
        .set_body_json(serde_json::json!({"message": format!("mock error {status}")}))
}

impl Conformance {
    /// The suite for provider `id`, whose config for a base URL is given by `config`.
    pub fn new(
        provider: &'static str,
        config: impl Fn(&str) -> Value + Send + Sync + 'static,
    ) -> Self {
        Conformance {
            provider,
            config: Box::new(config),
            secrets: Vec::new(),
            success: None,
            metrics: None,
            error_body: generic_error_body,
            expect: BTreeMap::new(),
            skip: BTreeMap::new(),
            timeout: Duration::from_millis(300),
            budget: Duration::from_secs(10),
        }
    }

    /// A secret value used in the config; it must never appear anywhere.
    pub fn secret(mut self, value: impl Into<String>) -> Self {
        self.secrets.push(value.into());
        self
    }

    /// Mount mocks under which the connection test succeeds. Use exact matchers (method, path,
    /// query, auth headers): if the provider sends anything else, the test fails.
    pub fn success(mut self, mount: MountFn) -> Self {
        self.success = Some(mount);
        self
    }

    /// Mount mocks under which metric collection succeeds; the suite then checks names, that
    /// at least one metric is produced, and that no secret leaks.
    pub fn metrics(mut self, mount: MountFn) -> Self {
        self.metrics = Some(mount);
        self
    }

    /// The vendor's error body for an HTTP status (default: `{"message": "..."}`).
    pub fn error_body(mut self, f: ErrorBodyFn) -> Self {
        self.error_body = f;
        self
    }

    /// Override the expected failure for a scenario (e.g. a vendor whose 403 means a bad key).
    pub fn expect(mut self, scenario: Scenario, kind: FailureKind) -> Self {
        self.expect.insert(scenario, Some(kind));
        self
    }

    /// Skip a scenario, with the reason (shown in the output).
    pub fn skip(mut self, scenario: Scenario, reason: &'static str) -> Self {
        self.skip.insert(scenario, reason);
        self
    }

    fn expected(&self, s: Scenario) -> Option<FailureKind> {
        self.expect
            .get(&s)
            .copied()
            .unwrap_or_else(|| s.default_expectation())
    }

    fn spec(&self, base: &str) -> Result<ServiceSpec, String> {
        match (self.config)(base) {
            Value::Object(map) => Ok(ServiceSpec::new(
                format!("conformance-{}", self.provider),
                self.provider,
                RawConfig(map),
            )),
            other => Err(format!("config must be a JSON object, got {other}")),
        }
    }

    /// The check timeout per scenario: short where the scenario is about timing out (so the
    /// suite stays fast), generous elsewhere (so a loaded machine cannot fail a check that
    /// only has to answer correctly).
    fn timeout_for(&self, scenario: Scenario) -> Duration {
        if scenario == Scenario::Timeout {
            self.timeout
        } else {
            self.budget
        }
    }

    fn manager(&self, base: &str, timeout: Duration) -> Result<ServiceManager, String> {
        let factory = ServiceFactory::from_registry()
            .map_err(|e| e.to_string())?
            .with_http_settings(FAST_RETRIES);
        if factory.descriptor(self.provider).is_none() {
            return Err(format!(
                "provider \"{}\" is not registered (registered: {:?}); is the crate linked?",
                self.provider,
                factory.ids()
            ));
        }
        let spec = self.spec(base)?;
        let debug = format!("{spec:?}");
        self.check_secrets("Debug of ServiceSpec", &debug)?;
        let options = ManagerOptions {
            concurrency: 4,
            timeout,
        };
        ServiceManager::from_specs(&factory, &[spec], options).map_err(|e| e.to_string())
    }

    fn check_secrets(&self, what: &str, text: &str) -> Result<(), String> {
        for s in &self.secrets {
            if !s.is_empty() && text.contains(s.as_str()) {
                return Err(format!("a secret value appears in {what}"));
            }
        }
        Ok(())
    }

    async fn run_one(
        &self,
        scenario: Scenario,
        prefix: Option<&str>,
        logs: &LogCapture,
    ) -> Result<(), String> {
        let server = MockServer::start().await;
        // Behind a prefix, requests go through a proxy that strips it, as an egress proxy would:
        // the provider must build every path under the base URL and classify by the path
        // relative to it.
        let proxy = match (prefix, scenario) {
            (Some(p), s) if s != Scenario::ConnectionRefused => Some(
                PrefixProxy::start(&server.uri(), p)
                    .await
                    .map_err(|e| e.to_string())?,
            ),
            _ => None,
        };
        let base = match (scenario, &proxy) {
            (Scenario::ConnectionRefused, _) => {
                format!(
                    "{}{}",
                    dead_url().map_err(|e| e.to_string())?,
                    prefix.unwrap_or("")
                )
            }
            (_, Some(proxy)) => proxy.base(),
            (_, None) => server.uri(),
        };
        match scenario {
            Scenario::Success => match self.success {
                Some(mount) => mount(&server).await,
                None => return Err("no success mocks given (call .success(..))".into()),
            },
            Scenario::Timeout => {
                Mock::given(any())
                    .respond_with(ResponseTemplate::new(200).set_delay(self.timeout * 4))
                    .mount(&server)
                    .await;
            }
            Scenario::MalformedJson => {
                Mock::given(any())
                    .respond_with(
                        ResponseTemplate::new(200)
                            .set_body_raw("{\"unterminated\": [", "application/json"),
                    )
                    .mount(&server)
                    .await;
            }
            Scenario::ConnectionRefused => {}
            _ => {
                let Some(code) = scenario.status_code() else {
                    return Err("scenario without status".into());
                };
                let mut resp = (self.error_body)(code);
                if scenario == Scenario::RateLimited {
                    resp = resp.insert_header("retry-after", "120");
                }
                Mock::given(any()).respond_with(resp).mount(&server).await;
            }
        }

        let timeout = self.timeout_for(scenario);
        let manager = self.manager(&base, timeout)?;
        let name = format!("conformance-{}", self.provider);
        let started = std::time::Instant::now();
        let Some(report) = manager.test(&name).await else {
            return Err("the manager lost the service".into());
        };
        let elapsed = started.elapsed();
        let json = serde_json::to_string(&report).map_err(|e| e.to_string())?;
        self.check_secrets("the report JSON", &json)?;
        self.check_secrets("the report Debug output", &format!("{report:?}"))?;

        let expected = self.expected(scenario);
        let r = &report.report;
        match expected {
            None => {
                if r.status != Status::Connected {
                    return Err(format!(
                        "expected connected, got {} / {:?}: {}",
                        r.status, r.failure, r.message
                    ));
                }
                if r.identity.as_deref().is_none_or(str::is_empty) {
                    return Err("connected without an identity".into());
                }
            }
            Some(kind) => {
                if r.failure != Some(kind) || r.status != kind.status() {
                    return Err(format!(
                        "expected {} / {kind}, got {} / {:?}: {}",
                        kind.status(),
                        r.status,
                        r.failure,
                        r.message
                    ));
                }
                if r.message.trim().len() < 20 {
                    return Err(format!("the message is not helpful: {:?}", r.message));
                }
            }
        }
        if scenario == Scenario::RateLimited && r.details.retry_after_secs != Some(120) {
            return Err(format!(
                "Retry-After was not reported (details: {:?})",
                r.details
            ));
        }
        // A check answers within its timeout, always (plus scheduling slack).
        if elapsed > timeout + Duration::from_millis(1500) {
            return Err(format!(
                "the check took {elapsed:?}, longer than its {timeout:?} timeout"
            ));
        }

        // Metric collection must fail cleanly with the same kind under the same failure.
        if matches!(
            scenario,
            Scenario::Unauthorized | Scenario::ServerError | Scenario::MalformedJson
        ) && let Some(m) = manager.collect(&name).await
        {
            let json = serde_json::to_string(&m).map_err(|e| e.to_string())?;
            self.check_secrets("the metrics JSON", &json)?;
            if let Some(err) = &m.error
                && Some(err.failure) != expected
            {
                return Err(format!(
                    "metrics under {scenario:?}: expected {expected:?}, got {:?}: {}",
                    err.failure, err.message
                ));
            }
        }

        if scenario == Scenario::Success
            && let Some(mount) = self.metrics
        {
            server.reset().await;
            mount(&server).await;
            let Some(m) = manager.collect(&name).await else {
                return Err("the manager lost the service".into());
            };
            if let Some(e) = &m.error {
                return Err(format!(
                    "metric collection failed: {:?}: {}",
                    e.failure, e.message
                ));
            }
            if m.metrics.is_empty() {
                return Err("metric collection returned no metrics".into());
            }
            // With every stand-in mounted no section may fail: behind the path prefix this
            // also proves that every section's request is built under the base URL (a wrong
            // path would otherwise hide as a partial collection).
            if let Some(p) = m.problems.first() {
                return Err(format!(
                    "section {} failed ({:?}): {}",
                    p.section, p.failure, p.message
                ));
            }
            for metric in &m.metrics {
                if !is_valid_metric_name(self.provider, &metric.name) {
                    return Err(format!(
                        "bad metric name {:?} (must be {}_snake_case)",
                        metric.name, self.provider
                    ));
                }
                if !metric.value.is_finite() {
                    return Err(format!("metric {} is not finite", metric.name));
                }
            }
            let json = serde_json::to_string(&m).map_err(|e| e.to_string())?;
            self.check_secrets("the metrics JSON", &json)?;
        }
        self.check_secrets("the captured logs", &logs.contents())?;
        Ok(())
    }

    /// Run every scenario, at the stand-in's root and behind a path-prefixed base URL; panics
    /// with a list of every failed scenario.
    pub async fn run(self) {
        let logs = LogCapture::install();
        let mut failures = String::new();
        for prefix in [None, Some(PATH_PREFIX)] {
            for scenario in Scenario::ALL {
                if let Some(reason) = self.skip.get(&scenario) {
                    if prefix.is_none() {
                        eprintln!(
                            "conformance {}: {scenario:?} skipped: {reason}",
                            self.provider
                        );
                    }
                    continue;
                }
                if let Err(e) = self.run_one(scenario, prefix, &logs).await {
                    let behind = prefix.map(|p| format!(" behind {p}")).unwrap_or_default();
                    let _ = writeln!(failures, "  {scenario:?}{behind}: {e}");
                }
            }
        }
        assert!(
            failures.is_empty(),
            "conformance failures for {}:\n{failures}",
            self.provider
        );
    }
}

/// The path prefix of the "behind an egress proxy" run of the conformance suite.
pub const PATH_PREFIX: &str = "/egress/vendor-proxy";

/// Makes one metrics section fail: every request matching `matcher` (e.g. `path("/v1/charges")`)
/// answers HTTP 500, ahead of any mock mounted before or after (wiremock priority 1). Mount the
/// provider's usual stand-ins too, collect, then check with [`assert_partial`].
pub async fn fail_section(server: &MockServer, matcher: impl Match + 'static) {
    Mock::given(matcher)
        .respond_with(ResponseTemplate::new(500).set_body_raw(
            "{\"error\":{\"message\":\"internal error (stand-in)\"}}",
            "application/json",
        ))
        .with_priority(1)
        .mount(server)
        .await;
}

/// Asserts a partial collection: samples were still reported, and exactly one problem names
/// `section` with `failure`.
pub fn assert_partial(set: &opsdeck_core::MetricSet, section: &str, failure: FailureKind) {
    assert!(
        !set.metrics.is_empty(),
        "no metric reported beside the failed {section} section"
    );
    assert_eq!(
        set.problems.len(),
        1,
        "expected one problem ({section}), got {:?}",
        set.problems
    );
    assert_eq!(set.problems[0].section, section, "{:?}", set.problems);
    assert_eq!(set.problems[0].failure, failure, "{:?}", set.problems);
    assert!(
        set.problems[0].message.len() > 10,
        "the problem's message is not helpful: {:?}",
        set.problems[0]
    );
}

/// A URL on 127.0.0.1 where nothing listens (connection refused).
pub fn dead_url() -> io::Result<String> {
    let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
    let port = listener.local_addr()?.port();
    drop(listener);
    Ok(format!("http://127.0.0.1:{port}"))
}

/// Panics if any of `secrets` occurs in `text`.
pub fn assert_no_secrets(what: &str, text: &str, secrets: &[&str]) {
    for s in secrets {
        assert!(!text.contains(s), "a secret value appears in {what}");
    }
}

/// Captures every `tracing` event at TRACE level on the current thread (use with the default
/// current-thread `#[tokio::test]` runtime so spawned tasks are captured too).
#[derive(Clone, Debug)]
pub struct LogCapture {
    buf: Arc<Mutex<Vec<u8>>>,
    _guard: Arc<tracing::subscriber::DefaultGuard>,
}

#[derive(Clone)]
struct BufWriter(Arc<Mutex<Vec<u8>>>);

impl io::Write for BufWriter {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        self.0
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .extend_from_slice(data);
        Ok(data.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl LogCapture {
    /// Install the capture as this thread's default subscriber until dropped.
    pub fn install() -> Self {
        let buf = Arc::new(Mutex::new(Vec::new()));
        let writer = BufWriter(buf.clone());
        let subscriber = tracing_subscriber::fmt()
            .with_max_level(tracing::Level::TRACE)
            .with_writer(move || writer.clone())
            .with_ansi(false)
            .finish();
        let guard = tracing::subscriber::set_default(subscriber);
        LogCapture {
            buf,
            _guard: Arc::new(guard),
        }
    }

    /// Everything logged so far.
    pub fn contents(&self) -> String {
        String::from_utf8_lossy(&self.buf.lock().unwrap_or_else(|p| p.into_inner())).into_owned()
    }
}
