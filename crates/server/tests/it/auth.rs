//! The auth matrix: anonymous / read-only / admin × every route.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::on_both;
use crate::support::{ADMIN, Db, spawn_app};

on_both!(auth_matrix);

async fn auth_matrix(db: Db) {
    let Some(app) = spawn_app(db).await else {
        return;
    };
    app.create("svc").await;
    app.create("svc2").await;
    let created = app
        .post("/api/v1/tokens", json!({"name": "grafana", "role": "read"}))
        .await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.text);
    let read = created.body["token"].as_str().unwrap().to_owned();
    assert!(read.starts_with("odk_"));
    let read_id = created.body["id"].as_i64().unwrap();
    // The token is never shown again.
    let listed = app.get("/api/v1/tokens").await;
    assert!(!listed.text.contains(&read), "token listed in clear");

    let new_svc = app.mock_service("svc3", "t");
    let unsaved = json!({"provider": "mock", "config": {"base_url": app.mock.uri(), "token": "t"}});
    // (method, path, body, status for an admin); read-only may do exactly the GETs except tokens.
    let routes: Vec<(Method, String, Option<Value>, StatusCode)> = vec![
        (
            Method::GET,
            "/api/v1/providers".into(),
            None,
            StatusCode::OK,
        ),
        (
            Method::GET,
            "/api/v1/providers/mock".into(),
            None,
            StatusCode::OK,
        ),
        (Method::GET, "/api/v1/services".into(), None, StatusCode::OK),
        (
            Method::GET,
            "/api/v1/services/svc".into(),
            None,
            StatusCode::OK,
        ),
        (
            Method::GET,
            "/api/v1/services/svc/metrics".into(),
            None,
            StatusCode::OK,
        ),
        (
            Method::POST,
            "/api/v1/services/svc/metrics".into(),
            None,
            StatusCode::OK,
        ),
        (Method::GET, "/api/v1/status".into(), None, StatusCode::OK),
        (
            Method::GET,
            "/api/v1/openapi.json".into(),
            None,
            StatusCode::OK,
        ),
        (Method::GET, "/metrics".into(), None, StatusCode::OK),
        (
            Method::POST,
            "/api/v1/services".into(),
            Some(new_svc),
            StatusCode::CREATED,
        ),
        (
            Method::PATCH,
            "/api/v1/services/svc".into(),
            Some(json!({"version": 1, "tags": ["x"]})),
            StatusCode::OK,
        ),
        (
            Method::POST,
            "/api/v1/services/svc/test".into(),
            None,
            StatusCode::OK,
        ),
        (
            Method::POST,
            "/api/v1/test".into(),
            Some(unsaved),
            StatusCode::OK,
        ),
        (
            Method::POST,
            "/api/v1/test-all".into(),
            None,
            StatusCode::OK,
        ),
        (
            Method::DELETE,
            "/api/v1/services/svc2".into(),
            None,
            StatusCode::NO_CONTENT,
        ),
        (Method::GET, "/api/v1/tokens".into(), None, StatusCode::OK),
        (
            Method::POST,
            "/api/v1/tokens".into(),
            Some(json!({"name": "ci"})),
            StatusCode::CREATED,
        ),
        (
            Method::DELETE,
            format!("/api/v1/tokens/{read_id}"),
            None,
            StatusCode::NO_CONTENT,
        ),
    ];
    for (m, path, body, _) in &routes {
        for token in [None, Some("odk_not-a-real-token")] {
            let r = app.call(m.clone(), path, token, body.clone()).await;
            assert_eq!(r.status, StatusCode::UNAUTHORIZED, "anonymous {m} {path}");
            assert_eq!(r.body["code"], "unauthorized", "{m} {path}");
        }
    }
    for (m, path, body, admin_status) in &routes {
        let r = app.call(m.clone(), path, Some(&read), body.clone()).await;
        let read_allowed = *m == Method::GET && !path.contains("/tokens");
        if read_allowed {
            assert_eq!(r.status, *admin_status, "read-only {m} {path}: {}", r.text);
        } else {
            assert_eq!(r.status, StatusCode::FORBIDDEN, "read-only {m} {path}");
            assert_eq!(r.body["code"], "forbidden");
        }
    }
    for (m, path, body, admin_status) in &routes {
        let r = app.call(m.clone(), path, Some(ADMIN), body.clone()).await;
        assert_eq!(r.status, *admin_status, "admin {m} {path}: {}", r.text);
    }
    // The revoked read token no longer works.
    let r = app
        .call(Method::GET, "/api/v1/status", Some(&read), None)
        .await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    // Health needs no token.
    let r = app.call(Method::GET, "/healthz", None, None).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.body["status"], "ok");
    app.finish().await;
}

#[tokio::test]
async fn bootstrap_admin_token_is_generated_once() {
    let dir = tempfile::tempdir().unwrap();
    let mut s = crate::support::settings(&dir, None);
    s.admin_token = None;
    let server = opsdeck_server::start(s.clone()).await.unwrap();
    let token = server
        .bootstrap_token
        .clone()
        .expect("first start generates a token");
    let base = format!("http://{}", server.addr);
    let client = reqwest::Client::new();
    let ok = client
        .get(format!("{base}/api/v1/tokens"))
        .bearer_auth(secrecy::ExposeSecret::expose_secret(&token))
        .send()
        .await
        .unwrap();
    assert_eq!(ok.status(), StatusCode::OK);
    server.shutdown().await;
    // Only a hash is stored: the token text is nowhere in the database file.
    let raw = std::fs::read(dir.path().join("opsdeck.db")).unwrap();
    let needle = secrecy::ExposeSecret::expose_secret(&token)
        .as_bytes()
        .to_vec();
    assert!(!raw.windows(needle.len()).any(|w| w == needle.as_slice()));
    let again = opsdeck_server::start(s).await.unwrap();
    assert!(
        again.bootstrap_token.is_none(),
        "printed once, on the first start only"
    );
    again.shutdown().await;
}
