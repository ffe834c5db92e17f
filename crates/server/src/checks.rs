//! The one check pipeline. Every check and metrics collection the server runs — scheduled, on
//! `POST …/test`, in `POST /test-all`, on `POST …/metrics` — goes through [`Checks`]:
//!
//! - **instances**: a service is built once per config version and reused (the HTTP policy asks
//!   for one client per service instance);
//! - **one global limit**: a semaphore of `check_concurrency` permits shared by the scheduler,
//!   the test routes and test-all, so no caller can exceed the process-wide limit;
//! - **one check per service at a time** in this process: a per-service async lock, taken after
//!   the permit and held until the probe ends. Lock entries are removed only when nobody holds
//!   or waits for them, so a PATCH or DELETE never drops a held lock;
//! - **cancellation**: probes run through core's `run_guarded`/`collect_guarded`, which abort the
//!   probe when the caller's future is dropped (a client that disconnects), with the check
//!   deadline still applying; the permit and the lock are released only after that;
//! - **one `record()`**: stores results (guarded against services deleted or changed mid-check)
//!   and then announces each stored one on the results hook ([`crate::events`]).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, Utc};
use opsdeck_core::clock::SharedClock;
use opsdeck_core::config::{RawConfig, ServiceSpec};
use opsdeck_core::registry::BuildError;
use opsdeck_core::{
    BaseService, ConnectionReport, Error, ManagerOptions, ServiceFactory, ServiceMetrics,
    ServiceReport, collect_guarded, run_guarded,
};
use opsdeck_store::{NewCheckResult, RecordOutcome, ServiceRecord, Store, StoreError, db_text};
use secrecy::ExposeSecret;
use serde_json::Value;
use tokio::sync::{OwnedSemaphorePermit, Semaphore, broadcast};

use crate::error::{ApiError, FieldProblem};
use crate::events::{CheckEvent, CheckSource, MetricsRecorded, ResultRecorded};

struct Cached {
    version: i64,
    service: Arc<dyn BaseService>,
}

/// What the pipeline keeps of a service while checking it.
#[derive(Clone, Debug)]
pub struct ServiceMeta {
    /// Database id.
    pub id: i64,
    /// Name.
    pub name: String,
    /// Provider id.
    pub provider: String,
    /// Tags.
    pub tags: Vec<String>,
    /// The config version the check ran with.
    pub version: i64,
}

impl From<&ServiceRecord> for ServiceMeta {
    fn from(r: &ServiceRecord) -> Self {
        ServiceMeta {
            id: r.id,
            name: r.name.clone(),
            provider: r.provider.clone(),
            tags: r.tags.clone(),
            version: r.version,
        }
    }
}

/// A finished check, not yet recorded.
#[derive(Clone, Debug)]
pub struct Checked {
    /// The service.
    pub meta: ServiceMeta,
    /// The report.
    pub report: ConnectionReport,
}

impl Checked {
    /// The report with its service, as the API answers it.
    pub fn service_report(&self) -> ServiceReport {
        ServiceReport::new(
            self.meta.name.clone(),
            self.meta.provider.clone(),
            self.report.clone(),
        )
    }
}

/// How a batch of results is recorded.
#[derive(Clone, Copy, Debug)]
pub enum Record<'a> {
    /// An API call asked for it: store if the service still exists with the same config.
    Requested,
    /// A scheduled check: also move the service to its next slot, only while `owner` holds
    /// the lease.
    Scheduled {
        /// This instance (the lease owner).
        owner: &'a str,
        /// The service's next slot (unix ms).
        next_check_at: i64,
    },
}

/// Built services, locks, the global limit and the results hook.
pub struct Checks {
    factory: ServiceFactory,
    options: ManagerOptions,
    cache: Mutex<HashMap<i64, Cached>>,
    locks: Mutex<HashMap<i64, Arc<tokio::sync::Mutex<()>>>>,
    permits: Arc<Semaphore>,
    events: broadcast::Sender<CheckEvent>,
    store: Store,
    instance: String,
    clock: SharedClock,
}

impl std::fmt::Debug for Checks {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Checks")
            .field("options", &self.options)
            .field("instance", &self.instance)
            .finish_non_exhaustive()
    }
}

