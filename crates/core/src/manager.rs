//! [`ServiceManager`]: named service instances, tested and collected concurrently under a
//! limit, each under its own deadline. A provider that panics, hangs or fails yields a report
//! for that service only; the others are never disturbed. The last report per service is kept.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::stream::{self, BoxStream, StreamExt};
use serde::Serialize;
use tokio::time::Instant;

use crate::config::{ConfigErrors, ConfigProblem, ServiceSpec};
use crate::deadline;
use crate::domain::{AiUsage, CostReport, Deployment, TimeWindow};
use crate::error::{Error, Result};
use crate::metrics::Metric;
use crate::registry::{BuildError, ServiceFactory};
use crate::service::BaseService;
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
pub struct ServiceReport {
    /// Service name.
    pub service: String,
    /// Provider id.
    pub provider: String,
    /// The report, flattened into the same object.
    #[serde(flatten)]
    pub report: ConnectionReport,
}

/// An error as shown next to a service: kind and message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ErrorReport {
    /// Failure kind.
    pub failure: FailureKind,
    /// What happened.
    pub message: String,
    /// What to do about it, when there is something to do.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hint: Option<String>,
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
    /// Why collection failed, if it did.
    pub error: Option<ErrorReport>,
}

/// One service's answer to a cross-provider question.
#[derive(Debug, Clone, Serialize)]
pub struct CrossProviderEntry<T> {
    /// Service name.
    pub service: String,
    /// Provider id.
    pub provider: String,
    /// The answer, when the service has the ability and the call worked.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub result: Option<T>,
    /// Why the service cannot answer (ability unavailable).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub unavailable: Option<String>,
    /// The call failed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<ErrorReport>,
}

/// Metadata of a managed service.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ServiceInfo {
    /// Service name.
    pub name: String,
    /// Provider id.
    pub provider: String,
    /// Tags.
    pub tags: Vec<String>,
    /// Enabled.
    pub enabled: bool,
}

struct Managed {
    info: ServiceInfo,
    service: Arc<dyn BaseService>,
    last: Mutex<Option<ConnectionReport>>,
}

