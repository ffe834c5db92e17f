//! Stand-ins for Jira Cloud's REST v3 and Agile APIs, for tests in this crate and in others (the
//! CLI's end-to-end tests): mocks that answer only the exact requests the provider makes (Basic
//! auth with [`EMAIL`] and [`TOKEN`], our headers, the exact JQL), with the documented bodies in
//! `tests/it/fixtures`. The metric mocks assume `projects = ["OPS", "WEB"]` and `board_id = 5`.
//! Enabled by the `testing` feature; never part of a release build.

use opsdeck_testkit::wiremock::matchers::{any, body_json, header, method, path, query_param};
use opsdeck_testkit::wiremock::{Mock, MockServer, ResponseTemplate};
use serde_json::json;

/// The account email the mocks expect.
pub const EMAIL: &str = "ops@acme.com";
/// The API token the mocks expect.
pub const TOKEN: &str = "jira-secret-token-123";
/// base64("ops@acme.com:jira-secret-token-123"): the header value is a secret too.
pub const BASIC_B64: &str = "b3BzQGFjbWUuY29tOmppcmEtc2VjcmV0LXRva2VuLTEyMw==";
/// The identity the probe reports (the account's email).
pub const IDENTITY: &str = "mia@example.com";

const MYSELF: &str = include_str!("../tests/it/fixtures/myself.json");
/// Jira's plain-text 401.
pub const MYSELF_401: &str = include_str!("../tests/it/fixtures/myself_401.txt");
const SPRINTS: &str = include_str!("../tests/it/fixtures/board_sprints_active.json");

fn basic() -> String {
    format!("Basic {BASIC_B64}")
}

fn body(raw: &str) -> ResponseTemplate {
    ResponseTemplate::new(200).set_body_raw(raw.to_owned(), "application/json;charset=UTF-8")
}

/// `GET /rest/api/3/myself` for [`EMAIL`] and [`TOKEN`].
pub async fn mount_probe(server: &MockServer) {
    Mock::given(method("GET"))
        .and(path("/rest/api/3/myself"))
        .and(header("authorization", basic().as_str()))
        .and(header("accept", "application/json"))
        .and(header("user-agent", opsdeck_core::http::USER_AGENT))
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

/// The approximate counts for `projects = ["OPS", "WEB"]` and the active sprint of board 5.
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

/// [`mount_probe`] and [`mount_metrics`].
pub async fn mount_all(server: &MockServer) {
    mount_probe(server).await;
    mount_metrics(server).await;
}

/// Every request answered as Jira answers a rejected token (plain-text 401).
pub async fn mount_unauthorized(server: &MockServer) {
    Mock::given(any())
        .respond_with(
            ResponseTemplate::new(401).set_body_raw(MYSELF_401, "text/plain;charset=UTF-8"),
        )
        .mount(server)
        .await;
}
