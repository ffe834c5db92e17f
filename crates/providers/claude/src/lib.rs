//! # opsdeck-provider-claude
//!
//! opsdeck provider for Anthropic's Claude API (category: AI).
//!
//! - Connection test: `GET /v1/models?limit=1` with the workspace API key; with an Admin API
//!   key also `GET /v1/organizations/me` (identity = organization name), reported as a separate
//!   sub-check so a broken Admin key never hides a working API key.
//! - Metrics: models available; with an Admin key, month-to-date token usage by model from the
//!   Messages usage report and cost from the cost report, whose amounts (decimal strings in
//!   cents) are summed exactly with `rust_decimal`.
//!
//! Layout as in every provider crate: `config.rs`, `client.rs` (calls + wire types),
//! `error.rs` (vendor error mapping), `metrics.rs` (pure conversions), `service.rs`.

#![deny(missing_docs)]

mod client;
mod config;
mod error;
mod metrics;
mod service;
#[cfg(feature = "testing")]
pub mod testing;

pub use client::ANTHROPIC_VERSION;
pub use config::{ClaudeConfig, ClaudeConfigBuilder, DEFAULT_BASE_URL, FIELDS};
pub use service::ClaudeService;

use opsdeck_core::{Category, ProviderDescriptor};

/// Provider id, also the Cargo feature name.
pub const ID: &str = "claude";

/// The provider's descriptor.
pub const DESCRIPTOR: ProviderDescriptor = ProviderDescriptor::new(ID, "Claude (Anthropic)", Category::Ai)
    .description("Checks an Anthropic API key and lists models; with an Admin API key, reports token usage by model and exact cost.")
    .docs_url("https://github.com/opsdeck/opsdeck/blob/main/docs/providers/claude.md")
    .fields(FIELDS)
    .status_page("https://status.anthropic.com");

opsdeck_core::register_provider!(DESCRIPTOR, ClaudeService::build);
