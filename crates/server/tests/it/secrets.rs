//! Secrets at rest and in transit: no plaintext in the database, in API responses or in logs.

use reqwest::Method;
use serde_json::json;

use crate::on_both;
use crate::support::{ADMIN, Db, GOOD_TOKEN, spawn_app};

on_both!(no_plaintext_anywhere);

async fn no_plaintext_anywhere(db: Db) {
    let logs = opsdeck_testkit::LogCapture::install();
    let Some(app) = spawn_app(db).await else {
        return;
    };
    let mut bodies = String::new();
    bodies.push_str(&app.create("a").await.text);
    let bad_secret = "wrong-token-also-secret-9876";
    bodies.push_str(
        &app.post("/api/v1/services", app.mock_service("b", bad_secret))
            .await
            .text,
    );
    for path in [
        "/api/v1/services",
        "/api/v1/services/a",
        "/api/v1/status",
        "/metrics",
        "/api/v1/services/a/metrics",
    ] {
        bodies.push_str(&app.get(path).await.text);
    }
    for path in [
        "/api/v1/services/a/test",
        "/api/v1/services/b/test",
        "/api/v1/test-all",
    ] {
        bodies.push_str(&app.call(Method::POST, path, Some(ADMIN), None).await.text);
    }
    let patched = app
        .patch(
            "/api/v1/services/b",
            json!({"version": 1, "config": {"token": "rotated-secret-5555"}}),
        )
        .await;
    bodies.push_str(&patched.text);
    let secrets = [GOOD_TOKEN, bad_secret, "rotated-secret-5555"];
    opsdeck_testkit::assert_no_secrets("API responses", &bodies, &secrets);

    // Raw storage: the SQLite files, or every row of every table on PostgreSQL.
    let raw = match &app.db_url {
        None => {
            let mut raw = Vec::new();
            for f in ["opsdeck.db", "opsdeck.db-wal"] {
                raw.extend(std::fs::read(app.dir.path().join(f)).unwrap_or_default());
            }
            String::from_utf8_lossy(&raw).into_owned()
        }
        Some(url) => {
            use sqlx::Row;
            let pool = sqlx::AnyPool::connect(url).await.unwrap();
            let mut out = String::new();
            for t in [
                "services",
                "check_results",
                "meta",
                "api_tokens",
                "service_metrics",
            ] {
                let sql =
                    sqlx::AssertSqlSafe(format!("SELECT CAST(row_to_json(t) AS TEXT) FROM {t} t"));
                for row in sqlx::query(sql).fetch_all(&pool).await.unwrap() {
                    out.push_str(&row.try_get::<String, _>(0).unwrap());
                }
            }
            assert!(
                out.contains("\"name\":\"a\""),
                "the scan must see the rows: {out}"
            );
            pool.close().await;
            out
        }
    };
    opsdeck_testkit::assert_no_secrets("the database", &raw, &secrets);
    app.finish().await;
    opsdeck_testkit::assert_no_secrets("logs", &logs.contents(), &secrets);
    assert!(
        logs.contents().contains("service created"),
        "logs were captured"
    );
}
