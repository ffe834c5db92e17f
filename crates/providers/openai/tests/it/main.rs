//! Integration tests for the OpenAI provider: the shared conformance suite, the exact requests
//! (method, path, query, auth and OpenAI headers), metrics parsed from realistic bodies with
//! pagination and empty results, each OpenAI-specific error mapping, and the AI verbs.
//! Fixtures are trimmed copies of the bodies OpenAI documents (openapi.yaml examples and
//! observed error bodies), with extra unknown fields to prove we ignore them.

use std::str::FromStr;
use std::sync::Arc;

use opsdeck_core::domain::TimeWindow;
use opsdeck_core::rust_decimal::Decimal;
use opsdeck_core::{BaseService, FailureKind, ServiceFactory, Status};
use opsdeck_testkit::wiremock::matchers::{
    header, method, path, query_param, query_param_is_missing,
};
use opsdeck_testkit::wiremock::{Match, Mock, MockBuilder, MockServer, Request, ResponseTemplate};
use opsdeck_testkit::{Conformance, MountFuture, assert_no_secrets};
use serde_json::{Value, json};

use opsdeck_provider_openai::testing::{ADMIN_KEY, API_KEY};

const MODELS: &str = include_str!("fixtures/models.json");
const MODELS_GATEWAY: &str = include_str!("fixtures/models_gateway_minimal.json");
const COSTS_1: &str = include_str!("fixtures/costs_page1.json");
const COSTS_2: &str = include_str!("fixtures/costs_page2.json");
const COSTS_EMPTY: &str = include_str!("fixtures/costs_empty.json");
const USAGE_1: &str = include_str!("fixtures/usage_completions_page1.json");
const USAGE_2: &str = include_str!("fixtures/usage_completions_page2.json");
const USAGE_EMPTY: &str = include_str!("fixtures/usage_completions_empty.json");
const E401_KEY: &str = include_str!("fixtures/error_401_invalid_api_key.json");
const E401_SCOPE: &str = include_str!("fixtures/error_401_missing_scope.json");
const E401_STRING: &str = include_str!("fixtures/error_401_string_error.json");
const E403_REGION: &str = include_str!("fixtures/error_403_unsupported_country.json");
const E404: &str = include_str!("fixtures/error_404_unknown_url.json");
const E429_RATE: &str = include_str!("fixtures/error_429_rate_limit.json");
const E429_QUOTA: &str = include_str!("fixtures/error_429_insufficient_quota.json");
const E500: &str = include_str!("fixtures/error_500.json");

const NEXT_PAGE: &str = "page_AAAAAGdGxdEiJdKOAAAAAGcqsYA=";

fn bearer(key: &str) -> String {
    format!("Bearer {key}")
}

fn body(raw: &str) -> ResponseTemplate {
    ResponseTemplate::new(200).set_body_raw(raw, "application/json")
}

fn error(status: u16, raw: &str) -> ResponseTemplate {
    ResponseTemplate::new(status)
        .set_body_raw(raw, "application/json")
        .insert_header("x-request-id", "req_123abc")
}

/// `start_time` is a Unix time within `slack` seconds of `now - offset`.
struct StartTimeNear {
    offset: i64,
    slack: i64,
}

impl Match for StartTimeNear {
    fn matches(&self, request: &Request) -> bool {
        let now = chrono::Utc::now().timestamp();
        request
            .url
            .query_pairs()
            .find(|(k, _)| k == "start_time")
            .and_then(|(_, v)| v.parse::<i64>().ok())
            .is_some_and(|t| (t - (now - self.offset)).abs() <= self.slack)
    }
}

/// Every value of a repeated query key, in order.
struct QueryValues {
    key: &'static str,
    values: &'static [&'static str],
}

impl Match for QueryValues {
    fn matches(&self, request: &Request) -> bool {
        let got: Vec<String> = request
            .url
            .query_pairs()
            .filter(|(k, _)| k == self.key)
            .map(|(_, v)| v.into_owned())
            .collect();
        got == self.values
    }
}

/// The request carries a numeric `end_time` no earlier than `start_time`.
struct HasEndTime;

impl Match for HasEndTime {
    fn matches(&self, request: &Request) -> bool {
        let get = |k: &str| {
            request
                .url
                .query_pairs()
                .find(|(key, _)| key == k)
                .and_then(|(_, v)| v.parse::<i64>().ok())
        };
        matches!((get("start_time"), get("end_time")), (Some(s), Some(e)) if e > s)
    }
}

fn models_request() -> MockBuilder {
    Mock::given(method("GET"))
        .and(path("/models"))
        .and(header("authorization", bearer(API_KEY).as_str()))
        .and(header("accept", "application/json"))
        .and(header("user-agent", opsdeck_core::http::USER_AGENT))
}

