//! Wiremock tests: the exact STS and Cost Explorer requests (SigV4 scope, protocol headers,
//! bodies), metrics parsed from realistic bodies with pagination and empty results, the cache,
//! each AWS error code we map, config checks and the category verbs.

use chrono::{TimeZone, Utc};
use opsdeck_core::domain::TimeWindow;
use opsdeck_core::rust_decimal::Decimal;
use opsdeck_core::{FailureKind, Status};
use opsdeck_testkit::wiremock::matchers::{body_string, header, method, path};
use opsdeck_testkit::wiremock::{Mock, MockServer, Request, ResponseTemplate};
use serde_json::json;

use crate::common::*;

const PAGE_TOKEN: &str = "AAMA-EFRSURBSGlBUVRNNUJ5WUwz";

async fn mount_sts_ok(server: &MockServer) {
    Mock::given(method("POST"))
        .and(path("/"))
        .and(header("content-type", "application/x-www-form-urlencoded"))
        .and(body_string(STS_BODY))
        .and(signed_for("eu-west-1", "sts"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_raw(fixture("sts_get_caller_identity_200.xml"), "text/xml"),
        )
        .mount(server)
        .await;
}

fn ce_mock(target: &'static str) -> opsdeck_testkit::wiremock::MockBuilder {
    Mock::given(method("POST"))
        .and(path("/"))
        .and(header("x-amz-target", target))
        .and(header("content-type", CE_JSON))
        .and(signed_for("us-east-1", "ce"))
}

fn ce_json(status: u16, body: String) -> ResponseTemplate {
    ResponseTemplate::new(status)
        .insert_header("x-amzn-requestid", "6f0b1a56-0d1e-4bb1-9c61-2f1e1c9b7f33")
        .set_body_raw(body, CE_JSON)
}

/// Mounts the three Cost Explorer calls of one collection with exact bodies; each may be
/// called `times` times.
async fn mount_cost_explorer(server: &MockServer, days: &Days, times: u64) {
    let by_service = json!({
        "TimePeriod": {"Start": ymd(days.month_start), "End": ymd(days.today)},
        "Granularity": "MONTHLY",
        "Metrics": ["UnblendedCost"],
        "GroupBy": [{"Type": "DIMENSION", "Key": "SERVICE"}],
    });
    if days.has_month_to_date() {
        let mut first = by_service.clone();
        first["NextPageToken"] = serde_json::Value::Null;
        ce_mock(TARGET_USAGE)
            .and(ce_body(first))
            .respond_with(ce_json(
                200,
                fixture("ce_get_cost_and_usage_by_service_page1.json"),
            ))
            .expect(times)
            .mount(server)
            .await;
        let mut second = by_service;
        second["NextPageToken"] = json!(PAGE_TOKEN);
        ce_mock(TARGET_USAGE)
            .and(ce_body(second))
            .respond_with(ce_json(
                200,
                fixture("ce_get_cost_and_usage_by_service_page2.json"),
            ))
            .expect(times)
            .mount(server)
            .await;
    }
    ce_mock(TARGET_USAGE)
        .and(ce_body(json!({
            "TimePeriod": {"Start": ymd(days.week_start), "End": ymd(days.today)},
            "Granularity": "DAILY",
            "Metrics": ["UnblendedCost"],
            "GroupBy": null,
            "NextPageToken": null,
        })))
        .respond_with(ResponseTemplate::new(200).set_body_json(daily_body(days)))
        .expect(times)
        .mount(server)
        .await;
    ce_mock(TARGET_FORECAST)
        .and(ce_body(json!({
            "TimePeriod": {"Start": ymd(days.today), "End": ymd(days.next_month)},
            "Metric": "UNBLENDED_COST",
            "Granularity": "MONTHLY",
        })))
        .respond_with(ce_json(200, fixture("ce_get_cost_forecast.json")))
        .expect(times)
        .mount(server)
        .await;
    // Last: the previous full month by service (one page: AWS Lambda 0.51).
    ce_mock(TARGET_USAGE)
        .and(ce_body(json!({
            "TimePeriod": {"Start": ymd(days.previous_month_start), "End": ymd(days.month_start)},
            "Granularity": "MONTHLY",
            "Metrics": ["UnblendedCost"],
            "GroupBy": [{"Type": "DIMENSION", "Key": "SERVICE"}],
            "NextPageToken": null,
        })))
        .respond_with(ce_json(
            200,
            fixture("ce_get_cost_and_usage_by_service_page2.json"),
        ))
        // At most `times` (a test may make this request fail with a mock of higher priority).
        .expect(0..=times)
        .mount(server)
        .await;
}

/// Issue 14: on the first day of a month (injected clock) there is no month-to-date request,
/// the previous full month is reported, labelled, and the note names it.
#[tokio::test]
async fn on_the_first_day_the_previous_month_is_reported_and_named() {
    let server = MockServer::start().await;
    let now = Utc
        .with_ymd_and_hms(2026, 12, 1, 9, 0, 0)
        .single()
        .unwrap_or_default();
    let days = Days::for_day(now.date_naive());
    assert!(!days.has_month_to_date());
    mount_cost_explorer(&server, &days, 1).await;
    let svc = opsdeck_testkit::service_at(
        "aws",
        keyed_config(&server.uri()),
        opsdeck_core::ManualClock::new(now),
    );
    let set = svc
        .collect_metrics()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(set.problems.is_empty(), "{:?}", set.problems);
    let total = find(&set, "aws_cost_previous_month_total", None)
        .unwrap_or_else(|| panic!("no previous month: {set:?}"));
    assert!(approx(Some(total.value), 0.51), "{total:?}");
    assert_eq!(
        total.labels.get("period").map(String::as_str),
        Some("previous_month")
    );
    assert_eq!(
        total.labels.get("month").map(String::as_str),
        Some("2026-11")
    );
    assert!(approx(
        value(
            &set,
            "aws_cost_previous_month",
            Some(("service", "AWS Lambda"))
        ),
        0.51
    ));
    assert_eq!(value(&set, "aws_cost_month_to_date_total", None), Some(0.0));
    assert!(
        set.notes
            .iter()
            .any(|n| n.contains("month-to-date is 0; last month: 0.51 USD (2026-11)")),
        "{:?}",
        set.notes
    );
}

/// Issue 14: a failing previous-month request is that section's problem; the current month's
/// figures are still reported.
#[tokio::test]
async fn a_failed_previous_month_is_a_problem_not_a_failure() {
    let server = MockServer::start().await;
    let days = Days::now();
    ce_mock(TARGET_USAGE)
        .and(ce_body(json!({
            "TimePeriod": {"Start": ymd(days.previous_month_start), "End": ymd(days.month_start)},
        })))
        .respond_with(ce_json(
            500,
            json!({"__type": "InternalServerException", "message": "stand-in"}).to_string(),
        ))
        .with_priority(1)
        .mount(&server)
        .await;
    mount_cost_explorer(&server, &days, 1).await;
    let set = service(keyed_config(&server.uri()))
        .collect_metrics()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(value(&set, "aws_cost_daily", None).is_some(), "{set:?}");
    assert_eq!(set.problems.len(), 1, "{:?}", set.problems);
    assert_eq!(set.problems[0].section, "previous_month");
    assert_eq!(value(&set, "aws_cost_previous_month_total", None), None);
}

#[tokio::test]
async fn probe_sends_a_signed_get_caller_identity_and_reports_arn_and_account() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/"))
        .and(header("content-type", "application/x-www-form-urlencoded"))
        .and(body_string(STS_BODY))
        .and(signed_for("eu-west-1", "sts"))
        .and(|req: &Request| {
            req.headers
                .get("user-agent")
                .and_then(|v| v.to_str().ok())
                .is_some_and(|ua| ua.contains(concat!("app/opsdeck-", env!("CARGO_PKG_VERSION"))))
        })
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_raw(fixture("sts_get_caller_identity_200.xml"), "text/xml"),
        )
        .expect(1)
        .mount(&server)
        .await;
    let report = service(keyed_config(&server.uri())).test_connection().await;
    assert_eq!(report.status, Status::Connected, "{}", report.message);
    assert_eq!(
        report.identity.as_deref(),
        Some("arn:aws:iam::123456789012:user/Alice (account 123456789012)")
    );
    assert!(
        report.message.contains("proves the credentials only"),
        "{}",
        report.message
    );
    assert!(
        report.message.contains("ce:GetCostAndUsage"),
        "{}",
        report.message
    );
    assert_eq!(report.details.extra["account"], json!("123456789012"));
    let check = report
        .details
        .checks
        .iter()
        .find(|c| c.name == "cost_explorer");
    assert!(
        check.is_some_and(|c| c.status == Status::Unknown),
        "{:?}",
        report.details.checks
    );
}

