//! The routes the web UI needs beyond CRUD: the caller's role (`/session`), a service's check
//! history (`/services/{name}/checks`) and testing an edited config merged with the stored
//! secrets (`/services/{name}/test-config`).

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::on_both;
use crate::support::{ADMIN, Db, GOOD_TOKEN, TestApp, spawn_app};

on_both!(
    session_role,
    check_history,
    test_config_merges_stored_secrets
);

async fn read_token(app: &TestApp) -> String {
    let created = app
        .post("/api/v1/tokens", json!({"name": "viewer", "role": "read"}))
        .await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.text);
    created.body["token"].as_str().unwrap().to_owned()
}

async fn session_role(db: Db) {
    let Some(app) = spawn_app(db).await else {
        return;
    };
    let admin = app.get("/api/v1/session").await;
    assert_eq!(admin.status, StatusCode::OK, "{}", admin.text);
    assert_eq!(admin.body["role"], "admin");
    // Which run-time features are on (every one by default).
    assert_eq!(
        admin.body["features"],
        json!({"alerts": true, "cost_alerts": true, "incidents": true, "monitoring": true, "vendor_status": true})
    );

    let read = read_token(&app).await;
    let r = app
        .call(Method::GET, "/api/v1/session", Some(&read), None)
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.body["role"], "read");

    let anon = app.call(Method::GET, "/api/v1/session", None, None).await;
    assert_eq!(anon.status, StatusCode::UNAUTHORIZED);
    assert_eq!(anon.body["code"], "unauthorized");
    let bad = app
        .call(Method::GET, "/api/v1/session", Some("odk_nope"), None)
        .await;
    assert_eq!(bad.status, StatusCode::UNAUTHORIZED);
    app.finish().await;
}

async fn check_history(db: Db) {
    let Some(app) = spawn_app(db).await else {
        return;
    };
    app.create("svc").await;
    let none = app.get("/api/v1/services/svc/checks").await;
    assert_eq!(none.status, StatusCode::OK, "{}", none.text);
    assert_eq!(none.body, json!([]));

    // Connected, then failed (wrong token), then connected again.
    let t1 = app.post("/api/v1/services/svc/test", json!(null)).await;
    assert_eq!(t1.body["status"], "connected", "{}", t1.text);
    let v = app.get("/api/v1/services/svc").await.body["version"].clone();
    let p = app
        .patch(
            "/api/v1/services/svc",
            json!({"version": v, "config": {"token": "wrong"}}),
        )
        .await;
    assert_eq!(p.status, StatusCode::OK, "{}", p.text);
    let t2 = app.post("/api/v1/services/svc/test", json!(null)).await;
    assert_eq!(t2.body["status"], "failed", "{}", t2.text);
    let v = p.body["version"].clone();
    app.patch(
        "/api/v1/services/svc",
        json!({"version": v, "config": {"token": GOOD_TOKEN}}),
    )
    .await;
    app.post("/api/v1/services/svc/test", json!(null)).await;

    let all = app.get("/api/v1/services/svc/checks").await;
    assert_eq!(all.status, StatusCode::OK, "{}", all.text);
    let list = all.body.as_array().unwrap();
    assert_eq!(list.len(), 3, "{}", all.text);
    // Newest first, each with exactly the documented keys.
    let statuses: Vec<&str> = list.iter().map(|c| c["status"].as_str().unwrap()).collect();
    assert_eq!(statuses, ["connected", "failed", "connected"]);
    for c in list {
        let mut keys: Vec<&str> = c.as_object().unwrap().keys().map(String::as_str).collect();
        keys.sort_unstable();
        assert_eq!(
            keys,
            [
                "checked_at",
                "failure",
                "identity",
                "latency_ms",
                "message",
                "status"
            ]
        );
        assert!(c["checked_at"].as_str().unwrap().ends_with('Z'), "{c}");
        assert!(c["latency_ms"].is_i64(), "{c}");
    }
    assert_eq!(list[1]["failure"], "invalid_credentials");
    assert_eq!(list[0]["failure"], Value::Null);
    assert_eq!(list[0]["identity"], "octo");
    let times: Vec<&str> = list
        .iter()
        .map(|c| c["checked_at"].as_str().unwrap())
        .collect();
    assert!(times.windows(2).all(|w| w[0] >= w[1]), "{times:?}");
    assert!(!all.text.contains(GOOD_TOKEN));

    let two = app.get("/api/v1/services/svc/checks?limit=2").await;
    assert_eq!(two.body.as_array().unwrap().len(), 2);
    assert_eq!(two.body[0], list[0]);
    let max = app.get("/api/v1/services/svc/checks?limit=500").await;
    assert_eq!(max.status, StatusCode::OK);
    for bad in ["0", "501", "-1", "ten", ""] {
        let r = app
            .get(&format!("/api/v1/services/svc/checks?limit={bad}"))
            .await;
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "limit={bad}");
        assert_eq!(r.body["code"], "invalid_body", "{}", r.text);
        assert_eq!(r.body["details"][0]["field"], "limit", "{}", r.text);
    }

    // Readable with a read-only token; unknown service is a 404.
    let read = read_token(&app).await;
    let r = app
        .call(
            Method::GET,
            "/api/v1/services/svc/checks",
            Some(&read),
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::OK);
    let missing = app.get("/api/v1/services/nope/checks").await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
    assert_eq!(missing.body["code"], "not_found");

    // Deleting the service deletes its history.
    assert_eq!(
        app.delete("/api/v1/services/svc").await.status,
        StatusCode::NO_CONTENT
    );
    app.create("svc").await;
    assert_eq!(app.get("/api/v1/services/svc/checks").await.body, json!([]));
    app.finish().await;
}