/// A 200 with the headers api.openai.com sends.
fn models_ok(raw: &str) -> ResponseTemplate {
    body(raw)
        .insert_header("openai-organization", "org-acme")
        .insert_header("openai-processing-ms", "31")
        .insert_header("x-request-id", "req_models_1")
        .insert_header("x-ratelimit-limit-requests", "5000")
        .insert_header("x-ratelimit-remaining-requests", "4999")
        .insert_header("x-ratelimit-reset-requests", "12ms")
}

fn models_mock(raw: &'static str) -> Mock {
    models_request().respond_with(models_ok(raw))
}

fn costs_probe_mock() -> MockBuilder {
    Mock::given(method("GET"))
        .and(path("/organization/costs"))
        .and(header("authorization", bearer(ADMIN_KEY).as_str()))
        .and(query_param("limit", "1"))
        .and(StartTimeNear {
            offset: 86_400,
            slack: 120,
        })
        .and(query_param_is_missing("group_by"))
}

fn report_mock(report_path: &'static str, group_by: &'static [&'static str]) -> MockBuilder {
    Mock::given(method("GET"))
        .and(path(report_path))
        .and(header("authorization", bearer(ADMIN_KEY).as_str()))
        .and(header("user-agent", opsdeck_core::http::USER_AGENT))
        .and(query_param("bucket_width", "1d"))
        .and(query_param("limit", "7"))
        .and(HasEndTime)
        .and(QueryValues {
            key: "group_by",
            values: group_by,
        })
        // 7-day window: today and the six whole UTC days before it.
        .and(StartTimeNear {
            offset: 6 * 86_400 + chrono::Utc::now().timestamp().rem_euclid(86_400),
            slack: 120,
        })
}

const COST_GROUPS: &[&str] = &["line_item", "project_id"];
const USAGE_GROUPS: &[&str] = &["model"];

async fn mount_reports(server: &MockServer, costs: [&'static str; 2], usage: [&'static str; 2]) {
    report_mock("/organization/costs", COST_GROUPS)
        .and(query_param_is_missing("page"))
        .respond_with(body(costs[0]))
        .expect(1)
        .mount(server)
        .await;
    report_mock("/organization/costs", COST_GROUPS)
        .and(query_param("page", NEXT_PAGE))
        .respond_with(body(costs[1]))
        .mount(server)
        .await;
    report_mock("/organization/usage/completions", USAGE_GROUPS)
        .and(query_param_is_missing("page"))
        .respond_with(body(usage[0]))
        .expect(1)
        .mount(server)
        .await;
    report_mock("/organization/usage/completions", USAGE_GROUPS)
        .and(query_param("page", NEXT_PAGE))
        .respond_with(body(usage[1]))
        .mount(server)
        .await;
}

fn mount_success(server: &MockServer) -> MountFuture<'_> {
    Box::pin(async move {
        models_mock(MODELS).expect(1..).mount(server).await;
        costs_probe_mock()
            .respond_with(body(COSTS_EMPTY))
            .expect(1..)
            .mount(server)
            .await;
    })
}

fn mount_metrics(server: &MockServer) -> MountFuture<'_> {
    Box::pin(async move {
        models_mock(MODELS).expect(1..).mount(server).await;
        opsdeck_provider_openai::testing::mount_previous_month_costs(
            server,
            chrono::Utc::now(),
            COSTS_EMPTY,
        )
        .await;
        mount_reports(server, [COSTS_1, COSTS_2], [USAGE_1, USAGE_2]).await;
    })
}

fn openai_error_body(status: u16) -> ResponseTemplate {
    let raw = match status {
        401 => E401_KEY,
        404 => E404,
        429 => E429_RATE,
        403 => {
            r#"{"error":{"message":"You are not allowed to sample from this model","type":"invalid_request_error","param":null,"code":null}}"#
        }
        _ => E500,
    };
    ResponseTemplate::new(status).set_body_raw(raw, "application/json")
}

#[tokio::test]
async fn conformance() {
    Conformance::new(
        "openai",
        |base| json!({ "api_key": API_KEY, "admin_key": ADMIN_KEY, "base_url": base }),
    )
    .secret(API_KEY)
    .secret(ADMIN_KEY)
    .success(mount_success)
    .metrics(mount_metrics)
    .error_body(openai_error_body)
    .run()
    .await;
}

