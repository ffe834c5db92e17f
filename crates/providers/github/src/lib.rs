//! # opsdeck-provider-github
//!
//! GitHub and GitHub Enterprise Server for opsdeck (development category): a connection test on
//! `GET /user` that reports the login, token scopes, token expiry and rate-limit headroom; and
//! metrics per repository — open issues, open pull requests, GitHub Actions runs in the last
//! 24 h by conclusion, deployments in the last 7 days — plus rate-limit headroom per bucket.
//!
//! Layout: `config.rs` (typed config + field declarations), `client.rs` (the REST calls and
//! their lenient wire types), `error.rs` (GitHub's error conventions), `metrics.rs` (metric
//! names and labels), `service.rs` (the service, the development verbs and the deployments
//! ability). All HTTP goes through `opsdeck_core::http`, which owns timeouts, retries and the
//! status mapping; this crate adds only what is GitHub-specific.

#![deny(missing_docs)]

mod app;
mod client;
mod config;
mod error;
mod metrics;
mod service;
#[cfg(feature = "testing")]
pub mod testing;

pub use app::{JWT_BACKDATE_SECS, JWT_LIFETIME_SECS};
pub use client::API_VERSION;
pub use config::{
    AppIssuer, DEFAULT_BASE_URL, FIELDS, GithubApp, GithubAuth, GithubConfig, GithubConfigBuilder,
    RepoName,
};
pub use error::GithubErrors;
pub use service::GithubService;

use opsdeck_core::{Category, ProviderDescriptor};

/// Provider id, also the Cargo feature name on the facade and binaries.
pub const ID: &str = "github";

/// The provider's descriptor.
pub const DESCRIPTOR: ProviderDescriptor = ProviderDescriptor::new(ID, "GitHub", Category::Development)
    .description("GitHub.com or GitHub Enterprise Server: token check (login, scopes, expiry), open issues and pull requests, Actions runs, deployments and rate-limit headroom.")
    .docs_url("https://docs.github.com/rest")
    .fields(FIELDS)
    .status_page("https://www.githubstatus.com");

opsdeck_core::register_provider!(DESCRIPTOR, GithubService::build);
