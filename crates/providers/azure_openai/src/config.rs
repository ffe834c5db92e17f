//! Typed configuration of an Azure OpenAI service and the field declarations it is validated
//! against.

use opsdeck_core::config::{ConfigBuilder, ProviderConfig, RawConfig};
use opsdeck_core::secrecy::SecretString;
use opsdeck_core::{
    ConfigErrors, ConfigValues, Error, FieldKind, FieldSpec, ProviderDescriptor, Result,
};
use url::Url;

/// The data-plane API version used when none is configured: the newest GA version whose
/// reference documents `GET /openai/models`.
pub const DEFAULT_API_VERSION: &str = "2024-10-21";

/// Config fields.
pub const FIELDS: &[FieldSpec] = &[
    FieldSpec::new(
        "endpoint",
        FieldKind::Url,
        "The resource's endpoint from Azure portal → the Azure OpenAI resource → Keys and Endpoint, e.g. https://my-resource.openai.azure.com (a proxy or test server works too).",
    )
    .label("Endpoint")
    .required()
    .env("AZURE_OPENAI_ENDPOINT")
    .example("https://my-resource.openai.azure.com"),
    FieldSpec::new(
        "api_key",
        FieldKind::String,
        "KEY 1 or KEY 2 of the resource (Keys and Endpoint), sent as the `api-key` header.",
    )
    .label("API key")
    .required()
    .secret()
    .env("AZURE_OPENAI_API_KEY"),
    FieldSpec::new(
        "api_version",
        FieldKind::String,
        "The data-plane API version sent as `api-version` on every request (YYYY-MM-DD, or YYYY-MM-DD-preview).",
    )
    .label("API version")
    .default_value(DEFAULT_API_VERSION),
    FieldSpec::new(
        "deployment",
        FieldKind::String,
        "A deployment name to confirm (the name chosen when the model was deployed, not the model's name).",
    )
    .label("Deployment")
    .example("gpt-4o-prod"),
];

/// Configuration of one Azure OpenAI service. `Debug` never shows the key.
#[derive(Clone)]
pub struct AzureOpenAiConfig {
    /// The resource's endpoint (scheme and host; a path prefix is kept for proxies).
    pub endpoint: Url,
    /// The key, sent as `api-key`.
    pub api_key: SecretString,
    /// `api-version` sent on every request.
    pub api_version: String,
    /// A deployment to confirm.
    pub deployment: Option<String>,
}

impl std::fmt::Debug for AzureOpenAiConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AzureOpenAiConfig")
            .field("endpoint", &self.endpoint.as_str())
            .field("api_key", &"[set]")
            .field("api_version", &self.api_version)
            .field("deployment", &self.deployment)
            .finish()
    }
}

/// `YYYY-MM-DD` with an optional `-preview` suffix.
fn valid_api_version(v: &str) -> bool {
    let date = v.strip_suffix("-preview").unwrap_or(v);
    chrono::NaiveDate::parse_from_str(date, "%Y-%m-%d").is_ok() && date.len() == 10
}

/// Deployment names: letters, digits, `-`, `_` and `.`, at most 64 characters.
fn valid_deployment(d: &str) -> bool {
    !d.is_empty()
        && d.len() <= 64
        && d.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
}

impl AzureOpenAiConfig {
    /// From validated values (the registry path). Every problem is reported at once.
    pub fn from_values(values: &ConfigValues) -> Result<Self> {
        let mut endpoint = values.require("endpoint", ConfigValues::url)?.clone();
        // People paste the URL of an API call or the portal's "…/openai/" form: keep the resource.
        let trimmed = endpoint.path().trim_end_matches('/');
        let trimmed = trimmed
            .strip_suffix("/openai")
            .unwrap_or(trimmed)
            .to_owned();
        endpoint.set_path(&trimmed);
        endpoint.set_query(None);
        let api_key = values.require("api_key", ConfigValues::secret)?.clone();
        let api_version = values
            .string("api_version")
            .map(str::trim)
            .unwrap_or(DEFAULT_API_VERSION)
            .to_owned();
        let deployment = values
            .string("deployment")
            .map(str::trim)
            .filter(|d| !d.is_empty())
            .map(str::to_owned);
        let mut problems = Vec::new();
        let mut fields = Vec::new();
        if !valid_api_version(&api_version) {
            fields.push("api_version");
            problems.push(format!(
                "`api_version` \"{api_version}\" is not an Azure OpenAI API version: use a date such as \"{DEFAULT_API_VERSION}\" (or \"2025-04-01-preview\")."
            ));
        }
        if let Some(d) = &deployment
            && !valid_deployment(d)
        {
            fields.push("deployment");
            problems.push(format!(
                "`deployment` \"{d}\" is not a deployment name: letters, digits, '-', '_' and '.', up to 64 characters."
            ));
        }
        if !problems.is_empty() {
            return Err(Error::invalid_config(problems.join(" ")).with_fields(fields));
        }
        Ok(AzureOpenAiConfig {
            endpoint,
            api_key,
            api_version,
            deployment,
        })
    }
}