#[tokio::test]
async fn conformance_without_admin_key() {
    Conformance::new(
        "openai",
        |base| json!({ "api_key": API_KEY, "base_url": base }),
    )
    .secret(API_KEY)
    .success(|s| Box::pin(async move { models_mock(MODELS).mount(s).await }))
    .metrics(|s| Box::pin(async move { models_mock(MODELS).mount(s).await }))
    .error_body(openai_error_body)
    .run()
    .await;
}

fn service_with(server: &MockServer, extra: Value) -> Arc<dyn BaseService> {
    let mut config = json!({ "api_key": API_KEY, "base_url": server.uri() });
    if let (Some(m), Value::Object(e)) = (config.as_object_mut(), extra) {
        m.extend(e);
    }
    opsdeck_testkit::service("openai", config)
}

fn admin() -> Value {
    json!({ "admin_key": ADMIN_KEY })
}

fn no_secrets(text: &str) {
    assert_no_secrets("output", text, &[API_KEY, ADMIN_KEY, "MxYA"]);
}

#[test]
fn registered_with_its_fields() {
    let factory = ServiceFactory::from_registry().unwrap_or_else(|e| panic!("{e}"));
    let d = factory
        .descriptor("openai")
        .unwrap_or_else(|| panic!("not registered"));
    assert_eq!(d.name, "OpenAI");
    assert_eq!(d.category, opsdeck_core::Category::Ai);
    let schema = d.json_schema();
    assert_eq!(schema["required"], json!(["api_key"]));
    assert_eq!(schema["properties"]["api_key"]["writeOnly"], json!(true));
    assert_eq!(schema["properties"]["admin_key"]["writeOnly"], json!(true));
    assert_eq!(
        schema["properties"]["base_url"]["default"],
        json!("https://api.openai.com/v1")
    );
}

#[tokio::test]
async fn probe_without_admin_key_reports_identity_rate_limit_and_skipped_usage_check() {
    let server = MockServer::start().await;
    models_mock(MODELS).expect(1).mount(&server).await;
    Mock::given(path("/organization/costs"))
        .respond_with(body(COSTS_EMPTY))
        .expect(0)
        .mount(&server)
        .await;
    let report = service_with(&server, json!({})).test_connection().await;
    assert_eq!(report.status, Status::Connected, "{}", report.message);
    assert_eq!(report.identity.as_deref(), Some("org-acme"));
    assert!(report.message.contains("4 models"), "{}", report.message);
    assert!(
        report.message.contains("no admin_key"),
        "{}",
        report.message
    );
    let rl = report.details.rate_limit.clone().unwrap_or_default();
    assert_eq!(rl.limit, Some(5000));
    assert_eq!(rl.remaining, Some(4999));
    assert!(rl.reset_at.is_some());
    assert_eq!(report.details.extra["request_id"], json!("req_models_1"));
    let check = &report.details.checks[0];
    assert_eq!(check.name, "usage_api");
    assert_eq!(check.status, Status::Unknown);
    assert!(check.message.contains("Admin key"), "{}", check.message);
    no_secrets(&format!("{report:?}"));
}

#[tokio::test]
async fn organization_and_project_headers_are_sent_with_the_api_key_only() {
    let server = MockServer::start().await;
    models_request()
        .and(header("openai-organization", "org-configured"))
        .and(header("openai-project", "proj_configured"))
        .respond_with(models_ok(MODELS))
        .expect(1)
        .mount(&server)
        .await;
    // The Admin key is organization-wide; it must not carry the project header.
    costs_probe_mock()
        .and(NoHeader("openai-project"))
        .and(NoHeader("openai-organization"))
        .respond_with(body(COSTS_EMPTY))
        .expect(1)
        .mount(&server)
        .await;
    let svc = service_with(
        &server,
        json!({ "admin_key": ADMIN_KEY, "organization": "org-configured", "project": "proj_configured" }),
    );
    let report = svc.test_connection().await;
    assert_eq!(report.status, Status::Connected, "{}", report.message);
    assert_eq!(report.details.checks[0].status, Status::Connected);
}

