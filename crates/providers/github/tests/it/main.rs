//! Integration tests for the GitHub provider: the shared conformance suite, the exact requests
//! GitHub documents, metrics parsed from realistic bodies (pagination, empty results,
//! partial failures), GitHub's error conventions, and the development verbs.

use std::sync::Arc;

use chrono::{Duration, Utc};
use opsdeck_core::domain::{DeploymentState, TimeWindow};
use opsdeck_core::{BaseService, FailureKind, ServiceFactory, Status};
use opsdeck_provider_github::testing::{self, TOKEN};
use opsdeck_testkit::wiremock::matchers::{method, path, path_regex, query_param};
use opsdeck_testkit::wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};
use opsdeck_testkit::{Conformance, MountFuture, QueryKeys, assert_no_secrets};
use serde_json::{Value, json};

mod app;

fn fixture(name: &str) -> &'static str {
    match name {
        "user" => include_str!("fixtures/user_200.json"),
        "user_401" => include_str!("fixtures/user_401_bad_credentials.json"),
        "user_401_noauth" => include_str!("fixtures/user_401_requires_authentication.json"),
        "user_403_integration" => include_str!("fixtures/user_403_integration.json"),
        "primary_limit" => include_str!("fixtures/primary_rate_limit_403.json"),
        "secondary_limit" => include_str!("fixtures/secondary_rate_limit_403.json"),
        "not_found" => include_str!("fixtures/not_found_404.json"),
        "rate_limit" => include_str!("fixtures/rate_limit_200.json"),
        "repo" => include_str!("fixtures/repo_200.json"),
        "org_page1" => include_str!("fixtures/org_repos_page1.json"),
        "org_page2" => include_str!("fixtures/org_repos_page2.json"),
        "org_empty" => include_str!("fixtures/org_repos_empty.json"),
        "pulls" => include_str!("fixtures/pulls_open_page.json"),
        "runs" => include_str!("fixtures/actions_runs_200.json"),
        "runs_empty" => include_str!("fixtures/actions_runs_empty.json"),
        "deployments" => include_str!("fixtures/deployments_200.json"),
        "deployments_empty" => include_str!("fixtures/deployments_empty.json"),
        "deployment_statuses" => include_str!("fixtures/deployment_statuses_200.json"),
        other => panic!("no fixture {other}"),
    }
}

fn json_body(name: &str) -> ResponseTemplate {
    ResponseTemplate::new(200).set_body_raw(fixture(name), "application/json; charset=utf-8")
}

/// A GET with every header GitHub documents for REST calls, exactly.
fn github_get(p: &str) -> opsdeck_testkit::wiremock::MockBuilder {
    testing::get(p)
}

fn mount_user(server: &MockServer) -> MountFuture<'_> {
    Box::pin(testing::mount_probe(server))
}

/// Deployments relative to now, so the 7-day cutoff is tested whatever the date.
fn deployments_body(ages_hours: &[i64]) -> String {
    let mut list: Vec<Value> = serde_json::from_str(fixture("deployments")).unwrap_or_default();
    let template = list.first().cloned().unwrap_or_default();
    list = ages_hours
        .iter()
        .enumerate()
        .map(|(i, h)| {
            let mut d = template.clone();
            d["id"] = json!(9100 + i);
            d["created_at"] = json!(
                (Utc::now() - Duration::hours(*h))
                    .format("%Y-%m-%dT%H:%M:%SZ")
                    .to_string()
            );
            d
        })
        .collect();
    serde_json::to_string(&list).unwrap_or_default()
}

/// The workflow-runs fixture with creation times inside the last 24 h, so the client-side
/// window check passes whatever the date; `extra_old` adds a run from two days ago.
fn runs_body(extra_old: bool) -> String {
    let mut body: Value = serde_json::from_str(fixture("runs")).unwrap_or_default();
    let recent = (Utc::now() - Duration::hours(2))
        .format("%Y-%m-%dT%H:%M:%SZ")
        .to_string();
    if let Some(runs) = body["workflow_runs"].as_array_mut() {
        for r in runs.iter_mut() {
            r["created_at"] = json!(recent);
        }
        if extra_old && let Some(mut old) = runs.first().cloned() {
            old["created_at"] = json!(
                (Utc::now() - Duration::hours(48))
                    .format("%Y-%m-%dT%H:%M:%SZ")
                    .to_string()
            );
            old["conclusion"] = json!("failure");
            runs.push(old);
        }
    }
    body.to_string()
}

/// Mocks for `repos = ["acme/api"]`: everything a collection asks for, exactly.
fn mount_single_repo(server: &MockServer) -> MountFuture<'_> {
    Box::pin(testing::mount_metrics(server))
}

/// GitHub's error body shape.
fn github_error(status: u16) -> ResponseTemplate {
    let message = match status {
        401 => "Bad credentials",
        403 => "Resource not accessible by personal access token",
        404 => "Not Found",
        429 => {
            "You have exceeded a secondary rate limit. Please wait a few minutes before you try again."
        }
        _ => "Server Error",
    };
    ResponseTemplate::new(status).set_body_json(json!({
        "message": message,
        "documentation_url": "https://docs.github.com/rest",
        "status": status.to_string(),
    }))
}

#[tokio::test]
async fn conformance() {
    Conformance::new(
        "github",
        |base| json!({ "token": TOKEN, "base_url": base, "repos": ["acme/api"] }),
    )
    .secret(TOKEN)
    .success(mount_user)
    .metrics(mount_single_repo)
    .error_body(github_error)
    .run()
    .await;
}