async fn test_config_merges_stored_secrets(db: Db) {
    let Some(app) = spawn_app(db).await else {
        return;
    };
    app.create("svc").await;
    let before = app.get("/api/v1/services/svc").await.body;
    let url = "/api/v1/services/svc/test-config";

    // A non-secret change: the stored token is used, so the check connects.
    let r = app.post(url, json!({"config": {"team": "infra"}})).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.body["status"], "connected", "{}", r.text);
    assert_eq!(r.body["service"], "svc");
    assert_eq!(r.body["identity"], "octo");
    // The keep marker is the same as leaving the secret out.
    let r = app
        .post(url, json!({"config": {"token": {"set": true}}}))
        .await;
    assert_eq!(r.body["status"], "connected", "{}", r.text);
    let r = app.post(url, json!({})).await;
    assert_eq!(r.body["status"], "connected", "{}", r.text);

    // A replaced secret is what gets tested.
    let r = app
        .post(url, json!({"config": {"token": "wrong-token"}}))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.body["status"], "failed", "{}", r.text);
    assert_eq!(r.body["failure"], "invalid_credentials", "{}", r.text);
    assert!(!r.text.contains("wrong-token"), "{}", r.text);
    assert!(!r.text.contains(GOOD_TOKEN), "{}", r.text);

    // null removes: a required secret gone is a config error naming the field.
    let r = app.post(url, json!({"config": {"token": null}})).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.text);
    assert_eq!(r.body["code"], "invalid_config");
    assert!(
        r.body["details"]
            .as_array()
            .unwrap()
            .iter()
            .any(|d| d["field"] == "config.token"),
        "{}",
        r.text
    );
    let r = app.post(url, json!({"config": {"nonsense": 1}})).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.text);
    let r = app.post(url, json!({"config": {}, "extra": 1})).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.text);
    assert_eq!(r.body["code"], "invalid_body");

    // Nothing was stored: same version, same secret, no history.
    let after = app.get("/api/v1/services/svc").await.body;
    assert_eq!(before, after);
    assert_eq!(app.get("/api/v1/services/svc/checks").await.body, json!([]));
    let t = app.post("/api/v1/services/svc/test", json!(null)).await;
    assert_eq!(t.body["status"], "connected", "stored token unchanged");

    // Admin only; unknown service is a 404.
    let read = read_token(&app).await;
    let r = app
        .call(
            Method::POST,
            url,
            Some(&read),
            Some(json!({"config": {"team": "x"}})),
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    let r = app
        .call(
            Method::POST,
            "/api/v1/services/nope/test-config",
            Some(ADMIN),
            Some(json!({})),
        )
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    app.finish().await;
}

#[tokio::test]
async fn new_routes_are_in_the_openapi_document() {
    let app = spawn_app(Db::Sqlite).await.unwrap();
    let spec = app.get("/api/v1/openapi.json").await;
    assert_eq!(spec.status, StatusCode::OK);
    let paths = &spec.body["paths"];
    let checks = &paths["/services/{name}/checks"]["get"];
    assert!(checks.is_object(), "{}", spec.text);
    let limit = checks["parameters"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == "limit")
        .expect("limit parameter");
    assert_eq!(limit["in"], "query");
    assert_eq!(limit["schema"]["maximum"], 500);
    assert_eq!(limit["schema"]["minimum"], 1);
    assert!(paths["/services/{name}/test-config"]["post"].is_object());
    assert!(paths["/session"]["get"].is_object());
    let schemas = &spec.body["components"]["schemas"];
    for field in [
        "checked_at",
        "status",
        "failure",
        "latency_ms",
        "message",
        "identity",
    ] {
        assert!(
            schemas["CheckView"]["properties"][field].is_object(),
            "CheckView.{field}"
        );
    }
    assert!(schemas["SessionView"]["properties"]["role"].is_object());
    app.finish().await;
}
