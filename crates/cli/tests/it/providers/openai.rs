//! OpenAI: `GET /v1/models` with the API key, and the organization Costs and Completions Usage
//! APIs with the Admin key (probe: `GET /organization/costs?limit=1`; metrics: 7 daily buckets
//! over two pages each).

use opsdeck::providers::openai::testing::{self, ADMIN_KEY, API_KEY};
use wiremock::MockServer;

use super::Provider;

pub use testing::{mount_all, mount_metrics, mount_probe};

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
    testing::mount_unauthorized(&server).await;
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