#[test]
fn registered_with_a_secret_token_and_a_json_schema() {
    let factory = ServiceFactory::from_registry().unwrap_or_else(|e| panic!("{e}"));
    let d = factory
        .descriptor("github")
        .unwrap_or_else(|| panic!("not registered"));
    assert_eq!(d.name, "GitHub");
    let schema = d.json_schema();
    assert_eq!(schema["properties"]["token"]["writeOnly"], json!(true));
    // `token` or the three App fields: the choice is checked when the config is built.
    assert_eq!(schema["required"], json!([]));
    assert_eq!(
        schema["properties"]["private_key"]["writeOnly"],
        json!(true)
    );
    assert_eq!(
        schema["properties"]["installation_id"]["type"],
        json!("integer")
    );
    assert_eq!(
        schema["properties"]["base_url"]["default"],
        json!("https://api.github.com")
    );
}

fn service_with(config: Value) -> Arc<dyn BaseService> {
    opsdeck_testkit::service("github", config)
}

fn service(server: &MockServer, extra: Value) -> Arc<dyn BaseService> {
    let mut config = json!({ "token": TOKEN, "base_url": server.uri() });
    if let (Value::Object(c), Value::Object(e)) = (&mut config, extra) {
        c.extend(e);
    }
    service_with(config)
}

#[tokio::test]
async fn probe_reports_login_scopes_expiry_and_rate_limit() {
    let server = MockServer::start().await;
    mount_user(&server).await;
    let report = service(&server, json!({})).test_connection().await;
    assert_eq!(report.status, Status::Connected, "{}", report.message);
    assert_eq!(report.identity.as_deref(), Some("octocat"));
    assert!(
        report
            .message
            .contains("Authenticated as octocat (monalisa octocat)"),
        "{}",
        report.message
    );
    assert_eq!(
        report.details.scopes,
        Some(vec![
            "read:org".to_owned(),
            "repo".to_owned(),
            "workflow".to_owned()
        ])
    );
    assert_eq!(
        report
            .details
            .token_expires_at
            .map(|t| t.to_rfc3339())
            .as_deref(),
        Some("2027-01-31T12:00:00+00:00")
    );
    let rl = report
        .details
        .rate_limit
        .clone()
        .unwrap_or_else(|| panic!("no rate limit"));
    assert_eq!((rl.limit, rl.remaining), (Some(5000), Some(4987)));
    assert_eq!(rl.reset_at.map(|t| t.timestamp()), Some(1_764_264_000));
    assert_eq!(rl.resource.as_deref(), Some("core"));
    let json = serde_json::to_string(&report).unwrap_or_default();
    assert_no_secrets("the report", &json, &[TOKEN]);
}

#[tokio::test]
async fn probe_warns_about_a_token_that_expires_soon_and_notes_fine_grained_tokens() {
    let server = MockServer::start().await;
    let soon = (Utc::now() + Duration::days(3))
        .format("%Y-%m-%d %H:%M:%S UTC")
        .to_string();
    github_get("/user")
        .respond_with(
            json_body("user")
                .insert_header("github-authentication-token-expiration", soon.as_str()),
        )
        .mount(&server)
        .await;
    let report = service(&server, json!({})).test_connection().await;
    assert_eq!(report.status, Status::Connected, "{}", report.message);
    assert!(
        report.message.contains("renew it soon"),
        "{}",
        report.message
    );
    assert!(
        report.message.contains("Fine-grained"),
        "{}",
        report.message
    );
    assert_eq!(report.details.scopes, None);
}

#[tokio::test]
async fn enterprise_server_keeps_the_api_v3_prefix() {
    let server = MockServer::start().await;
    github_get("/api/v3/user")
        .respond_with(json_body("user"))
        .expect(1)
        .mount(&server)
        .await;
    let svc =
        service_with(json!({ "token": TOKEN, "base_url": format!("{}/api/v3", server.uri()) }));
    let report = svc.test_connection().await;
    assert_eq!(report.status, Status::Connected, "{}", report.message);
}

async fn probe_with(response: ResponseTemplate) -> opsdeck_core::ConnectionReport {
    let server = MockServer::start().await;
    github_get("/user")
        .respond_with(response)
        .mount(&server)
        .await;
    service(&server, json!({})).test_connection().await
}

#[tokio::test]
async fn bad_credentials_are_invalid_credentials_with_a_hint() {
    let r = probe_with(
        ResponseTemplate::new(401).set_body_raw(fixture("user_401"), "application/json"),
    )
    .await;
    assert_eq!(
        (r.status, r.failure),
        (Status::Failed, Some(FailureKind::InvalidCredentials))
    );
    assert!(r.message.contains("Bad credentials"), "{}", r.message);
    assert!(
        r.hint
            .as_deref()
            .is_some_and(|h| h.contains("Create a new token")),
        "{r:?}"
    );
    let r = probe_with(
        ResponseTemplate::new(401).set_body_raw(fixture("user_401_noauth"), "application/json"),
    )
    .await;
    assert_eq!(r.failure, Some(FailureKind::InvalidCredentials));
    assert!(
        r.hint
            .as_deref()
            .is_some_and(|h| h.contains("saw no token")),
        "{r:?}"
    );
}