/// Named service instances and concurrent runs over them.
pub struct ServiceManager {
    services: BTreeMap<String, Arc<Managed>>,
    options: ManagerOptions,
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
        }
    }

    /// Build every spec with `factory`; reports every problem of every spec at once.
    pub fn from_specs(
        factory: &ServiceFactory,
        specs: &[ServiceSpec],
        options: ManagerOptions,
    ) -> std::result::Result<Self, ConfigErrors> {
        factory.validate_all(specs)?;
        let mut manager = ServiceManager::new(options);
        let mut problems = Vec::new();
        for spec in specs {
            match factory.build(spec) {
                Ok(service) => {
                    let info = ServiceInfo {
                        name: spec.name.clone(),
                        provider: spec.provider.clone(),
                        tags: spec.tags.clone(),
                        enabled: spec.enabled,
                    };
                    if let Err(e) = manager.insert(info, service) {
                        problems.push(ConfigProblem::service(&spec.name, e.message()));
                    }
                }
                Err(BuildError::Config(mut e)) => problems.append(&mut e.problems),
                Err(BuildError::Provider { service, source }) => {
                    problems.push(ConfigProblem::service(&service, source.message()));
                }
            }
        }
        if problems.is_empty() {
            Ok(manager)
        } else {
            Err(ConfigErrors { problems })
        }
    }

    /// Add a service. Names are unique.
    pub fn insert(&mut self, info: ServiceInfo, service: Arc<dyn BaseService>) -> Result<()> {
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

    /// Remove a service.
    pub fn remove(&mut self, name: &str) -> bool {
        self.services.remove(name).is_some()
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

    /// One service instance.
    pub fn service(&self, name: &str) -> Option<Arc<dyn BaseService>> {
        self.services.get(name).map(|m| m.service.clone())
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
        Some(run_test(managed, self.options.timeout).await)
    }

    /// Test every service concurrently; results sorted by name.
    pub async fn test_all(&self) -> Vec<ServiceReport> {
        let mut out: Vec<_> = self.test_stream(None).collect().await;
        out.sort_by(|a, b| a.service.cmp(&b.service));
        out
    }

    /// Test the named services (all when `None`) concurrently, yielding each report as it
    /// finishes. Unknown names are skipped; check them with [`unknown`](Self::unknown).
    pub fn test_stream(&self, names: Option<&[String]>) -> BoxStream<'static, ServiceReport> {
        let timeout = self.options.timeout;
        stream::iter(self.selected(names))
            .map(move |m| run_test(m, timeout))
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

    /// AI usage and cost over `window` across every enabled AI service that can report it,
    /// saying which cannot and why.
    pub async fn ai_usage(&self, window: TimeWindow) -> Vec<CrossProviderEntry<AiUsage>> {
        self.cross(move |s| {
            Box::pin(async move {
                match s.ai_usage_source() {
                    Ok(src) => src.ai_usage(window).await.map(Some).map_err(Err),
                    Err(u) => Err(Ok(u.reason.into_owned())),
                }
            })
        })
        .await
    }

    /// Cost over `window` across every enabled service that can report it.
    pub async fn costs(&self, window: TimeWindow) -> Vec<CrossProviderEntry<CostReport>> {
        self.cross(move |s| {
            Box::pin(async move {
                match s.cost_source() {
                    Ok(src) => src.cost(window).await.map(Some).map_err(Err),
                    Err(u) => Err(Ok(u.reason.into_owned())),
                }
            })
        })
        .await
    }

    /// Deployments in `window` across every enabled service that can list them.
    pub async fn deployments(
        &self,
        window: TimeWindow,
    ) -> Vec<CrossProviderEntry<Vec<Deployment>>> {
        self.cross(move |s| {
            Box::pin(async move {
                match s.deployment_source() {
                    Ok(src) => src.deployments(window).await.map(Some).map_err(Err),
                    Err(u) => Err(Ok(u.reason.into_owned())),
                }
            })
        })
        .await
    }

    /// Ask every enabled service one question. The closure returns `Ok(Some(answer))`,
    /// `Err(Ok(reason))` when the ability is unavailable, or `Err(Err(error))`.
    async fn cross<T, F>(&self, ask: F) -> Vec<CrossProviderEntry<T>>
    where
        T: Send + 'static,
        F: Fn(
                Arc<dyn BaseService>,
            ) -> futures::future::BoxFuture<
                'static,
                std::result::Result<Option<T>, std::result::Result<String, Error>>,
            > + Send
            + Sync
            + 'static,
    {
        let timeout = self.options.timeout;
        let ask = Arc::new(ask);
        let managed: Vec<_> = self
            .selected(None)
            .into_iter()
            .filter(|m| m.info.enabled)
            .collect();
        let mut out: Vec<CrossProviderEntry<T>> = stream::iter(managed)
            .map(|m| {
                let ask = ask.clone();
                async move {
                    let service = m.service.clone();
                    let outcome =
                        guarded(timeout, &m.info.name, async move { ask(service).await }).await;
                    let mut entry = CrossProviderEntry {
                        service: m.info.name.clone(),
                        provider: m.info.provider.clone(),
                        result: None,
                        unavailable: None,
                        error: None,
                    };
                    match outcome {
                        Ok(r) => entry.result = r,
                        Err(GuardError::Inner(Ok(reason))) => entry.unavailable = Some(reason),
                        Err(GuardError::Inner(Err(e))) => entry.error = Some(ErrorReport::from(&e)),
                        Err(GuardError::Guard(e)) => entry.error = Some(ErrorReport::from(&e)),
                    }
                    entry
                }
            })
            .buffer_unordered(self.options.concurrency)
            .collect()
            .await;
        out.sort_by(|a, b| a.service.cmp(&b.service));
        out
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
            tracing::error!(
                service = name,
                panic = join.is_panic(),
                "provider task failed"
            );
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

async fn run_test(managed: Arc<Managed>, timeout: Duration) -> ServiceReport {
    let report = if managed.info.enabled {
        run_guarded(managed.service.clone(), &managed.info.name, timeout).await
    } else {
        ConnectionReport::disabled()
    };
    tracing::debug!(service = %managed.info.name, status = %report.status, latency_ms = report.latency_ms, "tested");
    *managed.last.lock().unwrap_or_else(|p| p.into_inner()) = Some(report.clone());
    ServiceReport {
        service: managed.info.name.clone(),
        provider: managed.info.provider.clone(),
        report,
    }
}

async fn run_collect(managed: Arc<Managed>, timeout: Duration) -> ServiceMetrics {
    let mut out = ServiceMetrics {
        service: managed.info.name.clone(),
        provider: managed.info.provider.clone(),
        metrics: Vec::new(),
        notes: Vec::new(),
        error: None,
    };
    if !managed.info.enabled {
        out.notes
            .push("Disabled in the configuration (enabled = false); not collected.".into());
        return out;
    }
    match collect_guarded(managed.service.clone(), &managed.info.name, timeout).await {
        Ok(set) => {
            out.metrics = set.metrics;
            out.notes = set.notes;
        }
        Err(e) => out.error = Some(ErrorReport::from(&e)),
    }
    out
}
