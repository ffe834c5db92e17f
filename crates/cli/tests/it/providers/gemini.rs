//! Gemini API: `GET /v1beta/models` with the key in `x-goog-api-key` (never in the URL);
//! `pageSize=1` for the test, every page of 1000 for the metrics.

use opsdeck::providers::gemini::testing::{self, API_KEY};
use wiremock::MockServer;

use super::Provider;

pub use testing::{mount_all, mount_metrics, mount_probe};

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
