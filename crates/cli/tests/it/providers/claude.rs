//! Anthropic (Claude): `GET /v1/models` with `x-api-key` + `anthropic-version`, and with the
//! Admin key `GET /v1/organizations/me` (test) and the usage and cost reports for the month so
//! far (metrics, two pages each).

use opsdeck::providers::claude::testing::{self, ADMIN_KEY, API_KEY};
use wiremock::MockServer;

use super::Provider;

pub use testing::{mount_all, mount_metrics, mount_probe};

pub const PROVIDER: Provider = Provider {
    id: "claude",
    env: &[
        ("OPSDECK_E2E_CLAUDE_KEY", API_KEY),
        ("OPSDECK_E2E_CLAUDE_ADMIN_KEY", ADMIN_KEY),
    ],
    secrets: &[API_KEY, ADMIN_KEY],
    block,
};

fn block(name: &str, base: &str) -> String {
    format!(
        "[services.{name}]\nprovider = \"claude\"\napi_key = \"${{OPSDECK_E2E_CLAUDE_KEY}}\"\nadmin_key = \"${{OPSDECK_E2E_CLAUDE_ADMIN_KEY}}\"\nbase_url = \"{base}\"\n\n"
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn test_connects_as_the_organization() {
    let server = MockServer::start().await;
    mount_probe(&server).await;
    let out = PROVIDER.setup(&server.uri()).run("test", &[]).await;
    out.assert_connected(&PROVIDER.service(), "claude", "Acme Research");
}

#[tokio::test(flavor = "multi_thread")]
async fn metrics_sum_tokens_and_cost_exactly() {
    let server = MockServer::start().await;
    mount_metrics(&server).await;
    let out = PROVIDER.setup(&server.uri()).run("metrics", &[]).await;
    let s = PROVIDER.service();
    out.assert_collected(&s, "claude");
    let sonnet = [("model", "claude-sonnet-4-20250514")];
    assert_eq!(out.metric(&s, "claude_models_available", &[]), Some(3.0));
    assert_eq!(out.metric(&s, "claude_input_tokens", &sonnet), Some(1600.0));
    assert_eq!(out.metric(&s, "claude_output_tokens", &sonnet), Some(550.0));
    assert_eq!(out.metric(&s, "claude_cost_total", &[]), Some(1.2408912));
    assert_eq!(out.unit(&s, "claude_cost_total").as_deref(), Some("usd"));
}

#[tokio::test(flavor = "multi_thread")]
async fn an_invalid_key_fails_with_exit_1() {
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
