//! GitHub App credentials: the app JWT, the installation-token exchange and its cache, and the
//! app-level calls the connection test makes.
//!
//! Every request still goes through the service's [`HttpClient`] (our User-Agent, timeouts,
//! `Retry-After` against the deadline, typed failures, rate-limit headers); only the
//! `Authorization` header differs per request. The JWT is signed with `jsonwebtoken`, the crate
//! and claims octocrab's `auth::create_jwt` uses (RS256, `iat` 60 s in the past, `exp` 9 min
//! ahead), but from the injected clock and with the client ID accepted as `iss`; the token
//! exchange answer is parsed with octocrab's `InstallationToken` model. See docs/decisions.md.

use std::collections::BTreeMap;
use std::sync::Arc;

use chrono::{DateTime, Duration as ChronoDuration, Utc};
use futures::lock::Mutex;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use opsdeck_core::clock::SharedClock;
use opsdeck_core::http::{
    HttpClient, HttpResponse, RequestCtx, VendorError, VendorErrors, Verdict,
};
use opsdeck_core::{Error, FailureKind, Result};
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};

use crate::config::{AppIssuer, GithubApp};
use crate::error::GithubErrors;

/// GitHub: "The time the JWT was created. To protect against clock drift, we recommend that
/// you set this 60 seconds in the past."
pub const JWT_BACKDATE_SECS: i64 = 60;
/// GitHub: "The expiration time of the JWT, after which it can't be used to request an
/// installation token. The time must be no more than 10 minutes into the future." octocrab
/// uses 9 minutes, leaving a minute for clock drift; so do we.
pub const JWT_LIFETIME_SECS: i64 = 9 * 60;
/// An installation token (valid one hour) is replaced when less than this is left, so a
/// collection that starts with it can finish with it.
pub const REFRESH_MARGIN: ChronoDuration = ChronoDuration::minutes(5);
/// When GitHub's answer names no expiry, the token is used for this long at most.
const FALLBACK_LIFETIME: ChronoDuration = ChronoDuration::minutes(10);

#[derive(Serialize)]
#[serde(untagged)]
enum Iss<'a> {
    Id(u64),
    ClientId(&'a str),
}

#[derive(Serialize)]
struct Claims<'a> {
    iat: i64,
    exp: i64,
    iss: Iss<'a>,
}

/// PEM text as users paste it, made parseable: environment files carry the newlines as the two
/// characters `\n`, and single-line form fields drop them or turn them into spaces. The body
/// between the `BEGIN`/`END` lines is rewrapped at 64 characters.
fn pem_text(key: &SecretString) -> String {
    let raw = key.expose_secret().trim().replace("\\n", "\n");
    let Some(begin_end) = raw.find("-----BEGIN ").and_then(|b| {
        let after = b + "-----BEGIN ".len();
        raw[after..].find("-----").map(|e| (b, after + e + 5))
    }) else {
        return raw;
    };
    let (begin, header_end) = begin_end;
    let Some(footer) = raw[header_end..].find("-----END ").map(|f| header_end + f) else {
        return raw;
    };
    let body: String = raw[header_end..footer]
        .chars()
        .filter(|c| !c.is_whitespace())
        .collect();
    let mut out = String::with_capacity(raw.len() + body.len() / 64 + 4);
    out.push_str(&raw[begin..header_end]);
    out.push('\n');
    for chunk in body.as_bytes().chunks(64) {
        out.push_str(&String::from_utf8_lossy(chunk));
        out.push('\n');
    }
    out.push_str(raw[footer..].trim());
    out.push('\n');
    out
}

fn encoding_key(key: &SecretString) -> std::result::Result<EncodingKey, String> {
    EncodingKey::from_rsa_pem(pem_text(key).as_bytes()).map_err(|_| {
        "`private_key` is not an RSA private key in PEM form: paste the whole .pem file the app's settings page generated, from -----BEGIN RSA PRIVATE KEY----- to the END line.".to_owned()
    })
}

/// Config-time check of the private key (no signing).
pub(crate) fn check_private_key(key: &SecretString) -> std::result::Result<(), String> {
    encoding_key(key).map(|_| ())
}

