//! Integration tests for the Claude provider: the shared conformance suite (with and without an
//! Admin key), exact requests, pagination, empty reports, exact cost arithmetic, the vendor's
//! error mapping and the AI category verbs. Everything runs against local wiremock servers.

use std::sync::Arc;

use chrono::{Datelike, TimeZone, Utc};
use opsdeck_core::domain::TimeWindow;
use opsdeck_core::rust_decimal::Decimal;
use opsdeck_core::{BaseService, FailureKind, ServiceFactory, Status};
use opsdeck_testkit::wiremock::matchers::{
    header, method, path, query_param, query_param_is_missing,
};
use opsdeck_testkit::wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};
use opsdeck_testkit::{Conformance, MountFuture};
use serde_json::json;

use opsdeck_provider_claude::testing::{ADMIN_KEY, API_KEY};

const MODELS_1: &str = include_str!("fixtures/models_page1.json");
const MODELS_2: &str = include_str!("fixtures/models_page2.json");
const MODELS_EMPTY: &str = include_str!("fixtures/models_empty.json");
const ORG: &str = include_str!("fixtures/organization_me.json");
const USAGE_1: &str = include_str!("fixtures/usage_report_page1.json");
const USAGE_2: &str = include_str!("fixtures/usage_report_page2.json");
const USAGE_EMPTY: &str = include_str!("fixtures/usage_report_empty.json");
const COST_1: &str = include_str!("fixtures/cost_report_page1.json");
const COST_2: &str = include_str!("fixtures/cost_report_page2.json");
const COST_EMPTY: &str = include_str!("fixtures/cost_report_empty.json");

fn json_body(body: &str) -> ResponseTemplate {
    ResponseTemplate::new(200).set_body_raw(body.to_owned(), "application/json")
}

/// Anthropic's documented error shape for a status.
fn anthropic_error(status: u16) -> ResponseTemplate {
    let kind = match status {
        400 => "invalid_request_error",
        401 => "authentication_error",
        402 => "billing_error",
        403 => "permission_error",
        404 => "not_found_error",
        429 => "rate_limit_error",
        529 => "overloaded_error",
        _ => "api_error",
    };
    ResponseTemplate::new(status).set_body_json(json!({
        "type": "error",
        "error": {"type": kind, "message": format!("mock {kind}")},
        "request_id": "req_011CSHoEeqs5C35K2UUqR7Fy"
    }))
}

/// A mock that only matches Anthropic's required headers for `key`.
fn anthropic(m: &str, p: &str, key: &str) -> opsdeck_testkit::wiremock::MockBuilder {
    Mock::given(method(m))
        .and(path(p.to_owned()))
        .and(header("x-api-key", key))
        .and(header("anthropic-version", "2023-06-01"))
        .and(header("user-agent", opsdeck_core::http::USER_AGENT))
}

async fn mount_models_probe(server: &MockServer) {
    anthropic("GET", "/v1/models", API_KEY)
        .and(query_param("limit", "1"))
        .and(query_param_is_missing("after_id"))
        .respond_with(json_body(MODELS_1))
        .mount(server)
        .await;
}

async fn mount_org(server: &MockServer) {
    anthropic("GET", "/v1/organizations/me", ADMIN_KEY)
        .respond_with(json_body(ORG))
        .expect(1..)
        .mount(server)
        .await;
}

async fn mount_models_all(server: &MockServer) {
    anthropic("GET", "/v1/models", API_KEY)
        .and(query_param("limit", "1000"))
        .and(query_param_is_missing("after_id"))
        .respond_with(json_body(MODELS_1))
        .expect(1)
        .mount(server)
        .await;
    anthropic("GET", "/v1/models", API_KEY)
        .and(query_param("limit", "1000"))
        .and(query_param("after_id", "claude-sonnet-4-20250514"))
        .respond_with(json_body(MODELS_2))
        .expect(1)
        .mount(server)
        .await;
}