#[tokio::test]
async fn primary_rate_limit_403_is_rate_limited_until_the_reset() {
    let reset = Utc::now().timestamp() + 1800;
    let r = probe_with(
        ResponseTemplate::new(403)
            .set_body_raw(fixture("primary_limit"), "application/json")
            .insert_header("x-ratelimit-limit", "5000")
            .insert_header("x-ratelimit-remaining", "0")
            .insert_header("x-ratelimit-reset", reset.to_string().as_str())
            .insert_header("x-ratelimit-resource", "core"),
    )
    .await;
    assert_eq!(
        (r.status, r.failure),
        (Status::Unknown, Some(FailureKind::RateLimited)),
        "{}",
        r.message
    );
    assert!(r.message.contains("primary rate limit"), "{}", r.message);
    let wait = r.details.retry_after_secs.unwrap_or_default();
    assert!((1790..=1800).contains(&wait), "retry after {wait}");
    assert_eq!(r.details.rate_limit.and_then(|l| l.remaining), Some(0));
}

#[tokio::test]
async fn secondary_rate_limit_is_recognised_by_header_or_message() {
    // With Retry-After (and quota left, as GitHub sends it).
    let r = probe_with(
        ResponseTemplate::new(403)
            .set_body_raw(fixture("secondary_limit"), "application/json")
            .insert_header("retry-after", "60")
            .insert_header("x-ratelimit-remaining", "4890"),
    )
    .await;
    assert_eq!(r.failure, Some(FailureKind::RateLimited), "{}", r.message);
    assert_eq!(r.details.retry_after_secs, Some(60));
    assert!(r.message.contains("secondary rate limit"), "{}", r.message);
    // Only the message says so: wait at least a minute, as GitHub asks.
    let r = probe_with(
        ResponseTemplate::new(403).set_body_raw(fixture("secondary_limit"), "application/json"),
    )
    .await;
    assert_eq!(r.failure, Some(FailureKind::RateLimited), "{}", r.message);
    assert_eq!(r.details.retry_after_secs, Some(60));
}

#[tokio::test]
async fn other_403s_are_permission_denied_and_say_why() {
    let r = probe_with(
        ResponseTemplate::new(403)
            .set_body_raw(fixture("user_403_integration"), "application/json")
            .insert_header("x-ratelimit-remaining", "4999"),
    )
    .await;
    assert_eq!(
        (r.status, r.failure),
        (Status::Failed, Some(FailureKind::PermissionDenied))
    );
    assert!(
        r.hint
            .as_deref()
            .is_some_and(|h| h.contains("GitHub App installation token")),
        "{r:?}"
    );

    let r = probe_with(
        ResponseTemplate::new(403)
            .set_body_json(json!({"message": "Resource not accessible by personal access token", "documentation_url": "https://docs.github.com/rest", "status": "403"}))
            .insert_header("x-accepted-github-permissions", "metadata=read"),
    )
    .await;
    assert_eq!(r.failure, Some(FailureKind::PermissionDenied));
    assert!(
        r.hint
            .as_deref()
            .is_some_and(|h| h.contains("metadata=read")),
        "{r:?}"
    );
}

#[tokio::test]
async fn not_found_on_user_points_at_the_base_url() {
    let r = probe_with(
        ResponseTemplate::new(404).set_body_raw(fixture("not_found"), "application/json"),
    )
    .await;
    assert_eq!(r.failure, Some(FailureKind::NotFound));
    assert!(
        r.hint.as_deref().is_some_and(|h| h.contains("/api/v3")),
        "{r:?}"
    );
}

#[tokio::test]
async fn server_errors_with_html_bodies_are_provider_errors() {
    let r = probe_with(
        ResponseTemplate::new(502)
            .set_body_raw("<html><body>Server Error</body></html>", "text/html"),
    )
    .await;
    assert_eq!(r.failure, Some(FailureKind::ProviderError), "{}", r.message);
}

#[tokio::test]
async fn metrics_for_configured_repos_parse_realistic_bodies() {
    let server = MockServer::start().await;
    mount_single_repo(&server).await;
    let set = service(&server, json!({ "repos": ["acme/api"] }))
        .collect_metrics()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let api = [("repo", "acme/api")];
    assert_eq!(
        set.value("github_rate_limit_remaining", &[("resource", "core")]),
        Some(4987.0)
    );
    assert_eq!(
        set.value("github_rate_limit_limit", &[("resource", "search")]),
        Some(30.0)
    );
    assert_eq!(
        set.value(
            "github_rate_limit_reset_timestamp",
            &[("resource", "graphql")]
        ),
        Some(1_764_263_228.0)
    );
    // Buckets opsdeck does not use are not reported.
    assert_eq!(
        set.value("github_rate_limit_remaining", &[("resource", "scim")]),
        None
    );
    assert_eq!(set.value("github_repositories", &[]), Some(1.0));
    assert_eq!(set.value("github_repositories_truncated", &[]), Some(0.0));
    // open_issues_count 12 includes the 3 open pull requests (link rel="last" page=3).
    assert_eq!(set.value("github_open_pull_requests", &api), Some(3.0));
    assert_eq!(set.value("github_open_issues", &api), Some(9.0));
    let runs = |c: &str| {
        set.value(
            "github_workflow_runs",
            &[("repo", "acme/api"), ("conclusion", c)],
        )
    };
    assert_eq!(runs("success"), Some(2.0));
    assert_eq!(runs("failure"), Some(1.0));
    assert_eq!(runs("cancelled"), Some(1.0));
    assert_eq!(runs("startup_failure"), Some(1.0));
    assert_eq!(runs("in_progress"), Some(1.0));
    // Deployments 1 h and 3 days old count; the 20-day-old one does not.
    assert_eq!(set.value("github_deployments", &api), Some(2.0));
    assert!(set.notes.is_empty(), "{:?}", set.notes);
}

