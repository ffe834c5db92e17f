//! Typed configuration of a Datadog service, the Datadog sites, and the field declarations.

use std::fmt;

use opsdeck_core::config::{ConfigBuilder, ProviderConfig, RawConfig};
use opsdeck_core::secrecy::SecretString;
use opsdeck_core::{
    ConfigErrors, ConfigValues, Error, FieldKind, FieldSpec, ProviderDescriptor, Result,
};
use url::Url;

/// Datadog sites; the API lives at `https://api.<site>` (the `servers` enum of Datadog's
/// OpenAPI description in DataDog/datadog-api-client-rust).
pub const SITES: &[&str] = &[
    "datadoghq.com",
    "us3.datadoghq.com",
    "us5.datadoghq.com",
    "datadoghq.eu",
    "ap1.datadoghq.com",
    "ap2.datadoghq.com",
    "uk1.datadoghq.com",
    "ddog-gov.com",
    "us2.ddog-gov.com",
];

/// Config fields. `base_url` has no default: when absent the site decides the host.
pub const FIELDS: &[FieldSpec] = &[
    FieldSpec::new(
        "api_key",
        FieldKind::String,
        "Datadog API key (Organization Settings → API Keys), sent as DD-API-KEY.",
    )
    .label("API key")
    .required()
    .secret()
    .env("DD_API_KEY"),
    FieldSpec::new(
        "app_key",
        FieldKind::String,
        "Application key (Organization Settings → Application Keys), sent as DD-APPLICATION-KEY. Needed for monitor and cost metrics; scope it to monitors_read (and usage_read, billing_read for cost).",
    )
    .label("Application key")
    .secret()
    .env("DD_APP_KEY"),
    FieldSpec::new(
        "site",
        FieldKind::Enum { values: SITES },
        "The Datadog site your organisation is on (the host you log in to, without app.). Keys only work on their own site.",
    )
    .label("Site")
    .default_value("datadoghq.com"),
    FieldSpec::new(
        "base_url",
        FieldKind::Url,
        "Overrides the API host derived from site (proxies, tests).",
    )
    .label("API URL override")
    .example("https://api.datadoghq.eu"),
];

/// Configuration of one Datadog service. `Debug` never shows the keys.
#[derive(Clone)]
pub struct DatadogConfig {
    /// API key.
    pub api_key: SecretString,
    /// Application key, when configured.
    pub app_key: Option<SecretString>,
    /// The site.
    pub site: String,
    /// The API root actually used.
    pub base_url: Url,
    /// Whether `base_url` was given explicitly (then the site is not what decides the host).
    pub base_url_overridden: bool,
}

impl fmt::Debug for DatadogConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DatadogConfig")
            .field("api_key", &"[REDACTED]")
            .field("app_key", &self.app_key.as_ref().map(|_| "[REDACTED]"))
            .field("site", &self.site)
            .field("base_url", &self.base_url.as_str())
            .finish()
    }
}

impl DatadogConfig {
    /// From validated values (the registry path).
    pub fn from_values(values: &ConfigValues) -> Result<Self> {
        let site = values.string("site").unwrap_or("datadoghq.com").to_owned();
        let (base_url, base_url_overridden) = match values.url("base_url") {
            Some(u) => (u.clone(), true),
            None => {
                let u = Url::parse(&format!("https://api.{site}")).map_err(|e| {
                    Error::invalid_config(format!(
                        "site \"{site}\" does not form a valid host: {e}"
                    ))
                    .with_fields(["site"])
                })?;
                (u, false)
            }
        };
        Ok(DatadogConfig {
            api_key: values.require("api_key", ConfigValues::secret)?.clone(),
            app_key: values.secret("app_key").cloned(),
            site,
            base_url,
            base_url_overridden,
        })
    }

    /// Where requests go, for messages: the site, or the overriding host.
    pub fn target(&self) -> String {
        if self.base_url_overridden {
            format!(
                "{} (base_url)",
                self.base_url.host_str().unwrap_or(self.base_url.as_str())
            )
        } else {
            self.site.clone()
        }
    }
}

