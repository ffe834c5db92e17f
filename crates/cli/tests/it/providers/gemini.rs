//! Gemini API: `GET /v1beta/models` with the key in `x-goog-api-key` (never in the URL);
//! `pageSize=1` for the test, every page of 1000 for the metrics.

use wiremock::matchers::{header, method, path, query_param, query_param_is_missing};
use wiremock::{Mock, MockBuilder, MockServer, ResponseTemplate};

use super::{Provider, USER_AGENT};

const API_KEY: &str = "AIzaSyE2E-cli-gemini-key-0123456789abcd";

pub const PROVIDER: Provider = Provider {
    id: "gemini",
    env: &[("OPSDECK_E2E_GEMINI_KEY", API_KEY)],
    secrets: &[API_KEY],
    block,
};

fn block(name: &str, base: &str) -> String {
    format!(
        "[services.{name}]\nprovider = \"gemini\"\napi_key = \"${{OPSDECK_E2E_GEMINI_KEY}}\"\nbase_url = \"{base}\"\n\n"
    )
}

const MODELS_1: &str =
    include_str!("../../../../providers/gemini/tests/it/fixtures/models_page1.json");
const MODELS_2: &str =
    include_str!("../../../../providers/gemini/tests/it/fixtures/models_page2.json");
const BAD_KEY: &str =
    include_str!("../../../../providers/gemini/tests/it/fixtures/error_400_api_key_invalid.json");

fn body(raw: &str) -> ResponseTemplate {
    ResponseTemplate::new(200).set_body_raw(raw.to_owned(), "application/json")
}

fn models() -> MockBuilder {
    Mock::given(method("GET"))
        .and(path("/v1beta/models"))
        .and(header("x-goog-api-key", API_KEY))
        .and(header("user-agent", USER_AGENT))
        .and(query_param_is_missing("key"))
}

pub async fn mount_probe(server: &MockServer) {
    models()
        .and(query_param("pageSize", "1"))
        .and(query_param_is_missing("pageToken"))
        .respond_with(body(MODELS_1))
        .mount(server)
        .await;
}

pub async fn mount_metrics(server: &MockServer) {
    models()
        .and(query_param("pageSize", "1000"))
        .and(query_param_is_missing("pageToken"))
        .respond_with(body(MODELS_1))
        .mount(server)
        .await;
    models()
        .and(query_param("pageSize", "1000"))
        .and(query_param(
            "pageToken",
            "Ch5tb2RlbHMvZ2VtaW5pLTIuNS1mbGFzaC1saXRl",
        ))
        .respond_with(body(MODELS_2))
        .mount(server)
        .await;
}

pub async fn mount_all(server: &MockServer) {
    mount_probe(server).await;
    mount_metrics(server).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn test_connects_with_the_key() {
    let server = MockServer::start().await;
    mount_probe(&server).await;
    let out = PROVIDER.setup(&server.uri()).run("test", &[]).await;
    out.assert_connected(&PROVIDER.service(), "gemini", "Gemini API key");
}

#[tokio::test(flavor = "multi_thread")]
async fn metrics_list_every_model_page() {
    let server = MockServer::start().await;
    mount_metrics(&server).await;
    let out = PROVIDER.setup(&server.uri()).run("metrics", &[]).await;
    let s = PROVIDER.service();
    out.assert_collected(&s, "gemini");
    assert_eq!(out.metric(&s, "gemini_models_available", &[]), Some(3.0));
    assert_eq!(
        out.metric(
            &s,
            "gemini_model_input_token_limit",
            &[("model", "gemini-2.5-flash")]
        ),
        Some(1_048_576.0)
    );
    assert_eq!(
        out.metric(
            &s,
            "gemini_model_output_token_limit",
            &[("model", "gemini-2.5-flash")]
        ),
        Some(65_536.0)
    );
    assert!(
        out.notes(&s).contains("no usage or billing endpoint"),
        "{}",
        out.json
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn an_invalid_key_fails_with_exit_1() {
    let server = MockServer::start().await;
    // Google answers a bad key with 400 INVALID_ARGUMENT / API_KEY_INVALID.
    Mock::given(method("GET"))
        .and(path("/v1beta/models"))
        .respond_with(ResponseTemplate::new(400).set_body_raw(BAD_KEY, "application/json"))
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
