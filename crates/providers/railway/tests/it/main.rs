//! Integration tests for the Railway provider: the shared conformance suite, exact GraphQL
//! requests (method, path, auth header, query text and variables), metrics parsed from
//! realistic answers with pagination and empty results, each Railway-specific failure mapping,
//! and the infrastructure verbs.

use std::sync::Arc;

use chrono::{Duration, SecondsFormat, Utc};
use opsdeck_core::domain::{DeploymentState, TimeWindow};
use opsdeck_core::{BaseService, FailureKind, ServiceFactory, Status};
use opsdeck_provider_railway::queries;
use opsdeck_testkit::wiremock::matchers::{body_json, header, method, path};
use opsdeck_testkit::wiremock::{Mock, MockServer, Request, ResponseTemplate};
use opsdeck_testkit::{Conformance, MountFuture};
use serde_json::{Value, json};

use opsdeck_provider_railway::testing::{ENDPOINT, TOKEN};
const ACME: &str = "a3b1c2d4-1111-4a2b-9c3d-5e6f7a8b9c0d";
const ADA: &str = "b4c2d3e5-2222-4b3c-8d4e-6f7a8b9c0d1e";
const SHOP: &str = "0f8fad5b-d9cb-469f-a165-70867728950e";
const MARKETING: &str = "9a7b6c5d-4e3f-4210-9876-543210fedcba";
const ENV: &str = "e1d2c3b4-aaaa-4bbb-8ccc-ddddeeeeffff";

fn fixture(name: &str) -> String {
    let path = format!("{}/tests/it/fixtures/{name}", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    // Deployment fixtures carry relative times so the 24 h window is exercised for real.
    let mut out = text;
    for hours in [1, 3, 19, 20, 30, 40] {
        let at = (Utc::now() - Duration::hours(hours)).to_rfc3339_opts(SecondsFormat::Millis, true);
        out = out.replace(&format!("__NOW_MINUS_{hours}H__"), &at);
    }
    out
}

fn json_response(name: &str) -> ResponseTemplate {
    ResponseTemplate::new(200)
        .insert_header("x-ratelimit-limit", "1000")
        .insert_header("x-ratelimit-remaining", "997")
        .set_body_raw(fixture(name), "application/json; charset=utf-8")
}

fn gql(query: &str, variables: Value) -> Value {
    json!({ "query": query, "variables": variables })
}

/// A POST to the endpoint with the account/workspace Bearer header and exactly this body.
fn bearer_post(query: &str, variables: Value) -> opsdeck_testkit::wiremock::MockBuilder {
    Mock::given(method("POST"))
        .and(path(ENDPOINT))
        .and(header("authorization", format!("Bearer {TOKEN}").as_str()))
        .and(header("content-type", "application/json"))
        .and(header("user-agent", opsdeck_core::http::USER_AGENT))
        .and(body_json(gql(query, variables)))
}

/// A POST with the project-token header and no Authorization header.
fn project_post(query: &str, variables: Value) -> opsdeck_testkit::wiremock::MockBuilder {
    Mock::given(method("POST"))
        .and(path(ENDPOINT))
        .and(header("project-access-token", TOKEN))
        .and(|r: &Request| !r.headers.contains_key("authorization"))
        .and(body_json(gql(query, variables)))
}

fn config(base: &str, kind: &str) -> Value {
    json!({ "token": TOKEN, "token_kind": kind, "base_url": format!("{base}{ENDPOINT}") })
}

async fn service(server: &MockServer, kind: &str) -> Arc<dyn BaseService> {
    opsdeck_testkit::service("railway", config(&server.uri(), kind))
}

// ---- conformance ----

fn mount_probe(server: &MockServer) -> MountFuture<'_> {
    Box::pin(async move {
        bearer_post(queries::PROBE_ACCOUNT, json!({}))
            .respond_with(json_response("me_ok.json"))
            .expect(1..)
            .mount(server)
            .await;
    })
}