/// Builds a [`DatadogConfig`] in code with the same checks as `opsdeck.toml` (every problem at once);
/// it is also the provider config [`ServiceSpec::builder`](opsdeck_core::ServiceSpec::builder)
/// takes. Start with [`DatadogConfig::builder`].
#[derive(Debug, Clone)]
#[must_use]
pub struct DatadogConfigBuilder(ConfigBuilder);

impl DatadogConfig {
    /// A config written in code:
    ///
    /// ```
    /// use opsdeck_provider_datadog::DatadogConfig;
    ///
    /// let config = DatadogConfig::builder().api_key("0123456789abcdef").site("datadoghq.eu").build()?;
    /// assert_eq!(config.base_url.as_str(), "https://api.datadoghq.eu/");
    ///
    /// // Refused like the same value in opsdeck.toml:
    /// assert_eq!(DatadogConfig::builder().site("datadoghq.moon").build().unwrap_err().problems.len(), 2);
    /// # Ok::<(), opsdeck_core::ConfigErrors>(())
    /// ```
    pub fn builder() -> DatadogConfigBuilder {
        DatadogConfigBuilder(ConfigBuilder::new(&crate::DESCRIPTOR))
    }
}

impl DatadogConfigBuilder {
    /// Datadog API key. Secret: kept out of `Debug`.
    pub fn api_key(self, value: impl Into<SecretString>) -> Self {
        Self(self.0.secret("api_key", value))
    }

    /// Application key (monitors and cost). Secret: kept out of `Debug`.
    pub fn app_key(self, value: impl Into<SecretString>) -> Self {
        Self(self.0.secret("app_key", value))
    }

    /// The Datadog site, e.g. `datadoghq.eu`.
    pub fn site(self, value: impl Into<String>) -> Self {
        Self(self.0.set("site", value.into()))
    }

    /// Overrides the API host derived from the site. Checked when built, like the config file's value.
    pub fn base_url(self, url: impl AsRef<str>) -> Self {
        Self(self.0.set("base_url", url.as_ref()))
    }

    /// Check every field and build the typed config.
    pub fn build(&self) -> std::result::Result<DatadogConfig, ConfigErrors> {
        self.0.build_with(DatadogConfig::from_values)
    }
}

impl ProviderConfig for DatadogConfigBuilder {
    fn descriptor(&self) -> &'static ProviderDescriptor {
        self.0.descriptor()
    }

    fn into_raw(self) -> RawConfig {
        self.0.into_raw()
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use opsdeck_core::ConfigValue;

    use super::*;

    fn values(pairs: &[(&str, ConfigValue)]) -> ConfigValues {
        ConfigValues::from_map(
            pairs
                .iter()
                .map(|(k, v)| ((*k).to_owned(), v.clone()))
                .collect::<BTreeMap<_, _>>(),
        )
    }

    #[test]
    fn the_site_decides_the_host_unless_base_url_overrides_it() {
        let key = ConfigValue::Secret(SecretString::from("0123456789abcdef"));
        let c = DatadogConfig::from_values(&values(&[
            ("api_key", key.clone()),
            ("site", ConfigValue::String("datadoghq.eu".into())),
        ]))
        .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(c.base_url.as_str(), "https://api.datadoghq.eu/");
        assert_eq!(c.target(), "datadoghq.eu");
        assert!(!format!("{c:?}").contains("0123456789abcdef"));

        let c = DatadogConfig::from_values(&values(&[
            ("api_key", key),
            ("site", ConfigValue::String("datadoghq.com".into())),
            (
                "base_url",
                ConfigValue::Url(
                    Url::parse("http://127.0.0.1:9999").unwrap_or_else(|e| panic!("{e}")),
                ),
            ),
        ]))
        .unwrap_or_else(|e| panic!("{e}"));
        assert!(c.base_url_overridden);
        assert_eq!(c.target(), "127.0.0.1 (base_url)");
    }
}
