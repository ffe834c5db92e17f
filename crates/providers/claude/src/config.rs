//! Typed configuration of a Claude service and the field declarations it is validated against.

use opsdeck_core::schema::base_url_field;
use opsdeck_core::secrecy::{ExposeSecret, SecretString};
use opsdeck_core::{ConfigValues, FieldKind, FieldSpec, Result};
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
    .required()
    .secret()
    .env("ANTHROPIC_API_KEY"),
    FieldSpec::new(
        "admin_key",
        FieldKind::String,
        "Optional Admin API key (sk-ant-admin01-…) of the organization; enables token usage and cost. Only organization admins can create one.",
    )
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
