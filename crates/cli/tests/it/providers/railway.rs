//! Railway public GraphQL API (`POST /graphql/v2`): a project token in `Project-Access-Token`
//! (no Authorization header) for the main runs, an account token as `Bearer` for one test.
//! Bodies are matched exactly (query text from the provider, variables).

use chrono::{Duration, SecondsFormat, Utc};
use opsdeck::providers::railway::queries;
use serde_json::{Value, json};
use wiremock::matchers::{body_json, header, method, path};
use wiremock::{Mock, MockBuilder, MockServer, Request, ResponseTemplate};

use super::{NoHeader, Provider, Setup, USER_AGENT};

const TOKEN: &str = "rw-e2e-cli-token-3f9a1c2b-7d4e-4f00-9b1a-0c2d3e4f5a6b";
const ENDPOINT: &str = "/graphql/v2";
const SHOP: &str = "0f8fad5b-d9cb-469f-a165-70867728950e";
const ENV: &str = "e1d2c3b4-aaaa-4bbb-8ccc-ddddeeeeffff";

pub const PROVIDER: Provider = Provider {
    id: "railway",
    env: &[("OPSDECK_E2E_RAILWAY_TOKEN", TOKEN)],
    secrets: &[TOKEN],
    block,
};

fn block(name: &str, base: &str) -> String {
    block_of_kind(name, base, "project")
}

fn block_of_kind(name: &str, base: &str, kind: &str) -> String {
    format!(
        "[services.{name}]\nprovider = \"railway\"\ntoken = \"${{OPSDECK_E2E_RAILWAY_TOKEN}}\"\ntoken_kind = \"{kind}\"\nbase_url = \"{base}{ENDPOINT}\"\n\n"
    )
}

const PROJECT_TOKEN_OK: &str =
    include_str!("../../../../providers/railway/tests/it/fixtures/project_token_ok.json");
const PROJECT_TOKEN_NOT_FOUND: &str =
    include_str!("../../../../providers/railway/tests/it/fixtures/project_token_not_found.json");
const ME_OK: &str = include_str!("../../../../providers/railway/tests/it/fixtures/me_ok.json");
const DEPLOYMENTS_1: &str =
    include_str!("../../../../providers/railway/tests/it/fixtures/deployments_page1.json");
const DEPLOYMENTS_EMPTY: &str =
    include_str!("../../../../providers/railway/tests/it/fixtures/deployments_empty.json");

/// A 200 as Railway sends it; `__NOW_MINUS_<n>H__` in fixtures become real times.
fn body(raw: &str) -> ResponseTemplate {
    let mut text = raw.to_owned();
    for hours in [1, 3, 19, 20, 30, 40] {
        let at = (Utc::now() - Duration::hours(hours)).to_rfc3339_opts(SecondsFormat::Millis, true);
        text = text.replace(&format!("__NOW_MINUS_{hours}H__"), &at);
    }
    ResponseTemplate::new(200)
        .insert_header("x-ratelimit-limit", "1000")
        .insert_header("x-ratelimit-remaining", "997")
        .set_body_raw(text, "application/json; charset=utf-8")
}

fn gql(query: &str, variables: Value) -> Value {
    json!({ "query": query, "variables": variables })
}

fn project_post(query: &str, variables: Value) -> MockBuilder {
    Mock::given(method("POST"))
        .and(path(ENDPOINT))
        .and(header("project-access-token", TOKEN))
        .and(NoHeader("authorization"))
        .and(header("content-type", "application/json"))
        .and(header("user-agent", USER_AGENT))
        .and(body_json(gql(query, variables)))
}

pub async fn mount_probe(server: &MockServer) {
    project_post(queries::PROJECT_TOKEN, json!({}))
        .respond_with(body(PROJECT_TOKEN_OK))
        .mount(server)
        .await;
}

pub async fn mount_metrics(server: &MockServer) {
    mount_probe(server).await;
    for (after, page) in [
        (Value::Null, DEPLOYMENTS_1),
        (json!("ZDI="), DEPLOYMENTS_EMPTY),
    ] {
        project_post(
            queries::DEPLOYMENTS,
            json!({ "input": { "projectId": SHOP, "environmentId": ENV }, "first": 100, "after": after }),
        )
        .respond_with(body(page))
        .mount(server)
        .await;
    }
}

pub async fn mount_all(server: &MockServer) {
    mount_metrics(server).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn test_connects_with_a_project_token() {
    let server = MockServer::start().await;
    mount_probe(&server).await;
    let out = PROVIDER.setup(&server.uri()).run("test", &[]).await;
    out.assert_connected(&PROVIDER.service(), "railway", "shop-api / production");
}

#[tokio::test(flavor = "multi_thread")]
async fn test_connects_with_an_account_token() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(ENDPOINT))
        .and(header("authorization", format!("Bearer {TOKEN}").as_str()))
        .and(|r: &Request| !r.headers.contains_key("project-access-token"))
        .and(body_json(gql(queries::PROBE_ACCOUNT, json!({}))))
        .respond_with(body(ME_OK))
        .mount(&server)
        .await;
    let setup = Setup::new(
        &block_of_kind("rw-account", &server.uri(), "account"),
        PROVIDER.env,
        PROVIDER.secrets,
    );
    let out = setup.run("test", &[]).await;
    out.assert_connected("rw-account", "railway", "ada@example.com");
}

#[tokio::test(flavor = "multi_thread")]
async fn metrics_count_services_and_recent_deployments() {
    let server = MockServer::start().await;
    mount_metrics(&server).await;
    let out = PROVIDER.setup(&server.uri()).run("metrics", &[]).await;
    let s = PROVIDER.service();
    out.assert_collected(&s, "railway");
    assert_eq!(
        out.metric(&s, "railway_services", &[("project", "shop-api")]),
        Some(2.0)
    );
    assert_eq!(
        out.metric(&s, "railway_deployments_24h", &[("status", "success")]),
        Some(1.0)
    );
    assert_eq!(
        out.metric(&s, "railway_deployments_24h", &[("status", "failed")]),
        Some(1.0)
    );
    assert!(out.notes(&s).contains("project tokens"), "{}", out.json);
}

#[tokio::test(flavor = "multi_thread")]
async fn an_unknown_project_token_fails_with_exit_1() {
    let server = MockServer::start().await;
    // Railway answers an unknown project token with HTTP 200 and a GraphQL error.
    Mock::given(method("POST"))
        .and(path(ENDPOINT))
        .respond_with(body(PROJECT_TOKEN_NOT_FOUND))
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