#[tokio::test]
async fn sts_error_codes_map_to_actionable_failures() {
    let cases: &[(u16, &str, &str, FailureKind, &str)] = &[
        (
            403,
            "sts_error_invalid_client_token_id_403.xml",
            "text/xml",
            FailureKind::InvalidCredentials,
            "does not recognise the access key id",
        ),
        (
            403,
            "sts_error_signature_does_not_match_403.xml",
            "text/xml",
            FailureKind::InvalidCredentials,
            "Check secret_access_key",
        ),
        (
            403,
            "sts_error_expired_token_403.xml",
            "text/xml",
            FailureKind::InvalidCredentials,
            "session token has expired",
        ),
        // moto's envelope (<Errors><Error>) sent as text/html: still read by its code.
        (
            403,
            "moto_sts_error_invalid_client_token_id_403.xml",
            "text/html; charset=utf-8",
            FailureKind::InvalidCredentials,
            "does not recognise the access key id",
        ),
    ];
    for (status, file, content_type, kind, needle) in cases {
        let server = MockServer::start().await;
        Mock::given(method("POST"))
            .and(path("/"))
            .respond_with(ResponseTemplate::new(*status).set_body_raw(fixture(file), content_type))
            .expect(1)
            .mount(&server)
            .await;
        let report = service(keyed_config(&server.uri())).test_connection().await;
        assert_eq!(report.status, Status::Failed, "{file}: {}", report.message);
        assert_eq!(report.failure, Some(*kind), "{file}: {}", report.message);
        let text = format!(
            "{} {}",
            report.message,
            report.hint.as_deref().unwrap_or("")
        );
        assert!(text.contains(needle), "{file}: {text}");
        assert_eq!(report.details.http_status, Some(*status), "{file}");
    }

    // A 403 without any AWS code: GetCallerIdentity needs no permission, so the credentials
    // were refused.
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(403))
        .mount(&server)
        .await;
    let report = service(keyed_config(&server.uri())).test_connection().await;
    assert_eq!(
        report.failure,
        Some(FailureKind::InvalidCredentials),
        "{}",
        report.message
    );
    assert!(
        report
            .hint
            .as_deref()
            .is_some_and(|h| h.contains("needs no permission")),
        "{report:?}"
    );

    // Signing-region and clock problems are configuration, not credentials.
    for (code, message, needle) in [
        (
            "SignatureDoesNotMatch",
            "Credential should be scoped to a valid region. ",
            "region",
        ),
        ("RequestExpired", "Request has expired.", "clock"),
    ] {
        let server = MockServer::start().await;
        let body = format!(
            "<ErrorResponse xmlns=\"https://sts.amazonaws.com/doc/2011-06-15/\"><Error><Type>Sender</Type><Code>{code}</Code><Message>{message}</Message></Error><RequestId>1</RequestId></ErrorResponse>"
        );
        Mock::given(method("POST"))
            .respond_with(ResponseTemplate::new(400).set_body_raw(body, "text/xml"))
            .mount(&server)
            .await;
        let report = service(keyed_config(&server.uri())).test_connection().await;
        assert_eq!(
            report.failure,
            Some(FailureKind::InvalidConfig),
            "{code}: {}",
            report.message
        );
        assert!(
            report.message.contains(needle),
            "{code}: {}",
            report.message
        );
    }
}