/// Builds an [`AzureOpenAiConfig`] in code with the same checks as `opsdeck.toml` (every problem
/// at once); it is also the provider config
/// [`ServiceSpec::builder`](opsdeck_core::ServiceSpec::builder) takes. Start with
/// [`AzureOpenAiConfig::builder`].
#[derive(Debug, Clone)]
#[must_use]
pub struct AzureOpenAiConfigBuilder(ConfigBuilder);

impl AzureOpenAiConfig {
    /// A config written in code:
    ///
    /// ```
    /// use opsdeck_provider_azure_openai::AzureOpenAiConfig;
    ///
    /// let config = AzureOpenAiConfig::builder()
    ///     .endpoint("https://my-resource.openai.azure.com/openai/")
    ///     .api_key("0123456789abcdef0123456789abcdef")
    ///     .deployment("gpt-4o-prod")
    ///     .build()?;
    /// assert_eq!(config.endpoint.as_str(), "https://my-resource.openai.azure.com/");
    /// assert_eq!(config.api_version, "2024-10-21");
    ///
    /// // Refused like the same values in opsdeck.toml:
    /// assert_eq!(AzureOpenAiConfig::builder().endpoint("ftp://x").build().unwrap_err().problems.len(), 2);
    /// # Ok::<(), opsdeck_core::ConfigErrors>(())
    /// ```
    pub fn builder() -> AzureOpenAiConfigBuilder {
        AzureOpenAiConfigBuilder(ConfigBuilder::new(&crate::DESCRIPTOR))
    }
}

impl AzureOpenAiConfigBuilder {
    /// The resource's endpoint. Checked when built, like the config file's value.
    pub fn endpoint(self, url: impl AsRef<str>) -> Self {
        Self(self.0.set("endpoint", url.as_ref()))
    }

    /// KEY 1 or KEY 2. Secret: kept out of `Debug`.
    pub fn api_key(self, value: impl Into<SecretString>) -> Self {
        Self(self.0.secret("api_key", value))
    }

    /// The data-plane API version.
    pub fn api_version(self, value: impl Into<String>) -> Self {
        Self(self.0.set("api_version", value.into()))
    }

    /// A deployment to confirm.
    pub fn deployment(self, value: impl Into<String>) -> Self {
        Self(self.0.set("deployment", value.into()))
    }

    /// Check every field and build the typed config.
    pub fn build(&self) -> std::result::Result<AzureOpenAiConfig, ConfigErrors> {
        self.0.build_with(AzureOpenAiConfig::from_values)
    }
}

impl ProviderConfig for AzureOpenAiConfigBuilder {
    fn descriptor(&self) -> &'static ProviderDescriptor {
        self.0.descriptor()
    }

    fn into_raw(self) -> RawConfig {
        self.0.into_raw()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn api_versions_and_deployment_names() {
        for ok in ["2024-10-21", "2025-04-01-preview"] {
            assert!(valid_api_version(ok), "{ok}");
        }
        for bad in ["2024-10", "latest", "2024-13-01", "v1", "2024-10-21-beta"] {
            assert!(!valid_api_version(bad), "{bad}");
        }
        assert!(valid_deployment("gpt-4o_prod.v2"));
        assert!(!valid_deployment("gpt 4o"));
        assert!(!valid_deployment("a/b"));
    }
}
