//! Integration tests for the Jira provider: the shared conformance suite, the exact requests
//! (method, path, query, body, Basic auth) against wiremock, metrics parsed from realistic
//! bodies (pagination and empty results included), Jira's error shapes, and the
//! project-management verb. Nothing here touches the internet.

use std::sync::Arc;

use opsdeck_core::config::spec_from_map;
use opsdeck_core::domain::TimeWindow;
use opsdeck_core::http::HttpSettings;
use opsdeck_core::{BaseService, FailureKind, ServiceFactory, Status};
use opsdeck_testkit::wiremock::matchers::{body_json, header, method, path, query_param};
use opsdeck_testkit::wiremock::{Mock, MockServer, ResponseTemplate};
use opsdeck_testkit::{Conformance, MountFuture, assert_no_secrets};
use serde_json::{Value, json};

use opsdeck_provider_jira::testing::{EMAIL, TOKEN};

/// base64("ops@acme.com:jira-secret-token-123")
const BASIC: &str = "Basic b3BzQGFjbWUuY29tOmppcmEtc2VjcmV0LXRva2VuLTEyMw==";
const CLOUD_ID: &str = "1a2b3c4d-5e6f-7a8b-9c0d-1e2f3a4b5c6d";

const MYSELF: &str = include_str!("fixtures/myself.json");
const MYSELF_NO_EMAIL: &str = include_str!("fixtures/myself_no_email.json");
const MYSELF_401: &str = include_str!("fixtures/myself_401.txt");
const GATEWAY_401: &str = include_str!("fixtures/gateway_401_scope.json");
const SEARCH_PAGE1: &str = include_str!("fixtures/search_jql_page1.json");
const SEARCH_PAGE2: &str = include_str!("fixtures/search_jql_page2.json");
const SEARCH_EMPTY: &str = include_str!("fixtures/search_jql_empty.json");
const SPRINTS_ACTIVE: &str = include_str!("fixtures/board_sprints_active.json");
const SPRINTS_NONE: &str = include_str!("fixtures/board_sprints_none.json");
const BOARD_404: &str = include_str!("fixtures/board_404.json");
const BOARD_KANBAN: &str = include_str!("fixtures/board_400_kanban.json");
const UNKNOWN_PROJECT: &str = include_str!("fixtures/error_400_unknown_project.json");

fn json_body(body: &str) -> ResponseTemplate {
    ResponseTemplate::new(200).set_body_raw(body.to_owned(), "application/json;charset=UTF-8")
}

/// A mock for `GET {prefix}/rest/api/3/myself` with every header we promise to send.
fn myself_mock(prefix: &str, body: &str) -> Mock {
    Mock::given(method("GET"))
        .and(path(format!("{prefix}/rest/api/3/myself")))
        .and(header("authorization", BASIC))
        .and(header("accept", "application/json"))
        .and(header("user-agent", opsdeck_core::http::USER_AGENT))
        .respond_with(json_body(body))
}

/// A mock for one approximate count, matched on the exact JQL in the body.
fn count_mock(jql: &str, count: u64) -> Mock {
    Mock::given(method("POST"))
        .and(path("/rest/api/3/search/approximate-count"))
        .and(header("authorization", BASIC))
        .and(header("content-type", "application/json"))
        .and(body_json(json!({ "jql": jql })))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({ "count": count })))
}

fn sprints_mock(board: u64, body: &str) -> Mock {
    Mock::given(method("GET"))
        .and(path(format!("/rest/agile/1.0/board/{board}/sprint")))
        .and(query_param("state", "active"))
        .and(query_param("startAt", "0"))
        .and(query_param("maxResults", "50"))
        .and(header("authorization", BASIC))
        .respond_with(json_body(body))
}

/// The counts the provider sends with `projects = ["OPS", "WEB"]`.
const SCOPE: &str = "project in (\"OPS\", \"WEB\")";

