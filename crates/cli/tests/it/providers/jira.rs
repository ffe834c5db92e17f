//! Jira Cloud REST v3 with Basic auth (email + API token): `GET /rest/api/3/myself` for the
//! test; approximate issue counts (`POST /rest/api/3/search/approximate-count`) and the board's
//! active sprint (Agile API) for the metrics.

use opsdeck::providers::jira::testing::{self, BASIC_B64, EMAIL, TOKEN};
use wiremock::MockServer;

use super::Provider;

pub use testing::{mount_all, mount_metrics, mount_probe};

pub const PROVIDER: Provider = Provider {
    id: "jira",
    env: &[("OPSDECK_E2E_JIRA_TOKEN", TOKEN)],
    secrets: &[TOKEN, BASIC_B64],
    block,
};

fn block(name: &str, base: &str) -> String {
    format!(
        "[services.{name}]\nprovider = \"jira\"\nbase_url = \"{base}\"\nemail = \"{EMAIL}\"\napi_token = \"${{OPSDECK_E2E_JIRA_TOKEN}}\"\nprojects = [\"OPS\", \"WEB\"]\nboard_id = 5\n\n"
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn test_connects_as_the_account_email() {
    let server = MockServer::start().await;
    mount_probe(&server).await;
    let out = PROVIDER.setup(&server.uri()).run("test", &[]).await;
    out.assert_connected(&PROVIDER.service(), "jira", "mia@example.com");
}

#[tokio::test(flavor = "multi_thread")]
async fn metrics_count_issues_and_the_active_sprint() {
    let server = MockServer::start().await;
    mount_metrics(&server).await;
    let out = PROVIDER.setup(&server.uri()).run("metrics", &[]).await;
    let s = PROVIDER.service();
    out.assert_collected(&s, "jira");
    assert_eq!(
        out.metric(&s, "jira_open_issues", &[("status_category", "to_do")]),
        Some(12.0)
    );
    assert_eq!(
        out.metric(&s, "jira_open_issues_by_project", &[("project", "WEB")]),
        Some(7.0)
    );
    assert_eq!(out.metric(&s, "jira_issues_resolved_7d", &[]), Some(4.0));
    assert_eq!(
        out.metric(&s, "jira_active_sprints", &[("board", "5")]),
        Some(1.0)
    );
    assert_eq!(
        out.metric(
            &s,
            "jira_sprint_issues",
            &[("sprint_id", "37"), ("status_category", "done")]
        ),
        Some(6.0)
    );
    assert_eq!(out.notes(&s), "");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_rejected_token_fails_with_exit_1() {
    let server = MockServer::start().await;
    // The site's answer to bad Basic credentials, on every endpoint: 401 in plain text.
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
