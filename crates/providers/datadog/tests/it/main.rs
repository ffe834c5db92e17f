//! Integration tests for the Datadog provider: the conformance suite (403 on validate is a bad
//! key), exact requests (paths, query, DD-API-KEY / DD-APPLICATION-KEY headers), monitor facet
//! counts, estimated cost summed exactly, empty and partial results, the wrong-site hint and
//! Datadog's rate-limit headers.

use std::str::FromStr;
use std::sync::Arc;

use chrono::{Datelike, TimeZone, Utc};
use opsdeck_core::domain::TimeWindow;
use opsdeck_core::rust_decimal::Decimal;
use opsdeck_core::{BaseService, FailureKind, Status};
use opsdeck_testkit::wiremock::matchers::{header, method, path, query_param};
use opsdeck_testkit::wiremock::{Mock, MockServer, Request, ResponseTemplate};
use opsdeck_testkit::{Conformance, MountFuture, Scenario};
use serde_json::json;

use opsdeck_provider_datadog::testing::{API_KEY, APP_KEY};

fn fixture(name: &str) -> String {
    let p = format!("{}/tests/it/fixtures/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("{p}: {e}"))
}

fn ok(name: &str) -> ResponseTemplate {
    ResponseTemplate::new(200).set_body_raw(fixture(name), "application/json")
}

fn error(status: u16, name: &str) -> ResponseTemplate {
    ResponseTemplate::new(status).set_body_raw(fixture(name), "application/json")
}

fn without_app_key(req: &Request) -> bool {
    !req.headers.contains_key("dd-application-key")
}

fn month_start() -> String {
    let now = Utc::now();
    Utc.with_ymd_and_hms(now.year(), now.month(), 1, 0, 0, 0)
        .single()
        .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true))
        .unwrap_or_default()
}

async fn mount_validate(server: &MockServer, app_key: bool) {
    let m = Mock::given(method("GET"))
        .and(path("/api/v1/validate"))
        .and(header("dd-api-key", API_KEY))
        .and(header("accept", "application/json"));
    let m = if app_key {
        m.and(header("dd-application-key", APP_KEY))
    } else {
        m.and(without_app_key)
    };
    m.respond_with(ok("validate_ok.json")).mount(server).await;
}

async fn mount_validate_keys(server: &MockServer) {
    Mock::given(method("GET"))
        .and(path("/api/v2/validate_keys"))
        .and(header("dd-api-key", API_KEY))
        .and(header("dd-application-key", APP_KEY))
        .respond_with(ok("validate_keys_ok.json"))
        .mount(server)
        .await;
}

fn mount_success(server: &MockServer) -> MountFuture<'_> {
    Box::pin(async move {
        mount_validate(server, true).await;
        mount_validate_keys(server).await;
    })
}

async fn mount_monitors(server: &MockServer, response: ResponseTemplate) {
    Mock::given(method("GET"))
        .and(path("/api/v1/monitor/search"))
        .and(header("dd-api-key", API_KEY))
        .and(header("dd-application-key", APP_KEY))
        .and(query_param("page", "0"))
        .and(query_param("per_page", "1"))
        .respond_with(response)
        .expect(1)
        .mount(server)
        .await;
}

async fn mount_cost(server: &MockServer, response: ResponseTemplate) {
    Mock::given(method("GET"))
        .and(path("/api/v2/usage/estimated_cost"))
        .and(header("dd-api-key", API_KEY))
        .and(header("dd-application-key", APP_KEY))
        .and(query_param("view", "summary"))
        .and(query_param("start_month", month_start().as_str()))
        .and(|req: &Request| !req.url.query_pairs().any(|(k, _)| k == "end_month"))
        .respond_with(response)
        .expect(1)
        .mount(server)
        .await;
}

fn mount_metrics(server: &MockServer) -> MountFuture<'_> {
    Box::pin(async move {
        mount_monitors(server, ok("monitor_search.json")).await;
        mount_cost(server, ok("estimated_cost.json")).await;
    })
}

