//! # opsdeck
//!
//! The crate a library user depends on. It re-exports [`opsdeck_core`] and, behind one Cargo
//! feature per provider (named like the provider id), the provider crates. It enables no
//! provider by default: name exactly what you compile, e.g.
//! `opsdeck = { version = "0.1", features = ["github", "aws"] }`. Group features: `ai`,
//! `development`, `project-management`, `infrastructure`, `observability`, `billing`, `all`.
//!
//! ```no_run
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! let factory = opsdeck::factory()?;
//! let text = std::fs::read_to_string("opsdeck.toml")?;
//! let specs = opsdeck::config::parse_config_file(&text, &|k| std::env::var(k).ok())?;
//! let manager = opsdeck::ServiceManager::from_specs(&factory, &specs, Default::default())?;
//! for report in manager.test_all().await {
//!     println!("{}: {}", report.service, report.report.status);
//! }
//! # Ok(()) }
//! ```

pub use opsdeck_core::*;

/// The provider crates compiled into this build.
///
/// Naming each crate here is also what links it: without a reference, a provider crate is not
/// linked and its `inventory` registration silently disappears.
pub mod providers {
    #[cfg(feature = "aws")]
    pub use opsdeck_provider_aws as aws;
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
}
