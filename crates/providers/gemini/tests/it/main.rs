//! Integration tests for the Gemini provider: the shared conformance suite with Google's error
//! shape, the exact request, pagination, an empty list, each Google-specific error mapping
//! (400 API_KEY_INVALID, 400 FAILED_PRECONDITION, 403 PERMISSION_DENIED, 429 with RetryInfo),
//! and usage/cost declared unavailable. Everything runs against local wiremock servers.

use std::sync::Arc;

use opsdeck_core::{BaseService, FailureKind, MetricSet, ServiceFactory, Status};
use opsdeck_testkit::wiremock::matchers::{
    header, method, path, query_param, query_param_is_missing,
};
use opsdeck_testkit::wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};
use opsdeck_testkit::{Conformance, MountFuture, Scenario};
use serde_json::json;

use opsdeck_provider_gemini::testing::API_KEY;

const MODELS_1: &str = include_str!("fixtures/models_page1.json");
const MODELS_2: &str = include_str!("fixtures/models_page2.json");
const MODELS_EMPTY: &str = include_str!("fixtures/models_empty.json");
const BAD_KEY: &str = include_str!("fixtures/error_400_api_key_invalid.json");
const PRECONDITION: &str = include_str!("fixtures/error_400_failed_precondition.json");
const DISABLED: &str = include_str!("fixtures/error_403_permission_denied.json");
const EXHAUSTED: &str = include_str!("fixtures/error_429_resource_exhausted.json");
const UNAVAILABLE: &str = include_str!("fixtures/error_503.json");

fn json_body(status: u16, body: &str) -> ResponseTemplate {
    ResponseTemplate::new(status).set_body_raw(body.to_owned(), "application/json")
}

/// Google's error shape for a status (google.rpc.Status).
fn google_error(status: u16) -> ResponseTemplate {
    let code = match status {
        400 => "INVALID_ARGUMENT",
        401 => "UNAUTHENTICATED",
        403 => "PERMISSION_DENIED",
        404 => "NOT_FOUND",
        429 => "RESOURCE_EXHAUSTED",
        503 => "UNAVAILABLE",
        _ => "INTERNAL",
    };
    ResponseTemplate::new(status).set_body_json(json!({
        "error": {"code": status, "message": format!("mock {code}"), "status": code}
    }))
}

fn gemini_models() -> opsdeck_testkit::wiremock::MockBuilder {
    Mock::given(method("GET"))
        .and(path("/v1beta/models"))
        .and(header("x-goog-api-key", API_KEY))
        .and(header("user-agent", opsdeck_core::http::USER_AGENT))
        // The key travels only in the header, never in the URL.
        .and(query_param_is_missing("key"))
}

fn mount_probe(server: &MockServer) -> MountFuture<'_> {
    Box::pin(async move {
        gemini_models()
            .and(query_param("pageSize", "1"))
            .and(query_param_is_missing("pageToken"))
            .respond_with(json_body(200, MODELS_1))
            .expect(1..)
            .mount(server)
            .await;
    })
}

async fn mount_all_pages(server: &MockServer) {
    gemini_models()
        .and(query_param("pageSize", "1000"))
        .and(query_param_is_missing("pageToken"))
        .respond_with(json_body(200, MODELS_1))
        .expect(1)
        .mount(server)
        .await;
    gemini_models()
        .and(query_param("pageSize", "1000"))
        .and(query_param(
            "pageToken",
            "Ch5tb2RlbHMvZ2VtaW5pLTIuNS1mbGFzaC1saXRl",
        ))
        .respond_with(json_body(200, MODELS_2))
        .expect(1)
        .mount(server)
        .await;
}

fn mount_metrics(server: &MockServer) -> MountFuture<'_> {
    Box::pin(mount_all_pages(server))
}

#[tokio::test]
async fn conformance() {
    Conformance::new(
        "gemini",
        |base| json!({"api_key": API_KEY, "base_url": base}),
    )
    .secret(API_KEY)
    .success(mount_probe)
    .metrics(mount_metrics)
    .error_body(google_error)
    .run()
    .await;
}

#[tokio::test]
async fn conformance_with_a_bad_key_answered_as_google_does() {
    // Google answers a bad key with 400 API_KEY_INVALID; make the suite's "401" scenario send
    // exactly that, so the mapping to invalid_credentials is checked under the full suite.
    fn bad_key_body(status: u16) -> ResponseTemplate {
        if status == 401 {
            json_body(400, BAD_KEY)
        } else {
            google_error(status)
        }
    }
    Conformance::new(
        "gemini",
        |base| json!({"api_key": API_KEY, "base_url": base}),
    )
    .secret(API_KEY)
    .success(mount_probe)
    .error_body(bad_key_body)
    .expect(Scenario::Unauthorized, FailureKind::InvalidCredentials)
    .run()
    .await;
}