fn datadog_error(status: u16) -> ResponseTemplate {
    let body = match status {
        403 => json!({"errors": ["Forbidden"]}),
        401 => json!({"errors": ["Unauthorized"]}),
        404 => json!({"errors": ["Not found"]}),
        429 => {
            json!({"errors": ["Rate limit of 1000 requests in 3600 seconds reached. Please try again later."]})
        }
        _ => json!({"errors": ["Service Unavailable"]}),
    };
    ResponseTemplate::new(status).set_body_json(body)
}

#[tokio::test]
async fn conformance() {
    Conformance::new(
        "datadog",
        |base| json!({ "api_key": API_KEY, "app_key": APP_KEY, "base_url": base }),
    )
    .secret(API_KEY)
    .secret(APP_KEY)
    .success(mount_success)
    .metrics(mount_metrics)
    .error_body(datadog_error)
    // Datadog answers an invalid API key with 403 {"errors":["Forbidden"]} on /api/v1/validate.
    .expect(Scenario::Forbidden, FailureKind::InvalidCredentials)
    .run()
    .await;
}

fn service(server: &MockServer, app_key: bool) -> Arc<dyn BaseService> {
    let mut raw = json!({"api_key": API_KEY, "base_url": server.uri()});
    if app_key {
        raw["app_key"] = json!(APP_KEY);
    }
    opsdeck_testkit::service("datadog", raw)
}

#[tokio::test]
async fn probe_validates_both_keys() {
    let server = MockServer::start().await;
    mount_success(&server).await;
    let report = service(&server, true).test_connection().await;
    assert_eq!(report.status, Status::Connected, "{}", report.message);
    assert!(
        report
            .message
            .contains("API and application keys are valid"),
        "{}",
        report.message
    );
    assert_eq!(report.details.checks[0].name, "app_key");
    assert_eq!(report.details.checks[0].status, Status::Connected);
}

#[tokio::test]
async fn probe_without_app_key_checks_only_the_api_key() {
    let server = MockServer::start().await;
    mount_validate(&server, false).await;
    Mock::given(method("GET"))
        .and(path("/api/v2/validate_keys"))
        .respond_with(ResponseTemplate::new(500))
        .expect(0)
        .mount(&server)
        .await;
    let svc = service(&server, false);
    let report = svc.test_connection().await;
    assert_eq!(report.status, Status::Connected, "{}", report.message);
    assert!(report.message.contains("No app_key"), "{}", report.message);
    assert_eq!(report.details.checks[0].status, Status::Unknown);

    // Metrics and cost say what is missing instead of failing.
    let set = svc
        .collect_metrics()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(set.metrics.is_empty());
    assert!(set.notes[0].contains("Set app_key"), "{:?}", set.notes);
    let unavailable = svc.cost_source().err().map(|u| u.reason.into_owned());
    assert!(unavailable.is_some_and(|r| r.contains("app_key")));
}

#[tokio::test]
async fn invalid_api_key_names_the_site_and_the_others() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/api/v1/validate"))
        .respond_with(error(403, "validate_forbidden.json"))
        .expect(1) // a rejected key is never retried
        .mount(&server)
        .await;
    let report = service(&server, true).test_connection().await;
    assert_eq!(report.status, Status::Failed);
    assert_eq!(report.failure, Some(FailureKind::InvalidCredentials));
    assert!(
        report
            .message
            .contains("rejected the API key (HTTP 403: Forbidden)"),
        "{}",
        report.message
    );
    let hint = report.hint.clone().unwrap_or_default();
    assert!(hint.contains("127.0.0.1 (base_url)"), "{hint}");
    for site in [
        "datadoghq.eu",
        "us3.datadoghq.com",
        "us5.datadoghq.com",
        "ap1.datadoghq.com",
    ] {
        assert!(hint.contains(site), "{site}: {hint}");
    }
    assert!(!report.message.contains(API_KEY));
}

#[tokio::test]
async fn rejected_app_key_is_invalid_credentials() {
    let server = MockServer::start().await;
    mount_validate(&server, true).await;
    Mock::given(method("GET"))
        .and(path("/api/v2/validate_keys"))
        .respond_with(error(403, "forbidden.json"))
        .mount(&server)
        .await;
    let report = service(&server, true).test_connection().await;
    assert_eq!(report.failure, Some(FailureKind::InvalidCredentials));
    assert!(
        report.message.contains("rejected the application key"),
        "{}",
        report.message
    );
}

