//! [`ServiceManager`]: named service instances, tested and collected concurrently under a
//! limit, each under its own deadline. A provider that panics, hangs or fails yields a report
//! for that service only; the others are never disturbed. The last report per service is kept.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::stream::{self, BoxStream, StreamExt};
use serde::Serialize;
use tokio::time::Instant;

use crate::clock::SharedClock;
use crate::config::{ConfigErrors, ConfigProblem, ProblemCode, ServiceSpec};
use crate::deadline;
use crate::domain::{AiUsage, CostReport, Deployment, TimeWindow};
use crate::error::{Error, Result};
use crate::metrics::{Metric, MetricProblem};
use crate::registry::{BuildError, ServiceFactory};
use crate::service::{BaseService, Unavailable};
use crate::status::{ConnectionReport, FailureKind};

/// Limits for concurrent runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ManagerOptions {
    /// Services checked at the same time.
    pub concurrency: usize,
    /// Time allowed for one service's test or collection.
    pub timeout: Duration,
}

impl Default for ManagerOptions {
    fn default() -> Self {
        ManagerOptions {
            concurrency: 16,
            timeout: Duration::from_secs(10),
        }
    }
}

/// A connection report with the service it belongs to (the CLI's JSON line).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[non_exhaustive]
pub struct ServiceReport {
    /// Service name.
    pub service: String,
    /// Provider id.
    pub provider: String,
    /// The report, flattened into the same object.
    #[serde(flatten)]
    pub report: ConnectionReport,
}

impl ServiceReport {
    /// `report` of `service` (a `provider` service).
    pub fn new(
        service: impl Into<String>,
        provider: impl Into<String>,
        report: ConnectionReport,
    ) -> Self {
        ServiceReport {
            service: service.into(),
            provider: provider.into(),
            report,
        }
    }
}

/// An error as shown next to a service: kind and message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct ErrorReport {
    /// Failure kind.
    pub failure: FailureKind,
    /// What happened.
    pub message: String,
    /// What to do about it, when there is something to do.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hint: Option<String>,
}

impl ErrorReport {
    /// A `failure` with its `message`.
    pub fn new(failure: FailureKind, message: impl Into<String>) -> Self {
        ErrorReport {
            failure,
            message: message.into(),
            hint: None,
        }
    }
}

impl From<&Error> for ErrorReport {
    fn from(e: &Error) -> Self {
        ErrorReport {
            failure: e.kind(),
            message: e.message().to_owned(),
            hint: e.hint().map(str::to_owned),
        }
    }
}

/// Metrics of one service (the CLI's JSON line for `metrics`).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[non_exhaustive]
pub struct ServiceMetrics {
    /// Service name.
    pub service: String,
    /// Provider id.
    pub provider: String,
    /// Samples (empty on error).
    pub metrics: Vec<Metric>,
    /// Notes about completeness or provenance.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
    /// Sections that could not be collected while others were (`metrics` holds the rest);
    /// always present in JSON, `[]` when nothing failed.
    pub problems: Vec<MetricProblem>,
    /// Why collection failed as a whole, if it did.
    pub error: Option<ErrorReport>,
}

impl ServiceMetrics {
    /// No samples, no notes, no error yet.
    pub fn new(service: impl Into<String>, provider: impl Into<String>) -> Self {
        ServiceMetrics {
            service: service.into(),
            provider: provider.into(),
            metrics: Vec::new(),
            notes: Vec::new(),
            problems: Vec::new(),
            error: None,
        }
    }
}