struct NoHeader(&'static str);

impl Match for NoHeader {
    fn matches(&self, request: &Request) -> bool {
        !request.headers.contains_key(self.0)
    }
}

#[tokio::test]
async fn probe_with_working_admin_key_says_usage_will_work() {
    let server = MockServer::start().await;
    mount_success(&server).await;
    let report = service_with(&server, admin()).test_connection().await;
    assert_eq!(report.status, Status::Connected, "{}", report.message);
    assert!(
        report.message.contains("admin_key can read usage"),
        "{}",
        report.message
    );
    assert_eq!(report.details.checks[0].status, Status::Connected);
    assert_eq!(report.details.checks[0].failure, None);
}

#[tokio::test]
async fn project_key_as_admin_key_is_permission_denied_in_the_sub_check() {
    let server = MockServer::start().await;
    models_mock(MODELS).mount(&server).await;
    costs_probe_mock()
        .respond_with(error(401, E401_SCOPE))
        .expect(1)
        .mount(&server)
        .await;
    let report = service_with(&server, admin()).test_connection().await;
    // The API key works, so the connection is up; the sub-check says why usage will not.
    assert_eq!(report.status, Status::Connected, "{}", report.message);
    let check = &report.details.checks[0];
    assert_eq!(check.failure, Some(FailureKind::PermissionDenied));
    assert!(
        check.message.contains("api.usage.read"),
        "{}",
        check.message
    );
    assert!(
        check
            .hint
            .as_deref()
            .is_some_and(|h| h.contains("Admin key")),
        "{check:?}"
    );
    assert!(
        report.message.contains("will NOT work"),
        "{}",
        report.message
    );
}

#[tokio::test]
async fn invalid_api_key_never_echoes_the_masked_key() {
    let server = MockServer::start().await;
    Mock::given(path("/models"))
        .respond_with(error(401, E401_KEY))
        .expect(1) // 401 is never retried
        .mount(&server)
        .await;
    let report = service_with(&server, json!({})).test_connection().await;
    assert_eq!(report.status, Status::Failed);
    assert_eq!(report.failure, Some(FailureKind::InvalidCredentials));
    assert!(
        report
            .hint
            .as_deref()
            .is_some_and(|h| h.contains("api_key")),
        "{report:?}"
    );
    assert!(
        report.message.contains("Incorrect API key provided: [key]"),
        "{}",
        report.message
    );
    assert_eq!(report.details.extra["request_id"], json!("req_123abc"));
    assert_eq!(report.details.http_status, Some(401));
    no_secrets(&serde_json::to_string(&report).unwrap_or_default());
}

#[tokio::test]
async fn restricted_key_without_models_read_is_permission_denied() {
    for raw in [E401_SCOPE, E401_STRING] {
        let server = MockServer::start().await;
        Mock::given(path("/models"))
            .respond_with(error(401, raw))
            .mount(&server)
            .await;
        let report = service_with(&server, json!({})).test_connection().await;
        assert_eq!(
            report.failure,
            Some(FailureKind::PermissionDenied),
            "{}",
            report.message
        );
        assert!(
            report.message.contains("missing scope"),
            "{}",
            report.message
        );
        assert!(
            report.hint.as_deref().is_some_and(|h| h.contains("Models")),
            "{report:?}"
        );
    }
}

#[tokio::test]
async fn ip_allowlist_rejection_is_permission_denied() {
    let server = MockServer::start().await;
    Mock::given(path("/models"))
        .respond_with(error(
            401,
            r#"{"error":{"message":"IP not authorized: your request IP is not in the allowlist for this project.","type":"invalid_request_error","param":null,"code":null}}"#,
        ))
        .mount(&server)
        .await;
    let report = service_with(&server, json!({})).test_connection().await;
    assert_eq!(report.failure, Some(FailureKind::PermissionDenied));
    assert!(report.message.contains("allowlist"), "{}", report.message);
}

#[tokio::test]
async fn exhausted_quota_is_not_a_rate_limit_and_is_not_retried() {
    let server = MockServer::start().await;
    Mock::given(path("/models"))
        .respond_with(error(429, E429_QUOTA))
        .expect(1)
        .mount(&server)
        .await;
    let report = service_with(&server, json!({})).test_connection().await;
    assert_eq!(report.status, Status::Failed);
    assert_eq!(report.failure, Some(FailureKind::PermissionDenied));
    assert!(
        report
            .hint
            .as_deref()
            .is_some_and(|h| h.contains("Billing")),
        "{report:?}"
    );
}

#[tokio::test]
async fn rate_limit_reports_retry_after() {
    let server = MockServer::start().await;
    Mock::given(path("/models"))
        .respond_with(error(429, E429_RATE).insert_header("retry-after", "600"))
        .expect(1) // 600 s does not fit in the check's time: reported, not slept
        .mount(&server)
        .await;
    let report = service_with(&server, json!({})).test_connection().await;
    assert_eq!(report.status, Status::Unknown);
    assert_eq!(report.failure, Some(FailureKind::RateLimited));
    assert_eq!(report.details.retry_after_secs, Some(600));
    assert!(
        report.message.contains("Rate limit reached"),
        "{}",
        report.message
    );
}

#[tokio::test]
async fn region_block_names_the_cause() {
    let server = MockServer::start().await;
    Mock::given(path("/models"))
        .respond_with(error(403, E403_REGION))
        .mount(&server)
        .await;
    let report = service_with(&server, json!({})).test_connection().await;
    assert_eq!(report.failure, Some(FailureKind::PermissionDenied));
    assert!(
        report
            .hint
            .as_deref()
            .is_some_and(|h| h.contains("country, region")),
        "{report:?}"
    );
}

#[tokio::test]
async fn wrong_base_url_hints_at_v1() {
    let server = MockServer::start().await;
    Mock::given(path("/models"))
        .respond_with(error(404, E404))
        .mount(&server)
        .await;
    let report = service_with(&server, json!({})).test_connection().await;
    assert_eq!(report.failure, Some(FailureKind::NotFound));
    assert!(
        report.hint.as_deref().is_some_and(|h| h.contains("/v1")),
        "{report:?}"
    );
}

#[tokio::test]
async fn gateway_model_list_without_optional_fields_is_accepted() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/models"))
        .respond_with(body(MODELS_GATEWAY))
        .mount(&server)
        .await;
    let svc = service_with(&server, json!({}));
    let report = svc.test_connection().await;
    assert_eq!(report.status, Status::Connected, "{}", report.message);
    // No openai-organization header: the host identifies the connection.
    assert_eq!(report.identity.as_deref(), Some("127.0.0.1"));
    let models = svc
        .as_ai()
        .unwrap_or_else(|| panic!("AI verb missing"))
        .models()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let ids: Vec<&str> = models.iter().map(|m| m.id.as_str()).collect();
    assert_eq!(ids, ["llama3.1:8b", "qwen2.5:7b"]);
}