#[tokio::test]
async fn rate_limit_headers_give_the_wait_and_the_bucket() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/api/v1/validate"))
        .respond_with(
            error(429, "rate_limited.json")
                .insert_header("x-ratelimit-limit", "1000")
                .insert_header("x-ratelimit-period", "3600")
                .insert_header("x-ratelimit-remaining", "0")
                .insert_header("x-ratelimit-reset", "60")
                .insert_header("x-ratelimit-name", "validate"),
        )
        .mount(&server)
        .await;
    let report = service(&server, true).test_connection().await;
    assert_eq!(report.status, Status::Unknown);
    assert_eq!(report.failure, Some(FailureKind::RateLimited));
    assert_eq!(report.details.retry_after_secs, Some(60));
    let rl = report.details.rate_limit.clone().unwrap_or_default();
    assert_eq!(rl.limit, Some(1000));
    assert_eq!(rl.remaining, Some(0));
    assert_eq!(rl.resource.as_deref(), Some("validate"));
}

#[tokio::test]
async fn metrics_report_monitor_states_and_exact_cost() {
    let server = MockServer::start().await;
    mount_metrics(&server).await;
    let set = service(&server, true)
        .collect_metrics()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let state = |s| set.value("datadog_monitors", &[("state", s)]);
    assert_eq!(state("ok"), Some(38.0));
    assert_eq!(state("alert"), Some(65.0));
    assert_eq!(state("warn"), Some(4.0));
    assert_eq!(state("no_data"), Some(96.0));
    assert_eq!(set.value("datadog_monitors_muted", &[]), Some(17.0));
    assert_eq!(set.value("datadog_monitors_total", &[]), Some(203.0));
    assert_eq!(
        set.value("datadog_estimated_cost_mtd", &[("currency", "usd")]),
        Some(73.17)
    );
    assert_eq!(
        set.value(
            "datadog_estimated_cost_mtd_by_product",
            &[("product", "infra_host")]
        ),
        Some(1.17)
    );
    assert_eq!(
        set.value(
            "datadog_estimated_cost_mtd_by_product",
            &[("product", "synthetics_api_tests")]
        ),
        Some(72.0)
    );
    assert!(set.notes.is_empty(), "{:?}", set.notes);
}

#[tokio::test]
async fn empty_org_reports_zeroes_and_says_cost_is_not_there_yet() {
    let server = MockServer::start().await;
    mount_monitors(&server, ok("monitor_search_empty.json")).await;
    mount_cost(&server, ok("estimated_cost_empty.json")).await;
    let set = service(&server, true)
        .collect_metrics()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    for s in ["ok", "warn", "alert", "no_data"] {
        assert_eq!(
            set.value("datadog_monitors", &[("state", s)]),
            Some(0.0),
            "{s}"
        );
    }
    assert_eq!(set.value("datadog_monitors_total", &[]), Some(0.0));
    assert_eq!(set.value("datadog_estimated_cost_mtd", &[]), None);
    assert!(
        set.notes.iter().any(|n| n.contains("no estimated cost")),
        "{:?}",
        set.notes
    );
}

#[tokio::test]
async fn child_org_cost_is_a_problem_and_monitors_still_count() {
    let server = MockServer::start().await;
    mount_monitors(&server, ok("monitor_search.json")).await;
    mount_cost(&server, error(400, "estimated_cost_non_parent.json")).await;
    let set = service(&server, true)
        .collect_metrics()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(set.value("datadog_monitors_total", &[]), Some(203.0));
    assert_eq!(set.problems.len(), 1, "{:?}", set.problems);
    let p = &set.problems[0];
    assert_eq!(p.section, "estimated_cost");
    assert_eq!(p.failure, FailureKind::PermissionDenied);
    assert!(p.message.contains("parent (root) organisation"), "{p:?}");
}