/// The report window opsdeck asks for: month start to the next UTC midnight.
fn expected_bounds() -> (String, String) {
    let now = Utc::now();
    let start = Utc
        .with_ymd_and_hms(now.year(), now.month(), 1, 0, 0, 0)
        .single()
        .unwrap_or(now);
    let today = Utc
        .with_ymd_and_hms(now.year(), now.month(), now.day(), 0, 0, 0)
        .single()
        .unwrap_or(now);
    let end = today + chrono::Duration::days(1);
    let fmt = |t: chrono::DateTime<Utc>| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    (fmt(start), fmt(end))
}

async fn mount_report(
    server: &MockServer,
    p: &str,
    group_by: &str,
    bounds: &(String, String),
    pages: &[&str],
) {
    for (i, body) in pages.iter().enumerate() {
        let mut m = anthropic("GET", p, ADMIN_KEY)
            .and(query_param("starting_at", bounds.0.as_str()))
            .and(query_param("ending_at", bounds.1.as_str()))
            .and(query_param("bucket_width", "1d"))
            .and(query_param("group_by[]", group_by))
            .and(query_param("limit", "31"));
        m = if i == 0 {
            m.and(query_param_is_missing("page"))
        } else {
            m.and(query_param("page", "page_MjAyNi0xMS0yNlQwMDowMDowMFo="))
        };
        m.respond_with(json_body(body))
            .expect(1)
            .mount(server)
            .await;
    }
}

async fn mount_full_metrics(server: &MockServer) {
    opsdeck_provider_claude::testing::mount_previous_month_cost(
        server,
        chrono::Utc::now(),
        COST_EMPTY,
    )
    .await;
    let bounds = expected_bounds();
    mount_models_all(server).await;
    mount_report(
        server,
        "/v1/organizations/usage_report/messages",
        "model",
        &bounds,
        &[USAGE_1, USAGE_2],
    )
    .await;
    mount_report(
        server,
        "/v1/organizations/cost_report",
        "description",
        &bounds,
        &[COST_1, COST_2],
    )
    .await;
}

fn success_with_admin(server: &MockServer) -> MountFuture<'_> {
    Box::pin(async move {
        mount_models_probe(server).await;
        mount_org(server).await;
    })
}

fn metrics_with_admin(server: &MockServer) -> MountFuture<'_> {
    Box::pin(mount_full_metrics(server))
}

fn success_api_only(server: &MockServer) -> MountFuture<'_> {
    Box::pin(mount_models_probe(server))
}

fn metrics_api_only(server: &MockServer) -> MountFuture<'_> {
    Box::pin(mount_models_all(server))
}

#[tokio::test]
async fn conformance_with_admin_key() {
    Conformance::new(
        "claude",
        |base| json!({"api_key": API_KEY, "admin_key": ADMIN_KEY, "base_url": base}),
    )
    .secret(API_KEY)
    .secret(ADMIN_KEY)
    .success(success_with_admin)
    .metrics(metrics_with_admin)
    .error_body(anthropic_error)
    .run()
    .await;
}

#[tokio::test]
async fn conformance_api_key_only() {
    Conformance::new(
        "claude",
        |base| json!({"api_key": API_KEY, "base_url": base}),
    )
    .secret(API_KEY)
    .success(success_api_only)
    .metrics(metrics_api_only)
    .error_body(anthropic_error)
    .run()
    .await;
}

#[test]
fn registered_with_schema() {
    let factory = ServiceFactory::from_registry().unwrap_or_else(|e| panic!("{e}"));
    let d = factory
        .descriptor("claude")
        .unwrap_or_else(|| panic!("claude is not registered"));
    assert_eq!(d.category, opsdeck_core::Category::Ai);
    let schema = d.json_schema();
    assert_eq!(schema["required"], json!(["api_key"]));
    assert_eq!(
        schema["properties"]["base_url"]["default"],
        "https://api.anthropic.com"
    );
    let secrets: Vec<_> = d.secret_fields().collect();
    assert_eq!(secrets, ["api_key", "admin_key"]);
}