fn metric(set: &opsdeck_core::MetricSet, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
    set.metrics
        .iter()
        .find(|m| {
            m.name == name
                && labels
                    .iter()
                    .all(|(k, v)| m.labels.get(*k).map(String::as_str) == Some(*v))
        })
        .map(|m| m.value)
}

#[tokio::test]
async fn metrics_follow_pages_and_sum_exactly() {
    let server = MockServer::start().await;
    mount_metrics(&server).await;
    let set = service_with(&server, admin())
        .collect_metrics()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(metric(&set, "openai_models_available", &[]), Some(4.0));
    // Costs: page 1 and page 2 summed per line item and project.
    let mini = [
        ("line_item", "gpt-4o-mini, input"),
        ("project_id", "proj_abc"),
    ];
    assert_eq!(metric(&set, "openai_cost", &mini), Some(0.26));
    assert_eq!(
        metric(&set, "openai_cost", &[("line_item", "gpt-4o, output")]),
        Some(1.2)
    );
    assert_eq!(
        metric(
            &set,
            "openai_cost",
            &[
                ("line_item", "web search tool calls"),
                ("project_id", "none")
            ]
        ),
        Some(0.5)
    );
    assert_eq!(
        metric(&set, "openai_cost_total", &[("currency", "usd")]),
        Some(2.06)
    );
    let cost_unit = set
        .metrics
        .iter()
        .find(|m| m.name == "openai_cost_total")
        .map(|m| m.unit.as_str().into_owned());
    assert_eq!(cost_unit.as_deref(), Some("usd"));
    // Usage: cached tokens split from input, pages summed per model.
    let m = [("model", "gpt-4o-mini-2024-07-18")];
    assert_eq!(metric(&set, "openai_input_tokens", &m), Some(10_200.0));
    assert_eq!(
        metric(&set, "openai_cached_input_tokens", &m),
        Some(1_800.0)
    );
    assert_eq!(metric(&set, "openai_output_tokens", &m), Some(3_000.0));
    assert_eq!(metric(&set, "openai_requests", &m), Some(15.0));
    let m = [("model", "gpt-4o-2024-08-06")];
    assert_eq!(metric(&set, "openai_input_tokens", &m), Some(1_000.0));
    assert_eq!(metric(&set, "openai_requests", &m), Some(2.0));
    // One cost result without amount and one usage result of an unknown kind were skipped.
    let notes = set.notes.join("\n");
    assert!(notes.contains("1 cost result"), "{notes}");
    assert!(notes.contains("1 usage result"), "{notes}");
    assert!(notes.contains("daily buckets"), "{notes}");
    no_secrets(&serde_json::to_string(&set).unwrap_or_default());
}

#[tokio::test]
async fn empty_reports_give_zero_cost_and_no_usage() {
    let server = MockServer::start().await;
    models_mock(include_str!("fixtures/models_empty.json"))
        .mount(&server)
        .await;
    mount_reports(
        &server,
        [COSTS_EMPTY, COSTS_EMPTY],
        [USAGE_EMPTY, USAGE_EMPTY],
    )
    .await;
    let set = service_with(&server, admin())
        .collect_metrics()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(metric(&set, "openai_models_available", &[]), Some(0.0));
    assert_eq!(
        metric(&set, "openai_cost_total", &[("currency", "usd")]),
        Some(0.0)
    );
    assert_eq!(metric(&set, "openai_cost", &[]), None);
    assert_eq!(metric(&set, "openai_input_tokens", &[]), None);
}