/// Metrics for an account token: two workspaces, two pages of projects in one, none in the
/// other, three pages of deployments (the last one older than the window), billing readable
/// for one workspace only.
async fn mount_account_metrics(server: &MockServer) {
    bearer_post(queries::ACCOUNT_WORKSPACES, json!({}))
        .respond_with(json_response("me_ok.json"))
        .expect(1)
        .mount(server)
        .await;
    bearer_post(
        queries::PROJECTS,
        json!({ "workspaceId": ACME, "first": 100, "after": null }),
    )
    .respond_with(json_response("projects_page1.json"))
    .expect(1)
    .mount(server)
    .await;
    bearer_post(
        queries::PROJECTS,
        json!({ "workspaceId": ACME, "first": 100, "after": "MQ==" }),
    )
    .respond_with(json_response("projects_page2.json"))
    .expect(1)
    .mount(server)
    .await;
    bearer_post(
        queries::PROJECTS,
        json!({ "workspaceId": ADA, "first": 100, "after": null }),
    )
    .respond_with(json_response("projects_empty.json"))
    .expect(1)
    .mount(server)
    .await;
    for (after, file) in [
        (Value::Null, "deployments_page1.json"),
        (json!("ZDI="), "deployments_page2.json"),
        (json!("ZDQ="), "deployments_page3_old.json"),
    ] {
        bearer_post(
            queries::DEPLOYMENTS,
            json!({ "input": { "projectId": SHOP }, "first": 100, "after": after }),
        )
        .respond_with(json_response(file))
        .expect(1)
        .mount(server)
        .await;
    }
    bearer_post(
        queries::DEPLOYMENTS,
        json!({ "input": { "projectId": MARKETING }, "first": 100, "after": null }),
    )
    .respond_with(json_response("deployments_empty.json"))
    .expect(1)
    .mount(server)
    .await;
    bearer_post(queries::BILLING, json!({ "workspaceId": ACME }))
        .respond_with(json_response("workspace_customer.json"))
        .expect(1..)
        .mount(server)
        .await;
    bearer_post(
        queries::USAGE_ESTIMATE,
        json!({
            "workspaceId": ACME,
            "measurements": ["MEMORY_USAGE_GB", "CPU_USAGE", "NETWORK_TX_GB", "DISK_USAGE_GB", "BACKUP_USAGE_GB"],
            "startDate": "2026-11-01T00:00:00.000Z",
            "endDate": "2026-12-01T00:00:00.000Z",
        }),
    )
    .respond_with(json_response("usage_estimate.json"))
    .expect(1..)
    .mount(server)
    .await;
    // Railway answers a billing read the token may not make with HTTP 200 + "Not Authorized".
    bearer_post(queries::BILLING, json!({ "workspaceId": ADA }))
        .respond_with(json_response("not_authorized.json"))
        .expect(1..)
        .mount(server)
        .await;
}

fn mount_metrics(server: &MockServer) -> MountFuture<'_> {
    Box::pin(mount_account_metrics(server))
}

/// Railway-shaped error bodies: a GraphQL `errors[]` envelope.
fn railway_error_body(status: u16) -> ResponseTemplate {
    let body = if status == 401 {
        fixture("not_authorized.json")
    } else {
        json!({"errors":[{"message": format!("mock error {status}"), "extensions": {"code": "INTERNAL_SERVER_ERROR"}}], "data": null}).to_string()
    };
    ResponseTemplate::new(status).set_body_raw(body, "application/json")
}

#[tokio::test]
async fn conformance() {
    Conformance::new("railway", |base| config(base, "account"))
        .secret(TOKEN)
        .success(mount_probe)
        .metrics(mount_metrics)
        .error_body(railway_error_body)
        .run()
        .await;
}