#[tokio::test]
async fn metrics_follow_pages_and_parse_costs_exactly_then_come_from_the_cache() {
    let server = MockServer::start().await;
    let days = Days::now();
    // `expect(1)`: the second collection must not call Cost Explorer again.
    mount_cost_explorer(&server, &days, 1).await;
    let svc = service(keyed_config(&server.uri()));

    let set = svc
        .collect_metrics()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let usd = |name: &str, label: Option<(&str, &str)>| {
        let m =
            find(&set, name, label).unwrap_or_else(|| panic!("{name} {label:?} missing: {set:?}"));
        assert_eq!(m.unit.as_str(), "usd", "{name}");
        m.value
    };
    let mtd_total = if days.has_month_to_date() {
        let svc_cost = |s| usd("aws_cost_month_to_date", Some(("service", s)));
        assert!(approx(
            Some(svc_cost("Amazon Elastic Compute Cloud - Compute")),
            123.4567891234
        ));
        assert!(approx(
            Some(svc_cost("Amazon Simple Storage Service")),
            4.2000000001
        ));
        assert!(approx(Some(svc_cost("Tax")), 0.0));
        // From the second page.
        assert!(approx(Some(svc_cost("AWS Lambda")), 0.51));
        assert!(
            set.notes.iter().any(|n| n.contains("estimates")),
            "{:?}",
            set.notes
        );
        128.1667891235
    } else {
        assert!(
            set.notes
                .iter()
                .any(|n| n.contains("first day of the month")),
            "{:?}",
            set.notes
        );
        0.0
    };
    assert!(approx(
        Some(usd("aws_cost_month_to_date_total", None)),
        mtd_total
    ));
    for i in 0..7u64 {
        let d = days
            .week_start
            .checked_add_days(chrono::Days::new(i))
            .unwrap_or(days.today);
        let date = ymd(d);
        let v = usd("aws_cost_daily", Some(("date", date.as_str())));
        assert!(approx(Some(v), i as f64 + 1.25), "{d}: {v}");
    }
    assert!(approx(
        Some(usd("aws_cost_forecast_rest_of_month", None)),
        61.8765432109
    ));
    assert!(approx(
        Some(usd("aws_cost_forecast_month_end", None)),
        mtd_total + 61.8765432109
    ));
    assert_eq!(value(&set, "aws_cost_data_age_seconds", None), Some(0.0));
    assert!(
        set.notes
            .iter()
            .any(|n| n.contains("fetched from Cost Explorer now")),
        "{:?}",
        set.notes
    );

    let again = svc
        .collect_metrics()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(
        again
            .notes
            .iter()
            .any(|n| n.contains("come from the cache")),
        "{:?}",
        again.notes
    );
    assert_eq!(
        value(&again, "aws_cost_month_to_date_total", None),
        value(&set, "aws_cost_month_to_date_total", None)
    );
    server.verify().await;
}

