//! The check pipeline: a client that disconnects aborts its probe and cannot cause a second
//! concurrent check of a service; every stored result is announced exactly once on the hook;
//! services deleted or changed mid-check lose only their own result, never with a 500.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::sync::atomic::AtomicUsize;

use opsdeck_server::events::{CheckEvent, CheckSource};
use opsdeck_server::scheduler::tick_once;
use reqwest::{Method, StatusCode};
use serde_json::json;
use tokio::task::JoinSet;

use crate::on_both;
use crate::support::{ADMIN, Db, GOOD_TOKEN, HoldingVendor, spawn_app};

on_both!(
    client_disconnect_aborts_the_probe,
    every_stored_result_is_announced_once,
    deleted_or_changed_mid_check
);

async fn client_disconnect_aborts_the_probe(db: Db) {
    let vendor = HoldingVendor::start().await;
    let Some(app) = spawn_app(db).await else {
        return;
    };
    let state = app.server.as_ref().unwrap().state.clone();
    let r = app.post("/api/v1/services", vendor.service("held")).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    let url = format!("{}/api/v1/services/held/test", app.base);

    // A client starts a test and goes away while the vendor is still thinking.
    let client = app.client.clone();
    let u = url.clone();
    let first = tokio::spawn(async move { client.post(u).bearer_auth(ADMIN).send().await });
    vendor.wait_seen(1).await;
    first.abort();
    // The server aborts the probe: the vendor sees the connection close unanswered.
    vendor.wait_idle().await;
    assert_eq!(
        vendor.closed_early(),
        1,
        "the probe was aborted, not left running"
    );

    // A second test, and a scheduled check of the same service meanwhile: one at a time.
    let client = app.client.clone();
    let second = tokio::spawn(async move { client.post(url).bearer_auth(ADMIN).send().await });
    vendor.wait_seen(2).await;
    let mut tasks = JoinSet::new();
    tick_once(&state, &Arc::new(AtomicUsize::new(0)), &mut tasks)
        .await
        .unwrap();
    assert_eq!(tasks.len(), 1, "the scheduler claimed the due service");
    vendor.release();
    let resp = second.await.unwrap().unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    let report: serde_json::Value = resp.json().await.unwrap();
    assert_eq!(report["status"], "connected", "{report}");
    while tasks.join_next().await.is_some() {}
    assert_eq!(
        vendor.max_open(),
        1,
        "never two checks of one service at once"
    );
    let rec = state.store.get_service("held").await.unwrap();
    assert_eq!(
        state.store.results_for(rec.id, 10).await.unwrap().len(),
        2,
        "the second test and the scheduled check were stored; the aborted one was not"
    );
    app.finish().await;
}

async fn every_stored_result_is_announced_once(db: Db) {
    let Some(app) = spawn_app(db).await else {
        return;
    };
    let state = app.server.as_ref().unwrap().state.clone();
    let mut events = state.checks.subscribe();
    app.create("a").await;
    app.create("b").await;
    let r = app
        .post("/api/v1/services", app.mock_service("c", "wrong-token"))
        .await;
    assert_eq!(r.status, StatusCode::CREATED);
    let post = |path: &'static str| app.call(Method::POST, path, Some(ADMIN), None);
    assert_eq!(post("/api/v1/services/a/test").await.status, StatusCode::OK);
    assert_eq!(post("/api/v1/test-all").await.status, StatusCode::OK);
    assert_eq!(
        post("/api/v1/services/a/metrics").await.status,
        StatusCode::OK
    );
    let mut tasks = JoinSet::new();
    tick_once(&state, &Arc::new(AtomicUsize::new(0)), &mut tasks)
        .await
        .unwrap();
    while tasks.join_next().await.is_some() {}

    let mut announced = Vec::new();
    let mut metrics = Vec::new();
    while let Ok(e) = events.try_recv() {
        match e {
            CheckEvent::ResultRecorded(r) => announced.push(r),
            CheckEvent::MetricsRecorded(m) => metrics.push(m),
            _ => {}
        }
    }
    // 1 test + 3 test-all + 3 scheduled.
    assert_eq!(announced.len(), 7);
    let ids: BTreeSet<i64> = announced.iter().map(|r| r.result_id).collect();
    assert_eq!(ids.len(), 7, "each result once");
    let mut stored = BTreeSet::new();
    for name in ["a", "b", "c"] {
        let rec = state.store.get_service(name).await.unwrap();
        for r in state.store.results_for(rec.id, 100).await.unwrap() {
            stored.insert(r.id);
        }
    }
    assert_eq!(
        ids, stored,
        "every stored result was announced, nothing else"
    );
    let scheduled = announced
        .iter()
        .filter(|r| r.source == CheckSource::Scheduled)
        .count();
    assert_eq!(scheduled, 3);
    let c_results: Vec<_> = announced.iter().filter(|r| r.service == "c").collect();
    assert_eq!(c_results[0].previous_status, None);
    assert_eq!(
        c_results[1].previous_status,
        Some(opsdeck_core::Status::Failed)
    );
    assert_eq!(
        c_results[1].report.failure,
        Some(opsdeck_core::FailureKind::InvalidCredentials)
    );
    assert_eq!(announced[0].tags, vec!["t1".to_owned()]);
    // The POST collection and the two connected scheduled checks' collections.
    assert_eq!(metrics.len(), 3, "{metrics:?}");
    assert!(metrics.iter().all(|m| m.metrics[0].name == "mock_value"));
    app.finish().await;
}

