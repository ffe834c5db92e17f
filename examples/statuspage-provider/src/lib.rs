//! Example third-party opsdeck provider: an [Atlassian Statuspage](https://www.atlassianstatus.com)
//! status page (e.g. `https://www.githubstatus.com`). It lives outside `crates/providers`,
//! depends only on `opsdeck-core`, and registers itself with the core macro — exactly what a
//! team does to add an in-house provider (see `docs/adding-a-provider.md`).
//!
//! Layout, as in every provider crate: `config.rs` (typed config + field declarations),
//! `error.rs` (vendor error mapping), `service.rs` (the service and its metrics), and the
//! registration below.

#![deny(missing_docs)]

mod config;
mod error;
mod service;

pub use config::{FIELDS, StatuspageConfig};
pub use service::StatuspageService;

use opsdeck_core::{Category, ProviderDescriptor};

/// Provider id, also the Cargo feature name a facade would use.
pub const ID: &str = "statuspage";

/// The provider's descriptor.
pub const DESCRIPTOR: ProviderDescriptor = ProviderDescriptor::new(
    ID,
    "Statuspage",
    Category::Observability,
)
.description(
    "Overall status, component states and open incidents of a public Atlassian Statuspage page.",
)
.docs_url("https://developer.statuspage.io/#section/Public-API")
.fields(FIELDS);

opsdeck_core::register_provider!(DESCRIPTOR, StatuspageService::build);
