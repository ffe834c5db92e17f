//! Typed configuration of a Jira Cloud service and the field declarations it is validated
//! against. Also decides which host the API calls go to: the site itself (classic API tokens)
//! or the Atlassian API gateway (scoped and service-account tokens, selected by `cloud_id`).

use opsdeck_core::config::{ConfigBuilder, ProviderConfig, RawConfig};
use opsdeck_core::secrecy::SecretString;
use opsdeck_core::{
    ConfigErrors, ConfigValues, Error, FieldKind, FieldSpec, ProviderDescriptor, Result,
};
use url::Url;

/// The Atlassian API gateway. Scoped API tokens are only accepted there, under
/// `/ex/jira/{cloudId}` (Atlassian KB "401 Unauthorized error when service account accesses
/// Jira or Confluence API").
pub const DEFAULT_GATEWAY: &str = "https://api.atlassian.com";

/// Config fields.
pub const FIELDS: &[FieldSpec] = &[
    FieldSpec::new(
        "base_url",
        FieldKind::Url,
        "Your Jira Cloud site, e.g. https://acme.atlassian.net. With cloud_id set, API calls go to the Atlassian gateway instead and this is only used in messages.",
    )
    .label("Site URL")
    .required()
    .example("https://acme.atlassian.net"),
    FieldSpec::new(
        "email",
        FieldKind::String,
        "Email address of the Atlassian account the API token belongs to (the HTTP Basic user name).",
    )
    .label("Account email")
    .required()
    .env("JIRA_EMAIL")
    .example("ops@acme.com"),
    FieldSpec::new(
        "api_token",
        FieldKind::String,
        "Atlassian API token (id.atlassian.com → Security → API tokens).",
    )
    .label("API token")
    .required()
    .secret()
    .env("JIRA_API_TOKEN"),
    FieldSpec::new(
        "cloud_id",
        FieldKind::String,
        "Cloud id of the site. Set it for scoped API tokens and service-account tokens, which only work through https://api.atlassian.com/ex/jira/{cloud_id}. Shown at https://<site>.atlassian.net/_edge/tenant_info.",
    )
    .label("Cloud ID")
    .example("1a2b3c4d-5e6f-7a8b-9c0d-1e2f3a4b5c6d"),
    FieldSpec::new(
        "gateway_url",
        FieldKind::Url,
        "Address of the Atlassian API gateway used with cloud_id. Change it only for a proxy or a local mock.",
    )
    .label("Gateway URL")
    .default_value(DEFAULT_GATEWAY),
    FieldSpec::new(
        "projects",
        FieldKind::StringList,
        "Project keys to report on (default: every project the account can browse).",
    )
    .label("Projects")
    .example("OPS, WEB"),
    FieldSpec::new(
        "board_id",
        FieldKind::Integer {
            min: 1,
            max: i64::MAX,
        },
        "Id of a Scrum board whose active sprint is reported (the number in the board's URL).",
    )
    .label("Board ID")
    .example("5"),
];

/// Configuration of one Jira Cloud service.
#[derive(Debug, Clone)]
pub struct JiraConfig {
    /// The site, e.g. `https://acme.atlassian.net`.
    pub base_url: Url,
    /// Account email (Basic auth user).
    pub email: String,
    /// API token (Basic auth password).
    pub api_token: SecretString,
    /// Cloud id for gateway access (scoped tokens).
    pub cloud_id: Option<String>,
    /// The Atlassian API gateway.
    pub gateway_url: Url,
    /// Project keys to restrict to; empty means all visible projects.
    pub projects: Vec<String>,
    /// Scrum board whose active sprint to report.
    pub board_id: Option<u64>,
}

impl JiraConfig {
    /// From validated values (the registry path). Checks what the schema cannot express:
    /// characters in `cloud_id` and project keys, which end up in a URL path and in JQL.
    pub fn from_values(values: &ConfigValues) -> Result<Self> {
        let cloud_id = values.string("cloud_id").map(str::trim).map(str::to_owned);
        if let Some(id) = &cloud_id
            && (id.is_empty() || !id.chars().all(|c| c.is_ascii_alphanumeric() || c == '-'))
        {
            return Err(Error::invalid_config(
                "cloud_id must be the site's cloud id (letters, digits and dashes, e.g. 1a2b3c4d-5e6f-…); see https://<site>.atlassian.net/_edge/tenant_info.",
            ).with_fields(["cloud_id"]));
        }
        let projects: Vec<String> = values
            .list("projects")
            .iter()
            .map(|p| p.trim().to_owned())
            .filter(|p| !p.is_empty())
            .collect();
        if let Some(bad) = projects.iter().find(|p| !is_project_key(p)) {
            return Err(Error::invalid_config(format!(
                "projects: \"{bad}\" is not a Jira project key (letters, digits and underscores, e.g. OPS)."
            )).with_fields(["projects"]));
        }
        let board_id = match values.integer("board_id") {
            None => None,
            Some(n) => Some(u64::try_from(n).map_err(|_| {
                Error::invalid_config("board_id must be a positive board number.")
                    .with_fields(["board_id"])
            })?),
        };
        let gateway_url = match values.url("gateway_url") {
            Some(u) => u.clone(),
            None => Url::parse(DEFAULT_GATEWAY)
                .map_err(|e| Error::invalid_config(format!("bad default gateway URL: {e}")))?,
        };
        Ok(JiraConfig {
            base_url: values.require("base_url", ConfigValues::url)?.clone(),
            email: values
                .require("email", ConfigValues::string)?
                .trim()
                .to_owned(),
            api_token: values.require("api_token", ConfigValues::secret)?.clone(),
            cloud_id,
            gateway_url,
            projects,
            board_id,
        })
    }