async fn service(server: &MockServer, admin: bool) -> Arc<dyn BaseService> {
    let mut cfg = json!({"api_key": API_KEY, "base_url": server.uri()});
    if admin {
        cfg["admin_key"] = json!(ADMIN_KEY);
    }
    opsdeck_testkit::service("claude", cfg)
}

#[tokio::test]
async fn probe_with_admin_key_reports_the_organization() {
    let server = MockServer::start().await;
    anthropic("GET", "/v1/models", API_KEY)
        .and(query_param("limit", "1"))
        .respond_with(
            json_body(MODELS_1)
                .insert_header("anthropic-ratelimit-requests-limit", "4000")
                .insert_header("anthropic-ratelimit-requests-remaining", "3999")
                .insert_header("anthropic-ratelimit-requests-reset", "2026-11-27T18:00:00Z")
                .insert_header("request-id", "req_018EeWyXxfu5pfWkrYcMdjWG"),
        )
        .expect(1)
        .mount(&server)
        .await;
    mount_org(&server).await;
    let report = service(&server, true).await.test_connection().await;
    assert_eq!(report.status, Status::Connected, "{}", report.message);
    assert_eq!(report.identity.as_deref(), Some("Acme Research"));
    assert!(report.message.contains("usage and cost will be collected"));
    let check = &report.details.checks[0];
    assert_eq!(
        (check.name.as_str(), check.status),
        ("admin_api", Status::Connected)
    );
    let rl = report
        .details
        .rate_limit
        .unwrap_or_else(|| panic!("rate limit headers not read"));
    assert_eq!((rl.limit, rl.remaining), (Some(4000), Some(3999)));
    assert_eq!(
        rl.reset_at.map(|t| t.to_rfc3339()),
        Some("2026-11-27T18:00:00+00:00".to_owned())
    );
    assert_eq!(
        report.details.extra["organization_id"],
        "12345678-1234-5678-1234-567812345678"
    );
}

#[tokio::test]
async fn probe_without_admin_key_says_usage_needs_one() {
    let server = MockServer::start().await;
    anthropic("GET", "/v1/models", API_KEY)
        .and(query_param("limit", "1"))
        .respond_with(json_body(MODELS_1).insert_header("anthropic-organization-id", "org-42"))
        .mount(&server)
        .await;
    let svc = service(&server, false).await;
    let report = svc.test_connection().await;
    assert_eq!(report.status, Status::Connected, "{}", report.message);
    assert_eq!(report.identity.as_deref(), Some("organization org-42"));
    assert!(report.message.contains("No admin_key is set"));
    assert_eq!(report.details.checks[0].status, Status::Unknown);
    // Abilities are data: unavailable, with the reason.
    let caps = svc.capabilities();
    for name in ["cost", "ai_usage"] {
        let c = caps
            .iter()
            .find(|c| c.name == name)
            .unwrap_or_else(|| panic!("{name} missing"));
        assert!(!c.available);
        assert!(c.reason.as_deref().unwrap_or("").contains("Admin API key"));
    }
    assert!(svc.ai_usage_source().is_err());
}

#[tokio::test]
async fn broken_admin_key_is_a_failed_sub_check_not_a_failed_connection() {
    let server = MockServer::start().await;
    mount_models_probe(&server).await;
    anthropic("GET", "/v1/organizations/me", ADMIN_KEY)
        .respond_with(anthropic_error(401))
        .mount(&server)
        .await;
    let report = service(&server, true).await.test_connection().await;
    assert_eq!(report.status, Status::Connected, "{}", report.message);
    let check = &report.details.checks[0];
    assert_eq!(check.failure, Some(FailureKind::InvalidCredentials));
    assert!(
        check.message.contains("authentication_error"),
        "{}",
        check.message
    );
    assert!(
        check
            .hint
            .as_deref()
            .is_some_and(|h| h.contains("Admin API key")),
        "{check:?}"
    );
    assert!(report.message.contains("will not be collected"));
    assert!(!report.message.contains(ADMIN_KEY));
}

