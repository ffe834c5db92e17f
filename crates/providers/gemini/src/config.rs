//! Typed configuration of a Gemini service and the field declarations it is validated against.

use opsdeck_core::config::{ConfigBuilder, ProviderConfig, RawConfig};
use opsdeck_core::schema::base_url_field;
use opsdeck_core::secrecy::SecretString;
use opsdeck_core::{ConfigErrors, ConfigValues, FieldKind, FieldSpec, ProviderDescriptor, Result};
use url::Url;

/// Google's Generative Language API root (opsdeck appends `/v1beta/...`).
pub const DEFAULT_BASE_URL: &str = "https://generativelanguage.googleapis.com";

/// Config fields.
pub const FIELDS: &[FieldSpec] = &[
    FieldSpec::new(
        "api_key",
        FieldKind::String,
        "Gemini API key from Google AI Studio (aistudio.google.com → Get API key).",
    )
    .label("API key")
    .required()
    .secret()
    .env("GEMINI_API_KEY"),
    base_url_field(
        DEFAULT_BASE_URL,
        "API root without the version; change it only for a proxy or a test server.",
    )
    .example(DEFAULT_BASE_URL),
];

/// Configuration of one Gemini service. `Debug` never shows the key.
#[derive(Clone)]
pub struct GeminiConfig {
    /// The API key, sent as `x-goog-api-key` (never in the URL, so it cannot leak into logs).
    pub api_key: SecretString,
    /// API root.
    pub base_url: Url,
}

impl std::fmt::Debug for GeminiConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GeminiConfig")
            .field("api_key", &"[set]")
            .field("base_url", &self.base_url.as_str())
            .finish()
    }
}

impl GeminiConfig {
    /// A config for `api_key` against the default API root.
    pub fn new(api_key: SecretString) -> Result<Self> {
        let base_url = Url::parse(DEFAULT_BASE_URL)
            .map_err(|e| opsdeck_core::Error::invalid_config(format!("bad default URL: {e}")))?;
        Ok(GeminiConfig { api_key, base_url })
    }

    /// From validated values (the registry path).
    pub fn from_values(values: &ConfigValues) -> Result<Self> {
        Ok(GeminiConfig {
            api_key: values.require("api_key", ConfigValues::secret)?.clone(),
            base_url: values.require("base_url", ConfigValues::url)?.clone(),
        })
    }
}

/// Builds a [`GeminiConfig`] in code with the same checks as `opsdeck.toml` (every problem at once);
/// it is also the provider config [`ServiceSpec::builder`](opsdeck_core::ServiceSpec::builder)
/// takes. Start with [`GeminiConfig::builder`].
#[derive(Debug, Clone)]
#[must_use]
pub struct GeminiConfigBuilder(ConfigBuilder);

impl GeminiConfig {
    /// A config written in code:
    ///
    /// ```
    /// use opsdeck_provider_gemini::GeminiConfig;
    ///
    /// let config = GeminiConfig::builder().api_key("AIza-example").build()?;
    /// assert_eq!(config.base_url.as_str(), "https://generativelanguage.googleapis.com/");
    ///
    /// // Refused like the same value in opsdeck.toml:
    /// assert_eq!(GeminiConfig::builder().base_url("ftp://x").build().unwrap_err().problems.len(), 2);
    /// # Ok::<(), opsdeck_core::ConfigErrors>(())
    /// ```
    pub fn builder() -> GeminiConfigBuilder {
        GeminiConfigBuilder(ConfigBuilder::new(&crate::DESCRIPTOR))
    }
}

impl GeminiConfigBuilder {
    /// Gemini API key. Secret: kept out of `Debug`.
    pub fn api_key(self, value: impl Into<SecretString>) -> Self {
        Self(self.0.secret("api_key", value))
    }

    /// API root without the version (proxies, tests). Checked when built, like the config file's value.
    pub fn base_url(self, url: impl AsRef<str>) -> Self {
        Self(self.0.set("base_url", url.as_ref()))
    }

    /// Check every field and build the typed config.
    pub fn build(&self) -> std::result::Result<GeminiConfig, ConfigErrors> {
        self.0.build_with(GeminiConfig::from_values)
    }
}

impl ProviderConfig for GeminiConfigBuilder {
    fn descriptor(&self) -> &'static ProviderDescriptor {
        self.0.descriptor()
    }

    fn into_raw(self) -> RawConfig {
        self.0.into_raw()
    }
}