#[tokio::test]
async fn concurrent_collections_share_one_fetch() {
    let server = MockServer::start().await;
    let days = Days::now();
    mount_cost_explorer(&server, &days, 1).await;
    let svc = service(keyed_config(&server.uri()));
    let (a, b) = tokio::join!(svc.collect_metrics(), svc.collect_metrics());
    let (a, b) = (
        a.unwrap_or_else(|e| panic!("{e}")),
        b.unwrap_or_else(|e| panic!("{e}")),
    );
    let cached =
        |s: &opsdeck_core::MetricSet| s.notes.iter().any(|n| n.contains("come from the cache"));
    assert!(
        cached(&a) != cached(&b),
        "exactly one collection fetched: {:?} / {:?}",
        a.notes,
        b.notes
    );
    server.verify().await;
}

#[tokio::test]
async fn a_zero_cache_ttl_asks_cost_explorer_every_time() {
    let server = MockServer::start().await;
    let days = Days::now();
    mount_cost_explorer(&server, &days, 2).await;
    let mut config = keyed_config(&server.uri());
    config["cost_cache_ttl"] = json!("0s");
    let svc = service(config);
    for _ in 0..2 {
        let set = svc
            .collect_metrics()
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        assert!(
            !set.notes.iter().any(|n| n.contains("cache")),
            "{:?}",
            set.notes
        );
    }
    server.verify().await;
}