#[tokio::test]
async fn overloaded_529_is_a_provider_error_with_an_explanation() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/v1/models"))
        .respond_with(anthropic_error(529))
        .expect(3) // first attempt + 2 retries: 529 is temporary
        .mount(&server)
        .await;
    let report = service(&server, false).await.test_connection().await;
    assert_eq!(report.failure, Some(FailureKind::ProviderError));
    assert!(
        report.message.contains("overloaded_error"),
        "{}",
        report.message
    );
    assert!(
        report
            .hint
            .as_deref()
            .is_some_and(|h| h.contains("not a problem with the credentials")),
        "{report:?}"
    );
}

#[tokio::test]
async fn rate_limit_with_and_without_retry_after() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/v1/models"))
        .respond_with(anthropic_error(429).insert_header("retry-after", "45"))
        .mount(&server)
        .await;
    let report = service(&server, false).await.test_connection().await;
    assert_eq!(report.failure, Some(FailureKind::RateLimited));
    assert_eq!(report.details.retry_after_secs, Some(45));

    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/v1/models"))
        .respond_with(anthropic_error(429))
        .mount(&server)
        .await;
    let report = service(&server, false).await.test_connection().await;
    assert_eq!(report.failure, Some(FailureKind::RateLimited));
    assert!(
        report
            .hint
            .as_deref()
            .is_some_and(|h| h.contains("spend cap")),
        "{report:?}"
    );
}

#[tokio::test]
async fn admin_key_in_the_api_key_field_gets_a_hint() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/v1/models"))
        .respond_with(anthropic_error(401))
        .mount(&server)
        .await;
    let svc = opsdeck_testkit::service(
        "claude",
        json!({"api_key": ADMIN_KEY, "base_url": server.uri()}),
    );
    let report = svc.test_connection().await;
    assert_eq!(report.failure, Some(FailureKind::InvalidCredentials));
    assert!(
        report
            .hint
            .as_deref()
            .is_some_and(|h| h.contains("Put the Admin key in admin_key")),
        "{report:?}"
    );
    assert!(!report.message.contains(ADMIN_KEY));
}

#[tokio::test]
async fn spend_limit_400_is_permission_denied() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/v1/models"))
        .respond_with(
            ResponseTemplate::new(400)
                .set_body_raw(include_str!("fixtures/error_400.json"), "application/json"),
        )
        .mount(&server)
        .await;
    let report = service(&server, false).await.test_connection().await;
    assert_eq!(report.failure, Some(FailureKind::PermissionDenied));
    assert!(
        report.message.contains("credit balance"),
        "{}",
        report.message
    );
    assert!(
        report
            .hint
            .as_deref()
            .is_some_and(|h| h.contains("add credits")),
        "{report:?}"
    );
}

#[tokio::test]
async fn billing_error_402_is_permission_denied() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/v1/models"))
        .respond_with(anthropic_error(402))
        .mount(&server)
        .await;
    let report = service(&server, false).await.test_connection().await;
    assert_eq!(report.failure, Some(FailureKind::PermissionDenied));
    assert!(report.message.contains("billing"), "{}", report.message);
}

