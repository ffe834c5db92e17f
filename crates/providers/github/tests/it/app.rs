//! GitHub App credentials against a stand-in that checks the exact requests: the app JWT
//! (RS256, verified with the public half of a key generated for the test run, `iss` = app id,
//! `iat`/`exp` within GitHub's limits), the installation-token exchange, the token cache, and
//! how a wrong key and a removed installation fail.

use std::sync::Arc;
use std::time::Duration as StdDuration;

use chrono::{DateTime, Duration, TimeZone, Utc};
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use opsdeck_core::clock::ManualClock;
use opsdeck_core::{BaseService, FailureKind, Status};
use opsdeck_provider_github::{GithubConfig, GithubService};
use opsdeck_testkit::wiremock::matchers::{header, method, path, query_param};
use opsdeck_testkit::wiremock::{Match, Mock, MockServer, Request, ResponseTemplate};
use opsdeck_testkit::{
    Conformance, FAST_RETRIES, MountFuture, QueryKeys, Scenario, assert_no_secrets,
};
use serde_json::{Value, json};

const APP_ID: u64 = 123_456;
const INSTALLATION: u64 = 45_678_901;
/// The installation token the stand-in hands out (a made-up value in GitHub's format).
const INSTALLATION_TOKEN: &str = "ghs_16C7e42F292c6912E7710c838347Ae178B4a";

/// A throwaway RSA key made for this test run; nothing is committed.
struct TestKey {
    private_pem: String,
    public_pem: String,
}

fn test_key() -> TestKey {
    let key = rcgen::KeyPair::generate_rsa_for(&rcgen::PKCS_RSA_SHA256, rcgen::RsaKeySize::_2048)
        .unwrap_or_else(|e| panic!("rsa key: {e}"));
    TestKey {
        private_pem: key.serialize_pem(),
        public_pem: key.public_key_pem(),
    }
}

/// What the stand-in checks on every app-authenticated request: a JWT that verifies with the
/// app's public key, signed RS256, with GitHub's claim limits relative to `now` (or the
/// system clock when `now` is `None`).
#[derive(Clone)]
struct AppJwt {
    public_pem: String,
    now: Option<Arc<ManualClock>>,
}

impl AppJwt {
    fn claims(&self, request: &Request) -> Result<Value, String> {
        let auth = request
            .headers
            .get("authorization")
            .and_then(|v| v.to_str().ok())
            .ok_or("no authorization header")?;
        let jwt = auth.strip_prefix("Bearer ").ok_or("not a bearer token")?;
        let header = jsonwebtoken::decode_header(jwt).map_err(|e| e.to_string())?;
        if header.alg != Algorithm::RS256 {
            return Err(format!("alg {:?}", header.alg));
        }
        let key =
            DecodingKey::from_rsa_pem(self.public_pem.as_bytes()).map_err(|e| e.to_string())?;
        let mut validation = Validation::new(Algorithm::RS256);
        // Checked below against the test's clock instead.
        validation.validate_exp = false;
        validation.required_spec_claims.clear();
        let data =
            jsonwebtoken::decode::<Value>(jwt, &key, &validation).map_err(|e| e.to_string())?;
        let claims = data.claims;
        let now = self
            .now
            .as_ref()
            .map(|c| opsdeck_core::clock::Clock::now(c.as_ref()))
            .unwrap_or_else(Utc::now)
            .timestamp();
        let iat = claims["iat"].as_i64().ok_or("no iat")?;
        let exp = claims["exp"].as_i64().ok_or("no exp")?;
        if claims["iss"] != json!(APP_ID) {
            return Err(format!("iss {}", claims["iss"]));
        }
        // GitHub: iat 60 s in the past is recommended; exp at most 10 minutes ahead.
        if !(now - 70..=now - 50).contains(&iat) || exp > now + 600 || exp <= now {
            return Err(format!("iat {iat} / exp {exp} around {now}"));
        }
        if exp - iat > 660 {
            return Err("lifetime".into());
        }
        Ok(claims)
    }
}

impl Match for AppJwt {
    fn matches(&self, request: &Request) -> bool {
        match self.claims(request) {
            Ok(_) => true,
            Err(why) => {
                eprintln!("app JWT refused: {why}");
                false
            }
        }
    }
}

