//! Typed configuration of a Claude service and the field declarations it is validated against.

use opsdeck_core::config::{ConfigBuilder, ProviderConfig, RawConfig};
use opsdeck_core::schema::base_url_field;
use opsdeck_core::secrecy::{ExposeSecret, SecretString};
use opsdeck_core::{ConfigErrors, ConfigValues, FieldKind, FieldSpec, ProviderDescriptor, Result};
use url::Url;

/// Anthropic's API root.
pub const DEFAULT_BASE_URL: &str = "https://api.anthropic.com";

/// Prefix of Anthropic Admin API keys. Used only to give better hints; keys are never shown.
pub(crate) const ADMIN_KEY_PREFIX: &str = "sk-ant-admin";

/// Config fields.
pub const FIELDS: &[FieldSpec] = &[
    FieldSpec::new(
        "api_key",
        FieldKind::String,
        "Anthropic API key (sk-ant-api03-…) from Console → Settings → API keys; any workspace.",
    )
    .label("API key")
    .required()
    .secret()
    .env("ANTHROPIC_API_KEY"),
    FieldSpec::new(
        "admin_key",
        FieldKind::String,
        "Optional Admin API key (sk-ant-admin01-…) of the organization; enables token usage and cost. Only organization admins can create one.",
    )
    .label("Admin API key")
    .secret()
    .env("ANTHROPIC_ADMIN_KEY"),
    base_url_field(
        DEFAULT_BASE_URL,
        "API root; change it only for a proxy or a test server.",
    )
    .example(DEFAULT_BASE_URL),
];

/// Configuration of one Claude service. `Debug` shows only whether each key is set.
#[derive(Clone)]
pub struct ClaudeConfig {
    /// Workspace API key, used for the connection test and the model list.
    pub api_key: SecretString,
    /// Organization Admin API key, used for the organization, usage and cost endpoints.
    pub admin_key: Option<SecretString>,
    /// API root.
    pub base_url: Url,
}

impl std::fmt::Debug for ClaudeConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClaudeConfig")
            .field("api_key", &"[set]")
            .field(
                "admin_key",
                &if self.admin_key.is_some() {
                    "[set]"
                } else {
                    "[not set]"
                },
            )
            .field("base_url", &self.base_url.as_str())
            .finish()
    }
}

impl ClaudeConfig {
    /// A config for `api_key` against the default API root.
    pub fn new(api_key: SecretString) -> Result<Self> {
        let base_url = Url::parse(DEFAULT_BASE_URL)
            .map_err(|e| opsdeck_core::Error::invalid_config(format!("bad default URL: {e}")))?;
        Ok(ClaudeConfig {
            api_key,
            admin_key: None,
            base_url,
        })
    }

    /// Add an organization Admin API key (enables usage and cost).
    pub fn with_admin_key(mut self, admin_key: SecretString) -> Self {
        self.admin_key = Some(admin_key);
        self
    }

    /// From validated values (the registry path).
    pub fn from_values(values: &ConfigValues) -> Result<Self> {
        Ok(ClaudeConfig {
            api_key: values.require("api_key", ConfigValues::secret)?.clone(),
            // An empty admin key (e.g. an unset ${VAR} defaulting to "") means "no admin key".
            admin_key: values
                .secret("admin_key")
                .filter(|s| !s.expose_secret().trim().is_empty())
                .cloned(),
            base_url: values.require("base_url", ConfigValues::url)?.clone(),
        })
    }

    /// Whether the configured API key is in fact an Admin key (a common mix-up).
    pub(crate) fn api_key_is_admin(&self) -> bool {
        self.api_key.expose_secret().starts_with(ADMIN_KEY_PREFIX)
    }

    /// Whether the admin key looks like an ordinary API key instead of an Admin key.
    pub(crate) fn admin_key_looks_wrong(&self) -> bool {
        self.admin_key.as_ref().is_some_and(|k| {
            k.expose_secret().starts_with("sk-ant-")
                && !k.expose_secret().starts_with(ADMIN_KEY_PREFIX)
        })
    }
}

/// Builds a [`ClaudeConfig`] in code with the same checks as `opsdeck.toml` (every problem at once);
/// it is also the provider config [`ServiceSpec::builder`](opsdeck_core::ServiceSpec::builder)
/// takes. Start with [`ClaudeConfig::builder`].
#[derive(Debug, Clone)]
#[must_use]
pub struct ClaudeConfigBuilder(ConfigBuilder);

impl ClaudeConfig {
    /// A config written in code:
    ///
    /// ```
    /// use opsdeck_provider_claude::ClaudeConfig;
    ///
    /// let config = ClaudeConfig::builder().api_key("sk-ant-api03-example").admin_key("sk-ant-admin01-example").build()?;
    /// assert!(config.admin_key.is_some());
    ///
    /// // Refused like the same value in opsdeck.toml:
    /// assert_eq!(ClaudeConfig::builder().base_url("not a url").build().unwrap_err().problems.len(), 2);
    /// # Ok::<(), opsdeck_core::ConfigErrors>(())
    /// ```
    pub fn builder() -> ClaudeConfigBuilder {
        ClaudeConfigBuilder(ConfigBuilder::new(&crate::DESCRIPTOR))
    }
}

impl ClaudeConfigBuilder {
    /// Anthropic API key. Secret: kept out of `Debug`.
    pub fn api_key(self, value: impl Into<SecretString>) -> Self {
        Self(self.0.secret("api_key", value))
    }

    /// Organization Admin API key (enables usage and cost). Secret: kept out of `Debug`.
    pub fn admin_key(self, value: impl Into<SecretString>) -> Self {
        Self(self.0.secret("admin_key", value))
    }

    /// API root (proxies, tests). Checked when built, like the config file's value.
    pub fn base_url(self, url: impl AsRef<str>) -> Self {
        Self(self.0.set("base_url", url.as_ref()))
    }

    /// Check every field and build the typed config.
    pub fn build(&self) -> std::result::Result<ClaudeConfig, ConfigErrors> {
        self.0.build_with(ClaudeConfig::from_values)
    }
}

impl ProviderConfig for ClaudeConfigBuilder {
    fn descriptor(&self) -> &'static ProviderDescriptor {
        self.0.descriptor()
    }

    fn into_raw(self) -> RawConfig {
        self.0.into_raw()
    }
}
