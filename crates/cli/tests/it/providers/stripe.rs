//! Stripe: `GET /v1/balance` and `GET /v1/account` for the test; the balance, 30 days of charges
//! and the active subscriptions (both paged with `starting_after`) for the metrics.

use opsdeck::providers::stripe::testing::{self, KEY};
use wiremock::MockServer;

use super::Provider;

pub use testing::{mount_all, mount_metrics, mount_probe};

pub const PROVIDER: Provider = Provider {
    id: "stripe",
    env: &[("OPSDECK_E2E_STRIPE_KEY", KEY)],
    // "Aso0" is the key's last four characters: Stripe's 401 body echoes the key masked
    // (`sk_test_****…Aso0`), and even that tail must not reach our output.
    secrets: &[KEY, "Aso0"],
    block,
};

fn block(name: &str, base: &str) -> String {
    format!(
        "[services.{name}]\nprovider = \"stripe\"\nsecret_key = \"${{OPSDECK_E2E_STRIPE_KEY}}\"\nbase_url = \"{base}\"\n\n"
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn test_connects_to_the_account() {
    let server = MockServer::start().await;
    mount_probe(&server).await;
    let out = PROVIDER.setup(&server.uri()).run("test", &[]).await;
    out.assert_connected(
        &PROVIDER.service(),
        "stripe",
        "Acme (acct_1PgafTB7WZ01zgkW)",
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn metrics_follow_pages_and_compute_mrr() {
    let server = MockServer::start().await;
    mount_metrics(&server).await;
    let out = PROVIDER.setup(&server.uri()).run("metrics", &[]).await;
    let s = PROVIDER.service();
    out.assert_collected(&s, "stripe");
    let usd = ("currency", "usd");
    assert_eq!(
        out.metric(&s, "stripe_balance_available", &[usd]),
        Some(123_456.0)
    );
    assert_eq!(
        out.metric(&s, "stripe_gross_volume_30d", &[usd]),
        Some(15_500.0)
    );
    assert_eq!(
        out.metric(&s, "stripe_charges_30d", &[("status", "failed")]),
        Some(1.0)
    );
    assert_eq!(
        out.metric(&s, "stripe_active_subscriptions", &[]),
        Some(5.0)
    );
    assert_eq!(out.metric(&s, "stripe_mrr", &[usd]), Some(15_500.0));
}

#[tokio::test(flavor = "multi_thread")]
async fn an_invalid_key_fails_with_exit_1() {
    let server = MockServer::start().await;
    testing::mount_unauthorized(&server).await;
    let setup = PROVIDER.setup(&server.uri());
    setup
        .run("test", &[])
        .await
        .assert_failed(&PROVIDER.service(), "invalid_credentials");
    setup
        .run("metrics", &[])
        .await
        .assert_metrics_failed(&PROVIDER.service(), "invalid_credentials");
}

/// Issue 14: `/v1/charges` failing keeps the balance and subscriptions; the JSON names the
/// failed section in `"problems"` beside `"metrics"`, `"error"` stays null and the exit is 0.
#[tokio::test(flavor = "multi_thread")]
async fn a_failed_section_is_a_problem_beside_the_metrics() {
    let server = MockServer::start().await;
    wiremock::Mock::given(wiremock::matchers::path("/v1/charges"))
        .respond_with(wiremock::ResponseTemplate::new(500))
        .with_priority(1)
        .mount(&server)
        .await;
    mount_metrics(&server).await;
    let out = PROVIDER.setup(&server.uri()).run("metrics", &[]).await;
    let s = PROVIDER.service();
    out.assert_collected(&s, "stripe");
    assert!(
        out.metric(&s, "stripe_balance_available", &[("currency", "usd")])
            .is_some()
    );
    let e = out.entry(&s);
    assert_eq!(e["problems"].as_array().map(Vec::len), Some(1), "{e}");
    assert_eq!(e["problems"][0]["section"], "charges", "{e}");
    assert_eq!(e["problems"][0]["failure"], "provider_error", "{e}");
}
