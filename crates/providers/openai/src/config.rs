//! Typed configuration of an OpenAI service and the field declarations it is validated against.

use std::fmt;
use std::time::Duration;

use opsdeck_core::config::{ConfigBuilder, ProviderConfig, RawConfig};
use opsdeck_core::schema::base_url_field;
use opsdeck_core::secrecy::SecretString;
use opsdeck_core::{
    ConfigErrors, ConfigValues, Error, FieldKind, FieldSpec, ProviderDescriptor, Result,
};
use url::Url;

/// The public API root; OpenAI-compatible gateways are configured through `base_url`.
pub const DEFAULT_BASE_URL: &str = "https://api.openai.com/v1";

/// Default span of the usage and cost metrics.
pub const DEFAULT_METRICS_WINDOW: Duration = Duration::from_secs(7 * 24 * 3600);

/// Config fields, in the order `opsdeck providers show openai` lists them.
pub const FIELDS: &[FieldSpec] = &[
    FieldSpec::new(
        "api_key",
        FieldKind::String,
        "Project or user API key (sk-proj-… / sk-…). Checked with GET /models; a restricted key needs Models: Read.",
    )
    .label("API key")
    .required()
    .secret()
    .env("OPENAI_API_KEY"),
    FieldSpec::new(
        "admin_key",
        FieldKind::String,
        "Organization Admin key (sk-admin-…), optional. Enables usage and cost metrics: OpenAI serves them only to Admin keys (Usage: Read).",
    )
    .label("Admin key")
    .secret()
    .env("OPENAI_ADMIN_KEY"),
    FieldSpec::new(
        "organization",
        FieldKind::String,
        "Organization id sent as OpenAI-Organization with the api_key, for users in several organizations.",
    )
    .label("Organization ID")
    .example("org-abc123"),
    FieldSpec::new(
        "project",
        FieldKind::String,
        "Project id sent as OpenAI-Project with the api_key (legacy user keys).",
    )
    .label("Project ID")
    .example("proj_abc123"),
    FieldSpec::new(
        "metrics_window",
        FieldKind::Duration,
        "How far back usage and cost metrics reach, in whole days (daily buckets).",
    )
    .label("Metrics window")
    .default_value("7d"),
    base_url_field(
        DEFAULT_BASE_URL,
        "API root including /v1; point it at an OpenAI-compatible gateway or a mock.",
    ),
];

/// Configuration of one OpenAI service.
#[derive(Clone)]
pub struct OpenAiConfig {
    /// API root, e.g. `https://api.openai.com/v1`.
    pub base_url: Url,
    /// Key for `/models`.
    pub api_key: SecretString,
    /// Admin key for `/organization/*`.
    pub admin_key: Option<SecretString>,
    /// `OpenAI-Organization` header value.
    pub organization: Option<String>,
    /// `OpenAI-Project` header value.
    pub project: Option<String>,
    /// Span of the usage and cost metrics.
    pub metrics_window: Duration,
}

impl fmt::Debug for OpenAiConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Keys are never printed, only whether they are set.
        f.debug_struct("OpenAiConfig")
            .field("base_url", &self.base_url.as_str())
            .field("api_key", &"[set]")
            .field("admin_key", &self.admin_key.as_ref().map(|_| "[set]"))
            .field("organization", &self.organization)
            .field("project", &self.project)
            .field("metrics_window", &self.metrics_window)
            .finish()
    }
}

impl OpenAiConfig {
    /// A config for the public API with only an API key.
    pub fn new(api_key: SecretString) -> Result<Self> {
        let base_url = Url::parse(DEFAULT_BASE_URL)
            .map_err(|e| Error::invalid_config(format!("bad default base_url: {e}")))?;
        Ok(OpenAiConfig {
            base_url,
            api_key,
            admin_key: None,
            organization: None,
            project: None,
            metrics_window: DEFAULT_METRICS_WINDOW,
        })
    }

    /// From validated values (the registry path).
    pub fn from_values(values: &ConfigValues) -> Result<Self> {
        let non_empty = |name: &str| {
            values
                .string(name)
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(str::to_owned)
        };
        let metrics_window = values
            .duration("metrics_window")
            .unwrap_or(DEFAULT_METRICS_WINDOW);
        if metrics_window < Duration::from_secs(24 * 3600) {
            return Err(Error::invalid_config(
                "metrics_window must be at least 1d: OpenAI reports usage and cost in daily buckets.",
            ).with_fields(["metrics_window"]));
        }
        Ok(OpenAiConfig {
            base_url: values.require("base_url", ConfigValues::url)?.clone(),
            api_key: values.require("api_key", ConfigValues::secret)?.clone(),
            admin_key: values.secret("admin_key").cloned(),
            organization: non_empty("organization"),
            project: non_empty("project"),
            metrics_window,
        })
    }
}

/// Builds a [`OpenAiConfig`] in code with the same checks as `opsdeck.toml` (every problem at once);
/// it is also the provider config [`ServiceSpec::builder`](opsdeck_core::ServiceSpec::builder)
/// takes. Start with [`OpenAiConfig::builder`].
#[derive(Debug, Clone)]
#[must_use]
pub struct OpenAiConfigBuilder(ConfigBuilder);

impl OpenAiConfig {
    /// A config written in code:
    ///
    /// ```
    /// use opsdeck_provider_openai::OpenAiConfig;
    ///
    /// let config = OpenAiConfig::builder().api_key("sk-proj-example").metrics_window(std::time::Duration::from_secs(3 * 86_400)).build()?;
    /// assert!(config.admin_key.is_none());
    ///
    /// // Refused like the same value in opsdeck.toml:
    /// assert_eq!(OpenAiConfig::builder().base_url("ftp://x").build().unwrap_err().problems.len(), 2);
    /// # Ok::<(), opsdeck_core::ConfigErrors>(())
    /// ```
    pub fn builder() -> OpenAiConfigBuilder {
        OpenAiConfigBuilder(ConfigBuilder::new(&crate::DESCRIPTOR))
    }
}

impl OpenAiConfigBuilder {
    /// Project or user API key. Secret: kept out of `Debug`.
    pub fn api_key(self, value: impl Into<SecretString>) -> Self {
        Self(self.0.secret("api_key", value))
    }

    /// Organization Admin key (enables usage and cost). Secret: kept out of `Debug`.
    pub fn admin_key(self, value: impl Into<SecretString>) -> Self {
        Self(self.0.secret("admin_key", value))
    }

    /// `OpenAI-Organization` header value.
    pub fn organization(self, value: impl Into<String>) -> Self {
        Self(self.0.set("organization", value.into()))
    }

    /// `OpenAI-Project` header value.
    pub fn project(self, value: impl Into<String>) -> Self {
        Self(self.0.set("project", value.into()))
    }

    /// How far back usage and cost metrics reach (whole days). (Whole seconds.)
    pub fn metrics_window(self, value: std::time::Duration) -> Self {
        Self(self.0.set("metrics_window", value.as_secs()))
    }

    /// API root including `/v1` (gateways, tests). Checked when built, like the config file's value.
    pub fn base_url(self, url: impl AsRef<str>) -> Self {
        Self(self.0.set("base_url", url.as_ref()))
    }

    /// Check every field and build the typed config.
    pub fn build(&self) -> std::result::Result<OpenAiConfig, ConfigErrors> {
        self.0.build_with(OpenAiConfig::from_values)
    }
}

impl ProviderConfig for OpenAiConfigBuilder {
    fn descriptor(&self) -> &'static ProviderDescriptor {
        self.0.descriptor()
    }

    fn into_raw(self) -> RawConfig {
        self.0.into_raw()
    }
}