#[test]
fn registered_with_schema() {
    let factory = ServiceFactory::from_registry().unwrap_or_else(|e| panic!("{e}"));
    let d = factory
        .descriptor("gemini")
        .unwrap_or_else(|| panic!("gemini is not registered"));
    assert_eq!(d.category, opsdeck_core::Category::Ai);
    let schema = d.json_schema();
    assert_eq!(schema["required"], json!(["api_key"]));
    assert_eq!(
        schema["properties"]["base_url"]["default"],
        "https://generativelanguage.googleapis.com"
    );
    assert_eq!(d.secret_fields().collect::<Vec<_>>(), ["api_key"]);
}

async fn service(server: &MockServer) -> Arc<dyn BaseService> {
    opsdeck_testkit::service(
        "gemini",
        json!({"api_key": API_KEY, "base_url": server.uri()}),
    )
}

fn value(set: &MetricSet, name: &str, model: Option<&str>) -> Option<f64> {
    set.metrics
        .iter()
        .find(|m| {
            m.name == name
                && model.is_none_or(|v| m.labels.get("model").map(String::as_str) == Some(v))
        })
        .map(|m| m.value)
}

async fn report_for(status: u16, body: &str) -> opsdeck_core::ConnectionReport {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/v1beta/models"))
        .respond_with(json_body(status, body))
        .mount(&server)
        .await;
    service(&server).await.test_connection().await
}

#[tokio::test]
async fn probe_sends_the_key_in_the_header_and_connects() {
    let server = MockServer::start().await;
    mount_probe(&server).await;
    let report = service(&server).await.test_connection().await;
    assert_eq!(report.status, Status::Connected, "{}", report.message);
    assert_eq!(report.identity.as_deref(), Some("Gemini API key"));
    assert!(
        report.message.contains("gemini-2.5-flash"),
        "{}",
        report.message
    );
}

#[tokio::test]
async fn bad_key_400_is_invalid_credentials() {
    let report = report_for(400, BAD_KEY).await;
    assert_eq!(report.status, Status::Failed);
    assert_eq!(report.failure, Some(FailureKind::InvalidCredentials));
    assert!(
        report.message.contains("API key not valid"),
        "{}",
        report.message
    );
    assert!(
        report
            .hint
            .as_deref()
            .is_some_and(|h| h.contains("AI Studio")),
        "{report:?}"
    );
    assert_eq!(report.details.http_status, Some(400));
}

#[tokio::test]
async fn other_400s_are_not_mistaken_for_a_bad_key() {
    let report = report_for(
        400,
        r#"{"error":{"code":400,"message":"Invalid page size","status":"INVALID_ARGUMENT"}}"#,
    )
    .await;
    assert_eq!(report.failure, Some(FailureKind::Rejected));
}

#[tokio::test]
async fn failed_precondition_is_permission_denied_with_billing_hint() {
    let report = report_for(400, PRECONDITION).await;
    assert_eq!(report.failure, Some(FailureKind::PermissionDenied));
    assert!(
        report
            .hint
            .as_deref()
            .is_some_and(|h| h.contains("enable billing")),
        "{report:?}"
    );
}

#[tokio::test]
async fn permission_denied_names_the_disabled_api() {
    let report = report_for(403, DISABLED).await;
    assert_eq!(report.failure, Some(FailureKind::PermissionDenied));
    assert!(
        report
            .hint
            .as_deref()
            .is_some_and(|h| h.contains("Generative Language API is disabled")),
        "{report:?}"
    );
}

#[tokio::test]
async fn resource_exhausted_reads_retry_info_and_quota() {
    // RetryInfo says 30s, longer than the client may wait (1 s without a deadline in tests):
    // reported, not slept.
    let report = report_for(429, EXHAUSTED).await;
    assert_eq!(report.failure, Some(FailureKind::RateLimited));
    assert_eq!(report.details.retry_after_secs, Some(30));
    assert!(
        report
            .message
            .contains("GenerateRequestsPerMinutePerProjectPerModel-FreeTier"),
        "{}",
        report.message
    );
}

#[tokio::test]
async fn short_retry_info_is_honoured_and_retried() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/v1beta/models"))
        .respond_with(json_body(
            429,
            r#"{"error":{"code":429,"message":"quota","status":"RESOURCE_EXHAUSTED","details":[{"@type":"type.googleapis.com/google.rpc.RetryInfo","retryDelay":"0.050s"}]}}"#,
        ))
        .up_to_n_times(1)
        .mount(&server)
        .await;
    mount_probe(&server).await;
    let report = service(&server).await.test_connection().await;
    assert_eq!(report.status, Status::Connected, "{}", report.message);
}

#[tokio::test]
async fn unavailable_503_is_a_provider_error() {
    let report = report_for(503, UNAVAILABLE).await;
    assert_eq!(report.failure, Some(FailureKind::ProviderError));
    assert!(report.message.contains("UNAVAILABLE"), "{}", report.message);
}