#[tokio::test]
async fn empty_results_report_zero_and_a_missing_forecast_is_a_note() {
    let server = MockServer::start().await;
    ce_mock(TARGET_USAGE)
        .respond_with(ce_json(200, fixture("ce_get_cost_and_usage_empty.json")))
        .mount(&server)
        .await;
    ce_mock(TARGET_FORECAST)
        .respond_with(ce_json(400, fixture("ce_error_data_unavailable_400.json")))
        .expect(1)
        .mount(&server)
        .await;
    let set = service(keyed_config(&server.uri()))
        .collect_metrics()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(value(&set, "aws_cost_month_to_date_total", None), Some(0.0));
    assert!(find(&set, "aws_cost_month_to_date", None).is_none());
    assert!(find(&set, "aws_cost_daily", None).is_none());
    assert!(find(&set, "aws_cost_forecast_month_end", None).is_none());
    let notes = set.notes.join("\n");
    assert!(notes.contains("No month-end forecast"), "{notes}");
    assert!(notes.contains("no data for this period yet"), "{notes}");
    if Days::now().has_month_to_date() {
        assert!(notes.contains("no cost for this month"), "{notes}");
    }
}

#[tokio::test]
async fn access_denied_names_the_missing_action() {
    // No ce:GetCostAndUsage: collection fails, naming the action.
    let server = MockServer::start().await;
    ce_mock(TARGET_USAGE)
        .respond_with(ce_json(400, fixture("ce_error_access_denied_400.json")))
        .expect(1)
        .mount(&server)
        .await;
    let err = service(keyed_config(&server.uri()))
        .collect_metrics()
        .await
        .err()
        .unwrap_or_else(|| panic!("expected an error"));
    assert_eq!(err.kind(), FailureKind::PermissionDenied, "{err}");
    assert!(
        err.hint()
            .is_some_and(|h| h.contains("Allow the IAM action ce:GetCostAndUsage")),
        "{err}"
    );
    assert_eq!(err.http_status(), Some(400));

    // Cost Explorer never enabled for the account.
    let server = MockServer::start().await;
    ce_mock(TARGET_USAGE)
        .respond_with(ce_json(400, fixture("ce_error_not_enabled_400.json")))
        .mount(&server)
        .await;
    let err = service(keyed_config(&server.uri()))
        .collect_metrics()
        .await
        .err()
        .unwrap_or_else(|| panic!("expected an error"));
    assert_eq!(err.kind(), FailureKind::PermissionDenied, "{err}");
    assert!(
        err.message().contains("Cost Explorer is not enabled"),
        "{err}"
    );

    // Only ce:GetCostForecast missing: costs are reported, the forecast is a named note.
    let server = MockServer::start().await;
    let days = Days::now();
    ce_mock(TARGET_USAGE)
        .and(ce_body(json!({"Granularity": "DAILY"})))
        .respond_with(ResponseTemplate::new(200).set_body_json(daily_body(&days)))
        .mount(&server)
        .await;
    ce_mock(TARGET_USAGE)
        .and(ce_body(json!({"Granularity": "MONTHLY"})))
        .respond_with(ce_json(
            200,
            fixture("ce_get_cost_and_usage_by_service_page2.json"),
        ))
        .mount(&server)
        .await;
    let denied = r#"{"__type":"com.amazonaws.ce#AccessDeniedException","Message":"User: arn:aws:iam::123456789012:user/opsdeck is not authorized to perform: ce:GetCostForecast on resource: arn:aws:ce:us-east-1:123456789012:/GetCostForecast with an explicit deny in a service control policy"}"#;
    ce_mock(TARGET_FORECAST)
        .respond_with(ce_json(400, denied.to_owned()))
        .mount(&server)
        .await;
    let set = service(keyed_config(&server.uri()))
        .collect_metrics()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(find(&set, "aws_cost_daily", None).is_some());
    let notes = set.notes.join("\n");
    assert!(
        notes.contains("Allow the IAM action ce:GetCostForecast"),
        "{notes}"
    );
    assert!(notes.contains("explicit deny"), "{notes}");
}

