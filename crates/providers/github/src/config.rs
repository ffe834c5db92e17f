//! Typed GitHub configuration and the field declarations it is validated against.

use opsdeck_core::config::{ConfigBuilder, ProviderConfig, RawConfig};
use opsdeck_core::schema::base_url_field;
use opsdeck_core::{
    ConfigErrors, ConfigValues, Error, FieldKind, FieldSpec, ProviderDescriptor, Result,
};
use secrecy::SecretString;
use url::Url;

/// Default API root (GitHub.com). GitHub Enterprise Server uses `https://HOST/api/v3`.
pub const DEFAULT_BASE_URL: &str = "https://api.github.com";

/// Default cap on repositories discovered from an organisation.
pub const DEFAULT_MAX_REPOS: usize = 50;

/// Config fields, in the order users see them.
pub const FIELDS: &[FieldSpec] = &[
    FieldSpec::new(
        "token",
        FieldKind::String,
        "Personal access token (classic or fine-grained) sent as `Authorization: Bearer`. Read-only access is enough; see the docs for the scopes. Give either this or the three GitHub App fields.",
    )
    .label("Access token")
    .secret()
    .env("GITHUB_TOKEN"),
    FieldSpec::new(
        "app_id",
        FieldKind::String,
        "GitHub App: the app's ID (a number) or its client ID (Iv…), from the app's settings page. Used with `private_key` and `installation_id` instead of `token`.",
    )
    .label("GitHub App ID")
    .env("GITHUB_APP_ID")
    .example("123456"),
    FieldSpec::new(
        "private_key",
        FieldKind::String,
        "GitHub App: the app's private key in PEM (-----BEGIN RSA PRIVATE KEY-----…), downloaded from the app's settings page.",
    )
    .label("GitHub App private key")
    .secret()
    .env("GITHUB_APP_PRIVATE_KEY"),
    FieldSpec::new(
        "installation_id",
        // At most 2^53 − 1, so the value survives JavaScript clients (the web UI) exactly.
        FieldKind::Integer { min: 1, max: 9_007_199_254_740_991 },
        "GitHub App: the installation to act as (the number at the end of the installation's settings URL).",
    )
    .label("GitHub App installation ID")
    .env("GITHUB_APP_INSTALLATION_ID")
    .example("45678901"),
    base_url_field(
        DEFAULT_BASE_URL,
        "API root. For GitHub Enterprise Server use https://HOST/api/v3.",
    )
    .example("https://ghe.example.com/api/v3"),
    FieldSpec::new(
        "org",
        FieldKind::String,
        "Organisation whose repositories are monitored when `repos` is empty.",
    )
    .label("Organization")
    .example("acme"),
    FieldSpec::new(
        "repos",
        FieldKind::StringList,
        "Repositories to monitor, as owner/name. Takes precedence over `org`.",
    )
    .label("Repositories")
    .example("acme/api, acme/web"),
    FieldSpec::new(
        "max_repos",
        FieldKind::Integer { min: 1, max: 500 },
        "Most repositories taken from `org` (archived and disabled ones are skipped); the metrics say when the list was cut.",
    )
    .label("Repository limit")
    .default_value("50"),
];

/// A repository named as `owner/name`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct RepoName {
    /// Account or organisation.
    pub owner: String,
    /// Repository name.
    pub name: String,
}

impl RepoName {
    /// Parse `owner/name`; the message says what is accepted.
    pub fn parse(raw: &str) -> Result<Self> {
        let raw = raw.trim();
        let valid_part = |s: &str| {
            !s.is_empty()
                && s.chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
        };
        match raw.split_once('/') {
            Some((owner, name)) if valid_part(owner) && valid_part(name) => Ok(RepoName {
                owner: owner.to_owned(),
                name: name.to_owned(),
            }),
            _ => Err(Error::invalid_config(format!(
                "`repos` entry \"{raw}\" is not a repository name: use owner/name, e.g. \"octocat/hello-world\"."
            ))),
        }
    }

    /// `owner/name`.
    pub fn full_name(&self) -> String {
        format!("{}/{}", self.owner, self.name)
    }
}

impl std::fmt::Display for RepoName {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.owner, self.name)
    }
}

/// How a GitHub service authenticates. `Debug` shows no secret: `SecretString` redacts itself.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum GithubAuth {
    /// A personal access token (classic or fine-grained), sent as `Authorization: Bearer`.
    Token(SecretString),
    /// A GitHub App installation: an app JWT buys short-lived installation tokens.
    App(GithubApp),
}

/// Who signs the app JWT: GitHub accepts the app's numeric ID or its client ID as `iss`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AppIssuer {
    /// The app's numeric ID.
    Id(octocrab::models::AppId),
    /// The app's client ID (`Iv1.…`, `Iv23…`).
    ClientId(String),
}

impl std::fmt::Display for AppIssuer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            AppIssuer::Id(id) => write!(f, "{id}"),
            AppIssuer::ClientId(id) => f.write_str(id),
        }
    }
}

