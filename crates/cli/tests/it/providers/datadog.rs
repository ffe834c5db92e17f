//! Datadog: `GET /api/v1/validate` (DD-API-KEY) and `GET /api/v2/validate_keys` (both keys) for
//! the test; monitor search facets and the month's estimated cost for the metrics.

use chrono::{Datelike, TimeZone, Utc};
use wiremock::matchers::{header, method, path, query_param};
use wiremock::{Mock, MockBuilder, MockServer, Request, ResponseTemplate};

use super::Provider;

const API_KEY: &str = "dde2eapikey0123456789abcdef012345";
const APP_KEY: &str = "dde2eappkey0123456789abcdef0123456789abcd";

pub const PROVIDER: Provider = Provider {
    id: "datadog",
    env: &[
        ("OPSDECK_E2E_DD_API_KEY", API_KEY),
        ("OPSDECK_E2E_DD_APP_KEY", APP_KEY),
    ],
    secrets: &[API_KEY, APP_KEY],
    block,
};

fn block(name: &str, base: &str) -> String {
    format!(
        "[services.{name}]\nprovider = \"datadog\"\napi_key = \"${{OPSDECK_E2E_DD_API_KEY}}\"\napp_key = \"${{OPSDECK_E2E_DD_APP_KEY}}\"\nbase_url = \"{base}\"\n\n"
    )
}

const VALIDATE: &str =
    include_str!("../../../../providers/datadog/tests/it/fixtures/validate_ok.json");
const VALIDATE_KEYS: &str =
    include_str!("../../../../providers/datadog/tests/it/fixtures/validate_keys_ok.json");
const FORBIDDEN: &str =
    include_str!("../../../../providers/datadog/tests/it/fixtures/validate_forbidden.json");
const MONITORS: &str =
    include_str!("../../../../providers/datadog/tests/it/fixtures/monitor_search.json");
const COST: &str =
    include_str!("../../../../providers/datadog/tests/it/fixtures/estimated_cost.json");

fn body(raw: &str) -> ResponseTemplate {
    ResponseTemplate::new(200).set_body_raw(raw.to_owned(), "application/json")
}

fn get(p: &'static str) -> MockBuilder {
    Mock::given(method("GET"))
        .and(path(p))
        .and(header("dd-api-key", API_KEY))
        .and(header("accept", "application/json"))
}

pub async fn mount_probe(server: &MockServer) {
    get("/api/v1/validate")
        .respond_with(body(VALIDATE))
        .mount(server)
        .await;
    get("/api/v2/validate_keys")
        .and(header("dd-application-key", APP_KEY))
        .respond_with(body(VALIDATE_KEYS))
        .mount(server)
        .await;
}

pub async fn mount_metrics(server: &MockServer) {
    get("/api/v1/monitor/search")
        .and(header("dd-application-key", APP_KEY))
        .and(query_param("page", "0"))
        .and(query_param("per_page", "1"))
        .respond_with(body(MONITORS))
        .mount(server)
        .await;
    let month_start = {
        let n = Utc::now();
        Utc.with_ymd_and_hms(n.year(), n.month(), 1, 0, 0, 0)
            .single()
            .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true))
            .unwrap_or_default()
    };
    get("/api/v2/usage/estimated_cost")
        .and(header("dd-application-key", APP_KEY))
        .and(query_param("view", "summary"))
        .and(query_param("start_month", month_start.as_str()))
        .and(|r: &Request| !r.url.query_pairs().any(|(k, _)| k == "end_month"))
        .respond_with(body(COST))
        .mount(server)
        .await;
}

pub async fn mount_all(server: &MockServer) {
    mount_probe(server).await;
    mount_metrics(server).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn test_validates_both_keys() {
    let server = MockServer::start().await;
    mount_probe(&server).await;
    let out = PROVIDER.setup(&server.uri()).run("test", &[]).await;
    let s = PROVIDER.service();
    let identity = out.entry(&s)["identity"].as_str().unwrap_or("").to_owned();
    assert!(identity.contains("127.0.0.1"), "{}", out.json);
    out.assert_connected(&s, "datadog", &identity);
    assert!(
        out.entry(&s)["message"]
            .as_str()
            .is_some_and(|m| m.contains("API and application keys are valid")),
        "{}",
        out.json
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn metrics_count_monitors_and_sum_the_estimated_cost() {
    let server = MockServer::start().await;
    mount_metrics(&server).await;
    let out = PROVIDER.setup(&server.uri()).run("metrics", &[]).await;
    let s = PROVIDER.service();
    out.assert_collected(&s, "datadog");
    assert_eq!(
        out.metric(&s, "datadog_monitors", &[("state", "alert")]),
        Some(65.0)
    );
    assert_eq!(out.metric(&s, "datadog_monitors_total", &[]), Some(203.0));
    assert_eq!(out.metric(&s, "datadog_monitors_muted", &[]), Some(17.0));
    assert_eq!(
        out.metric(&s, "datadog_estimated_cost_mtd", &[("currency", "usd")]),
        Some(73.17)
    );
    assert_eq!(out.notes(&s), "");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_rejected_api_key_fails_with_exit_1() {
    let server = MockServer::start().await;
    // Datadog answers an invalid API key on /api/v1/validate with 403 {"errors":["Forbidden"]}.
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(403).set_body_raw(FORBIDDEN, "application/json"))
        .mount(&server)
        .await;
    let setup = PROVIDER.setup(&server.uri());
    setup
        .run("test", &[])
        .await
        .assert_failed(&PROVIDER.service(), "invalid_credentials");
    // Datadog answers the metrics endpoints with the same 403 for a bad API key as for a
    // missing permission; metrics must still call it a rejected key, like `opsdeck test`.
    let m = setup.run("metrics", &[]).await;
    assert_eq!(m.code, 1, "{}", m.json);
    let e = m.entry(&PROVIDER.service());
    assert_eq!(e["error"]["failure"], "invalid_credentials", "{e}");
    assert_eq!(e["metrics"], serde_json::json!([]), "{e}");
}
