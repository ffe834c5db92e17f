//! Issue 9's hardening, each item with a regression test: connection limits and timeouts (raw
//! sockets against a server on port 0), one JSON error shape and the no-store/nosniff headers
//! on every answer, hostile input answered with JSON 4xx on both backends, request limits with
//! every problem at once, the failed-authentication throttle, and the OpenAPI document.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::on_both;
use crate::support::{ADMIN, Db, spawn_app, spawn_with};

on_both!(hostile_input_is_a_json_4xx, limits_and_all_problems_at_once);

/// Reads until the server closes the connection (or 20 s pass, which fails the test).
fn read_to_close(s: &mut TcpStream) -> String {
    s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    let mut out = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        match s.read(&mut buf) {
            Ok(0) => return String::from_utf8_lossy(&out).into_owned(),
            Ok(n) => out.extend_from_slice(&buf[..n]),
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => {
                return String::from_utf8_lossy(&out).into_owned();
            }
            Err(e) => panic!("the server did not close the connection: {e}"),
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn connection_limits_and_timeouts() {
    let Some(app) = spawn_with(Db::Sqlite, |s| {
        s.http.header_timeout = Duration::from_millis(300);
        s.http.body_timeout = Duration::from_millis(300);
        s.http.idle_timeout = Duration::from_millis(300);
        s.http.max_connections = 4;
        s.http.max_body_bytes = 1024;
    })
    .await
    else {
        return;
    };
    let addr = app.base.trim_start_matches("http://").to_owned();
    let a = addr.clone();
    tokio::task::spawn_blocking(move || {
        // A partial request head: closed without an answer.
        let mut s = TcpStream::connect(&a).unwrap();
        s.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n").unwrap();
        assert_eq!(read_to_close(&mut s), "");

        // A partial body: 408 in our JSON shape, then closed.
        let mut s = TcpStream::connect(&a).unwrap();
        s.write_all(
            format!(
                "POST /api/v1/tokens HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {ADMIN}\r\ncontent-type: application/json\r\ncontent-length: 100\r\n\r\n{{\"name\""
            )
            .as_bytes(),
        )
        .unwrap();
        let answer = read_to_close(&mut s);
        assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
        assert!(answer.contains("\"code\":\"request_timeout\""), "{answer}");

        // An idle keep-alive connection: answered, then closed.
        let mut s = TcpStream::connect(&a).unwrap();
        s.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n").unwrap();
        let answer = read_to_close(&mut s);
        assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");

        // An oversize body: 413 without reading it, declared or chunked.
        let mut s = TcpStream::connect(&a).unwrap();
        s.write_all(
            format!(
                "POST /api/v1/tokens HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {ADMIN}\r\ncontent-type: application/json\r\ncontent-length: 5000\r\n\r\n"
            )
            .as_bytes(),
        )
        .unwrap();
        let answer = read_to_close(&mut s);
        assert!(answer.starts_with("HTTP/1.1 413"), "{answer}");
        assert!(answer.contains("\"code\":\"payload_too_large\""), "{answer}");
        let mut s = TcpStream::connect(&a).unwrap();
        let chunk = "x".repeat(2000);
        s.write_all(
            format!(
                "POST /api/v1/tokens HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {ADMIN}\r\ncontent-type: application/json\r\ntransfer-encoding: chunked\r\n\r\n{:x}\r\n{chunk}\r\n0\r\n\r\n",
                chunk.len()
            )
            .as_bytes(),
        )
        .unwrap();
        let answer = read_to_close(&mut s);
        assert!(answer.starts_with("HTTP/1.1 413"), "{answer}");

        // The connection cap: 4 silent connections hold every slot; a fifth client is served
        // once the server has closed them (idle timeout), not refused.
        let mut silent: Vec<TcpStream> = (0..4).map(|_| TcpStream::connect(&a).unwrap()).collect();
        let mut fifth = TcpStream::connect(&a).unwrap();
        fifth
            .write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            .unwrap();
        let answer = read_to_close(&mut fifth);
        assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
        for s in &mut silent {
            assert_eq!(read_to_close(s), "", "the silent connections were closed");
        }
    })
    .await
    .unwrap();
    app.finish().await;
}

fn assert_api_headers(r: &reqwest::Response, what: &str) {
    assert_eq!(
        r.headers()
            .get("cache-control")
            .map(|v| v.to_str().unwrap()),
        Some("no-store"),
        "{what}"
    );
    assert_eq!(
        r.headers()
            .get("x-content-type-options")
            .map(|v| v.to_str().unwrap()),
        Some("nosniff"),
        "{what}"
    );
}

async fn json_error(r: reqwest::Response, what: &str) -> (StatusCode, Value) {
    let status = r.status();
    assert!(status.is_client_error(), "{what}: {status} is not a 4xx");
    assert_api_headers(&r, what);
    assert_eq!(
        r.headers()
            .get("content-type")
            .map(|v| v.to_str().unwrap().to_owned()),
        Some("application/json".to_owned()),
        "{what}"
    );
    let body: Value = r.json().await.unwrap();
    assert!(body["code"].is_string(), "{what}: {body}");
    assert!(body["message"].is_string(), "{what}: {body}");
    (status, body)
}

#[tokio::test]
async fn every_error_is_json_and_every_answer_has_the_headers() {
    let Some(app) = spawn_app(Db::Sqlite).await else {
        return;
    };
    let c = &app.client;
    let base = &app.base;
    let cases: Vec<(reqwest::RequestBuilder, StatusCode, &str)> = vec![
        (
            c.delete(format!("{base}/api/v1/tokens/abc"))
                .bearer_auth(ADMIN),
            StatusCode::BAD_REQUEST,
            "bad_request",
        ),
        (
            c.post(format!("{base}/api/v1/test-all?concurrency=abc"))
                .bearer_auth(ADMIN),
            StatusCode::BAD_REQUEST,
            "bad_request",
        ),
        (
            c.get(format!("{base}/api/v1/services/%FF%FE"))
                .bearer_auth(ADMIN),
            StatusCode::BAD_REQUEST,
            "bad_request",
        ),
        (
            c.put(format!("{base}/api/v1/services")).bearer_auth(ADMIN),
            StatusCode::METHOD_NOT_ALLOWED,
            "method_not_allowed",
        ),
        (
            c.get(format!("{base}/api/v1/nope")).bearer_auth(ADMIN),
            StatusCode::NOT_FOUND,
            "not_found",
        ),
        (
            c.get(format!("{base}/api/v1/status")),
            StatusCode::UNAUTHORIZED,
            "unauthorized",
        ),
        (
            c.post(format!("{base}/api/v1/services"))
                .bearer_auth(ADMIN)
                .body("{}"),
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
        ),
    ];
    for (req, status, code) in cases {
        let r = req.send().await.unwrap();
        let what = format!("{} {}", r.url(), r.status());
        let allow = r.headers().get("allow").cloned();
        let (got, body) = json_error(r, &what).await;
        assert_eq!(got, status, "{what}: {body}");
        assert_eq!(body["code"], code, "{what}: {body}");
        if status == StatusCode::METHOD_NOT_ALLOWED {
            assert!(allow.is_some(), "405 keeps its Allow header");
        }
    }
    // Success answers carry the headers too, the new token's above all.
    let r = c
        .post(format!("{base}/api/v1/tokens"))
        .bearer_auth(ADMIN)
        .json(&json!({"name": "ci"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::CREATED);
    assert_api_headers(&r, "POST /tokens");
    for path in ["/api/v1/status", "/api/v1/services", "/metrics", "/healthz"] {
        let r = c
            .get(format!("{base}{path}"))
            .bearer_auth(ADMIN)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::OK, "{path}");
        assert_api_headers(&r, path);
    }
    app.finish().await;
}

/// Hostile strings in bodies, paths and queries: every answer is a JSON 4xx (never a 500), the
/// same on SQLite and PostgreSQL.
async fn hostile_input_is_a_json_4xx(db: Db) {
    let Some(app) = spawn_app(db).await else {
        return;
    };
    let hostile = [
        "nul\u{0}byte",
        "\u{0}",
        "ctl\u{1}\u{1b}[31m",
        "rtl\u{202e}gnp.exe",
        "del\u{7f}",
        &"x".repeat(10_000),
        "emoji🦀",
        "../../etc/passwd",
        "'; DROP TABLE services; --",
    ];
    let c = &app.client;
    let base = &app.base;
    for h in hostile {
        for body in [
            json!({"name": h, "provider": "mock", "config": {}}),
            json!({"name": "ok", "provider": h, "config": {}}),
            json!({"name": "ok", "provider": "mock", "tags": [h], "config": {"base_url": app.mock.uri(), "token": "t"}}),
            json!({"name": "ok2", "provider": "mock", "config": {"base_url": app.mock.uri(), "token": h}}),
        ] {
            let r = c
                .post(format!("{base}/api/v1/services"))
                .bearer_auth(ADMIN)
                .json(&body)
                .send()
                .await
                .unwrap();
            if r.status() == StatusCode::CREATED {
                // Only a printable token can pass (emoji, path-like or SQL-like text is data).
                continue;
            }
            json_error(r, &format!("service body with {h:?}")).await;
        }
        let r = c
            .post(format!("{base}/api/v1/tokens"))
            .bearer_auth(ADMIN)
            .json(&json!({"name": h}))
            .send()
            .await
            .unwrap();
        if r.status() != StatusCode::CREATED {
            let (status, _) = json_error(r, &format!("token name {h:?}")).await;
            assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
        }
    }
    // A vendor whose answer carries NUL: the check is stored and shown (NUL as U+FFFD), the
    // same on both backends; before, PostgreSQL refused it and the service stayed "Not checked
    // yet" forever.
    let nul_vendor = wiremock::MockServer::start().await;
    wiremock::Mock::given(wiremock::matchers::path("/check"))
        .respond_with(
            wiremock::ResponseTemplate::new(200).set_body_json(json!({"login": "oc\u{0}to"})),
        )
        .mount(&nul_vendor)
        .await;
    let r = app
        .post(
            "/api/v1/services",
            json!({"name": "nul-vendor", "provider": "mock",
                   "config": {"base_url": nul_vendor.uri(), "token": "t"}}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    let r = app
        .call(
            Method::POST,
            "/api/v1/services/nul-vendor/test",
            Some(ADMIN),
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.body["identity"], "oc\u{FFFD}to");
    let status = app.get("/api/v1/status").await;
    let entry = status.body["services"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["service"] == "nul-vendor")
        .unwrap()
        .clone();
    assert_eq!(entry["status"], "connected", "{entry}");
    assert_eq!(entry["identity"], "oc\u{FFFD}to");

    // Odd bytes in paths and queries.
    for path in [
        "/api/v1/services/%00",
        "/api/v1/services/nul%00byte",
        "/api/v1/services/%C0%AF",
        "/api/v1/services/%E2%80%AE",
        "/api/v1/services/..%2F..%2Fetc",
        "/api/v1/providers/%00",
        "/api/v1/services/%00/metrics",
        "/api/v1/tokens/%00",
        "/api/v1/tokens/99999999999999999999999",
    ] {
        let r = c
            .get(format!("{base}{path}"))
            .bearer_auth(ADMIN)
            .send()
            .await
            .unwrap();
        json_error(r, path).await;
        let r = c
            .delete(format!("{base}{path}"))
            .bearer_auth(ADMIN)
            .send()
            .await
            .unwrap();
        json_error(r, path).await;
    }
    for q in [
        "concurrency=%00",
        "concurrency=-1",
        "concurrency=1e9",
        "x=%FF",
    ] {
        let r = c
            .post(format!("{base}/api/v1/test-all?{q}"))
            .bearer_auth(ADMIN)
            .send()
            .await
            .unwrap();
        json_error(r, q).await;
    }
    app.finish().await;
}

/// The contract's limits, with every problem in one answer.
async fn limits_and_all_problems_at_once(db: Db) {
    let Some(app) = spawn_app(db).await else {
        return;
    };
    for interval in [1, 5, 9, 604_801] {
        let mut body = app.mock_service("iv", crate::support::GOOD_TOKEN);
        body["interval_secs"] = json!(interval);
        let r = app.post("/api/v1/services", body).await;
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{interval}");
        assert_eq!(r.body["details"][0]["field"], "interval_secs");
    }
    let mut body = app.mock_service("iv", crate::support::GOOD_TOKEN);
    body["interval_secs"] = json!(10);
    assert_eq!(
        app.post("/api/v1/services", body).await.status,
        StatusCode::CREATED
    );
    let r = app
        .patch(
            "/api/v1/services/iv",
            json!({"version": 1, "interval_secs": 5}),
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);

    // Everything wrong at once: name, interval, tags, a 100 KiB secret, a control character.
    let tags: Vec<String> = (0..65).map(|i| format!("t{i}")).collect();
    let r = app
        .post(
            "/api/v1/services",
            json!({
                "name": "bad name!",
                "provider": "mock",
                "interval_secs": 5,
                "tags": tags,
                "config": {"base_url": app.mock.uri(), "token": "s".repeat(100 * 1024), "team": "a\u{1}b"},
            }),
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.text);
    assert_eq!(r.body["code"], "invalid_body");
    let fields: Vec<&str> = r.body["details"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|d| d["field"].as_str())
        .collect();
    for f in [
        "name",
        "interval_secs",
        "tags",
        "config.token",
        "config.team",
    ] {
        assert!(fields.contains(&f), "{f} missing in {fields:?}");
    }
    let r = app
        .post(
            "/api/v1/services",
            json!({"name": "t", "provider": "mock", "tags": ["x".repeat(65), ""],
                   "config": {"base_url": app.mock.uri(), "token": "t"}}),
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(r.body["details"].as_array().unwrap().len(), 2, "{}", r.text);
    // A 10 MB body is 413, not 400 (answered from the declared length, before it is sent).
    let addr = app.base.trim_start_matches("http://").to_owned();
    let answer = tokio::task::spawn_blocking(move || {
        let mut s = TcpStream::connect(addr).unwrap();
        s.write_all(
            format!(
                "POST /api/v1/services HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {ADMIN}\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n",
                10 * 1024 * 1024
            )
            .as_bytes(),
        )
        .unwrap();
        read_to_close(&mut s)
    })
    .await
    .unwrap();
    assert!(answer.starts_with("HTTP/1.1 413"), "{answer}");
    app.finish().await;
}

#[tokio::test]
async fn failed_authentications_are_logged_and_throttled() {
    let logs = opsdeck_testkit::LogCapture::install();
    let Some(app) = spawn_with(Db::Sqlite, |s| {
        s.auth_failure_burst = 3;
        s.auth_failure_per_minute = 1;
    })
    .await
    else {
        return;
    };
    // The scheme is case-insensitive.
    for scheme in ["Bearer", "bearer", "BEARER", "bEaReR"] {
        let r = app
            .client
            .get(format!("{}/api/v1/status", app.base))
            .header("authorization", format!("{scheme} {ADMIN}"))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::OK, "{scheme}");
    }
    let wrong = "odk_wrongwrongwrongwrongwrongwrongwrongwrong12";
    for _ in 0..3 {
        let r = app
            .call(Method::GET, "/api/v1/status", Some(wrong), None)
            .await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    }
    // After the burst the address is slowed down, valid token or not.
    let r = app
        .client
        .get(format!("{}/api/v1/status", app.base))
        .bearer_auth(ADMIN)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS);
    let retry: u64 = r.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=60).contains(&retry), "{retry}");
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["code"], "too_many_requests");
    // Health stays reachable: it needs no token.
    let r = app.call(Method::GET, "/healthz", None, None).await;
    assert_eq!(r.status, StatusCode::OK);
    let log = logs.contents();
    assert!(log.contains("authentication failed"), "{log}");
    assert!(log.contains("odk_wr…"), "{log}");
    assert!(!log.contains(wrong), "never the whole token");
    assert_eq!(
        log.matches("authentication failed").count(),
        1,
        "rate-limited: {log}"
    );
    app.finish().await;
}

#[tokio::test]
async fn openapi_lists_every_status_and_the_constraints() {
    let Some(app) = spawn_app(Db::Sqlite).await else {
        return;
    };
    let doc = app.get("/api/v1/openapi.json").await.body;
    let paths = doc["paths"].as_object().unwrap();
    for (path, item) in paths {
        for (method, op) in item.as_object().unwrap() {
            let responses = op["responses"].as_object().unwrap();
            for status in ["401", "429", "500"] {
                assert!(
                    responses.contains_key(status),
                    "{method} {path} lacks {status}"
                );
            }
            if op.get("requestBody").is_some() {
                for status in ["400", "408", "413", "415", "422"] {
                    assert!(
                        responses.contains_key(status),
                        "{method} {path} lacks {status}"
                    );
                }
            }
            if method != "get" || path.starts_with("/tokens") {
                assert!(responses.contains_key("403"), "{method} {path} lacks 403");
            }
            if path.contains('{') {
                assert!(responses.contains_key("404"), "{method} {path} lacks 404");
            }
            assert_eq!(
                responses["401"]["content"]["application/json"]["schema"]["$ref"],
                "#/components/schemas/ErrorBody"
            );
        }
    }
    let create = &doc["components"]["schemas"]["CreateService"]["properties"];
    assert_eq!(create["name"]["maxLength"], 64);
    assert!(create["name"]["pattern"].is_string());
    assert!(
        create["provider"]["enum"]
            .as_array()
            .unwrap()
            .contains(&json!("mock"))
    );
    assert_eq!(create["tags"]["maxItems"], 64);
    assert_eq!(create["tags"]["items"]["maxLength"], 64);
    assert_eq!(create["interval_secs"]["minimum"], 10);
    assert_eq!(create["interval_secs"]["maximum"], 604_800);
    assert_eq!(
        doc["paths"]["/services"]["post"]["responses"]["201"]["links"]["GetService"]["operationId"],
        "get_service"
    );
    assert!(paths["/services/{name}/metrics"]["post"].is_object());
    app.finish().await;
}