/// Organisation discovery over two pages, with an archived repository skipped.
/// `calls`: how often the pages behind the first are expected (0.. when a cap stops early).
async fn mount_org(server: &MockServer, calls: std::ops::RangeFrom<u64>) {
    let uri = server.uri();
    github_get("/rate_limit")
        .respond_with(json_body("rate_limit"))
        .mount(server)
        .await;
    github_get("/orgs/acme/repos")
        .and(query_param("type", "all"))
        .and(query_param("sort", "full_name"))
        .and(query_param("per_page", "100"))
        .and(QueryKeys(&["type", "sort", "per_page"]))
        .respond_with(json_body("org_page1").insert_header(
            "link",
            format!("<{uri}/organizations/9919/repos?type=all&sort=full_name&per_page=100&page=2>; rel=\"next\", <{uri}/organizations/9919/repos?type=all&sort=full_name&per_page=100&page=2>; rel=\"last\"").as_str(),
        ))
        .expect(calls.clone())
        .mount(server)
        .await;
    github_get("/organizations/9919/repos")
        .and(query_param("page", "2"))
        .respond_with(json_body("org_page2").insert_header(
            "link",
            format!("<{uri}/organizations/9919/repos?type=all&sort=full_name&per_page=100&page=1>; rel=\"prev\", <{uri}/organizations/9919/repos?type=all&sort=full_name&per_page=100&page=1>; rel=\"first\"").as_str(),
        ))
        .expect(calls.clone())
        .mount(server)
        .await;
    // acme/api: 1 PR shown, no link header → exactly 1; runs over two pages.
    github_get("/repos/acme/api/pulls")
        .respond_with(json_body("pulls"))
        .mount(server)
        .await;
    github_get("/repos/acme/api/actions/runs")
        .and(QueryKeys(&["created", "per_page"]))
        .respond_with(ResponseTemplate::new(200).set_body_raw(runs_body(false), "application/json").insert_header(
            "link",
            format!("<{uri}/repositories/1001/actions/runs?created=%3E%3D2026-11-26&per_page=100&page=2>; rel=\"next\"").as_str(),
        ))
        .mount(server)
        .await;
    let page2 = json!({
        "total_count": 7,
        "workflow_runs": [{"id": 1, "status": "completed", "conclusion": "success",
            "created_at": (Utc::now() - Duration::hours(3)).format("%Y-%m-%dT%H:%M:%SZ").to_string(),
            "some_future_field": true}]
    });
    github_get("/repositories/1001/actions/runs")
        .and(query_param("page", "2"))
        .respond_with(ResponseTemplate::new(200).set_body_json(page2))
        .expect(calls.clone())
        .mount(server)
        .await;
    github_get("/repos/acme/api/deployments")
        .respond_with(
            ResponseTemplate::new(200).set_body_raw(deployments_body(&[2]), "application/json"),
        )
        .mount(server)
        .await;
    // acme/web and acme/docs: nothing open, no runs, no deployments.
    for repo in ["web", "docs"] {
        github_get(&format!("/repos/acme/{repo}/pulls"))
            .respond_with(ResponseTemplate::new(200).set_body_json(json!([])))
            .mount(server)
            .await;
        github_get(&format!("/repos/acme/{repo}/actions/runs"))
            .respond_with(json_body("runs_empty"))
            .mount(server)
            .await;
        github_get(&format!("/repos/acme/{repo}/deployments"))
            .respond_with(json_body("deployments_empty"))
            .mount(server)
            .await;
    }
}

#[tokio::test]
async fn metrics_for_an_org_follow_pagination_and_skip_archived_repos() {
    let server = MockServer::start().await;
    mount_org(&server, 1..).await;
    let set = service(&server, json!({ "org": "acme" }))
        .collect_metrics()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(set.value("github_repositories", &[]), Some(3.0));
    assert_eq!(
        set.value("github_open_issues", &[("repo", "acme/old-infra")]),
        None
    );
    assert_eq!(
        set.value("github_open_pull_requests", &[("repo", "acme/api")]),
        Some(1.0)
    );
    assert_eq!(
        set.value("github_open_issues", &[("repo", "acme/api")]),
        Some(11.0)
    );
    assert_eq!(
        set.value(
            "github_workflow_runs",
            &[("repo", "acme/api"), ("conclusion", "success")]
        ),
        Some(3.0)
    );
    assert_eq!(
        set.value("github_deployments", &[("repo", "acme/api")]),
        Some(1.0)
    );
    // Empty repositories still get their zero series.
    for repo in ["acme/web", "acme/docs"] {
        assert_eq!(
            set.value("github_open_pull_requests", &[("repo", repo)]),
            Some(0.0)
        );
        assert_eq!(
            set.value("github_deployments", &[("repo", repo)]),
            Some(0.0)
        );
        assert_eq!(
            set.value(
                "github_workflow_runs",
                &[("repo", repo), ("conclusion", "failure")]
            ),
            Some(0.0)
        );
    }
    assert_eq!(
        set.value("github_open_issues", &[("repo", "acme/docs")]),
        Some(1.0)
    );
}