#[test]
fn registered_with_its_fields() {
    let factory = ServiceFactory::from_registry().unwrap_or_else(|e| panic!("{e}"));
    let d = factory
        .descriptor("railway")
        .unwrap_or_else(|| panic!("not registered"));
    assert_eq!(d.name, "Railway");
    assert_eq!(d.category.as_str(), "infrastructure");
    let schema = d.json_schema();
    assert_eq!(schema["properties"]["token"]["writeOnly"], json!(true));
    assert_eq!(
        schema["properties"]["base_url"]["default"],
        json!("https://backboard.railway.com/graphql/v2")
    );
    assert_eq!(
        schema["properties"]["token_kind"]["default"],
        json!("account")
    );
}

// ---- connection test per token kind ----

#[tokio::test]
async fn account_token_probe_sends_me_with_bearer() {
    let server = MockServer::start().await;
    // The literal query text, so a change of the wire contract is a visible test change.
    bearer_post("query OpsdeckMe { me { id email name } }", json!({}))
        .respond_with(json_response("me_ok.json"))
        .expect(1)
        .mount(&server)
        .await;
    let r = service(&server, "account").await.test_connection().await;
    assert_eq!(r.status, Status::Connected, "{}", r.message);
    assert_eq!(r.identity.as_deref(), Some("ada@example.com"));
    assert!(r.message.contains("account token"), "{}", r.message);
    let rl = r
        .details
        .rate_limit
        .unwrap_or_else(|| panic!("no rate limit"));
    assert_eq!(rl.remaining, Some(997));
}

#[tokio::test]
async fn workspace_token_probe_uses_api_token() {
    let server = MockServer::start().await;
    bearer_post(
        "query OpsdeckApiToken { apiToken { workspaces { id name } } }",
        json!({}),
    )
    .respond_with(json_response("api_token_ok.json"))
    .expect(1)
    .mount(&server)
    .await;
    let r = service(&server, "workspace").await.test_connection().await;
    assert_eq!(r.status, Status::Connected, "{}", r.message);
    assert_eq!(r.identity.as_deref(), Some("Acme"));
}

#[tokio::test]
async fn project_token_probe_uses_project_access_token_header() {
    let server = MockServer::start().await;
    project_post(queries::PROJECT_TOKEN, json!({}))
        .respond_with(json_response("project_token_ok.json"))
        .expect(1)
        .mount(&server)
        .await;
    let r = service(&server, "project").await.test_connection().await;
    assert_eq!(r.status, Status::Connected, "{}", r.message);
    assert_eq!(r.identity.as_deref(), Some("shop-api / production"));
}

// ---- failure mapping ----

async fn probe_with(kind: &str, response: ResponseTemplate) -> opsdeck_core::ConnectionReport {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(ENDPOINT))
        .respond_with(response)
        .mount(&server)
        .await;
    service(&server, kind).await.test_connection().await
}

#[tokio::test]
async fn not_authorized_in_a_200_is_invalid_credentials_naming_the_token_kind() {
    let r = probe_with("workspace", json_response("not_authorized.json")).await;
    assert_eq!(r.status, Status::Failed);
    assert_eq!(
        r.failure,
        Some(FailureKind::InvalidCredentials),
        "{}",
        r.message
    );
    assert!(r.message.contains("Not Authorized"), "{}", r.message);
    assert!(
        r.hint
            .as_deref()
            .is_some_and(|h| h.contains("token_kind = \"project\"")),
        "{r:?}"
    );
    assert!(
        r.message.contains("1923276929262788132"),
        "trace id: {}",
        r.message
    );
    assert!(!r.message.contains(TOKEN));
}

#[tokio::test]
async fn account_kind_hint_mentions_workspace_tokens() {
    let r = probe_with("account", json_response("not_authorized.json")).await;
    assert_eq!(r.failure, Some(FailureKind::InvalidCredentials));
    assert!(
        r.hint
            .as_deref()
            .is_some_and(|h| h.contains("token_kind = \"workspace\"")),
        "{r:?}"
    );
}