    /// Where the REST APIs live: the gateway path for scoped tokens, else the site.
    pub fn api_base(&self) -> Result<Url> {
        match &self.cloud_id {
            None => Ok(self.base_url.clone()),
            Some(id) => {
                let raw = format!(
                    "{}/ex/jira/{id}",
                    self.gateway_url.as_str().trim_end_matches('/')
                );
                Url::parse(&raw).map_err(|e| {
                    Error::invalid_config(format!(
                        "gateway_url and cloud_id do not form a URL: {e}"
                    ))
                })
            }
        }
    }

    /// Whether calls go through the Atlassian gateway.
    pub fn via_gateway(&self) -> bool {
        self.cloud_id.is_some()
    }
}

/// Jira project keys are letters, digits and underscores; anything else would have to be
/// escaped in JQL, and is a typo in practice.
fn is_project_key(s: &str) -> bool {
    !s.is_empty() && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// Builds a [`JiraConfig`] in code with the same checks as `opsdeck.toml` (every problem at once);
/// it is also the provider config [`ServiceSpec::builder`](opsdeck_core::ServiceSpec::builder)
/// takes. Start with [`JiraConfig::builder`].
#[derive(Debug, Clone)]
#[must_use]
pub struct JiraConfigBuilder(ConfigBuilder);

impl JiraConfig {
    /// A config written in code:
    ///
    /// ```
    /// use opsdeck_provider_jira::JiraConfig;
    ///
    /// let config = JiraConfig::builder().base_url("https://acme.atlassian.net").email("ops@acme.com").api_token("example").projects(["OPS"]).build()?;
    /// assert_eq!(config.projects, ["OPS"]);
    ///
    /// // Refused like the same value in opsdeck.toml:
    /// assert_eq!(JiraConfig::builder().email("ops@acme.com").build().unwrap_err().problems.len(), 2);
    /// # Ok::<(), opsdeck_core::ConfigErrors>(())
    /// ```
    pub fn builder() -> JiraConfigBuilder {
        JiraConfigBuilder(ConfigBuilder::new(&crate::DESCRIPTOR))
    }
}

impl JiraConfigBuilder {
    /// The Jira Cloud site, e.g. `https://acme.atlassian.net`. Checked when built, like the config file's value.
    pub fn base_url(self, url: impl AsRef<str>) -> Self {
        Self(self.0.set("base_url", url.as_ref()))
    }

    /// Email of the account the token belongs to.
    pub fn email(self, value: impl Into<String>) -> Self {
        Self(self.0.set("email", value.into()))
    }

    /// Atlassian API token. Secret: kept out of `Debug`.
    pub fn api_token(self, value: impl Into<SecretString>) -> Self {
        Self(self.0.secret("api_token", value))
    }

    /// Cloud id (scoped and service-account tokens).
    pub fn cloud_id(self, value: impl Into<String>) -> Self {
        Self(self.0.set("cloud_id", value.into()))
    }

    /// The Atlassian API gateway (proxies, tests). Checked when built, like the config file's value.
    pub fn gateway_url(self, url: impl AsRef<str>) -> Self {
        Self(self.0.set("gateway_url", url.as_ref()))
    }

    /// Project keys to report on.
    pub fn projects<I, S>(self, items: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        Self(self.0.set_list("projects", items))
    }

    /// Scrum board whose active sprint is reported.
    pub fn board_id(self, value: u64) -> Self {
        Self(self.0.set("board_id", value))
    }

    /// Check every field and build the typed config.
    pub fn build(&self) -> std::result::Result<JiraConfig, ConfigErrors> {
        self.0.build_with(JiraConfig::from_values)
    }
}

impl ProviderConfig for JiraConfigBuilder {
    fn descriptor(&self) -> &'static ProviderDescriptor {
        self.0.descriptor()
    }

    fn into_raw(self) -> RawConfig {
        self.0.into_raw()
    }
}