#[tokio::test]
async fn the_repository_cap_is_reported() {
    let server = MockServer::start().await;
    mount_org(&server, 0..).await;
    let set = service(&server, json!({ "org": "acme", "max_repos": 1 }))
        .collect_metrics()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(set.value("github_repositories", &[]), Some(1.0));
    assert_eq!(set.value("github_repositories_truncated", &[]), Some(1.0));
    assert!(
        set.notes.iter().any(|n| n.contains("max_repos")),
        "{:?}",
        set.notes
    );
}

#[tokio::test]
async fn an_empty_org_and_no_rate_limiting_are_notes_not_errors() {
    let server = MockServer::start().await;
    github_get("/rate_limit")
        .respond_with(ResponseTemplate::new(404).set_body_json(json!({"message": "Rate limiting is not enabled.", "documentation_url": "https://docs.github.com/enterprise-server@3.19/rest/rate-limit/rate-limit#get-rate-limit-status-for-the-authenticated-user"})))
        .mount(&server)
        .await;
    github_get("/orgs/acme/repos")
        .respond_with(json_body("org_empty"))
        .mount(&server)
        .await;
    let set = service(&server, json!({ "org": "acme" }))
        .collect_metrics()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(set.value("github_repositories", &[]), Some(0.0));
    assert!(
        set.notes
            .iter()
            .any(|n| n.contains("rate limiting switched off")),
        "{:?}",
        set.notes
    );
}

#[tokio::test]
async fn one_inaccessible_repo_is_a_note_and_the_others_are_reported() {
    let server = MockServer::start().await;
    mount_single_repo(&server).await;
    github_get("/repos/acme/secret")
        .respond_with(
            ResponseTemplate::new(404).set_body_raw(fixture("not_found"), "application/json"),
        )
        .mount(&server)
        .await;
    let set = service(&server, json!({ "repos": ["acme/api", "acme/secret"] }))
        .collect_metrics()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(set.value("github_repositories", &[]), Some(1.0));
    assert!(
        set.notes
            .iter()
            .any(|n| n.starts_with("acme/secret skipped")),
        "{:?}",
        set.notes
    );
}

#[tokio::test]
async fn a_rejected_token_fails_the_whole_collection() {
    let server = MockServer::start().await;
    github_get("/rate_limit")
        .respond_with(
            ResponseTemplate::new(401).set_body_raw(fixture("user_401"), "application/json"),
        )
        .mount(&server)
        .await;
    let err = service(&server, json!({ "repos": ["acme/api"] }))
        .collect_metrics()
        .await
        .err()
        .unwrap_or_else(|| panic!("expected an error"));
    assert_eq!(err.kind(), FailureKind::InvalidCredentials);
}

#[test]
fn bad_repo_names_are_config_errors_listing_each() {
    let text = opsdeck_testkit::try_service(
        "github",
        json!({"token": TOKEN, "repos": ["acme", "a/b/c", "ok/repo"]}),
        &opsdeck_testkit::FAST_RETRIES,
    )
    .err()
    .unwrap_or_else(|| panic!("expected an error"));
    assert!(
        text.contains("\"acme\"") && text.contains("\"a/b/c\""),
        "{text}"
    );
    assert!(!text.contains(TOKEN));
}

#[tokio::test]
async fn development_verbs_answer_from_the_same_calls() {
    let server = MockServer::start().await;
    mount_org(&server, 1..).await;
    let svc = service(&server, json!({ "org": "acme" }));
    let dev = svc
        .as_development()
        .unwrap_or_else(|| panic!("no development verbs"));
    let repos = dev.repositories().await.unwrap_or_else(|e| panic!("{e}"));
    let names: Vec<_> = repos.iter().map(|r| r.full_name.as_str()).collect();
    assert_eq!(names, ["acme/api", "acme/web", "acme/docs"]);
    assert!(repos[1].private);
    assert_eq!(repos[0].default_branch.as_deref(), Some("main"));

    let activity = dev
        .activity(TimeWindow::last(Duration::hours(24)))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let api = activity
        .repos
        .iter()
        .find(|r| r.repo == "acme/api")
        .unwrap_or_else(|| panic!("acme/api missing"));
    assert_eq!((api.open_issues, api.open_pull_requests), (11, 1));
    assert_eq!(api.workflow_runs.get("success"), Some(&3));
    assert_eq!(api.deployments, 1);
}

#[tokio::test]
async fn deployments_ability_reads_each_deployments_latest_status() {
    let server = MockServer::start().await;
    github_get("/repos/acme/api")
        .respond_with(json_body("repo"))
        .mount(&server)
        .await;
    github_get("/repos/acme/api/deployments")
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_raw(deployments_body(&[1, 5, 400]), "application/json"),
        )
        .mount(&server)
        .await;
    github_get("/repos/acme/api/deployments/9100/statuses")
        .and(query_param("per_page", "100"))
        .respond_with(json_body("deployment_statuses"))
        .expect(1)
        .mount(&server)
        .await;
    github_get("/repos/acme/api/deployments/9101/statuses")
        .respond_with(ResponseTemplate::new(200).set_body_json(json!([])))
        .expect(1)
        .mount(&server)
        .await;
    let svc = service(&server, json!({ "repos": ["acme/api"] }));
    let source = svc
        .deployment_source()
        .unwrap_or_else(|u| panic!("{}", u.reason));
    let list = source
        .deployments(TimeWindow::last(Duration::hours(24)))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(list.len(), 2, "{list:?}");
    assert_eq!(list[0].state, DeploymentState::Succeeded);
    assert_eq!(list[0].url.as_deref(), Some("https://api.acme.example"));
    assert_eq!(list[0].project.as_deref(), Some("acme/api"));
    assert_eq!(list[1].state, DeploymentState::Other);
    assert_eq!(list[1].vendor_state, "created");
}

