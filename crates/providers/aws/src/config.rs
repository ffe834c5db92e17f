//! Typed configuration of one AWS service and the field declarations it is validated against.
//!
//! Credentials come from exactly one place, named in the config: static keys, a named profile,
//! or — only when `credentials = "default_chain"` says so — the AWS SDK's standard chain (env,
//! profile files incl. SSO and `credential_process`, web identity, ECS, IMDS). Without that
//! opt-in, missing keys are a configuration error: the host's own AWS credentials must never
//! sign requests to whatever `base_url` an admin typed. The combinations that cannot work are
//! refused here, before any network call.

use std::fmt;
use std::time::Duration;

use opsdeck_core::config::{ConfigBuilder, ProviderConfig, RawConfig};
use opsdeck_core::secrecy::SecretString;
use opsdeck_core::{
    ConfigErrors, ConfigValues, Error, FieldKind, FieldSpec, ProviderDescriptor, Result,
};
use url::Url;

/// Region used when none is configured.
pub const DEFAULT_REGION: &str = "us-east-1";

/// Default lifetime of cached Cost Explorer figures. Each Cost Explorer request costs $0.01
/// and AWS refreshes cost data only a few times a day, so 6 h loses little and saves a lot.
pub const DEFAULT_COST_CACHE_TTL: Duration = Duration::from_secs(6 * 3600);

/// Config fields.
pub const FIELDS: &[FieldSpec] = &[
    FieldSpec::new(
        "region",
        FieldKind::String,
        "AWS region for STS and request signing. Cost Explorer is always called in us-east-1.",
    )
    .label("Region")
    .default_value(DEFAULT_REGION)
    .example("eu-west-1"),
    FieldSpec::new(
        "credentials",
        FieldKind::Enum {
            values: &["static", "profile", "default_chain"],
        },
        "Where the credentials come from: \"static\" (access_key_id and secret_access_key), \"profile\" (the named profile), or \"default_chain\" (this machine's AWS credential chain: environment, shared files, SSO, web identity, ECS, instance metadata). Default: static keys, or the profile when one is set; the chain is used only when asked for.",
    )
    .example("default_chain"),
    FieldSpec::new(
        "access_key_id",
        FieldKind::String,
        "Static access key id, with secret_access_key.",
    )
    .label("Access key ID")
    .secret()
    .env("AWS_ACCESS_KEY_ID"),
    FieldSpec::new(
        "secret_access_key",
        FieldKind::String,
        "Static secret access key (with access_key_id).",
    )
    .label("Secret access key")
    .secret()
    .env("AWS_SECRET_ACCESS_KEY"),
    FieldSpec::new(
        "session_token",
        FieldKind::String,
        "Session token for temporary credentials (needs access_key_id and secret_access_key).",
    )
    .label("Session token")
    .secret()
    .env("AWS_SESSION_TOKEN"),
    FieldSpec::new(
        "profile",
        FieldKind::String,
        "Named profile from the shared AWS config/credentials files (cannot be combined with static keys).",
    )
    .label("Profile")
    .example("prod"),
    FieldSpec::new(
        "cost_cache_ttl",
        FieldKind::Duration,
        "How long Cost Explorer figures are reused before asking AWS again (each request costs $0.01). 0s disables the cache.",
    )
    .label("Cost cache lifetime")
    .default_value("6h"),
    FieldSpec::new(
        "base_url",
        FieldKind::Url,
        "Endpoint for every AWS call, for emulators such as LocalStack or moto; when set, the region is only used for signing. Default: the AWS endpoints.",
    )
    .label("Endpoint URL")
    .example("http://127.0.0.1:5000"),
];

/// Static credentials from the config.
#[derive(Clone)]
pub struct StaticKeys {
    /// Access key id.
    pub access_key_id: SecretString,
    /// Secret access key.
    pub secret_access_key: SecretString,
    /// Session token for temporary credentials.
    pub session_token: Option<SecretString>,
}

impl fmt::Debug for StaticKeys {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StaticKeys")
            .field("access_key_id", &"[REDACTED]")
            .field("secret_access_key", &"[REDACTED]")
            .field(
                "session_token",
                &self.session_token.as_ref().map(|_| "[REDACTED]"),
            )
            .finish()
    }
}