/// Issue 14: a 5xx on one section (monitors) keeps the other (cost), with the section named.
#[tokio::test]
async fn a_failed_monitor_search_keeps_the_cost() {
    let server = MockServer::start().await;
    opsdeck_testkit::fail_section(&server, path("/api/v1/monitor/search")).await;
    mount_cost(&server, ok("estimated_cost.json")).await;
    let set = service(&server, true)
        .collect_metrics()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(set.value("datadog_estimated_cost_mtd", &[]), Some(73.17));
    assert_eq!(set.value("datadog_monitors_total", &[]), None);
    assert_eq!(set.problems.len(), 1, "{:?}", set.problems);
    assert_eq!(set.problems[0].section, "monitors");
    assert_eq!(set.problems[0].failure, FailureKind::ProviderError);
}

#[tokio::test]
async fn monitors_without_permission_are_a_problem() {
    let server = MockServer::start().await;
    mount_monitors(&server, error(403, "forbidden.json")).await;
    mount_cost(&server, ok("estimated_cost.json")).await;
    let set = service(&server, true)
        .collect_metrics()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(set.value("datadog_monitors_total", &[]), None);
    assert_eq!(set.value("datadog_estimated_cost_mtd", &[]), Some(73.17));
    assert_eq!(set.problems.len(), 1, "{:?}", set.problems);
    assert_eq!(set.problems[0].section, "monitors");
    assert_eq!(set.problems[0].failure, FailureKind::PermissionDenied);
    assert!(
        set.problems[0].message.contains("monitors_read"),
        "{:?}",
        set.problems
    );
}

#[tokio::test]
async fn a_rejected_api_key_is_invalid_credentials_in_metrics_too() {
    // Datadog answers every endpoint with the same 403 for a bad API key; metrics must not
    // call that a missing permission.
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/api/v1/validate"))
        .respond_with(error(403, "validate_forbidden.json"))
        .mount(&server)
        .await;
    mount_monitors(&server, error(403, "forbidden.json")).await;
    mount_cost(&server, error(403, "forbidden.json")).await;
    let err = service(&server, true)
        .collect_metrics()
        .await
        .err()
        .unwrap_or_else(|| panic!("expected an error"));
    assert_eq!(
        err.kind(),
        FailureKind::InvalidCredentials,
        "{}",
        err.message()
    );
}

#[tokio::test]
async fn both_reads_forbidden_with_valid_keys_is_permission_denied() {
    let server = MockServer::start().await;
    mount_validate(&server, true).await;
    mount_validate_keys(&server).await;
    mount_monitors(&server, error(403, "forbidden.json")).await;
    mount_cost(&server, error(403, "forbidden.json")).await;
    let err = service(&server, true)
        .collect_metrics()
        .await
        .err()
        .unwrap_or_else(|| panic!("expected an error"));
    assert_eq!(
        err.kind(),
        FailureKind::PermissionDenied,
        "{}",
        err.message()
    );
}

#[tokio::test]
async fn verbs_return_monitor_summary_and_exact_cost() {
    let server = MockServer::start().await;
    mount_metrics(&server).await;
    let svc = service(&server, true);
    let summary = svc
        .as_observability()
        .unwrap_or_else(|| panic!("observability verb missing"))
        .monitor_summary()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(summary.by_state.get("No Data"), Some(&96));
    assert_eq!(summary.muted, 17);
    assert_eq!(summary.total, 203);

    let cost = svc
        .cost_source()
        .unwrap_or_else(|u| panic!("{}", u.reason))
        .cost(TimeWindow::month_to_date())
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(cost.total[0].currency, "USD");
    assert_eq!(
        cost.total[0].amount,
        Decimal::from_str("73.17").unwrap_or_default()
    );
    assert!(cost.estimated);
    assert_eq!(cost.lines.len(), 2);
}

