//! Alerts end to end (issue 11): rules over real check results, flap control, reminders and
//! silences under an injected clock; signed webhook delivery against a wiremock receiver with
//! retries, `Retry-After` and give-up; the outbox across a restart and across two instances;
//! budgets once per threshold per month; the API and provisioning contracts.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{TimeZone, Utc};
use hmac::{Hmac, Mac};
use opsdeck_core::domain::Money;
use opsdeck_core::{Clock, ManualClock};
use opsdeck_monitor::budget::CostFigure;
use opsdeck_server::alerting::{CostLookup, Sources};
use opsdeck_server::state::AppState;
use opsdeck_store::OutboxState;
use reqwest::StatusCode;
use rust_decimal::Decimal;
use serde_json::{Value, json};
use sha2::Sha256;
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::on_both;
use crate::support::*;

const SECRET: &str = "whsec-0123456789abcdef";

on_both!(
    flapping_service_fires_once_and_resolves_once,
    retries_honour_retry_after_and_give_up,
    budgets_fire_once_per_threshold_per_month,
    api_contract
);

fn clock() -> Arc<ManualClock> {
    ManualClock::new(Utc.with_ymd_and_hms(2026, 3, 11, 0, 0, 0).unwrap())
}

async fn spawn_alerting(db: Db, clock: Arc<ManualClock>, max_attempts: u32) -> Option<TestApp> {
    spawn_with(db, move |s| {
        s.clock = clock;
        s.alerting.tick = Duration::from_millis(25);
        s.alerting.public_url = Some("https://opsdeck.example.com".into());
        s.alerting.channel_options.policy.max_attempts = max_attempts;
        s.alerting.channel_options.policy.initial_backoff = Duration::from_secs(30);
    })
    .await
}

fn state(app: &TestApp) -> AppState {
    app.server.as_ref().unwrap().state.clone()
}

/// A webhook receiver answering 200.
async fn receiver() -> MockServer {
    let hook = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/hook"))
        .respond_with(ResponseTemplate::new(200))
        .mount(&hook)
        .await;
    hook
}

/// The service's vendor: up (200) or down (500).
async fn set_vendor(app: &TestApp, up: bool) {
    app.mock.reset().await;
    let resp = if up {
        ResponseTemplate::new(200).set_body_json(json!({"login": "octo"}))
    } else {
        ResponseTemplate::new(500).set_body_json(json!({"error": "down"}))
    };
    Mock::given(method("GET"))
        .and(path("/check"))
        .respond_with(resp)
        .mount(&app.mock)
        .await;
    Mock::given(method("GET"))
        .and(path("/metrics"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"value": 1})))
        .mount(&app.mock)
        .await;
}

async fn check(app: &TestApp, service: &str, up: bool) {
    set_vendor(app, up).await;
    let r = app
        .post(&format!("/api/v1/services/{service}/test"), json!({}))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    settle(app).await;
}

