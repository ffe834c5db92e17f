//! Vercel REST: `GET /v2/user` for the test; deployments of the last 24 h (`/v6/deployments`,
//! paged by `until`), projects (`/v10/projects`, paged by `from`) and the FOCUS billing charges
//! of the month (`/v1/billing/charges`, JSON lines) for the metrics.

use opsdeck::providers::vercel::testing::{self, TOKEN};
use wiremock::MockServer;

use super::Provider;

pub use testing::{mount_all, mount_metrics, mount_probe};

pub const PROVIDER: Provider = Provider {
    id: "vercel",
    env: &[("OPSDECK_E2E_VERCEL_TOKEN", TOKEN)],
    secrets: &[TOKEN],
    block,
};

fn block(name: &str, base: &str) -> String {
    format!(
        "[services.{name}]\nprovider = \"vercel\"\ntoken = \"${{OPSDECK_E2E_VERCEL_TOKEN}}\"\nbase_url = \"{base}\"\n\n"
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn test_connects_as_the_user() {
    let server = MockServer::start().await;
    mount_probe(&server).await;
    let out = PROVIDER.setup(&server.uri()).run("test", &[]).await;
    out.assert_connected(&PROVIDER.service(), "vercel", "janedoe");
}

#[tokio::test(flavor = "multi_thread")]
async fn metrics_page_deployments_projects_and_sum_billing() {
    let server = MockServer::start().await;
    mount_metrics(&server).await;
    let out = PROVIDER.setup(&server.uri()).run("metrics", &[]).await;
    let s = PROVIDER.service();
    out.assert_collected(&s, "vercel");
    let state = |st| out.metric(&s, "vercel_deployments_24h", &[("state", st)]);
    assert_eq!(state("ready"), Some(2.0));
    assert_eq!(state("error"), Some(1.0));
    assert_eq!(out.metric(&s, "vercel_projects", &[]), Some(3.0));
    assert_eq!(
        out.metric(&s, "vercel_billed_cost_mtd", &[("currency", "usd")]),
        Some(32.8)
    );
    assert_eq!(
        out.metric(
            &s,
            "vercel_billed_cost_mtd_by_service",
            &[("service", "Fast Data Transfer")]
        ),
        Some(0.3)
    );
    assert_eq!(out.notes(&s), "");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_rejected_token_fails_with_exit_1() {
    let server = MockServer::start().await;
    // Vercel answers an invalid token with 403 "Not authorized".
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