async fn mount_project_counts(server: &MockServer) {
    for (jql, n) in [
        (format!("statusCategory = 2 AND {SCOPE}"), 12),
        (format!("statusCategory = 4 AND {SCOPE}"), 5),
        (format!("created >= -7d AND {SCOPE}"), 9),
        (format!("resolved >= -7d AND {SCOPE}"), 4),
        ("project = \"OPS\" AND statusCategory != 3".to_owned(), 10),
        ("project = \"WEB\" AND statusCategory != 3".to_owned(), 7),
    ] {
        count_mock(&jql, n).expect(1).mount(server).await;
    }
}

async fn mount_sprint_counts(server: &MockServer) {
    for (cat, n) in [(2, 3), (4, 2), (3, 6)] {
        count_mock(&format!("sprint = 37 AND statusCategory = {cat}"), n)
            .expect(1)
            .mount(server)
            .await;
    }
}

fn mount_success(server: &MockServer) -> MountFuture<'_> {
    Box::pin(async move {
        myself_mock("", MYSELF).expect(1..).mount(server).await;
    })
}

fn mount_metrics(server: &MockServer) -> MountFuture<'_> {
    Box::pin(async move {
        mount_project_counts(server).await;
        sprints_mock(5, SPRINTS_ACTIVE)
            .expect(1)
            .mount(server)
            .await;
        mount_sprint_counts(server).await;
    })
}

/// Jira's error shapes: the site answers 401 in plain text, the rest as an ErrorCollection.
fn jira_error_body(status: u16) -> ResponseTemplate {
    match status {
        401 => ResponseTemplate::new(401)
            .insert_header("www-authenticate", "Basic realm=\"protected-area\"")
            .set_body_raw(MYSELF_401, "text/plain;charset=UTF-8"),
        _ => ResponseTemplate::new(status).set_body_json(json!({
            "errorMessages": [format!("mock Jira error {status}")],
            "errors": {}
        })),
    }
}

fn full_config(base: &str) -> Value {
    json!({
        "base_url": base,
        "email": EMAIL,
        "api_token": TOKEN,
        "projects": ["OPS", "WEB"],
        "board_id": 5
    })
}

#[tokio::test]
async fn conformance() {
    Conformance::new("jira", full_config)
        .secret(TOKEN)
        .secret(BASIC.trim_start_matches("Basic "))
        .success(mount_success)
        .metrics(mount_metrics)
        .error_body(jira_error_body)
        .run()
        .await;
}

fn factory() -> ServiceFactory {
    ServiceFactory::from_registry()
        .unwrap_or_else(|e| panic!("{e}"))
        .with_http_settings(opsdeck_testkit::FAST_RETRIES)
}

fn service(config: Value) -> Arc<dyn BaseService> {
    opsdeck_testkit::service("jira", config)
}

#[test]
fn registered_with_fields() {
    let f = factory();
    let d = f
        .descriptor("jira")
        .unwrap_or_else(|| panic!("jira not registered"));
    assert_eq!(d.name, "Jira Cloud");
    let schema = d.json_schema();
    assert_eq!(schema["properties"]["api_token"]["writeOnly"], json!(true));
    assert_eq!(
        schema["required"],
        json!(["base_url", "email", "api_token"])
    );
    assert_eq!(
        schema["properties"]["gateway_url"]["default"],
        json!("https://api.atlassian.com")
    );
}

#[tokio::test]
async fn probe_sends_basic_auth_and_reports_the_account() {
    let server = MockServer::start().await;
    myself_mock("", MYSELF).expect(1).mount(&server).await;
    let svc = service(full_config(&server.uri()));
    let report = svc.test_connection().await;
    assert_eq!(report.status, Status::Connected, "{}", report.message);
    assert_eq!(report.identity.as_deref(), Some("mia@example.com"));
    assert!(
        report
            .message
            .starts_with("Authenticated as Mia Krystof <mia@example.com> on 127.0.0.1"),
        "{}",
        report.message
    );
    assert_eq!(
        report.details.extra.get("account_type"),
        Some(&json!("atlassian"))
    );
}