/// One service's answer to a cross-provider question ([`ServiceManager::ai_usage`],
/// [`costs`](ServiceManager::costs), [`deployments`](ServiceManager::deployments)): answered,
/// unavailable (with why), or failed (with how).
///
/// JSON (a contract of the CLI's `--json`): `{"service","provider"}` plus `"result"`, or
/// `"unavailable"` (the message) and `"unavailable_kind"`, or `"error"` (`{failure, message}`).
///
/// ```
/// use opsdeck_core::manager::CrossProviderEntry;
/// use opsdeck_core::Unavailable;
///
/// let e: CrossProviderEntry<u32> =
///     CrossProviderEntry::Unavailable { service: "gem".into(), provider: "gemini".into(),
///         unavailable: Unavailable::unsupported("no usage API") };
/// assert_eq!(e.service(), "gem");
/// assert_eq!(e.result(), None);
/// assert_eq!(serde_json::to_value(&e).unwrap()["unavailable_kind"], "unsupported");
/// ```
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum CrossProviderEntry<T> {
    /// The service answered.
    Answered {
        /// Service name.
        service: String,
        /// Provider id.
        provider: String,
        /// The answer.
        result: T,
    },
    /// The service cannot answer this question (not offered, or not with its config).
    Unavailable {
        /// Service name.
        service: String,
        /// Provider id.
        provider: String,
        /// Why not.
        unavailable: Unavailable,
    },
    /// The service should have answered but the call failed.
    Failed {
        /// Service name.
        service: String,
        /// Provider id.
        provider: String,
        /// What went wrong.
        error: ErrorReport,
    },
}

impl<T> CrossProviderEntry<T> {
    /// Service name.
    pub fn service(&self) -> &str {
        match self {
            Self::Answered { service, .. }
            | Self::Unavailable { service, .. }
            | Self::Failed { service, .. } => service,
        }
    }

    /// Provider id.
    pub fn provider(&self) -> &str {
        match self {
            Self::Answered { provider, .. }
            | Self::Unavailable { provider, .. }
            | Self::Failed { provider, .. } => provider,
        }
    }

    /// The answer, when there is one.
    pub fn result(&self) -> Option<&T> {
        match self {
            Self::Answered { result, .. } => Some(result),
            _ => None,
        }
    }

    /// Why the service cannot answer, when it cannot.
    pub fn unavailable(&self) -> Option<&Unavailable> {
        match self {
            Self::Unavailable { unavailable, .. } => Some(unavailable),
            _ => None,
        }
    }

    /// The failure, when the call failed.
    pub fn error(&self) -> Option<&ErrorReport> {
        match self {
            Self::Failed { error, .. } => Some(error),
            _ => None,
        }
    }
}

impl<T: Serialize> Serialize for CrossProviderEntry<T> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let mut map = serializer.serialize_map(None)?;
        map.serialize_entry("service", self.service())?;
        map.serialize_entry("provider", self.provider())?;
        match self {
            Self::Answered { result, .. } => map.serialize_entry("result", result)?,
            Self::Unavailable { unavailable, .. } => {
                map.serialize_entry("unavailable", &unavailable.reason)?;
                map.serialize_entry("unavailable_kind", &unavailable.kind)?;
            }
            Self::Failed { error, .. } => map.serialize_entry("error", error)?,
        }
        map.end()
    }
}

/// Metadata of a managed service.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct ServiceInfo {
    /// Service name.
    pub name: String,
    /// Provider id (from the service's descriptor).
    pub provider: String,
    /// Tags.
    pub tags: Vec<String>,
    /// Enabled.
    pub enabled: bool,
}

struct Managed {
    info: ServiceInfo,
    /// `None` for a disabled service that was never built (it may lack what it needs to run).
    service: Option<Arc<dyn BaseService>>,
    last: Mutex<Option<ConnectionReport>>,
}

/// Named service instances and concurrent runs over them.
///
/// ```
/// # async fn run() -> Result<(), Box<dyn std::error::Error>> {
/// use opsdeck_core::{ManagerOptions, ServiceFactory, ServiceManager};
///
/// let factory = ServiceFactory::from_registry()?;
/// let specs = factory.loader().load_file("opsdeck.toml")?.services;
/// let manager = ServiceManager::from_specs(&factory, &specs, ManagerOptions::default())?;
/// for report in manager.test_all().await {
///     println!("{}: {}", report.service, report.report.status);
/// }
/// # Ok(()) }
/// ```
pub struct ServiceManager {
    services: BTreeMap<String, Arc<Managed>>,
    options: ManagerOptions,
    /// Stamps each report's `checked_at` (the factory's clock with `from_specs`).
    clock: SharedClock,
}

impl std::fmt::Debug for ServiceManager {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServiceManager")
            .field("services", &self.services.keys().collect::<Vec<_>>())
            .field("options", &self.options)
            .finish()
    }
}