/// Make the build's RS256 signer the process default (idempotent). Exactly one of the
/// `jwt-*` features picks it; the facade turns on the one matching its TLS provider.
fn signer_ready() -> Result<()> {
    #[cfg(feature = "jwt-aws-lc")]
    {
        let _ = jsonwebtoken::crypto::aws_lc::DEFAULT_PROVIDER.install_default();
        Ok(())
    }
    #[cfg(all(feature = "jwt-rust-crypto", not(feature = "jwt-aws-lc")))]
    {
        let _ = jsonwebtoken::crypto::rust_crypto::DEFAULT_PROVIDER.install_default();
        Ok(())
    }
    #[cfg(not(any(feature = "jwt-aws-lc", feature = "jwt-rust-crypto")))]
    {
        Err(Error::invalid_config(
            "This build of opsdeck cannot sign GitHub App tokens: build opsdeck-provider-github with the `jwt-aws-lc` or `jwt-rust-crypto` feature (opsdeck-sdk's TLS features turn one on).",
        ))
    }
}

/// An installation access token and when it stops working.
#[derive(Clone)]
pub struct InstallationToken {
    /// The token (`ghs_…`).
    pub token: SecretString,
    /// Expiry as GitHub stated it (`None` when it did not).
    pub expires_at: Option<DateTime<Utc>>,
    /// The repositories it covers: `all` or `selected`.
    pub repository_selection: Option<String>,
    /// When opsdeck stops using it.
    refresh_at: DateTime<Utc>,
}

impl std::fmt::Debug for InstallationToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("InstallationToken")
            .field("token", &"[REDACTED]")
            .field("expires_at", &self.expires_at)
            .finish_non_exhaustive()
    }
}

/// `GET /app`: the app the JWT authenticates. Lenient on purpose (octocrab's `App` requires
/// `node_id`, `owner`, `external_url`, `html_url`, `permissions` and `events`).
#[derive(Debug, Clone, Deserialize)]
pub struct AppInfo {
    /// The app's numeric ID.
    #[serde(default)]
    pub id: Option<u64>,
    /// URL-safe name; the installation acts as `<slug>[bot]`.
    #[serde(default)]
    pub slug: Option<String>,
    /// Display name.
    #[serde(default)]
    pub name: Option<String>,
}

/// The account an installation belongs to.
#[derive(Debug, Clone, Deserialize)]
pub struct Account {
    /// User or organisation login.
    pub login: String,
    /// `User` or `Organization`.
    #[serde(default, rename = "type")]
    pub kind: Option<String>,
}

/// `GET /app/installations/{id}`. Permissions are a map: GitHub has some thirty (octocrab's
/// `InstallationPermissions` names seven and drops the rest).
#[derive(Debug, Clone, Deserialize)]
pub struct InstallationInfo {
    /// The installation's account.
    #[serde(default)]
    pub account: Option<Account>,
    /// Permission → `read`, `write` or `admin`.
    #[serde(default)]
    pub permissions: BTreeMap<String, String>,
    /// `all` or `selected`.
    #[serde(default)]
    pub repository_selection: Option<String>,
}

/// App credentials bound to one service: signs JWTs, exchanges and caches installation tokens.
pub(crate) struct AppAuth {
    issuer: AppIssuer,
    key: EncodingKey,
    installation_id: u64,
    clock: SharedClock,
    cached: Mutex<Option<InstallationToken>>,
}

impl std::fmt::Debug for AppAuth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AppAuth")
            .field("issuer", &self.issuer)
            .field("installation_id", &self.installation_id)
            .finish_non_exhaustive()
    }
}

fn bearer(token: &str) -> Result<http::HeaderValue> {
    let mut value = http::HeaderValue::from_str(&format!("Bearer {token}")).map_err(|_| {
        Error::invalid_response(
            "GitHub sent an installation token that cannot be sent back in a header.",
        )
    })?;
    value.set_sensitive(true);
    Ok(value)
}

