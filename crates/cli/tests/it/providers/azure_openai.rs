//! Azure OpenAI: `GET /openai/models?api-version=…` and, with `deployment`,
//! `GET /openai/deployments/{name}?api-version=…`, the key in `api-key`.

use opsdeck::providers::azure_openai::testing::{self, API_KEY, DEPLOYMENT};
use wiremock::MockServer;

use super::Provider;

pub const PROVIDER: Provider = Provider {
    id: "azure_openai",
    env: &[("OPSDECK_E2E_AZURE_OPENAI_KEY", API_KEY)],
    secrets: &[API_KEY],
    block,
};

fn block(name: &str, base: &str) -> String {
    format!(
        "[services.{name}]\nprovider = \"azure_openai\"\nendpoint = \"{base}\"\napi_key = \"${{OPSDECK_E2E_AZURE_OPENAI_KEY}}\"\ndeployment = \"{DEPLOYMENT}\"\n\n"
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn test_connects_and_confirms_the_deployment() {
    let server = MockServer::start().await;
    testing::mount_all(&server).await;
    let out = PROVIDER.setup(&server.uri()).run("test", &[]).await;
    out.assert_connected(&PROVIDER.service(), "azure_openai", "127.0.0.1");
}

#[tokio::test(flavor = "multi_thread")]
async fn metrics_count_models_and_say_where_cost_is() {
    let server = MockServer::start().await;
    testing::mount_all(&server).await;
    let out = PROVIDER.setup(&server.uri()).run("metrics", &[]).await;
    let s = PROVIDER.service();
    out.assert_collected(&s, "azure_openai");
    assert_eq!(
        out.metric(&s, "azure_openai_models_available", &[]),
        Some(4.0)
    );
    assert_eq!(
        out.metric(
            &s,
            "azure_openai_deployment_up",
            &[("deployment", DEPLOYMENT), ("model", "gpt-4o-2024-11-20")]
        ),
        Some(1.0)
    );
    assert!(
        out.notes(&s).contains("Azure Cost Management"),
        "{}",
        out.json
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_wrong_key_fails_with_exit_1() {
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
