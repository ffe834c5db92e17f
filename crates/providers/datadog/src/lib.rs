//! opsdeck provider for [Datadog](https://www.datadoghq.com) (observability category).
//!
//! The connection test validates the API key (`GET /api/v1/validate`) and, when an application
//! key is configured, both keys together (`GET /api/v2/validate_keys`). Metrics (which need the
//! application key): monitors by overall state and muted monitors from the facet counts of
//! `GET /api/v1/monitor/search`, and the estimated month-to-date cost of the organisation
//! (`GET /api/v2/usage/estimated_cost`, parent organisations only).
//!
//! Layout: `config.rs` (fields, sites, typed config), `client.rs` (wire types), `error.rs`
//! (Datadog error mapping, including the wrong-site hint), `service.rs` (service, metrics,
//! verbs).

#![deny(missing_docs)]

mod client;
mod config;
mod error;
mod service;
#[cfg(feature = "testing")]
pub mod testing;

pub use config::{DatadogConfig, DatadogConfigBuilder, FIELDS, SITES};
pub use service::DatadogService;

use opsdeck_core::{Category, ProviderDescriptor};

/// Provider id, also the Cargo feature name.
pub const ID: &str = "datadog";

/// The provider's descriptor.
pub const DESCRIPTOR: ProviderDescriptor = ProviderDescriptor::new(ID, "Datadog", Category::Observability)
    .description("Validates Datadog API and application keys on their site; monitors by state, muted monitors and estimated month-to-date cost.")
    .docs_url("https://github.com/opsdeck/opsdeck/blob/main/docs/providers/datadog.md")
    .fields(FIELDS)
    .status_page("https://status.datadoghq.com");

opsdeck_core::register_provider!(DESCRIPTOR, DatadogService::build);