#[tokio::test]
async fn unknown_project_token_is_invalid_credentials() {
    let r = probe_with("project", json_response("project_token_not_found.json")).await;
    assert_eq!(
        r.failure,
        Some(FailureKind::InvalidCredentials),
        "{}",
        r.message
    );
    assert!(r.message.contains("project token"), "{}", r.message);
}

#[tokio::test]
async fn enforced_two_factor_is_permission_denied() {
    let r = probe_with("account", json_response("two_factor_required.json")).await;
    assert_eq!(
        r.failure,
        Some(FailureKind::PermissionDenied),
        "{}",
        r.message
    );
    assert!(r.message.contains("Acme"), "{}", r.message);
}

#[tokio::test]
async fn a_rejected_query_is_invalid_response_not_bad_config() {
    let r = probe_with(
        "account",
        ResponseTemplate::new(400)
            .set_body_raw(fixture("validation_failed_400.json"), "application/json"),
    )
    .await;
    assert_eq!(
        r.failure,
        Some(FailureKind::InvalidResponse),
        "{}",
        r.message
    );
    assert!(r.message.contains("Cannot query field"), "{}", r.message);
}

#[tokio::test]
async fn cloudflare_html_403_is_not_a_credentials_verdict() {
    let r = probe_with(
        "account",
        ResponseTemplate::new(403)
            .insert_header("server", "cloudflare")
            .insert_header("cf-ray", "8e1f2a3b4c5d6e7f-FRA")
            .set_body_raw(fixture("cloudflare_403.html"), "text/html; charset=UTF-8"),
    )
    .await;
    assert_ne!(r.failure, Some(FailureKind::InvalidCredentials));
    assert_ne!(r.failure, Some(FailureKind::PermissionDenied));
    assert_eq!(r.failure, Some(FailureKind::Unreachable), "{}", r.message);
    assert!(r.message.contains("Cloudflare"), "{}", r.message);
    assert!(r.message.contains("8e1f2a3b4c5d6e7f-FRA"), "{}", r.message);
    assert!(r.message.contains("token was not checked"), "{}", r.message);
}

#[tokio::test]
async fn cloudflare_plain_error_code_is_recognised() {
    let r = probe_with(
        "account",
        ResponseTemplate::new(403)
            .insert_header("server", "cloudflare")
            .set_body_raw(fixture("cloudflare_403_plain.txt"), "text/plain"),
    )
    .await;
    assert_eq!(r.failure, Some(FailureKind::Unreachable), "{}", r.message);
    assert!(r.message.contains("Cloudflare"), "{}", r.message);
}

#[tokio::test]
async fn cloudflare_rate_limit_page_is_rate_limited() {
    let r = probe_with(
        "account",
        ResponseTemplate::new(429)
            .insert_header("server", "cloudflare")
            .insert_header("retry-after", "60")
            .set_body_raw(
                "<!DOCTYPE html><html><head><title>Rate limited</title></head><body>Error 1015 You are being rate limited</body></html>",
                "text/html",
            ),
    )
    .await;
    assert_eq!(r.status, Status::Unknown);
    assert_eq!(r.failure, Some(FailureKind::RateLimited), "{}", r.message);
    assert_eq!(r.details.retry_after_secs, Some(60));
}