#[test]
fn typed_service_debug_hides_the_token() {
    let config = opsdeck_provider_jira::JiraConfig {
        base_url: url::Url::parse("https://acme.atlassian.net").unwrap_or_else(|e| panic!("{e}")),
        email: EMAIL.to_owned(),
        api_token: opsdeck_core::secrecy::SecretString::from(TOKEN),
        cloud_id: None,
        gateway_url: url::Url::parse(opsdeck_provider_jira::DEFAULT_GATEWAY)
            .unwrap_or_else(|e| panic!("{e}")),
        projects: vec![],
        board_id: None,
    };
    let svc = opsdeck_provider_jira::JiraService::new(config, &HttpSettings::default())
        .unwrap_or_else(|e| panic!("{e}"));
    let debug = format!("{svc:?}");
    assert_no_secrets("the service Debug", &debug, &[TOKEN, BASIC]);
    assert!(debug.contains("acme.atlassian.net"), "{debug}");
}

#[tokio::test]
async fn identity_falls_back_to_display_name_when_email_is_hidden() {
    let server = MockServer::start().await;
    myself_mock("", MYSELF_NO_EMAIL).mount(&server).await;
    let report = service(full_config(&server.uri())).test_connection().await;
    assert_eq!(report.status, Status::Connected, "{}", report.message);
    assert_eq!(report.identity.as_deref(), Some("opsdeck-reader"));
}

#[tokio::test]
async fn cloud_id_routes_through_the_gateway() {
    let server = MockServer::start().await;
    myself_mock(&format!("/ex/jira/{CLOUD_ID}"), MYSELF)
        .expect(1)
        .mount(&server)
        .await;
    let svc = service(json!({
        "base_url": "https://acme.atlassian.net",
        "email": EMAIL,
        "api_token": TOKEN,
        "cloud_id": CLOUD_ID,
        "gateway_url": server.uri(),
    }));
    let report = svc.test_connection().await;
    assert_eq!(report.status, Status::Connected, "{}", report.message);
    assert!(
        report
            .message
            .contains("on acme.atlassian.net through the Atlassian API gateway"),
        "{}",
        report.message
    );
}

#[tokio::test]
async fn plain_text_401_is_invalid_credentials_with_a_scoped_token_hint() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/rest/api/3/myself"))
        .respond_with(
            ResponseTemplate::new(401).set_body_raw(MYSELF_401, "text/plain;charset=UTF-8"),
        )
        .expect(1)
        .mount(&server)
        .await;
    let report = service(full_config(&server.uri())).test_connection().await;
    assert_eq!(report.status, Status::Failed);
    assert_eq!(report.failure, Some(FailureKind::InvalidCredentials));
    assert!(
        report
            .message
            .contains("Client must be authenticated to access this resource"),
        "{}",
        report.message
    );
    assert!(
        report
            .hint
            .as_deref()
            .is_some_and(|h| h.contains("set cloud_id")),
        "{report:?}"
    );
    assert!(!report.message.contains(TOKEN));
}

#[tokio::test]
async fn gateway_scope_mismatch_is_permission_denied() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path(format!("/ex/jira/{CLOUD_ID}/rest/api/3/myself")))
        .respond_with(ResponseTemplate::new(401).set_body_raw(GATEWAY_401, "application/json"))
        .mount(&server)
        .await;
    let report = service(json!({
        "base_url": "https://acme.atlassian.net",
        "email": EMAIL,
        "api_token": TOKEN,
        "cloud_id": CLOUD_ID,
        "gateway_url": server.uri(),
    }))
    .test_connection()
    .await;
    assert_eq!(report.failure, Some(FailureKind::PermissionDenied));
    assert!(
        report
            .hint
            .as_deref()
            .is_some_and(|h| h.contains("read:jira-user")),
        "{report:?}"
    );
}

#[tokio::test]
async fn captcha_403_is_invalid_credentials() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/rest/api/3/myself"))
        .respond_with(ResponseTemplate::new(403).insert_header(
            "x-authentication-denied-reason",
            "CAPTCHA_CHALLENGE; login-url=https://acme.atlassian.net/login.jsp",
        ))
        .mount(&server)
        .await;
    let report = service(full_config(&server.uri())).test_connection().await;
    assert_eq!(report.failure, Some(FailureKind::InvalidCredentials));
    assert!(report.message.contains("CAPTCHA"), "{}", report.message);
}