#[tokio::test]
async fn metrics_follow_every_page_and_sum_cost_exactly() {
    let server = MockServer::start().await;
    mount_full_metrics(&server).await;
    let set = service(&server, true)
        .await
        .collect_metrics()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(set.value("claude_models_available", &[]), Some(3.0));
    let sonnet = [("model", "claude-sonnet-4-20250514")];
    // Two daily buckets for Sonnet: 1500 + 100 uncached input, 500 + 50 output.
    assert_eq!(set.value("claude_input_tokens", &sonnet), Some(1600.0));
    assert_eq!(set.value("claude_output_tokens", &sonnet), Some(550.0));
    assert_eq!(
        set.value("claude_cache_read_input_tokens", &sonnet),
        Some(270.0)
    );
    assert_eq!(
        set.value(
            "claude_cache_creation_input_tokens",
            &[("model", "claude-sonnet-4-20250514"), ("ttl", "5m")]
        ),
        Some(530.0)
    );
    assert_eq!(
        set.value(
            "claude_cache_creation_input_tokens",
            &[("model", "claude-sonnet-4-20250514"), ("ttl", "1h")]
        ),
        Some(1000.0)
    );
    assert_eq!(set.value("claude_web_search_requests", &sonnet), Some(10.0));
    assert_eq!(
        set.value("claude_input_tokens", &[("model", "claude-opus-4-6")]),
        Some(42.0)
    );
    // Cost: 123.78912 + 0.2 cents of Sonnet tokens, 0.1 cent of web search.
    assert_eq!(
        set.value(
            "claude_cost",
            &[
                ("cost_type", "tokens"),
                ("model", "claude-sonnet-4-20250514")
            ]
        ),
        Some(1.2398912)
    );
    assert_eq!(
        set.value(
            "claude_cost",
            &[("cost_type", "web_search"), ("model", "none")]
        ),
        Some(0.001)
    );
    let total = set
        .metrics
        .iter()
        .find(|m| m.name == "claude_cost_total")
        .unwrap_or_else(|| panic!("no total"));
    assert_eq!(total.value, 1.2408912);
    assert_eq!(total.unit.as_str(), "usd");
    assert!(set.notes.iter().any(|n| n.contains("Priority Tier")));
}

#[tokio::test]
async fn empty_reports_give_zero_cost_and_no_models() {
    let server = MockServer::start().await;
    let bounds = expected_bounds();
    anthropic("GET", "/v1/models", API_KEY)
        .respond_with(json_body(MODELS_EMPTY))
        .mount(&server)
        .await;
    mount_report(
        &server,
        "/v1/organizations/usage_report/messages",
        "model",
        &bounds,
        &[USAGE_EMPTY],
    )
    .await;
    mount_report(
        &server,
        "/v1/organizations/cost_report",
        "description",
        &bounds,
        &[COST_EMPTY],
    )
    .await;
    let set = service(&server, true)
        .await
        .collect_metrics()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(set.value("claude_models_available", &[]), Some(0.0));
    assert!(set.metrics.iter().all(|m| m.name != "claude_input_tokens"));
    assert!(set.metrics.iter().all(|m| m.name != "claude_cost_total"));
}

#[tokio::test]
async fn metrics_without_admin_key_note_the_reason() {
    let server = MockServer::start().await;
    mount_models_all(&server).await;
    let set = service(&server, false)
        .await
        .collect_metrics()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(set.metrics.len(), 1);
    assert!(set.notes[0].contains("Admin API key"));
}

#[tokio::test]
async fn failing_usage_report_is_a_problem_and_models_still_count() {
    let server = MockServer::start().await;
    mount_models_all(&server).await;
    Mock::given(method("GET"))
        .and(path("/v1/organizations/usage_report/messages"))
        .respond_with(anthropic_error(403))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/v1/organizations/cost_report"))
        .respond_with(json_body(COST_EMPTY))
        .mount(&server)
        .await;
    let set = service(&server, true)
        .await
        .collect_metrics()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(set.value("claude_models_available", &[]), Some(3.0));
    assert_eq!(set.problems.len(), 1, "{:?}", set.problems);
    assert_eq!(set.problems[0].section, "usage_and_cost");
    assert_eq!(set.problems[0].failure, FailureKind::PermissionDenied);
}

