//! Monitoring through the API: the exact JSON shapes of uptime, history, events and metric
//! history, the status document's uptime fields, the Prometheus families, 400s for bad
//! parameters, read-only access, the OpenAPI entries, and the feature flag turning it all off.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::on_both;
use crate::support::*;

on_both!(monitoring_contract, monitoring_off);

fn keys(v: &Value) -> Vec<String> {
    let mut k: Vec<String> = v
        .as_object()
        .unwrap_or_else(|| panic!("not an object: {v}"))
        .keys()
        .cloned()
        .collect();
    k.sort();
    k
}

fn sorted(k: &[&str]) -> Vec<String> {
    let mut k: Vec<String> = k.iter().map(|s| (*s).to_owned()).collect();
    k.sort();
    k
}

async fn monitoring_contract(db: Db) {
    let Some(app) = spawn_app(db).await else {
        return;
    };
    app.create("up").await;
    app.post("/api/v1/services", app.mock_service("down", "wrong-token"))
        .await;
    for _ in 0..3 {
        assert_eq!(
            app.post("/api/v1/services/up/test", json!({})).await.status,
            StatusCode::OK
        );
    }
    app.post("/api/v1/services/down/test", json!({})).await;
    let collected = app.post("/api/v1/services/up/metrics", json!({})).await;
    assert_eq!(collected.status, StatusCode::OK, "{}", collected.text);
    let state = &app.server.as_ref().unwrap().state;
    opsdeck_server::monitoring::catch_up(state).await.unwrap();

    // Uptime.
    let u = app.get("/api/v1/services/up/uptime?window=30d").await;
    assert_eq!(u.status, StatusCode::OK, "{}", u.text);
    assert_eq!(
        keys(&u.body),
        sorted(&[
            "service",
            "window",
            "uptime",
            "checks",
            "connected",
            "failed",
            "unknown",
            "latency_ms"
        ])
    );
    assert_eq!(keys(&u.body["latency_ms"]), sorted(&["p50", "p95", "max"]));
    assert_eq!(
        (&u.body["service"], &u.body["window"], &u.body["uptime"]),
        (&json!("up"), &json!("30d"), &json!(1.0))
    );
    assert_eq!(
        (&u.body["checks"], &u.body["connected"]),
        (&json!(3), &json!(3))
    );
    assert!(u.body["latency_ms"]["p50"].is_u64());
    let d = app.get("/api/v1/services/down/uptime").await;
    assert_eq!(
        (&d.body["window"], &d.body["uptime"], &d.body["failed"]),
        (&json!("24h"), &json!(0.0), &json!(1))
    );
    assert!(d.body["latency_ms"]["p50"].is_null(), "no connected check");

    // History: 24 h by 5 minutes, 15 minutes, hours; 30 and 90 days by day.
    for (q, n, bucket) in [
        ("window=24h&bucket=5m", 288, "5m"),
        ("window=24h&bucket=15m", 96, "15m"),
        ("window=24h", 24, "1h"),
        ("window=30d&bucket=1d", 30, "1d"),
        ("window=90d", 90, "1d"),
    ] {
        let h = app.get(&format!("/api/v1/services/up/history?{q}")).await;
        assert_eq!(h.status, StatusCode::OK, "{q}: {}", h.text);
        assert_eq!(
            keys(&h.body),
            sorted(&["service", "window", "bucket", "buckets"])
        );
        assert_eq!(h.body["bucket"], bucket);
        let buckets = h.body["buckets"].as_array().unwrap();
        assert_eq!(buckets.len(), n, "{q}");
        assert_eq!(
            keys(&buckets[0]),
            sorted(&[
                "start",
                "checks",
                "connected",
                "failed",
                "unknown",
                "uptime",
                "latency_ms"
            ])
        );
        let total: u64 = buckets.iter().map(|b| b["checks"].as_u64().unwrap()).sum();
        assert_eq!(total, 3, "{q}");
        let last = buckets.last().unwrap();
        assert_eq!(
            last["checks"], 3,
            "{q}: the current bucket holds the checks"
        );
        assert!(buckets[0]["uptime"].is_null(), "empty bucket: null uptime");
    }

    // Every service's history in one answer: the same buckets as each service's own route.
    for (q, n) in [("", 24), ("window=7d&bucket=1h", 168), ("window=90d", 90)] {
        let all = app.get(&format!("/api/v1/history?{q}")).await;
        assert_eq!(all.status, StatusCode::OK, "{q}: {}", all.text);
        assert_eq!(keys(&all.body), sorted(&["window", "bucket", "services"]));
        let rows = all.body["services"].as_array().unwrap();
        let names: Vec<&str> = rows
            .iter()
            .map(|r| r["service"].as_str().unwrap())
            .collect();
        assert_eq!(names, ["down", "up"], "every service, by name");
        assert_eq!(keys(&rows[0]), sorted(&["service", "buckets"]));
        for r in rows {
            let own = app
                .get(&format!(
                    "/api/v1/services/{}/history?{q}",
                    r["service"].as_str().unwrap()
                ))
                .await;
            // The same counts as the service's own history, without latency.
            let own: Vec<Value> = own.body["buckets"]
                .as_array()
                .unwrap()
                .iter()
                .map(|b| {
                    let mut b = b.clone();
                    b.as_object_mut().unwrap().remove("latency_ms");
                    b
                })
                .collect();
            assert_eq!(r["buckets"], json!(own), "{q}");
            assert_eq!(
                keys(&r["buckets"][0]),
                sorted(&[
                    "start",
                    "checks",
                    "connected",
                    "failed",
                    "unknown",
                    "uptime"
                ])
            );
            assert_eq!(r["buckets"].as_array().unwrap().len(), n, "{q}");
        }
    }

    // Events.
    let e = app.get("/api/v1/services/down/events").await;
    assert_eq!(e.status, StatusCode::OK, "{}", e.text);
    let list = e.body.as_array().unwrap();
    assert_eq!(list.len(), 1);
    assert_eq!(
        keys(&list[0]),
        sorted(&[
            "service",
            "at",
            "from",
            "to",
            "failure",
            "message",
            "previous_duration_s"
        ])
    );
    assert_eq!(
        (
            &list[0]["service"],
            &list[0]["from"],
            &list[0]["to"],
            &list[0]["failure"]
        ),
        (
            &json!("down"),
            &Value::Null,
            &json!("failed"),
            &json!("invalid_credentials")
        )
    );
    let all = app.get("/api/v1/events?limit=10&since=7d").await;
    assert_eq!(all.body.as_array().unwrap().len(), 2, "{}", all.text);
    let none = app.get("/api/v1/events?since=2999-01-01T00:00:00Z").await;
    assert_eq!(none.body, json!([]));

    // Metric history.
    let m = app
        .get("/api/v1/services/up/metrics/history?name=mock_value&window=30d&bucket=1d")
        .await;
    assert_eq!(m.status, StatusCode::OK, "{}", m.text);
    assert_eq!(
        keys(&m.body),
        sorted(&["service", "name", "window", "bucket", "series"])
    );
    let series = m.body["series"].as_array().unwrap();
    assert_eq!(series.len(), 1, "{}", m.text);
    assert_eq!(keys(&series[0]), sorted(&["labels", "unit", "points"]));
    assert_eq!(series[0]["labels"], json!({"kind": "test"}));
    assert_eq!(series[0]["unit"], "count");
    let p = &series[0]["points"][0];
    assert_eq!(keys(p), sorted(&["start", "value", "at", "min", "max"]));
    assert_eq!(p["value"], 42.0);

    // The status document carries 24 h and 30 d uptime.
    app.server.as_ref().unwrap().state.refresh_views().await;
    let st = app.get("/api/v1/status").await;
    let svc = |n: &str| {
        st.body["services"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["service"] == n)
            .cloned()
            .unwrap()
    };
    assert_eq!(
        (&svc("up")["uptime_24h"], &svc("up")["uptime_30d"]),
        (&json!(1.0), &json!(1.0)),
        "{}",
        st.text
    );
    assert_eq!(svc("down")["uptime_30d"], json!(0.0));

    // Prometheus.
    let prom = app.get("/metrics").await.text;
    for needle in [
        "opsdeck_service_uptime_ratio{service=\"up\",provider=\"mock\",window=\"24h\"} 1",
        "opsdeck_service_uptime_ratio{service=\"down\",provider=\"mock\",window=\"30d\"} 0",
        "# TYPE opsdeck_service_check_latency_ms summary",
        "opsdeck_service_check_latency_ms_count{service=\"up\",provider=\"mock\"} 3",
        "opsdeck_service_check_latency_ms{service=\"up\",provider=\"mock\",quantile=\"0.95\"}",
        "opsdeck_service_status_changes_total{service=\"up\",provider=\"mock\"} 0",
        "opsdeck_service_up{",
    ] {
        assert!(prom.contains(needle), "{needle} missing in:\n{prom}");
    }

    // Bad parameters: 400 with a JSON problem naming the parameter.
    for q in [
        "/api/v1/services/up/uptime?window=1y",
        "/api/v1/services/up/history?bucket=7m",
        "/api/v1/services/up/history?window=30d&bucket=5m",
        "/api/v1/services/up/events?since=yesterday",
        "/api/v1/events?limit=0",
        "/api/v1/services/up/metrics/history",
        "/api/v1/services/up/metrics/history?name=x&bucket=5m",
        "/api/v1/history?bucket=15m",
        "/api/v1/history?window=30d&bucket=1h",
    ] {
        let r = app.get(q).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{q}: {}", r.text);
        assert_eq!(r.body["code"], "bad_request", "{q}");
        assert!(r.body["message"].is_string(), "{q}");
    }
    assert_eq!(
        app.get("/api/v1/services/nope/uptime").await.status,
        StatusCode::NOT_FOUND
    );

    // A read-only token may read them all.
    let created = app
        .post("/api/v1/tokens", json!({"name": "grafana", "role": "read"}))
        .await;
    let read = created.body["token"].as_str().unwrap().to_owned();
    for path in [
        "/api/v1/services/up/uptime",
        "/api/v1/services/up/history",
        "/api/v1/services/up/events",
        "/api/v1/events",
        "/api/v1/history",
        "/api/v1/services/up/metrics/history?name=mock_value",
    ] {
        let r = app.call(Method::GET, path, Some(&read), None).await;
        assert_eq!(r.status, StatusCode::OK, "read-only {path}: {}", r.text);
    }

    // Every route is in the OpenAPI document.
    let spec = app.get("/api/v1/openapi.json").await.body;
    for path in [
        "/services/{name}/uptime",
        "/services/{name}/history",
        "/services/{name}/events",
        "/events",
        "/history",
        "/services/{name}/metrics/history",
    ] {
        assert!(
            spec["paths"][path]["get"].is_object(),
            "{path} not in OpenAPI"
        );
    }
    assert!(spec["components"]["schemas"]["StatusEntry"]["properties"]["uptime_30d"].is_object());
    app.finish().await;
}

