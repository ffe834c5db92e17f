//! Issue 12's scenarios: grouping and cause with a stand-in status page, the life cycle and
//! its timeline, nearby deployments, MTTA / MTTR.

use std::collections::BTreeMap;

use chrono::{TimeZone, Utc};
use opsdeck_core::domain::{Deployment, DeploymentState};
use opsdeck_core::{FailureKind, Status};
use opsdeck_monitor::incident::{
    Cause, Incident, IncidentSettings, IncidentState, PeerHealth, Placement, ServiceDeployment,
    ServiceFailure, TimelineKind, place_failure, response_times,
};
use opsdeck_monitor::statuspage::{VendorStatus, parse_summary};
use opsdeck_monitor::time::MINUTE_MS;

const T0: i64 = 1_796_551_200_000; // 2026-12-06T10:00:00Z

fn fixture(name: &str) -> VendorStatus {
    let path = format!(
        "{}/tests/fixtures/statuspage/{name}.json",
        env!("CARGO_MANIFEST_DIR")
    );
    parse_summary(&std::fs::read(path).unwrap()).unwrap()
}

fn failure(service: &str, provider: &str, kind: FailureKind, at_ms: i64) -> ServiceFailure {
    ServiceFailure {
        service: service.into(),
        provider: provider.into(),
        provider_name: if provider == "github" {
            "GitHub".into()
        } else {
            provider.into()
        },
        host: None,
        failure: kind,
        message: format!("{service}: {kind}"),
        at_ms,
    }
}

fn peers(list: &[(&str, &str, Status)]) -> Vec<PeerHealth> {
    list.iter()
        .map(|(s, p, st)| PeerHealth {
            service: (*s).into(),
            provider: (*p).into(),
            status: *st,
        })
        .collect()
}

/// What the server does with each failure: place it, open or join, refresh.
fn ingest(
    incidents: &mut Vec<Incident>,
    f: &ServiceFailure,
    vendors: &BTreeMap<String, VendorStatus>,
    peers: &[PeerHealth],
) -> i64 {
    let id = match place_failure(incidents, f, &IncidentSettings::default()) {
        Placement::Join(id) => {
            let inc = incidents.iter_mut().find(|i| i.id == id).unwrap();
            inc.join(f);
            id
        }
        Placement::Open => {
            let id = incidents.len() as i64 + 1;
            incidents.push(Incident::open(id, f));
            id
        }
    };
    let inc = incidents.iter_mut().find(|i| i.id == id).unwrap();
    inc.refresh(vendors, peers, f.at_ms);
    id
}

#[test]
fn three_github_failures_during_a_vendor_incident_are_one_vendor_outage() {
    let vendors = BTreeMap::from([("github".to_string(), fixture("major_outage"))]);
    let all_failing = peers(&[
        ("gh-a", "github", Status::Failed),
        ("gh-b", "github", Status::Failed),
        ("gh-c", "github", Status::Failed),
    ]);
    let mut incidents = Vec::new();
    for (i, (svc, kind)) in [
        ("gh-a", FailureKind::ProviderError),
        ("gh-b", FailureKind::Timeout),
        ("gh-c", FailureKind::ProviderError),
    ]
    .into_iter()
    .enumerate()
    {
        ingest(
            &mut incidents,
            &failure(svc, "github", kind, T0 + i as i64 * 20_000),
            &vendors,
            &all_failing,
        );
    }
    assert_eq!(incidents.len(), 1);
    let inc = &incidents[0];
    assert_eq!(inc.cause, Cause::VendorOutage);
    assert_eq!(
        inc.title,
        "GitHub reports 'Incident with API Requests and Git Operations' — 3 services failing"
    );
    let vs = inc.vendor_status.as_ref().unwrap();
    assert_eq!(
        vs.incidents[0].shortlink.as_deref(),
        Some("https://stspg.io/abc123")
    );
    assert!(
        inc.timeline
            .iter()
            .any(|e| e.kind == TimelineKind::VendorStatus
                && e.text.contains("Incident with API Requests"))
    );
    // The JSON the server persists and maps to its API carries the vendor status.
    let json = serde_json::to_value(inc).unwrap();
    assert_eq!(json["cause"], "vendor_outage");
    assert_eq!(json["vendor_status"]["indicator"], "major");

    // Recovery of each service resolves it once the last one is back.
    assert!(!incidents[0].service_recovered("gh-a", T0 + 10 * MINUTE_MS));
    assert!(!incidents[0].service_recovered("gh-b", T0 + 11 * MINUTE_MS));
    assert_eq!(
        incidents[0].title,
        "GitHub reports 'Incident with API Requests and Git Operations' — 1 service failing"
    );
    assert!(incidents[0].service_recovered("gh-c", T0 + 12 * MINUTE_MS));
    assert_eq!(incidents[0].state, IncidentState::Resolved);
    assert_eq!(incidents[0].resolved_at_ms, Some(T0 + 12 * MINUTE_MS));
    // A later failure opens a new incident.
    let later = failure("gh-a", "github", FailureKind::Timeout, T0 + 13 * MINUTE_MS);
    assert_eq!(
        place_failure(&incidents, &later, &IncidentSettings::default()),
        Placement::Open
    );
}

