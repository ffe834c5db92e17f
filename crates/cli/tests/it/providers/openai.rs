//! OpenAI: `GET /v1/models` with the API key, and the organization Costs and Completions Usage
//! APIs with the Admin key (probe: `GET /organization/costs?limit=1`; metrics: 7 daily buckets
//! over two pages each).

use chrono::Utc;
use wiremock::matchers::{header, method, path, query_param, query_param_is_missing};
use wiremock::{Mock, MockBuilder, MockServer, Request, ResponseTemplate};

use super::{Provider, USER_AGENT, param};

/// Ends like the key OpenAI's 401 fixture echoes masked (`sk-proj-****…MxYA`).
const API_KEY: &str = "sk-proj-e2eCliKey0123456789abcdefMxYA";
const ADMIN_KEY: &str = "sk-admin-e2eCliAdmin0123456789abcdef";

pub const PROVIDER: Provider = Provider {
    id: "openai",
    env: &[
        ("OPSDECK_E2E_OPENAI_KEY", API_KEY),
        ("OPSDECK_E2E_OPENAI_ADMIN_KEY", ADMIN_KEY),
    ],
    secrets: &[API_KEY, ADMIN_KEY, "MxYA"],
    block,
};

fn block(name: &str, base: &str) -> String {
    format!(
        "[services.{name}]\nprovider = \"openai\"\napi_key = \"${{OPSDECK_E2E_OPENAI_KEY}}\"\nadmin_key = \"${{OPSDECK_E2E_OPENAI_ADMIN_KEY}}\"\nbase_url = \"{base}\"\n\n"
    )
}

const MODELS: &str = include_str!("../../../../providers/openai/tests/it/fixtures/models.json");
const COSTS_1: &str =
    include_str!("../../../../providers/openai/tests/it/fixtures/costs_page1.json");
const COSTS_2: &str =
    include_str!("../../../../providers/openai/tests/it/fixtures/costs_page2.json");
const COSTS_EMPTY: &str =
    include_str!("../../../../providers/openai/tests/it/fixtures/costs_empty.json");
const USAGE_1: &str =
    include_str!("../../../../providers/openai/tests/it/fixtures/usage_completions_page1.json");
const USAGE_2: &str =
    include_str!("../../../../providers/openai/tests/it/fixtures/usage_completions_page2.json");
const E401: &str =
    include_str!("../../../../providers/openai/tests/it/fixtures/error_401_invalid_api_key.json");
const NEXT_PAGE: &str = "page_AAAAAGdGxdEiJdKOAAAAAGcqsYA=";

fn body(raw: &str) -> ResponseTemplate {
    ResponseTemplate::new(200).set_body_raw(raw.to_owned(), "application/json")
}

fn bearer(key: &str) -> String {
    format!("Bearer {key}")
}

/// `start_time` within two minutes of `now - offset` seconds.
fn start_near(offset: i64) -> impl Fn(&Request) -> bool {
    move |r: &Request| {
        let now = Utc::now().timestamp();
        param(r, "start_time")
            .and_then(|v| v.parse::<i64>().ok())
            .is_some_and(|t| (t - (now - offset)).abs() <= 120)
    }
}

fn models() -> MockBuilder {
    Mock::given(method("GET"))
        .and(path("/models"))
        .and(header("authorization", bearer(API_KEY).as_str()))
        .and(header("accept", "application/json"))
        .and(header("user-agent", USER_AGENT))
}

fn models_ok() -> ResponseTemplate {
    body(MODELS)
        .insert_header("openai-organization", "org-acme")
        .insert_header("x-request-id", "req_models_1")
        .insert_header("x-ratelimit-limit-requests", "5000")
        .insert_header("x-ratelimit-remaining-requests", "4999")
        .insert_header("x-ratelimit-reset-requests", "12ms")
}

pub async fn mount_probe(server: &MockServer) {
    models().respond_with(models_ok()).mount(server).await;
    Mock::given(method("GET"))
        .and(path("/organization/costs"))
        .and(header("authorization", bearer(ADMIN_KEY).as_str()))
        .and(query_param("limit", "1"))
        .and(start_near(86_400))
        .and(query_param_is_missing("group_by"))
        .respond_with(body(COSTS_EMPTY))
        .mount(server)
        .await;
}

/// One usage/costs report request: daily buckets over today and the six days before.
fn report(p: &'static str, group_by: &'static [&'static str]) -> MockBuilder {
    let offset = 6 * 86_400 + Utc::now().timestamp().rem_euclid(86_400);
    Mock::given(method("GET"))
        .and(path(p))
        .and(header("authorization", bearer(ADMIN_KEY).as_str()))
        .and(header("user-agent", USER_AGENT))
        .and(query_param("bucket_width", "1d"))
        .and(query_param("limit", "7"))
        .and(start_near(offset))
        .and(|r: &Request| {
            param(r, "end_time")
                .and_then(|v| v.parse::<i64>().ok())
                .is_some()
        })
        .and(move |r: &Request| {
            let got: Vec<String> = r
                .url
                .query_pairs()
                .filter(|(k, _)| k == "group_by")
                .map(|(_, v)| v.into_owned())
                .collect();
            got == group_by
        })
}

pub async fn mount_metrics(server: &MockServer) {
    models().respond_with(models_ok()).mount(server).await;
    for (p, groups, pages) in [
        (
            "/organization/costs",
            &["line_item", "project_id"][..],
            [COSTS_1, COSTS_2],
        ),
        (
            "/organization/usage/completions",
            &["model"][..],
            [USAGE_1, USAGE_2],
        ),
    ] {
        let groups: &'static [&'static str] = groups;
        report(p, groups)
            .and(query_param_is_missing("page"))
            .respond_with(body(pages[0]))
            .mount(server)
            .await;
        report(p, groups)
            .and(query_param("page", NEXT_PAGE))
            .respond_with(body(pages[1]))
            .mount(server)
            .await;
    }
}

pub async fn mount_all(server: &MockServer) {
    mount_probe(server).await;
    mount_metrics(server).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn test_connects_as_the_organization() {
    let server = MockServer::start().await;
    mount_probe(&server).await;
    let out = PROVIDER.setup(&server.uri()).run("test", &[]).await;
    let s = PROVIDER.service();
    out.assert_connected(&s, "openai", "org-acme");
    assert!(
        out.entry(&s)["message"]
            .as_str()
            .is_some_and(|m| m.contains("admin_key can read usage")),
        "{}",
        out.json
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn metrics_sum_costs_and_tokens_over_pages() {
    let server = MockServer::start().await;
    mount_metrics(&server).await;
    let out = PROVIDER.setup(&server.uri()).run("metrics", &[]).await;
    let s = PROVIDER.service();
    out.assert_collected(&s, "openai");
    assert_eq!(out.metric(&s, "openai_models_available", &[]), Some(4.0));
    assert_eq!(
        out.metric(&s, "openai_cost_total", &[("currency", "usd")]),
        Some(2.06)
    );
    assert_eq!(out.unit(&s, "openai_cost_total").as_deref(), Some("usd"));
    let mini = [("model", "gpt-4o-mini-2024-07-18")];
    assert_eq!(out.metric(&s, "openai_input_tokens", &mini), Some(10_200.0));
    assert_eq!(out.metric(&s, "openai_requests", &mini), Some(15.0));
}

#[tokio::test(flavor = "multi_thread")]
async fn an_incorrect_api_key_fails_with_exit_1() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .respond_with(
            ResponseTemplate::new(401)
                .set_body_raw(E401, "application/json")
                .insert_header("x-request-id", "req_123abc"),
        )
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