#[tokio::test]
async fn metrics_follow_every_page() {
    let server = MockServer::start().await;
    mount_all_pages(&server).await;
    let set = service(&server)
        .await
        .collect_metrics()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(value(&set, "gemini_models_available", None), Some(3.0));
    assert_eq!(
        value(
            &set,
            "gemini_model_input_token_limit",
            Some("gemini-2.5-flash")
        ),
        Some(1_048_576.0)
    );
    assert_eq!(
        value(
            &set,
            "gemini_model_output_token_limit",
            Some("gemini-2.5-flash")
        ),
        Some(65_536.0)
    );
    assert_eq!(
        value(
            &set,
            "gemini_model_input_token_limit",
            Some("gemini-2.5-pro")
        ),
        Some(1_048_576.0)
    );
    assert_eq!(
        value(
            &set,
            "gemini_model_output_token_limit",
            Some("text-embedding-004")
        ),
        Some(1.0)
    );
    assert!(
        set.notes
            .iter()
            .any(|n| n.contains("no usage or billing endpoint"))
    );
}

#[tokio::test]
async fn an_empty_list_is_zero_models() {
    let server = MockServer::start().await;
    gemini_models()
        .respond_with(json_body(200, MODELS_EMPTY))
        .mount(&server)
        .await;
    let svc = service(&server).await;
    let set = svc
        .collect_metrics()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(value(&set, "gemini_models_available", None), Some(0.0));
    assert_eq!(set.metrics.len(), 1);
    let report = svc.test_connection().await;
    assert_eq!(report.status, Status::Connected, "{}", report.message);
}

#[tokio::test]
async fn models_verb_and_unavailable_usage() {
    let server = MockServer::start().await;
    mount_all_pages(&server).await;
    let svc = service(&server).await;
    let models = svc
        .as_ai()
        .unwrap_or_else(|| panic!("AI verb missing"))
        .models()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let ids: Vec<_> = models.iter().map(|m| m.id.as_str()).collect();
    assert_eq!(
        ids,
        ["gemini-2.5-flash", "text-embedding-004", "gemini-2.5-pro"]
    );
    assert_eq!(models[0].display_name.as_deref(), Some("Gemini 2.5 Flash"));
    assert_eq!(models[0].output_token_limit, Some(65_536));

    for cap in svc.capabilities() {
        if cap.name == "cost" || cap.name == "ai_usage" {
            assert!(!cap.available);
            let reason = cap.reason.unwrap_or_default();
            assert!(reason.contains("Cloud Monitoring"), "{reason}");
            assert!(reason.contains("BigQuery"), "{reason}");
        }
    }
    assert!(svc.cost_source().is_err());
    assert!(svc.ai_usage_source().is_err());
}

#[tokio::test]
async fn a_repeated_page_token_stops_with_what_was_read() {
    let server = MockServer::start().await;
    gemini_models()
        .respond_with(json_body(
            200,
            r#"{"models":[{"name":"models/m"}],"nextPageToken":"same"}"#,
        ))
        .expect(2)
        .mount(&server)
        .await;
    let set = service(&server)
        .await
        .collect_metrics()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(value(&set, "gemini_models_available", None), Some(2.0));
    assert!(
        set.notes
            .iter()
            .any(|n| n.contains("a page cursor it had already sent")),
        "{:?}",
        set.notes
    );
}

/// Endless model pages, one model each; with `fail_after`, pages after that many answer 500.
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
            return google_error(500);
        }
        ResponseTemplate::new(200).set_body_json(json!({
            "models": [{"name": format!("models/m{n}")}],
            "nextPageToken": format!("t{n}")
        }))
    }
}

#[tokio::test]
async fn more_pages_than_the_cap_give_a_lower_bound_with_a_note() {
    let server = MockServer::start().await;
    gemini_models()
        .respond_with(EndlessModels::default())
        .expect(50)
        .mount(&server)
        .await;
    let set = service(&server)
        .await
        .collect_metrics()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(value(&set, "gemini_models_available", None), Some(50.0));
    assert!(
        set.notes.iter().any(|n| n
            == "Stopped after 50 pages; figures cover 50 of more models. gemini_models_available is a lower bound."),
        "{:?}",
        set.notes
    );
}

#[tokio::test]
async fn a_failing_later_page_keeps_the_first_pages() {
    let server = MockServer::start().await;
    gemini_models()
        .respond_with(EndlessModels {
            fail_after: Some(1),
            ..EndlessModels::default()
        })
        .mount(&server)
        .await;
    let set = service(&server)
        .await
        .collect_metrics()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(value(&set, "gemini_models_available", None), Some(1.0));
    assert!(
        set.notes
            .iter()
            .any(|n| n.starts_with("Page 2 of models failed (provider_error)")),
        "{:?}",
        set.notes
    );
}
