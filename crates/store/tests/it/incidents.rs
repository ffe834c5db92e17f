//! Incidents: create, update with optimistic concurrency, list by state and time, the open
//! incident of a service, MTTA / MTTR inputs, the grouping loop's cursor and watch state, and
//! the vendor status stored with a failed result.

use opsdeck_core::FailureKind;
use opsdeck_monitor::incident::{
    Incident, IncidentState, ServiceFailure, TimelineKind, response_times,
};
use opsdeck_monitor::statuspage::parse_summary;
use opsdeck_store::*;

use super::{data, opts, result};

on_both!(
    incident_life_cycle,
    results_cursor_and_watch,
    results_cursor_waits_for_late_commits
);

fn failure(service: &str, at_ms: i64) -> ServiceFailure {
    ServiceFailure {
        service: service.into(),
        provider: "github".into(),
        provider_name: "GitHub".into(),
        host: None,
        failure: FailureKind::Timeout,
        message: "no answer".into(),
        at_ms,
    }
}

async fn incident_life_cycle(url: Option<String>) {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(opts(&dir, &url)).await.unwrap();
    let opened = Incident::open(0, &failure("gh-a", 1_000));
    let stored = store.create_incident(&opened).await.unwrap();
    assert!(stored.incident.id > 0);
    assert_eq!(stored.version, 1);
    let mut inc = stored.incident.clone();
    inc.join(&failure("gh-b", 2_000));
    assert!(store.update_incident(&inc, 1).await.unwrap());
    assert!(
        !store.update_incident(&inc, 1).await.unwrap(),
        "a stale version is refused"
    );
    let back = store.incident(inc.id).await.unwrap().unwrap();
    assert_eq!(back.version, 2);
    assert_eq!(back.incident, inc, "services and timeline round-trip");
    assert_eq!(
        store.open_incident_of("gh-b").await.unwrap(),
        Some((inc.id, inc.title.clone()))
    );

    let mut inc = back.incident;
    inc.acknowledge("admin", 61_000).unwrap();
    inc.add_note("admin", "looking", 62_000).unwrap();
    inc.service_recovered("gh-a", 100_000);
    inc.service_recovered("gh-b", 121_000);
    assert_eq!(inc.state, IncidentState::Resolved);
    assert!(store.update_incident(&inc, 2).await.unwrap());
    assert_eq!(store.open_incident_of("gh-b").await.unwrap(), None);
    let kinds: Vec<TimelineKind> = store
        .incident(inc.id)
        .await
        .unwrap()
        .unwrap()
        .incident
        .timeline
        .iter()
        .map(|e| e.kind)
        .collect();
    assert!(kinds.contains(&TimelineKind::Acknowledged) && kinds.contains(&TimelineKind::Note));

    let second = store
        .create_incident(&Incident::open(0, &failure("gh-c", 500_000)))
        .await
        .unwrap();
    let all = store.list_incidents(None, None, 10).await.unwrap();
    assert_eq!(
        all.iter().map(|i| i.id).collect::<Vec<_>>(),
        [second.incident.id, inc.id],
        "unresolved first"
    );
    let resolved = store
        .list_incidents(Some(IncidentState::Resolved), None, 10)
        .await
        .unwrap();
    assert_eq!(resolved.len(), 1);
    assert!(
        store
            .list_incidents(None, Some(400_000), 10)
            .await
            .unwrap()
            .iter()
            .all(|i| i.id == second.incident.id)
    );
    assert_eq!(store.unresolved_incidents().await.unwrap().len(), 1);
    let of_a = store.incidents_of_service("gh-a", 0).await.unwrap();
    let times = response_times(&of_a, Some("gh-a"), 0, 1_000_000);
    assert_eq!(times.mtta_ms, Some(60_000));
    assert_eq!(times.mttr_ms, Some(120_000));
    assert_eq!(
        store.open_incidents_by_service().await.unwrap(),
        vec![(
            "gh-c".to_owned(),
            second.incident.id,
            second.incident.title.clone()
        )]
    );
}

async fn results_cursor_and_watch(url: Option<String>) {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(opts(&dir, &url)).await.unwrap();
    let svc = store.create_service("gh", &data("t")).await.unwrap();
    store.record_result(&result(svc.id, None, 1)).await.unwrap();
    assert!(
        store
            .claim_results_for_incidents(10)
            .await
            .unwrap()
            .is_empty(),
        "the first claim starts after the newest result"
    );
    let RecordOutcome::Stored { result_id, .. } =
        store.record_result(&result(svc.id, None, 2)).await.unwrap()
    else {
        panic!("not stored");
    };
    let got = store.claim_results_for_incidents(10).await.unwrap();
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].result_id, result_id);
    assert_eq!(got[0].service, "gh");
    assert_eq!(got[0].config["base_url"], "http://x");
    assert!(
        store
            .claim_results_for_incidents(10)
            .await
            .unwrap()
            .is_empty()
    );

    assert_eq!(store.incident_watch(svc.id).await.unwrap(), None);
    let state = serde_json::json!({"bad_streak": 2});
    store.set_incident_watch(svc.id, &state).await.unwrap();
    store.set_incident_watch(svc.id, &state).await.unwrap();
    assert_eq!(store.incident_watch(svc.id).await.unwrap(), Some(state));

    let vendor = parse_summary(
        br#"{"page":{"name":"GitHub"},"status":{"indicator":"minor","description":"Minor"}}"#,
    )
    .unwrap();
    store
        .save_result_vendor_status(result_id, svc.id, &vendor)
        .await
        .unwrap();
    assert_eq!(
        store.result_vendor_status(result_id).await.unwrap(),
        Some(vendor.clone())
    );
    assert_eq!(
        store.latest_vendor_status(svc.id).await.unwrap(),
        Some(vendor)
    );
}

/// A lower id that commits after a higher one (concurrent inserts on PostgreSQL take their ids
/// at insert and become visible at commit) is still claimed once it appears, and only once.
async fn results_cursor_waits_for_late_commits(url: Option<String>) {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(opts(&dir, &url)).await.unwrap();
    let svc = store.create_service("gh", &data("t")).await.unwrap();
    let RecordOutcome::Stored { result_id, .. } =
        store.record_result(&result(svc.id, None, 1)).await.unwrap()
    else {
        panic!("not stored");
    };
    assert!(
        store
            .claim_results_for_incidents(10)
            .await
            .unwrap()
            .is_empty()
    );
    let claimed = || async {
        store
            .claim_results_for_incidents(10)
            .await
            .unwrap()
            .iter()
            .map(|r| r.result_id)
            .collect::<Vec<i64>>()
    };
    // id + 2 commits first; id + 1 is still in flight.
    super::insert_result_with_id(&store, result_id + 2, svc.id, 3).await;
    assert_eq!(claimed().await, [result_id + 2]);
    assert!(claimed().await.is_empty());
    super::insert_result_with_id(&store, result_id + 1, svc.id, 2).await;
    assert_eq!(
        claimed().await,
        [result_id + 1],
        "the late commit is claimed"
    );
    assert!(claimed().await.is_empty(), "and only once");
    store.close().await;
}