impl Checks {
    /// A pipeline building services with `factory`, at most `options.concurrency` checks at a
    /// time, each bounded by `options.timeout`.
    pub fn new(
        factory: ServiceFactory,
        options: ManagerOptions,
        store: Store,
        instance: String,
        clock: SharedClock,
    ) -> Self {
        let (events, _) = broadcast::channel(crate::events::CHANNEL_CAPACITY);
        Checks {
            factory,
            permits: Arc::new(Semaphore::new(options.concurrency.max(1))),
            options,
            cache: Mutex::default(),
            locks: Mutex::default(),
            events,
            store,
            instance,
            clock,
        }
    }

    /// Subscribes to the results hook.
    pub fn subscribe(&self) -> broadcast::Receiver<CheckEvent> {
        self.events.subscribe()
    }

    /// The factory (provider list).
    pub fn factory(&self) -> &ServiceFactory {
        &self.factory
    }

    /// The check timeout and the global concurrency.
    pub fn options(&self) -> ManagerOptions {
        self.options
    }

    /// The global check limit: the scheduler takes permits before it claims work.
    pub fn permits(&self) -> &Arc<Semaphore> {
        &self.permits
    }

    /// Waits for one of the global check permits.
    pub async fn permit(&self) -> OwnedSemaphorePermit {
        // The semaphore is never closed, so acquiring cannot fail; a closed one would only
        // mean shutdown, where not limiting is harmless.
        match self.permits.clone().acquire_owned().await {
            Ok(p) => p,
            Err(_) => Arc::new(Semaphore::new(1))
                .acquire_owned()
                .await
                .unwrap_or_else(|_| unreachable!("a fresh semaphore has a permit")),
        }
    }

    fn lock_for(&self, id: i64) -> Arc<tokio::sync::Mutex<()>> {
        let mut locks = self.locks.lock().unwrap_or_else(|p| p.into_inner());
        locks.entry(id).or_default().clone()
    }

    /// Drops the cached instance of a deleted or changed service, and every lock entry that
    /// nobody holds or waits for (a held lock's entry stays: its holder owns a clone).
    pub fn forget(&self, id: i64) {
        self.cache
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(&id);
        self.locks
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .retain(|_, l| Arc::strong_count(l) > 1);
    }

    /// The instance for a stored service, built on first use and after every config change.
    pub fn instance(&self, rec: &ServiceRecord) -> Result<Arc<dyn BaseService>, ApiError> {
        if let Some(c) = self
            .cache
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(&rec.id)
            .filter(|c| c.version == rec.version)
        {
            return Ok(c.service.clone());
        }
        let spec = spec_of(&self.store, rec)?;
        let service = build(&self.factory, &spec)?;
        self.cache.lock().unwrap_or_else(|p| p.into_inner()).insert(
            rec.id,
            Cached {
                version: rec.version,
                service: service.clone(),
            },
        );
        Ok(service)
    }

    /// Tests a stored service: waits for a global permit, then for the service's lock.
    pub async fn test(&self, rec: &ServiceRecord) -> Checked {
        let permit = self.permit().await;
        let checked = self.test_holding(rec).await;
        drop(permit);
        checked
    }

    /// Tests a stored service for a caller that already holds a global permit (the scheduler
    /// takes its permits before claiming, and keeps one for the metrics collection after the
    /// check). The lock is held until the probe has ended or been aborted.
    pub async fn test_holding(&self, rec: &ServiceRecord) -> Checked {
        let meta = ServiceMeta::from(rec);
        let report = match self.instance(rec) {
            Ok(service) => {
                let lock = self.lock_for(rec.id);
                let guard = lock.lock_owned().await;
                let report = run_guarded(service, &rec.name, self.options.timeout).await;
                drop(guard);
                report
            }
            // A stored config that no longer builds (e.g. its provider was compiled out, or a
            // secret no longer decrypts) is a failed check with a reason, not a silent skip.
            Err(e) => {
                ConnectionReport::from_error(&Error::invalid_config(e.to_string()), Duration::ZERO)
            }
        };
        let mut report = clean_report(report);
        // Core stamps reports with the system time; the server's time is its injected clock
        // (the same instant in production, the test's time under a manual clock).
        report.checked_at = self.clock.now();
        Checked { meta, report }
    }