impl AppAuth {
    pub(crate) fn new(app: &GithubApp, clock: SharedClock) -> Result<Arc<Self>> {
        let key = encoding_key(&app.private_key).map_err(Error::invalid_config)?;
        Ok(Arc::new(AppAuth {
            issuer: app.app_id.clone(),
            key,
            installation_id: app.installation_id.0,
            clock,
            cached: Mutex::new(None),
        }))
    }

    /// A fresh app JWT (RS256). Learned by the client's redactor, so an echo is scrubbed.
    pub(crate) fn jwt(&self, http: &HttpClient) -> Result<SecretString> {
        signer_ready()?;
        let now = self.clock.now().timestamp();
        let claims = Claims {
            iat: now - JWT_BACKDATE_SECS,
            exp: now + JWT_LIFETIME_SECS,
            iss: match &self.issuer {
                AppIssuer::Id(id) => Iss::Id(id.0),
                AppIssuer::ClientId(id) => Iss::ClientId(id),
            },
        };
        let jwt = jsonwebtoken::encode(&Header::new(Algorithm::RS256), &claims, &self.key)
            .map_err(|e| {
                Error::invalid_config(format!(
                    "Could not sign the GitHub App JWT with `private_key` ({:?}).",
                    e.kind()
                ))
                .with_hint("Use the RSA private key (.pem) generated on the app's settings page.")
            })?;
        http.vendor().redactor.learn(&jwt);
        Ok(SecretString::from(jwt))
    }

    /// A request authenticated as the app (JWT).
    pub(crate) fn as_app(
        &self,
        http: &HttpClient,
        request: reqwest::RequestBuilder,
    ) -> Result<reqwest::RequestBuilder> {
        let jwt = self.jwt(http)?;
        Ok(request.header(http::header::AUTHORIZATION, bearer(jwt.expose_secret())?))
    }

    /// A request authenticated as the installation, exchanging a token first when the cached
    /// one is missing or close to expiry.
    pub(crate) async fn as_installation(
        &self,
        http: &HttpClient,
        request: reqwest::RequestBuilder,
    ) -> Result<reqwest::RequestBuilder> {
        let token = self.token(http).await?;
        Ok(request.header(
            http::header::AUTHORIZATION,
            bearer(token.token.expose_secret())?,
        ))
    }

    /// The cached installation token, or a new one.
    pub(crate) async fn token(&self, http: &HttpClient) -> Result<InstallationToken> {
        // One exchange at a time: concurrent requests wait for it instead of each buying a token.
        let mut cached = self.cached.lock().await;
        if let Some(t) = cached.as_ref()
            && self.clock.now() < t.refresh_at
        {
            return Ok(t.clone());
        }
        let fresh = self.exchange(http).await?;
        tracing::debug!(
            installation = self.installation_id,
            expires_at = ?fresh.expires_at,
            "github app installation token obtained"
        );
        *cached = Some(fresh.clone());
        Ok(fresh)
    }

    /// Drop the cached token (GitHub rejected it: revoked, or the installation changed).
    pub(crate) async fn forget(&self) {
        *self.cached.lock().await = None;
    }

    /// `POST /app/installations/{id}/access_tokens`.
    async fn exchange(&self, http: &HttpClient) -> Result<InstallationToken> {
        let path = format!("/app/installations/{}/access_tokens", self.installation_id);
        let request = self.as_app(http, http.post(&path)?)?;
        let resp = http.send(request).await?;
        let parsed: octocrab::models::InstallationToken = resp.json()?;
        // octocrab's model holds the token as a plain String (and derives Debug): move it into
        // a SecretString right here and let the model go.
        let token = SecretString::from(parsed.token);
        http.vendor().redactor.learn(token.expose_secret());
        let expires_at = parsed.expires_at.as_deref().and_then(|raw| {
            DateTime::parse_from_rfc3339(raw)
                .ok()
                .map(|t| t.with_timezone(&Utc))
        });
        let now = self.clock.now();
        let refresh_at = match expires_at {
            Some(at) if at - REFRESH_MARGIN > now => at - REFRESH_MARGIN,
            // Already inside the margin (a skewed clock, a short-lived token): use it for half
            // of what is left rather than exchanging on every request.
            Some(at) => now + (at - now).max(ChronoDuration::zero()) / 2,
            None => now + FALLBACK_LIFETIME,
        };
        Ok(InstallationToken {
            token,
            expires_at,
            repository_selection: parsed.repository_selection,
            refresh_at,
        })
    }