#[tokio::test]
async fn data_null_without_errors_is_invalid_response() {
    let r = probe_with(
        "account",
        ResponseTemplate::new(200).set_body_raw(r#"{"data":null}"#, "application/json"),
    )
    .await;
    assert_eq!(
        r.failure,
        Some(FailureKind::InvalidResponse),
        "{}",
        r.message
    );
}

// ---- metrics ----

#[tokio::test]
async fn account_metrics_follow_pages_and_the_24h_window() {
    let server = MockServer::start().await;
    mount_account_metrics(&server).await;
    let set = service(&server, "account")
        .await
        .collect_metrics()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(set.value("railway_workspaces", &[]), Some(2.0));
    assert_eq!(
        set.value("railway_projects", &[("workspace", "Acme")]),
        Some(2.0)
    );
    assert_eq!(
        set.value("railway_projects", &[("workspace", "Ada's Projects")]),
        Some(0.0)
    );
    assert_eq!(
        set.value(
            "railway_services",
            &[("workspace", "Acme"), ("project", "shop-api")]
        ),
        Some(2.0)
    );
    assert_eq!(
        set.value("railway_services", &[("project", "marketing-site")]),
        Some(1.0)
    );
    let dep = |s: &str| set.value("railway_deployments_24h", &[("status", s)]);
    assert_eq!(dep("success"), Some(1.0));
    assert_eq!(dep("failed"), Some(1.0));
    assert_eq!(dep("crashed"), Some(1.0));
    // The 40 h old BUILDING and 30 h old REMOVED deployments are outside the window.
    assert_eq!(dep("building"), Some(0.0));
    assert_eq!(dep("removed"), None);
    assert_eq!(
        set.value("railway_current_usage_dollars", &[("workspace", "Acme")]),
        Some(28.42)
    );
    // Estimate: $30 CPU + $10 RAM + $0.60 egress + $0.75 volume = $41.35, plus the part of
    // currentUsage beyond the metered usage so far ($28.42 − $15.50) = $54.27.
    assert_eq!(
        set.value("railway_estimated_usage_dollars", &[("workspace", "Acme")]),
        Some(54.27)
    );
    assert_eq!(
        set.value(
            "railway_billing_period_end_timestamp_seconds",
            &[("workspace", "Acme")]
        ),
        Some(1_796_083_200.0)
    );
    assert_eq!(
        set.value(
            "railway_current_usage_dollars",
            &[("workspace", "Ada's Projects")]
        ),
        None
    );
    assert!(
        set.notes
            .iter()
            .any(|n| n.contains("Ada's Projects") && n.contains("invalid_credentials")),
        "{:?}",
        set.notes
    );
    let text = serde_json::to_string(&set).unwrap_or_default();
    assert!(!text.contains(TOKEN));
}

#[tokio::test]
async fn workspace_without_projects_reports_zeros() {
    let server = MockServer::start().await;
    bearer_post(queries::PROBE_WORKSPACE, json!({}))
        .respond_with(json_response("api_token_ok.json"))
        .expect(1)
        .mount(&server)
        .await;
    bearer_post(
        queries::PROJECTS,
        json!({ "workspaceId": ACME, "first": 100, "after": null }),
    )
    .respond_with(json_response("projects_empty.json"))
    .expect(1)
    .mount(&server)
    .await;
    bearer_post(queries::BILLING, json!({ "workspaceId": ACME }))
        .respond_with(json_response("not_authorized.json"))
        .expect(1)
        .mount(&server)
        .await;
    let set = service(&server, "workspace")
        .await
        .collect_metrics()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        set.value("railway_projects", &[("workspace", "Acme")]),
        Some(0.0)
    );
    for s in ["success", "failed", "crashed", "building"] {
        assert_eq!(
            set.value("railway_deployments_24h", &[("status", s)]),
            Some(0.0),
            "{s}"
        );
    }
    assert!(!set.metrics.iter().any(|m| m.name == "railway_services"));
}

async fn mount_project_token(server: &MockServer) {
    project_post(queries::PROJECT_TOKEN, json!({}))
        .respond_with(json_response("project_token_ok.json"))
        .expect(1..)
        .mount(server)
        .await;
    project_post(
        queries::DEPLOYMENTS,
        json!({ "input": { "projectId": SHOP, "environmentId": ENV }, "first": 100, "after": null }),
    )
    .respond_with(json_response("deployments_page1.json"))
    .expect(1)
    .mount(server)
    .await;
    project_post(
        queries::DEPLOYMENTS,
        json!({ "input": { "projectId": SHOP, "environmentId": ENV }, "first": 100, "after": "ZDI=" }),
    )
    .respond_with(json_response("deployments_empty.json"))
    .expect(1)
    .mount(server)
    .await;
}

