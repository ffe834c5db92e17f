//! Integration tests for the Azure OpenAI provider: the shared conformance suite with Azure's
//! error shape, the exact requests (`api-key` header, `api-version` query, paths), a wrong key
//! (401), a missing deployment (404 `DeploymentNotFound`), throttling (429 with `Retry-After`),
//! an API version whose data plane no longer describes deployments, metrics, and usage/cost
//! declared unavailable. Everything runs against local wiremock servers.

use std::sync::Arc;

use chrono::{TimeZone, Utc};
use opsdeck_core::clock::ManualClock;
use opsdeck_core::{BaseService, FailureKind, ServiceFactory, Status};
use opsdeck_provider_azure_openai::testing::{self, API_KEY, DEPLOYMENT};
use opsdeck_provider_azure_openai::{AzureOpenAiConfig, AzureOpenAiService, USAGE_UNAVAILABLE};
use opsdeck_testkit::wiremock::matchers::{method, path};
use opsdeck_testkit::wiremock::{Mock, MockServer, ResponseTemplate};
use opsdeck_testkit::{Conformance, FAST_RETRIES, MountFuture, assert_no_secrets};
use serde_json::{Value, json};

fn azure_error(status: u16) -> ResponseTemplate {
    ResponseTemplate::new(status).set_body_json(json!({
        "error": { "code": status.to_string(), "message": format!("mock {status}") }
    }))
}

fn mount_probe(server: &MockServer) -> MountFuture<'_> {
    Box::pin(testing::mount_probe(server))
}

fn config(server: &MockServer, extra: Value) -> Value {
    let mut c = json!({ "endpoint": server.uri(), "api_key": API_KEY });
    if let (Some(c), Value::Object(extra)) = (c.as_object_mut(), extra) {
        c.extend(extra);
    }
    c
}

fn service(server: &MockServer, extra: Value) -> Arc<dyn BaseService> {
    opsdeck_testkit::service("azure_openai", config(server, extra))
}

#[tokio::test]
async fn conformance() {
    Conformance::new(
        "azure_openai",
        |base| json!({ "endpoint": base, "api_key": API_KEY }),
    )
    .secret(API_KEY)
    .success(mount_probe)
    .metrics(mount_probe)
    .error_body(azure_error)
    .run()
    .await;
}

#[test]
fn registered_with_a_secret_key_an_endpoint_and_a_default_api_version() {
    let factory = ServiceFactory::from_registry().unwrap_or_else(|e| panic!("{e}"));
    let d = factory
        .descriptor("azure_openai")
        .unwrap_or_else(|| panic!("not registered"));
    assert_eq!(d.name, "Azure OpenAI");
    let schema = d.json_schema();
    assert_eq!(schema["required"], json!(["endpoint", "api_key"]));
    assert_eq!(schema["properties"]["api_key"]["writeOnly"], json!(true));
    assert_eq!(
        schema["properties"]["api_version"]["default"],
        json!("2024-10-21")
    );
    assert!(schema["properties"]["deployment"].is_object());
}

#[tokio::test]
async fn a_resource_with_a_deployment_tests_connected_with_the_exact_requests() {
    let server = MockServer::start().await;
    testing::mount_all(&server).await;
    let r = service(&server, json!({ "deployment": DEPLOYMENT }))
        .test_connection()
        .await;
    assert_eq!(r.status, Status::Connected, "{r:?}");
    assert_eq!(r.identity.as_deref(), Some("127.0.0.1"));
    for part in [
        "4 models available, 3 for inference",
        "Deployment gpt-4o-prod serves gpt-4o-2024-11-20 (status succeeded)",
        "Azure Cost Management",
    ] {
        assert!(r.message.contains(part), "{part:?} missing: {}", r.message);
    }
    assert_eq!(
        r.details.extra.get("deployment_status"),
        Some(&json!("succeeded"))
    );
    let shown = serde_json::to_string(&r).unwrap_or_default();
    assert_no_secrets("report", &shown, &[API_KEY]);
    // Exactly two requests, both as specified (the mocks match nothing else).
    let got = server.received_requests().await.unwrap_or_default();
    let paths: Vec<&str> = got.iter().map(|r| r.url.path()).collect();
    assert_eq!(paths, ["/openai/models", "/openai/deployments/gpt-4o-prod"]);
}

#[tokio::test]
async fn the_api_version_is_sent_as_configured() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/openai/models"))
        .and(opsdeck_testkit::wiremock::matchers::header(
            "api-key", API_KEY,
        ))
        .and(opsdeck_testkit::wiremock::matchers::query_param(
            "api-version",
            "2025-04-01-preview",
        ))
        .respond_with(ResponseTemplate::new(200).set_body_raw(testing::MODELS, "application/json"))
        .expect(1)
        .mount(&server)
        .await;
    let r = service(&server, json!({ "api_version": "2025-04-01-preview" }))
        .test_connection()
        .await;
    assert_eq!(r.status, Status::Connected, "{r:?}");
}

#[tokio::test]
async fn a_wrong_key_is_invalid_credentials_with_a_hint() {
    let server = MockServer::start().await;
    testing::mount_unauthorized(&server).await;
    let r = service(&server, json!({})).test_connection().await;
    assert_eq!(
        (r.status, r.failure),
        (Status::Failed, Some(FailureKind::InvalidCredentials)),
        "{r:?}"
    );
    assert!(r.message.contains("Access denied"), "{}", r.message);
    assert!(
        r.hint
            .as_deref()
            .is_some_and(|h| h.contains("KEY 1 or KEY 2")),
        "{r:?}"
    );
}