#[tokio::test]
async fn throttling_is_rate_limited_after_bounded_retries() {
    let server = MockServer::start().await;
    ce_mock(TARGET_USAGE)
        .respond_with(ce_json(400, fixture("ce_error_limit_exceeded_400.json")))
        // One attempt plus the policy's two retries.
        .expect(3)
        .mount(&server)
        .await;
    let err = service(keyed_config(&server.uri()))
        .collect_metrics()
        .await
        .err()
        .unwrap_or_else(|| panic!("expected an error"));
    assert_eq!(err.kind(), FailureKind::RateLimited, "{err}");
    assert!(err.message().contains("LimitExceededException"), "{err}");
    server.verify().await;
}

#[tokio::test]
async fn json_protocol_credential_errors_are_invalid_credentials() {
    for (file, needle) in [
        (
            "ce_error_unrecognized_client_400.json",
            "does not recognise the access key id",
        ),
        (
            "ce_error_expired_token_400.json",
            "session token has expired",
        ),
    ] {
        let server = MockServer::start().await;
        ce_mock(TARGET_USAGE)
            .respond_with(ce_json(400, fixture(file)))
            .expect(1)
            .mount(&server)
            .await;
        let err = service(keyed_config(&server.uri()))
            .collect_metrics()
            .await
            .err()
            .unwrap_or_else(|| panic!("expected an error"));
        assert_eq!(err.kind(), FailureKind::InvalidCredentials, "{file}: {err}");
        assert!(err.message().contains(needle), "{file}: {err}");
    }
    // The code may also come only in the x-amzn-errortype header.
    let server = MockServer::start().await;
    ce_mock(TARGET_USAGE)
        .respond_with(
            ResponseTemplate::new(400)
                .insert_header("x-amzn-errortype", "UnrecognizedClientException:http://internal.amazon.com/coral/com.amazon.coral.service/")
                .set_body_raw("{}", CE_JSON),
        )
        .mount(&server)
        .await;
    let err = service(keyed_config(&server.uri()))
        .collect_metrics()
        .await
        .err()
        .unwrap_or_else(|| panic!("expected an error"));
    assert_eq!(err.kind(), FailureKind::InvalidCredentials, "{err}");
}

#[tokio::test]
async fn cost_verb_sums_services_for_the_window_and_caches() {
    let server = MockServer::start().await;
    ce_mock(TARGET_USAGE)
        .and(ce_body(json!({
            "TimePeriod": {"Start": "2026-10-01", "End": "2026-11-01"},
            "Granularity": "MONTHLY",
            "Metrics": ["UnblendedCost"],
            "GroupBy": [{"Type": "DIMENSION", "Key": "SERVICE"}],
            "NextPageToken": null,
        })))
        .respond_with(ce_json(
            200,
            fixture("ce_get_cost_and_usage_by_service_page1.json"),
        ))
        .expect(1)
        .mount(&server)
        .await;
    ce_mock(TARGET_USAGE)
        .and(ce_body(json!({"NextPageToken": PAGE_TOKEN})))
        .respond_with(ce_json(
            200,
            fixture("ce_get_cost_and_usage_by_service_page2.json"),
        ))
        .expect(1)
        .mount(&server)
        .await;
    let svc = service(keyed_config(&server.uri()));
    let cost = svc.cost_source().unwrap_or_else(|u| panic!("{}", u.reason));
    let window = TimeWindow {
        start: Utc
            .with_ymd_and_hms(2026, 10, 1, 0, 0, 0)
            .single()
            .unwrap_or_default(),
        end: Utc
            .with_ymd_and_hms(2026, 11, 1, 0, 0, 0)
            .single()
            .unwrap_or_default(),
    };
    let report = cost.cost(window).await.unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(report.total.len(), 1);
    assert_eq!(report.total[0].currency, "USD");
    assert_eq!(
        report.total[0].amount,
        "128.1667891235".parse::<Decimal>().unwrap_or_default()
    );
    assert_eq!(report.lines.len(), 4);
    assert!(report.estimated);
    assert!(report.cached_at.is_none());
    let again = cost.cost(window).await.unwrap_or_else(|e| panic!("{e}"));
    assert!(again.cached_at.is_some());
    assert_eq!(again.total, report.total);
    server.verify().await;
}