/// GitHub App credentials.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct GithubApp {
    /// The JWT's `iss`.
    pub app_id: AppIssuer,
    /// The app's RSA private key, PEM (PKCS#1 as GitHub issues it, or PKCS#8).
    pub private_key: SecretString,
    /// The installation whose token the service uses.
    pub installation_id: octocrab::models::InstallationId,
}

impl GithubApp {
    /// App credentials; the key is checked when the service is built.
    pub fn new(app_id: AppIssuer, private_key: SecretString, installation_id: u64) -> Self {
        GithubApp {
            app_id,
            private_key,
            installation_id: octocrab::models::InstallationId(installation_id),
        }
    }
}

/// Configuration of one GitHub service. `Debug` shows no secret: `SecretString` redacts itself.
#[derive(Debug, Clone)]
pub struct GithubConfig {
    /// The credentials.
    pub auth: GithubAuth,
    /// API root without a trailing slash requirement (both forms work).
    pub base_url: Url,
    /// Organisation to discover repositories from.
    pub org: Option<String>,
    /// Explicit repositories (wins over `org`).
    pub repos: Vec<RepoName>,
    /// Cap for organisation discovery.
    pub max_repos: usize,
}

impl GithubConfig {
    /// A config for `token` against GitHub.com, with no repositories.
    pub fn new(token: SecretString) -> Result<Self> {
        let base_url = Url::parse(DEFAULT_BASE_URL)
            .map_err(|e| Error::invalid_config(format!("bad default base_url: {e}")))?;
        Ok(GithubConfig {
            auth: GithubAuth::Token(token),
            base_url,
            org: None,
            repos: Vec::new(),
            max_repos: DEFAULT_MAX_REPOS,
        })
    }

    /// From validated values (the registry path). Reports every bad `repos` entry at once.
    pub fn from_values(values: &ConfigValues) -> Result<Self> {
        let mut problems = Vec::new();
        let mut fields: Vec<&'static str> = Vec::new();
        let auth = auth_from_values(values, &mut problems, &mut fields);
        let base_url = values.require("base_url", ConfigValues::url)?.clone();
        let org = values
            .string("org")
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_owned);
        let mut repos = Vec::new();
        for raw in values.list("repos") {
            match RepoName::parse(raw) {
                Ok(r) if !repos.contains(&r) => repos.push(r),
                Ok(_) => {}
                Err(e) => {
                    problems.push(e.message().to_owned());
                    fields.push("repos");
                }
            }
        }
        let auth = match auth {
            Some(auth) if problems.is_empty() => auth,
            _ => return Err(Error::invalid_config(problems.join(" ")).with_fields(fields)),
        };
        let max_repos = values
            .integer("max_repos")
            .and_then(|n| usize::try_from(n).ok())
            .filter(|n| *n > 0)
            .unwrap_or(DEFAULT_MAX_REPOS);
        Ok(GithubConfig {
            auth,
            base_url,
            org,
            repos,
            max_repos,
        })
    }
}

/// The credentials: exactly one of `token` or the three App fields. Every problem is pushed, so
/// the user sees them all at once, with the fields it is about (a form marks them).
fn auth_from_values(
    values: &ConfigValues,
    problems: &mut Vec<String>,
    fields: &mut Vec<&'static str>,
) -> Option<GithubAuth> {
    let token = values.secret("token");
    let app_id = values.string("app_id").map(str::trim);
    let key = values.secret("private_key");
    let installation = values.integer("installation_id");
    let any_app = app_id.is_some() || key.is_some() || installation.is_some();
    match (token, any_app) {
        (Some(_), true) => {
            problems.push("Both `token` and GitHub App fields are set; use one way to authenticate: `token`, or `app_id` + `private_key` + `installation_id`.".to_owned());
            fields.push("token");
            fields.extend(
                [
                    ("app_id", app_id.is_some()),
                    ("private_key", key.is_some()),
                    ("installation_id", installation.is_some()),
                ]
                .into_iter()
                .filter_map(|(name, set)| set.then_some(name)),
            );
            None
        }
        (Some(token), false) => Some(GithubAuth::Token(token.clone())),
        (None, false) => {
            problems.push("No credentials: set `token` (a personal access token), or `app_id` + `private_key` + `installation_id` (a GitHub App installation).".to_owned());
            fields.push("token");
            None
        }
        (None, true) => {
            let missing: Vec<&str> = [
                ("app_id", app_id.is_none()),
                ("private_key", key.is_none()),
                ("installation_id", installation.is_none()),
            ]
            .into_iter()
            .filter_map(|(name, absent)| absent.then_some(name))
            .collect();
            if !missing.is_empty() {
                problems.push(format!(
                    "GitHub App credentials need `app_id`, `private_key` and `installation_id`; missing: {}.",
                    missing.join(", ")
                ));
                fields.extend(&missing);
            }
            let issuer = app_id.and_then(|raw| match parse_issuer(raw) {
                Ok(issuer) => Some(issuer),
                Err(msg) => {
                    problems.push(msg);
                    fields.push("app_id");
                    None
                }
            });
            if let Some(key) = key
                && let Err(msg) = crate::app::check_private_key(key)
            {
                problems.push(msg);
                fields.push("private_key");
            }
            let installation = installation.and_then(|n| u64::try_from(n).ok());
            match (issuer, key, installation) {
                (Some(issuer), Some(key), Some(installation)) => Some(GithubAuth::App(
                    GithubApp::new(issuer, key.clone(), installation),
                )),
                _ => None,
            }
        }
    }
}