#[tokio::test]
async fn malformed_amount_is_an_invalid_response() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/v1/organizations/cost_report"))
        .respond_with(json_body(
            r#"{"data":[{"starting_at":"2026-11-01T00:00:00Z","ending_at":"2026-11-02T00:00:00Z","results":[{"amount":"1,5","currency":"USD"}]}],"has_more":false,"next_page":null}"#,
        ))
        .mount(&server)
        .await;
    let svc = service(&server, true).await;
    let cost = svc.cost_source().unwrap_or_else(|u| panic!("{}", u.reason));
    let err = cost
        .cost(TimeWindow::last(chrono::Duration::days(2)))
        .await
        .err()
        .unwrap_or_else(|| panic!("a malformed amount must not be read as zero"));
    assert_eq!(err.kind(), FailureKind::InvalidResponse);
}

#[tokio::test]
async fn ai_verbs_answer_usage_cost_and_models() {
    let server = MockServer::start().await;
    let window = TimeWindow {
        start: Utc
            .with_ymd_and_hms(2026, 11, 25, 6, 0, 0)
            .single()
            .unwrap_or_else(Utc::now),
        end: Utc
            .with_ymd_and_hms(2026, 11, 27, 0, 0, 0)
            .single()
            .unwrap_or_else(Utc::now),
    };
    // Start floored to midnight; an end already on midnight stays.
    let bounds = (
        "2026-11-25T00:00:00Z".to_owned(),
        "2026-11-27T00:00:00Z".to_owned(),
    );
    mount_report(
        &server,
        "/v1/organizations/usage_report/messages",
        "model",
        &bounds,
        &[USAGE_1, USAGE_2],
    )
    .await;
    mount_report(
        &server,
        "/v1/organizations/cost_report",
        "description",
        &bounds,
        &[COST_1, COST_2],
    )
    .await;
    mount_models_all(&server).await;
    let svc = service(&server, true).await;
    let usage = svc
        .ai_usage_source()
        .unwrap_or_else(|u| panic!("{}", u.reason))
        .ai_usage(window)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let sonnet = usage
        .models
        .iter()
        .find(|m| m.model == "claude-sonnet-4-20250514")
        .unwrap_or_else(|| panic!("sonnet missing"));
    // Uncached input includes cache writes (1600 + 530 + 1000); cache reads are the cached input.
    assert_eq!(sonnet.input_tokens, 3130);
    assert_eq!(sonnet.cached_input_tokens, 270);
    assert_eq!(sonnet.output_tokens, 550);
    let cost = usage.cost.unwrap_or_else(|| panic!("cost missing"));
    assert_eq!(cost.total.len(), 1);
    assert_eq!(cost.total[0].amount, Decimal::new(12408912, 7));
    assert_eq!(cost.total[0].currency, "USD");
    assert!(!cost.estimated);
    assert!(
        cost.lines
            .iter()
            .any(|l| l.label == "Web Search" && l.amount.amount == Decimal::new(1, 3))
    );

    let models = svc
        .as_ai()
        .unwrap_or_else(|| panic!("AI verb missing"))
        .models()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(models.len(), 3);
    assert_eq!(models[0].id, "claude-opus-4-6");
    assert_eq!(models[0].input_token_limit, Some(200_000));
    assert_eq!(models[0].output_token_limit, Some(128_000));
    assert_eq!(models[2].display_name.as_deref(), Some("Claude Haiku 3.5"));
}

#[tokio::test]
async fn a_cursor_that_never_advances_stops_with_what_was_read() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/v1/models"))
        .respond_with(json_body(
            r#"{"data":[{"id":"m","type":"model"}],"has_more":true,"first_id":"m","last_id":"m"}"#,
        ))
        .expect(2)
        .mount(&server)
        .await;
    let set = service(&server, false)
        .await
        .collect_metrics()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(set.value("claude_models_available", &[]), Some(2.0));
    assert!(
        set.notes
            .iter()
            .any(|n| n.contains("a page cursor it had already sent")),
        "{:?}",
        set.notes
    );
}

