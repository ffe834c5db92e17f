//! # opsdeck-core
//!
//! The service model behind opsdeck: every provider crate implements [`BaseService`] (plus its
//! category trait), declares its config fields in a [`ProviderDescriptor`], and registers
//! itself with [`register_provider!`]. [`ServiceFactory`] lists the registered providers and
//! builds services from validated configs; [`ServiceManager`] runs tests and metric collection
//! concurrently with timeouts and isolation. [`http`] holds the HTTP policy all providers share.
//!
//! This crate depends on no provider and on no HTTP server framework.

pub mod clock;
pub mod config;
pub mod deadline;
pub mod domain;
pub mod error;
pub mod http;
pub mod manager;
pub mod metrics;
pub mod registry;
pub mod schema;
pub mod service;
pub mod status;

pub use clock::{Clock, ManualClock, SharedClock, SystemClock};
pub use config::{
    ConfigBuilder, ConfigErrors, ConfigLoader, ConfigProblem, ConfigValue, ConfigValues,
    LoadedConfig, ProblemCode, ProviderConfig, RawConfig, ServiceSpec, split_secrets,
    validate_service_keys,
};
pub use error::{Error, Result};
pub use manager::{
    CrossProviderEntry, ErrorReport, ManagerOptions, ServiceInfo, ServiceManager, ServiceMetrics,
    ServiceReport, collect_guarded, run_guarded,
};
pub use metrics::{Metric, MetricSet, Unit};
pub use registry::{BuildContext, ProviderRegistration, ServiceFactory};
pub use schema::{Category, FieldKind, FieldSpec, ProviderDescriptor};
pub use service::{
    Ability, AiService, AiUsageSource, BaseService, BillingService, Capability, CostSource,
    DeploymentSource, DevelopmentService, InfrastructureService, ObservabilityService,
    ProjectManagementService, Unavailable, UnavailableKind,
};
pub use status::{Connected, ConnectionReport, FailureKind, RateLimitInfo, ReportDetails, Status};

// Re-exported so providers and the registration macro use the same versions as core.
pub use async_trait::async_trait;
pub use inventory;
pub use rust_decimal;
pub use secrecy;

/// Install rustls' aws-lc-rs provider as the process default. Idempotent. Every TLS client in
/// opsdeck selects aws-lc-rs explicitly; this guards against a crate that relies on the process
/// default (which panics when two providers are compiled in).
pub fn install_crypto_provider() {
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
}
