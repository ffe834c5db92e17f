//! Typed configuration and the field declarations it is validated against.

use opsdeck_core::config::{ConfigBuilder, ProviderConfig, RawConfig};
use opsdeck_core::schema::base_url_field;
use opsdeck_core::{
    ConfigErrors, ConfigValues, Error, FieldKind, FieldSpec, ProviderDescriptor, Result,
};
use secrecy::SecretString;
use url::Url;

/// Railway's public GraphQL endpoint (docs.railway.com, "Public API" → Endpoint).
pub const DEFAULT_ENDPOINT: &str = "https://backboard.railway.com/graphql/v2";

/// Config fields.
pub const FIELDS: &[FieldSpec] = &[
    FieldSpec::new(
        "token",
        FieldKind::String,
        "Railway account, workspace or project token (Account settings → Tokens, or Project settings → Tokens).",
    )
    .label("API token")
    .required()
    .secret()
    .env("RAILWAY_TOKEN"),
    FieldSpec::new(
        "token_kind",
        FieldKind::Enum {
            values: &["account", "workspace", "project"],
        },
        "Which kind of token `token` is. account and workspace tokens are sent as `Authorization: Bearer`, project tokens as `Project-Access-Token`.",
    )
    .label("Token kind")
    .default_value("account"),
    base_url_field(
        DEFAULT_ENDPOINT,
        "The full GraphQL endpoint URL (change it only for a proxy or a mock).",
    ),
];

/// The kind of Railway token, which decides the auth header and the test query.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenKind {
    /// A personal token created with "No workspace": every workspace the user belongs to.
    Account,
    /// A token scoped to one workspace.
    Workspace,
    /// A token scoped to one environment of one project.
    Project,
}

impl TokenKind {
    /// The config spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            TokenKind::Account => "account",
            TokenKind::Workspace => "workspace",
            TokenKind::Project => "project",
        }
    }

    fn parse(raw: &str) -> Result<Self> {
        match raw {
            "account" => Ok(TokenKind::Account),
            "workspace" => Ok(TokenKind::Workspace),
            "project" => Ok(TokenKind::Project),
            other => Err(Error::invalid_config(format!(
                "token_kind must be \"account\", \"workspace\" or \"project\", not \"{other}\"."
            ))
            .with_fields(["token_kind"])),
        }
    }
}

/// Configuration of one Railway service. `Debug` is derived safely: the token is a
/// `SecretString`, which prints as redacted.
#[derive(Debug, Clone)]
pub struct RailwayConfig {
    /// The token.
    pub token: SecretString,
    /// What kind of token it is.
    pub token_kind: TokenKind,
    /// The GraphQL endpoint.
    pub base_url: Url,
}

impl RailwayConfig {
    /// From validated values (the registry path).
    pub fn from_values(values: &ConfigValues) -> Result<Self> {
        Ok(RailwayConfig {
            token: values.require("token", ConfigValues::secret)?.clone(),
            token_kind: TokenKind::parse(values.string("token_kind").unwrap_or("account"))?,
            base_url: values.require("base_url", ConfigValues::url)?.clone(),
        })
    }
}

/// Builds a [`RailwayConfig`] in code with the same checks as `opsdeck.toml` (every problem at once);
/// it is also the provider config [`ServiceSpec::builder`](opsdeck_core::ServiceSpec::builder)
/// takes. Start with [`RailwayConfig::builder`].
#[derive(Debug, Clone)]
#[must_use]
pub struct RailwayConfigBuilder(ConfigBuilder);

impl RailwayConfig {
    /// A config written in code:
    ///
    /// ```
    /// use opsdeck_provider_railway::RailwayConfig;
    ///
    /// let config = RailwayConfig::builder().token("example").token_kind(opsdeck_provider_railway::TokenKind::Project).build()?;
    /// assert_eq!(config.token_kind, opsdeck_provider_railway::TokenKind::Project);
    ///
    /// // Refused like the same value in opsdeck.toml:
    /// assert_eq!(RailwayConfig::builder().base_url("ftp://x").build().unwrap_err().problems.len(), 2);
    /// # Ok::<(), opsdeck_core::ConfigErrors>(())
    /// ```
    pub fn builder() -> RailwayConfigBuilder {
        RailwayConfigBuilder(ConfigBuilder::new(&crate::DESCRIPTOR))
    }
}

impl RailwayConfigBuilder {
    /// Railway API token. Secret: kept out of `Debug`.
    pub fn token(self, value: impl Into<SecretString>) -> Self {
        Self(self.0.secret("token", value))
    }

    /// Which kind of token `token` is.
    pub fn token_kind(self, kind: TokenKind) -> Self {
        Self(self.0.set("token_kind", kind.as_str()))
    }

    /// The GraphQL endpoint (proxies, tests). Checked when built, like the config file's value.
    pub fn base_url(self, url: impl AsRef<str>) -> Self {
        Self(self.0.set("base_url", url.as_ref()))
    }

    /// Check every field and build the typed config.
    pub fn build(&self) -> std::result::Result<RailwayConfig, ConfigErrors> {
        self.0.build_with(RailwayConfig::from_values)
    }
}

impl ProviderConfig for RailwayConfigBuilder {
    fn descriptor(&self) -> &'static ProviderDescriptor {
        self.0.descriptor()
    }

    fn into_raw(self) -> RawConfig {
        self.0.into_raw()
    }
}
