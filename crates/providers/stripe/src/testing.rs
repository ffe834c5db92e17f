//! Stand-ins for Stripe's API, for tests in this crate and in others (the CLI's end-to-end
//! tests): mocks that answer only the exact requests the provider makes (method, path, query,
//! bearer key), with the documented bodies in `tests/it/fixtures`. Enabled by the `testing`
//! feature; never part of a release build.

use chrono::Utc;
use opsdeck_testkit::param;
use opsdeck_testkit::wiremock::matchers::{header, method, path, query_param};
use opsdeck_testkit::wiremock::{Mock, MockBuilder, MockServer, Request, ResponseTemplate};

/// The secret key the mocks expect. Its last four characters (`Aso0`) are what Stripe's 401
/// body echoes masked; they must never appear in output either.
pub const KEY: &str = "sk_test_51OpsdeckConformanceKey0123456789Aso0";
/// A restricted key.
pub const RKEY: &str = "rk_test_51OpsdeckRestrictedKey0123456789";
/// The identity the probe reports for the account fixture.
pub const IDENTITY: &str = "Acme (acct_1PgafTB7WZ01zgkW)";

const BALANCE: &str = include_str!("../tests/it/fixtures/balance.json");
const ACCOUNT: &str = include_str!("../tests/it/fixtures/account.json");
const CHARGES_1: &str = include_str!("../tests/it/fixtures/charges_page1.json");
const CHARGES_2: &str = include_str!("../tests/it/fixtures/charges_page2.json");
const SUBS_1: &str = include_str!("../tests/it/fixtures/subscriptions_page1.json");
const SUBS_2: &str = include_str!("../tests/it/fixtures/subscriptions_page2.json");
/// Stripe's 401 for an invalid key (echoing it masked).
pub const ERROR_401: &str = include_str!("../tests/it/fixtures/error_401.json");

fn body(raw: &str) -> ResponseTemplate {
    ResponseTemplate::new(200).set_body_raw(raw.to_owned(), "application/json")
}

/// A GET of `p` with `key` as bearer and the JSON accept header.
pub fn get(p: &'static str, key: &str) -> MockBuilder {
    Mock::given(method("GET"))
        .and(path(p))
        .and(header("authorization", format!("Bearer {key}").as_str()))
        .and(header("accept", "application/json"))
        .and(header("stripe-version", crate::STRIPE_VERSION))
}

/// `created[gte]`/`created[lt]` span about 30 days ending now.
pub fn last_30_days(r: &Request) -> bool {
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

/// `GET /v1/balance` for `key`.
pub async fn mount_balance(server: &MockServer, key: &str) {
    get("/v1/balance", key)
        .respond_with(body(BALANCE))
        .mount(server)
        .await;
}

/// `GET /v1/account` for `key`.
pub async fn mount_account(server: &MockServer, key: &str) {
    get("/v1/account", key)
        .respond_with(body(ACCOUNT))
        .mount(server)
        .await;
}

/// Two pages of charges of the last 30 days (cursor `ch_3C`).
pub async fn mount_charges_pages(server: &MockServer, key: &str) {
    get("/v1/charges", key)
        .and(query_param("limit", "100"))
        .and(last_30_days)
        .and(no_cursor)
        .respond_with(body(CHARGES_1))
        .mount(server)
        .await;
    get("/v1/charges", key)
        .and(query_param("limit", "100"))
        .and(query_param("starting_after", "ch_3C"))
        .and(last_30_days)
        .respond_with(body(CHARGES_2))
        .mount(server)
        .await;
}

/// Two pages of active subscriptions (cursor `sub_3`).
pub async fn mount_subscription_pages(server: &MockServer, key: &str) {
    get("/v1/subscriptions", key)
        .and(query_param("status", "active"))
        .and(query_param("limit", "100"))
        .and(no_cursor)
        .respond_with(body(SUBS_1))
        .mount(server)
        .await;
    get("/v1/subscriptions", key)
        .and(query_param("status", "active"))
        .and(query_param("limit", "100"))
        .and(query_param("starting_after", "sub_3"))
        .respond_with(body(SUBS_2))
        .mount(server)
        .await;
}

/// What the connection test reads for [`KEY`]: the balance and the account.
pub async fn mount_probe(server: &MockServer) {
    mount_balance(server, KEY).await;
    mount_account(server, KEY).await;
}

/// What a collection reads for [`KEY`]: the balance, two pages of charges and of subscriptions.
pub async fn mount_metrics(server: &MockServer) {
    mount_balance(server, KEY).await;
    mount_charges_pages(server, KEY).await;
    mount_subscription_pages(server, KEY).await;
}

/// [`mount_probe`] and [`mount_metrics`].
pub async fn mount_all(server: &MockServer) {
    mount_probe(server).await;
    mount_metrics(server).await;
}

/// Every GET answered as Stripe answers an invalid key.
pub async fn mount_unauthorized(server: &MockServer) {
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(401).set_body_raw(ERROR_401, "application/json"))
        .mount(server)
        .await;
}