#[tokio::test]
async fn infrastructure_verb_and_capabilities() {
    let server = MockServer::start().await;
    mount_sts_ok(&server).await;
    let svc = service(keyed_config(&server.uri()));
    let infra = svc
        .as_infrastructure()
        .unwrap_or_else(|| panic!("not infrastructure"));
    let resources = infra.resources().await.unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(resources, vec!["123456789012".to_owned()]);
    let caps = svc.capabilities();
    let cap = |n: &str| caps.iter().find(|c| c.name == n).map(|c| c.available);
    assert_eq!(cap("cost"), Some(true));
    assert_eq!(cap("deployments"), Some(false));
    assert_eq!(cap("ai_usage"), Some(false));
}

#[test]
fn config_combinations_that_cannot_work_are_refused() {
    let base = "http://127.0.0.1:9";
    let cases = [
        (
            json!({"access_key_id": KEY_ID, "base_url": base}),
            "secret_access_key is missing",
        ),
        (
            json!({"secret_access_key": SECRET, "base_url": base}),
            "access_key_id is missing",
        ),
        (
            json!({"session_token": TOKEN}),
            "temporary credentials need all three",
        ),
        (
            json!({"access_key_id": KEY_ID, "secret_access_key": SECRET, "profile": "prod"}),
            "use one",
        ),
        (json!({"region": "EU West"}), "not an AWS region name"),
    ];
    for (config, needle) in cases {
        let err = try_service(config.clone())
            .err()
            .unwrap_or_else(|| panic!("accepted {config}"));
        assert!(err.contains(needle), "{config}: {err}");
        assert!(
            !err.contains(SECRET) && !err.contains(TOKEN),
            "secret in {err}"
        );
    }
    // No credentials at all is a configuration error naming the fields: the machine's own AWS
    // credentials are used only when asked for.
    let err = try_service(json!({"base_url": base}))
        .err()
        .unwrap_or_else(|| panic!("a service without credentials was accepted"));
    assert!(
        err.contains("access_key_id") && err.contains("secret_access_key"),
        "{err}"
    );
    assert!(err.contains("credentials = \"default_chain\""), "{err}");
    assert!(try_service(json!({"credentials": "default_chain"})).is_ok());
    assert!(try_service(json!({"profile": "prod", "region": "eu-central-1"})).is_ok());
    for (config, needle) in [
        (
            json!({"credentials": "default_chain", "access_key_id": KEY_ID, "secret_access_key": SECRET}),
            "remove access_key_id",
        ),
        (json!({"credentials": "profile"}), "needs profile"),
        (json!({"credentials": "static"}), "needs access_key_id"),
        (json!({"credentials": "ambient"}), "credentials"),
    ] {
        let err = try_service(config.clone())
            .err()
            .unwrap_or_else(|| panic!("accepted {config}"));
        assert!(err.contains(needle), "{config}: {err}");
        assert!(!err.contains(SECRET), "secret in {err}");
    }
}

#[test]
fn registered_with_fields_and_schema() {
    let factory = opsdeck_core::ServiceFactory::from_registry().unwrap_or_else(|e| panic!("{e}"));
    let d = factory
        .descriptor("aws")
        .unwrap_or_else(|| panic!("aws not registered"));
    assert_eq!(d.category, opsdeck_core::Category::Infrastructure);
    let schema = d.json_schema();
    for secret in ["access_key_id", "secret_access_key", "session_token"] {
        assert_eq!(
            schema["properties"][secret]["writeOnly"],
            json!(true),
            "{secret}"
        );
    }
    assert_eq!(
        schema["properties"]["region"]["default"],
        json!("us-east-1")
    );
    assert_eq!(
        schema["properties"]["cost_cache_ttl"]["default"],
        json!("6h")
    );
}