/// `app_id`: a positive number, or a client ID (`Iv` followed by letters, digits and dots).
fn parse_issuer(raw: &str) -> std::result::Result<AppIssuer, String> {
    if let Ok(id) = raw.parse::<u64>()
        && id > 0
    {
        return Ok(AppIssuer::Id(octocrab::models::AppId(id)));
    }
    let client_id_like = raw.starts_with("Iv")
        && raw.len() > 4
        && raw.chars().all(|c| c.is_ascii_alphanumeric() || c == '.');
    if client_id_like {
        return Ok(AppIssuer::ClientId(raw.to_owned()));
    }
    Err(format!(
        "`app_id` \"{raw}\" is neither a GitHub App ID (a number such as 123456) nor a client ID (Iv1.… or Iv23…); both are on the app's settings page."
    ))
}

/// Builds a [`GithubConfig`] in code with the same checks as `opsdeck.toml` (every problem at once);
/// it is also the provider config [`ServiceSpec::builder`](opsdeck_core::ServiceSpec::builder)
/// takes. Start with [`GithubConfig::builder`].
#[derive(Debug, Clone)]
#[must_use]
pub struct GithubConfigBuilder(ConfigBuilder);

impl GithubConfig {
    /// A config written in code:
    ///
    /// ```
    /// use opsdeck_provider_github::GithubConfig;
    ///
    /// let config = GithubConfig::builder().token("ghp_example").org("acme").max_repos(20).build()?;
    /// assert_eq!(config.org.as_deref(), Some("acme"));
    /// assert_eq!(config.max_repos, 20);
    ///
    /// // Refused like the same value in opsdeck.toml:
    /// assert_eq!(GithubConfig::builder().base_url("ftp://x").build().unwrap_err().problems.len(), 1);
    /// // A token or GitHub App credentials, exactly one of them:
    /// assert!(GithubConfig::builder().org("acme").build().is_err());
    /// # Ok::<(), opsdeck_core::ConfigErrors>(())
    /// ```
    pub fn builder() -> GithubConfigBuilder {
        GithubConfigBuilder(ConfigBuilder::new(&crate::DESCRIPTOR))
    }
}

impl GithubConfigBuilder {
    /// Personal access token. Secret: kept out of `Debug`.
    pub fn token(self, value: impl Into<SecretString>) -> Self {
        Self(self.0.secret("token", value))
    }

    /// GitHub App credentials instead of a token: the app ID (or client ID), its PEM private key
    /// (secret) and the installation to act as.
    pub fn app(
        self,
        app_id: impl Into<String>,
        private_key: impl Into<SecretString>,
        installation_id: u64,
    ) -> Self {
        Self(
            self.0
                .set("app_id", app_id.into())
                .secret("private_key", private_key)
                .set("installation_id", installation_id),
        )
    }

    /// API root (GitHub Enterprise: `https://HOST/api/v3`). Checked when built, like the config file's value.
    pub fn base_url(self, url: impl AsRef<str>) -> Self {
        Self(self.0.set("base_url", url.as_ref()))
    }

    /// Organisation whose repositories are monitored.
    pub fn org(self, value: impl Into<String>) -> Self {
        Self(self.0.set("org", value.into()))
    }

    /// Repositories as `owner/name`.
    pub fn repos<I, S>(self, items: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        Self(self.0.set_list("repos", items))
    }

    /// Most repositories taken from `org`.
    pub fn max_repos(self, value: u32) -> Self {
        Self(self.0.set("max_repos", value))
    }

    /// Check every field and build the typed config.
    pub fn build(&self) -> std::result::Result<GithubConfig, ConfigErrors> {
        self.0.build_with(GithubConfig::from_values)
    }
}

impl ProviderConfig for GithubConfigBuilder {
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
    fn repo_names_parse_strictly() {
        let ok = RepoName::parse(" octo-cat/hello.world_2 ").unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(ok.full_name(), "octo-cat/hello.world_2");
        for bad in [
            "",
            "octocat",
            "/x",
            "x/",
            "a/b/c",
            "a b/c",
            "https://github.com/a/b",
        ] {
            assert!(RepoName::parse(bad).is_err(), "{bad:?} accepted");
        }
    }
}