#[tokio::test]
async fn without_repositories_the_deployments_ability_says_why() {
    let server = MockServer::start().await;
    let svc = service(&server, json!({}));
    let reason = svc.deployment_source().err().map(|u| u.reason.into_owned());
    assert!(reason.is_some_and(|r| r.contains("repos")));
}

#[tokio::test]
async fn a_server_that_rejects_the_created_range_gets_an_unfiltered_newest_first_read() {
    let server = MockServer::start().await;
    github_get("/rate_limit")
        .respond_with(json_body("rate_limit"))
        .mount(&server)
        .await;
    github_get("/repos/acme/api")
        .respond_with(json_body("repo"))
        .mount(&server)
        .await;
    github_get("/repos/acme/api/pulls")
        .respond_with(json_body("pulls"))
        .mount(&server)
        .await;
    github_get("/repos/acme/api/deployments")
        .respond_with(json_body("deployments_empty"))
        .mount(&server)
        .await;
    // A mock that validates `created` as a plain date-time, as the OpenAPI types it.
    github_get("/repos/acme/api/actions/runs")
        .and(QueryKeys(&["created", "per_page"]))
        .respond_with(
            ResponseTemplate::new(422)
                .set_body_json(json!({"message": "Validation Failed", "status": "422"})),
        )
        .expect(1)
        .mount(&server)
        .await;
    github_get("/repos/acme/api/actions/runs")
        .and(QueryKeys(&["per_page"]))
        .respond_with(ResponseTemplate::new(200).set_body_raw(runs_body(true), "application/json"))
        .expect(1)
        .mount(&server)
        .await;
    let set = service(&server, json!({ "repos": ["acme/api"] }))
        .collect_metrics()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let runs = |c: &str| {
        set.value(
            "github_workflow_runs",
            &[("repo", "acme/api"), ("conclusion", c)],
        )
    };
    // The 48-hour-old failure is outside the window.
    assert_eq!(runs("success"), Some(2.0));
    assert_eq!(runs("failure"), Some(1.0));
    assert!(set.notes.is_empty(), "{:?}", set.notes);
}

// ---- paging: more pages than the cap, a repeated cursor, a failure after the first page ----

/// An organisation listing with endless pages: each holds one active and 99 archived
/// repositories and links to the next page (or, with `repeat_at`, back to that page).
struct EndlessOrg {
    base: String,
    repeat_at: Option<u32>,
}

impl Respond for EndlessOrg {
    fn respond(&self, request: &Request) -> ResponseTemplate {
        let page: u32 = opsdeck_testkit::param(request, "page")
            .and_then(|p| p.parse().ok())
            .unwrap_or(1);
        let repos: Vec<Value> = (0..100)
            .map(|i| {
                json!({"full_name": format!("acme/r{page}-{i}"), "archived": i != 0,
                       "open_issues_count": 0})
            })
            .collect();
        let next = match self.repeat_at {
            Some(p) if page >= p => p,
            _ => page + 1,
        };
        ResponseTemplate::new(200)
            .set_body_json(repos)
            .insert_header(
                "link",
                format!(
                    "<{}/orgs/acme/repos?per_page=100&page={next}>; rel=\"next\"",
                    self.base
                )
                .as_str(),
            )
    }
}

/// Empty answers for every per-repository call and the rate limits.
async fn mount_empty_repos(server: &MockServer) {
    github_get("/rate_limit")
        .respond_with(json_body("rate_limit"))
        .mount(server)
        .await;
    Mock::given(method("GET"))
        .and(path_regex(r"^/repos/acme/[^/]+/(pulls|deployments)$"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!([])))
        .mount(server)
        .await;
    Mock::given(method("GET"))
        .and(path_regex(r"^/repos/acme/[^/]+/actions/runs$"))
        .respond_with(json_body("runs_empty"))
        .mount(server)
        .await;
}

#[tokio::test]
async fn more_pages_than_the_cap_give_partial_figures_with_a_note() {
    let server = MockServer::start().await;
    mount_empty_repos(&server).await;
    Mock::given(method("GET"))
        .and(path("/orgs/acme/repos"))
        .respond_with(EndlessOrg {
            base: server.uri(),
            repeat_at: None,
        })
        .expect(11)
        .mount(&server)
        .await;
    let set = service(&server, json!({ "org": "acme" }))
        .collect_metrics()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    // max_repos 50 → 1 + 10 pages of slack; one active repository per page.
    assert_eq!(set.value("github_repositories", &[]), Some(11.0));
    assert_eq!(set.value("github_repositories_truncated", &[]), Some(1.0));
    assert!(
        set.notes.iter().any(|n| n
            == "Stopped after 11 pages; figures cover 11 of more active repositories of acme."),
        "{:?}",
        set.notes
    );
}

