//! Service CRUD, optimistic concurrency, tests, metrics, status and body errors.

use reqwest::{Method, StatusCode};
use serde_json::json;
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::on_both;
use crate::support::{ADMIN, Db, spawn_app, spawn_with};

on_both!(
    crud_and_versions,
    tests_status_and_metrics,
    body_errors,
    provisioned_services,
    partial_metrics_keep_their_problems
);

async fn crud_and_versions(db: Db) {
    let Some(app) = spawn_app(db).await else {
        return;
    };
    let created = app.create("gh-main").await;
    assert_eq!(created.body["version"], 1);
    assert_eq!(created.body["config"]["token"], json!({"set": true}));
    assert_eq!(created.body["config"]["team"], "platform");
    assert_eq!(created.body["provisioned"], false);

    let list = app.get("/api/v1/services").await;
    assert_eq!(list.status, StatusCode::OK);
    assert_eq!(list.body.as_array().map(Vec::len), Some(1));

    // Same name again.
    let dup = app
        .post("/api/v1/services", app.mock_service("gh-main", "x"))
        .await;
    assert_eq!(dup.status, StatusCode::CONFLICT, "{}", dup.text);
    assert_eq!(dup.body["code"], "already_exists");

    // Read-modify-write: sending back the `{"set": true}` marker keeps the stored secret.
    let mut config = created.body["config"].clone();
    config["team"] = json!("infra");
    let patched = app
        .patch(
            "/api/v1/services/gh-main",
            json!({"version": 1, "config": config, "enabled": false}),
        )
        .await;
    assert_eq!(patched.status, StatusCode::OK, "{}", patched.text);
    assert_eq!(patched.body["version"], 2);
    assert_eq!(patched.body["config"]["team"], "infra");
    assert_eq!(patched.body["enabled"], false);

    let stale = app
        .patch(
            "/api/v1/services/gh-main",
            json!({"version": 1, "tags": []}),
        )
        .await;
    assert_eq!(stale.status, StatusCode::CONFLICT);
    assert_eq!(stale.body["code"], "stale_version");

    let again = app
        .patch(
            "/api/v1/services/gh-main",
            json!({"version": 2, "enabled": true, "interval_secs": 60}),
        )
        .await;
    assert_eq!(again.status, StatusCode::OK, "{}", again.text);
    assert_eq!(again.body["interval_secs"], 60);
    // The kept secret still works.
    let tested = app
        .call(
            Method::POST,
            "/api/v1/services/gh-main/test",
            Some(ADMIN),
            None,
        )
        .await;
    assert_eq!(tested.body["status"], "connected", "{}", tested.text);

    // Two writers with the same version at the same time: exactly one wins.
    let v = again.body["version"].as_i64().unwrap();
    let (a, b) = tokio::join!(
        app.patch(
            "/api/v1/services/gh-main",
            json!({"version": v, "tags": ["a"]})
        ),
        app.patch(
            "/api/v1/services/gh-main",
            json!({"version": v, "tags": ["b"]})
        ),
    );
    let mut codes = [a.status.as_u16(), b.status.as_u16()];
    codes.sort_unstable();
    assert_eq!(codes, [200, 409], "{} / {}", a.text, b.text);

    let missing_version = app
        .patch("/api/v1/services/gh-main", json!({"tags": []}))
        .await;
    assert_eq!(missing_version.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(missing_version.body["details"][0]["field"], "version");

    let del = app.delete("/api/v1/services/gh-main").await;
    assert_eq!(del.status, StatusCode::NO_CONTENT);
    let gone = app.get("/api/v1/services/gh-main").await;
    assert_eq!(gone.status, StatusCode::NOT_FOUND);
    assert_eq!(gone.body["code"], "not_found");
    app.finish().await;
}

async fn tests_status_and_metrics(db: Db) {
    let Some(app) = spawn_app(db).await else {
        return;
    };
    app.create("good").await;
    let bad = app
        .post("/api/v1/services", app.mock_service("bad", "wrong-token"))
        .await;
    assert_eq!(bad.status, StatusCode::CREATED);

    let before = app.get("/api/v1/status").await;
    assert_eq!(before.body["summary"]["unknown"], 2, "{}", before.text);
    assert_eq!(
        before.body["services"][0]["checked_at"],
        serde_json::Value::Null
    );

    let r = app
        .call(
            Method::POST,
            "/api/v1/services/good/test",
            Some(ADMIN),
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.body["service"], "good");
    assert_eq!(r.body["provider"], "mock");
    assert_eq!(r.body["status"], "connected");
    assert_eq!(r.body["failure"], serde_json::Value::Null);
    assert_eq!(r.body["identity"], "octo");

    let all = app
        .call(
            Method::POST,
            "/api/v1/test-all?concurrency=4",
            Some(ADMIN),
            None,
        )
        .await;
    assert_eq!(all.status, StatusCode::OK, "{}", all.text);
    let reports = all.body.as_array().unwrap();
    assert_eq!(reports.len(), 2);
    assert_eq!(reports[0]["service"], "bad");
    assert_eq!(reports[0]["status"], "failed");
    assert_eq!(reports[0]["failure"], "invalid_credentials");

    let status = app.get("/api/v1/status").await;
    assert_eq!(status.body["summary"]["connected"], 1, "{}", status.text);
    assert_eq!(status.body["summary"]["failed"], 1);
    let bad_entry = &status.body["services"][0];
    assert_eq!(bad_entry["service"], "bad");
    assert_eq!(bad_entry["failure"], "invalid_credentials");
    assert!(bad_entry["checked_at"].as_str().is_some());

    // Unsaved config: tested, not stored.
    let unsaved = app
        .post(
            "/api/v1/test",
            json!({"provider": "mock", "config": {"base_url": app.mock.uri(), "token": "nope"}}),
        )
        .await;
    assert_eq!(unsaved.status, StatusCode::OK, "{}", unsaved.text);
    assert_eq!(unsaved.body["failure"], "invalid_credentials");
    assert_eq!(
        app.get("/api/v1/services")
            .await
            .body
            .as_array()
            .map(Vec::len),
        Some(2)
    );

    // Reading metrics never calls the vendor: nothing collected yet.
    let hits = app.mock.received_requests().await.unwrap_or_default().len();
    let m = app.get("/api/v1/services/good/metrics").await;
    assert_eq!(m.status, StatusCode::OK, "{}", m.text);
    assert_eq!(m.body["collected_at"], serde_json::Value::Null);
    assert_eq!(m.body["metrics"], json!([]));
    assert_eq!(
        app.mock.received_requests().await.unwrap_or_default().len(),
        hits
    );
    // Collecting afresh is an admin POST.
    let m = app
        .call(
            Method::POST,
            "/api/v1/services/good/metrics",
            Some(ADMIN),
            None,
        )
        .await;
    assert_eq!(m.status, StatusCode::OK, "{}", m.text);
    assert_eq!(m.body["metrics"][0]["name"], "mock_value");
    assert_eq!(m.body["metrics"][0]["value"], 42);
    assert_eq!(m.body["error"], serde_json::Value::Null);
    let collected_at = m.body["collected_at"].as_str().unwrap().to_owned();
    let again = app.get("/api/v1/services/good/metrics").await;
    assert_eq!(
        again.body["collected_at"],
        collected_at.as_str(),
        "{}",
        again.text
    );
    assert_eq!(again.body["metrics"][0]["value"], 42);

    // The Prometheus text includes the stored metrics as soon as the POST answered.
    let prom = app.get("/metrics").await.text;
    assert!(
        prom.contains("opsdeck_service_up{service=\"good\",provider=\"mock\"} 1"),
        "{prom}"
    );
    assert!(
        prom.contains("opsdeck_service_up{service=\"bad\",provider=\"mock\"} 0"),
        "{prom}"
    );
    assert!(
        prom.contains("# TYPE opsdeck_check_latency_seconds gauge"),
        "{prom}"
    );
    assert!(
        prom.contains("opsdeck_last_check_timestamp_seconds{service=\"good\""),
        "{prom}"
    );
    assert!(
        prom.contains("mock_value{service=\"good\",provider=\"mock\",kind=\"test\"} 42"),
        "{prom}"
    );
    assert!(
        prom.contains(
            "opsdeck_metrics_collected_timestamp_seconds{service=\"good\",provider=\"mock\"}"
        ),
        "{prom}"
    );

    // Dashboards poll the status: gzip and ETag are honoured.
    let url = format!("{}/api/v1/status", app.base);
    let gz = app
        .client
        .get(&url)
        .bearer_auth(ADMIN)
        .header("accept-encoding", "gzip")
        .send()
        .await
        .unwrap();
    assert_eq!(gz.headers()["content-encoding"], "gzip");
    let etag = gz.headers()["etag"].to_str().unwrap().to_owned();
    let bytes = gz.bytes().await.unwrap();
    let mut text = String::new();
    std::io::Read::read_to_string(&mut flate2::read::GzDecoder::new(&bytes[..]), &mut text)
        .unwrap();
    let doc: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!(doc["summary"]["connected"], 1);
    let same = app
        .client
        .get(&url)
        .bearer_auth(ADMIN)
        .header("if-none-match", &etag)
        .send()
        .await
        .unwrap();
    assert_eq!(same.status(), StatusCode::NOT_MODIFIED);

    let providers = app.get("/api/v1/providers").await;
    assert!(
        providers
            .body
            .as_array()
            .unwrap()
            .iter()
            .any(|p| p["id"] == "mock")
    );
    let one = app.get("/api/v1/providers/mock").await;
    assert_eq!(one.body["schema"]["properties"]["token"]["writeOnly"], true);
    assert_eq!(
        app.get("/api/v1/providers/nope").await.status,
        StatusCode::NOT_FOUND
    );

    let spec = app.get("/api/v1/openapi.json").await;
    assert_eq!(spec.status, StatusCode::OK);
    assert!(
        spec.body["paths"]["/services/{name}"]["patch"].is_object(),
        "{}",
        spec.text
    );
    app.finish().await;
}

async fn body_errors(db: Db) {
    let Some(app) = spawn_app(db).await else {
        return;
    };
    let url = format!("{}/api/v1/services", app.base);

    let syntax = app
        .client
        .post(&url)
        .bearer_auth(ADMIN)
        .header("content-type", "application/json")
        .body("{\"name\": ")
        .send()
        .await
        .unwrap();
    assert_eq!(syntax.status(), StatusCode::BAD_REQUEST);
    let body: serde_json::Value = syntax.json().await.unwrap();
    assert_eq!(body["code"], "malformed_json");

    let no_type = app
        .client
        .post(&url)
        .bearer_auth(ADMIN)
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(no_type.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE);

    let mut unknown = app.mock_service("x", "t");
    unknown["colour"] = json!("red");
    let r = app.post("/api/v1/services", unknown).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.text);
    assert_eq!(r.body["code"], "invalid_body");
    assert_eq!(r.body["details"][0]["field"], "colour");

    let mut wrong_type = app.mock_service("x", "t");
    wrong_type["enabled"] = json!("yes");
    let r = app.post("/api/v1/services", wrong_type).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.text);
    assert_eq!(r.body["details"][0]["field"], "enabled");

    let r = app
        .post(
            "/api/v1/services",
            json!({"name": "x", "provider": "nope", "config": {}}),
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(r.body["code"], "unknown_provider");

    let r = app
        .post("/api/v1/services", json!({"name": "x", "provider": "mock", "config": {"base_url": "ftp://x", "tokn": "a"}}))
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.text);
    assert_eq!(r.body["code"], "invalid_config");
    let fields: Vec<&str> = r.body["details"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|d| d["field"].as_str())
        .collect();
    for f in ["config.tokn", "config.base_url", "config.token"] {
        assert!(fields.contains(&f), "{f} missing in {fields:?}");
    }

    // A provider's own config rule (GitHub: a token or the three App fields) names its fields
    // too, on a save and on a test of unsaved settings, so a form can mark them.
    for (provider, config, want) in [
        ("github", json!({}), vec!["config.token"]),
        (
            "github",
            json!({"app_id": "123"}),
            vec!["config.private_key", "config.installation_id"],
        ),
        (
            "github",
            json!({"token": "t", "installation_id": 5}),
            vec!["config.token", "config.installation_id"],
        ),
        (
            "aws",
            json!({"region": "eu-west-1"}),
            vec!["config.access_key_id", "config.secret_access_key"],
        ),
        (
            "aws",
            json!({"region": "eu-west-1", "access_key_id": "AKIAEXAMPLE"}),
            vec!["config.secret_access_key"],
        ),
        (
            "stripe",
            json!({"secret_key": "pk_test_123"}),
            vec!["config.secret_key"],
        ),
    ] {
        for (path, body) in [
            (
                "/api/v1/services",
                json!({"name": "svc-x", "provider": provider, "config": config.clone()}),
            ),
            (
                "/api/v1/test",
                json!({"provider": provider, "config": config.clone()}),
            ),
        ] {
            let r = app.post(path, body).await;
            assert_eq!(
                r.status,
                StatusCode::UNPROCESSABLE_ENTITY,
                "{path}: {}",
                r.text
            );
            assert_eq!(r.body["code"], "invalid_config", "{path}");
            let fields: Vec<&str> = r.body["details"]
                .as_array()
                .unwrap()
                .iter()
                .filter_map(|d| d["field"].as_str())
                .collect();
            assert_eq!(fields, want, "{path} {config}: {}", r.text);
        }
    }

    let r = app
        .post("/api/v1/services", app.mock_service("bad name!", "t"))
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(r.body["details"][0]["field"], "name");

    let r = app
        .post("/api/v1/services", app.mock_service("x", "t"))
        .await;
    assert_eq!(r.status, StatusCode::CREATED);
    let r = app
        .patch(
            "/api/v1/services/x",
            json!({"version": 1, "provider": "other"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(r.body["details"][0]["field"], "provider");
    app.finish().await;
}

async fn provisioned_services(db: Db) {
    let mock = crate::support::mock_vendor().await;
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("opsdeck.toml");
    std::fs::write(
        &file,
        format!(
            "[features]\nalerts = false\n\n[services.from-file]\nprovider = \"mock\"\nbase_url = \"{}\"\ntoken = \"{}\"\ninterval = \"90s\"\ntags = [\"prov\"]\n",
            mock.uri(),
            crate::support::GOOD_TOKEN
        ),
    )
    .unwrap();
    // A file referring to an unset variable is refused at start, naming it.
    let bad = dir.path().join("bad.toml");
    std::fs::write(&bad, "[services.x]\nprovider = \"mock\"\nbase_url = \"http://x\"\ntoken = \"${OPSDECK_SURELY_UNSET_VAR}\"\n").unwrap();
    let dir2 = tempfile::tempdir().unwrap();
    let mut s = crate::support::settings(&dir2, None);
    s.config = Some(bad);
    let err = opsdeck_server::start(s)
        .await
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
    assert!(err.contains("OPSDECK_SURELY_UNSET_VAR"), "{err}");

    let file2 = file.clone();
    let Some(app) = spawn_with(db, move |s| s.config = Some(file2)).await else {
        return;
    };
    let svc = app.get("/api/v1/services/from-file").await;
    assert_eq!(svc.status, StatusCode::OK, "{}", svc.text);
    // The file's [features] table is applied; the services loader never sees it.
    let features = &app.server.as_ref().unwrap().state.settings.features;
    assert!(!features.enabled(opsdeck_server::features::Feature::Alerts));
    assert!(features.enabled(opsdeck_server::features::Feature::Monitoring));
    assert_eq!(svc.body["provisioned"], true);
    assert_eq!(svc.body["interval_secs"], 90);
    assert_eq!(svc.body["config"]["token"], json!({"set": true}));

    let r = app
        .patch(
            "/api/v1/services/from-file",
            json!({"version": 1, "enabled": false}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CONFLICT);
    assert_eq!(r.body["code"], "provisioned");
    assert!(r.body["message"].as_str().unwrap().contains("config file"));
    let r = app.delete("/api/v1/services/from-file").await;
    assert_eq!(r.body["code"], "provisioned");
    let tested = app
        .call(
            Method::POST,
            "/api/v1/services/from-file/test",
            Some(ADMIN),
            None,
        )
        .await;
    assert_eq!(tested.body["status"], "connected", "{}", tested.text);
    app.finish().await;
}

/// Every provider enabled by Cargo features is registered in opsdeckd (a lost link anchor would
/// silently drop one), plus the test-only `mock`.
#[tokio::test]
async fn every_enabled_provider_is_served() {
    let Some(app) = spawn_app(Db::Sqlite).await else {
        return;
    };
    let list = app.get("/api/v1/providers").await;
    let ids: Vec<&str> = list
        .body
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|p| p["id"].as_str())
        .collect();
    for id in opsdeck_server::opsdeck::ENABLED_PROVIDERS {
        assert!(ids.contains(id), "{id} missing from {ids:?}");
    }
    assert!(ids.contains(&"mock"));
    app.finish().await;
}

/// The UI builds its add/edit forms from `GET /api/v1/providers/{id}`'s schema: the GitHub App
/// fields and the Azure OpenAI provider are there, secrets write-only (masked inputs).
#[cfg(all(feature = "github", feature = "azure_openai"))]
#[tokio::test]
async fn credential_forms_come_from_the_provider_schemas() {
    let Some(app) = spawn_app(Db::Sqlite).await else {
        return;
    };
    let gh = app.get("/api/v1/providers/github").await;
    let props = &gh.body["schema"]["properties"];
    for field in ["token", "app_id", "private_key", "installation_id"] {
        assert!(props[field].is_object(), "{field}: {}", gh.text);
    }
    assert_eq!(props["private_key"]["writeOnly"], true);
    assert_eq!(props["installation_id"]["type"], "integer");
    let az = app.get("/api/v1/providers/azure_openai").await;
    let props = &az.body["schema"]["properties"];
    assert_eq!(props["api_key"]["writeOnly"], true);
    assert_eq!(props["api_version"]["default"], "2024-10-21");
    assert!(props["deployment"].is_object(), "{}", az.text);
    assert_eq!(
        az.body["schema"]["required"],
        serde_json::json!(["endpoint", "api_key"])
    );
    app.finish().await;
}

/// Two instances starting at once on one PostgreSQL database, provisioning the same file: both
/// start, every service exists once.
#[tokio::test(flavor = "multi_thread")]
async fn two_instances_provision_at_once() {
    let Some(url) = crate::support::pg_database().await else {
        return;
    };
    let mock = crate::support::mock_vendor().await;
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("opsdeck.toml");
    let mut text = String::new();
    for i in 0..10 {
        text.push_str(&format!(
            "[services.p{i}]\nprovider = \"mock\"\nbase_url = \"{}\"\ntoken = \"{}\"\n\n",
            mock.uri(),
            crate::support::GOOD_TOKEN
        ));
    }
    std::fs::write(&file, text).unwrap();
    let (d1, d2) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let settings = |d: &tempfile::TempDir| {
        let mut s = crate::support::settings(d, Some(url.clone()));
        s.secret_key = Some("55".repeat(32).into());
        s.config = Some(file.clone());
        s
    };
    let (a, b) = tokio::join!(
        opsdeck_server::start(settings(&d1)),
        opsdeck_server::start(settings(&d2))
    );
    let (a, b) = (a.unwrap(), b.unwrap());
    let list = a.state.store.list_services().await.unwrap();
    assert_eq!(list.len(), 10);
    assert!(list.iter().all(|s| s.provisioned));
    a.shutdown().await;
    b.shutdown().await;
    crate::support::drop_database(&url).await;
}

/// Issue 14: a collection where one section failed is stored with its problems beside the
/// samples, and the API returns them (POST, then GET from the store); `error` stays null.
async fn partial_metrics_keep_their_problems(db: Db) {
    let Some(app) = spawn_app(db).await else {
        return;
    };
    let vendor = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/metrics"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!({"value": 7, "sections": ["fine", "broken"]})),
        )
        .mount(&vendor)
        .await;
    Mock::given(method("GET"))
        .and(path("/metrics/fine"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"value": 3})))
        .mount(&vendor)
        .await;
    Mock::given(method("GET"))
        .and(path("/metrics/broken"))
        .respond_with(ResponseTemplate::new(404))
        .mount(&vendor)
        .await;
    let created = app
        .post(
            "/api/v1/services",
            json!({"name": "partial", "provider": "mock",
                   "config": {"base_url": vendor.uri(), "token": "t"}}),
        )
        .await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.text);
    let m = app
        .call(
            Method::POST,
            "/api/v1/services/partial/metrics",
            Some(ADMIN),
            None,
        )
        .await;
    assert_eq!(m.status, StatusCode::OK, "{}", m.text);
    assert_eq!(m.body["error"], serde_json::Value::Null, "{}", m.text);
    assert_eq!(
        m.body["metrics"].as_array().map(Vec::len),
        Some(2),
        "{}",
        m.text
    );
    assert_eq!(m.body["problems"][0]["section"], "broken", "{}", m.text);
    assert_eq!(m.body["problems"][0]["failure"], "not_found");
    assert!(
        m.body["problems"][0]["message"]
            .as_str()
            .is_some_and(|s| !s.is_empty())
    );
    let stored = app.get("/api/v1/services/partial/metrics").await;
    assert_eq!(
        stored.body["problems"], m.body["problems"],
        "{}",
        stored.text
    );
    assert_eq!(stored.body["metrics"].as_array().map(Vec::len), Some(2));
    app.finish().await;
}