fn github_headers(
    m: opsdeck_testkit::wiremock::MockBuilder,
) -> opsdeck_testkit::wiremock::MockBuilder {
    m.and(header("accept", "application/vnd.github+json"))
        .and(header("x-github-api-version", "2022-11-28"))
        .and(header("user-agent", opsdeck_core::http::USER_AGENT))
}

fn app_body() -> Value {
    json!({
        "id": APP_ID,
        "slug": "opsdeck-monitor",
        "node_id": "MDM6QXBwMQ==",
        "name": "opsdeck monitor",
        "owner": { "login": "acme", "id": 1, "type": "Organization" },
        "permissions": { "actions": "read", "contents": "read", "metadata": "read" },
        "events": []
    })
}

fn installation_body() -> Value {
    json!({
        "id": INSTALLATION,
        "account": { "login": "acme", "id": 1, "type": "Organization" },
        "app_id": APP_ID,
        "app_slug": "opsdeck-monitor",
        "target_type": "Organization",
        "repository_selection": "selected",
        "permissions": { "actions": "read", "contents": "read", "metadata": "read", "deployments": "read", "pull_requests": "read", "issues": "read" },
        "events": [],
        "suspended_at": null
    })
}

fn token_body(expires_at: DateTime<Utc>) -> Value {
    json!({
        "token": INSTALLATION_TOKEN,
        "expires_at": expires_at.format("%Y-%m-%dT%H:%M:%SZ").to_string(),
        "permissions": { "actions": "read", "contents": "read", "metadata": "read" },
        "repository_selection": "selected"
    })
}

/// Mount the four calls of an App connection test. The exchange answers with a token that
/// expires one hour after `clock` (or the system time).
async fn mount_app(server: &MockServer, jwt: &AppJwt, clock: Option<Arc<ManualClock>>) {
    github_headers(Mock::given(method("GET")).and(path("/app")))
        .and(jwt.clone())
        .respond_with(ResponseTemplate::new(200).set_body_json(app_body()))
        .mount(server)
        .await;
    github_headers(
        Mock::given(method("GET")).and(path(format!("/app/installations/{INSTALLATION}"))),
    )
    .and(jwt.clone())
    .respond_with(ResponseTemplate::new(200).set_body_json(installation_body()))
    .mount(server)
    .await;
    // Each token expires an hour after it is issued, by the test's clock when there is one.
    let issue = move |_: &Request| {
        let now = clock
            .as_ref()
            .map(|c| opsdeck_core::clock::Clock::now(c.as_ref()))
            .unwrap_or_else(Utc::now);
        ResponseTemplate::new(201).set_body_json(token_body(now + Duration::hours(1)))
    };
    github_headers(Mock::given(method("POST")).and(path(format!(
        "/app/installations/{INSTALLATION}/access_tokens"
    ))))
    .and(jwt.clone())
    .and(QueryKeys(&[]))
    .respond_with(issue)
    .named("token exchange")
    .mount(server)
    .await;
    github_headers(Mock::given(method("GET")).and(path("/installation/repositories")))
        .and(header(
            "authorization",
            format!("Bearer {INSTALLATION_TOKEN}").as_str(),
        ))
        .and(query_param("per_page", "1"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!({ "total_count": 3, "repository_selection": "selected", "repositories": [] }))
                .insert_header("x-ratelimit-limit", "5000")
                .insert_header("x-ratelimit-remaining", "4999")
                .insert_header("x-ratelimit-reset", "1900000000"),
        )
        .mount(server)
        .await;
}

/// One key for the conformance suite, whose mount functions cannot capture.
fn shared_key() -> &'static TestKey {
    static KEY: std::sync::OnceLock<TestKey> = std::sync::OnceLock::new();
    KEY.get_or_init(test_key)
}

fn mount_app_success(server: &MockServer) -> MountFuture<'_> {
    Box::pin(async move {
        let jwt = AppJwt {
            public_pem: shared_key().public_pem.clone(),
            now: None,
        };
        mount_app(server, &jwt, None).await;
    })
}