#[test]
fn invalid_credentials_while_the_others_are_fine_is_its_own_credentials_incident() {
    // Even with the vendor reporting trouble, two fine peers say it is the token.
    let vendors = BTreeMap::from([("github".to_string(), fixture("degraded"))]);
    let health = peers(&[
        ("gh-a", "github", Status::Connected),
        ("gh-b", "github", Status::Connected),
        ("gh-deploy", "github", Status::Failed),
    ]);
    let mut incidents = Vec::new();
    // An unrelated OpenAI outage is open at the same time.
    ingest(
        &mut incidents,
        &failure("openai", "openai", FailureKind::ProviderError, T0),
        &BTreeMap::new(),
        &health,
    );
    let id = ingest(
        &mut incidents,
        &failure(
            "gh-deploy",
            "github",
            FailureKind::InvalidCredentials,
            T0 + 30_000,
        ),
        &vendors,
        &health,
    );
    assert_eq!(incidents.len(), 2);
    let inc = incidents.iter().find(|i| i.id == id).unwrap();
    assert_eq!(inc.cause, Cause::Credentials);
    assert_eq!(
        inc.title,
        "GitHub rejects the credentials of gh-deploy (invalid credentials) — 1 service failing"
    );
    assert!(inc.vendor_status.is_none());
    // A timeout on another GitHub service does not join the credentials incident.
    let other = failure("gh-a", "github", FailureKind::Timeout, T0 + 60_000);
    assert_eq!(
        place_failure(&incidents, &other, &IncidentSettings::default()),
        Placement::Open
    );
}

#[test]
fn timeouts_across_providers_are_one_network_incident() {
    let mut incidents = Vec::new();
    let none = BTreeMap::new();
    ingest(
        &mut incidents,
        &failure("gh", "github", FailureKind::Timeout, T0),
        &none,
        &[],
    );
    ingest(
        &mut incidents,
        &failure("oai", "openai", FailureKind::Unreachable, T0 + 40_000),
        &none,
        &[],
    );
    assert_eq!(incidents.len(), 1);
    assert_eq!(incidents[0].cause, Cause::Network);
    assert_eq!(
        incidents[0].title,
        "Network trouble: timeout, unreachable across GitHub, openai — 2 services failing"
    );
    // Outside the window: a new incident.
    let late = failure(
        "jira",
        "jira",
        FailureKind::Timeout,
        T0 + 40_000 + 5 * MINUTE_MS + 1,
    );
    assert_eq!(
        place_failure(&incidents, &late, &IncidentSettings::default()),
        Placement::Open
    );
}

#[test]
fn ack_notes_resolve_and_response_times() {
    let mut inc = Incident::open(7, &failure("gh", "github", FailureKind::Timeout, T0));
    inc.record_notification("alert.firing to team-slack", T0 + 1_000);
    inc.acknowledge("alice", T0 + 4 * MINUTE_MS).unwrap();
    assert!(inc.acknowledge("bob", T0 + 5 * MINUTE_MS).is_err());
    inc.add_note("alice", "rotating the token", T0 + 6 * MINUTE_MS)
        .unwrap();
    assert!(inc.add_note("alice", "  ", T0).is_err());
    inc.resolve("alice", T0 + 20 * MINUTE_MS).unwrap();
    assert!(inc.resolve("alice", T0 + 21 * MINUTE_MS).is_err());
    let kinds: Vec<TimelineKind> = inc.timeline.iter().map(|e| e.kind).collect();
    assert_eq!(
        kinds,
        [
            TimelineKind::Opened,
            TimelineKind::Notification,
            TimelineKind::Acknowledged,
            TimelineKind::Note,
            TimelineKind::Resolved
        ]
    );
    assert_eq!(inc.timeline[3].text, "alice: rotating the token");
    let mut other = Incident::open(
        8,
        &failure("gh", "github", FailureKind::Timeout, T0 + 60 * MINUTE_MS),
    );
    other.acknowledge("bob", T0 + 62 * MINUTE_MS).unwrap();
    let rt = response_times(
        &[inc.clone(), other.clone()],
        Some("gh"),
        T0,
        T0 + 24 * 60 * MINUTE_MS,
    );
    assert_eq!((rt.incidents, rt.acknowledged, rt.resolved), (2, 2, 1));
    assert_eq!(rt.mtta_ms, Some(3 * MINUTE_MS)); // (4 + 2) / 2 minutes
    assert_eq!(rt.mttr_ms, Some(20 * MINUTE_MS));
    assert_eq!(
        response_times(&[inc, other], Some("jira"), T0, T0 + 1).mtta_ms,
        None
    );
}

#[test]
fn deployments_ten_minutes_before_join_the_timeline_two_hours_before_do_not() {
    let dep = |id: &str, minutes_before: i64| ServiceDeployment {
        service: "web".into(),
        provider: "vercel".into(),
        deployment: {
            let mut d = Deployment::new(
                id,
                DeploymentState::Succeeded,
                "READY",
                Utc.timestamp_millis_opt(T0 - minutes_before * MINUTE_MS)
                    .single()
                    .unwrap(),
            );
            d.project = Some("storefront".into());
            d.environment = Some("production".into());
            d.url = Some("https://storefront-abc.vercel.app".into());
            d
        },
    };
    let deployments = [dep("dpl_near", 10), dep("dpl_old", 120)];
    let mut inc = Incident::open(1, &failure("web", "vercel", FailureKind::ProviderError, T0));
    assert_eq!(
        inc.add_deployments(
            &deployments,
            IncidentSettings::default().deployment_window_ms
        ),
        1
    );
    assert_eq!(
        inc.add_deployments(
            &deployments,
            IncidentSettings::default().deployment_window_ms
        ),
        0,
        "once each"
    );
    let d: Vec<&str> = inc
        .timeline
        .iter()
        .filter(|e| e.kind == TimelineKind::Deployment)
        .map(|e| e.text.as_str())
        .collect();
    assert_eq!(
        d,
        [
            "Deployment on web (vercel) of storefront / production: READY — https://storefront-abc.vercel.app [dpl_near]"
        ]
    );
    assert_eq!(
        inc.timeline[0].kind,
        TimelineKind::Deployment,
        "sorted by time: the deployment came first"
    );
}
