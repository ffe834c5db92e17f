//! # opsdeck-provider-openai
//!
//! The OpenAI provider (AI category). The connection test calls `GET /models` with the
//! configured `api_key` and, when an organization Admin key (`admin_key`) is configured, makes a
//! one-bucket `GET /organization/costs` call and reports separately whether usage and cost
//! collection will work. Metrics: the number of models the key sees; with the Admin key, cost per
//! line item and project (`/organization/costs`) and tokens and requests per model
//! (`/organization/usage/completions`), following `next_page` until the window is covered.
//!
//! Layout: `config.rs` (typed config and field declarations), `client.rs` (calls and lenient
//! wire types), `error.rs` (OpenAI's error semantics), `metrics.rs` (exact aggregation),
//! `service.rs` (the service), and the registration below.

#![deny(missing_docs)]

mod client;
mod config;
mod error;
mod metrics;
mod service;
#[cfg(feature = "testing")]
pub mod testing;

pub use config::{DEFAULT_BASE_URL, FIELDS, OpenAiConfig, OpenAiConfigBuilder};
pub use error::{KeyRole, OpenAiErrors, parse_go_duration};
pub use service::{OpenAiService, USAGE_CHECK};

use opsdeck_core::{Category, ProviderDescriptor};

/// Provider id, also the Cargo feature name.
pub const ID: &str = "openai";

/// The provider's descriptor.
pub const DESCRIPTOR: ProviderDescriptor = ProviderDescriptor::new(ID, "OpenAI", Category::Ai)
    .description("OpenAI API key check and available models; organization cost and token usage with an Admin key.")
    .docs_url("https://platform.openai.com/docs/api-reference")
    .fields(FIELDS)
    .status_page("https://status.openai.com");

opsdeck_core::register_provider!(DESCRIPTOR, OpenAiService::build);
