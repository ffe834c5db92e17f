//! Typed configuration of an OpenAI service and the field declarations it is validated against.

use std::fmt;
use std::time::Duration;

use opsdeck_core::schema::base_url_field;
use opsdeck_core::secrecy::SecretString;
use opsdeck_core::{ConfigValues, Error, FieldKind, FieldSpec, Result};
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
    .required()
    .secret()
    .env("OPENAI_API_KEY"),
    FieldSpec::new(
        "admin_key",
        FieldKind::String,
        "Organization Admin key (sk-admin-…), optional. Enables usage and cost metrics: OpenAI serves them only to Admin keys (Usage: Read).",
    )
    .secret()
    .env("OPENAI_ADMIN_KEY"),
    FieldSpec::new(
        "organization",
        FieldKind::String,
        "Organization id sent as OpenAI-Organization with the api_key, for users in several organizations.",
    )
    .example("org-abc123"),
    FieldSpec::new(
        "project",
        FieldKind::String,
        "Project id sent as OpenAI-Project with the api_key (legacy user keys).",
    )
    .example("proj_abc123"),
    FieldSpec::new(
        "metrics_window",
        FieldKind::Duration,
        "How far back usage and cost metrics reach, in whole days (daily buckets).",
    )
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
            ));
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