#[tokio::test]
async fn project_token_metrics_cover_its_environment_and_skip_billing() {
    let server = MockServer::start().await;
    mount_project_token(&server).await;
    let svc = service(&server, "project").await;
    let set = svc
        .collect_metrics()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        set.value("railway_services", &[("project", "shop-api")]),
        Some(2.0)
    );
    // A project token does not reveal its workspace: no empty label.
    assert!(
        set.metrics
            .iter()
            .all(|m| m.labels.get("workspace").is_none_or(|w| !w.is_empty()))
    );
    assert_eq!(
        set.value("railway_deployments_24h", &[("status", "success")]),
        Some(1.0)
    );
    assert_eq!(
        set.value("railway_deployments_24h", &[("status", "failed")]),
        Some(1.0)
    );
    assert!(
        !set.metrics
            .iter()
            .any(|m| m.name == "railway_current_usage_dollars")
    );
    assert!(
        set.notes.iter().any(|n| n.contains("project tokens")),
        "{:?}",
        set.notes
    );
    let caps = svc.capabilities();
    let cost = caps
        .iter()
        .find(|c| c.name == "cost")
        .unwrap_or_else(|| panic!("no cost"));
    assert!(!cost.available);
    assert!(
        cost.reason
            .as_deref()
            .unwrap_or("")
            .contains("workspace token")
    );
}

// ---- verbs ----

#[tokio::test]
async fn deployment_verb_normalises_states() {
    let server = MockServer::start().await;
    mount_project_token(&server).await;
    let svc = service(&server, "project").await;
    let src = svc
        .deployment_source()
        .unwrap_or_else(|u| panic!("{}", u.reason));
    let list = src
        .deployments(TimeWindow::last(Duration::hours(24)))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(list.len(), 2);
    assert_eq!(list[0].state, DeploymentState::Succeeded);
    assert_eq!(list[0].vendor_state, "SUCCESS");
    assert_eq!(list[0].project.as_deref(), Some("shop-api"));
    assert_eq!(list[0].environment.as_deref(), Some("production"));
    assert_eq!(
        list[0].url.as_deref(),
        Some("https://shop-api-production.up.railway.app")
    );
    assert_eq!(list[1].state, DeploymentState::Failed);
}

#[tokio::test]
async fn cost_verb_reports_current_usage_as_exact_money() {
    let server = MockServer::start().await;
    bearer_post(queries::PROBE_WORKSPACE, json!({}))
        .respond_with(json_response("api_token_ok.json"))
        .mount(&server)
        .await;
    bearer_post(queries::BILLING, json!({ "workspaceId": ACME }))
        .respond_with(json_response("workspace_customer.json"))
        .expect(1)
        .mount(&server)
        .await;
    bearer_post(queries::USAGE_ESTIMATE, json!({
        "workspaceId": ACME,
        "measurements": ["MEMORY_USAGE_GB", "CPU_USAGE", "NETWORK_TX_GB", "DISK_USAGE_GB", "BACKUP_USAGE_GB"],
        "startDate": "2026-11-01T00:00:00.000Z",
        "endDate": "2026-12-01T00:00:00.000Z",
    }))
    .respond_with(json_response("usage_estimate.json"))
    .mount(&server)
    .await;
    let svc = service(&server, "workspace").await;
    let src = svc.cost_source().unwrap_or_else(|u| panic!("{}", u.reason));
    let report = src
        .cost(TimeWindow::month_to_date())
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(report.total.len(), 1);
    assert_eq!(report.total[0].currency, "USD");
    assert_eq!(report.total[0].amount.to_string(), "28.42");
    assert_eq!(report.lines[0].label, "Acme");
    assert!(report.estimated);
    assert_eq!(
        report.window.start.to_rfc3339(),
        "2026-11-01T00:00:00+00:00"
    );
}