#[tokio::test]
async fn a_repeated_page_link_stops_paging_with_a_note() {
    let server = MockServer::start().await;
    mount_empty_repos(&server).await;
    Mock::given(method("GET"))
        .and(path("/orgs/acme/repos"))
        .respond_with(EndlessOrg {
            base: server.uri(),
            repeat_at: Some(3),
        })
        .expect(3)
        .mount(&server)
        .await;
    let set = service(&server, json!({ "org": "acme" }))
        .collect_metrics()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(set.value("github_repositories", &[]), Some(3.0));
    assert!(
        set.notes
            .iter()
            .any(|n| n.contains("page cursor it had already sent")),
        "{:?}",
        set.notes
    );
}

#[tokio::test]
async fn a_failing_later_page_keeps_the_first_pages_figures() {
    let server = MockServer::start().await;
    mount_empty_repos(&server).await;
    let uri = server.uri();
    github_get("/orgs/acme/repos")
        .and(QueryKeys(&["type", "sort", "per_page"]))
        .respond_with(json_body("org_page1").insert_header(
            "link",
            format!("<{uri}/organizations/9919/repos?page=2>; rel=\"next\"").as_str(),
        ))
        .mount(&server)
        .await;
    github_get("/organizations/9919/repos")
        .respond_with(ResponseTemplate::new(502).set_body_json(json!({"message": "Server Error"})))
        .mount(&server)
        .await;
    let set = service(&server, json!({ "org": "acme" }))
        .collect_metrics()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    // Page 1 holds acme/api and acme/web (acme/old-infra is archived).
    assert_eq!(set.value("github_repositories", &[]), Some(2.0));
    assert_eq!(set.value("github_repositories_truncated", &[]), Some(1.0));
    assert!(
        set.notes
            .iter()
            .any(|n| n.starts_with("Page 2 of active repositories of acme failed (provider_error)")),
        "{:?}",
        set.notes
    );
}

/// Workflow runs with endless pages of one run each.
struct EndlessRuns(String);

impl Respond for EndlessRuns {
    fn respond(&self, request: &Request) -> ResponseTemplate {
        let page: u32 = opsdeck_testkit::param(request, "page")
            .and_then(|p| p.parse().ok())
            .unwrap_or(1);
        let created = (Utc::now() - Duration::hours(1))
            .format("%Y-%m-%dT%H:%M:%SZ")
            .to_string();
        ResponseTemplate::new(200)
            .set_body_json(json!({"total_count": 5000, "workflow_runs": [
                {"id": page, "status": "completed", "conclusion": "success", "created_at": created}
            ]}))
            .insert_header(
                "link",
                format!(
                    "<{}/repositories/1/actions/runs?page={}>; rel=\"next\"",
                    self.0,
                    page + 1
                )
                .as_str(),
            )
    }
}

#[tokio::test]
async fn workflow_runs_stop_at_the_page_cap_with_a_note() {
    let server = MockServer::start().await;
    github_get("/rate_limit")
        .respond_with(json_body("rate_limit"))
        .mount(&server)
        .await;
    github_get("/repos/acme/api")
        .respond_with(json_body("repo"))
        .mount(&server)
        .await;
    github_get("/repos/acme/api/pulls")
        .respond_with(json_body("pulls"))
        .mount(&server)
        .await;
    github_get("/repos/acme/api/deployments")
        .respond_with(json_body("deployments_empty"))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path_regex(
            r"^/(repos/acme/api|repositories/1)/actions/runs$",
        ))
        .respond_with(EndlessRuns(server.uri()))
        .expect(10)
        .mount(&server)
        .await;
    let set = service(&server, json!({ "repos": ["acme/api"] }))
        .collect_metrics()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        set.value(
            "github_workflow_runs",
            &[("repo", "acme/api"), ("conclusion", "success")]
        ),
        Some(10.0)
    );
    assert!(
        set.notes
            .iter()
            .any(|n| n
                == "Stopped after 10 pages; figures cover 10 of more workflow runs of acme/api."),
        "{:?}",
        set.notes
    );
}

/// Issue 14: the repository failing keeps the rate-limit headroom, with the section named.
#[tokio::test]
async fn a_failed_repository_keeps_the_rate_limits() {
    let server = MockServer::start().await;
    opsdeck_testkit::fail_section(&server, path("/repos/acme/api")).await;
    testing::mount_all(&server).await;
    let set = service(&server, json!({ "repos": ["acme/api"] }))
        .collect_metrics()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    opsdeck_testkit::assert_partial(&set, "repositories", FailureKind::ProviderError);
    assert!(
        set.value("github_rate_limit_remaining", &[]).is_some(),
        "{set:?}"
    );
    assert_eq!(set.value("github_repositories", &[]), None);
}

/// Issue 14: failing activity (deployments 5xx) keeps the rate limits, named as its section.
#[tokio::test]
async fn failed_repository_activity_keeps_the_rate_limits() {
    let server = MockServer::start().await;
    opsdeck_testkit::fail_section(&server, path("/repos/acme/api/deployments")).await;
    testing::mount_all(&server).await;
    let set = service(&server, json!({ "repos": ["acme/api"] }))
        .collect_metrics()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    opsdeck_testkit::assert_partial(&set, "repository_activity", FailureKind::ProviderError);
    assert!(
        set.value("github_rate_limit_remaining", &[]).is_some(),
        "{set:?}"
    );
}