/// Where one AWS service's credentials come from.
#[derive(Debug, Clone)]
pub enum CredentialSource {
    /// Static keys from the config.
    Static(StaticKeys),
    /// One named profile of the shared config and credentials files (SSO and
    /// `credential_process` profiles included), and nothing else.
    Profile(String),
    /// The AWS SDK's standard chain: environment, shared files, SSO, web identity, ECS,
    /// instance metadata. Only when the config says `credentials = "default_chain"`.
    DefaultChain,
}

/// Configuration of one AWS service.
#[derive(Debug, Clone)]
pub struct AwsConfig {
    /// Region for STS and signing.
    pub region: String,
    /// Where the credentials come from.
    pub credentials: CredentialSource,
    /// Cost Explorer cache lifetime; zero disables the cache.
    pub cost_cache_ttl: Duration,
    /// Endpoint override for all AWS calls.
    pub base_url: Option<Url>,
}

impl AwsConfig {
    /// From validated values (the registry path). Refuses combinations that cannot work.
    pub fn from_values(values: &ConfigValues) -> Result<Self> {
        let region = values
            .string("region")
            .map(str::trim)
            .filter(|r| !r.is_empty())
            .unwrap_or(DEFAULT_REGION)
            .to_owned();
        if !region
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        {
            return Err(Error::invalid_config(format!(
                "The region {region:?} is not an AWS region name; use e.g. \"us-east-1\" or \"eu-west-1\"."
            )).with_fields(["region"]));
        }
        let id = values.secret("access_key_id").cloned();
        let secret = values.secret("secret_access_key").cloned();
        let token = values.secret("session_token").cloned();
        let profile = values
            .string("profile")
            .map(str::trim)
            .filter(|p| !p.is_empty())
            .map(str::to_owned);
        let keys = match (id, secret) {
            (Some(access_key_id), Some(secret_access_key)) => Some(StaticKeys {
                access_key_id,
                secret_access_key,
                session_token: token,
            }),
            (None, None) if token.is_some() => {
                return Err(Error::invalid_config(
                    "session_token is set without access_key_id and secret_access_key; temporary credentials need all three.",
                ).with_fields(["access_key_id", "secret_access_key"]));
            }
            (None, None) => None,
            (Some(_), None) => {
                return Err(Error::invalid_config(
                    "access_key_id is set but secret_access_key is missing; give both.",
                )
                .with_fields(["secret_access_key"]));
            }
            (None, Some(_)) => {
                return Err(Error::invalid_config(
                    "secret_access_key is set but access_key_id is missing; give both.",
                )
                .with_fields(["access_key_id"]));
            }
        };
        let credentials = match (values.string("credentials"), keys, profile) {
            (_, Some(_), Some(_)) => {
                return Err(Error::invalid_config(
                    "Both static keys and a profile are configured; use one: the keys (access_key_id/secret_access_key) or the profile.",
                ).with_fields(["profile"]));
            }
            (Some("default_chain"), Some(_), _) | (Some("default_chain"), _, Some(_)) => {
                return Err(Error::invalid_config(
                    "credentials = \"default_chain\" takes the credentials from this machine's AWS chain; remove access_key_id/secret_access_key/profile, or choose credentials = \"static\" or \"profile\".",
                ).with_fields(["credentials"]));
            }
            (Some("default_chain"), None, None) => CredentialSource::DefaultChain,
            (Some("profile"), _, None) => {
                return Err(Error::invalid_config(
                    "credentials = \"profile\" needs profile: the name of a profile in the shared AWS config files.",
                ).with_fields(["profile"]));
            }
            (Some("static"), None, _) => {
                return Err(Error::invalid_config(
                    "credentials = \"static\" needs access_key_id and secret_access_key.",
                )
                .with_fields(["access_key_id", "secret_access_key"]));
            }
            (_, Some(keys), None) => CredentialSource::Static(keys),
            (_, None, Some(profile)) => CredentialSource::Profile(profile),
            (_, None, None) => {
                return Err(Error::invalid_config(
                    "No AWS credentials are configured: set access_key_id and secret_access_key (or profile). To use this machine's own AWS credentials (environment, shared files, SSO, instance metadata), set credentials = \"default_chain\" explicitly.",
                ).with_fields(["access_key_id", "secret_access_key"]));
            }
        };
        Ok(AwsConfig {
            region,
            credentials,
            cost_cache_ttl: values
                .duration("cost_cache_ttl")
                .unwrap_or(DEFAULT_COST_CACHE_TTL),
            base_url: values.url("base_url").cloned(),
        })
    }

