//! opsdeck provider for [Vercel](https://vercel.com) (infrastructure category).
//!
//! The connection test reads the token's user (`GET /v2/user`) and, when a team is configured,
//! the team (`GET /v2/teams/{id}`). Metrics: deployments of the last 24 hours by state
//! (`GET /v6/deployments`, paged through `pagination.next` → `until`), the number of projects
//! (`GET /v10/projects`) and month-to-date billed cost from the FOCUS billing export
//! (`GET /v1/billing/charges`, newline-delimited JSON), summed exactly.
//!
//! Layout: `config.rs` (fields, typed config), `client.rs` (wire types, paging, FOCUS
//! parsing), `error.rs` (Vercel error mapping), `service.rs` (service, metrics, verbs).

#![deny(missing_docs)]

mod client;
mod config;
mod error;
mod service;
#[cfg(feature = "testing")]
pub mod testing;

pub use config::{FIELDS, VercelConfig, VercelConfigBuilder};
pub use service::VercelService;

use opsdeck_core::{Category, ProviderDescriptor};

/// Provider id, also the Cargo feature name.
pub const ID: &str = "vercel";

/// The provider's descriptor.
pub const DESCRIPTOR: ProviderDescriptor = ProviderDescriptor::new(ID, "Vercel", Category::Infrastructure)
    .description("Deployments of the last 24 hours by state, projects, and month-to-date billed cost of a Vercel account or team.")
    .docs_url("https://github.com/opsdeck/opsdeck/blob/main/docs/providers/vercel.md")
    .fields(FIELDS)
    .status_page("https://www.vercel-status.com");

opsdeck_core::register_provider!(DESCRIPTOR, VercelService::build);