async fn monitoring_off(db: Db) {
    let Some(app) = spawn_with(db, |s| {
        s.features
            .set(opsdeck_server::features::Feature::Monitoring, false)
    })
    .await
    else {
        return;
    };
    app.create("up").await;
    app.post("/api/v1/services/up/test", json!({})).await;
    for path in [
        "/api/v1/services/up/uptime",
        "/api/v1/services/up/history",
        "/api/v1/services/up/events",
        "/api/v1/events",
        "/api/v1/history",
        "/api/v1/services/up/metrics/history?name=x",
    ] {
        let r = app.get(path).await;
        assert_eq!(r.status, StatusCode::NOT_FOUND, "{path}");
        assert_eq!(r.body["code"], "feature_disabled", "{path}");
    }
    let st = app.get("/api/v1/status").await;
    assert!(
        st.body["services"][0]["uptime_24h"].is_null(),
        "{}",
        st.text
    );
    let prom = app.get("/metrics").await.text;
    assert!(!prom.contains("opsdeck_service_uptime_ratio"), "{prom}");
    // No loop ran: the rollup never created its cursor.
    let state = &app.server.as_ref().unwrap().state;
    use sqlx::Row;
    let n: i64 = sqlx::query("SELECT COUNT(*) FROM rollup_cursors")
        .fetch_one(state.store.pool())
        .await
        .unwrap()
        .try_get(0)
        .unwrap();
    assert_eq!(n, 0);
    app.finish().await;
}