    /// Every configured secret value, for scrubbing messages. Credentials resolved at run time
    /// (profile, chain) are learned by the client when they are used.
    pub fn secrets(&self) -> Vec<SecretString> {
        let CredentialSource::Static(k) = &self.credentials else {
            return Vec::new();
        };
        let mut out = vec![k.access_key_id.clone(), k.secret_access_key.clone()];
        out.extend(k.session_token.clone());
        out
    }
}

/// Builds a [`AwsConfig`] in code with the same checks as `opsdeck.toml` (every problem at once);
/// it is also the provider config [`ServiceSpec::builder`](opsdeck_core::ServiceSpec::builder)
/// takes. Start with [`AwsConfig::builder`].
#[derive(Debug, Clone)]
#[must_use]
pub struct AwsConfigBuilder(ConfigBuilder);

impl AwsConfig {
    /// A config written in code:
    ///
    /// ```
    /// use opsdeck_provider_aws::AwsConfig;
    ///
    /// let config = AwsConfig::builder().region("eu-west-1").access_key_id("AKIDEXAMPLE").secret_access_key("example").build()?;
    /// assert_eq!(config.region, "eu-west-1");
    ///
    /// // Refused like the same value in opsdeck.toml:
    /// assert_eq!(AwsConfig::builder().access_key_id("AKIDEXAMPLE").build().unwrap_err().problems.len(), 1);
    /// # Ok::<(), opsdeck_core::ConfigErrors>(())
    /// ```
    pub fn builder() -> AwsConfigBuilder {
        AwsConfigBuilder(ConfigBuilder::new(&crate::DESCRIPTOR))
    }
}

impl AwsConfigBuilder {
    /// Region for STS and signing.
    pub fn region(self, value: impl Into<String>) -> Self {
        Self(self.0.set("region", value.into()))
    }

    /// Static access key id (with `secret_access_key`). Secret: kept out of `Debug`.
    pub fn access_key_id(self, value: impl Into<SecretString>) -> Self {
        Self(self.0.secret("access_key_id", value))
    }

    /// Static secret access key. Secret: kept out of `Debug`.
    pub fn secret_access_key(self, value: impl Into<SecretString>) -> Self {
        Self(self.0.secret("secret_access_key", value))
    }

    /// Session token for temporary credentials. Secret: kept out of `Debug`.
    pub fn session_token(self, value: impl Into<SecretString>) -> Self {
        Self(self.0.secret("session_token", value))
    }

    /// Named profile from the shared AWS files.
    pub fn profile(self, value: impl Into<String>) -> Self {
        Self(self.0.set("profile", value.into()))
    }

    /// How long Cost Explorer figures are reused. (Whole seconds.)
    pub fn cost_cache_ttl(self, value: std::time::Duration) -> Self {
        Self(self.0.set("cost_cache_ttl", value.as_secs()))
    }

    /// Endpoint for every AWS call (emulators). Checked when built, like the config file's value.
    pub fn base_url(self, url: impl AsRef<str>) -> Self {
        Self(self.0.set("base_url", url.as_ref()))
    }

    /// Check every field and build the typed config.
    pub fn build(&self) -> std::result::Result<AwsConfig, ConfigErrors> {
        self.0.build_with(AwsConfig::from_values)
    }
}

impl ProviderConfig for AwsConfigBuilder {
    fn descriptor(&self) -> &'static ProviderDescriptor {
        self.0.descriptor()
    }

    fn into_raw(self) -> RawConfig {
        self.0.into_raw()
    }
}