#[tokio::test]
async fn a_missing_deployment_is_not_found_naming_the_field() {
    let server = MockServer::start().await;
    testing::mount_probe(&server).await;
    testing::get("/openai/deployments/gpt-5-typo")
        .respond_with(
            ResponseTemplate::new(404)
                .set_body_raw(testing::ERROR_404_DEPLOYMENT, "application/json"),
        )
        .mount(&server)
        .await;
    let r = service(&server, json!({ "deployment": "gpt-5-typo" }))
        .test_connection()
        .await;
    assert_eq!(
        (r.status, r.failure),
        (Status::Failed, Some(FailureKind::NotFound)),
        "{r:?}"
    );
    assert!(r.message.contains("no such deployment"), "{}", r.message);
    assert!(
        r.hint
            .as_deref()
            .is_some_and(|h| h.contains("`deployment`")),
        "{r:?}"
    );
}

#[tokio::test]
async fn a_deployment_the_api_version_cannot_describe_is_left_unverified() {
    let server = MockServer::start().await;
    testing::mount_probe(&server).await;
    testing::get(&format!("/openai/deployments/{DEPLOYMENT}"))
        .respond_with(ResponseTemplate::new(404).set_body_raw(
            include_str!("fixtures/error_404_resource.json"),
            "application/json",
        ))
        .mount(&server)
        .await;
    let svc = service(&server, json!({ "deployment": DEPLOYMENT }));
    let r = svc.test_connection().await;
    assert_eq!(r.status, Status::Connected, "{r:?}");
    assert!(r.message.contains("was not confirmed"), "{}", r.message);
    assert_eq!(
        r.details.extra.get("deployment_status"),
        Some(&json!("unverified"))
    );
    let set = svc
        .collect_metrics()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(
        set.notes
            .iter()
            .any(|n| n.contains("could not be confirmed")),
        "{set:?}"
    );
}

#[tokio::test]
async fn throttling_is_rate_limited_with_azures_wait() {
    let server = MockServer::start().await;
    testing::get("/openai/models")
        .respond_with(
            ResponseTemplate::new(429)
                .set_body_raw(include_str!("fixtures/error_429.json"), "application/json")
                .insert_header("retry-after", "7")
                .insert_header("retry-after-ms", "7000"),
        )
        .mount(&server)
        .await;
    // A short retry budget: the 7 s wait exceeds it, so the check reports the wait instead of sleeping.
    let settings = FAST_RETRIES;
    let svc = opsdeck_testkit::try_service("azure_openai", config(&server, json!({})), &settings)
        .unwrap_or_else(|e| panic!("{e}"));
    let r = svc.test_connection().await;
    assert_eq!(
        (r.status, r.failure),
        (Status::Unknown, Some(FailureKind::RateLimited)),
        "{r:?}"
    );
    assert_eq!(r.details.retry_after_secs, Some(7), "{r:?}");
}

#[tokio::test]
async fn metrics_count_models_and_the_deployment_and_say_where_usage_is() {
    let server = MockServer::start().await;
    testing::mount_all(&server).await;
    let config = AzureOpenAiConfig::builder()
        .endpoint(server.uri())
        .api_key(API_KEY)
        .deployment(DEPLOYMENT)
        .build()
        .unwrap_or_else(|e| panic!("{e}"));
    // 2026-09-01: gpt-4o-2024-11-20 retires on 2026-10-01 (1790812800), inside 30 days.
    let clock = ManualClock::new(
        Utc.with_ymd_and_hms(2026, 9, 1, 0, 0, 0)
            .single()
            .unwrap_or_else(|| panic!("date")),
    );
    let svc = AzureOpenAiService::with_clock(config, &FAST_RETRIES, clock)
        .unwrap_or_else(|e| panic!("{e}"));
    let set = svc
        .collect_metrics()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let value = |name: &str| set.metrics.iter().find(|m| m.name == name).map(|m| m.value);
    assert_eq!(value("azure_openai_models_available"), Some(4.0));
    assert_eq!(value("azure_openai_models_inference"), Some(3.0));
    assert_eq!(value("azure_openai_models_retiring_30d"), Some(1.0));
    let up = set
        .metrics
        .iter()
        .find(|m| m.name == "azure_openai_deployment_up")
        .unwrap_or_else(|| panic!("no deployment metric: {set:?}"));
    assert_eq!(up.value, 1.0);
    assert_eq!(
        up.labels.get("model").map(String::as_str),
        Some("gpt-4o-2024-11-20")
    );
    assert!(set.notes.iter().any(|n| n == USAGE_UNAVAILABLE), "{set:?}");
    let ai = svc.as_ai().unwrap_or_else(|| panic!("an AI service"));
    assert!(ai.usage_source().is_err());
    assert!(ai.cost_source().is_err());
    assert_eq!(ai.models().await.map(|m| m.len()).ok(), Some(4));
}

#[test]
fn config_problems_are_reported_together() {
    let err = AzureOpenAiConfig::builder()
        .endpoint("https://r.openai.azure.com")
        .api_key(API_KEY)
        .api_version("latest")
        .deployment("not a name")
        .build()
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
    assert!(err.contains("api_version"), "{err}");
    assert!(err.contains("deployment"), "{err}");
}