/// The shared scenarios through the App flow. A 404 on the App endpoints means the App or the
/// installation is gone, which is `invalid_credentials` (docs/decisions.md).
#[tokio::test]
async fn app_conformance() {
    Conformance::new("github", |base| {
        json!({
            "base_url": base,
            "app_id": APP_ID.to_string(),
            "private_key": shared_key().private_pem,
            "installation_id": INSTALLATION,
        })
    })
    .secret(shared_key().private_pem.trim())
    .success(mount_app_success)
    .expect(Scenario::NotFound, FailureKind::InvalidCredentials)
    .run()
    .await;
}

fn app_config(server: &MockServer, key: &TestKey) -> Value {
    json!({
        "base_url": server.uri(),
        "app_id": APP_ID.to_string(),
        "private_key": key.private_pem,
        "installation_id": INSTALLATION,
    })
}

async fn exchanges(server: &MockServer) -> usize {
    server
        .received_requests()
        .await
        .unwrap_or_default()
        .iter()
        .filter(|r| r.url.path().ends_with("/access_tokens"))
        .count()
}

#[tokio::test]
async fn app_installation_tests_connected_with_the_exact_requests() {
    let key = test_key();
    let server = MockServer::start().await;
    let jwt = AppJwt {
        public_pem: key.public_pem.clone(),
        now: None,
    };
    mount_app(&server, &jwt, None).await;
    let svc = opsdeck_testkit::service("github", app_config(&server, &key));
    let r = svc.test_connection().await;
    assert_eq!(r.status, Status::Connected, "{r:?}");
    assert_eq!(r.identity.as_deref(), Some("opsdeck-monitor on acme"));
    for part in [
        "GitHub App opsdeck monitor (opsdeck-monitor)",
        "installed on acme (Organization)",
        "3 selected repositories",
        "contents:read",
        "pull_requests:read",
        "Installation token valid until",
    ] {
        assert!(r.message.contains(part), "{part:?} missing: {}", r.message);
    }
    let details = serde_json::to_value(&r.details).unwrap_or_default();
    assert_eq!(details["extra"]["app_slug"], json!("opsdeck-monitor"));
    assert_eq!(details["extra"]["installation_account"], json!("acme"));
    assert_eq!(details["extra"]["installation_id"], json!(INSTALLATION));
    assert!(details["token_expires_at"].is_string(), "{details}");
    assert!(
        details["scopes"]
            .as_array()
            .is_some_and(|s| s.contains(&json!("deployments:read"))),
        "{details}"
    );
    let shown = serde_json::to_string(&r).unwrap_or_default();
    assert_no_secrets("report", &shown, &[INSTALLATION_TOKEN, "PRIVATE KEY"]);

    // A second test uses the cached installation token: no second exchange.
    let again = svc.test_connection().await;
    assert_eq!(again.status, Status::Connected, "{again:?}");
    assert_eq!(exchanges(&server).await, 1);
}

#[tokio::test]
async fn installation_token_is_cached_until_shortly_before_expiry_and_jwt_uses_the_clock() {
    let key = test_key();
    let server = MockServer::start().await;
    let clock = ManualClock::new(
        Utc.with_ymd_and_hms(2026, 3, 2, 9, 0, 0)
            .single()
            .unwrap_or_else(|| panic!("date")),
    );
    let jwt = AppJwt {
        public_pem: key.public_pem.clone(),
        now: Some(clock.clone()),
    };
    mount_app(&server, &jwt, Some(clock.clone())).await;
    let config = GithubConfig::builder()
        .app(APP_ID.to_string(), key.private_pem.clone(), INSTALLATION)
        .base_url(server.uri())
        .build()
        .unwrap_or_else(|e| panic!("{e}"));
    let svc = GithubService::with_clock(config, &FAST_RETRIES, clock.clone())
        .unwrap_or_else(|e| panic!("{e}"));
    let r = svc.test_connection().await;
    assert_eq!(r.status, Status::Connected, "{r:?}");
    assert_eq!(
        r.details.token_expires_at.map(|t| t.to_rfc3339()),
        Some("2026-03-02T10:00:00+00:00".to_owned())
    );
    assert_eq!(exchanges(&server).await, 1);

    // 50 minutes on, ten are left: the cached token is still used.
    clock.advance(StdDuration::from_secs(50 * 60));
    let r = svc.test_connection().await;
    assert_eq!(r.status, Status::Connected, "{r:?}");
    assert_eq!(exchanges(&server).await, 1);

    // 56 minutes on, less than five are left: a new token is bought, with a JWT from the new time.
    clock.advance(StdDuration::from_secs(6 * 60));
    let r = svc.test_connection().await;
    assert_eq!(r.status, Status::Connected, "{r:?}");
    assert_eq!(exchanges(&server).await, 2);
    assert_eq!(
        r.details.token_expires_at.map(|t| t.to_rfc3339()),
        Some("2026-03-02T10:56:00+00:00".to_owned())
    );
}