#[tokio::test]
async fn resources_verb_lists_workspace_projects() {
    let server = MockServer::start().await;
    bearer_post(queries::PROBE_WORKSPACE, json!({}))
        .respond_with(json_response("api_token_ok.json"))
        .mount(&server)
        .await;
    bearer_post(
        queries::PROJECTS,
        json!({ "workspaceId": ACME, "first": 100, "after": null }),
    )
    .respond_with(json_response("projects_page1.json"))
    .mount(&server)
    .await;
    bearer_post(
        queries::PROJECTS,
        json!({ "workspaceId": ACME, "first": 100, "after": "MQ==" }),
    )
    .respond_with(json_response("projects_page2.json"))
    .mount(&server)
    .await;
    let svc = service(&server, "workspace").await;
    let infra = svc
        .as_infrastructure()
        .unwrap_or_else(|| panic!("no infrastructure verb"));
    let names = infra.resources().await.unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(names, vec!["Acme/shop-api", "Acme/marketing-site"]);
}

#[test]
fn config_debug_hides_the_token() {
    let values = opsdeck_core::config::validate(
        "rw",
        &opsdeck_provider_railway::DESCRIPTOR,
        &opsdeck_core::RawConfig(
            serde_json::from_value(json!({ "token": TOKEN })).unwrap_or_default(),
        ),
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let cfg = opsdeck_provider_railway::RailwayConfig::from_values(&values)
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(cfg.token_kind, opsdeck_provider_railway::TokenKind::Account);
    assert_eq!(
        cfg.base_url.as_str(),
        "https://backboard.railway.com/graphql/v2"
    );
    assert!(!format!("{cfg:?}").contains(TOKEN));
}

// ---- paging: more pages than the cap, a repeated cursor, a failure after the first page ----

/// A project token's GraphQL endpoint whose deployment list never ends: every page holds one
/// new deployment an hour old and a new `endCursor` (or, with `stuck`, always the same one);
/// with `fail_after`, later deployment pages answer HTTP 500.
#[derive(Default)]
struct EndlessDeployments {
    served: std::sync::atomic::AtomicU64,
    stuck: bool,
    fail_after: Option<u64>,
}

impl opsdeck_testkit::wiremock::Respond for EndlessDeployments {
    fn respond(&self, req: &Request) -> ResponseTemplate {
        let body: Value = serde_json::from_slice(&req.body).unwrap_or_default();
        if body["query"] == queries::PROJECT_TOKEN {
            return json_response("project_token_ok.json");
        }
        let n = self
            .served
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        if self.fail_after.is_some_and(|f| n >= f) {
            return railway_error_body(500);
        }
        let created =
            (Utc::now() - Duration::hours(1)).to_rfc3339_opts(SecondsFormat::Millis, true);
        let cursor = if self.stuck {
            "same".to_owned()
        } else {
            format!("c{n}")
        };
        ResponseTemplate::new(200).set_body_json(json!({"data": {"deployments": {
            "edges": [{"node": {"id": format!("d{n}"), "status": "SUCCESS", "createdAt": created,
                                "serviceId": "s", "environmentId": ENV, "staticUrl": null}}],
            "pageInfo": {"hasNextPage": true, "endCursor": cursor}}}}))
    }
}

async fn collect_project_deployments(responder: EndlessDeployments) -> opsdeck_core::MetricSet {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(ENDPOINT))
        .respond_with(responder)
        .mount(&server)
        .await;
    service(&server, "project")
        .await
        .collect_metrics()
        .await
        .unwrap_or_else(|e| panic!("{e}"))
}

#[tokio::test]
async fn more_deployment_pages_than_the_cap_give_a_lower_bound_with_a_note() {
    let set = collect_project_deployments(EndlessDeployments::default()).await;
    assert_eq!(
        set.value("railway_deployments_24h", &[("status", "success")]),
        Some(10.0)
    );
    assert!(
        set.notes.iter().any(|n| n
            == "Stopped after 10 pages; figures cover 10 of more deployments of project shop-api. The 24 h deployment counts are a lower bound."),
        "{:?}",
        set.notes
    );
}

