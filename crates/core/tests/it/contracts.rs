//! Pins the user-facing JSON shapes (design.md): a change here is a contract change and must be
//! additive. Compare whole documents, not single fields, so renames and removals are caught.

use chrono::{TimeZone, Utc};
use opsdeck_core::manager::{ErrorReport, ServiceMetrics};
use opsdeck_core::status::ReportDetails;
use opsdeck_core::{ConnectionReport, FailureKind, Metric, ServiceReport, Status, Unit};
use serde_json::json;

fn at() -> chrono::DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 27, 18, 0, 0)
        .single()
        .unwrap_or_default()
}

#[test]
fn test_report_shape() {
    let r = ServiceReport::new(
        "gh-main",
        "github",
        ConnectionReport {
            status: Status::Connected,
            failure: None,
            latency_ms: 41,
            message: "Authenticated as octocat".into(),
            identity: Some("octocat".into()),
            checked_at: at(),
            details: ReportDetails::default(),
        },
    );
    assert_eq!(
        serde_json::to_value(&r).unwrap_or_default(),
        json!({
            "service": "gh-main", "provider": "github", "status": "connected", "failure": null,
            "latency_ms": 41, "message": "Authenticated as octocat", "identity": "octocat",
            "checked_at": "2026-11-27T18:00:00Z", "details": {}
        })
    );
    let mut failed = r.clone();
    failed.report = ConnectionReport {
        status: Status::Unknown,
        failure: Some(FailureKind::RateLimited),
        identity: None,
        details: ReportDetails {
            retry_after_secs: Some(120),
            http_status: Some(429),
            ..ReportDetails::default()
        },
        ..r.report.clone()
    };
    let v = serde_json::to_value(&failed).unwrap_or_default();
    assert_eq!(v["status"], "unknown");
    assert_eq!(v["failure"], "rate_limited");
    assert_eq!(v["identity"], serde_json::Value::Null);
    assert_eq!(
        v["details"],
        json!({"retry_after_secs": 120, "http_status": 429})
    );
}

#[test]
fn metrics_shape() {
    let mut m = ServiceMetrics::new("gh-main", "github");
    m.metrics = vec![Metric::new("github_open_issues", 12.0, Unit::Count).label("repo", "o/r")];
    assert_eq!(
        serde_json::to_value(&m).unwrap_or_default(),
        json!({"service":"gh-main","provider":"github","metrics":[{"name":"github_open_issues","value":12,"unit":"count","labels":{"repo":"o/r"}}],"error":null})
    );
    let mut failed = m.clone();
    failed.metrics = vec![];
    failed.error = Some(ErrorReport::new(FailureKind::PermissionDenied, "no"));
    assert_eq!(
        serde_json::to_value(&failed).unwrap_or_default()["error"],
        json!({"failure": "permission_denied", "message": "no"})
    );
}

#[test]
fn failure_and_category_spellings() {
    let kinds: Vec<String> = FailureKind::ALL.iter().map(|k| k.to_string()).collect();
    assert_eq!(
        kinds,
        [
            "invalid_credentials",
            "permission_denied",
            "not_found",
            "rate_limited",
            "timeout",
            "unreachable",
            "provider_error",
            "invalid_response",
            "invalid_config"
        ]
    );
    use opsdeck_core::Category::*;
    let cats: Vec<String> = [
        Infrastructure,
        Development,
        ProjectManagement,
        Ai,
        Observability,
        Billing,
    ]
    .iter()
    .map(|c| {
        serde_json::to_value(c)
            .unwrap_or_default()
            .as_str()
            .unwrap_or("")
            .to_owned()
    })
    .collect();
    assert_eq!(
        cats,
        [
            "infrastructure",
            "development",
            "project_management",
            "ai",
            "observability",
            "billing"
        ]
    );
}