    /// Collects a stored service's metrics under a global permit and the service's lock.
    /// Returns the collection and when it finished.
    pub async fn collect(
        &self,
        rec: &ServiceRecord,
        permit: Option<OwnedSemaphorePermit>,
    ) -> (ServiceMetrics, DateTime<Utc>) {
        let permit = match permit {
            Some(p) => p,
            None => self.permit().await,
        };
        let mut out = ServiceMetrics::new(rec.name.clone(), rec.provider.clone());
        match self.instance(rec) {
            Ok(service) => {
                let lock = self.lock_for(rec.id);
                let guard = lock.lock_owned().await;
                match collect_guarded(service, &rec.name, self.options.timeout).await {
                    Ok(set) => {
                        out.metrics = set.metrics;
                        out.notes = set.notes;
                        out.problems = set.problems;
                    }
                    Err(e) => out.error = Some(opsdeck_core::manager::ErrorReport::from(&e)),
                }
                drop(guard);
            }
            Err(e) => {
                out.error = Some(opsdeck_core::manager::ErrorReport::from(
                    &Error::invalid_config(e.to_string()),
                ));
            }
        }
        drop(permit);
        (out, self.clock.now())
    }

    /// Tests an unsaved spec under a global permit (nothing cached, nothing stored, nothing
    /// announced).
    pub async fn test_spec(&self, spec: &ServiceSpec) -> Result<ServiceReport, ApiError> {
        let service = build(&self.factory, spec)?;
        let permit = self.permit().await;
        let report = run_guarded(service, &spec.name, self.options.timeout).await;
        drop(permit);
        Ok(ServiceReport::new(
            spec.name.clone(),
            spec.provider.clone(),
            clean_report(report),
        ))
    }

    /// Stores results and announces each stored one on the hook, in order. Results of services
    /// deleted or changed mid-check are dropped quietly (debug log); the outcomes say which.
    pub async fn record(
        &self,
        batch: &[Checked],
        how: Record<'_>,
    ) -> Result<Vec<RecordOutcome>, StoreError> {
        let rows: Vec<NewCheckResult> = batch
            .iter()
            .map(|c| result_row(&c.meta, &c.report, &self.instance))
            .collect();
        let (outcomes, source) = match how {
            Record::Requested => (
                self.store.record_results(&rows).await?,
                CheckSource::Requested,
            ),
            Record::Scheduled {
                owner,
                next_check_at,
            } => {
                let mut out = Vec::with_capacity(rows.len());
                for row in &rows {
                    out.push(self.store.complete(owner, next_check_at, row).await?);
                }
                (out, CheckSource::Scheduled)
            }
        };
        for (checked, outcome) in batch.iter().zip(&outcomes) {
            match *outcome {
                RecordOutcome::Stored {
                    result_id,
                    previous_status,
                } => {
                    // No subscriber is not an error: the hook is optional.
                    let _ =
                        self.events
                            .send(CheckEvent::ResultRecorded(Arc::new(ResultRecorded {
                                service_id: checked.meta.id,
                                service: checked.meta.name.clone(),
                                provider: checked.meta.provider.clone(),
                                tags: checked.meta.tags.clone(),
                                report: checked.report.clone(),
                                previous_status,
                                source,
                                result_id,
                            })));
                }
                RecordOutcome::ServiceDeleted => tracing::debug!(
                    service = %checked.meta.name,
                    "service deleted while it was being checked; result dropped"
                ),
                RecordOutcome::ConfigChanged => tracing::debug!(
                    service = %checked.meta.name,
                    "service changed while it was being checked; the old config's result was dropped"
                ),
                RecordOutcome::LeaseLost => tracing::warn!(
                    service = %checked.meta.name,
                    "lease expired before the check finished (another instance took the service over); result dropped"
                ),
            }
        }
        Ok(outcomes)
    }

    /// Stores a successful collection (with its Prometheus text) and announces it. `false`:
    /// the service was deleted or changed meanwhile, nothing stored.
    pub async fn record_metrics(
        &self,
        meta: &ServiceMeta,
        collected: &ServiceMetrics,
        collected_at: DateTime<Utc>,
        source: CheckSource,
    ) -> Result<bool, StoreError> {
        let value = serde_json::to_value(&collected.metrics).unwrap_or(Value::Array(Vec::new()));
        let prometheus =
            crate::snapshot::prometheus_fragment(&meta.name, &meta.provider, &collected.metrics);
        let saved = self
            .store
            .save_collection(
                meta.id,
                Some(meta.version),
                &opsdeck_store::Collection {
                    collected_at: collected_at.timestamp_millis(),
                    metrics: &value,
                    notes: &collected.notes,
                    problems: &collected.problems,
                    prometheus: &prometheus,
                },
            )
            .await?;
        if saved {
            let _ = self
                .events
                .send(CheckEvent::MetricsRecorded(Arc::new(MetricsRecorded {
                    service_id: meta.id,
                    service: meta.name.clone(),
                    provider: meta.provider.clone(),
                    collected_at,
                    metrics: collected.metrics.clone(),
                    notes: collected.notes.clone(),
                    problems: collected.problems.clone(),
                    source,
                })));
        } else {
            tracing::debug!(service = %meta.name, "service deleted or changed while collecting; metrics dropped");
        }
        Ok(saved)
    }
}