#[tokio::test]
async fn rate_limit_reports_retry_after_reset_and_reason() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/rest/api/3/myself"))
        .respond_with(
            ResponseTemplate::new(429)
                .insert_header("retry-after", "120")
                .insert_header("x-ratelimit-reset", "2026-11-27T18:31Z")
                .insert_header("x-ratelimit-limit", "100")
                .insert_header("x-ratelimit-remaining", "0")
                .insert_header("ratelimit-reason", "jira-burst-based")
                .set_body_json(json!({"errorMessages": ["Rate limit exceeded."], "errors": {}})),
        )
        .expect(1)
        .mount(&server)
        .await;
    let report = service(full_config(&server.uri())).test_connection().await;
    assert_eq!(report.status, Status::Unknown);
    assert_eq!(report.failure, Some(FailureKind::RateLimited));
    assert_eq!(report.details.retry_after_secs, Some(120));
    let rl = report
        .details
        .rate_limit
        .clone()
        .unwrap_or_else(|| panic!("no rate limit details"));
    assert_eq!(rl.remaining, Some(0));
    assert_eq!(
        rl.reset_at.map(|t| t.to_rfc3339()),
        Some("2026-11-27T18:31:00+00:00".to_owned())
    );
    assert!(
        report
            .hint
            .as_deref()
            .is_some_and(|h| h.contains("jira-burst-based")),
        "{report:?}"
    );
}

#[tokio::test]
async fn metrics_with_projects_and_board() {
    let server = MockServer::start().await;
    mount_metrics(&server).await;
    let set = service(full_config(&server.uri()))
        .collect_metrics()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        set.value("jira_open_issues", &[("status_category", "to_do")]),
        Some(12.0)
    );
    assert_eq!(
        set.value("jira_open_issues", &[("status_category", "in_progress")]),
        Some(5.0)
    );
    assert_eq!(
        set.value("jira_open_issues_by_project", &[("project", "OPS")]),
        Some(10.0)
    );
    assert_eq!(
        set.value("jira_open_issues_by_project", &[("project", "WEB")]),
        Some(7.0)
    );
    assert_eq!(set.value("jira_issues_created_7d", &[]), Some(9.0));
    assert_eq!(set.value("jira_issues_resolved_7d", &[]), Some(4.0));
    assert_eq!(
        set.value("jira_active_sprints", &[("board", "5")]),
        Some(1.0)
    );
    let sprint = [
        ("board", "5"),
        ("sprint_id", "37"),
        ("sprint", "OPS Sprint 12"),
    ];
    for (cat, n) in [("to_do", 3.0), ("in_progress", 2.0), ("done", 6.0)] {
        let mut labels = sprint.to_vec();
        labels.push(("status_category", cat));
        assert_eq!(set.value("jira_sprint_issues", &labels), Some(n), "{cat}");
    }
    assert!(set.value("jira_sprint_days_remaining", &sprint).is_some());
    assert!(set.notes.is_empty(), "{:?}", set.notes);
}

#[tokio::test]
async fn metrics_without_projects_page_through_the_enhanced_search() {
    let server = MockServer::start().await;
    for (jql, n) in [
        ("statusCategory = 2", 3),
        ("statusCategory = 4", 1),
        ("created >= -7d", 2),
        ("resolved >= -7d", 0),
    ] {
        count_mock(jql, n).expect(1).mount(&server).await;
    }
    Mock::given(method("POST"))
        .and(path("/rest/api/3/search/jql"))
        .and(header("authorization", BASIC))
        .and(body_json(json!({
            "jql": "statusCategory != 3",
            "fields": ["project"],
            "maxResults": 1000
        })))
        .respond_with(json_body(SEARCH_PAGE1))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/rest/api/3/search/jql"))
        .and(header("authorization", BASIC))
        .and(body_json(json!({
            "jql": "statusCategory != 3",
            "fields": ["project"],
            "maxResults": 1000,
            "nextPageToken": "CAEaAggD"
        })))
        .respond_with(json_body(SEARCH_PAGE2))
        .expect(1)
        .mount(&server)
        .await;
    let set = service(json!({ "base_url": server.uri(), "email": EMAIL, "api_token": TOKEN }))
        .collect_metrics()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        set.value("jira_open_issues_by_project", &[("project", "OPS")]),
        Some(2.0)
    );
    assert_eq!(
        set.value("jira_open_issues_by_project", &[("project", "WEB")]),
        Some(2.0)
    );
    assert_eq!(set.value("jira_issues_resolved_7d", &[]), Some(0.0));
    assert_eq!(set.value("jira_active_sprints", &[]), None);
}

