//! Incidents and vendor status (issue 12), end to end on the real server with an injected
//! clock and wiremock stand-ins for GitHub, Vercel and a Statuspage v2 page:
//!
//! - three GitHub services failing while the page reports an incident → one incident, cause
//!   `vendor_outage`, the vendor's incident in it and in the failed checks' `vendor_status`;
//!   ack and notes on the timeline; recovery resolves it;
//! - a Vercel deployment 10 min before the incident is on its timeline, one 2 h before is not;
//! - one GitHub service with a rejected token while two others are fine → its own incident,
//!   cause `credentials` — with a dead status page, which changes no check result;
//! - the status-page client against recorded bodies and page failures;
//! - the feature flag, the JSON contract and the OpenAPI paths.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::Duration;

use opsdeck_core::clock::ManualClock;
use opsdeck_monitor::statuspage::Indicator;
use opsdeck_server::vendor_status::{StatusPages, page_http_settings};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use wiremock::matchers::{header, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::on_both;
use crate::support::{Db, TestApp, spawn_with};

on_both!(
    vendor_outage_groups_and_resolves,
    credentials_of_one_service
);

const GH_TOKEN: &str = "ghp_incidentstest0123456789abcdefABCD";
const T0_MS: i64 = 1_796_000_000_000; // 2026-11-30

fn fixture(name: &str) -> String {
    let p = format!(
        "{}/../monitor/tests/fixtures/statuspage/{name}.json",
        env!("CARGO_MANIFEST_DIR")
    );
    std::fs::read_to_string(p).unwrap()
}

async fn page_with(body: &str) -> MockServer {
    let page = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/api/v2/summary.json"))
        .respond_with(ResponseTemplate::new(200).set_body_raw(body.to_owned(), "application/json"))
        .mount(&page)
        .await;
    page
}

async fn github_up(gh: &MockServer) {
    Mock::given(method("GET"))
        .and(path("/user"))
        .and(header(
            "authorization",
            format!("Bearer {GH_TOKEN}").as_str(),
        ))
        .respond_with(
            ResponseTemplate::new(200).set_body_json(json!({"login": "octocat", "id": 1})),
        )
        .mount(gh)
        .await;
    Mock::given(method("GET"))
        .respond_with(
            ResponseTemplate::new(401)
                .set_body_json(json!({"message": "Bad credentials", "status": "401"})),
        )
        .mount(gh)
        .await;
}

async fn github_down(gh: &MockServer) {
    Mock::given(method("GET"))
        .respond_with(
            ResponseTemplate::new(503).set_body_json(json!({"message": "Service unavailable"})),
        )
        .mount(gh)
        .await;
}

fn github(name: &str, gh: &MockServer, token: &str) -> Value {
    json!({"name": name, "provider": "github", "config": {"token": token, "base_url": gh.uri()}})
}

async fn spawn(db: Db, clock: Arc<ManualClock>, page: &MockServer) -> Option<TestApp> {
    let page_uri = page.uri();
    spawn_with(db, move |s| {
        s.clock = clock;
        s.status_pages.overrides = BTreeMap::from([("github".to_owned(), page_uri)]);
        s.incidents.tick = Duration::from_millis(50);
    })
    .await
}

/// Waits (for the background loop, not for time to pass) until `f` holds of `GET path`.
async fn eventually(app: &TestApp, path: &str, f: impl Fn(&Value) -> bool) -> Value {
    let mut last = Value::Null;
    for _ in 0..300 {
        let r = app.get(path).await;
        if r.status == StatusCode::OK && f(&r.body) {
            return r.body;
        }
        last = r.body;
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("{path} never matched; last answer: {last:#}");
}

async fn check_round(app: &TestApp, clock: &ManualClock, names: &[&str]) {
    for n in names {
        let r = app
            .post(&format!("/api/v1/services/{n}/test"), json!({}))
            .await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    }
    clock.advance(Duration::from_secs(20));
}

async fn vendor_outage_groups_and_resolves(db: Db) {
    let clock = ManualClock::at_ms(T0_MS);
    let page = page_with(&fixture("major_outage")).await;
    let Some(app) = spawn(db, clock.clone(), &page).await else {
        return;
    };
    let gh = MockServer::start().await;
    github_down(&gh).await;
    // A Vercel account that deployed 10 minutes and 2 hours before the failures start.
    let vercel = MockServer::start().await;
    let deployment = |uid: &str, ago_ms: i64| {
        json!({"uid": uid, "name": "web", "url": format!("{uid}.vercel.app"), "created": T0_MS - ago_ms,
               "createdAt": T0_MS - ago_ms, "state": "READY", "readyState": "READY", "target": "production"})
    };
    Mock::given(method("GET"))
        .and(path("/v6/deployments"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "deployments": [deployment("dpl_near", 600_000), deployment("dpl_far", 7_200_000)],
            "pagination": {"count": 2, "next": null, "prev": null}
        })))
        .mount(&vercel)
        .await;
    let r = app
        .post(
            "/api/v1/services",
            json!({"name": "vercel", "provider": "vercel", "config": {"token": "vercel-token", "base_url": vercel.uri()}}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    let names = ["gh-a", "gh-b", "gh-c"];
    for n in names {
        let r = app.post("/api/v1/services", github(n, &gh, GH_TOKEN)).await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    }

    // An alert on gh-a that fires on its fourth failure, one round after the incident opens,
    // to a webhook receiver: its one notification must name the incident and the vendor's words.
    let hook = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/hook"))
        .respond_with(ResponseTemplate::new(200))
        .mount(&hook)
        .await;
    let r = app
        .post(
            "/api/v1/channels",
            json!({"name": "ops-hook", "kind": "webhook", "url": format!("{}/hook", hook.uri()), "secret": "whsec-incidents-test"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    let r = app
        .post(
            "/api/v1/alerts",
            json!({"name": "gh-a-down", "condition": "status", "services": ["gh-a"],
                   "failure_threshold": 4, "success_threshold": 2, "send_resolved": false,
                   "channels": ["ops-hook"]}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);

    // Two failed rounds: below the failure threshold (3), no incident yet.
    check_round(&app, &clock, &names).await;
    check_round(&app, &clock, &names).await;
    let none = app.get("/api/v1/incidents").await;
    assert_eq!(none.status, StatusCode::OK);
    // The third round confirms the failures: one incident for the three.
    check_round(&app, &clock, &names).await;
    let list = eventually(&app, "/api/v1/incidents?state=open", |v| {
        v.as_array().is_some_and(|a| {
            a.len() == 1 && a[0]["services"].as_array().is_some_and(|s| s.len() == 3)
        })
    })
    .await;
    let inc = &list[0];
    assert_eq!(inc["cause"], "vendor_outage", "{inc:#}");
    assert_eq!(
        inc["title"],
        "GitHub reports 'Incident with API Requests and Git Operations' — 3 services failing"
    );
    assert_eq!(
        inc["vendor_status"]["incidents"][0]["name"],
        "Incident with API Requests and Git Operations"
    );
    assert_eq!(inc["vendor_status"]["indicator"], "major");
    check_round(&app, &clock, &names).await;
    let mut bodies: Vec<Value> = Vec::new();
    for _ in 0..400 {
        bodies = hook
            .received_requests()
            .await
            .unwrap_or_default()
            .iter()
            .filter_map(|r| serde_json::from_slice(&r.body).ok())
            .collect();
        if !bodies.is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    assert_eq!(bodies.len(), 1, "one notification: {bodies:#?}");
    let note = &bodies[0];
    assert_eq!(note["event"], "alert.firing", "{note:#}");
    assert_eq!(note["service"], "gh-a");
    assert_eq!(note["incident"]["id"], inc["id"], "{note:#}");
    assert_eq!(note["incident"]["title"], inc["title"]);
    assert_eq!(
        note["vendor_status"]["incidents"][0]["name"],
        "Incident with API Requests and Git Operations",
        "{note:#}"
    );
    // The incident's timeline lists the notification.
    let path_one = format!("/api/v1/incidents/{}", inc["id"]);
    eventually(&app, &path_one, |v| {
        v["timeline"].as_array().is_some_and(|t| {
            t.iter().any(|e| {
                e["text"]
                    .as_str()
                    .is_some_and(|x| x.contains("alert.firing sent to ops-hook"))
            })
        })
    })
    .await;
    let keys: BTreeSet<&str> = inc
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(
        keys,
        BTreeSet::from([
            "id",
            "title",
            "state",
            "cause",
            "services",
            "opened_at",
            "acknowledged_at",
            "resolved_at",
            "vendor_status",
            "timeline"
        ]),
        "the incident JSON contract"
    );
    let timeline = inc["timeline"].as_array().unwrap();
    for e in timeline {
        assert!(e["at"].is_string() && e["kind"].is_string() && e["text"].is_string());
    }
    let deployments: Vec<&str> = timeline
        .iter()
        .filter(|e| e["kind"] == "deployment")
        .filter_map(|e| e["text"].as_str())
        .collect();
    assert_eq!(deployments.len(), 1, "{timeline:#?}");
    assert!(deployments[0].contains("dpl_near"), "{deployments:?}");
    assert!(timeline.iter().any(|e| e["kind"] == "vendor_status"));
    let id = inc["id"].as_i64().unwrap();

    // The failed check carries the vendor's status (details.vendor_status).
    let svc = app.get("/api/v1/services/gh-a/incidents").await;
    assert_eq!(svc.status, StatusCode::OK, "{}", svc.text);
    assert_eq!(svc.body["open_incident"]["id"], id);
    assert_eq!(svc.body["vendor_status"]["indicator"], "major");
    assert!(
        svc.body["vendor_status"]["summary"]
            .as_str()
            .unwrap()
            .contains("Incident with API Requests")
    );

    // Acknowledge, annotate; a second acknowledgement is refused.
    let ack = app
        .post(&format!("/api/v1/incidents/{id}/ack"), json!({}))
        .await;
    assert_eq!(ack.status, StatusCode::OK, "{}", ack.text);
    assert_eq!(ack.body["state"], "acknowledged");
    let again = app
        .post(&format!("/api/v1/incidents/{id}/ack"), json!({}))
        .await;
    assert_eq!(again.status, StatusCode::CONFLICT);
    assert_eq!(again.body["code"], "incident_state");
    let note = app
        .post(
            &format!("/api/v1/incidents/{id}/notes"),
            json!({"text": "GitHub is on it"}),
        )
        .await;
    assert_eq!(note.status, StatusCode::OK, "{}", note.text);
    let empty = app
        .post(
            &format!("/api/v1/incidents/{id}/notes"),
            json!({"text": "  "}),
        )
        .await;
    assert_eq!(empty.status, StatusCode::UNPROCESSABLE_ENTITY);
    let kinds: Vec<String> = note.body["timeline"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["kind"].as_str().unwrap().to_owned())
        .collect();
    assert!(kinds.contains(&"acknowledged".to_owned()) && kinds.contains(&"note".to_owned()));

    // The alerts side records what it sent on the incident's timeline.
    let state = &app.server.as_ref().unwrap().state;
    assert_eq!(
        opsdeck_server::incidents::record_notification(state, "gh-b", "alert.firing to team-slack")
            .await
            .unwrap(),
        Some(id)
    );
    assert_eq!(
        opsdeck_server::incidents::record_notification(state, "vercel", "x")
            .await
            .unwrap(),
        None,
        "a service in no incident"
    );

    // GitHub recovers: after the success threshold (2) every service is back and the incident
    // resolves by itself.
    gh.reset().await;
    github_up(&gh).await;
    check_round(&app, &clock, &names).await;
    check_round(&app, &clock, &names).await;
    let done = eventually(&app, &format!("/api/v1/incidents/{id}"), |v| {
        v["state"] == "resolved"
    })
    .await;
    assert!(done["resolved_at"].is_string());
    assert!(done["timeline"].as_array().unwrap().iter().any(
        |e| e["kind"] == "notification" && e["text"] == "Notified: alert.firing to team-slack"
    ));
    assert!(
        done["services"]
            .as_array()
            .unwrap()
            .iter()
            .all(|s| s["recovered_at"].is_string())
    );
    let svc = app.get("/api/v1/services/gh-a/incidents").await;
    assert_eq!(svc.body["open_incident"], Value::Null);
    assert_eq!(svc.body["incidents"], 1);
    assert!(svc.body["mtta_ms"].as_i64().unwrap() > 0);
    assert!(svc.body["mttr_ms"].as_i64().unwrap() > svc.body["mtta_ms"].as_i64().unwrap());
    let resolved = app.get("/api/v1/incidents?state=resolved&since=30d").await;
    assert_eq!(resolved.body.as_array().unwrap().len(), 1);
    app.finish().await;
}

async fn credentials_of_one_service(db: Db) {
    let clock = ManualClock::at_ms(T0_MS);
    // A dead status page: it must change nothing about the checks.
    let page = MockServer::start().await;
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(500))
        .mount(&page)
        .await;
    let Some(app) = spawn(db, clock.clone(), &page).await else {
        return;
    };
    let gh = MockServer::start().await;
    github_up(&gh).await;
    for (n, token) in [
        ("gh-a", GH_TOKEN),
        ("gh-b", GH_TOKEN),
        ("gh-bad", "ghp_revoked"),
    ] {
        let r = app.post("/api/v1/services", github(n, &gh, token)).await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    }
    let names = ["gh-a", "gh-b", "gh-bad"];
    for _ in 0..3 {
        check_round(&app, &clock, &names).await;
    }
    let list = eventually(&app, "/api/v1/incidents", |v| {
        v.as_array().is_some_and(|a| a.len() == 1)
    })
    .await;
    let inc = &list[0];
    assert_eq!(inc["cause"], "credentials", "{inc:#}");
    assert_eq!(inc["services"].as_array().unwrap().len(), 1);
    assert_eq!(inc["services"][0]["service"], "gh-bad");
    assert_eq!(inc["services"][0]["failure"], "invalid_credentials");
    assert!(
        inc["title"]
            .as_str()
            .unwrap()
            .contains("rejects the credentials of gh-bad"),
        "{}",
        inc["title"]
    );
    assert_eq!(inc["vendor_status"], Value::Null);
    // The checks say what they said without the page.
    let a = app.get("/api/v1/services/gh-a/checks?limit=1").await;
    assert_eq!(a.body[0]["status"], "connected");
    let bad = app.get("/api/v1/services/gh-bad/checks?limit=1").await;
    assert_eq!(bad.body[0]["failure"], "invalid_credentials");
    // Resolving by hand.
    let id = inc["id"].as_i64().unwrap();
    let r = app
        .post(&format!("/api/v1/incidents/{id}/resolve"), json!({}))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.body["state"], "resolved");
    let r = app
        .post(&format!("/api/v1/incidents/{id}/resolve"), json!({}))
        .await;
    assert_eq!(r.status, StatusCode::CONFLICT);
    app.finish().await;
}

#[tokio::test]
async fn routes_answer_feature_disabled_when_incidents_are_off() {
    let page = page_with(&fixture("operational")).await;
    let Some(app) = spawn_with(Db::Sqlite, |s| {
        s.features
            .set(opsdeck_server::features::Feature::Incidents, false);
        s.status_pages.overrides = BTreeMap::from([("github".to_owned(), page.uri())]);
    })
    .await
    else {
        return;
    };
    for p in ["/api/v1/incidents", "/api/v1/incidents/1"] {
        let r = app.get(p).await;
        assert_eq!(r.status, StatusCode::NOT_FOUND, "{p}");
        assert_eq!(r.body["code"], "feature_disabled");
    }
    let r = app.post("/api/v1/incidents/1/ack", json!({})).await;
    assert_eq!(r.body["code"], "feature_disabled");
    let s = app.get("/api/v1/session").await;
    assert_eq!(s.body["features"]["incidents"], false);
    assert_eq!(s.body["features"]["vendor_status"], true);
    // A read-only token may read incidents but not change them (checked with the feature on
    // in the other tests; here the paths are pinned in the OpenAPI document).
    let doc = app
        .call(
            Method::GET,
            "/api/v1/openapi.json",
            Some(crate::support::ADMIN),
            None,
        )
        .await;
    for p in [
        "/incidents",
        "/incidents/{id}",
        "/incidents/{id}/ack",
        "/incidents/{id}/resolve",
        "/incidents/{id}/notes",
        "/services/{name}/incidents",
    ] {
        assert!(doc.body["paths"][p].is_object(), "{p} missing from OpenAPI");
    }
    app.finish().await;
}

#[tokio::test]
async fn read_only_tokens_cannot_change_incidents() {
    let page = page_with(&fixture("operational")).await;
    let Some(app) = spawn_with(Db::Sqlite, |s| {
        s.status_pages.overrides = BTreeMap::from([("github".to_owned(), page.uri())]);
    })
    .await
    else {
        return;
    };
    let t = app
        .post("/api/v1/tokens", json!({"name": "viewer", "role": "read"}))
        .await;
    let read = t.body["token"].as_str().unwrap().to_owned();
    let r = app
        .call(Method::GET, "/api/v1/incidents", Some(&read), None)
        .await;
    assert_eq!(r.status, StatusCode::OK);
    let r = app
        .call(
            Method::POST,
            "/api/v1/incidents/1/ack",
            Some(&read),
            Some(json!({})),
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    let r = app.get("/api/v1/incidents/999").await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    let r = app.get("/api/v1/incidents?state=bogus").await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    let r = app.get("/api/v1/incidents?since=yesterday").await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    app.finish().await;
}

fn pages_for(server: &MockServer, timeout: Duration) -> StatusPages {
    StatusPages::new(
        BTreeMap::from([("github".to_owned(), server.uri())]),
        &page_http_settings(timeout),
        ManualClock::at_ms(T0_MS),
        Duration::from_secs(60),
        Duration::from_secs(600),
    )
}

#[tokio::test]
async fn status_page_client_reads_recorded_summaries() {
    opsdeck_core::install_crypto_provider();
    for (name, indicator, problem) in [
        ("operational", Indicator::None, false),
        ("degraded", Indicator::Minor, true),
        ("major_outage", Indicator::Major, true),
        ("maintenance", Indicator::Maintenance, true),
    ] {
        let page = MockServer::start().await;
        Mock::given(method("GET"))
            .and(path("/api/v2/summary.json"))
            .respond_with(
                ResponseTemplate::new(200).set_body_raw(fixture(name), "application/json"),
            )
            .expect(1)
            .mount(&page)
            .await;
        let pages = pages_for(&page, Duration::from_secs(5));
        assert!(
            pages.ensure_fresh("github").await,
            "{name}: a first read is news"
        );
        // One read serves every later question within the interval.
        assert!(!pages.ensure_fresh("github").await);
        let s = pages.current("github").unwrap();
        assert_eq!(s.indicator, indicator, "{name}");
        assert_eq!(s.reports_problem(), problem, "{name}");
        let requests = page.received_requests().await.unwrap();
        assert_eq!(requests.len(), 1);
        assert!(
            requests[0].headers.get("authorization").is_none(),
            "never with credentials"
        );
    }
}

#[tokio::test]
async fn status_page_failures_are_typed_and_leave_no_status() {
    opsdeck_core::install_crypto_provider();
    let cases: Vec<(&str, ResponseTemplate)> = vec![
        ("404", ResponseTemplate::new(404)),
        ("500", ResponseTemplate::new(500)),
        (
            "malformed",
            ResponseTemplate::new(200).set_body_raw("<html>status</html>", "text/html"),
        ),
        (
            "not a summary",
            ResponseTemplate::new(200).set_body_raw("{\"hello\": 1}", "application/json"),
        ),
        (
            "timeout",
            ResponseTemplate::new(200)
                .set_body_raw(fixture("operational"), "application/json")
                .set_delay(Duration::from_secs(5)),
        ),
    ];
    for (name, reply) in cases {
        let page = MockServer::start().await;
        Mock::given(method("GET"))
            .respond_with(reply)
            .mount(&page)
            .await;
        let pages = pages_for(&page, Duration::from_millis(300));
        let err = pages.fetch(&page.uri()).await;
        assert!(err.is_err(), "{name}");
        pages.ensure_fresh("github").await;
        assert!(pages.current("github").is_none(), "{name}");
        assert!(pages.last_error("github").is_some(), "{name}");
    }
}

#[test]
fn every_provider_declares_its_status_page() {
    let factory = opsdeck_core::ServiceFactory::from_registry().unwrap();
    for d in factory.providers().filter(|d| d.id != "mock") {
        assert!(
            !matches!(d.status_page, opsdeck_core::StatusPage::Undeclared),
            "{} declares no status page (use .status_page(url) or .no_status_page(reason))",
            d.id
        );
    }
    let pages = opsdeck_server::vendor_status::resolve_pages(
        &factory,
        &BTreeMap::from([("openai".to_owned(), "off".to_owned())]),
    );
    assert_eq!(pages["github"], "https://www.githubstatus.com");
    assert!(!pages.contains_key("openai"), "turned off");
    assert!(!pages.contains_key("stripe"), "no feed known");
    let bad = opsdeck_server::vendor_status::validate_overrides(
        &BTreeMap::from([
            ("nope".to_owned(), "https://x".to_owned()),
            ("github".to_owned(), "ftp://x".to_owned()),
        ]),
        &factory.ids(),
    )
    .unwrap_err();
    assert!(bad.0.contains("status_pages.nope") && bad.0.contains("status_pages.github"));
}

#[tokio::test]
async fn a_deleted_service_leaves_its_incident() {
    let clock = ManualClock::at_ms(T0_MS);
    let page = page_with(&fixture("operational")).await;
    let Some(app) = spawn(Db::Sqlite, clock.clone(), &page).await else {
        return;
    };
    let gh = MockServer::start().await;
    github_up(&gh).await;
    let r = app
        .post("/api/v1/services", github("gh-bad", &gh, "ghp_revoked"))
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    for _ in 0..3 {
        check_round(&app, &clock, &["gh-bad"]).await;
    }
    let list = eventually(&app, "/api/v1/incidents?state=open", |v| {
        v.as_array().is_some_and(|a| a.len() == 1)
    })
    .await;
    let id = list[0]["id"].as_i64().unwrap();
    let r = app.delete("/api/v1/services/gh-bad").await;
    assert!(r.status.is_success(), "{}", r.text);
    let done = eventually(&app, &format!("/api/v1/incidents/{id}"), |v| {
        v["state"] == "resolved"
    })
    .await;
    assert!(
        done["timeline"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["text"].as_str().unwrap().contains("gh-bad was deleted"))
    );
    app.finish().await;
}

#[tokio::test]
async fn status_pages_table_in_the_config_file() {
    let page = page_with(&fixture("operational")).await;
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("opsdeck.toml");
    std::fs::write(
        &file,
        format!(
            "[status_pages]\ngithub = \"{}\"\nopenai = \"off\"\n\n[services.m]\nprovider = \"mock\"\nbase_url = \"http://127.0.0.1:9\"\ntoken = \"t\"\nteam = \"x\"\n",
            page.uri()
        ),
    )
    .unwrap();
    let f = file.clone();
    let Some(app) = spawn_with(Db::Sqlite, move |s| s.config = Some(f)).await else {
        return;
    };
    assert_eq!(app.get("/api/v1/services/m").await.status, StatusCode::OK);
    app.finish().await;

    std::fs::write(
        &file,
        "[status_pages]\ngithub = \"ftp://example.com\"\nnope = \"https://x\"\n",
    )
    .unwrap();
    let data = tempfile::tempdir().unwrap();
    let mut s = crate::support::settings(&data, None);
    s.config = Some(file);
    let err = opsdeck_server::start(s).await.unwrap_err().to_string();
    assert!(
        err.contains("status_pages.github") && err.contains("status_pages.nope"),
        "{err}"
    );
}

/// The vendor posts its incident after ours opened: the next poll of its page (the active
/// interval, since a GitHub service is failing) changes the cause and says so on the timeline.
#[tokio::test]
async fn a_later_vendor_update_reaches_the_open_incident() {
    let clock = ManualClock::at_ms(T0_MS);
    let page = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/api/v2/summary.json"))
        .respond_with(
            ResponseTemplate::new(200).set_body_raw(fixture("operational"), "application/json"),
        )
        .mount(&page)
        .await;
    let Some(app) = spawn(Db::Sqlite, clock.clone(), &page).await else {
        return;
    };
    let gh = MockServer::start().await;
    github_down(&gh).await;
    let r = app
        .post("/api/v1/services", github("gh-a", &gh, GH_TOKEN))
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    for _ in 0..3 {
        check_round(&app, &clock, &["gh-a"]).await;
    }
    let list = eventually(&app, "/api/v1/incidents?state=open", |v| {
        v.as_array().is_some_and(|a| a.len() == 1)
    })
    .await;
    assert_eq!(list[0]["cause"], "unknown", "{:#}", list[0]);
    let id = list[0]["id"].as_i64().unwrap();

    page.reset().await;
    Mock::given(method("GET"))
        .and(path("/api/v2/summary.json"))
        .respond_with(
            ResponseTemplate::new(200).set_body_raw(fixture("degraded"), "application/json"),
        )
        .mount(&page)
        .await;
    clock.advance(Duration::from_secs(61));
    let inc = eventually(&app, &format!("/api/v1/incidents/{id}"), |v| {
        v["cause"] == "vendor_outage"
    })
    .await;
    assert_eq!(
        inc["title"],
        "GitHub reports 'Degraded performance: API Requests' — 1 service failing"
    );
    assert!(
        inc["timeline"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["kind"] == "vendor_status"
                && e["text"].as_str().unwrap().contains("Minor Service Outage"))
    );
    app.finish().await;
}

/// Pages are read only for providers that have services: every background interval when all is
/// well, every active interval while one of them fails or is in an open incident.
#[tokio::test]
async fn pages_are_polled_slowly_unless_a_service_is_failing() {
    opsdeck_core::install_crypto_provider();
    let page = page_with(&fixture("operational")).await;
    let clock = ManualClock::at_ms(T0_MS);
    let pages = StatusPages::new(
        BTreeMap::from([("github".to_owned(), page.uri())]),
        &page_http_settings(Duration::from_secs(5)),
        clock.clone(),
        Duration::from_secs(60),
        Duration::from_secs(600),
    );
    let reads = || async { page.received_requests().await.unwrap().len() };
    let none = BTreeSet::new();
    let github = BTreeSet::from(["github".to_owned()]);
    pages.poll_due(&none, &none).await;
    assert_eq!(reads().await, 0, "no GitHub service, no read");
    pages.poll_due(&none, &github).await;
    assert_eq!(reads().await, 1, "the first background read");
    clock.advance(Duration::from_secs(61));
    pages.poll_due(&none, &github).await;
    assert_eq!(
        reads().await,
        1,
        "all well: the background interval applies"
    );
    pages.poll_due(&github, &github).await;
    assert_eq!(reads().await, 2, "failing: the active interval applies");
    pages.poll_due(&github, &github).await;
    assert_eq!(reads().await, 2, "one read per interval, whoever asks");
    clock.advance(Duration::from_secs(600));
    pages.poll_due(&none, &github).await;
    assert_eq!(reads().await, 3);
}
