//! opsdeck provider for AWS (`aws`, infrastructure).
//!
//! - Connection test: STS `GetCallerIdentity` → identity = caller ARN and account. It needs no
//!   IAM permission, so it proves the credentials and nothing more.
//! - Metrics: Cost Explorer `GetCostAndUsage` month-to-date by SERVICE and daily totals for the
//!   last 7 days, and `GetCostForecast` to the end of the month — all UnblendedCost, always in
//!   us-east-1 (Cost Explorer's only endpoint), cached per service for `cost_cache_ttl` because
//!   every Cost Explorer request costs $0.01.
//!
//! Layout: `config.rs` (typed config + field declarations), `client.rs` (the AWS SDK under the
//! shared HTTP policy), `error.rs` (AWS error codes → failure kinds), `cost.rs` (Cost Explorer
//! queries and the cache), `metrics.rs` (metric names and notes), `service.rs` (the service and
//! its category verbs). User documentation: `docs/providers/aws.md`.

#![deny(missing_docs)]

mod client;
mod config;
mod cost;
mod error;
mod metrics;
mod service;
#[cfg(feature = "testing")]
pub mod testing;

pub use client::{AwsClient, COST_EXPLORER_REGION};
pub use config::{
    AwsConfig, AwsConfigBuilder, CredentialSource, DEFAULT_COST_CACHE_TTL, DEFAULT_REGION, FIELDS,
    StaticKeys,
};
pub use error::AwsErrors;
pub use service::{AwsService, CallerIdentity};

use opsdeck_core::{Category, ProviderDescriptor};

/// Provider id, also the Cargo feature name in the facade and binaries.
pub const ID: &str = "aws";

/// The provider's descriptor.
pub const DESCRIPTOR: ProviderDescriptor = ProviderDescriptor::new(ID, "AWS", Category::Infrastructure)
    .description("AWS credentials (STS GetCallerIdentity) and cost from Cost Explorer: month-to-date by service, daily cost, month-end forecast.")
    .docs_url("https://docs.aws.amazon.com/aws-cost-management/latest/APIReference/API_Operations_AWS_Cost_Explorer_Service.html")
    .fields(FIELDS)
    .no_status_page("AWS Health publishes RSS and its own JSON at health.aws.amazon.com, not a Statuspage v2 feed");

opsdeck_core::register_provider!(DESCRIPTOR, AwsService::build);