async fn deleted_or_changed_mid_check(db: Db) {
    let logs = opsdeck_testkit::LogCapture::install();
    let vendor = HoldingVendor::start().await;
    let Some(app) = spawn_app(db).await else {
        return;
    };
    let state = app.server.as_ref().unwrap().state.clone();
    let mut events = state.checks.subscribe();
    app.create("a").await;
    app.create("b").await;
    assert_eq!(
        app.post("/api/v1/services", vendor.service("slow"))
            .await
            .status,
        StatusCode::CREATED
    );
    // test-all while one service is deleted mid-check: 200, the others stored.
    let client = app.client.clone();
    let url = format!("{}/api/v1/test-all", app.base);
    let all = tokio::spawn(async move { client.post(url).bearer_auth(ADMIN).send().await });
    vendor.wait_seen(1).await;
    assert_eq!(
        app.delete("/api/v1/services/slow").await.status,
        StatusCode::NO_CONTENT
    );
    vendor.release();
    let resp = all.await.unwrap().unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    let reports: serde_json::Value = resp.json().await.unwrap();
    assert_eq!(reports.as_array().unwrap().len(), 3, "{reports}");
    for name in ["a", "b"] {
        let rec = state.store.get_service(name).await.unwrap();
        assert_eq!(state.store.results_for(rec.id, 10).await.unwrap().len(), 1);
    }
    let mut names = Vec::new();
    while let Ok(e) = events.try_recv() {
        if let CheckEvent::ResultRecorded(r) = e {
            names.push(r.service.clone());
        }
    }
    names.sort();
    assert_eq!(names, ["a", "b"]);

    // A single test of a service deleted meanwhile: the report, no 500, nothing stored.
    let vendor2 = HoldingVendor::start().await;
    app.post("/api/v1/services", vendor2.service("gone")).await;
    let client = app.client.clone();
    let url = format!("{}/api/v1/services/gone/test", app.base);
    let one = tokio::spawn(async move { client.post(url).bearer_auth(ADMIN).send().await });
    vendor2.wait_seen(1).await;
    app.delete("/api/v1/services/gone").await;
    vendor2.release();
    assert_eq!(one.await.unwrap().unwrap().status(), StatusCode::OK);

    // Scheduled checks: one deleted, one changed (PATCH) while held at the vendor.
    let vendor3 = HoldingVendor::start().await;
    app.post("/api/v1/services", vendor3.service("del")).await;
    let changed = app.post("/api/v1/services", vendor3.service("chg")).await;
    let version = changed.body["version"].as_i64().unwrap();
    let mut tasks = JoinSet::new();
    let slow = Arc::new(AtomicUsize::new(0));
    tick_once(&state, &slow, &mut tasks).await.unwrap();
    vendor3.wait_seen(2).await;
    app.delete("/api/v1/services/del").await;
    let patched = app
        .patch(
            "/api/v1/services/chg",
            json!({"version": version, "config": {"base_url": app.mock.uri(), "token": GOOD_TOKEN}}),
        )
        .await;
    assert_eq!(patched.status, StatusCode::OK, "{}", patched.text);
    vendor3.release();
    while tasks.join_next().await.is_some() {}
    let chg = state.store.get_service("chg").await.unwrap();
    assert!(
        state
            .store
            .results_for(chg.id, 10)
            .await
            .unwrap()
            .is_empty(),
        "the old config's result is not stored"
    );
    // The PATCH released the lease: the new config is checked at once.
    tick_once(&state, &slow, &mut tasks).await.unwrap();
    while tasks.join_next().await.is_some() {}
    let results = state.store.results_for(chg.id, 10).await.unwrap();
    assert_eq!(results.len(), 1);
    assert_eq!(results[0].result.status, opsdeck_core::Status::Connected);
    let log = logs.contents();
    assert!(
        log.contains("service deleted while it was being checked"),
        "{log}"
    );
    assert!(
        log.contains("service changed while it was being checked"),
        "{log}"
    );
    assert!(!log.contains("lease expired"), "{log}");
    assert!(!log.contains("internal error"), "{log}");
    app.finish().await;
}
