//! Stripe: `GET /v1/balance` and `GET /v1/account` for the test; the balance, 30 days of charges
//! and the active subscriptions (both paged with `starting_after`) for the metrics.

use chrono::Utc;
use wiremock::matchers::{header, method, path, query_param};
use wiremock::{Mock, MockBuilder, MockServer, Request, ResponseTemplate};

use super::{Provider, param};

const KEY: &str = "sk_test_51OpsdeckE2eCliKey0123456789Aso0";

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

const BALANCE: &str = include_str!("../../../../providers/stripe/tests/it/fixtures/balance.json");
const ACCOUNT: &str = include_str!("../../../../providers/stripe/tests/it/fixtures/account.json");
const CHARGES_1: &str =
    include_str!("../../../../providers/stripe/tests/it/fixtures/charges_page1.json");
const CHARGES_2: &str =
    include_str!("../../../../providers/stripe/tests/it/fixtures/charges_page2.json");
const SUBS_1: &str =
    include_str!("../../../../providers/stripe/tests/it/fixtures/subscriptions_page1.json");
const SUBS_2: &str =
    include_str!("../../../../providers/stripe/tests/it/fixtures/subscriptions_page2.json");
const E401: &str = include_str!("../../../../providers/stripe/tests/it/fixtures/error_401.json");

fn body(raw: &str) -> ResponseTemplate {
    ResponseTemplate::new(200).set_body_raw(raw.to_owned(), "application/json")
}

fn get(p: &'static str) -> MockBuilder {
    Mock::given(method("GET"))
        .and(path(p))
        .and(header("authorization", format!("Bearer {KEY}").as_str()))
        .and(header("accept", "application/json"))
}

/// `created[gte]`/`created[lt]` span 30 days ending now.
fn last_30_days(r: &Request) -> bool {
    let get = |k: &str| param(r, k).and_then(|v| v.parse::<i64>().ok());
    let now = Utc::now().timestamp();
    match (get("created[gte]"), get("created[lt]")) {
        (Some(gte), Some(lt)) => (lt - gte - 30 * 86_400).abs() <= 5 && (now - lt).abs() <= 60,
        _ => false,
    }
}

fn no_cursor(r: &Request) -> bool {
    param(r, "starting_after").is_none()
}

pub async fn mount_probe(server: &MockServer) {
    get("/v1/balance")
        .respond_with(body(BALANCE))
        .mount(server)
        .await;
    get("/v1/account")
        .respond_with(body(ACCOUNT))
        .mount(server)
        .await;
}

pub async fn mount_metrics(server: &MockServer) {
    get("/v1/balance")
        .respond_with(body(BALANCE))
        .mount(server)
        .await;
    get("/v1/charges")
        .and(query_param("limit", "100"))
        .and(last_30_days)
        .and(no_cursor)
        .respond_with(body(CHARGES_1))
        .mount(server)
        .await;
    get("/v1/charges")
        .and(query_param("limit", "100"))
        .and(last_30_days)
        .and(query_param("starting_after", "ch_3C"))
        .respond_with(body(CHARGES_2))
        .mount(server)
        .await;
    get("/v1/subscriptions")
        .and(query_param("status", "active"))
        .and(query_param("limit", "100"))
        .and(no_cursor)
        .respond_with(body(SUBS_1))
        .mount(server)
        .await;
    get("/v1/subscriptions")
        .and(query_param("status", "active"))
        .and(query_param("limit", "100"))
        .and(query_param("starting_after", "sub_3"))
        .respond_with(body(SUBS_2))
        .mount(server)
        .await;
}

pub async fn mount_all(server: &MockServer) {
    mount_probe(server).await;
    mount_metrics(server).await;
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
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(401).set_body_raw(E401, "application/json"))
        .mount(&server)
        .await;
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
