//! opsdeck provider for [Railway](https://railway.com), spoken through Railway's public GraphQL
//! API (`POST https://backboard.railway.com/graphql/v2`).
//!
//! Layout, as in every provider crate: `config.rs` (typed config + field declarations),
//! `error.rs` (how Railway's answers map to failure kinds — GraphQL reports most failures inside
//! an HTTP 200 body), `client.rs` (the GraphQL envelope over the shared HTTP client),
//! `queries.rs` (every query document opsdeck sends, checked against Railway's schema),
//! `service.rs` (probe, category verbs) and `metrics.rs` (metric assembly), plus the
//! registration below.

#![deny(missing_docs)]

mod client;
mod config;
mod error;
mod metrics;
pub mod queries;
mod service;
#[cfg(feature = "testing")]
pub mod testing;

pub use config::{FIELDS, RailwayConfig, RailwayConfigBuilder, TokenKind};
pub use service::RailwayService;

use opsdeck_core::{Category, ProviderDescriptor};

/// Provider id, also the Cargo feature name.
pub const ID: &str = "railway";

/// The provider's descriptor.
pub const DESCRIPTOR: ProviderDescriptor = ProviderDescriptor::new(ID, "Railway", Category::Infrastructure)
    .description("Railway projects, services, deployments in the last 24 h by status, and usage cost for the current billing period.")
    .docs_url("https://docs.railway.com/integrations/api")
    .fields(FIELDS)
    .no_status_page("status.railway.com is Railway's in-house page without a Statuspage v2 feed");

opsdeck_core::register_provider!(DESCRIPTOR, RailwayService::build);
