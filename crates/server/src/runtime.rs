//! Live service instances and running checks.
//!
//! A service instance (with its HTTP client) is built once per config version and reused, as the
//! HTTP policy asks. Checks go through core's `ServiceManager`, which applies the timeout and
//! isolates panics; a per-service async mutex makes sure this process never runs two checks of
//! one service at once, whoever asked (scheduler, test, test-all).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use opsdeck_core::config::{RawConfig, ServiceSpec};
use opsdeck_core::registry::BuildError;
use opsdeck_core::{
    BaseService, ManagerOptions, ServiceFactory, ServiceManager, ServiceMetrics, ServiceReport,
};
use opsdeck_store::{NewCheckResult, ServiceRecord, Store};
use secrecy::ExposeSecret;
use serde_json::Value;

use crate::error::{ApiError, FieldProblem};

struct Cached {
    version: i64,
    service: Arc<dyn BaseService>,
}

/// Built services and per-service locks.
pub struct Runtime {
    factory: ServiceFactory,
    options: ManagerOptions,
    cache: Mutex<HashMap<String, Cached>>,
    locks: Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
}

impl std::fmt::Debug for Runtime {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Runtime")
            .field("options", &self.options)
            .finish_non_exhaustive()
    }
}

impl Runtime {
    /// A runtime building services with `factory`.
    pub fn new(factory: ServiceFactory, options: ManagerOptions) -> Self {
        Runtime {
            factory,
            options,
            cache: Mutex::default(),
            locks: Mutex::default(),
        }
    }

    /// The factory (provider list).
    pub fn factory(&self) -> &ServiceFactory {
        &self.factory
    }

    /// The check timeout and concurrency.
    pub fn options(&self) -> ManagerOptions {
        self.options
    }

    fn lock_for(&self, name: &str) -> Arc<tokio::sync::Mutex<()>> {
        let mut locks = self.locks.lock().unwrap_or_else(|p| p.into_inner());
        locks.entry(name.to_owned()).or_default().clone()
    }

    /// Drops the cached instance of a deleted or changed service.
    pub fn forget(&self, name: &str) {
        self.cache
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(name);
        self.locks
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(name);
    }

    /// The instance for a stored service, built on first use and after every config change.
    pub fn instance(
        &self,
        store: &Store,
        rec: &ServiceRecord,
    ) -> Result<Arc<dyn BaseService>, ApiError> {
        if let Some(c) = self
            .cache
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(&rec.name)
            .filter(|c| c.version == rec.version)
        {
            return Ok(c.service.clone());
        }
        let spec = spec_of(store, rec)?;
        let service = build(&self.factory, &spec)?;
        self.cache.lock().unwrap_or_else(|p| p.into_inner()).insert(
            rec.name.clone(),
            Cached {
                version: rec.version,
                service: service.clone(),
            },
        );
        Ok(service)
    }

    fn manager_for(&self, rec: &ServiceRecord, service: Arc<dyn BaseService>) -> ServiceManager {
        let mut m = ServiceManager::new(self.options);
        // A fresh manager has no services, so the only insert error (duplicate name) cannot happen.
        let _ = m.insert(&rec.name, service);
        m.set_enabled(&rec.name, rec.enabled);
        m
    }

    /// Tests one stored service under its lock.
    pub async fn test(
        &self,
        store: &Store,
        rec: &ServiceRecord,
    ) -> Result<ServiceReport, ApiError> {
        let service = self.instance(store, rec)?;
        let lock = self.lock_for(&rec.name);
        let _guard = lock.lock().await;
        let manager = self.manager_for(rec, service);
        manager.test(&rec.name).await.ok_or_else(|| {
            ApiError::Internal(format!("service {} vanished from its manager", rec.name))
        })
    }

    /// Collects one stored service's metrics under its lock.
    pub async fn collect(
        &self,
        store: &Store,
        rec: &ServiceRecord,
    ) -> Result<ServiceMetrics, ApiError> {
        let service = self.instance(store, rec)?;
        let lock = self.lock_for(&rec.name);
        let _guard = lock.lock().await;
        let manager = self.manager_for(rec, service);
        manager.collect(&rec.name).await.ok_or_else(|| {
            ApiError::Internal(format!("service {} vanished from its manager", rec.name))
        })
    }

    /// Tests an unsaved spec (nothing cached, nothing stored).
    pub async fn test_spec(&self, spec: &ServiceSpec) -> Result<ServiceReport, ApiError> {
        let service = build(&self.factory, spec)?;
        let mut m = ServiceManager::new(self.options);
        let _ = m.insert(&spec.name, service);
        m.test(&spec.name)
            .await
            .ok_or_else(|| ApiError::Internal("unsaved service vanished from its manager".into()))
    }
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
            details: Vec::new(),
        },
    })
}

/// Core validation problems as an API error; fields are prefixed with `config.` because that is
/// where they sit in the request body.
pub fn config_error(errs: &opsdeck_core::ConfigErrors) -> ApiError {
    let details: Vec<FieldProblem> = errs
        .problems
        .iter()
        .map(|p| FieldProblem {
            field: match p.field.as_deref() {
                Some("provider") => "provider".to_owned(),
                Some(f) => format!("config.{f}"),
                None => "config".to_owned(),
            },
            message: p.message.clone(),
        })
        .collect();
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
    let mut spec = ServiceSpec::new(&rec.name, &rec.provider, RawConfig(config));
    spec.tags = rec.tags.clone();
    spec.enabled = rec.enabled;
    spec.interval = rec
        .interval_secs
        .and_then(|s| u64::try_from(s).ok())
        .map(std::time::Duration::from_secs);
    Ok(spec)
}

/// A report as a row for the store.
pub fn result_row(service_id: i64, report: &ServiceReport, instance: &str) -> NewCheckResult {
    let r = &report.report;
    NewCheckResult {
        service_id,
        checked_at: r.checked_at.timestamp_millis(),
        status: r.status.as_str().to_owned(),
        failure: r.failure.map(|f| f.as_str().to_owned()),
        latency_ms: i64::try_from(r.latency_ms).unwrap_or(i64::MAX),
        message: r.message.clone(),
        identity: r.identity.clone(),
        instance: Some(instance.to_owned()),
    }
}