#[tokio::test]
async fn empty_site_and_board_without_active_sprint() {
    let server = MockServer::start().await;
    for jql in [
        "statusCategory = 2",
        "statusCategory = 4",
        "created >= -7d",
        "resolved >= -7d",
    ] {
        count_mock(jql, 0).expect(1).mount(&server).await;
    }
    Mock::given(method("POST"))
        .and(path("/rest/api/3/search/jql"))
        .respond_with(json_body(SEARCH_EMPTY))
        .expect(1)
        .mount(&server)
        .await;
    sprints_mock(9, SPRINTS_NONE).expect(1).mount(&server).await;
    let set = service(json!({
        "base_url": server.uri(), "email": EMAIL, "api_token": TOKEN, "board_id": 9
    }))
    .collect_metrics()
    .await
    .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        set.value("jira_open_issues", &[("status_category", "to_do")]),
        Some(0.0)
    );
    assert_eq!(set.value("jira_open_issues_by_project", &[]), None);
    assert_eq!(
        set.value("jira_active_sprints", &[("board", "9")]),
        Some(0.0)
    );
    assert_eq!(set.value("jira_sprint_issues", &[]), None);
    assert!(
        set.notes
            .iter()
            .any(|n| n.contains("Board 9 has no active sprint")),
        "{:?}",
        set.notes
    );
}

#[tokio::test]
async fn unknown_project_key_is_not_found() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/rest/api/3/search/approximate-count"))
        .respond_with(ResponseTemplate::new(400).set_body_raw(UNKNOWN_PROJECT, "application/json"))
        .mount(&server)
        .await;
    let err = service(json!({
        "base_url": server.uri(), "email": EMAIL, "api_token": TOKEN, "projects": ["NOPE"]
    }))
    .collect_metrics()
    .await
    .err()
    .unwrap_or_else(|| panic!("expected an error"));
    assert_eq!(err.kind(), FailureKind::NotFound);
    assert!(err.message().contains("'NOPE'"), "{}", err.message());
    assert!(
        err.hint().is_some_and(|h| h.contains("Browse projects")),
        "{err}"
    );
}

async fn board_problem(body: &'static str, status: u16, expect_in_note: &str) {
    let server = MockServer::start().await;
    mount_project_counts(&server).await;
    Mock::given(method("GET"))
        .and(path("/rest/agile/1.0/board/5/sprint"))
        .respond_with(ResponseTemplate::new(status).set_body_raw(body, "application/json"))
        .expect(1)
        .mount(&server)
        .await;
    let set = service(full_config(&server.uri()))
        .collect_metrics()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    // The issue counts survive a bad board; the note says what is wrong with it.
    assert_eq!(
        set.value("jira_open_issues", &[("status_category", "to_do")]),
        Some(12.0)
    );
    assert_eq!(set.value("jira_active_sprints", &[]), None);
    assert!(
        set.notes.iter().any(|n| n.contains(expect_in_note)),
        "{:?}",
        set.notes
    );
}

#[tokio::test]
async fn kanban_board_is_a_note_not_a_failure() {
    board_problem(BOARD_KANBAN, 400, "Kanban board").await;
}

#[tokio::test]
async fn missing_board_is_a_note_with_the_errors_map_message() {
    board_problem(
        BOARD_404,
        404,
        "rapidViewId: The requested board cannot be viewed",
    )
    .await;
}

