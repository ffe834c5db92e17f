//! Jira Cloud REST v3 with Basic auth (email + API token): `GET /rest/api/3/myself` for the
//! test; approximate issue counts (`POST /rest/api/3/search/approximate-count`) and the board's
//! active sprint (Agile API) for the metrics.

use serde_json::json;
use wiremock::matchers::{any, body_json, header, method, path, query_param};
use wiremock::{Mock, MockServer, ResponseTemplate};

use super::{Provider, USER_AGENT};

const EMAIL: &str = "ops@acme.com";
const TOKEN: &str = "jira-e2e-token-456";
/// base64("ops@acme.com:jira-e2e-token-456"): the header value is a secret too.
const BASIC_B64: &str = "b3BzQGFjbWUuY29tOmppcmEtZTJlLXRva2VuLTQ1Ng==";

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

const MYSELF: &str = include_str!("../../../../providers/jira/tests/it/fixtures/myself.json");
const MYSELF_401: &str =
    include_str!("../../../../providers/jira/tests/it/fixtures/myself_401.txt");
const SPRINTS: &str =
    include_str!("../../../../providers/jira/tests/it/fixtures/board_sprints_active.json");

fn basic() -> String {
    format!("Basic {BASIC_B64}")
}

fn body(raw: &str) -> ResponseTemplate {
    ResponseTemplate::new(200).set_body_raw(raw.to_owned(), "application/json;charset=UTF-8")
}

pub async fn mount_probe(server: &MockServer) {
    Mock::given(method("GET"))
        .and(path("/rest/api/3/myself"))
        .and(header("authorization", basic().as_str()))
        .and(header("accept", "application/json"))
        .and(header("user-agent", USER_AGENT))
        .respond_with(body(MYSELF))
        .mount(server)
        .await;
}

async fn count(server: &MockServer, jql: &str, n: u64) {
    Mock::given(method("POST"))
        .and(path("/rest/api/3/search/approximate-count"))
        .and(header("authorization", basic().as_str()))
        .and(header("content-type", "application/json"))
        .and(body_json(json!({ "jql": jql })))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({ "count": n })))
        .mount(server)
        .await;
}

pub async fn mount_metrics(server: &MockServer) {
    let scope = "project in (\"OPS\", \"WEB\")";
    for (jql, n) in [
        (format!("statusCategory = 2 AND {scope}"), 12),
        (format!("statusCategory = 4 AND {scope}"), 5),
        (format!("created >= -7d AND {scope}"), 9),
        (format!("resolved >= -7d AND {scope}"), 4),
        ("project = \"OPS\" AND statusCategory != 3".to_owned(), 10),
        ("project = \"WEB\" AND statusCategory != 3".to_owned(), 7),
        ("sprint = 37 AND statusCategory = 2".to_owned(), 3),
        ("sprint = 37 AND statusCategory = 4".to_owned(), 2),
        ("sprint = 37 AND statusCategory = 3".to_owned(), 6),
    ] {
        count(server, &jql, n).await;
    }
    Mock::given(method("GET"))
        .and(path("/rest/agile/1.0/board/5/sprint"))
        .and(query_param("state", "active"))
        .and(query_param("startAt", "0"))
        .and(query_param("maxResults", "50"))
        .and(header("authorization", basic().as_str()))
        .respond_with(body(SPRINTS))
        .mount(server)
        .await;
}

pub async fn mount_all(server: &MockServer) {
    mount_probe(server).await;
    mount_metrics(server).await;
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
    Mock::given(any())
        .respond_with(
            ResponseTemplate::new(401)
                .insert_header("www-authenticate", "Basic realm=\"protected-area\"")
                .set_body_raw(MYSELF_401, "text/plain;charset=UTF-8"),
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
