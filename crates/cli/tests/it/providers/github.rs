//! GitHub REST: `GET /user` for the test; rate limits, the repository, open pulls, workflow runs
//! of the last 24 h and deployments for the metrics.

use chrono::{Duration, Utc};
use serde_json::{Value, json};
use wiremock::matchers::{header, method, path, query_param};
use wiremock::{Mock, MockBuilder, MockServer, Request, ResponseTemplate};

use super::{Provider, QueryKeys, USER_AGENT, param};

const TOKEN: &str = "ghp_e2eCliToken0123456789abcdefABCDEF01";

pub const PROVIDER: Provider = Provider {
    id: "github",
    env: &[("OPSDECK_E2E_GITHUB_TOKEN", TOKEN)],
    secrets: &[TOKEN],
    block,
};

fn block(name: &str, base: &str) -> String {
    format!(
        "[services.{name}]\nprovider = \"github\"\ntoken = \"${{OPSDECK_E2E_GITHUB_TOKEN}}\"\nbase_url = \"{base}\"\nrepos = [\"acme/api\"]\n\n"
    )
}

const USER: &str = include_str!("../../../../providers/github/tests/it/fixtures/user_200.json");
const USER_401: &str =
    include_str!("../../../../providers/github/tests/it/fixtures/user_401_bad_credentials.json");
const RATE_LIMIT: &str =
    include_str!("../../../../providers/github/tests/it/fixtures/rate_limit_200.json");
const REPO: &str = include_str!("../../../../providers/github/tests/it/fixtures/repo_200.json");
const PULLS: &str =
    include_str!("../../../../providers/github/tests/it/fixtures/pulls_open_page.json");
const RUNS: &str =
    include_str!("../../../../providers/github/tests/it/fixtures/actions_runs_200.json");
const DEPLOYMENTS: &str =
    include_str!("../../../../providers/github/tests/it/fixtures/deployments_200.json");

fn body(raw: &str) -> ResponseTemplate {
    ResponseTemplate::new(200).set_body_raw(raw.to_owned(), "application/json; charset=utf-8")
}

/// A GET with every header GitHub documents for REST calls.
fn get(p: &str) -> MockBuilder {
    Mock::given(method("GET"))
        .and(path(p.to_owned()))
        .and(header("authorization", format!("Bearer {TOKEN}").as_str()))
        .and(header("accept", "application/vnd.github+json"))
        .and(header("x-github-api-version", "2022-11-28"))
        .and(header("user-agent", USER_AGENT))
}

fn ts(hours_ago: i64) -> String {
    (Utc::now() - Duration::hours(hours_ago))
        .format("%Y-%m-%dT%H:%M:%SZ")
        .to_string()
}

/// The runs fixture moved into the last 24 hours.
fn runs_body() -> String {
    let mut v: Value = serde_json::from_str(RUNS).unwrap_or_else(|e| panic!("{e}"));
    for r in v["workflow_runs"].as_array_mut().into_iter().flatten() {
        r["created_at"] = json!(ts(2));
    }
    v.to_string()
}

/// Deployments 1 h, 3 days and 20 days old (the last is outside the 7-day window).
fn deployments_body() -> String {
    let list: Vec<Value> = serde_json::from_str(DEPLOYMENTS).unwrap_or_else(|e| panic!("{e}"));
    let template = list.first().cloned().unwrap_or_default();
    let out: Vec<Value> = [1, 72, 480]
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

/// `created=>=<about 24 h ago>`.
fn created_since_a_day(r: &Request) -> bool {
    param(r, "created")
        .and_then(|v| {
            chrono::DateTime::parse_from_rfc3339(v.strip_prefix(">=")?)
                .ok()
                .map(|t| t.with_timezone(&Utc))
        })
        .is_some_and(|t| ((Utc::now() - Duration::hours(24)) - t).num_seconds().abs() < 120)
}

pub async fn mount_probe(server: &MockServer) {
    get("/user")
        .and(QueryKeys(&[]))
        .respond_with(
            body(USER)
                .insert_header("x-oauth-scopes", "read:org, repo, workflow")
                .insert_header("x-ratelimit-limit", "5000")
                .insert_header("x-ratelimit-remaining", "4987")
                .insert_header("x-ratelimit-reset", "1764264000")
                .insert_header("x-ratelimit-resource", "core"),
        )
        .mount(server)
        .await;
}

pub async fn mount_metrics(server: &MockServer) {
    get("/rate_limit")
        .and(QueryKeys(&[]))
        .respond_with(body(RATE_LIMIT))
        .mount(server)
        .await;
    get("/repos/acme/api")
        .and(QueryKeys(&[]))
        .respond_with(body(REPO))
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
        .respond_with(body(&deployments_body()))
        .mount(server)
        .await;
}

pub async fn mount_all(server: &MockServer) {
    mount_probe(server).await;
    mount_metrics(server).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn test_connects_as_the_login() {
    let server = MockServer::start().await;
    mount_probe(&server).await;
    let out = PROVIDER.setup(&server.uri()).run("test", &[]).await;
    out.assert_connected(&PROVIDER.service(), "github", "octocat");
}

#[tokio::test(flavor = "multi_thread")]
async fn metrics_are_parsed_from_the_documented_bodies() {
    let server = MockServer::start().await;
    mount_metrics(&server).await;
    let out = PROVIDER.setup(&server.uri()).run("metrics", &[]).await;
    let s = PROVIDER.service();
    out.assert_collected(&s, "github");
    let api = ("repo", "acme/api");
    assert_eq!(
        out.metric(&s, "github_rate_limit_remaining", &[("resource", "core")]),
        Some(4987.0)
    );
    assert_eq!(out.metric(&s, "github_repositories", &[]), Some(1.0));
    assert_eq!(
        out.metric(&s, "github_open_pull_requests", &[api]),
        Some(3.0)
    );
    assert_eq!(out.metric(&s, "github_open_issues", &[api]), Some(9.0));
    assert_eq!(
        out.metric(
            &s,
            "github_workflow_runs",
            &[api, ("conclusion", "success")]
        ),
        Some(2.0)
    );
    assert_eq!(out.metric(&s, "github_deployments", &[api]), Some(2.0));
    assert_eq!(out.notes(&s), "");
}

#[tokio::test(flavor = "multi_thread")]
async fn bad_credentials_fail_with_exit_1() {
    let server = MockServer::start().await;
    // GitHub answers every call with a rejected token like this.
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(401).set_body_raw(USER_401, "application/json"))
        .mount(&server)
        .await;
    let setup = PROVIDER.setup(&server.uri());
    setup
        .run("test", &[])
        .await
        .assert_failed(&PROVIDER.service(), "invalid_credentials");
    setup
        .run("metrics", &[])
        .await
        .assert_metrics_failed(&PROVIDER.service(), "invalid_credentials");
}
