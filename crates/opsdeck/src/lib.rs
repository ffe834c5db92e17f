//! # opsdeck
//!
//! Test the connections to the SaaS and cloud services a team runs on — GitHub, Jira, OpenAI,
//! Railway, AWS, Claude, Gemini, Vercel, Datadog, Stripe — and collect their metrics.
//!
//! The package is `opsdeck-sdk` (the name `opsdeck` on crates.io belongs to another project);
//! the library is imported as `opsdeck`. It enables no provider by default: name exactly what
//! you compile, one Cargo feature per provider id, or a group (`ai`, `development`,
//! `project-management`, `infrastructure`, `observability`, `billing`, `all`):
//!
//! ```toml
//! [dependencies]
//! opsdeck-sdk = { version = "0.2", features = ["github"] }
//! tokio = { version = "1", features = ["macros", "rt-multi-thread"] }
//! ```
//!
//! **Runtime.** opsdeck is async and runs on Tokio with timers and I/O enabled
//! (`#[tokio::main]`, or a runtime built with `enable_all()`); a runtime without them is
//! reported as a configuration error on each check, not a crash.
//!
//! **TLS.** The default `tls-aws-lc` feature uses rustls with aws-lc-rs, which needs a C
//! compiler to build. Without AWS, `default-features = false, features = ["github",
//! "tls-graviola"]` builds with rustc alone (x86_64 with AVX2, or aarch64).
//!
//! ## A service in code
//!
//! Each provider has a typed config builder, checked exactly like `opsdeck.toml` (every
//! problem at once):
//!
//! ```no_run
//! # #[cfg(feature = "github")]
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! use opsdeck::providers::github::GithubConfig;
//! use opsdeck::{ManagerOptions, ServiceManager, ServiceSpec};
//!
//! let factory = opsdeck::factory()?;
//! let github = GithubConfig::builder().token(std::env::var("GITHUB_TOKEN")?).org("acme");
//! let spec = ServiceSpec::builder("gh-main", github).tags(["platform"]).build()?;
//! let manager = ServiceManager::from_specs(&factory, &[spec], ManagerOptions::default())?;
//! for r in manager.test_all().await {
//!     println!("{}: {} — {}", r.service, r.report.status, r.report.message);
//! }
//! # Ok(()) }
//! ```
//!
//! ## Services from `opsdeck.toml`
//!
//! ```no_run
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! let factory = opsdeck::factory()?;
//! let loaded = factory.loader().load_file("opsdeck.toml")?; // every problem at once
//! let manager =
//!     opsdeck::ServiceManager::from_specs(&factory, &loaded.services, Default::default())?;
//! for report in manager.test_all().await {
//!     println!("{}: {}", report.service, report.report.status);
//! }
//! # Ok(()) }
//! ```
//!
//! More in `examples/` of this crate: streaming results, cross-provider questions (AI spend,
//! deployments), writing your own provider. Types that come from other crates are re-exported
//! (`Value`, `Map`, `Url`, `StreamExt`, `SecretString`, and the `chrono`, `serde_json`, `url`,
//! `futures` crates), so nothing else needs adding to `Cargo.toml`.

#![deny(missing_docs)]

pub use opsdeck_core::*;

/// The provider crates compiled into this build.
///
/// Naming each crate here is also what links it: without a reference, a provider crate is not
/// linked and its `inventory` registration silently disappears.
pub mod providers {
    #[cfg(feature = "aws")]
    pub use opsdeck_provider_aws as aws;
    #[cfg(feature = "azure_openai")]
    pub use opsdeck_provider_azure_openai as azure_openai;
    #[cfg(feature = "claude")]
    pub use opsdeck_provider_claude as claude;
    #[cfg(feature = "datadog")]
    pub use opsdeck_provider_datadog as datadog;
    #[cfg(feature = "gemini")]
    pub use opsdeck_provider_gemini as gemini;
    #[cfg(feature = "github")]
    pub use opsdeck_provider_github as github;
    #[cfg(feature = "jira")]
    pub use opsdeck_provider_jira as jira;
    #[cfg(feature = "openai")]
    pub use opsdeck_provider_openai as openai;
    #[cfg(feature = "railway")]
    pub use opsdeck_provider_railway as railway;
    #[cfg(feature = "stripe")]
    pub use opsdeck_provider_stripe as stripe;
    #[cfg(feature = "vercel")]
    pub use opsdeck_provider_vercel as vercel;
}

/// Ids of the providers enabled by Cargo features, sorted.
pub const ENABLED_PROVIDERS: &[&str] = &[
    #[cfg(feature = "aws")]
    "aws",
    #[cfg(feature = "azure_openai")]
    "azure_openai",
    #[cfg(feature = "claude")]
    "claude",
    #[cfg(feature = "datadog")]
    "datadog",
    #[cfg(feature = "gemini")]
    "gemini",
    #[cfg(feature = "github")]
    "github",
    #[cfg(feature = "jira")]
    "jira",
    #[cfg(feature = "openai")]
    "openai",
    #[cfg(feature = "railway")]
    "railway",
    #[cfg(feature = "stripe")]
    "stripe",
    #[cfg(feature = "vercel")]
    "vercel",
];

/// Log directives every binary applies on top of `RUST_LOG`/`-v`: third-party SDK targets that
/// print credential identifiers in their own DEBUG/TRACE output (the AWS SDK logs the resolved
/// identity, including the access key id, and the SigV4 signing input) are capped at `info`, so
/// that no log line at any level carries a configured secret.
pub const QUIET_LOG_DIRECTIVES: &[&str] = &[
    #[cfg(feature = "aws")]
    "aws_smithy_runtime=info",
    #[cfg(feature = "aws")]
    "aws_smithy_runtime_api=info",
    #[cfg(feature = "aws")]
    "aws_sigv4=info",
    #[cfg(feature = "aws")]
    "aws_config=info",
    #[cfg(feature = "aws")]
    "aws_credential_types=info",
];

/// A factory over every registered provider (see [`ServiceFactory::from_registry`]).
///
/// ```
/// let factory = opsdeck::factory()?;
/// assert_eq!(factory.ids(), opsdeck::ENABLED_PROVIDERS);
/// # Ok::<(), opsdeck::registry::RegistryError>(())
/// ```
pub fn factory() -> Result<ServiceFactory, registry::RegistryError> {
    ServiceFactory::from_registry()
}

#[cfg(test)]
mod tests {
    #[test]
    fn registered_ids_equal_enabled_features() {
        let factory = super::factory().unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(factory.ids(), super::ENABLED_PROVIDERS);
    }

    /// Core names the first-party providers (to say which feature enables one); that list and
    /// this crate's provider features must not drift apart.
    #[test]
    fn core_knows_every_provider_feature() {
        let manifest = include_str!("../Cargo.toml");
        let doc: toml::Table = manifest.parse().unwrap_or_else(|e| panic!("{e}"));
        let mut features: Vec<&str> = doc["features"]
            .as_table()
            .unwrap_or_else(|| panic!("no [features]"))
            .iter()
            .filter(|(_, deps)| {
                deps.as_array().is_some_and(|d| {
                    d.iter().any(|v| {
                        v.as_str()
                            .is_some_and(|s| s.starts_with("dep:opsdeck-provider-"))
                    })
                })
            })
            .map(|(name, _)| name.as_str())
            .collect();
        features.sort_unstable();
        assert_eq!(features, opsdeck_core::registry::FIRST_PARTY_PROVIDERS);
    }
}
