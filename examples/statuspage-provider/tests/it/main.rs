//! Integration tests for the example provider: the shared conformance suite, the exact request,
//! metrics parsed from a realistic summary, and discovery through the registry.

use opsdeck_core::{ServiceFactory, Status};
use opsdeck_testkit::wiremock::matchers::{header, method, path};
use opsdeck_testkit::wiremock::{Mock, MockServer, ResponseTemplate};
use opsdeck_testkit::{Conformance, MountFuture};
use serde_json::json;

// The crate must be linked for its registration to exist; naming it does that.
use opsdeck_example_statuspage as _;

const SUMMARY: &str = include_str!("summary.json");

fn mount_summary(server: &MockServer) -> MountFuture<'_> {
    Box::pin(async move {
        Mock::given(method("GET"))
            .and(path("/api/v2/summary.json"))
            .and(header("accept", "application/json"))
            .and(header("user-agent", opsdeck_core::http::USER_AGENT))
            .respond_with(ResponseTemplate::new(200).set_body_raw(SUMMARY, "application/json"))
            .expect(1..)
            .mount(server)
            .await;
    })
}

#[tokio::test]
async fn conformance() {
    Conformance::new("statuspage", |base| json!({ "base_url": base }))
        .success(mount_summary)
        .metrics(mount_summary)
        .run()
        .await;
}

#[test]
fn registered_in_the_factory() {
    let factory = ServiceFactory::from_registry().unwrap_or_else(|e| panic!("{e}"));
    let d = factory
        .descriptor("statuspage")
        .unwrap_or_else(|| panic!("not registered"));
    assert_eq!(d.name, "Statuspage");
    assert_eq!(d.json_schema()["properties"]["base_url"]["format"], "uri");
}

async fn service(server: &MockServer) -> std::sync::Arc<dyn opsdeck_core::BaseService> {
    let factory = ServiceFactory::from_registry().unwrap_or_else(|e| panic!("{e}"));
    let spec = opsdeck_core::config::spec_from_map(
        "gh-status",
        serde_json::from_value(json!({
            "provider": "statuspage",
            "base_url": server.uri(),
            "components": ["API Requests", "Actions"]
        }))
        .unwrap_or_default(),
        &|_| None,
    )
    .unwrap_or_else(|e| panic!("{e}"));
    factory.build(&spec).unwrap_or_else(|e| panic!("{e}"))
}

#[tokio::test]
async fn probe_reports_page_name_and_status() {
    let server = MockServer::start().await;
    mount_summary(&server).await;
    let report = service(&server).await.test_connection().await;
    assert_eq!(report.status, Status::Connected, "{}", report.message);
    assert_eq!(report.identity.as_deref(), Some("GitHub"));
    assert_eq!(report.message, "GitHub: Partially Degraded Service");
}

#[tokio::test]
async fn metrics_and_verb_follow_the_component_filter() {
    let server = MockServer::start().await;
    mount_summary(&server).await;
    let svc = service(&server).await;
    let set = svc
        .collect_metrics()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let get = |name: &str, label: Option<(&str, &str)>| {
        set.metrics
            .iter()
            .find(|m| {
                m.name == name
                    && label.is_none_or(|(k, v)| m.labels.get(k).map(String::as_str) == Some(v))
            })
            .map(|m| m.value)
    };
    assert_eq!(get("statuspage_indicator", None), Some(1.0));
    assert_eq!(
        get("statuspage_components", Some(("status", "operational"))),
        Some(1.0)
    );
    assert_eq!(
        get(
            "statuspage_components",
            Some(("status", "degraded_performance"))
        ),
        Some(1.0)
    );
    assert_eq!(get("statuspage_unresolved_incidents", None), Some(1.0));
    assert_eq!(get("statuspage_major_incidents", None), Some(0.0));

    let obs = svc
        .as_observability()
        .unwrap_or_else(|| panic!("observability verb missing"));
    let summary = obs
        .monitor_summary()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(summary.total, 2);
}