impl ServiceManager {
    /// An empty manager.
    pub fn new(options: ManagerOptions) -> Self {
        ServiceManager {
            services: BTreeMap::new(),
            options: ManagerOptions {
                concurrency: options.concurrency.max(1),
                ..options
            },
            clock: crate::clock::system(),
        }
    }

    /// Stamp reports with `clock` (the system clock by default; [`from_specs`](Self::from_specs)
    /// uses the factory's).
    pub fn with_clock(mut self, clock: SharedClock) -> Self {
        self.clock = clock;
        self
    }

    /// Build every spec with `factory`; reports every problem of every spec at once. Disabled
    /// services are kept (they report as disabled) but not built.
    pub fn from_specs(
        factory: &ServiceFactory,
        specs: &[ServiceSpec],
        options: ManagerOptions,
    ) -> std::result::Result<Self, ConfigErrors> {
        factory.validate_all(specs)?;
        let mut manager = ServiceManager::new(options).with_clock(factory.clock().clone());
        let mut problems = Vec::new();
        for spec in specs {
            if let Err(mut e) = manager.insert_spec(factory, spec) {
                problems.append(&mut e.problems);
            }
        }
        ConfigErrors::check(problems, manager)
    }

    /// Validate and build `spec` with `factory` and add it, with its tags; a disabled spec is
    /// added without being built.
    pub fn insert_spec(
        &mut self,
        factory: &ServiceFactory,
        spec: &ServiceSpec,
    ) -> std::result::Result<(), ConfigErrors> {
        let service = if spec.enabled {
            match factory.build(spec) {
                Ok(service) => Some(service),
                Err(BuildError::Config(e)) => return Err(e),
                Err(BuildError::Provider { service, source }) => {
                    return Err(ConfigProblem::service(&service, source.message())
                        .with_code(ProblemCode::Rejected)
                        .into());
                }
            }
        } else {
            factory.validate(spec)?;
            None
        };
        let info = ServiceInfo {
            name: spec.name.clone(),
            provider: spec.provider.clone(),
            tags: spec.tags.clone(),
            enabled: spec.enabled,
        };
        self.add(info, service).map_err(|e| {
            ConfigProblem::service(&spec.name, e.message())
                .with_code(ProblemCode::DuplicateName)
                .into()
        })
    }

    /// Add a built service under `name`, enabled and without tags. Its provider id is the one
    /// of the service's own descriptor. Names are unique.
    pub fn insert(&mut self, name: impl Into<String>, service: Arc<dyn BaseService>) -> Result<()> {
        let info = ServiceInfo {
            name: name.into(),
            provider: service.descriptor().id.to_owned(),
            tags: Vec::new(),
            enabled: true,
        };
        self.add(info, Some(service))
    }

    fn add(&mut self, info: ServiceInfo, service: Option<Arc<dyn BaseService>>) -> Result<()> {
        if self.services.contains_key(&info.name) {
            return Err(Error::invalid_config(format!(
                "a service named \"{}\" already exists",
                info.name
            )));
        }
        let name = info.name.clone();
        self.services.insert(
            name,
            Arc::new(Managed {
                info,
                service,
                last: Mutex::new(None),
            }),
        );
        Ok(())
    }

    /// Enable or disable a managed service; `false` when there is no such service, or when
    /// enabling a service that was never built (it was disabled in its spec).
    pub fn set_enabled(&mut self, name: &str, enabled: bool) -> bool {
        let Some(m) = self.services.get(name) else {
            return false;
        };
        if enabled && m.service.is_none() {
            return false;
        }
        let updated = Managed {
            info: ServiceInfo {
                enabled,
                ..m.info.clone()
            },
            service: m.service.clone(),
            last: Mutex::new(m.last.lock().unwrap_or_else(|p| p.into_inner()).clone()),
        };
        self.services.insert(name.to_owned(), Arc::new(updated));
        true
    }

    /// Remove a service.
    pub fn remove(&mut self, name: &str) -> bool {
        self.services.remove(name).is_some()
    }

    /// Keep only the named services (e.g. those given on a command line).
    pub fn retain(&mut self, names: &[String]) {
        self.services.retain(|n, _| names.contains(n));
    }

    /// The options in force.
    pub fn options(&self) -> ManagerOptions {
        self.options
    }