/// Issue 14: deployment statuses have no documented order; the newest by `created_at` wins,
/// wherever it sits in the list.
#[tokio::test]
async fn the_newest_deployment_status_is_chosen_by_its_time() {
    let server = MockServer::start().await;
    github_get("/repos/acme/api")
        .respond_with(json_body("repo"))
        .mount(&server)
        .await;
    github_get("/repos/acme/api/deployments")
        .respond_with(
            ResponseTemplate::new(200).set_body_raw(deployments_body(&[1]), "application/json"),
        )
        .mount(&server)
        .await;
    let t = |h: i64| {
        (Utc::now() - Duration::hours(h))
            .format("%Y-%m-%dT%H:%M:%SZ")
            .to_string()
    };
    github_get("/repos/acme/api/deployments/9100/statuses")
        .respond_with(ResponseTemplate::new(200).set_body_json(json!([
            {"id": 1, "state": "in_progress", "created_at": t(1)},
            {"id": 3, "state": "success", "created_at": t(0)},
            {"id": 2, "state": "queued", "created_at": t(1)}
        ])))
        .mount(&server)
        .await;
    let svc = service(&server, json!({ "repos": ["acme/api"] }));
    let source = svc
        .deployment_source()
        .unwrap_or_else(|u| panic!("{}", u.reason));
    let list = source
        .deployments(TimeWindow::last(Duration::hours(24)))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(list.len(), 1, "{list:?}");
    assert_eq!(list[0].state, DeploymentState::Succeeded);
}

/// Issue 14: the deployments list is not assumed newest-first: a page that mixes an old
/// deployment with a new one does not stop paging, and the result is sorted here.
#[tokio::test]
async fn deployments_are_paged_by_their_own_times_not_an_assumed_order() {
    let server = MockServer::start().await;
    github_get("/repos/acme/api")
        .respond_with(json_body("repo"))
        .mount(&server)
        .await;
    let page2 = format!(
        "{}/repos/acme/api/deployments?per_page=100&page=2",
        server.uri()
    );
    github_get("/repos/acme/api/deployments")
        .and(|r: &Request| !r.url.query_pairs().any(|(k, _)| k == "page"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_raw(deployments_body(&[400, 3]), "application/json")
                .insert_header("link", format!("<{page2}>; rel=\"next\"").as_str()),
        )
        .expect(1)
        .mount(&server)
        .await;
    let mut newer: Value = serde_json::from_str(&deployments_body(&[1])).unwrap_or_default();
    newer[0]["id"] = json!(9200);
    github_get("/repos/acme/api/deployments")
        .and(query_param("page", "2"))
        .respond_with(ResponseTemplate::new(200).set_body_json(newer))
        .expect(1)
        .mount(&server)
        .await;
    github_get("/repos/acme/api/deployments/9101/statuses")
        .respond_with(ResponseTemplate::new(200).set_body_json(json!([])))
        .mount(&server)
        .await;
    github_get("/repos/acme/api/deployments/9200/statuses")
        .respond_with(ResponseTemplate::new(200).set_body_json(json!([])))
        .mount(&server)
        .await;
    let svc = service(&server, json!({ "repos": ["acme/api"] }));
    let source = svc
        .deployment_source()
        .unwrap_or_else(|u| panic!("{}", u.reason));
    let list = source
        .deployments(TimeWindow::last(Duration::hours(24)))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let ids: Vec<&str> = list.iter().map(|d| d.id.as_str()).collect();
    assert_eq!(ids, ["9200", "9101"], "{list:?}");
}

/// Issue 14: an expiry equal to the response's `Date` (seen for tokens without one) is "no
/// expiry reported", not "expires in 0 days".
#[tokio::test]
async fn an_expiry_at_the_response_date_is_no_expiry() {
    let server = MockServer::start().await;
    let now = Utc::now();
    github_get("/user")
        .respond_with(
            json_body("user")
                .insert_header(
                    "github-authentication-token-expiration",
                    now.format("%Y-%m-%d %H:%M:%S UTC").to_string().as_str(),
                )
                .insert_header("date", now.to_rfc2822().replace("+0000", "GMT").as_str()),
        )
        .mount(&server)
        .await;
    let report = service(&server, json!({})).test_connection().await;
    assert_eq!(report.status, Status::Connected, "{}", report.message);
    assert_eq!(report.details.token_expires_at, None);
    assert!(!report.message.contains("expires"), "{}", report.message);
}

/// Issue 14: fine-grained (`github_pat_`) and app (`ghs_`) tokens are not judged by
/// `X-OAuth-Scopes`: an empty header does not make them "public data only".
#[tokio::test]
async fn fine_grained_and_app_tokens_are_not_judged_by_oauth_scopes() {
    for token in [
        "github_pat_11ABCDEFG0123456789_abcdefghijklmnopqrstuvwxyz0123456789",
        "ghs_16C7e42F292c6912E7710c838347Ae178B4a",
    ] {
        let server = MockServer::start().await;
        Mock::given(method("GET"))
            .and(path("/user"))
            .respond_with(json_body("user").insert_header("x-oauth-scopes", ""))
            .mount(&server)
            .await;
        let report = service_with(json!({ "token": token, "base_url": server.uri() }))
            .test_connection()
            .await;
        assert_eq!(report.status, Status::Connected, "{}", report.message);
        assert_eq!(report.details.scopes, None, "{token}");
        assert!(
            !report.message.contains("public data only"),
            "{}",
            report.message
        );
    }
}