#[tokio::test]
async fn issue_summary_verb() {
    let server = MockServer::start().await;
    for (jql, n) in [
        (format!("statusCategory = 2 AND {SCOPE}"), 12),
        (format!("statusCategory = 4 AND {SCOPE}"), 5),
        (format!("created >= -30d AND {SCOPE}"), 40),
        (format!("resolved >= -30d AND {SCOPE}"), 33),
        ("project = \"OPS\" AND statusCategory != 3".to_owned(), 10),
        ("project = \"WEB\" AND statusCategory != 3".to_owned(), 7),
    ] {
        count_mock(&jql, n).expect(1).mount(&server).await;
    }
    sprints_mock(5, SPRINTS_ACTIVE).mount(&server).await;
    mount_sprint_counts(&server).await;
    let svc = service(full_config(&server.uri()));
    let pm = svc
        .as_project_management()
        .unwrap_or_else(|| panic!("no project-management verb"));
    let s = pm
        .issue_summary(TimeWindow::last(chrono::Duration::days(30)))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(s.open_by_status_category.get("To Do"), Some(&12));
    assert_eq!(s.open_by_status_category.get("In Progress"), Some(&5));
    assert_eq!(s.open_by_project.get("WEB"), Some(&7));
    assert_eq!((s.created, s.resolved), (40, 33));
    let sprint = s.active_sprint.unwrap_or_else(|| panic!("no sprint"));
    assert_eq!((sprint.id, sprint.name.as_str()), (37, "OPS Sprint 12"));
    assert_eq!(sprint.issues_by_status_category.get("Done"), Some(&6));
    assert_eq!(
        sprint.end_date.map(|d| d.to_rfc3339()),
        Some("2026-12-04T16:00:00+00:00".to_owned())
    );
}

#[test]
fn config_rejects_keys_and_ids_that_would_break_jql_or_urls() {
    let f = factory();
    for (field, value) in [
        ("projects", json!(["OPS\" OR project = \"X"])),
        ("cloud_id", json!("../../other")),
    ] {
        let mut map = serde_json::Map::new();
        map.insert("provider".into(), json!("jira"));
        map.insert("base_url".into(), json!("https://acme.atlassian.net"));
        map.insert("email".into(), json!(EMAIL));
        map.insert("api_token".into(), json!(TOKEN));
        map.insert(field.into(), value);
        let spec = spec_from_map("jira-bad", map, &|_| None).unwrap_or_else(|e| panic!("{e}"));
        let err = f
            .build(&spec)
            .err()
            .unwrap_or_else(|| panic!("{field}: expected a config error"));
        let text = err.to_string();
        assert!(text.contains(field), "{field}: {text}");
        assert!(!text.contains(TOKEN));
    }
}

fn mount_gateway_success(server: &MockServer) -> MountFuture<'_> {
    Box::pin(async move {
        myself_mock(&format!("/ex/jira/{CLOUD_ID}"), MYSELF)
            .expect(1..)
            .mount(server)
            .await;
    })
}

/// The same suite with a scoped token: every call must go to the gateway path.
#[tokio::test]
async fn conformance_through_the_gateway() {
    Conformance::new("jira", |base| {
        json!({
            "base_url": "https://acme.atlassian.net",
            "email": EMAIL,
            "api_token": TOKEN,
            "cloud_id": CLOUD_ID,
            "gateway_url": base,
        })
    })
    .secret(TOKEN)
    .success(mount_gateway_success)
    .error_body(jira_error_body)
    .run()
    .await;
}

/// Jira's 429 with a `Retry-After` that fits the check is retried (the wait itself is proven
/// by the core policy tests under paused time; this one only proves Jira's 429 is retried).
#[tokio::test]
async fn a_429_whose_retry_after_fits_is_retried() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/rest/api/3/myself"))
        .respond_with(
            ResponseTemplate::new(429)
                .insert_header("retry-after", "0")
                .insert_header("ratelimit-reason", "jira-burst-based"),
        )
        .up_to_n_times(1)
        .with_priority(1)
        .expect(1)
        .mount(&server)
        .await;
    myself_mock("", MYSELF).expect(1).mount(&server).await;
    let report = service(full_config(&server.uri())).test_connection().await;
    assert_eq!(report.status, Status::Connected, "{}", report.message);
}

/// The enhanced search with endless pages: each holds the same two OPS issues and a new token
/// (or, with `same_token`, always the same one); with `fail_after`, later pages answer 500.
#[derive(Default)]
struct EndlessSearch {
    served: std::sync::atomic::AtomicU64,
    same_token: bool,
    fail_after: Option<u64>,
}

