//! # opsdeck-provider-jira
//!
//! Jira Cloud for opsdeck (project-management category).
//!
//! - Connection test: `GET /rest/api/3/myself` with HTTP Basic `email:api_token`; the identity
//!   is the account's email (or display name when privacy settings hide it).
//! - Metrics: open issues by status category and by project, issues created and resolved in
//!   the last 7 days (`POST /rest/api/3/search/approximate-count`; per-project counts without
//!   configured projects come from the enhanced search `POST /rest/api/3/search/jql`,
//!   `nextPageToken` pagination), and the active sprint of a configured Scrum board
//!   (`GET /rest/agile/1.0/board/{id}/sprint?state=active`).
//! - Scoped API tokens and service-account tokens go through the Atlassian gateway
//!   `https://api.atlassian.com/ex/jira/{cloud_id}` when `cloud_id` is set.
//!
//! Layout: `config.rs` (typed config + fields), `client.rs` (the Jira calls), `jql.rs` (the
//! queries), `error.rs` (Jira's error shapes and status meanings), `service.rs`, `metrics.rs`.

#![deny(missing_docs)]

mod client;
mod config;
mod error;
mod jql;
mod metrics;
mod service;
#[cfg(feature = "testing")]
pub mod testing;

pub use config::{DEFAULT_GATEWAY, FIELDS, JiraConfig, JiraConfigBuilder};
pub use error::JiraErrors;
pub use service::JiraService;

use opsdeck_core::{Category, ProviderDescriptor};

/// Provider id, also the Cargo feature name.
pub const ID: &str = "jira";

/// The provider's descriptor.
pub const DESCRIPTOR: ProviderDescriptor = ProviderDescriptor::new(ID, "Jira Cloud", Category::ProjectManagement)
    .description("Jira Cloud site: credentials check, open issues by status category and project, created/resolved in the last 7 days, and a board's active sprint.")
    .docs_url("https://developer.atlassian.com/cloud/jira/platform/rest/v3/")
    .fields(FIELDS)
    .status_page("https://jira-software.status.atlassian.com");

opsdeck_core::register_provider!(DESCRIPTOR, JiraService::build);
