//! # opsdeck-provider-gemini
//!
//! opsdeck provider for Google's Gemini API (Generative Language API; category: AI).
//!
//! - Connection test: `GET /v1beta/models?pageSize=1` with `x-goog-api-key`. Google answers a
//!   bad key with HTTP **400** `API_KEY_INVALID`, which is mapped to invalid_credentials.
//! - Metrics: the number of models the key can use and each model's input/output token limits.
//! - Usage and cost: unavailable by design — an API key can read no usage or billing data — and
//!   declared so in the capabilities with the reason and where to look instead.
//!
//! Layout as in every provider crate: `config.rs`, `client.rs` (calls + wire types), `error.rs`
//! (vendor error mapping), `service.rs`.

#![deny(missing_docs)]

mod client;
mod config;
mod error;
mod service;
#[cfg(feature = "testing")]
pub mod testing;

pub use config::{DEFAULT_BASE_URL, FIELDS, GeminiConfig, GeminiConfigBuilder};
pub use service::{GeminiService, USAGE_UNAVAILABLE};

use opsdeck_core::{Category, ProviderDescriptor};

/// Provider id, also the Cargo feature name.
pub const ID: &str = "gemini";

/// The provider's descriptor.
pub const DESCRIPTOR: ProviderDescriptor = ProviderDescriptor::new(ID, "Gemini (Google AI)", Category::Ai)
    .description("Checks a Gemini API key and lists the models it can use with their token limits; usage and cost are not readable with an API key.")
    .docs_url("https://github.com/opsdeck/opsdeck/blob/main/docs/providers/gemini.md")
    .fields(FIELDS)
    .no_status_page("Google publishes status.cloud.google.com/incidents.json and the AI Studio status page in their own formats, not a Statuspage v2 feed");

opsdeck_core::register_provider!(DESCRIPTOR, GeminiService::build);