impl opsdeck_testkit::wiremock::Respond for EndlessSearch {
    fn respond(&self, _: &opsdeck_testkit::wiremock::Request) -> ResponseTemplate {
        let n = self
            .served
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        if self.fail_after.is_some_and(|f| n >= f) {
            return ResponseTemplate::new(500)
                .set_body_json(json!({"errorMessages": ["Internal server error"], "errors": {}}));
        }
        let token = if self.same_token {
            "same".to_owned()
        } else {
            format!("t{n}")
        };
        ResponseTemplate::new(200).set_body_json(json!({
            "issues": [{"fields": {"project": {"key": "OPS"}}}, {"fields": {"project": {"key": "OPS"}}}],
            "nextPageToken": token, "isLast": false
        }))
    }
}

async fn collect_with_search(search: EndlessSearch) -> opsdeck_core::MetricSet {
    let server = MockServer::start().await;
    for jql in [
        "statusCategory = 2",
        "statusCategory = 4",
        "created >= -7d",
        "resolved >= -7d",
    ] {
        count_mock(jql, 1).mount(&server).await;
    }
    Mock::given(method("POST"))
        .and(path("/rest/api/3/search/jql"))
        .respond_with(search)
        .mount(&server)
        .await;
    service(json!({ "base_url": server.uri(), "email": EMAIL, "api_token": TOKEN }))
        .collect_metrics()
        .await
        .unwrap_or_else(|e| panic!("{e}"))
}

#[tokio::test]
async fn per_project_search_stops_at_the_page_cap_and_says_so() {
    let set = collect_with_search(EndlessSearch::default()).await;
    assert_eq!(
        set.value("jira_open_issues_by_project", &[("project", "OPS")]),
        Some(20.0)
    );
    assert!(
        set.notes.iter().any(|n| n
            .starts_with("Stopped after 10 pages; figures cover 20 of more open issues.")
            && n.contains("set `projects`")),
        "{:?}",
        set.notes
    );
}

#[tokio::test]
async fn a_repeated_search_token_stops_with_a_note() {
    let set = collect_with_search(EndlessSearch {
        same_token: true,
        ..EndlessSearch::default()
    })
    .await;
    assert_eq!(
        set.value("jira_open_issues_by_project", &[("project", "OPS")]),
        Some(4.0)
    );
    assert!(
        set.notes
            .iter()
            .any(|n| n.contains("a page cursor it had already sent")),
        "{:?}",
        set.notes
    );
}

#[tokio::test]
async fn a_failing_later_search_page_keeps_the_first_pages() {
    let set = collect_with_search(EndlessSearch {
        fail_after: Some(1),
        ..EndlessSearch::default()
    })
    .await;
    assert_eq!(
        set.value("jira_open_issues_by_project", &[("project", "OPS")]),
        Some(2.0)
    );
    assert!(
        set.notes
            .iter()
            .any(|n| n.starts_with("Page 2 of open issues failed (provider_error)")),
        "{:?}",
        set.notes
    );
}

#[tokio::test]
async fn html_from_a_proxy_is_not_a_credentials_verdict() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/rest/api/3/myself"))
        .respond_with(ResponseTemplate::new(200).set_body_raw(
            "<!DOCTYPE html><html><head><title>Log in</title></head></html>",
            "text/html;charset=UTF-8",
        ))
        .mount(&server)
        .await;
    let report = service(full_config(&server.uri())).test_connection().await;
    assert_eq!(report.failure, Some(FailureKind::InvalidResponse));
    assert!(report.message.contains("HTML page"), "{}", report.message);
}

/// Issue 14: the board's sprints failing (5xx) keeps the issue counts, with the section named.
#[tokio::test]
async fn failed_sprints_keep_the_issue_counts() {
    let server = MockServer::start().await;
    opsdeck_testkit::fail_section(&server, path("/rest/agile/1.0/board/5/sprint")).await;
    opsdeck_provider_jira::testing::mount_all(&server).await;
    let set = service(full_config(&server.uri()))
        .collect_metrics()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    opsdeck_testkit::assert_partial(&set, "sprints", FailureKind::ProviderError);
    assert_eq!(
        set.value("jira_open_issues", &[("status_category", "to_do")]),
        Some(12.0)
    );
}
