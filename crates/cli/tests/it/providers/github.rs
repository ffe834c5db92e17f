//! GitHub REST: `GET /user` for the test; rate limits, the repository, open pulls, workflow runs
//! of the last 24 h and deployments for the metrics.

use opsdeck::providers::github::testing::{self, TOKEN};
use wiremock::MockServer;

use super::Provider;

pub use testing::{mount_all, mount_metrics, mount_probe};

pub const PROVIDER: Provider = Provider {
    id: "github",
    env: &[("OPSDECK_E2E_GITHUB_TOKEN", TOKEN)],
    secrets: &[TOKEN],
    block,
};

fn block(name: &str, base: &str) -> String {
    format!(
        "[services.{name}]\nprovider = \"github\"\ntoken = \"${{OPSDECK_E2E_GITHUB_TOKEN}}\"\nbase_url = \"{base}\"\nrepos = [\"acme/api\"]\n\n"
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn test_connects_as_the_login() {
    let server = MockServer::start().await;
    mount_probe(&server).await;
    let out = PROVIDER.setup(&server.uri()).run("test", &[]).await;
    out.assert_connected(&PROVIDER.service(), "github", "octocat");
}

#[tokio::test(flavor = "multi_thread")]
async fn metrics_are_parsed_from_the_documented_bodies() {
    let server = MockServer::start().await;
    mount_metrics(&server).await;
    let out = PROVIDER.setup(&server.uri()).run("metrics", &[]).await;
    let s = PROVIDER.service();
    out.assert_collected(&s, "github");
    let api = ("repo", "acme/api");
    assert_eq!(
        out.metric(&s, "github_rate_limit_remaining", &[("resource", "core")]),
        Some(4987.0)
    );
    assert_eq!(out.metric(&s, "github_repositories", &[]), Some(1.0));
    assert_eq!(
        out.metric(&s, "github_open_pull_requests", &[api]),
        Some(3.0)
    );
    assert_eq!(out.metric(&s, "github_open_issues", &[api]), Some(9.0));
    assert_eq!(
        out.metric(
            &s,
            "github_workflow_runs",
            &[api, ("conclusion", "success")]
        ),
        Some(2.0)
    );
    assert_eq!(out.metric(&s, "github_deployments", &[api]), Some(2.0));
    assert_eq!(out.notes(&s), "");
}

#[tokio::test(flavor = "multi_thread")]
async fn bad_credentials_fail_with_exit_1() {
    let server = MockServer::start().await;
    // GitHub answers every call with a rejected token like this.
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