async fn app_failure(
    mount: impl AsyncFnOnce(&MockServer, &AppJwt),
) -> opsdeck_core::ConnectionReport {
    let key = test_key();
    let server = MockServer::start().await;
    let jwt = AppJwt {
        public_pem: key.public_pem.clone(),
        now: None,
    };
    mount(&server, &jwt).await;
    let r = opsdeck_testkit::service("github", app_config(&server, &key))
        .test_connection()
        .await;
    let shown = serde_json::to_string(&r).unwrap_or_default();
    assert_no_secrets("report", &shown, &[INSTALLATION_TOKEN, "PRIVATE KEY"]);
    r
}

#[tokio::test]
async fn a_key_github_cannot_verify_is_invalid_credentials_about_the_key() {
    let r = app_failure(async |server, _| {
        Mock::given(method("GET"))
            .and(path("/app"))
            .respond_with(ResponseTemplate::new(401).set_body_json(json!({
                "message": "A JSON web token could not be decoded",
                "documentation_url": "https://docs.github.com/rest",
                "status": "401"
            })))
            .mount(server)
            .await;
    })
    .await;
    assert_eq!(
        (r.status, r.failure),
        (Status::Failed, Some(FailureKind::InvalidCredentials)),
        "{r:?}"
    );
    assert!(
        r.message.contains("private key does not belong"),
        "{}",
        r.message
    );
    assert!(
        r.hint
            .as_deref()
            .is_some_and(|h| h.contains("`private_key`")),
        "{r:?}"
    );
}

#[tokio::test]
async fn a_removed_installation_is_invalid_credentials_about_the_installation() {
    // The exchange is what fails: GitHub answers 404 once the app is uninstalled.
    let r = app_failure(async |server, jwt| {
        github_headers(Mock::given(method("GET")).and(path("/app")))
            .and(jwt.clone())
            .respond_with(ResponseTemplate::new(200).set_body_json(app_body()))
            .mount(server)
            .await;
        github_headers(
            Mock::given(method("GET")).and(path(format!("/app/installations/{INSTALLATION}"))),
        )
        .and(jwt.clone())
        .respond_with(ResponseTemplate::new(200).set_body_json(installation_body()))
        .mount(server)
        .await;
        Mock::given(method("POST"))
            .and(path(format!("/app/installations/{INSTALLATION}/access_tokens")))
            .respond_with(ResponseTemplate::new(404).set_body_json(json!({
                "message": "Not Found",
                "documentation_url": "https://docs.github.com/rest/apps/apps#create-an-installation-access-token-for-an-app",
                "status": "404"
            })))
            .mount(server)
            .await;
    })
    .await;
    assert_eq!(
        (r.status, r.failure),
        (Status::Failed, Some(FailureKind::InvalidCredentials)),
        "{r:?}"
    );
    assert!(
        r.message.contains("installation was not found"),
        "{}",
        r.message
    );
    assert!(
        r.hint
            .as_deref()
            .is_some_and(|h| h.contains("installation_id")),
        "{r:?}"
    );

    // A 401 on the exchange that is not about the JWT: the same verdict.
    let r = app_failure(async |server, jwt| {
        github_headers(Mock::given(method("GET")).and(path("/app")))
            .and(jwt.clone())
            .respond_with(ResponseTemplate::new(200).set_body_json(app_body()))
            .mount(server)
            .await;
        Mock::given(method("GET"))
            .and(path(format!("/app/installations/{INSTALLATION}")))
            .respond_with(ResponseTemplate::new(401).set_body_json(json!({
                "message": "Bad credentials",
                "status": "401"
            })))
            .mount(server)
            .await;
    })
    .await;
    assert_eq!(r.failure, Some(FailureKind::InvalidCredentials), "{r:?}");
    assert!(
        r.message.contains("installation was not found"),
        "{}",
        r.message
    );
}

