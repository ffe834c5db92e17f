//! Stand-ins for GitHub's REST API, for tests in this crate and in others (the CLI's end-to-end
//! tests): mocks that answer only the exact requests the provider documents, with the recorded
//! bodies in `tests/it/fixtures`. Enabled by the `testing` feature; never part of a release
//! build.
//!
//! The mocks assume a service configured with [`TOKEN`] and `repos = [REPO]`.

use chrono::{Duration, Utc};
use opsdeck_testkit::wiremock::matchers::{header, method, path, query_param};
use opsdeck_testkit::wiremock::{Mock, MockBuilder, MockServer, Request, ResponseTemplate};
use opsdeck_testkit::{QueryKeys, param};
use serde_json::{Value, json};

/// The token the mocks expect.
pub const TOKEN: &str = "ghp_testtoken0123456789abcdefABCDEF0123";
/// The repository the metric mocks serve.
pub const REPO: &str = "acme/api";
/// The login `GET /user` answers.
pub const LOGIN: &str = "octocat";

/// `GET /user` as GitHub answers it.
pub const USER: &str = include_str!("../tests/it/fixtures/user_200.json");
/// A 401 for a rejected token.
pub const USER_401: &str = include_str!("../tests/it/fixtures/user_401_bad_credentials.json");
const RATE_LIMIT: &str = include_str!("../tests/it/fixtures/rate_limit_200.json");
const REPO_BODY: &str = include_str!("../tests/it/fixtures/repo_200.json");
const PULLS: &str = include_str!("../tests/it/fixtures/pulls_open_page.json");
const RUNS: &str = include_str!("../tests/it/fixtures/actions_runs_200.json");
const DEPLOYMENTS: &str = include_str!("../tests/it/fixtures/deployments_200.json");

fn body(raw: &str) -> ResponseTemplate {
    ResponseTemplate::new(200).set_body_raw(raw.to_owned(), "application/json; charset=utf-8")
}

/// A GET of `p` with every header GitHub documents for REST calls.
pub fn get(p: &str) -> MockBuilder {
    Mock::given(method("GET"))
        .and(path(p.to_owned()))
        .and(header("authorization", format!("Bearer {TOKEN}").as_str()))
        .and(header("accept", "application/vnd.github+json"))
        .and(header("x-github-api-version", "2022-11-28"))
        .and(header("user-agent", opsdeck_core::http::USER_AGENT))
}

fn ts(hours_ago: i64) -> String {
    (Utc::now() - Duration::hours(hours_ago))
        .format("%Y-%m-%dT%H:%M:%SZ")
        .to_string()
}

/// The runs fixture moved into the last 24 hours.
pub fn runs_body() -> String {
    let mut v: Value = serde_json::from_str(RUNS).unwrap_or_default();
    for r in v["workflow_runs"].as_array_mut().into_iter().flatten() {
        r["created_at"] = json!(ts(2));
    }
    v.to_string()
}

/// Deployments created `ages_hours` ago.
pub fn deployments_body(ages_hours: &[i64]) -> String {
    let list: Vec<Value> = serde_json::from_str(DEPLOYMENTS).unwrap_or_default();
    let template = list.first().cloned().unwrap_or_default();
    let out: Vec<Value> = ages_hours
        .iter()
        .enumerate()
        .map(|(i, h)| {
            let mut d = template.clone();
            d["id"] = json!(9100 + i);
            d["created_at"] = json!(ts(*h));
            d
        })
        .collect();
    Value::from(out).to_string()
}

/// `created=>=<about 24 h ago>` in GitHub's search date syntax.
fn created_since_a_day(r: &Request) -> bool {
    param(r, "created")
        .and_then(|v| {
            chrono::DateTime::parse_from_rfc3339(v.strip_prefix(">=")?)
                .ok()
                .map(|t| t.with_timezone(&Utc))
        })
        .is_some_and(|t| ((Utc::now() - Duration::hours(24)) - t).num_seconds().abs() < 120)
}

/// `GET /user` for [`TOKEN`]: login [`LOGIN`], classic scopes, an expiry and rate-limit headers.
pub async fn mount_probe(server: &MockServer) {
    get("/user")
        .and(QueryKeys(&[]))
        .respond_with(
            body(USER)
                .insert_header("x-oauth-scopes", "read:org, repo, workflow")
                .insert_header(
                    "github-authentication-token-expiration",
                    "2027-01-31 12:00:00 UTC",
                )
                .insert_header("x-ratelimit-limit", "5000")
                .insert_header("x-ratelimit-remaining", "4987")
                .insert_header("x-ratelimit-reset", "1764264000")
                .insert_header("x-ratelimit-resource", "core"),
        )
        .mount(server)
        .await;
}

/// Everything a collection for `repos = [REPO]` asks: rate limits, the repository, open pulls
/// (3, by the `last` link), workflow runs of the last 24 h, deployments 1 h, 3 days and 20 days
/// old.
pub async fn mount_metrics(server: &MockServer) {
    get("/rate_limit")
        .and(QueryKeys(&[]))
        .respond_with(body(RATE_LIMIT))
        .mount(server)
        .await;
    get("/repos/acme/api")
        .and(QueryKeys(&[]))
        .respond_with(body(REPO_BODY))
        .mount(server)
        .await;
    get("/repos/acme/api/pulls")
        .and(query_param("state", "open"))
        .and(query_param("per_page", "1"))
        .and(QueryKeys(&["state", "per_page"]))
        .respond_with(body(PULLS).insert_header(
            "link",
            "<https://api.github.com/repositories/1001/pulls?state=open&per_page=1&page=2>; rel=\"next\", <https://api.github.com/repositories/1001/pulls?state=open&per_page=1&page=3>; rel=\"last\"",
        ))
        .mount(server)
        .await;
    get("/repos/acme/api/actions/runs")
        .and(query_param("per_page", "100"))
        .and(created_since_a_day)
        .and(QueryKeys(&["created", "per_page"]))
        .respond_with(body(&runs_body()))
        .mount(server)
        .await;
    get("/repos/acme/api/deployments")
        .and(query_param("per_page", "100"))
        .and(QueryKeys(&["per_page"]))
        .respond_with(body(&deployments_body(&[1, 72, 480])))
        .mount(server)
        .await;
}

/// [`mount_probe`] and [`mount_metrics`].
pub async fn mount_all(server: &MockServer) {
    mount_probe(server).await;
    mount_metrics(server).await;
}

/// Every GET answered as GitHub answers a rejected token.
pub async fn mount_unauthorized(server: &MockServer) {
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(401).set_body_raw(USER_401, "application/json"))
        .mount(server)
        .await;
}
