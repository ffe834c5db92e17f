//! The server under test (the real `opsdeck_server::start` on port 0, SQLite in a temp dir) and
//! a GitHub stand-in (wiremock) that checks each request the GitHub provider makes.

use std::time::Duration;

use chrono::{Duration as Days, Utc};
use opsdeck_server::{Server, Settings};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use tempfile::TempDir;
use wiremock::matchers::{header, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

pub const ADMIN: &str = "odk_browserTestAdminToken0123456789";
/// The token the stand-in accepts.
pub const GOOD: &str = "ghp_goodBrowserToken0123456789";
/// The token that replaces it later (accepted too).
pub const ROTATED: &str = "ghp_rotatedBrowserToken9876543210";
/// A token it refuses (GitHub's 401 "Bad credentials").
pub const BAD: &str = "ghp_badBrowserToken";

pub struct App {
    pub base: String,
    pub github: MockServer,
    server: Option<Server>,
    _dir: TempDir,
    http: reqwest::Client,
}

pub async fn start() -> App {
    start_with(|_| {}).await
}

/// [`start`] with changed settings. Vendor status polling is off unless `tweak` turns it on
/// with a stand-in page: GitHub's real page must not be polled from a test.
pub async fn start_with(tweak: impl FnOnce(&mut Settings)) -> App {
    opsdeck_core::install_crypto_provider();
    let dir = tempfile::tempdir().expect("data dir");
    let mut s = Settings::new(dir.path().to_owned());
    s.listen = "127.0.0.1:0".parse().expect("addr");
    s.admin_token = Some(ADMIN.to_owned().into());
    // The UI tests a new service itself right after saving; the scheduler would race it.
    s.scheduler = false;
    s.check_timeout = Duration::from_secs(5);
    s.features
        .set(opsdeck_server::features::Feature::VendorStatus, false);
    tweak(&mut s);
    let server = opsdeck_server::start(s).await.expect("server");
    App {
        base: format!("http://{}", server.addr),
        github: github_stand_in().await,
        server: Some(server),
        _dir: dir,
        http: reqwest::Client::new(),
    }
}

impl App {
    pub async fn call(
        &self,
        m: Method,
        path: &str,
        token: &str,
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        let mut req = self
            .http
            .request(m, format!("{}{path}", self.base))
            .bearer_auth(token);
        if let Some(b) = body {
            req = req.json(&b);
        }
        let resp = req.send().await.expect("API call");
        let status = resp.status();
        let text = resp.text().await.expect("body");
        (status, serde_json::from_str(&text).unwrap_or(Value::Null))
    }

    /// Creates a service through the API (admin), asserting 201.
    pub async fn create(&self, body: Value) {
        let (status, r) = self
            .call(Method::POST, "/api/v1/services", ADMIN, Some(body))
            .await;
        assert_eq!(status, StatusCode::CREATED, "{r}");
    }

    pub async fn test(&self, name: &str) -> Value {
        let (status, r) = self
            .call(
                Method::POST,
                &format!("/api/v1/services/{name}/test"),
                ADMIN,
                None,
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{r}");
        // The scheduler collects metrics after each connected check; tests run without it.
        if r["status"] == "connected" {
            let (status, m) = self
                .call(
                    Method::POST,
                    &format!("/api/v1/services/{name}/metrics"),
                    ADMIN,
                    None,
                )
                .await;
            assert_eq!(status, StatusCode::OK, "{m}");
        }
        r
    }

    /// Replaces a service's token through the API (what another admin might do).
    pub async fn set_token(&self, name: &str, token: &str) {
        let path = format!("/api/v1/services/{name}");
        let (_, svc) = self.call(Method::GET, &path, ADMIN, None).await;
        let (status, r) = self
            .call(
                Method::PATCH,
                &path,
                ADMIN,
                Some(json!({"version": svc["version"], "config": {"token": token}})),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{r}");
    }

    /// A new read-only token.
    pub async fn read_token(&self) -> String {
        let (status, r) = self
            .call(
                Method::POST,
                "/api/v1/tokens",
                ADMIN,
                Some(json!({"name": "viewer", "role": "read"})),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{r}");
        r["token"].as_str().expect("token").to_owned()
    }

    /// A GitHub service on the stand-in.
    pub fn github_service(&self, name: &str, token: &str, tags: &[&str]) -> Value {
        json!({
            "name": name,
            "provider": "github",
            "config": {"token": token, "base_url": self.github.uri(), "repos": ["acme/api"]},
            "tags": tags,
        })
    }

    /// A dashboard with a mix of statuses, as a team would have: connected, bad token,
    /// unreachable, never checked.
    pub async fn populate(&self) {
        self.create(self.github_service("gh-platform", GOOD, &["platform", "prod"]))
            .await;
        self.test("gh-platform").await;
        self.create(self.github_service("gh-oss", BAD, &["oss"]))
            .await;
        self.test("gh-oss").await;
        self.create(json!({
            "name": "ghe-internal",
            "provider": "github",
            // Nothing listens on port 9 of loopback: connection refused.
            "config": {"token": GOOD, "base_url": "http://127.0.0.1:9/api/v3"},
            "tags": ["platform"],
        }))
        .await;
        self.test("ghe-internal").await;
        self.create(json!({
            "name": "openai-prod",
            "provider": "openai",
            "config": {"api_key": "sk-not-checked-yet"},
            "tags": ["ai", "prod"],
        }))
        .await;
        self.create(json!({
            "name": "stripe-billing",
            "provider": "stripe",
            "config": {"secret_key": "rk_test_not_checked"},
            "tags": ["billing"],
            "enabled": false,
        }))
        .await;
    }

    /// Seeds `days` of hourly check history for a service straight into the store (results the
    /// API could only produce in real time), with a failed hour every `fail_every` hours and an
    /// unknown one every 29, then rolls it up as the monitoring loop would.
    pub async fn seed_history(&self, name: &str, days: i64, fail_every: i64) {
        use opsdeck_core::{FailureKind, Status};
        use opsdeck_monitor::history::CheckSample;
        let state = &self.server.as_ref().expect("running").state;
        let id = state.store.get_service(name).await.expect("service").id;
        let now = Utc::now().timestamp_millis();
        let hour = 3_600_000;
        let mut rows = Vec::new();
        for h in (1..days * 24).rev() {
            let at = now - h * hour;
            let (status, failure) = if h % fail_every == 0 {
                (Status::Failed, Some(FailureKind::Timeout))
            } else if h % 29 == 0 {
                (Status::Unknown, Some(FailureKind::RateLimited))
            } else {
                (Status::Connected, None)
            };
            let latency_ms =
                80 + u64::try_from((h * 37) % 90).unwrap_or(0) + if h % 24 < 3 { 200 } else { 0 };
            rows.push((
                id,
                CheckSample {
                    at_ms: at,
                    status,
                    failure,
                    latency_ms,
                },
            ));
        }
        state.store.bulk_insert_raw(&rows).await.expect("seed");
        opsdeck_server::monitoring::catch_up(state)
            .await
            .expect("rollup");
    }

    /// Runs the monitoring loop's work now (rollup, metric history) instead of waiting for it.
    pub async fn monitoring_catch_up(&self) {
        let state = &self.server.as_ref().expect("running").state;
        opsdeck_server::monitoring::catch_up(state)
            .await
            .expect("rollup");
        state.refresh_views().await;
    }

    pub async fn finish(mut self) {
        if let Some(s) = self.server.take() {
            s.shutdown().await;
        }
    }
}

fn auth(token: &str) -> String {
    format!("Bearer {token}")
}

/// GitHub as the provider calls it: every request carries the API version and the
/// `application/vnd.github+json` media type; `/user` answers the good tokens with the headers
/// GitHub sends (scopes, expiry, rate limit) and anything else with GitHub's 401.
async fn github_stand_in() -> MockServer {
    let mock = MockServer::start().await;
    let now = Utc::now();
    let expires = (now + Days::days(45))
        .format("%Y-%m-%d %H:%M:%S UTC")
        .to_string();
    let reset = (now + Days::minutes(40)).timestamp();
    for token in [GOOD, ROTATED] {
        let gh = |p: &str| {
            Mock::given(method("GET"))
                .and(path(p.to_owned()))
                .and(header("accept", "application/vnd.github+json"))
                .and(header("x-github-api-version", "2022-11-28"))
                .and(header("authorization", auth(token).as_str()))
        };
        gh("/user")
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!({"login": "octocat", "id": 1, "type": "User", "name": "Mona Lisa Octocat"}))
                .insert_header("x-oauth-scopes", "read:org, repo")
                .insert_header("github-authentication-token-expiration", expires.as_str())
                .insert_header("x-ratelimit-limit", "5000")
                .insert_header("x-ratelimit-remaining", "4987")
                .insert_header("x-ratelimit-reset", reset.to_string().as_str())
                .insert_header("x-ratelimit-resource", "core"),
        )
        .mount(&mock)
        .await;
        gh("/rate_limit")
            .respond_with(ResponseTemplate::new(200).set_body_json(json!({
                "resources": {
                    "core": {"limit": 5000, "used": 13, "remaining": 4987, "reset": reset},
                    "search": {"limit": 30, "used": 2, "remaining": 28, "reset": reset},
                    "graphql": {"limit": 5000, "used": 7, "remaining": 4993, "reset": reset}
                }
            })))
            .mount(&mock)
            .await;
        gh("/repos/acme/api")
            .respond_with(ResponseTemplate::new(200).set_body_json(json!({
                "id": 1001, "full_name": "acme/api", "private": false, "archived": false,
                "disabled": false, "open_issues_count": 12, "default_branch": "main",
                "html_url": "https://github.example/acme/api"
            })))
            .mount(&mock)
            .await;
        let last = format!(
            "<{}/repositories/1001/pulls?state=open&per_page=1&page=4>; rel=\"last\"",
            mock.uri()
        );
        gh("/repos/acme/api/pulls")
            .respond_with(
                ResponseTemplate::new(200)
                    .set_body_json(json!([{"number": 41}]))
                    .insert_header("link", last.as_str()),
            )
            .mount(&mock)
            .await;
        let run = |h: i64, conclusion: &str| {
            json!({"status": "completed", "conclusion": conclusion,
               "created_at": (now - Days::hours(h)).format("%Y-%m-%dT%H:%M:%SZ").to_string()})
        };
        gh("/repos/acme/api/actions/runs")
            .respond_with(ResponseTemplate::new(200).set_body_json(json!({
                "total_count": 3,
                "workflow_runs": [run(1, "success"), run(3, "success"), run(5, "failure")]
            })))
            .mount(&mock)
            .await;
        gh("/repos/acme/api/deployments")
            .respond_with(ResponseTemplate::new(200).set_body_json(json!([
                {"id": 7, "environment": "production",
                 "created_at": (now - Days::days(2)).format("%Y-%m-%dT%H:%M:%SZ").to_string()}
            ])))
            .mount(&mock)
            .await;
    }
    // A wrong token, anywhere: GitHub's answer.
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(401).set_body_json(json!({
            "message": "Bad credentials",
            "documentation_url": "https://docs.github.com/rest",
            "status": "401"
        })))
        .with_priority(10)
        .mount(&mock)
        .await;
    mock
}

/// How many requests reached the stand-in with this token.
pub async fn requests_with(mock: &MockServer, token: &str) -> usize {
    mock.received_requests()
        .await
        .unwrap_or_default()
        .iter()
        .filter(|r| {
            r.headers
                .get("authorization")
                .and_then(|v| v.to_str().ok())
                .is_some_and(|v| v == auth(token))
        })
        .count()
}