/// Regression (docs/spec-checks.md): the `MonitorSearchResponse` example of Datadog's v1
/// OpenAPI description (datadog-api-client-rust .generator/schemas/v1/openapi.yaml).
#[tokio::test]
async fn the_spec_example_of_monitor_search_is_read() {
    let server = MockServer::start().await;
    mount_validate(&server, true).await;
    mount_monitors(&server, ok("monitor_search_spec_example.json")).await;
    mount_cost(&server, ok("estimated_cost.json")).await;
    let set = service(&server, true)
        .collect_metrics()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let state = |s| set.value("datadog_monitors", &[("state", s)]);
    assert_eq!(state("no_data"), Some(4.0));
    assert_eq!(state("ok"), Some(2.0));
    assert_eq!(state("alert"), Some(0.0));
    assert_eq!(set.value("datadog_monitors_muted", &[]), Some(3.0));
    assert_eq!(set.value("datadog_monitors_total", &[]), Some(6.0));
}

/// Regression (docs/spec-checks.md): `MonitorSearchCountItem` declares no required fields and
/// `count` as int64. Prism's dynamic mock sent a negative count and the whole search failed
/// (`expected u64`); facets without a name or a usable count are now ignored instead.
#[tokio::test]
async fn facets_without_name_or_with_a_negative_count_do_not_fail_the_search() {
    let server = MockServer::start().await;
    mount_validate(&server, true).await;
    mount_monitors(&server, ok("monitor_search_spec_optional_fields.json")).await;
    mount_cost(&server, ok("estimated_cost.json")).await;
    let set = service(&server, true)
        .collect_metrics()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let state = |s| set.value("datadog_monitors", &[("state", s)]);
    assert_eq!(state("no_data"), Some(4.0));
    assert_eq!(state("ok"), Some(2.0));
    assert_eq!(state("alert"), Some(0.0));
    assert_eq!(state("warn"), Some(0.0));
    assert!(
        !set.metrics.iter().any(|m| m
            .labels
            .get("state")
            .is_some_and(|s| s == "null" || s.is_empty() || s.contains("unexpected"))),
        "{:?}",
        set.metrics
    );
    assert_eq!(set.value("datadog_monitors_muted", &[]), Some(3.0));
    assert_eq!(set.value("datadog_monitors_total", &[]), Some(6.0));

    // A negative total is treated as absent: the states are summed instead.
    let server = MockServer::start().await;
    mount_validate(&server, true).await;
    let mut body: serde_json::Value =
        serde_json::from_str(&fixture("monitor_search_spec_example.json"))
            .unwrap_or_else(|e| panic!("{e}"));
    body["metadata"]["total_count"] = json!(-3);
    mount_monitors(&server, ResponseTemplate::new(200).set_body_json(body)).await;
    mount_cost(&server, ok("estimated_cost.json")).await;
    let set = service(&server, true)
        .collect_metrics()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(set.value("datadog_monitors_total", &[]), Some(6.0));
}

/// Issue 14: a `total` charge row per product (beside `committed`/`on_demand`) is not counted
/// again in the per-product figures.
#[tokio::test]
async fn total_charge_rows_are_not_counted_twice() {
    let server = MockServer::start().await;
    mount_monitors(&server, ok("monitor_search.json")).await;
    let body = json!({"data": [{"type": "cost_by_org", "id": "x", "attributes": {
    "total_cost": 10.5,
    "charges": [
        {"product_name": "infra_host", "charge_type": "committed", "cost": 4},
        {"product_name": "infra_host", "charge_type": "on_demand", "cost": 2.5},
        {"product_name": "infra_host", "charge_type": "total", "cost": 6.5},
        {"product_name": "logs_indexed", "charge_type": "on_demand", "cost": 4},
        {"product_name": "logs_indexed", "charge_type": "total", "cost": 4}
    ]}}]});
    mount_cost(&server, ResponseTemplate::new(200).set_body_json(body)).await;
    let set = service(&server, true)
        .collect_metrics()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(set.value("datadog_estimated_cost_mtd", &[]), Some(10.5));
    assert_eq!(
        set.value(
            "datadog_estimated_cost_mtd_by_product",
            &[("product", "infra_host")]
        ),
        Some(6.5)
    );
    assert_eq!(
        set.value(
            "datadog_estimated_cost_mtd_by_product",
            &[("product", "logs_indexed")]
        ),
        Some(4.0)
    );
}