/// `OPSDECK_FEATURE_MONITORING=off` in the environment of the real binary: the monitoring routes
/// answer 404 `feature_disabled`, the session says so, and the start-up log says the feature is
/// off.
#[tokio::test]
async fn environment_turns_monitoring_off_in_opsdeckd() {
    use std::io::{BufRead, BufReader};
    use std::process::{Command, Stdio};
    let dir = tempfile::tempdir().unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_opsdeckd"))
        .args(["--listen", "127.0.0.1:0", "--data-dir"])
        .arg(dir.path())
        .env("RUST_LOG", "info")
        .env("OPSDECK_ADMIN_TOKEN", ADMIN)
        .env("OPSDECK_FEATURE_MONITORING", "off")
        .env_remove("OPSDECK_DATABASE_URL")
        .env_remove("OPSDECK_CONFIG")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn opsdeckd");
    let stderr = child.stderr.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if let Some(addr) = line.split("serving http://").nth(1) {
                let _ = tx.send(
                    addr.split_whitespace()
                        .next()
                        .unwrap_or_default()
                        .to_owned(),
                );
            }
        }
    });
    let addr = rx
        .recv_timeout(std::time::Duration::from_secs(60))
        .expect("opsdeckd started");
    let client = reqwest::Client::new();
    let get = |path: &str| {
        client
            .get(format!("http://{addr}{path}"))
            .bearer_auth(ADMIN)
            .send()
    };
    for path in ["/api/v1/events", "/api/v1/services/x/uptime"] {
        let r = get(path).await.unwrap();
        assert_eq!(r.status(), StatusCode::NOT_FOUND, "{path}");
        let body: Value = r.json().await.unwrap();
        assert_eq!(body["code"], "feature_disabled", "{path}");
    }
    let s: Value = get("/api/v1/session").await.unwrap().json().await.unwrap();
    assert_eq!(s["features"]["monitoring"], false, "{s}");
    assert_eq!(s["features"]["alerts"], true, "{s}");
    let _ = child.kill();
    let _ = child.wait();
}
