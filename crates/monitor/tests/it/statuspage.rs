//! Statuspage v2 `summary.json` bodies shaped after the documented format: operational,
//! degraded, major outage, maintenance.

use opsdeck_monitor::statuspage::{ComponentStatus, Indicator, parse_summary};

fn read(name: &str) -> Vec<u8> {
    std::fs::read(format!(
        "{}/tests/fixtures/statuspage/{name}.json",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap()
}

#[test]
fn operational() {
    let s = parse_summary(&read("operational")).unwrap();
    assert_eq!(s.indicator, Indicator::None);
    assert!(!s.reports_problem());
    assert_eq!(s.page.as_deref(), Some("GitHub"));
    assert_eq!(s.summary(), "GitHub reports: All Systems Operational");
}

#[test]
fn degraded() {
    let s = parse_summary(&read("degraded")).unwrap();
    assert_eq!(s.indicator, Indicator::Minor);
    assert!(s.reports_problem());
    assert_eq!(s.components.len(), 1);
    assert_eq!(s.components[0].status, ComponentStatus::DegradedPerformance);
    assert_eq!(s.headline(), "Degraded performance: API Requests");
    assert_eq!(
        s.summary(),
        "GitHub reports: Minor Service Outage — Degraded performance: API Requests"
    );
}

#[test]
fn major_outage() {
    let s = parse_summary(&read("major_outage")).unwrap();
    assert_eq!(s.indicator, Indicator::Major);
    // The group row is left out; worst first.
    let names: Vec<&str> = s.components.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(names, ["API Requests", "Git Operations"]);
    assert_eq!(s.incidents.len(), 1);
    assert_eq!(s.incidents[0].status, "investigating");
    assert_eq!(s.incidents[0].impact.as_deref(), Some("major"));
    assert_eq!(s.updated_at_ms, Some(1_796_551_531_120));
    assert_eq!(
        s.summary(),
        "GitHub reports: Partial System Outage — 'Incident with API Requests and Git Operations' (investigating, https://stspg.io/abc123) — Major outage: API Requests, Partial outage: Git Operations"
    );
}

#[test]
fn maintenance() {
    let s = parse_summary(&read("maintenance")).unwrap();
    assert_eq!(s.indicator, Indicator::Maintenance);
    // Only the in-progress maintenance, not next week's.
    assert_eq!(s.incidents.len(), 1);
    assert!(s.incidents[0].maintenance);
    assert_eq!(s.headline(), "Search index migration");
    assert_eq!(s.components[0].status, ComponentStatus::UnderMaintenance);
    assert!(s.reports_problem());
}
