//! # opsdeck-provider-azure-openai
//!
//! opsdeck provider for Azure OpenAI (category: AI): a resource at
//! `https://<resource>.openai.azure.com`, authenticated with an `api-key` header, every request
//! carrying an `api-version` query parameter.
//!
//! - Connection test: `GET /openai/models?api-version=…` (the models the resource can use:
//!   base models and its fine-tuned ones). With `deployment` set, also
//!   `GET /openai/deployments/{deployment}?api-version=…`; a missing deployment
//!   (`DeploymentNotFound`) fails the check, an API version whose data plane no longer serves
//!   deployment details leaves it unverified, with a note.
//! - Metrics: models available, models that can serve inference, models whose inference
//!   retires within 30 days, and the deployment's state when Azure reports it.
//! - Usage and cost: unavailable by design — they live in Azure Monitor and Azure Cost
//!   Management, not in the data-plane API — and declared so in the capabilities.
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

pub use config::{AzureOpenAiConfig, AzureOpenAiConfigBuilder, DEFAULT_API_VERSION, FIELDS};
pub use service::{AzureOpenAiService, USAGE_UNAVAILABLE};

use opsdeck_core::{Category, ProviderDescriptor};

/// Provider id, also the Cargo feature name.
pub const ID: &str = "azure_openai";

/// The provider's descriptor.
pub const DESCRIPTOR: ProviderDescriptor = ProviderDescriptor::new(ID, "Azure OpenAI", Category::Ai)
    .description("Checks an Azure OpenAI resource's key, endpoint and API version, lists the models it can use and confirms a deployment; usage and cost live in Azure Cost Management, not in this API.")
    .docs_url("https://github.com/opsdeck/opsdeck/blob/main/docs/providers/azure_openai.md")
    .fields(FIELDS)
    .no_status_page("Azure status (azure.status.microsoft) publishes RSS and its own pages, not a Statuspage v2 feed");

opsdeck_core::register_provider!(DESCRIPTOR, AzureOpenAiService::build);
