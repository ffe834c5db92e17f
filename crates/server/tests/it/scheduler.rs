//! The in-process scheduler, driven one round at a time on a manual clock: every enabled
//! service is checked once per interval, disabled ones never; results go through the hook.

use std::sync::Arc;
use std::sync::atomic::AtomicUsize;
use std::time::Duration;

use opsdeck_core::ManualClock;
use opsdeck_server::events::CheckEvent;
use opsdeck_server::scheduler::tick_once;
use reqwest::StatusCode;
use serde_json::json;
use tokio::task::JoinSet;

use crate::on_both;
use crate::support::{Db, spawn_with};

on_both!(checks_enabled_services_on_their_interval);

async fn checks_enabled_services_on_their_interval(db: Db) {
    let clock = ManualClock::at_ms(1_800_000_000_000);
    let c = clock.clone();
    let Some(app) = spawn_with(db, move |s| {
        s.clock = c;
        s.check_interval = Duration::from_secs(60);
    })
    .await
    else {
        return;
    };
    let state = app.server.as_ref().unwrap().state.clone();
    let mut events = state.checks.subscribe();
    app.create("on").await;
    let mut off = app.mock_service("off", "t");
    off["enabled"] = json!(false);
    assert_eq!(
        app.post("/api/v1/services", off).await.status,
        StatusCode::CREATED
    );
    let slow = Arc::new(AtomicUsize::new(0));
    let mut tasks = JoinSet::new();
    let round = |tasks: &mut JoinSet<()>| {
        let state = state.clone();
        let slow = slow.clone();
        let mut t = std::mem::take(tasks);
        async move {
            tick_once(&state, &slow, &mut t).await.unwrap();
            let n = t.len();
            while t.join_next().await.is_some() {}
            n
        }
    };
    // Due at creation.
    assert_eq!(round(&mut tasks).await, 1);
    // Not due again until the interval has passed.
    assert_eq!(round(&mut tasks).await, 0);
    clock.advance(Duration::from_secs(59));
    assert_eq!(round(&mut tasks).await, 0);
    clock.advance(Duration::from_secs(1));
    assert_eq!(round(&mut tasks).await, 1);
    clock.advance(Duration::from_secs(60));
    assert_eq!(round(&mut tasks).await, 1);

    let store = &state.store;
    let on = store.get_service("on").await.unwrap();
    assert_eq!(store.results_for(on.id, 100).await.unwrap().len(), 3);
    let off = store.get_service("off").await.unwrap();
    assert!(store.results_for(off.id, 10).await.unwrap().is_empty());
    // Every stored result was announced, with the previous status.
    let mut announced = Vec::new();
    while let Ok(e) = events.try_recv() {
        if let CheckEvent::ResultRecorded(r) = e {
            assert_eq!(r.source, opsdeck_server::events::CheckSource::Scheduled);
            announced.push((r.service.clone(), r.previous_status));
        }
    }
    assert_eq!(announced.len(), 3, "{announced:?}");
    assert_eq!(announced[0].1, None);
    assert_eq!(announced[1].1, Some(opsdeck_core::Status::Connected));
    state.snapshot.refresh().await;
    let status = app.get("/api/v1/status").await;
    assert_eq!(status.body["summary"]["connected"], 1, "{}", status.text);
    assert_eq!(status.body["summary"]["unknown"], 1);
    app.finish().await;
}