/// An endless models listing: each page holds one new model and says `has_more`; with
/// `fail_after`, pages after that many answer 500.
#[derive(Default)]
struct EndlessModels {
    served: std::sync::atomic::AtomicU64,
    fail_after: Option<u64>,
}

impl Respond for EndlessModels {
    fn respond(&self, _: &Request) -> ResponseTemplate {
        let n = self
            .served
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        if self.fail_after.is_some_and(|f| n >= f) {
            return anthropic_error(500);
        }
        ResponseTemplate::new(200).set_body_json(json!({
            "data": [{"id": format!("m{n}"), "type": "model"}],
            "has_more": true, "first_id": format!("m{n}"), "last_id": format!("m{n}")
        }))
    }
}

#[tokio::test]
async fn more_model_pages_than_the_cap_give_a_lower_bound_with_a_note() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/v1/models"))
        .respond_with(EndlessModels::default())
        .expect(50)
        .mount(&server)
        .await;
    let set = service(&server, false)
        .await
        .collect_metrics()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(set.value("claude_models_available", &[]), Some(50.0));
    assert!(
        set.notes.iter().any(|n| n
            == "Stopped after 50 pages; figures cover 50 of more models. claude_models_available is a lower bound."),
        "{:?}",
        set.notes
    );
}

#[tokio::test]
async fn a_failing_later_page_keeps_the_first_pages() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/v1/models"))
        .respond_with(EndlessModels {
            fail_after: Some(2),
            ..EndlessModels::default()
        })
        .mount(&server)
        .await;
    let set = service(&server, false)
        .await
        .collect_metrics()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(set.value("claude_models_available", &[]), Some(2.0));
    assert!(
        set.notes
            .iter()
            .any(|n| n.starts_with("Page 3 of models failed (provider_error)")),
        "{:?}",
        set.notes
    );
}

/// Issue 14: the previous full month's cost is reported, labelled, and on the first day of a
/// month the note says month-to-date is 0 and names last month (injected clock).
#[tokio::test]
async fn previous_month_cost_and_the_first_day_note() {
    use chrono::TimeZone;
    let server = MockServer::start().await;
    let now = chrono::Utc
        .with_ymd_and_hms(2026, 12, 1, 8, 0, 0)
        .single()
        .unwrap_or_default();
    mount_models_all(&server).await;
    anthropic("GET", "/v1/organizations/cost_report", ADMIN_KEY)
        .and(query_param("starting_at", "2026-11-01T00:00:00Z"))
        .and(query_param("ending_at", "2026-12-01T00:00:00Z"))
        .respond_with(json_body(include_str!("fixtures/cost_report_page2.json")))
        .with_priority(1)
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/v1/organizations/cost_report"))
        .respond_with(json_body(COST_EMPTY))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/v1/organizations/usage_report/messages"))
        .respond_with(json_body(include_str!("fixtures/usage_report_empty.json")))
        .mount(&server)
        .await;
    let svc = opsdeck_testkit::service_at(
        "claude",
        json!({"api_key": API_KEY, "admin_key": ADMIN_KEY, "base_url": server.uri()}),
        opsdeck_core::ManualClock::new(now),
    );
    let set = svc
        .collect_metrics()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(set.problems.is_empty(), "{:?}", set.problems);
    assert_eq!(
        set.value(
            "claude_cost_previous_month_total",
            &[
                ("currency", "usd"),
                ("period", "previous_month"),
                ("month", "2026-11")
            ]
        ),
        Some(0.002)
    );
    assert!(
        set.notes
            .iter()
            .any(|n| n.contains("month-to-date is 0; last month: 0.00 USD (2026-11)")),
        "{:?}",
        set.notes
    );
}