#[tokio::test]
async fn app_metrics_list_the_installation_repositories() {
    let key = test_key();
    let server = MockServer::start().await;
    let jwt = AppJwt {
        public_pem: key.public_pem.clone(),
        now: None,
    };
    mount_app(&server, &jwt, None).await;
    let auth = format!("Bearer {INSTALLATION_TOKEN}");
    github_headers(Mock::given(method("GET")).and(path("/rate_limit")))
        .and(header("authorization", auth.as_str()))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "resources": { "core": { "limit": 5000, "remaining": 4990, "reset": 1900000000 } }
        })))
        .mount(&server)
        .await;
    github_headers(Mock::given(method("GET")).and(path("/installation/repositories")))
        .and(header("authorization", auth.as_str()))
        .and(query_param("per_page", "100"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "total_count": 1,
            "repositories": [{ "full_name": "acme/api", "open_issues_count": 4, "archived": false }]
        })))
        .mount(&server)
        .await;
    // Per-repository calls, answered loosely: this test is about where the list comes from.
    github_headers(Mock::given(method("GET")).and(path("/repos/acme/api/pulls")))
        .and(header("authorization", auth.as_str()))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!([{ "id": 1 }])))
        .mount(&server)
        .await;
    github_headers(Mock::given(method("GET")).and(path("/repos/acme/api/actions/runs")))
        .and(header("authorization", auth.as_str()))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!({ "total_count": 0, "workflow_runs": [] })),
        )
        .mount(&server)
        .await;
    github_headers(Mock::given(method("GET")).and(path("/repos/acme/api/deployments")))
        .and(header("authorization", auth.as_str()))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!([])))
        .mount(&server)
        .await;
    let svc = opsdeck_testkit::service("github", app_config(&server, &key));
    let set = svc
        .collect_metrics()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let value = |name: &str| set.metrics.iter().find(|m| m.name == name).map(|m| m.value);
    assert_eq!(value("github_repositories"), Some(1.0), "{set:?}");
    assert_eq!(value("github_open_pull_requests"), Some(1.0), "{set:?}");
    assert_eq!(value("github_open_issues"), Some(3.0), "{set:?}");
    assert_eq!(exchanges(&server).await, 1);
}

#[test]
fn credentials_are_exactly_one_way_with_every_problem_at_once() {
    let settings = FAST_RETRIES;
    let build = |config: Value| {
        opsdeck_testkit::try_service("github", config, &settings)
            .err()
            .unwrap_or_default()
    };
    let both = build(json!({ "token": "ghp_x0123456789", "app_id": "1", "installation_id": 2 }));
    assert!(both.contains("use one way to authenticate"), "{both}");
    let none = build(json!({}));
    assert!(none.contains("No credentials"), "{none}");
    let partial = build(json!({ "app_id": "my-app", "private_key": "not a key" }));
    for part in [
        "missing: installation_id",
        "neither a GitHub App ID",
        "not an RSA private key in PEM",
    ] {
        assert!(partial.contains(part), "{part:?} missing: {partial}");
    }
    let key = test_key();
    // A client ID is accepted as the issuer, and PEM as env files (`\n`) and single-line form
    // fields (no newlines) carry it.
    for pasted in [
        key.private_pem.trim().replace('\n', "\\n"),
        key.private_pem.replace('\n', ""),
    ] {
        let built = opsdeck_testkit::try_service(
            "github",
            json!({ "app_id": "Iv23liAbCdEf", "private_key": pasted, "installation_id": 7 }),
            &settings,
        );
        assert!(built.is_ok(), "{:?}", built.err());
    }
}