// ---- paging: more pages than the cap, a repeated token, a failure after the first page ----

/// Daily Cost Explorer results that never end: each page holds one day ($1) and a new
/// `NextPageToken` (or, with `same_token`, always the same); with `fail_after`, later pages
/// answer HTTP 500.
struct EndlessDaily {
    days: Days,
    served: std::sync::atomic::AtomicU64,
    same_token: bool,
    fail_after: Option<u64>,
}

impl EndlessDaily {
    fn new(same_token: bool, fail_after: Option<u64>) -> Self {
        EndlessDaily {
            days: Days::now(),
            served: std::sync::atomic::AtomicU64::new(0),
            same_token,
            fail_after,
        }
    }
}

impl opsdeck_testkit::wiremock::Respond for EndlessDaily {
    fn respond(&self, _: &Request) -> ResponseTemplate {
        let n = self
            .served
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        if self.fail_after.is_some_and(|f| n >= f) {
            return ce_json(
                500,
                r#"{"__type":"InternalFailure","message":"boom"}"#.to_owned(),
            );
        }
        let d = self
            .days
            .week_start
            .checked_add_days(chrono::Days::new(n % 7))
            .unwrap_or(self.days.today);
        let token = if self.same_token {
            "same".to_owned()
        } else {
            format!("t{n}")
        };
        ResponseTemplate::new(200).set_body_json(json!({
            "ResultsByTime": [{
                "TimePeriod": {"Start": ymd(d), "End": ymd(d.succ_opt().unwrap_or(d))},
                "Total": {"UnblendedCost": {"Amount": "1", "Unit": "USD"}},
                "Groups": [], "Estimated": false
            }],
            "NextPageToken": token
        }))
    }
}

async fn collect_with_daily(daily: EndlessDaily) -> opsdeck_core::MetricSet {
    let server = MockServer::start().await;
    ce_mock(TARGET_USAGE)
        .and(ce_body(json!({"Granularity": "MONTHLY"})))
        .respond_with(ce_json(
            200,
            fixture("ce_get_cost_and_usage_by_service_page2.json"),
        ))
        .mount(&server)
        .await;
    ce_mock(TARGET_USAGE)
        .and(ce_body(json!({"Granularity": "DAILY"})))
        .respond_with(daily)
        .mount(&server)
        .await;
    ce_mock(TARGET_FORECAST)
        .respond_with(ce_json(200, fixture("ce_get_cost_forecast.json")))
        .mount(&server)
        .await;
    service(keyed_config(&server.uri()))
        .collect_metrics()
        .await
        .unwrap_or_else(|e| panic!("{e}"))
}

fn daily_sum(set: &opsdeck_core::MetricSet) -> f64 {
    set.metrics
        .iter()
        .filter(|m| m.name == "aws_cost_daily")
        .map(|m| m.value)
        .sum()
}

#[tokio::test]
async fn more_cost_pages_than_the_cap_give_partial_figures_with_a_note() {
    let set = collect_with_daily(EndlessDaily::new(false, None)).await;
    assert_eq!(daily_sum(&set), 20.0);
    assert!(
        set.notes.iter().any(|n| n
            == "Stopped after 20 pages; figures cover 20 of more days of daily cost. Daily cost figures are partial."),
        "{:?}",
        set.notes
    );
}

#[tokio::test]
async fn a_repeated_page_token_stops_with_a_note() {
    let set = collect_with_daily(EndlessDaily::new(true, None)).await;
    assert_eq!(daily_sum(&set), 2.0);
    assert!(
        set.notes
            .iter()
            .any(|n| n.contains("a page cursor it had already sent")),
        "{:?}",
        set.notes
    );
}

#[tokio::test]
async fn a_failing_later_cost_page_keeps_the_first_pages() {
    let set = collect_with_daily(EndlessDaily::new(false, Some(2))).await;
    assert_eq!(daily_sum(&set), 2.0);
    assert!(
        set.notes
            .iter()
            .any(|n| n.starts_with("Page 3 of days of daily cost failed (provider_error)")),
        "{:?}",
        set.notes
    );
}