    /// Names, sorted.
    pub fn names(&self) -> Vec<String> {
        self.services.keys().cloned().collect()
    }

    /// Metadata of every service, sorted by name.
    pub fn services(&self) -> Vec<ServiceInfo> {
        self.services.values().map(|m| m.info.clone()).collect()
    }

    /// One service instance (`None` for an unknown name or a disabled service never built).
    pub fn service(&self, name: &str) -> Option<Arc<dyn BaseService>> {
        self.services.get(name).and_then(|m| m.service.clone())
    }

    /// The last report of a service, if it was tested.
    pub fn last_report(&self, name: &str) -> Option<ConnectionReport> {
        self.services
            .get(name)
            .and_then(|m| m.last.lock().unwrap_or_else(|p| p.into_inner()).clone())
    }

    /// Names not managed here, from `names` (for "unknown service" messages).
    pub fn unknown<'a>(&self, names: &'a [String]) -> Vec<&'a str> {
        names
            .iter()
            .filter(|n| !self.services.contains_key(n.as_str()))
            .map(String::as_str)
            .collect()
    }

    fn selected(&self, names: Option<&[String]>) -> Vec<Arc<Managed>> {
        match names {
            None => self.services.values().cloned().collect(),
            Some(names) => names
                .iter()
                .filter_map(|n| self.services.get(n).cloned())
                .collect(),
        }
    }

    /// Test one service.
    pub async fn test(&self, name: &str) -> Option<ServiceReport> {
        let managed = self.services.get(name)?.clone();
        Some(run_test(managed, self.options.timeout, self.clock.clone()).await)
    }

    /// Test every service concurrently; results sorted by name.
    pub async fn test_all(&self) -> Vec<ServiceReport> {
        let mut out: Vec<_> = self.test_stream(None).collect().await;
        out.sort_by(|a, b| a.service.cmp(&b.service));
        out
    }

    /// Test the named services (all when `None`) concurrently, yielding each report as it
    /// finishes. Unknown names are skipped; check them with [`unknown`](Self::unknown).
    /// Drive it with `futures::StreamExt` (re-exported by the facade as
    /// `opsdeck::futures::StreamExt`).
    pub fn test_stream(&self, names: Option<&[String]>) -> BoxStream<'static, ServiceReport> {
        let timeout = self.options.timeout;
        let clock = self.clock.clone();
        stream::iter(self.selected(names))
            .map(move |m| run_test(m, timeout, clock.clone()))
            .buffer_unordered(self.options.concurrency)
            .boxed()
    }

    /// Collect one service's metrics.
    pub async fn collect(&self, name: &str) -> Option<ServiceMetrics> {
        let managed = self.services.get(name)?.clone();
        Some(run_collect(managed, self.options.timeout).await)
    }

    /// Collect every service's metrics concurrently; results sorted by name.
    pub async fn collect_all(&self) -> Vec<ServiceMetrics> {
        let mut out: Vec<_> = self.collect_stream(None).collect().await;
        out.sort_by(|a, b| a.service.cmp(&b.service));
        out
    }

    /// Collect the named services (all when `None`), yielding each result as it finishes.
    pub fn collect_stream(&self, names: Option<&[String]>) -> BoxStream<'static, ServiceMetrics> {
        let timeout = self.options.timeout;
        stream::iter(self.selected(names))
            .map(move |m| run_collect(m, timeout))
            .buffer_unordered(self.options.concurrency)
            .boxed()
    }

    /// AI usage and cost over `window`, asked of every enabled service through the AI
    /// category (`as_ai()` → `usage_source()`); the others say they do not offer it.
    pub async fn ai_usage(&self, window: TimeWindow) -> Vec<CrossProviderEntry<AiUsage>> {
        self.cross(move |s| {
            Box::pin(async move {
                let source = match s.as_ai() {
                    Some(ai) => ai.usage_source(),
                    None => Err(Unavailable::not_offered()),
                };
                match source {
                    Ok(src) => src.ai_usage(window).await.map_err(Err),
                    Err(u) => Err(Ok(u)),
                }
            })
        })
        .await
    }

    /// Cost over `window`, asked of every enabled service: infrastructure and AI services
    /// answer through their category, others when they offer cost as an ability.
    pub async fn costs(&self, window: TimeWindow) -> Vec<CrossProviderEntry<CostReport>> {
        self.cross(move |s| {
            Box::pin(async move {
                match s.cost_source() {
                    Ok(src) => src.cost(window).await.map_err(Err),
                    Err(u) => Err(Ok(u)),
                }
            })
        })
        .await
    }

    /// Deployments in `window`, asked of every enabled service: infrastructure and
    /// development services answer through their category.
    pub async fn deployments(
        &self,
        window: TimeWindow,
    ) -> Vec<CrossProviderEntry<Vec<Deployment>>> {
        self.cross(move |s| {
            Box::pin(async move {
                match s.deployment_source() {
                    Ok(src) => src.deployments(window).await.map_err(Err),
                    Err(u) => Err(Ok(u)),
                }
            })
        })
        .await
    }

    /// Ask every enabled service one question. The closure returns the answer,
    /// `Err(Ok(why))` when the service cannot answer, or `Err(Err(error))` when it failed.
    async fn cross<T, F>(&self, ask: F) -> Vec<CrossProviderEntry<T>>
    where
        T: Send + 'static,
        F: Fn(
                Arc<dyn BaseService>,
            ) -> futures::future::BoxFuture<
                'static,
                std::result::Result<T, std::result::Result<Unavailable, Error>>,
            > + Send
            + Sync
            + 'static,
    {
        let timeout = self.options.timeout;
        let ask = Arc::new(ask);
        let managed: Vec<(Arc<Managed>, Arc<dyn BaseService>)> = self
            .selected(None)
            .into_iter()
            .filter(|m| m.info.enabled)
            .filter_map(|m| m.service.clone().map(|s| (m, s)))
            .collect();
        let mut out: Vec<CrossProviderEntry<T>> = stream::iter(managed)
            .map(|(m, service)| {
                let ask = ask.clone();
                async move {
                    let outcome =
                        guarded(timeout, &m.info.name, async move { ask(service).await }).await;
                    let service = m.info.name.clone();
                    let provider = m.info.provider.clone();
                    match outcome {
                        Ok(result) => CrossProviderEntry::Answered {
                            service,
                            provider,
                            result,
                        },
                        Err(GuardError::Inner(Ok(unavailable))) => {
                            CrossProviderEntry::Unavailable {
                                service,
                                provider,
                                unavailable,
                            }
                        }
                        Err(GuardError::Inner(Err(e)) | GuardError::Guard(e)) => {
                            CrossProviderEntry::Failed {
                                service,
                                provider,
                                error: ErrorReport::from(&e),
                            }
                        }
                    }
                }
            })
            .buffer_unordered(self.options.concurrency)
            .collect()
            .await;
        out.sort_by(|a, b| a.service().cmp(b.service()));
        out
    }
}

