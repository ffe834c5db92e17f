//! Datadog: `GET /api/v1/validate` (DD-API-KEY) and `GET /api/v2/validate_keys` (both keys) for
//! the test; monitor search facets and the month's estimated cost for the metrics.

use opsdeck::providers::datadog::testing::{self, API_KEY, APP_KEY};
use wiremock::MockServer;

use super::Provider;

pub use testing::{mount_all, mount_metrics, mount_probe};

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
    testing::mount_unauthorized(&server).await;
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
