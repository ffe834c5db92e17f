//! Typed configuration of a Vercel service and the field declarations it is validated against.

use std::fmt;

use opsdeck_core::config::{ConfigBuilder, ProviderConfig, RawConfig};
use opsdeck_core::schema::base_url_field;
use opsdeck_core::secrecy::SecretString;
use opsdeck_core::{
    ConfigErrors, ConfigValues, Error, FieldKind, FieldSpec, ProviderDescriptor, Result,
};
use url::Url;

/// Config fields.
pub const FIELDS: &[FieldSpec] = &[
    FieldSpec::new(
        "token",
        FieldKind::String,
        "Vercel access token (Account Settings → Tokens), scoped to the account or the team.",
    )
    .label("Access token")
    .required()
    .secret()
    .env("VERCEL_TOKEN"),
    FieldSpec::new(
        "team_id",
        FieldKind::String,
        "Team id (team_…) to act on; sent as the teamId query parameter on deployment, project and billing requests.",
    )
    .label("Team ID")
    .example("team_a1b2c3d4e5"),
    base_url_field("https://api.vercel.com", "Vercel REST API root."),
];

/// Configuration of one Vercel service. `Debug` never shows the token.
#[derive(Clone)]
pub struct VercelConfig {
    /// Access token, sent as `Authorization: Bearer`.
    pub token: SecretString,
    /// Team to act on.
    pub team_id: Option<String>,
    /// API root.
    pub base_url: Url,
}

impl fmt::Debug for VercelConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("VercelConfig")
            .field("token", &"[REDACTED]")
            .field("team_id", &self.team_id)
            .field("base_url", &self.base_url.as_str())
            .finish()
    }
}

impl VercelConfig {
    /// From validated values (the registry path).
    pub fn from_values(values: &ConfigValues) -> Result<Self> {
        let team_id = values
            .string("team_id")
            .map(str::trim)
            .filter(|t| !t.is_empty())
            .map(str::to_owned);
        if let Some(t) = &team_id
            && !t
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
        {
            // The id goes into a URL path (/v2/teams/{id}); refuse anything that would change it.
            return Err(Error::invalid_config(format!(
                "team_id \"{t}\" is not a Vercel team id (expected letters, digits, '_' or '-', e.g. team_a1b2c3); find it in Team Settings → General."
            )).with_fields(["team_id"]));
        }
        Ok(VercelConfig {
            token: values.require("token", ConfigValues::secret)?.clone(),
            team_id,
            base_url: values.require("base_url", ConfigValues::url)?.clone(),
        })
    }
}

/// Builds a [`VercelConfig`] in code with the same checks as `opsdeck.toml` (every problem at once);
/// it is also the provider config [`ServiceSpec::builder`](opsdeck_core::ServiceSpec::builder)
/// takes. Start with [`VercelConfig::builder`].
#[derive(Debug, Clone)]
#[must_use]
pub struct VercelConfigBuilder(ConfigBuilder);

impl VercelConfig {
    /// A config written in code:
    ///
    /// ```
    /// use opsdeck_provider_vercel::VercelConfig;
    ///
    /// let config = VercelConfig::builder().token("example").team_id("team_a1b2c3").build()?;
    /// assert_eq!(config.team_id.as_deref(), Some("team_a1b2c3"));
    ///
    /// // Refused like the same value in opsdeck.toml:
    /// assert_eq!(VercelConfig::builder().token("example").team_id("team a").build().unwrap_err().problems.len(), 1);
    /// # Ok::<(), opsdeck_core::ConfigErrors>(())
    /// ```
    pub fn builder() -> VercelConfigBuilder {
        VercelConfigBuilder(ConfigBuilder::new(&crate::DESCRIPTOR))
    }
}

impl VercelConfigBuilder {
    /// Vercel access token. Secret: kept out of `Debug`.
    pub fn token(self, value: impl Into<SecretString>) -> Self {
        Self(self.0.secret("token", value))
    }

    /// Team id (`team_…`) to act on.
    pub fn team_id(self, value: impl Into<String>) -> Self {
        Self(self.0.set("team_id", value.into()))
    }

    /// Vercel REST API root (proxies, tests). Checked when built, like the config file's value.
    pub fn base_url(self, url: impl AsRef<str>) -> Self {
        Self(self.0.set("base_url", url.as_ref()))
    }

    /// Check every field and build the typed config.
    pub fn build(&self) -> std::result::Result<VercelConfig, ConfigErrors> {
        self.0.build_with(VercelConfig::from_values)
    }
}

impl ProviderConfig for VercelConfigBuilder {
    fn descriptor(&self) -> &'static ProviderDescriptor {
        self.0.descriptor()
    }

    fn into_raw(self) -> RawConfig {
        self.0.into_raw()
    }
}
