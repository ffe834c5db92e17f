//! Typed configuration and the field declarations it is validated against.

use opsdeck_core::schema::base_url_field;
use opsdeck_core::{ConfigValues, Error, FieldKind, FieldSpec, Result};
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
            ))),
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