/// Waits until every stored result is evaluated and the outbox has nothing due now.
async fn settle(app: &TestApp) {
    let st = state(app);
    for _ in 0..400 {
        let max: Option<i64> = sqlx::query_scalar("SELECT MAX(id) FROM check_results")
            .fetch_one(st.store.pool())
            .await
            .unwrap();
        let cursor: Option<i64> =
            sqlx::query_scalar("SELECT value FROM alert_cursors WHERE name = 'results'")
                .fetch_optional(st.store.pool())
                .await
                .unwrap();
        let now = st.clock.now_ms();
        let due: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM alert_outbox WHERE state = 'pending' AND next_attempt_at <= $1",
        )
        .bind(now)
        .fetch_one(st.store.pool())
        .await
        .unwrap();
        if cursor.unwrap_or(-1) >= max.unwrap_or(0) && due == 0 {
            return;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!("the alert loops did not settle");
}

fn verify(req: &wiremock::Request) -> Value {
    let h = |n: &str| {
        req.headers
            .get(n)
            .unwrap_or_else(|| panic!("missing {n}"))
            .to_str()
            .unwrap()
            .to_owned()
    };
    let ts = h("x-opsdeck-timestamp");
    let sig = h("x-opsdeck-signature");
    let mut mac = Hmac::<Sha256>::new_from_slice(SECRET.as_bytes()).unwrap();
    mac.update(ts.as_bytes());
    mac.update(b".");
    mac.update(&req.body);
    let expected = format!("sha256={}", hex::encode(mac.finalize().into_bytes()));
    assert_eq!(sig, expected, "the signature verifies");
    let body: Value = serde_json::from_slice(&req.body).unwrap();
    assert_eq!(h("x-opsdeck-event"), body["event"]);
    assert_eq!(h("x-opsdeck-delivery"), body["delivery"]);
    assert_eq!(h("content-type"), "application/json");
    body
}

async fn setup_rule(app: &TestApp, hook: &MockServer, extra: Value) {
    let r = app
        .post(
            "/api/v1/channels",
            json!({"name": "ops-hook", "kind": "webhook", "url": format!("{}/hook", hook.uri()), "secret": SECRET}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    let mut rule = json!({
        "name": "connection-down",
        "condition": "status",
        "services": ["*"],
        "failure_threshold": 3,
        "success_threshold": 2,
        "remind_every": "1h",
        "send_resolved": true,
        "channels": ["ops-hook"],
    });
    if let (Some(m), Value::Object(e)) = (rule.as_object_mut(), extra) {
        m.extend(e);
    }
    let r = app.post("/api/v1/alerts", rule).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
}

async fn flapping_service_fires_once_and_resolves_once(db: Db) {
    let clock = clock();
    let Some(app) = spawn_alerting(db, clock.clone(), 3).await else {
        return;
    };
    let hook = receiver().await;
    app.create("gh-main").await;
    setup_rule(&app, &hook, json!({})).await;

    // fail / ok / fail / fail / fail: one firing, at the third consecutive failure.
    for up in [false, true, false, false] {
        check(&app, "gh-main", up).await;
        clock.advance(Duration::from_secs(60));
    }
    assert!(hook.received_requests().await.unwrap().is_empty());
    check(&app, "gh-main", false).await;
    let got = hook.received_requests().await.unwrap();
    assert_eq!(got.len(), 1, "exactly one firing");
    let body = verify(&got[0]);
    // `incident` and `vendor_status` (issue 12) are additive: present when the incidents loop
    // has opened an incident for the service by the time the alert is sent.
    let keys: std::collections::BTreeSet<&str> = body
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .filter(|k| !["incident", "vendor_status"].contains(k))
        .collect();
    assert_eq!(
        keys,
        std::collections::BTreeSet::from([
            "event",
            "delivery",
            "alert",
            "service",
            "provider",
            "status",
            "failure",
            "message",
            "started_at",
            "at",
            "url"
        ])
    );
    assert_eq!(body["event"], "alert.firing");
    assert_eq!(body["alert"], "connection-down");
    assert_eq!(body["service"], "gh-main");
    assert_eq!(body["provider"], "mock");
    assert_eq!(body["status"], "failed");
    assert_eq!(
        body["url"],
        "https://opsdeck.example.com/#/services/gh-main"
    );
    assert_eq!(body["started_at"], "2026-03-11T00:02:00.000Z");

    // Still failing: a reminder only once remind_every (1h) has passed since the firing.
    clock.advance(Duration::from_secs(600));
    check(&app, "gh-main", false).await;
    assert_eq!(hook.received_requests().await.unwrap().len(), 1);
    clock.advance(Duration::from_secs(3600));
    check(&app, "gh-main", false).await;
    let got = hook.received_requests().await.unwrap();
    assert_eq!(got.len(), 2);
    assert_eq!(verify(&got[1])["event"], "alert.reminder");

    // Recovery: one resolve, after the second success.
    check(&app, "gh-main", true).await;
    assert_eq!(hook.received_requests().await.unwrap().len(), 2);
    check(&app, "gh-main", true).await;
    check(&app, "gh-main", true).await;
    let got = hook.received_requests().await.unwrap();
    assert_eq!(got.len(), 3, "exactly one resolve");
    assert_eq!(verify(&got[2])["event"], "alert.resolved");
    let ids: std::collections::BTreeSet<String> = got
        .iter()
        .map(|r| verify(r)["delivery"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(ids.len(), 3, "one delivery id per notification");

    // A silence: the state still changes and is recorded, nothing is sent — not even a
    // resolve for the firing nobody heard of.
    let r = app
        .post(
            "/api/v1/silences",
            json!({"name": "maintenance", "services": ["gh-*"], "until": "2026-04-01T00:00:00Z", "reason": "planned upgrade"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    for _ in 0..3 {
        check(&app, "gh-main", false).await;
    }
    let states = app.get("/api/v1/alerts/states?service=gh-main").await;
    assert_eq!(states.body[0]["firing"], true, "{}", states.text);
    for _ in 0..2 {
        check(&app, "gh-main", true).await;
    }
    assert_eq!(hook.received_requests().await.unwrap().len(), 3);
    let h = app.get("/api/v1/alerts/history?since=0").await;
    assert_eq!(h.status, StatusCode::OK);
    let events: Vec<(String, bool)> = h
        .body
        .as_array()
        .unwrap()
        .iter()
        .rev()
        .map(|e| {
            (
                e["event"].as_str().unwrap().to_owned(),
                e["notified"] == true,
            )
        })
        .collect();
    assert_eq!(
        events,
        [
            ("alert.firing".to_owned(), true),
            ("alert.reminder".to_owned(), true),
            ("alert.resolved".to_owned(), true),
            ("alert.firing".to_owned(), false),
            ("alert.resolved".to_owned(), false),
        ]
    );
    assert_eq!(
        h.body[1]["suppressed"], "silenced by maintenance",
        "{}",
        h.text
    );
    let since = app
        .get("/api/v1/alerts/history?since=2026-03-11T01:00:00Z")
        .await;
    assert_eq!(since.body.as_array().unwrap().len(), 4);
    app.finish().await;
}

async fn retries_honour_retry_after_and_give_up(db: Db) {
    let clock = clock();
    let Some(app) = spawn_alerting(db, clock.clone(), 3).await else {
        return;
    };
    let hook = MockServer::start().await;
    // First a 500, then a 429 asking for 120 s, then accepted.
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(500))
        .up_to_n_times(1)
        .with_priority(1)
        .mount(&hook)
        .await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(429).insert_header("retry-after", "120"))
        .up_to_n_times(1)
        .with_priority(2)
        .mount(&hook)
        .await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(200))
        .with_priority(3)
        .mount(&hook)
        .await;
    app.create("svc").await;
    setup_rule(&app, &hook, json!({"failure_threshold": 1})).await;
    check(&app, "svc", false).await;
    let st = state(&app);
    let row = &st.store.outbox(10).await.unwrap()[0];
    assert_eq!((row.state, row.attempts), (OutboxState::Pending, 1));
    assert!(
        row.last_error.as_deref().unwrap().contains("500"),
        "{row:?}"
    );
    // The backoff after the first failure is 15-30 s (30 s with jitter).
    let wait = row.next_attempt_at - clock.now_ms();
    assert!((15_000..=30_000).contains(&wait), "{wait}");
    clock.advance(Duration::from_secs(30));
    settle(&app).await;
    let row = &st.store.outbox(10).await.unwrap()[0];
    assert_eq!(row.attempts, 2);
    assert_eq!(
        row.next_attempt_at,
        clock.now_ms() + 120_000,
        "Retry-After is honoured"
    );
    clock.advance(Duration::from_secs(120));
    settle(&app).await;
    let row = &st.store.outbox(10).await.unwrap()[0];
    assert_eq!((row.state, row.attempts), (OutboxState::Delivered, 3));
    let got = hook.received_requests().await.unwrap();
    assert_eq!(got.len(), 3);
    let bodies: Vec<Value> = got.iter().map(verify).collect();
    assert!(
        bodies.iter().all(|b| b == &bodies[0]),
        "every retry sends the same body and delivery id"
    );

    // A receiver that always fails: gave up after max_attempts (3), recorded.
    hook.reset().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(503))
        .mount(&hook)
        .await;
    check(&app, "svc", true).await; // resolve (success_threshold 2: not yet)
    check(&app, "svc", true).await; // resolved → queued
    for _ in 0..3 {
        clock.advance(Duration::from_secs(3600));
        settle(&app).await;
    }
    let row = &st.store.outbox(10).await.unwrap()[0];
    assert_eq!(
        (row.state, row.attempts),
        (OutboxState::GaveUp, 3),
        "{row:?}"
    );
    assert!(
        row.last_error
            .as_deref()
            .unwrap()
            .contains("Gave up after 3 attempts"),
        "{row:?}"
    );
    assert_eq!(hook.received_requests().await.unwrap().len(), 3);
    app.finish().await;
}

/// Month-to-date cost per service, set by the test.
#[derive(Debug, Default)]
struct FakeCosts(Mutex<BTreeMap<String, Decimal>>);

#[async_trait::async_trait]
impl CostLookup for FakeCosts {
    async fn month_to_date(
        &self,
        _: &AppState,
        service: &str,
        _: &[opsdeck_core::Metric],
        now: chrono::DateTime<Utc>,
    ) -> CostFigure {
        match self.0.lock().unwrap().get(service) {
            Some(d) => CostFigure::Reported {
                month_to_date: vec![Money::new(*d, "USD")],
                forecast_month_end: Vec::new(),
                as_of_ms: now.timestamp_millis(),
            },
            None => CostFigure::Unavailable {
                reason: "it cannot report cost".into(),
            },
        }
    }
}

async fn budgets_fire_once_per_threshold_per_month(db: Db) {
    // The first collection is at 2026-03-11T00:00Z: 10 of 31 days elapsed.
    let clock = ManualClock::new(Utc.with_ymd_and_hms(2026, 3, 10, 23, 59, 0).unwrap());
    let costs = Arc::new(FakeCosts::default());
    let c = costs.clone();
    let ck = clock.clone();
    let Some(app) = spawn_with(db, move |s| {
        s.clock = ck;
        s.alerting.tick = Duration::from_millis(25);
        s.alerting.sources = Sources {
            costs: c,
            ..Sources::default()
        };
    })
    .await
    else {
        return;
    };
    let hook = receiver().await;
    app.create("openai-main").await;
    app.create("no-cost").await;
    let r = app
        .post(
            "/api/v1/channels",
            json!({"name": "ops-hook", "kind": "webhook", "url": format!("{}/hook", hook.uri()), "secret": SECRET}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED);
    let r = app
        .post(
            "/api/v1/budgets",
            json!({"name": "ai-spend", "services": ["*"], "monthly_limit": 100, "currency": "USD",
                   "thresholds": [50, 80, 100], "forecast_thresholds": [100], "channels": ["ops-hook"]}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    // 40 spent after 10 days: run-rate 40 × 31 / 10 = 124 ≥ 100 % forecast; 40 % actual.
    collect(&app, &costs, &clock, "40").await;
    let h = app.get("/api/v1/alerts/history?since=0").await;
    let st = app.get("/api/v1/budgets/ai-spend").await;
    assert_eq!(
        sent(&hook).await,
        [("forecast".to_owned(), 100)],
        "{} {}",
        h.text,
        st.text
    );
    let b = verify(&hook.received_requests().await.unwrap()[0]);
    assert_eq!(b["spent"], "40");
    assert_eq!(b["forecast"], "124");
    assert_eq!(b["limit"], "100");
    assert_eq!(b["month"], "2026-03");
    // Reached at 10 days × 100 / 40 = day 25 after the 1st: 2026-03-26.
    assert_eq!(b["reach_date"], "2026-03-26");
    let status = app.get("/api/v1/budgets/ai-spend").await;
    assert_eq!(status.body["status"]["spent"], "40", "{}", status.text);
    assert_eq!(
        status.body["status"]["not_counted"][0]["service"], "no-cost",
        "a service without cost is named, not counted as zero"
    );
    collect(&app, &costs, &clock, "55").await;
    collect(&app, &costs, &clock, "56").await;
    collect(&app, &costs, &clock, "85").await;
    collect(&app, &costs, &clock, "85").await;
    collect(&app, &costs, &clock, "101").await;
    assert_eq!(
        sent(&hook).await,
        [
            ("forecast".to_owned(), 100),
            ("actual".to_owned(), 50),
            ("actual".to_owned(), 80),
            ("actual".to_owned(), 100),
        ],
        "each threshold once"
    );
    // A new month starts empty: 60 on April 1st fires 50 % again (no forecast yet: too early).
    clock.set(Utc.with_ymd_and_hms(2026, 4, 1, 11, 59, 0).unwrap());
    collect(&app, &costs, &clock, "60").await;
    let s = sent(&hook).await;
    assert_eq!(s.len(), 5);
    assert_eq!(s[4], ("actual".to_owned(), 50));
    app.finish().await;
}

/// Waits until every service's latest collection is evaluated and nothing is due.
async fn settle_budget(app: &TestApp) {
    let st = state(app);
    for _ in 0..400 {
        let behind: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM service_metrics m LEFT JOIN alert_cursors c \
             ON c.name = 'metrics:' || CAST(m.service_id AS TEXT) \
             WHERE c.value IS NULL OR c.value < m.collected_at",
        )
        .fetch_one(st.store.pool())
        .await
        .unwrap();
        let due: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM alert_outbox WHERE state = 'pending' AND next_attempt_at <= $1",
        )
        .bind(st.clock.now_ms())
        .fetch_one(st.store.pool())
        .await
        .unwrap();
        if behind == 0 && due == 0 {
            return;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!("the budget evaluation did not settle");
}

async fn api_contract(db: Db) {
    let Some(app) = spawn_alerting(db, clock(), 3).await else {
        return;
    };
    // Every problem at once, with its field.
    let r = app
        .post(
            "/api/v1/alerts",
            json!({"name": "bad", "condition": "latency", "channels": ["nope"], "remind_every": "5s"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.text);
    let fields: Vec<&str> = r.body["details"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["field"].as_str().unwrap())
        .collect();
    for f in ["above_ms", "channels", "remind_every"] {
        assert!(fields.contains(&f), "{f} in {}", r.text);
    }
    // Channel secrets are write-only.
    let r = app
        .post(
            "/api/v1/channels",
            json!({"name": "team-slack", "kind": "slack", "webhook_url": "https://hooks.slack.com/services/T0/B0/SECRETPATH"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    assert!(!r.text.contains("SECRETPATH"), "{}", r.text);
    assert_eq!(r.body["config"]["webhook_url"], json!({"set": true}));
    assert_eq!(r.body["destination"], "hooks.slack.com");
    let list = app.get("/api/v1/channels").await;
    assert!(!list.text.contains("SECRETPATH"));
    // PATCH without the secret keeps it.
    let r = app
        .patch(
            "/api/v1/channels/team-slack",
            json!({"webhook_url": {"set": true}, "version": 1}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.body["version"], 2);
    // Read-only tokens read, never write.
    let tok = app
        .post("/api/v1/tokens", json!({"name": "viewer", "role": "read"}))
        .await;
    let read = tok.body["token"].as_str().unwrap().to_owned();
    let r = app
        .call(reqwest::Method::GET, "/api/v1/channels", Some(&read), None)
        .await;
    assert_eq!(r.status, StatusCode::OK);
    let r = app
        .call(
            reqwest::Method::DELETE,
            "/api/v1/channels/team-slack",
            Some(&read),
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    // Send a test notification: the receiver gets event `test`.
    let hook = receiver().await;
    let r = app
        .post(
            "/api/v1/channels",
            json!({"name": "ops-hook", "kind": "webhook", "url": format!("{}/hook", hook.uri()), "secret": SECRET}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    let r = app.post("/api/v1/channels/ops-hook/test", json!({})).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.body["ok"], true, "{}", r.text);
    let got = hook.received_requests().await.unwrap();
    assert_eq!(verify(&got[0])["event"], "test");
    let doc = app.get("/api/v1/openapi.json").await;
    for p in [
        "/channels",
        "/channels/{name}",
        "/channels/{name}/test",
        "/alerts",
        "/alerts/{name}",
        "/alerts/history",
        "/alerts/states",
        "/silences",
        "/silences/{name}",
        "/budgets",
        "/budgets/{name}",
    ] {
        assert!(
            doc.body["paths"].get(p).is_some(),
            "{p} in the OpenAPI document"
        );
    }
    // A channel a rule names cannot be deleted from under it.
    let r = app
        .post(
            "/api/v1/alerts",
            json!({"name": "down", "condition": "status", "services": ["*"], "channels": ["team-slack"]}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    let r = app.delete("/api/v1/channels/team-slack").await;
    assert_eq!(r.status, StatusCode::CONFLICT, "{}", r.text);
    assert_eq!(r.body["code"], "in_use");
    assert!(r.text.contains("alert \\\"down\\\""), "{}", r.text);
    let r = app.delete("/api/v1/alerts/down").await;
    assert_eq!(r.status, StatusCode::NO_CONTENT);
    let r = app.delete("/api/v1/channels/team-slack").await;
    assert_eq!(r.status, StatusCode::NO_CONTENT);
    app.finish().await;
}

async fn collect(app: &TestApp, costs: &FakeCosts, clock: &ManualClock, spent: &str) {
    // Each collection is a new one (the evaluator keys collections by their time).
    clock.advance(Duration::from_secs(60));
    costs
        .0
        .lock()
        .unwrap()
        .insert("openai-main".into(), spent.parse().unwrap());
    for svc in ["openai-main", "no-cost"] {
        let r = app
            .post(&format!("/api/v1/services/{svc}/metrics"), json!({}))
            .await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    }
    settle_budget(app).await;
}

async fn sent(hook: &MockServer) -> Vec<(String, u64)> {
    hook.received_requests()
        .await
        .unwrap()
        .iter()
        .map(verify)
        .map(|b| {
            (
                b["kind"].as_str().unwrap().to_owned(),
                b["threshold"].as_u64().unwrap(),
            )
        })
        .collect()
}

const KEY: &str = "5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a";

fn alert_settings(
    dir: &tempfile::TempDir,
    db_url: Option<String>,
    clock: Arc<ManualClock>,
) -> opsdeck_server::Settings {
    let mut s = settings(dir, db_url);
    s.secret_key = Some(KEY.to_owned().into());
    s.clock = clock;
    s.alerting.tick = Duration::from_millis(25);
    s
}

mod restart {
    #[tokio::test]
    async fn sqlite() {
        super::restart_between_transition_and_delivery(crate::support::Db::Sqlite).await
    }
}

/// The transition is committed with its outbox row; the server stops before the receiver
/// accepted it; after the restart it is sent once, and the alert does not fire again.
async fn restart_between_transition_and_delivery(db: Db) {
    let clock = clock();
    let c = clock.clone();
    let Some(mut app) = spawn_with(db, move |s| {
        s.secret_key = Some(KEY.to_owned().into());
        s.clock = c;
        s.alerting.tick = Duration::from_millis(25);
    })
    .await
    else {
        return;
    };
    let hook = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(503).insert_header("retry-after", "3600"))
        .up_to_n_times(1)
        .with_priority(1)
        .mount(&hook)
        .await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(200))
        .with_priority(2)
        .mount(&hook)
        .await;
    app.create("svc").await;
    setup_rule(&app, &hook, json!({"failure_threshold": 1})).await;
    check(&app, "svc", false).await;
    assert_eq!(hook.received_requests().await.unwrap().len(), 1);
    let row = state(&app).store.outbox(10).await.unwrap()[0].clone();
    assert_eq!(row.state, OutboxState::Pending);
    app.server.take().unwrap().shutdown().await;

    clock.advance(Duration::from_secs(2 * 3600));
    let server = opsdeck_server::start(alert_settings(&app.dir, app.db_url.clone(), clock.clone()))
        .await
        .unwrap();
    app.base = format!("http://{}", server.addr);
    app.server = Some(server);
    settle(&app).await;
    check(&app, "svc", false).await;
    let got = hook.received_requests().await.unwrap();
    assert_eq!(verify(&got[0]), verify(&got[1]), "same delivery, same body");
    assert_eq!(verify(&got[0])["event"], "alert.firing");
    // The state survived the restart: still failing 2 h later is a reminder, not a new firing.
    assert_eq!(got.len(), 3);
    assert_eq!(verify(&got[2])["event"], "alert.reminder");
    let rows = state(&app).store.outbox(10).await.unwrap();
    assert_eq!(rows.len(), 2);
    assert!(rows.iter().all(|r| r.state == OutboxState::Delivered));
    app.finish().await;
}

mod two_instances {
    #[tokio::test]
    async fn postgres() {
        super::two_instances_deliver_once(crate::support::Db::Postgres).await
    }
}

/// Two instances on one PostgreSQL database: each result is evaluated once and each
/// notification delivered by one instance.
async fn two_instances_deliver_once(db: Db) {
    let clock = clock();
    let c = clock.clone();
    let Some(app) = spawn_with(db, move |s| {
        s.secret_key = Some(KEY.to_owned().into());
        s.clock = c;
        s.alerting.tick = Duration::from_millis(25);
    })
    .await
    else {
        return;
    };
    let dir_b = tempfile::tempdir().unwrap();
    let b = opsdeck_server::start(alert_settings(&dir_b, app.db_url.clone(), clock.clone()))
        .await
        .unwrap();
    let base_b = format!("http://{}", b.addr);
    let hook = receiver().await;
    app.create("svc").await;
    setup_rule(&app, &hook, json!({"failure_threshold": 3})).await;
    set_vendor(&app, false).await;
    for i in 0..6 {
        let base = if i % 2 == 0 { &app.base } else { &base_b };
        let r = app
            .client
            .post(format!("{base}/api/v1/services/svc/test"))
            .bearer_auth(ADMIN)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::OK);
    }
    settle(&app).await;
    // Let the other instance's loops have their turn too.
    for _ in 0..10 {
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    settle(&app).await;
    assert_eq!(hook.received_requests().await.unwrap().len(), 1);
    let h = app.get("/api/v1/alerts/history?since=0").await;
    assert_eq!(h.body.as_array().unwrap().len(), 1, "{}", h.text);
    b.shutdown().await;
    app.finish().await;
}

on_both!(forecasts_warn_ahead_of_the_failure);

/// Issue 12's predictive conditions on the evaluator: a token that expires in 5 days and a
/// quota that runs out before its reset each fire a warning while the checks still pass. The
/// loops are off (both features) so the test drives the evaluator with the reports' details,
/// as the results hook hands them over.
async fn forecasts_warn_ahead_of_the_failure(db: Db) {
    use opsdeck_core::{RateLimitInfo, Status};
    use opsdeck_server::alerting::{Recent, evaluate_results, init_cursor};
    use opsdeck_server::features::Feature;
    use opsdeck_store::{ConfigKind, NewCheckResult, RecordOutcome};
    let clock = clock();
    let c = clock.clone();
    let Some(app) = spawn_with(db, move |s| {
        s.clock = c;
        s.features.set(Feature::Alerts, false);
        s.features.set(Feature::CostAlerts, false);
        s.alerting.sources = Sources {
            latency: Arc::new(SlowerWeek),
            ..Sources::default()
        };
    })
    .await
    else {
        return;
    };
    let st = state(&app);
    app.create("gh-main").await;
    let svc = st.store.find_service("gh-main").await.unwrap().unwrap();
    for (name, body) in [
        (
            "token-expiry",
            json!({"condition": "credential_expiry_forecast", "within_days": 7, "services": ["*"], "channels": []}),
        ),
        (
            "quota",
            json!({"condition": "rate_limit_forecast", "window": "1h", "services": ["*"], "channels": []}),
        ),
        (
            "slower",
            json!({"condition": "latency_trend", "percent": 50, "min_checks": 5, "services": ["*"], "channels": []}),
        ),
    ] {
        st.store
            .create_alert_config(ConfigKind::Alert, name, &body, false)
            .await
            .unwrap();
    }
    init_cursor(&st.store).await.unwrap();
    let t0 = clock.now();
    let mut recent = Recent::default();
    // Two connected checks 10 minutes apart: 1000 requests used in 10 minutes, 2000 left,
    // reset 50 minutes after the first — the quota runs out 20 minutes after the second.
    for (minutes, remaining) in [(0, 3000), (10, 2000)] {
        clock.set(t0 + chrono::Duration::minutes(minutes));
        let mut report = opsdeck_core::ConnectionReport::disabled();
        report.status = Status::Connected;
        report.message = "Authenticated as octo".into();
        report.checked_at = clock.now();
        let mut rl = RateLimitInfo::new(Some("core".into()));
        rl.limit = Some(5000);
        rl.remaining = Some(remaining);
        rl.reset_at = Some(t0 + chrono::Duration::minutes(50));
        report.details.rate_limit = Some(rl);
        report.details.token_expires_at = Some(t0 + chrono::Duration::days(5));
        let outcome = st
            .store
            .record_result(&NewCheckResult {
                service_id: svc.id,
                config_version: None,
                checked_at: clock.now_ms(),
                status: Status::Connected,
                failure: None,
                latency_ms: 80,
                message: report.message.clone(),
                identity: None,
                instance: None,
                hint: None,
                details: serde_json::to_value(&report.details).ok(),
            })
            .await
            .unwrap();
        let RecordOutcome::Stored { result_id, .. } = outcome else {
            panic!("{outcome:?}");
        };
        recent.remember(result_id, report);
        evaluate_results(&st, &mut recent).await.unwrap();
    }
    let h = st.store.alert_history(0, None, 10).await.unwrap();
    let fired: BTreeMap<String, String> = h
        .iter()
        .map(|r| (r.entry.rule.clone(), r.entry.message.clone()))
        .collect();
    assert_eq!(h.len(), 3, "{fired:?}");
    assert!(
        fired["slower"].contains("response time up"),
        "{}",
        fired["slower"]
    );
    assert!(
        fired["token-expiry"].contains("2026-03-16"),
        "the expiry date: {}",
        fired["token-expiry"]
    );
    assert!(h.iter().all(|r| r.entry.event == "alert.firing"));
    let quota = &fired["quota"];
    assert!(
        quota.contains("2026-03-11T00:30:00"),
        "the run-out time: {quota}"
    );
    app.finish().await;
}

/// The issue's contract, verbatim.
const CONTRACT: &str = r#"
[channels.ops-hook]
kind = "webhook"
url = "https://hooks.example.com/opsdeck"
secret = "${OPSDECK_HOOK_SECRET}"

[channels.team-slack]
kind = "slack"
webhook_url = "${SLACK_WEBHOOK_URL}"

[channels.oncall-mail]
kind = "email"
smtp_url = "smtp://mailer.example.com:587"   # smtps:// for implicit TLS
username = "opsdeck"
password = "${SMTP_PASSWORD}"
from = "opsdeck@example.com"
to = ["oncall@example.com"]

[alerts.connection-down]
condition = "status"          # status | latency | credential_expiry | rate_limit | metric
services = ["*"]              # globs; or tags = [...], providers = [...]
failure_threshold = 3
success_threshold = 2
remind_every = "4h"           # optional
send_resolved = true
channels = ["ops-hook", "team-slack"]

[budgets.ai-spend]
category = "ai"               # or providers = [...], services = [...] (globs), tags = [...]
monthly_limit = 500
currency = "USD"
thresholds = [50, 80, 100]
forecast_thresholds = [100]
channels = ["team-slack"]
"#;

#[test]
fn provisioning_contract_parses_with_env_and_reports_every_problem() {
    use opsdeck_server::provision::parse_alerting;
    let env = |k: &str| match k {
        "OPSDECK_HOOK_SECRET" => Some("hook-secret-0123456789".to_owned()),
        "SLACK_WEBHOOK_URL" => Some("https://hooks.slack.com/services/T/B/X".to_owned()),
        "SMTP_PASSWORD" => Some("pw".to_owned()),
        _ => None,
    };
    let file = parse_alerting(CONTRACT, &env, &Default::default()).unwrap();
    let names: Vec<&str> = file.channels.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(names, ["oncall-mail", "ops-hook", "team-slack"]);
    assert_eq!(file.entries.len(), 2);
    // Every problem at once: missing variables, an unknown channel, a bad threshold.
    let bad = CONTRACT
        .replace("failure_threshold = 3", "failure_threshold = 0")
        .replace("channels = [\"team-slack\"]", "channels = [\"nope\"]");
    let problems = parse_alerting(&bad, &|_: &str| None, &Default::default()).unwrap_err();
    let text = problems.join("\n");
    for needle in [
        "OPSDECK_HOOK_SECRET",
        "SLACK_WEBHOOK_URL",
        "SMTP_PASSWORD",
        "failure_threshold",
        "unknown channel \"nope\"",
    ] {
        assert!(text.contains(needle), "{needle} in:\n{text}");
    }
}

on_both!(provisioned_entries_are_read_only);

async fn provisioned_entries_are_read_only(db: Db) {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("opsdeck.toml");
    let text = CONTRACT
        .replace("${OPSDECK_HOOK_SECRET}", "hook-secret-0123456789")
        .replace(
            "${SLACK_WEBHOOK_URL}",
            "https://hooks.slack.com/services/T/B/X",
        )
        .replace("${SMTP_PASSWORD}", "pw");
    std::fs::write(&file, text).unwrap();
    let f = file.clone();
    let Some(app) = spawn_with(db, move |s| s.config = Some(f)).await else {
        return;
    };
    let ch = app.get("/api/v1/channels").await;
    assert_eq!(ch.body.as_array().unwrap().len(), 3, "{}", ch.text);
    assert!(
        ch.body
            .as_array()
            .unwrap()
            .iter()
            .all(|c| c["provisioned"] == true)
    );
    assert!(!ch.text.contains("hook-secret") && !ch.text.contains("services/T/B/X"));
    let a = app.get("/api/v1/alerts/connection-down").await;
    assert_eq!(a.body["provisioned"], true, "{}", a.text);
    assert_eq!(a.body["remind_every"], "4h");
    let r = app
        .call(
            reqwest::Method::PUT,
            "/api/v1/alerts/connection-down",
            Some(ADMIN),
            Some(json!({"condition": "status", "services": ["*"], "channels": []})),
        )
        .await;
    assert_eq!(r.status, StatusCode::CONFLICT, "{}", r.text);
    assert_eq!(r.body["code"], "provisioned");
    let r = app.delete("/api/v1/channels/ops-hook").await;
    assert_eq!(r.status, StatusCode::CONFLICT);
    let b = app.get("/api/v1/budgets/ai-spend").await;
    assert_eq!(b.body["status"]["limit"], "500", "{}", b.text);
    app.finish().await;
}

/// p95 of 300 ms this week against 100 ms the week before.
#[derive(Debug)]
struct SlowerWeek;

#[async_trait::async_trait]
impl opsdeck_server::alerting::LatencyWindows for SlowerWeek {
    async fn windows(
        &self,
        _: i64,
        _: i64,
    ) -> Option<(
        opsdeck_monitor::digest::LatencyDigest,
        opsdeck_monitor::digest::LatencyDigest,
    )> {
        use opsdeck_monitor::digest::LatencyDigest;
        Some((
            LatencyDigest::from_values([300; 10]),
            LatencyDigest::from_values([100; 10]),
        ))
    }
}

on_both!(metric_rules_fire_on_collections);

async fn metric_rules_fire_on_collections(db: Db) {
    let Some(app) = spawn_alerting(db, clock(), 3).await else {
        return;
    };
    app.create("svc").await;
    let r = app
        .post(
            "/api/v1/alerts",
            json!({"name": "too-many", "condition": "metric", "metric": "mock_value",
                   "labels": {"kind": "test"}, "op": ">", "value": 10, "services": ["*"], "channels": []}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    let r = app
        .post(
            "/api/v1/budgets",
            json!({"name": "all", "services": ["*"], "monthly_limit": 10, "currency": "USD", "channels": []}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    let r = app.post("/api/v1/services/svc/metrics", json!({})).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    settle_budget(&app).await;
    let h = app.get("/api/v1/alerts/history?since=0").await;
    assert_eq!(h.body.as_array().unwrap().len(), 1, "{}", h.text);
    assert_eq!(h.body[0]["event"], "alert.firing");
    assert!(
        h.body[0]["message"]
            .as_str()
            .unwrap()
            .contains("mock_value{kind=\"test\"} = 42"),
        "{}",
        h.text
    );
    app.finish().await;
}

on_both!(slack_message_links_to_the_service_page);

async fn slack_message_links_to_the_service_page(db: Db) {
    let Some(app) = spawn_alerting(db, clock(), 3).await else {
        return;
    };
    let slack = receiver().await;
    app.create("gh-main").await;
    let r = app
        .post(
            "/api/v1/channels",
            json!({"name": "team-slack", "kind": "slack", "webhook_url": format!("{}/hook", slack.uri())}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    let r = app
        .post(
            "/api/v1/alerts",
            json!({"name": "down", "condition": "status", "services": ["*"], "failure_threshold": 1, "channels": ["team-slack"]}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    check(&app, "gh-main", false).await;
    let got = slack.received_requests().await.unwrap();
    assert_eq!(got.len(), 1);
    let body: Value = serde_json::from_slice(&got[0].body).unwrap();
    assert!(body["text"].as_str().unwrap().contains("gh-main"), "{body}");
    let blocks = body["blocks"].as_array().unwrap();
    assert_eq!(blocks[0]["type"], "header");
    let text = body.to_string();
    assert!(
        text.contains("https://opsdeck.example.com/#/services/gh-main"),
        "a link to the service page: {text}"
    );
    app.finish().await;
}

on_both!(email_alert_reaches_the_smtp_server);

/// An email channel through the outbox: STARTTLS with a test CA, login, one multipart message
/// with the delivery id in its headers.
async fn email_alert_reaches_the_smtp_server(db: Db) {
    use opsdeck_notify::testing::{Behaviour, Mode, SmtpServer};
    let smtp = SmtpServer::start(Behaviour::new(Mode::StartTls))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let ca = smtp.ca_pem.clone();
    let Some(app) = spawn_with(db, move |s| {
        s.clock = clock();
        s.alerting.tick = Duration::from_millis(25);
        s.alerting.channel_options.extra_root_certificates = vec![ca];
    })
    .await
    else {
        return;
    };
    app.create("gh-main").await;
    let r = app
        .post(
            "/api/v1/channels",
            json!({"name": "oncall-mail", "kind": "email",
                   "smtp_url": format!("smtp://localhost:{}", smtp.port),
                   "username": "opsdeck", "password": "smtp-pass-s3cret",
                   "from": "opsdeck@example.com", "to": ["oncall@example.com"]}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    assert!(!r.text.contains("smtp-pass-s3cret"));
    let r = app
        .post(
            "/api/v1/alerts",
            json!({"name": "down", "condition": "status", "services": ["*"], "failure_threshold": 1, "channels": ["oncall-mail"]}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    check(&app, "gh-main", false).await;
    let row = &state(&app).store.outbox(1).await.unwrap()[0];
    assert_eq!(row.state, OutboxState::Delivered, "{row:?}");
    let sessions: Vec<_> = smtp
        .sessions()
        .into_iter()
        .filter(|s| s.data.is_some())
        .collect();
    assert_eq!(sessions.len(), 1);
    let s = &sessions[0];
    assert!(s.tls, "STARTTLS before anything else");
    assert_eq!(
        s.login,
        Some(("opsdeck".to_owned(), "smtp-pass-s3cret".to_owned()))
    );
    assert_eq!(s.rcpt_to, ["<oncall@example.com>"]);
    let data = String::from_utf8_lossy(s.data.as_deref().unwrap()).to_string();
    assert!(
        data.contains(&row.delivery),
        "the delivery id is in the headers"
    );
    assert!(data.contains("X-Opsdeck-Event: alert.firing"), "{data}");
    assert!(data.contains("multipart/alternative"), "{data}");
    app.finish().await;
}

/// Issue 12: an alert about a service in an open incident names the incident (id and title) in
/// the signed webhook body. The incidents loop opens it on the third failure; the rule here
/// fires on the fourth, so the incident exists by the time the alert is sent.
#[tokio::test]
async fn alert_names_the_open_incident() {
    let Some(app) = spawn_with(Db::Sqlite, |s| {
        s.clock = clock();
        s.alerting.tick = Duration::from_millis(25);
        s.incidents.tick = Duration::from_millis(25);
    })
    .await
    else {
        return;
    };
    let hook = receiver().await;
    setup_rule(&app, &hook, json!({"failure_threshold": 4})).await;
    app.create("svc").await;
    for _ in 0..3 {
        check(&app, "svc", false).await;
    }
    let mut open = Value::Null;
    for _ in 0..400 {
        open = app.get("/api/v1/incidents?state=open").await.body;
        if open.as_array().is_some_and(|a| !a.is_empty()) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    let incident = open[0].clone();
    assert!(incident["id"].is_i64(), "an incident opened: {open}");
    check(&app, "svc", false).await;
    let got = hook.received_requests().await.unwrap();
    let firing: Vec<Value> = got
        .iter()
        .map(verify)
        .filter(|b| b["event"] == "alert.firing")
        .collect();
    assert_eq!(firing.len(), 1, "{firing:?}");
    assert_eq!(firing[0]["incident"]["id"], incident["id"], "{}", firing[0]);
    assert_eq!(firing[0]["incident"]["title"], incident["title"]);
    app.finish().await;
}

/// The alert rule and the incidents loop trip on the same (third) failure, and the incidents
/// loop is slow (the vendor's status page answers after a second): the firing notification waits
/// for the incident that result opens and names it, with the vendor's status, instead of racing
/// ahead without it.
#[tokio::test]
async fn firing_alert_waits_for_the_incident_of_the_same_result() {
    let page = MockServer::start().await;
    let body = std::fs::read_to_string(format!(
        "{}/../monitor/tests/fixtures/statuspage/major_outage.json",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap();
    Mock::given(method("GET"))
        .and(path("/api/v2/summary.json"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_raw(body, "application/json")
                .set_delay(Duration::from_secs(1)),
        )
        .mount(&page)
        .await;
    let page_uri = page.uri();
    let Some(app) = spawn_with(Db::Sqlite, move |s| {
        s.clock = clock();
        s.alerting.tick = Duration::from_millis(25);
        s.incidents.tick = Duration::from_millis(25);
        s.status_pages.overrides = BTreeMap::from([("mock".to_owned(), page_uri)]);
    })
    .await
    else {
        return;
    };
    let hook = receiver().await;
    setup_rule(&app, &hook, json!({"failure_threshold": 3})).await;
    app.create("svc").await;
    for _ in 0..3 {
        check(&app, "svc", false).await;
    }
    let mut firing: Vec<Value> = Vec::new();
    for _ in 0..400 {
        firing = hook
            .received_requests()
            .await
            .unwrap()
            .iter()
            .map(verify)
            .filter(|b| b["event"] == "alert.firing")
            .collect();
        if !firing.is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    assert_eq!(firing.len(), 1, "{firing:?}");
    let open = app.get("/api/v1/incidents?state=open").await.body;
    assert!(open[0]["id"].is_i64(), "an incident opened: {open}");
    assert_eq!(firing[0]["incident"]["id"], open[0]["id"], "{}", firing[0]);
    assert!(
        firing[0]["vendor_status"]["indicator"].is_string(),
        "the vendor's outage is named: {}",
        firing[0]
    );
    let outbox = state(&app).store.outbox(10).await.unwrap();
    assert!(
        outbox.iter().all(|o| o.attempts <= 1),
        "holding counted no attempt: {outbox:?}"
    );
    app.finish().await;
}