    /// `GET /app`.
    pub(crate) async fn app_info(&self, http: &HttpClient) -> Result<AppInfo> {
        let resp = http.send(self.as_app(http, http.get("/app")?)?).await?;
        resp.json()
    }

    /// `GET /app/installations/{id}`.
    pub(crate) async fn installation_info(&self, http: &HttpClient) -> Result<InstallationInfo> {
        let path = format!("/app/installations/{}", self.installation_id);
        let resp = http.send(self.as_app(http, http.get(&path)?)?).await?;
        resp.json()
    }
}

/// GitHub's error conventions for a service on App credentials: the app endpoints' own
/// failures (bad JWT, unknown or removed installation), then the token rules.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct AppErrors;

const KEY_HINT: &str = "Check that `private_key` is a current private key of the app `app_id` names (a key deleted on the app's settings page stops working at once) and that `app_id` is that app's ID or client ID.";

const CLOCK_HINT: &str = "GitHub judged the JWT's times against its own clock: check that this machine's clock is set correctly (NTP); opsdeck backdates `iat` by 60 s and expires it after 9 minutes.";

impl VendorErrors for AppErrors {
    fn classify(
        &self,
        ctx: &RequestCtx<'_>,
        response: &HttpResponse,
        error: &VendorError,
        default: Verdict,
    ) -> Verdict {
        let status = response.status.as_u16();
        let app_path = ctx.relative_path == "/app" || ctx.relative_path.starts_with("/app/");
        let installation_path = ctx.relative_path.starts_with("/app/installations/");
        if app_path && status == 401 {
            let clock = error.message_contains("'Expiration time' claim")
                || error.message_contains("'Issued at' claim")
                || error.message_contains("too far in the future");
            return if clock {
                default
                    .with_kind(FailureKind::InvalidCredentials)
                    .with_summary("GitHub refused the app JWT's issue or expiry time")
                    .with_hint(CLOCK_HINT)
            } else if installation_path && !error.message_contains("JSON web token") {
                revoked(default)
            } else {
                default
                    .with_kind(FailureKind::InvalidCredentials)
                    .with_summary("GitHub could not verify the app JWT: the private key does not belong to this app, or the app ID is wrong")
                    .with_hint(KEY_HINT)
            };
        }
        if installation_path && status == 404 {
            return revoked(default);
        }
        if installation_path && status == 403 && error.message_contains("suspended") {
            return default
                .with_kind(FailureKind::InvalidCredentials)
                .with_summary("The GitHub App installation is suspended")
                .with_hint("Unsuspend the installation (the account's Settings → GitHub Apps → Configure), or use another installation.");
        }
        if ctx.relative_path == "/app" && status == 404 {
            return default
                .with_kind(FailureKind::InvalidCredentials)
                .with_summary("GitHub knows no app with this `app_id`")
                .with_hint(KEY_HINT);
        }
        let verdict = GithubErrors.classify(ctx, response, error, default);
        if status == 401 && !app_path {
            // The token rule's hint talks about personal access tokens.
            return verdict.with_hint("GitHub rejected the installation token opsdeck obtained for the app; the next check exchanges a new one. If this repeats, the installation may have been removed or its access changed.");
        }
        verdict
    }
}

fn revoked(default: Verdict) -> Verdict {
    default
        .with_kind(FailureKind::InvalidCredentials)
        .with_summary("The GitHub App installation was not found: the app was uninstalled from the account, or `installation_id` is wrong")
        .with_hint("Reinstall the app on the account (or open the account's Settings → GitHub Apps → Configure) and set `installation_id` to the number at the end of that page's URL.")
}