/// The report as the database keeps it (NUL replaced), so what is returned, stored and
/// announced is the same text on every backend.
fn clean_report(mut report: ConnectionReport) -> ConnectionReport {
    if report.message.contains('\0') {
        report.message = db_text(&report.message);
    }
    if let Some(id) = report.identity.as_deref().filter(|i| i.contains('\0')) {
        report.identity = Some(db_text(id));
    }
    report
}

/// Builds a service, mapping config problems to a 422 that names each field.
pub fn build(
    factory: &ServiceFactory,
    spec: &ServiceSpec,
) -> Result<Arc<dyn BaseService>, ApiError> {
    factory.build(spec).map_err(|e| match e {
        BuildError::Config(errs) => config_error(&errs),
        BuildError::Provider { source, .. } => ApiError::InvalidConfig {
            message: source.message().to_owned(),
            details: provider_problems(&source),
        },
    })
}

/// A provider's own config error as field problems: one per field it names (`config.<field>`),
/// none when it names no field.
pub fn provider_problems(e: &opsdeck_core::Error) -> Vec<FieldProblem> {
    e.fields()
        .iter()
        .map(|f| FieldProblem {
            field: format!("config.{f}"),
            message: e.message().to_owned(),
        })
        .collect()
}

/// Core validation problems as field problems; fields are prefixed with `config.` because that
/// is where they sit in the request body.
pub fn config_problems(errs: &opsdeck_core::ConfigErrors) -> Vec<FieldProblem> {
    errs.problems
        .iter()
        .map(|p| FieldProblem {
            // Keys every service has sit at the top of the request body; provider fields
            // under `config`.
            field: match p.field.as_deref() {
                Some(f @ ("provider" | "tags")) => f.to_owned(),
                Some("interval") => "interval_secs".to_owned(),
                Some(f) => format!("config.{f}"),
                None if p.code == opsdeck_core::config::ProblemCode::InvalidName => {
                    "name".to_owned()
                }
                None => "config".to_owned(),
            },
            message: p.message.clone(),
        })
        .collect()
}

/// Core validation problems as an API error.
pub fn config_error(errs: &opsdeck_core::ConfigErrors) -> ApiError {
    let details = config_problems(errs);
    let message = details
        .iter()
        .map(|d| format!("{}: {}", d.field, d.message))
        .collect::<Vec<_>>()
        .join("; ");
    ApiError::InvalidConfig { message, details }
}

/// The core spec of a stored service: non-secret config plus decrypted secrets.
pub fn spec_of(store: &Store, rec: &ServiceRecord) -> Result<ServiceSpec, ApiError> {
    let mut config = rec.config.clone();
    for (field, value) in store.decrypt_secrets(rec)? {
        config.insert(field, Value::String(value.expose_secret().to_owned()));
    }
    let mut spec = ServiceSpec::new(rec.name.clone(), rec.provider.clone(), RawConfig(config));
    spec.tags = rec.tags.clone();
    spec.enabled = rec.enabled;
    spec.interval = rec
        .interval_secs
        .and_then(|s| u64::try_from(s).ok())
        .map(Duration::from_secs);
    Ok(spec)
}

/// A report as a row for the store.
pub fn result_row(meta: &ServiceMeta, r: &ConnectionReport, instance: &str) -> NewCheckResult {
    NewCheckResult {
        service_id: meta.id,
        config_version: Some(meta.version),
        checked_at: r.checked_at.timestamp_millis(),
        status: r.status,
        failure: r.failure,
        latency_ms: i64::try_from(r.latency_ms).unwrap_or(i64::MAX),
        message: r.message.clone(),
        identity: r.identity.clone(),
        instance: Some(instance.to_owned()),
        hint: r.hint.clone(),
        details: serde_json::to_value(&r.details).ok(),
    }
}
