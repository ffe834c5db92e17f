//! Stand-ins for Railway's public GraphQL API (`POST /graphql/v2`), for tests in this crate and
//! in others (the CLI's end-to-end tests): mocks that match the exact body (the provider's query
//! text and variables) and the auth header of the token kind, answering with the recorded bodies
//! in `tests/it/fixtures`. The mocks assume `base_url = <server>/graphql/v2` ([`ENDPOINT`]).
//! Enabled by the `testing` feature; never part of a release build.

use chrono::{Duration, SecondsFormat, Utc};
use opsdeck_testkit::NoHeader;
use opsdeck_testkit::wiremock::matchers::{body_json, header, method, path};
use opsdeck_testkit::wiremock::{Mock, MockBuilder, MockServer, Request, ResponseTemplate};
use serde_json::{Value, json};

use crate::queries;

/// The token the mocks expect (as a project token, or as a Bearer account token).
pub const TOKEN: &str = "rw-test-token-3f9a1c2b-7d4e-4f00-9b1a-0c2d3e4f5a6b";
/// The GraphQL endpoint path under the stand-in's root.
pub const ENDPOINT: &str = "/graphql/v2";
/// The identity a project token reports: its project and environment.
pub const PROJECT_IDENTITY: &str = "shop-api / production";
/// The identity an account token reports: the user's email.
pub const ACCOUNT_IDENTITY: &str = "ada@example.com";
const SHOP: &str = "0f8fad5b-d9cb-469f-a165-70867728950e";
const ENV: &str = "e1d2c3b4-aaaa-4bbb-8ccc-ddddeeeeffff";

const PROJECT_TOKEN_OK: &str = include_str!("../tests/it/fixtures/project_token_ok.json");
const PROJECT_TOKEN_NOT_FOUND: &str =
    include_str!("../tests/it/fixtures/project_token_not_found.json");
const ME_OK: &str = include_str!("../tests/it/fixtures/me_ok.json");
const DEPLOYMENTS_1: &str = include_str!("../tests/it/fixtures/deployments_page1.json");
const DEPLOYMENTS_EMPTY: &str = include_str!("../tests/it/fixtures/deployments_empty.json");

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

/// A POST with the project-token header, no Authorization header, and exactly this body.
pub fn project_post(query: &str, variables: Value) -> MockBuilder {
    Mock::given(method("POST"))
        .and(path(ENDPOINT))
        .and(header("project-access-token", TOKEN))
        .and(NoHeader("authorization"))
        .and(header("content-type", "application/json"))
        .and(header("user-agent", opsdeck_core::http::USER_AGENT))
        .and(body_json(gql(query, variables)))
}

/// `projectToken` for [`TOKEN`] as a project token.
pub async fn mount_probe(server: &MockServer) {
    project_post(queries::PROJECT_TOKEN, json!({}))
        .respond_with(body(PROJECT_TOKEN_OK))
        .mount(server)
        .await;
}

/// The project token's project and two pages of its deployments (1 and 3 h old).
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

/// Everything for a project token: [`mount_metrics`] includes the probe.
/// [`mount_probe`] and [`mount_metrics`].
pub async fn mount_all(server: &MockServer) {
    mount_metrics(server).await;
}

/// `me` for an account token sent as Bearer (and no project-token header).
pub async fn mount_account_probe(server: &MockServer) {
    Mock::given(method("POST"))
        .and(path(ENDPOINT))
        .and(header("authorization", format!("Bearer {TOKEN}").as_str()))
        .and(|r: &Request| !r.headers.contains_key("project-access-token"))
        .and(body_json(gql(queries::PROBE_ACCOUNT, json!({}))))
        .respond_with(body(ME_OK))
        .mount(server)
        .await;
}

/// Every request answered as Railway answers an unknown project token (HTTP 200 with a GraphQL
/// error).
pub async fn mount_unauthorized(server: &MockServer) {
    Mock::given(method("POST"))
        .and(path(ENDPOINT))
        .respond_with(body(PROJECT_TOKEN_NOT_FOUND))
        .mount(server)
        .await;
}
