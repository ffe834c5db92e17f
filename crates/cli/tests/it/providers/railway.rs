//! Railway public GraphQL API (`POST /graphql/v2`): a project token in `Project-Access-Token`
//! (no Authorization header) for the main runs, an account token as `Bearer` for one test.
//! Bodies are matched exactly (query text from the provider, variables).

use opsdeck::providers::railway::testing::{self, ENDPOINT, TOKEN};
use wiremock::MockServer;

use super::{Provider, Setup};

pub use testing::{mount_all, mount_metrics, mount_probe};

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
    testing::mount_account_probe(&server).await;
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