#[tokio::test]
async fn a_repeated_deployment_cursor_stops_with_a_note() {
    let set = collect_project_deployments(EndlessDeployments {
        stuck: true,
        ..EndlessDeployments::default()
    })
    .await;
    assert_eq!(
        set.value("railway_deployments_24h", &[("status", "success")]),
        Some(2.0)
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
async fn a_failing_later_deployment_page_keeps_the_first_pages() {
    let set = collect_project_deployments(EndlessDeployments {
        fail_after: Some(2),
        ..EndlessDeployments::default()
    })
    .await;
    assert_eq!(
        set.value("railway_deployments_24h", &[("status", "success")]),
        Some(2.0)
    );
    assert!(
        set.notes
            .iter()
            .any(|n| n
                .starts_with("Page 3 of deployments of project shop-api failed (provider_error)")),
        "{:?}",
        set.notes
    );
}

/// Issue 14: the deployments query failing keeps the project and service counts.
#[tokio::test]
async fn failed_deployments_keep_the_inventory() {
    let server = MockServer::start().await;
    opsdeck_testkit::fail_section(&server, |r: &Request| {
        String::from_utf8_lossy(&r.body).contains("OpsdeckDeployments")
    })
    .await;
    opsdeck_provider_railway::testing::mount_all(&server).await;
    let set = service(&server, "project")
        .await
        .collect_metrics()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    opsdeck_testkit::assert_partial(&set, "deployments", FailureKind::ProviderError);
    assert!(set.value("railway_services", &[]).is_some(), "{set:?}");
    assert_eq!(set.value("railway_deployments_24h", &[]), None);
}

/// Issue 14: the deployments connection has no `orderBy`; nothing assumes newest-first. A
/// page mixing an old deployment with a new one does not end the walk, and the list comes back
/// sorted by each deployment's own `createdAt`.
#[tokio::test]
async fn deployments_are_sorted_here_not_assumed_newest_first() {
    let server = MockServer::start().await;
    project_post(queries::PROJECT_TOKEN, json!({}))
        .respond_with(json_response("project_token_ok.json"))
        .mount(&server)
        .await;
    let at = |h: i64| (Utc::now() - Duration::hours(h)).to_rfc3339_opts(SecondsFormat::Secs, true);
    let node = |id: &str, status: &str, h: i64| json!({"node": {"id": id, "status": status, "createdAt": at(h), "serviceId": "s", "environmentId": ENV, "staticUrl": null}});
    let page = |edges: Vec<Value>, next: Option<&str>| {
        json!({"data": {"deployments": {"edges": edges,
            "pageInfo": {"hasNextPage": next.is_some(), "endCursor": next}}}})
    };
    project_post(
        queries::DEPLOYMENTS,
        json!({ "input": { "projectId": SHOP, "environmentId": ENV }, "first": 100, "after": null }),
    )
    .respond_with(ResponseTemplate::new(200).set_body_json(page(
        vec![node("old", "SUCCESS", 40), node("mid", "FAILED", 3)],
        Some("c1"),
    )))
    .expect(1)
    .mount(&server)
    .await;
    project_post(
        queries::DEPLOYMENTS,
        json!({ "input": { "projectId": SHOP, "environmentId": ENV }, "first": 100, "after": "c1" }),
    )
    .respond_with(ResponseTemplate::new(200).set_body_json(page(vec![node("new", "SUCCESS", 1)], None)))
    .expect(1)
    .mount(&server)
    .await;
    let svc = service(&server, "project").await;
    let list = svc
        .deployment_source()
        .unwrap_or_else(|u| panic!("{}", u.reason))
        .deployments(TimeWindow::last(Duration::hours(24)))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let ids: Vec<&str> = list.iter().map(|d| d.id.as_str()).collect();
    assert_eq!(ids, ["new", "mid"], "{list:?}");
}