const NO_RUNTIME: &str = "opsdeck must run inside a Tokio runtime with timers and I/O enabled (#[tokio::main], or a runtime built with `enable_all()`); none is running.";

/// Which runtime driver a tokio panic message says is missing.
fn missing_driver(panic: &str) -> Option<&'static str> {
    if panic.contains("timers are disabled") {
        Some("timers")
    } else if panic.contains("IO is disabled") {
        Some("I/O")
    } else {
        None
    }
}

enum GuardError<E> {
    Inner(E),
    Guard(Error),
}

/// Aborts the task it holds when dropped: a caller that stops waiting (a client that
/// disconnects, a cancelled run) stops the probe too, instead of leaving it running detached
/// where no lock or limit accounts for it.
struct AbortOnDrop<T>(tokio::task::JoinHandle<T>);

impl<T> Drop for AbortOnDrop<T> {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Run `fut` on its own task under a deadline: panics and hangs become errors for this service
/// only. Dropping the returned future aborts the task.
async fn guarded<T, E, F>(
    timeout: Duration,
    name: &str,
    fut: F,
) -> std::result::Result<T, GuardError<E>>
where
    T: Send + 'static,
    E: Send + 'static,
    F: std::future::Future<Output = std::result::Result<T, E>> + Send + 'static,
{
    if tokio::runtime::Handle::try_current().is_err() {
        return Err(GuardError::Guard(Error::invalid_config(NO_RUNTIME)));
    }
    let deadline_at = Instant::now() + timeout;
    let mut task = AbortOnDrop(tokio::spawn(deadline::with_deadline(
        deadline_at,
        async move { tokio::time::timeout_at(deadline_at, fut).await },
    )));
    match (&mut task.0).await {
        Ok(Ok(Ok(v))) => Ok(v),
        Ok(Ok(Err(e))) => Err(GuardError::Inner(e)),
        Ok(Err(_elapsed)) => Err(GuardError::Guard(Error::new(
            FailureKind::Timeout,
            format!(
                "No answer within {:.1}s; the check was cancelled.",
                timeout.as_secs_f64()
            ),
        ))),
        Err(join) => {
            let panic = join.is_panic();
            let payload = join.try_into_panic().ok();
            let text = payload.as_deref().and_then(|p| {
                p.downcast_ref::<&str>()
                    .map(|s| (*s).to_owned())
                    .or_else(|| p.downcast_ref::<String>().cloned())
            });
            // tokio panics in the task when the runtime lacks a driver: that is a setup
            // problem of the program embedding opsdeck, not a provider bug.
            if let Some(driver) = text.as_deref().and_then(missing_driver) {
                tracing::error!(service = name, driver, "the Tokio runtime lacks a driver");
                return Err(GuardError::Guard(Error::invalid_config(format!(
                    "The Tokio runtime running opsdeck has {driver} disabled. opsdeck needs timers and I/O: build the runtime with `enable_all()` (or use #[tokio::main])."
                ))));
            }
            tracing::error!(service = name, panic, "provider task failed");
            Err(GuardError::Guard(Error::provider(
                "The provider crashed while checking this service (an opsdeck bug: please report it with the log).",
            )))
        }
    }
}

/// Tests one service instance the way [`ServiceManager`] does — on its own task, under
/// `timeout`, a panic or hang becoming a report for this service only — without building a
/// manager around it. Dropping the future aborts the check.
pub async fn run_guarded(
    service: Arc<dyn BaseService>,
    name: &str,
    timeout: Duration,
) -> ConnectionReport {
    let started = Instant::now();
    match guarded(timeout, name, async move {
        Ok::<_, ()>(service.test_connection().await)
    })
    .await
    {
        Ok(report) => report,
        Err(GuardError::Guard(e)) => ConnectionReport::from_error(&e, started.elapsed()),
        Err(GuardError::Inner(())) => ConnectionReport::disabled(),
    }
}

/// Collects one service instance's metrics under `timeout`, isolated like [`run_guarded`].
pub async fn collect_guarded(
    service: Arc<dyn BaseService>,
    name: &str,
    timeout: Duration,
) -> Result<crate::metrics::MetricSet> {
    match guarded(
        timeout,
        name,
        async move { service.collect_metrics().await },
    )
    .await
    {
        Ok(set) => Ok(set),
        Err(GuardError::Inner(e) | GuardError::Guard(e)) => Err(e),
    }
}

async fn run_test(managed: Arc<Managed>, timeout: Duration, clock: SharedClock) -> ServiceReport {
    let mut report = match (&managed.service, managed.info.enabled) {
        (Some(service), true) => run_guarded(service.clone(), &managed.info.name, timeout).await,
        _ => ConnectionReport::disabled(),
    };
    report.checked_at = clock.now();
    tracing::debug!(service = %managed.info.name, status = %report.status, latency_ms = report.latency_ms, "tested");
    *managed.last.lock().unwrap_or_else(|p| p.into_inner()) = Some(report.clone());
    ServiceReport::new(&managed.info.name, &managed.info.provider, report)
}

async fn run_collect(managed: Arc<Managed>, timeout: Duration) -> ServiceMetrics {
    let mut out = ServiceMetrics::new(&managed.info.name, &managed.info.provider);
    let service = match (&managed.service, managed.info.enabled) {
        (Some(service), true) => service.clone(),
        _ => {
            out.notes
                .push("Disabled in the configuration (enabled = false); not collected.".into());
            return out;
        }
    };
    match collect_guarded(service, &managed.info.name, timeout).await {
        Ok(set) => {
            out.metrics = set.metrics;
            out.notes = set.notes;
            out.problems = set.problems;
        }
        Err(e) => out.error = Some(ErrorReport::from(&e)),
    }
    out
}
