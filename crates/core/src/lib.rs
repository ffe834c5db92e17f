//! # opsdeck-core
//!
//! The service model behind opsdeck: every provider crate implements [`BaseService`] (plus its
//! category trait), declares its config fields in a [`ProviderDescriptor`], and registers
//! itself with [`register_provider!`]. [`ServiceFactory`] lists the registered providers and
//! builds services from validated configs; [`ServiceManager`] runs tests and metric collection
//! concurrently with timeouts and isolation. [`http`] holds the HTTP policy all providers share.
//!
//! This crate depends on no provider and on no HTTP server framework.

#![deny(missing_docs)]

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
pub use metrics::{Metric, MetricProblem, MetricSet, Sections, Unit};
pub use registry::{BuildContext, ProviderRegistration, ServiceFactory};
pub use schema::{Category, FieldKind, FieldSpec, ProviderDescriptor, StatusPage};
pub use service::{
    Ability, AiService, AiUsageSource, BaseService, BillingService, Capability, CostSource,
    DeploymentSource, DevelopmentService, InfrastructureService, ObservabilityService,
    ProjectManagementService, Unavailable, UnavailableKind,
};
pub use status::{Connected, ConnectionReport, FailureKind, RateLimitInfo, ReportDetails, Status};

// Re-exported so providers and the registration macro use the same versions as core, and so
// library users need not add the crates that appear in opsdeck's public types.
pub use async_trait::async_trait;
pub use chrono;
pub use futures;
pub use futures::StreamExt;
pub use inventory;
pub use rust_decimal;
pub use secrecy;
pub use secrecy::SecretString;
pub use serde_json;
pub use serde_json::{Map, Value};
pub use url;
pub use url::Url;

/// Install this build's rustls crypto provider as the process default (aws-lc-rs with the
/// `tls-aws-lc` feature, else graviola with `tls-graviola`). Idempotent, and a provider the
/// program installed itself is kept. Returns whether a process default is in place: without
/// one no HTTPS client can be built, and opsdeck reports that as a configuration error.
pub fn install_crypto_provider() -> bool {
    #[cfg(feature = "tls-aws-lc")]
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    #[cfg(all(feature = "tls-graviola", not(feature = "tls-aws-lc")))]
    let _ = rustls_graviola::default_provider().install_default();
    rustls::crypto::CryptoProvider::get_default().is_some()
}

/// What to say when no TLS provider is compiled in or installed.
pub(crate) const NO_TLS_PROVIDER: &str = "opsdeck was built without a TLS backend: enable the Cargo feature \"tls-aws-lc\" or \"tls-graviola\" (opsdeck-sdk and opsdeck-core), or install a rustls CryptoProvider before building services.";

#[cfg(test)]
mod tests {
    #[test]
    fn the_compiled_tls_provider_installs() {
        assert!(super::install_crypto_provider());
    }
}
