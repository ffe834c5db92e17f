//! The in-process scheduler: every enabled service is checked on its interval, disabled ones
//! are not.

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::json;

use crate::on_both;
use crate::support::{Db, spawn_with};

on_both!(checks_enabled_services_on_their_interval);

async fn checks_enabled_services_on_their_interval(db: Db) {
    let Some(app) = spawn_with(db, |s| {
        s.scheduler = true;
        s.check_interval = Duration::from_secs(1);
        s.scheduler_tick = Duration::from_millis(50);
    })
    .await
    else {
        return;
    };
    app.create("on").await;
    let mut off = app.mock_service("off", "t");
    off["enabled"] = json!(false);
    assert_eq!(
        app.post("/api/v1/services", off).await.status,
        StatusCode::CREATED
    );
    tokio::time::sleep(Duration::from_millis(2600)).await;
    let store = &app.server.as_ref().unwrap().state.store;
    let on = store.get_service("on").await.unwrap();
    let results = store.results_for(on.id, 100).await.unwrap();
    assert!(
        (2..=4).contains(&results.len()),
        "{} results in 2.6 s at a 1 s interval",
        results.len()
    );
    let mut times: Vec<i64> = results.iter().map(|r| r.result.checked_at).collect();
    times.sort_unstable();
    for w in times.windows(2) {
        assert!(w[1] - w[0] >= 800, "two checks {} ms apart", w[1] - w[0]);
    }
    let off = store.get_service("off").await.unwrap();
    assert!(store.results_for(off.id, 10).await.unwrap().is_empty());
    let status = app.get("/api/v1/status").await;
    assert_eq!(status.body["summary"]["connected"], 1, "{}", status.text);
    assert_eq!(status.body["summary"]["unknown"], 1);
    app.finish().await;
}
