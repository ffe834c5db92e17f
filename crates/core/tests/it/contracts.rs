//! Pins the user-facing JSON shapes (design.md): a change here is a contract change and must be
//! additive. Compare whole documents, not single fields, so renames and removals are caught.

use std::time::Duration;

use chrono::{TimeZone, Utc};
use opsdeck_core::manager::{ErrorReport, ServiceMetrics};
use opsdeck_core::status::{ReportDetails, SubCheck};
use opsdeck_core::{
    Connected, ConnectionReport, Error, FailureKind, Metric, ServiceReport, Status, Unit,
};
use serde_json::json;

fn at() -> chrono::DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 27, 18, 0, 0)
        .single()
        .unwrap_or_default()
}

#[test]
fn test_report_shape() {
    let mut report = ConnectionReport::connected(
        Connected::new(Some("octocat".to_owned()), "Authenticated as octocat"),
        Duration::from_millis(41),
    );
    report.checked_at = at();
    let r = ServiceReport::new("gh-main", "github", report);
    assert_eq!(
        serde_json::to_value(&r).unwrap_or_default(),
        json!({
            "service": "gh-main", "provider": "github", "status": "connected", "failure": null,
            "latency_ms": 41, "message": "Authenticated as octocat", "identity": "octocat",
            "checked_at": "2026-11-27T18:00:00Z", "details": {}
        })
    );
    let mut details = ReportDetails::default();
    details.retry_after_secs = Some(120);
    details.http_status = Some(429);
    let mut limited = r.report.clone();
    limited.status = Status::Unknown;
    limited.failure = Some(FailureKind::RateLimited);
    limited.identity = None;
    limited.details = details;
    let failed = ServiceReport::new("gh-main", "github", limited);
    let v = serde_json::to_value(&failed).unwrap_or_default();
    assert_eq!(v["status"], "unknown");
    assert_eq!(v["failure"], "rate_limited");
    assert_eq!(v["identity"], serde_json::Value::Null);
    assert!(v.get("hint").is_none(), "{v}");
    assert_eq!(
        v["details"],
        json!({"retry_after_secs": 120, "http_status": 429})
    );
}

#[test]
fn the_hint_is_its_own_field() {
    let err = Error::new(
        FailureKind::Rejected,
        "GitHub refused the request as invalid (HTTP 422).",
    )
    .with_hint("Check the configured values.");
    let mut report = ConnectionReport::from_error(&err, Duration::from_millis(7));
    report.checked_at = at();
    assert_eq!(
        serde_json::to_value(&report).unwrap_or_default(),
        json!({
            "status": "failed", "failure": "rejected", "latency_ms": 7,
            "message": "GitHub refused the request as invalid (HTTP 422).",
            "hint": "Check the configured values.", "identity": null,
            "checked_at": "2026-11-27T18:00:00Z", "details": {}
        })
    );
    let check = SubCheck::failed("usage_api", &err);
    assert_eq!(
        serde_json::to_value(&check).unwrap_or_default(),
        json!({
            "name": "usage_api", "status": "failed", "failure": "rejected",
            "message": "GitHub refused the request as invalid (HTTP 422).",
            "hint": "Check the configured values."
        })
    );
}

#[test]
fn metrics_shape() {
    let mut m = ServiceMetrics::new("gh-main", "github");
    m.metrics = vec![Metric::new("github_open_issues", 12.0, Unit::Count).label("repo", "o/r")];
    assert_eq!(
        serde_json::to_value(&m).unwrap_or_default(),
        json!({"service":"gh-main","provider":"github","metrics":[{"name":"github_open_issues","value":12,"unit":"count","labels":{"repo":"o/r"}}],"problems":[],"error":null})
    );
    // Issue 14: a partial collection lists each failed section beside the samples.
    let mut partial = m.clone();
    partial.problems = vec![opsdeck_core::MetricProblem::new(
        "deployments",
        FailureKind::ProviderError,
        "GitHub answered HTTP 502.",
    )];
    assert_eq!(
        serde_json::to_value(&partial).unwrap_or_default()["problems"],
        json!([{"section": "deployments", "failure": "provider_error", "message": "GitHub answered HTTP 502."}])
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
            "invalid_config",
            "rejected"
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