/// The connection test on App credentials: the JWT (`GET /app`), the installation
/// (`GET /app/installations/{id}`), the token exchange, and one call with the installation token
/// (`GET /installation/repositories?per_page=1`) to prove it works.
pub(crate) async fn probe(
    client: &crate::client::GithubClient,
    app: &AppAuth,
    config: &crate::config::GithubConfig,
) -> Result<opsdeck_core::Connected> {
    let http = client.http();
    let info = app.app_info(http).await?;
    let installation = app.installation_info(http).await?;
    let token = app.token(http).await?;
    let (repositories, resp) = client.installation_repo_count().await?;

    let host = config.base_url.host_str().unwrap_or("GitHub");
    let slug = info
        .slug
        .clone()
        .or_else(|| info.name.clone())
        .unwrap_or_else(|| app.issuer.to_string());
    let account = installation.account.as_ref().map(|a| a.login.clone());
    let mut message = match info
        .name
        .as_deref()
        .filter(|n| Some(*n) != info.slug.as_deref())
    {
        Some(name) => format!("Authenticated as the GitHub App {name} ({slug})"),
        None => format!("Authenticated as the GitHub App {slug}"),
    };
    match (
        &account,
        installation
            .account
            .as_ref()
            .and_then(|a| a.kind.as_deref()),
    ) {
        (Some(login), Some(kind)) => message.push_str(&format!(", installed on {login} ({kind})")),
        (Some(login), None) => message.push_str(&format!(", installed on {login}")),
        _ => {}
    }
    message.push_str(&format!(" on {host}."));
    let selection = installation
        .repository_selection
        .clone()
        .or_else(|| token.repository_selection.clone());
    match (repositories, selection.as_deref()) {
        (Some(n), Some("all")) => message.push_str(&format!(
            " It can reach all {n} repositories of the account."
        )),
        (Some(n), _) => message.push_str(&format!(" It can reach {n} selected repositories.")),
        _ => {}
    }
    let permissions: Vec<String> = installation
        .permissions
        .iter()
        .map(|(name, level)| format!("{name}:{level}"))
        .collect();
    if permissions.is_empty() {
        message.push_str(" GitHub lists no permissions for the installation.");
    } else {
        message.push_str(&format!(" Permissions: {}.", permissions.join(", ")));
    }
    if let Some(at) = token.expires_at {
        message.push_str(&format!(
            " Installation token valid until {} (renewed automatically).",
            at.format("%Y-%m-%d %H:%M UTC")
        ));
    }

    let mut details = opsdeck_core::status::ReportDetails::default();
    details.scopes = Some(permissions);
    details.rate_limit = resp.rate_limit();
    details.token_expires_at = token.expires_at;
    details.http_status = Some(resp.status.as_u16());
    let extra = &mut details.extra;
    let mut put = |k: &str, v: serde_json::Value| {
        extra.insert(k.to_owned(), v);
    };
    put("auth", "github_app".into());
    put("installation_id", app.installation_id.into());
    if let Some(s) = &info.slug {
        put("app_slug", s.clone().into());
    }
    if let Some(id) = info.id {
        put("app_id", id.into());
    }
    if let Some(a) = &installation.account {
        put("installation_account", a.login.clone().into());
        if let Some(k) = &a.kind {
            put("account_type", k.clone().into());
        }
    }
    if let Some(s) = selection {
        put("repository_selection", s.into());
    }
    if let Some(n) = repositories {
        put("repositories", n.into());
    }
    let identity = match &account {
        Some(login) => format!("{slug} on {login}"),
        None => slug,
    };
    Ok(opsdeck_core::Connected::new(Some(identity), message).with_details(details))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pasted_pem_is_rewrapped() {
        let body = "QUJD".repeat(40);
        let pem = format!(
            "-----BEGIN RSA PRIVATE KEY-----\n{}\n{}\n{}\n-----END RSA PRIVATE KEY-----\n",
            &body[..64],
            &body[64..128],
            &body[128..]
        );
        let expect = pem.clone();
        for pasted in [
            pem.clone(),
            pem.replace('\n', ""),
            pem.replace('\n', " "),
            pem.replace('\n', "\\n"),
        ] {
            assert_eq!(
                pem_text(&SecretString::from(pasted.clone())),
                expect,
                "{pasted:?}"
            );
        }
        assert_eq!(pem_text(&SecretString::from("not a key")), "not a key");
    }
}