#[tokio::test]
async fn without_admin_key_metrics_are_the_model_count_and_a_note() {
    let server = MockServer::start().await;
    models_mock(MODELS).expect(1).mount(&server).await;
    Mock::given(path("/organization/costs"))
        .respond_with(body(COSTS_EMPTY))
        .expect(0)
        .mount(&server)
        .await;
    let svc = service_with(&server, json!({}));
    let set = svc
        .collect_metrics()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(set.metrics.len(), 1);
    assert_eq!(metric(&set, "openai_models_available", &[]), Some(4.0));
    assert!(set.notes.join(" ").contains("admin_key"), "{:?}", set.notes);
    // Abilities are data: unavailable, with the reason.
    let caps = svc.capabilities();
    let cost = caps.iter().find(|c| c.name == "cost");
    assert_eq!(cost.map(|c| c.available), Some(false));
    assert!(
        cost.and_then(|c| c.reason.clone())
            .unwrap_or_default()
            .contains("Admin key")
    );
    assert!(svc.ai_usage_source().is_err());
}

#[tokio::test]
async fn admin_key_failure_during_collection_is_reported_as_such() {
    let server = MockServer::start().await;
    models_mock(MODELS).mount(&server).await;
    Mock::given(path("/organization/costs"))
        .respond_with(error(401, E401_SCOPE))
        .mount(&server)
        .await;
    Mock::given(path("/organization/usage/completions"))
        .respond_with(body(USAGE_EMPTY))
        .mount(&server)
        .await;
    // Issue 14: the models and the usage are still reported; the cost section is named.
    let set = service_with(&server, admin())
        .collect_metrics()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(
        set.value("openai_models_available", &[]).is_some(),
        "{set:?}"
    );
    // The window's cost and the previous month's both need the permission.
    let sections: Vec<&str> = set.problems.iter().map(|p| p.section.as_str()).collect();
    assert_eq!(
        sections,
        ["cost", "cost_previous_month"],
        "{:?}",
        set.problems
    );
    let p = &set.problems[0];
    assert_eq!(p.section, "cost");
    assert_eq!(p.failure, FailureKind::PermissionDenied);
    assert!(p.message.contains("cost with admin_key"), "{p:?}");
}

#[tokio::test]
async fn cost_and_usage_verbs_cover_the_requested_window() {
    let server = MockServer::start().await;
    let end = chrono::Utc::now();
    let window = TimeWindow {
        start: end - chrono::Duration::days(3),
        end,
    };
    let exact = |p: &'static str, groups: &'static [&'static str]| {
        Mock::given(method("GET"))
            .and(path(p))
            .and(header("authorization", bearer(ADMIN_KEY).as_str()))
            .and(query_param(
                "start_time",
                window.start.timestamp().to_string(),
            ))
            .and(query_param("end_time", window.end.timestamp().to_string()))
            .and(query_param("limit", "3"))
            .and(QueryValues {
                key: "group_by",
                values: groups,
            })
    };
    exact("/organization/costs", COST_GROUPS)
        .respond_with(body(COSTS_2))
        .mount(&server)
        .await;
    exact("/organization/usage/completions", USAGE_GROUPS)
        .respond_with(body(USAGE_2))
        .mount(&server)
        .await;
    let svc = service_with(&server, admin());
    let report = svc
        .cost_source()
        .unwrap_or_else(|u| panic!("{}", u.reason))
        .cost(window)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(report.window, window);
    assert_eq!(report.total.len(), 1);
    assert_eq!(report.total[0].currency, "USD");
    assert_eq!(
        report.total[0].amount,
        Decimal::from_str("0.7").unwrap_or_default()
    );
    assert!(!report.estimated);
    let labels: Vec<&str> = report.lines.iter().map(|l| l.label.as_str()).collect();
    assert_eq!(labels, ["gpt-4o-mini, input", "web search tool calls"]);

    let usage = svc
        .ai_usage_source()
        .unwrap_or_else(|u| panic!("{}", u.reason))
        .ai_usage(window)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(usage.models.len(), 1);
    assert_eq!(usage.models[0].model, "gpt-4o-mini-2024-07-18");
    assert_eq!(usage.models[0].input_tokens, 7000);
    assert_eq!(usage.models[0].requests, Some(10));
    assert!(usage.cost.is_some());
}

#[tokio::test]
async fn a_repeated_cursor_stops_with_a_note_instead_of_looping() {
    let server = MockServer::start().await;
    models_mock(MODELS).mount(&server).await;
    opsdeck_provider_openai::testing::mount_previous_month_costs(
        &server,
        chrono::Utc::now(),
        COSTS_EMPTY,
    )
    .await;
    // Like a mock that replays the spec's example: every page says "more, same cursor".
    Mock::given(path("/organization/costs"))
        .respond_with(body(COSTS_1))
        .expect(2)
        .mount(&server)
        .await;
    Mock::given(path("/organization/usage/completions"))
        .respond_with(body(USAGE_EMPTY))
        .mount(&server)
        .await;
    let set = service_with(&server, admin())
        .collect_metrics()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    // Both fetched pages counted, then a note instead of a third request.
    assert_eq!(
        metric(&set, "openai_cost_total", &[("currency", "usd")]),
        Some(2.72)
    );
    let notes = set.notes.join("\n");
    assert!(
        notes.contains("a page cursor it had already sent"),
        "{notes}"
    );
}

#[test]
fn windows_shorter_than_a_day_are_refused() {
    let factory = ServiceFactory::from_registry().unwrap_or_else(|e| panic!("{e}"));
    let spec = opsdeck_core::config::spec_from_map(
        "openai-main",
        serde_json::from_value(json!({
            "provider": "openai", "api_key": API_KEY, "metrics_window": "12h"
        }))
        .unwrap_or_default(),
        &|_| None,
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let err = factory
        .build(&spec)
        .err()
        .unwrap_or_else(|| panic!("expected an error"));
    assert!(err.to_string().contains("metrics_window"), "{err}");
    no_secrets(&format!("{err:?}"));
}

#[test]
fn config_debug_hides_keys() {
    let cfg = opsdeck_provider_openai::OpenAiConfig::new(
        opsdeck_core::secrecy::SecretString::from(API_KEY),
    )
    .unwrap_or_else(|e| panic!("{e}"));
    no_secrets(&format!("{cfg:?}"));
}

/// The response examples of openapi.yaml (the /models one minus its trailing comma, which makes
/// the published example invalid JSON), served the way a mock that replays them would: every
/// request gets the same body, so `has_more: true` never ends.
#[tokio::test]
async fn spec_examples_parse() {
    let server = MockServer::start().await;
    Mock::given(path("/models"))
        .respond_with(body(include_str!("fixtures/spec_example_models.json")))
        .mount(&server)
        .await;
    Mock::given(path("/organization/costs"))
        .respond_with(body(include_str!("fixtures/spec_example_costs.json")))
        .mount(&server)
        .await;
    Mock::given(path("/organization/usage/completions"))
        .respond_with(body(include_str!(
            "fixtures/spec_example_usage_completions.json"
        )))
        .mount(&server)
        .await;
    let svc = service_with(&server, admin());
    let report = svc.test_connection().await;
    assert_eq!(report.status, Status::Connected, "{}", report.message);
    assert_eq!(report.details.checks[0].status, Status::Connected);
    let set = svc
        .collect_metrics()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(metric(&set, "openai_models_available", &[]), Some(3.0));
    // The costs example has has_more: false and one 0.06 USD result.
    assert_eq!(
        metric(&set, "openai_cost_total", &[("currency", "usd")]),
        Some(0.06)
    );
    // The usage example says has_more: true with a fixed cursor: two pages, then a note.
    assert_eq!(
        metric(&set, "openai_requests", &[("model", "none")]),
        Some(10.0)
    );
    assert!(
        set.notes
            .join(" ")
            .contains("a page cursor it had already sent"),
        "{:?}",
        set.notes
    );
}

#[tokio::test]
async fn a_throttled_admin_check_is_undecided_not_broken() {
    let server = MockServer::start().await;
    models_mock(MODELS).mount(&server).await;
    costs_probe_mock()
        .respond_with(error(429, E429_RATE).insert_header("retry-after", "600"))
        .mount(&server)
        .await;
    let report = service_with(&server, admin()).test_connection().await;
    assert_eq!(report.status, Status::Connected, "{}", report.message);
    let check = &report.details.checks[0];
    assert_eq!(check.status, Status::Unknown);
    assert_eq!(check.failure, Some(FailureKind::RateLimited));
    assert!(
        report.message.contains("could not be checked now"),
        "{}",
        report.message
    );
}

/// Endless cost pages: one daily bucket of $1 each, `has_more` with a new cursor every time;
/// with `fail_after`, pages after that many answer 500.
#[derive(Default)]
struct EndlessCosts {
    served: std::sync::atomic::AtomicU64,
    fail_after: Option<u64>,
}

impl opsdeck_testkit::wiremock::Respond for EndlessCosts {
    fn respond(&self, _: &Request) -> ResponseTemplate {
        let n = self
            .served
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        if self.fail_after.is_some_and(|f| n >= f) {
            return ResponseTemplate::new(500).set_body_raw(E500, "application/json");
        }
        ResponseTemplate::new(200).set_body_json(json!({
            "object": "page",
            "data": [{"object": "bucket", "start_time": 1_764_201_600 + n * 86_400,
                      "end_time": 1_764_288_000 + n * 86_400,
                      "results": [{"object": "organization.costs.result",
                                   "amount": {"value": 1, "currency": "usd"},
                                   "line_item": "gpt", "project_id": "proj_1"}]}],
            "has_more": true,
            "next_page": format!("page_{n}")
        }))
    }
}

async fn collect_with_costs(costs: EndlessCosts) -> opsdeck_core::MetricSet {
    let server = MockServer::start().await;
    models_mock(MODELS).mount(&server).await;
    opsdeck_provider_openai::testing::mount_previous_month_costs(
        &server,
        chrono::Utc::now(),
        COSTS_EMPTY,
    )
    .await;
    Mock::given(path("/organization/costs"))
        .respond_with(costs)
        .mount(&server)
        .await;
    Mock::given(path("/organization/usage/completions"))
        .respond_with(body(USAGE_EMPTY))
        .mount(&server)
        .await;
    service_with(&server, admin())
        .collect_metrics()
        .await
        .unwrap_or_else(|e| panic!("{e}"))
}

#[tokio::test]
async fn more_pages_than_the_cap_give_partial_cost_with_a_note() {
    let set = collect_with_costs(EndlessCosts::default()).await;
    assert_eq!(
        metric(&set, "openai_cost_total", &[("currency", "usd")]),
        Some(50.0)
    );
    assert!(
        set.notes.iter().any(|n| n
            == "Stopped after 50 pages; figures cover 50 of more daily cost buckets. The cost figures are partial."),
        "{:?}",
        set.notes
    );
}

#[tokio::test]
async fn a_failing_later_page_keeps_the_first_pages_cost() {
    let set = collect_with_costs(EndlessCosts {
        fail_after: Some(2),
        ..EndlessCosts::default()
    })
    .await;
    assert_eq!(
        metric(&set, "openai_cost_total", &[("currency", "usd")]),
        Some(2.0)
    );
    assert!(
        set.notes
            .iter()
            .any(|n| n.starts_with("Page 3 of daily cost buckets failed (provider_error)")),
        "{:?}",
        set.notes
    );
}

/// Issue 14: the previous full calendar month's cost is reported, labelled, from the
/// injected clock's month.
#[tokio::test]
async fn previous_month_cost_is_reported_and_labelled() {
    use chrono::TimeZone;
    let server = MockServer::start().await;
    let now = chrono::Utc
        .with_ymd_and_hms(2026, 3, 1, 6, 0, 0)
        .single()
        .unwrap_or_default();
    models_mock(MODELS).mount(&server).await;
    Mock::given(path("/organization/costs"))
        .and(query_param("start_time", "1769904000")) // 2026-02-01T00:00:00Z
        .and(query_param("end_time", "1772323200")) // 2026-03-01T00:00:00Z
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "object": "page", "has_more": false, "next_page": null,
            "data": [{"object": "bucket", "start_time": 1_769_904_000, "end_time": 1_769_990_400,
                "results": [{"object": "organization.costs.result",
                    "amount": {"value": 41.5, "currency": "usd"}, "line_item": "gpt", "project_id": "p"}]}]
        })))
        .with_priority(1)
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(path("/organization/costs"))
        .respond_with(body(COSTS_EMPTY))
        .mount(&server)
        .await;
    Mock::given(path("/organization/usage/completions"))
        .respond_with(body(USAGE_EMPTY))
        .mount(&server)
        .await;
    let mut config = json!({"api_key": API_KEY, "base_url": server.uri()});
    if let (Value::Object(c), Value::Object(a)) = (&mut config, admin()) {
        c.extend(a);
    }
    let svc = opsdeck_testkit::service_at("openai", config, opsdeck_core::ManualClock::new(now));
    let set = svc
        .collect_metrics()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(set.problems.is_empty(), "{:?}", set.problems);
    assert_eq!(
        metric(
            &set,
            "openai_cost_previous_month_total",
            &[
                ("currency", "usd"),
                ("period", "previous_month"),
                ("month", "2026-02")
            ]
        ),
        Some(41.5)
    );
}
