//! Integration tests for the Stripe provider: the conformance suite, exact requests (method,
//! path, query, bearer key), metrics from realistic multi-page bodies, empty accounts,
//! restricted-key permission errors, and the billing verbs.

use std::sync::Arc;

use opsdeck_core::domain::TimeWindow;
use opsdeck_core::rust_decimal::Decimal;
use opsdeck_core::{BaseService, FailureKind, MetricSet, ServiceFactory, Status};
use opsdeck_provider_stripe::testing::{self, KEY, RKEY, mount_balance, mount_charges_pages};
use opsdeck_testkit::wiremock::matchers::{header, method, path, query_param};
use opsdeck_testkit::wiremock::{Mock, MockServer, Request, ResponseTemplate};
use opsdeck_testkit::{Conformance, MountFuture};
use serde_json::json;

fn fixture(name: &str) -> String {
    let p = format!("{}/tests/it/fixtures/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("{p}: {e}"))
}

fn ok(name: &str) -> ResponseTemplate {
    ResponseTemplate::new(200).set_body_raw(fixture(name), "application/json")
}

fn auth(key: &str) -> opsdeck_testkit::wiremock::matchers::HeaderExactMatcher {
    header("authorization", format!("Bearer {key}").as_str())
}

fn mount_success(server: &MockServer) -> MountFuture<'_> {
    Box::pin(testing::mount_probe(server))
}

fn mount_metrics(server: &MockServer) -> MountFuture<'_> {
    Box::pin(testing::mount_metrics(server))
}

fn stripe_error(status: u16) -> ResponseTemplate {
    let body = match status {
        401 => fixture("error_401.json"),
        403 => fixture("error_403_restricted.json"),
        429 => fixture("error_429.json"),
        404 => json!({"error": {"type": "invalid_request_error", "code": "resource_missing", "message": "Unrecognized request URL (GET: /v1/balance)."}}).to_string(),
        _ => fixture("error_500.json"),
    };
    ResponseTemplate::new(status).set_body_raw(body, "application/json")
}

#[tokio::test]
async fn conformance() {
    Conformance::new(
        "stripe",
        |base| json!({ "secret_key": KEY, "base_url": base }),
    )
    .secret(KEY)
    .success(mount_success)
    .metrics(mount_metrics)
    .error_body(stripe_error)
    .run()
    .await;
}

fn service(server: &MockServer, key: &str) -> Arc<dyn BaseService> {
    opsdeck_testkit::service(
        "stripe",
        json!({ "secret_key": key, "base_url": server.uri() }),
    )
}

fn value(set: &MetricSet, name: &str, label: Option<(&str, &str)>) -> Option<f64> {
    set.metrics
        .iter()
        .find(|m| {
            m.name == name
                && label.is_none_or(|(k, v)| m.labels.get(k).map(String::as_str) == Some(v))
        })
        .map(|m| m.value)
}

#[tokio::test]
async fn probe_names_the_account_and_mode() {
    let server = MockServer::start().await;
    mount_success(&server).await;
    let report = service(&server, KEY).test_connection().await;
    assert_eq!(report.status, Status::Connected, "{}", report.message);
    assert_eq!(
        report.identity.as_deref(),
        Some("Acme (acct_1PgafTB7WZ01zgkW)")
    );
    assert!(report.message.contains("test mode"), "{}", report.message);
    assert_eq!(report.details.extra["livemode"], json!(false));
    assert_eq!(report.details.extra["key_kind"], json!("secret"));
}

#[tokio::test]
async fn restricted_key_reports_what_it_cannot_read() {
    let server = MockServer::start().await;
    mount_balance(&server, RKEY).await;
    let denied = |perm: &str| {
        ResponseTemplate::new(403).set_body_json(json!({"error": {"type": "invalid_request_error",
            "message": format!("The provided key 'rk_test_***789' does not have the required permissions for this endpoint on account 'acct_1'. Having the '{perm}' permission would allow this request to continue.")}}))
    };
    Mock::given(method("GET"))
        .and(path("/v1/account"))
        .and(auth(RKEY))
        .respond_with(denied("rak_accounts_kyc_basic_read"))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/v1/charges"))
        .and(auth(RKEY))
        .and(query_param("limit", "1"))
        .respond_with(ok("charges_empty.json"))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/v1/subscriptions"))
        .and(auth(RKEY))
        .and(query_param("limit", "1"))
        .and(query_param("status", "active"))
        .respond_with(denied("rak_subscription_read"))
        .expect(1)
        .mount(&server)
        .await;
    let report = service(&server, RKEY).test_connection().await;
    assert_eq!(report.status, Status::Connected, "{}", report.message);
    assert_eq!(report.identity.as_deref(), Some("Stripe test-mode account"));
    assert!(
        report.message.contains("cannot read subscriptions"),
        "{}",
        report.message
    );
    let checks: Vec<_> = report
        .details
        .checks
        .iter()
        .map(|c| (c.name.as_str(), c.failure))
        .collect();
    assert_eq!(
        checks,
        vec![
            ("account", Some(FailureKind::PermissionDenied)),
            ("charges", None),
            ("subscriptions", Some(FailureKind::PermissionDenied)),
        ]
    );
    let subs = &report.details.checks[2];
    assert!(subs.message.contains("'rak_subscription_read'"), "{subs:?}");
    assert!(
        subs.hint
            .as_deref()
            .is_some_and(|h| h.contains("Read on Subscription")),
        "{subs:?}"
    );
    assert_eq!(report.details.extra["key_kind"], json!("restricted"));
}

#[tokio::test]
async fn missing_balance_permission_is_permission_denied_naming_it() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/v1/balance"))
        .respond_with(
            ResponseTemplate::new(403)
                .set_body_raw(fixture("error_403_restricted.json"), "application/json"),
        )
        .mount(&server)
        .await;
    let report = service(&server, RKEY).test_connection().await;
    assert_eq!(report.status, Status::Failed);
    assert_eq!(report.failure, Some(FailureKind::PermissionDenied));
    assert!(
        report.message.contains("'rak_balance_read'"),
        "{}",
        report.message
    );
    assert!(
        report
            .hint
            .as_deref()
            .is_some_and(|h| h.contains("Read on Balance")),
        "{report:?}"
    );
    assert!(!report.message.contains(RKEY));
}

#[tokio::test]
async fn invalid_key_is_invalid_credentials_with_a_hint() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/v1/balance"))
        .respond_with(stripe_error(401))
        .expect(1) // never retried
        .mount(&server)
        .await;
    let report = service(&server, KEY).test_connection().await;
    assert_eq!(report.failure, Some(FailureKind::InvalidCredentials));
    // Stripe echoes the key's last four characters; even those stay out of the report.
    assert!(!report.message.contains("Aso0"), "{}", report.message);
    assert!(
        report.message.contains("Invalid API Key provided"),
        "{}",
        report.message
    );
    assert!(
        report
            .hint
            .as_deref()
            .is_some_and(|h| h.contains("Developers → API keys")),
        "{report:?}"
    );
}

#[tokio::test]
async fn metrics_follow_pagination_and_compute_mrr_exactly() {
    let server = MockServer::start().await;
    mount_metrics(&server).await;
    let set = service(&server, KEY)
        .collect_metrics()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let usd = Some(("currency", "usd"));
    let eur = Some(("currency", "eur"));
    assert_eq!(
        value(&set, "stripe_balance_available", usd),
        Some(123_456.0)
    );
    assert_eq!(value(&set, "stripe_balance_available", eur), Some(5_000.0));
    assert_eq!(value(&set, "stripe_balance_pending", usd), Some(7_890.0));
    // Succeeded: 10000 + 2500 + 3000 USD, 2000 EUR; the failed and pending ones do not count.
    assert_eq!(value(&set, "stripe_gross_volume_30d", usd), Some(15_500.0));
    assert_eq!(value(&set, "stripe_gross_volume_30d", eur), Some(2_000.0));
    assert_eq!(value(&set, "stripe_refunded_30d", usd), Some(3_500.0));
    assert_eq!(value(&set, "stripe_refunds_30d", None), Some(2.0));
    let status = |s| value(&set, "stripe_charges_30d", Some(("status", s)));
    assert_eq!(status("succeeded"), Some(4.0));
    assert_eq!(status("failed"), Some(1.0));
    assert_eq!(status("pending"), Some(1.0));
    assert_eq!(value(&set, "stripe_failed_payments_30d", None), Some(1.0));
    assert_eq!(value(&set, "stripe_active_subscriptions", None), Some(5.0));
    // 2000 (monthly) + 24000×2/12 (yearly) + 500×3×52/12 (weekly) + 9000/3 (quarterly) USD.
    assert_eq!(value(&set, "stripe_mrr", usd), Some(15_500.0));
    assert_eq!(value(&set, "stripe_mrr", eur), Some(1_000.0));
    assert_eq!(value(&set, "stripe_mrr_excluded_items", None), Some(1.0));
    let mrr = set
        .metrics
        .iter()
        .find(|m| m.name == "stripe_mrr")
        .map(|m| m.unit.as_str().into_owned());
    assert_eq!(mrr.as_deref(), Some("eur_minor"));
    assert!(
        set.notes
            .iter()
            .any(|n| n.contains("left out of stripe_mrr")),
        "{:?}",
        set.notes
    );
}

#[tokio::test]
async fn empty_account_gives_zeroes_not_errors() {
    let server = MockServer::start().await;
    mount_balance(&server, KEY).await;
    Mock::given(method("GET"))
        .and(path("/v1/charges"))
        .respond_with(ok("charges_empty.json"))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/v1/subscriptions"))
        .respond_with(ok("subscriptions_empty.json"))
        .expect(1)
        .mount(&server)
        .await;
    let set = service(&server, KEY)
        .collect_metrics()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        value(&set, "stripe_charges_30d", Some(("status", "succeeded"))),
        Some(0.0)
    );
    assert_eq!(value(&set, "stripe_active_subscriptions", None), Some(0.0));
    assert_eq!(value(&set, "stripe_mrr", None), None);
    assert_eq!(value(&set, "stripe_gross_volume_30d", None), None);
    assert!(set.notes.is_empty(), "{:?}", set.notes);
}

#[tokio::test]
async fn metrics_leave_out_what_a_restricted_key_cannot_read() {
    let server = MockServer::start().await;
    mount_balance(&server, RKEY).await;
    mount_charges_pages(&server, RKEY).await;
    Mock::given(method("GET"))
        .and(path("/v1/subscriptions"))
        .respond_with(ResponseTemplate::new(403).set_body_json(json!({"error": {"type": "invalid_request_error",
            "message": "The provided key 'rk_test_***789' does not have the required permissions for this endpoint on account 'acct_1'. Having the 'rak_subscription_read' permission would allow this request to continue."}})))
        .mount(&server)
        .await;
    let set = service(&server, RKEY)
        .collect_metrics()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        value(&set, "stripe_gross_volume_30d", Some(("currency", "usd"))),
        Some(15_500.0)
    );
    assert_eq!(value(&set, "stripe_active_subscriptions", None), None);
    assert_eq!(set.problems.len(), 1, "{:?}", set.problems);
    let p = &set.problems[0];
    assert_eq!(p.section, "subscriptions");
    assert_eq!(p.failure, FailureKind::PermissionDenied);
    assert!(p.message.contains("rak_subscription_read"), "{p:?}");
}

/// Issue 14: `/v1/charges` failing must not throw away the balance and the subscriptions.
#[tokio::test]
async fn a_failed_charges_call_keeps_balance_and_subscriptions() {
    let server = MockServer::start().await;
    mount_balance(&server, KEY).await;
    Mock::given(method("GET"))
        .and(path("/v1/charges"))
        .respond_with(ResponseTemplate::new(500).set_body_json(
            json!({"error": {"type": "api_error", "message": "An unknown error occurred"}}),
        ))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/v1/subscriptions"))
        .respond_with(ok("subscriptions_empty.json"))
        .mount(&server)
        .await;
    let set = service(&server, KEY)
        .collect_metrics()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(
        value(&set, "stripe_balance_available", None).is_some(),
        "{set:?}"
    );
    assert_eq!(value(&set, "stripe_active_subscriptions", None), Some(0.0));
    assert_eq!(value(&set, "stripe_charges_30d", None), None);
    assert_eq!(set.problems.len(), 1, "{:?}", set.problems);
    assert_eq!(set.problems[0].section, "charges");
    assert_eq!(set.problems[0].failure, FailureKind::ProviderError);
}

#[tokio::test]
async fn billing_verbs_return_exact_money() {
    let server = MockServer::start().await;
    mount_metrics(&server).await;
    let svc = service(&server, KEY);
    let billing = svc
        .as_billing()
        .unwrap_or_else(|| panic!("billing verb missing"));
    let balance = billing.balance().await.unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(balance.available[1].currency, "USD");
    assert_eq!(balance.available[1].amount, Decimal::new(123_456, 2));
    let revenue = billing
        .revenue(TimeWindow::last(chrono::Duration::days(30)))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(revenue.charges, 4);
    assert_eq!(revenue.failed_payments, 1);
    assert_eq!(revenue.active_subscriptions, 5);
    let usd_mrr = revenue.mrr.iter().find(|m| m.currency == "USD");
    assert_eq!(usd_mrr.map(|m| m.amount), Some(Decimal::new(15_500, 2)));
    let usd_gross = revenue.gross_volume.iter().find(|m| m.currency == "USD");
    assert_eq!(usd_gross.map(|m| m.amount), Some(Decimal::new(15_500, 2)));
}

#[test]
fn publishable_keys_are_refused_before_any_request() {
    let err = match opsdeck_testkit::try_service(
        "stripe",
        json!({"secret_key": "pk_live_abcdef123456"}),
        &opsdeck_testkit::FAST_RETRIES,
    ) {
        Ok(_) => panic!("a publishable key was accepted"),
        Err(e) => e,
    };
    assert!(err.contains("publishable key"), "{err}");
    assert!(!err.contains("pk_live_abcdef123456"), "{err}");
}

#[test]
fn descriptor_declares_a_secret_key_and_the_billing_category() {
    let factory = ServiceFactory::from_registry().unwrap_or_else(|e| panic!("{e}"));
    let d = factory
        .descriptor("stripe")
        .unwrap_or_else(|| panic!("not registered"));
    assert_eq!(d.category.as_str(), "billing");
    let schema = d.json_schema();
    assert_eq!(schema["properties"]["secret_key"]["writeOnly"], json!(true));
    assert_eq!(
        schema["properties"]["base_url"]["default"],
        json!("https://api.stripe.com")
    );
}

/// An endless charge list: every page holds one new charge and says `has_more`. With
/// `repeat`, every page holds the same charge (so the cursor repeats); with `fail_after`, pages
/// after that many answer 500; with `delay`, every page is slow.
#[derive(Default)]
struct EndlessCharges {
    served: std::sync::atomic::AtomicU64,
    repeat: bool,
    fail_after: Option<u64>,
    delay: Option<std::time::Duration>,
}

impl opsdeck_testkit::wiremock::Respond for EndlessCharges {
    fn respond(&self, _: &Request) -> ResponseTemplate {
        let n = self
            .served
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        if self.fail_after.is_some_and(|f| n >= f) {
            return stripe_error(500);
        }
        let id = if self.repeat {
            "ch_same".to_owned()
        } else {
            format!("ch_{n}")
        };
        let body = json!({"object": "list", "has_more": true, "url": "/v1/charges", "data": [{
            "id": id, "object": "charge", "amount": 100,
            "amount_captured": 100, "amount_refunded": 0, "currency": "usd",
            "status": "succeeded", "captured": true, "livemode": false}]});
        let r = ResponseTemplate::new(200).set_body_json(body);
        match self.delay {
            Some(d) => r.set_delay(d),
            None => r,
        }
    }
}

async fn collect_with_charges(charges: EndlessCharges) -> MetricSet {
    let server = MockServer::start().await;
    mount_balance(&server, KEY).await;
    Mock::given(method("GET"))
        .and(path("/v1/charges"))
        .respond_with(charges)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/v1/subscriptions"))
        .respond_with(ok("subscriptions_empty.json"))
        .mount(&server)
        .await;
    let svc = service(&server, KEY);
    opsdeck_core::deadline::with_timeout(
        std::time::Duration::from_millis(600),
        svc.collect_metrics(),
    )
    .await
    .unwrap_or_else(|e| panic!("{e}"))
}

#[tokio::test]
async fn paging_stops_before_the_deadline_and_says_so() {
    let set = collect_with_charges(EndlessCharges {
        delay: Some(std::time::Duration::from_millis(100)),
        ..EndlessCharges::default()
    })
    .await;
    assert!(
        set.notes
            .iter()
            .any(|n| n.contains("to answer within the time allowed")
                && n.contains("Revenue figures are partial")),
        "{:?}",
        set.notes
    );
    let gross = value(&set, "stripe_gross_volume_30d", Some(("currency", "usd")));
    assert!(gross.is_some_and(|g| g >= 100.0), "{gross:?}");
}

#[tokio::test]
async fn more_pages_than_the_cap_give_partial_figures_with_a_note() {
    let server = MockServer::start().await;
    mount_balance(&server, KEY).await;
    Mock::given(method("GET"))
        .and(path("/v1/charges"))
        .respond_with(EndlessCharges::default())
        .expect(100)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/v1/subscriptions"))
        .respond_with(ok("subscriptions_empty.json"))
        .mount(&server)
        .await;
    let set = service(&server, KEY)
        .collect_metrics()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        value(&set, "stripe_gross_volume_30d", Some(("currency", "usd"))),
        Some(10_000.0)
    );
    assert!(
        set.notes.iter().any(|n| n
            == "Stopped after 100 pages; figures cover 100 of more charges of the last 30 days. Revenue figures are partial."),
        "{:?}",
        set.notes
    );
}

#[tokio::test]
async fn a_repeated_cursor_stops_paging_with_a_note() {
    let set = collect_with_charges(EndlessCharges {
        repeat: true,
        ..EndlessCharges::default()
    })
    .await;
    assert_eq!(
        value(&set, "stripe_charges_30d", Some(("status", "succeeded"))),
        Some(2.0)
    );
    assert!(
        set.notes
            .iter()
            .any(|n| n.contains("a page cursor it had already sent")),
        "{:?}",
        set.notes
    );
}

#[tokio::test]
async fn a_failing_later_page_keeps_the_first_pages_figures() {
    let set = collect_with_charges(EndlessCharges {
        fail_after: Some(2),
        ..EndlessCharges::default()
    })
    .await;
    assert_eq!(
        value(&set, "stripe_charges_30d", Some(("status", "succeeded"))),
        Some(2.0)
    );
    assert!(
        set.notes.iter().any(|n| n.starts_with(
            "Page 3 of charges of the last 30 days failed (provider_error)"
        )),
        "{:?}",
        set.notes
    );
}

// ---- retries decided the way Stripe's SDKs decide (issue 14) ----

fn coded_error(status: u16, code: &str) -> ResponseTemplate {
    ResponseTemplate::new(status).set_body_json(json!({"error": {
        "type": "invalid_request_error", "code": code, "message": format!("stand-in {code}")}}))
}

async fn balance_of(server: &MockServer) -> opsdeck_core::Result<opsdeck_core::domain::Balance> {
    service(server, KEY)
        .as_billing()
        .unwrap_or_else(|| panic!("billing verb missing"))
        .balance()
        .await
}

#[tokio::test]
async fn a_lock_timeout_429_is_retried() {
    let server = MockServer::start().await;
    testing::get("/v1/balance", KEY)
        .respond_with(coded_error(429, "lock_timeout"))
        .up_to_n_times(1)
        .with_priority(1)
        .expect(1)
        .mount(&server)
        .await;
    mount_balance(&server, KEY).await;
    let balance = balance_of(&server).await.unwrap_or_else(|e| panic!("{e}"));
    assert!(!balance.available.is_empty());
}

#[tokio::test]
async fn a_rate_limit_429_is_not_retried() {
    let server = MockServer::start().await;
    testing::get("/v1/balance", KEY)
        .respond_with(coded_error(429, "rate_limit"))
        .expect(1)
        .mount(&server)
        .await;
    let err = balance_of(&server).await.err();
    assert_eq!(err.map(|e| e.kind()), Some(FailureKind::RateLimited));
}

#[tokio::test]
async fn stripe_should_retry_decides_over_the_status() {
    // `false` on a 5xx: not retried.
    let server = MockServer::start().await;
    testing::get("/v1/balance", KEY)
        .respond_with(coded_error(500, "api_error").insert_header("stripe-should-retry", "false"))
        .expect(1)
        .mount(&server)
        .await;
    let err = balance_of(&server).await.err();
    assert_eq!(err.map(|e| e.kind()), Some(FailureKind::ProviderError));

    // `true` on a 409 (normally final): retried, and the second answer counts.
    let server = MockServer::start().await;
    testing::get("/v1/balance", KEY)
        .respond_with(
            coded_error(409, "idempotency_error").insert_header("stripe-should-retry", "true"),
        )
        .up_to_n_times(1)
        .with_priority(1)
        .expect(1)
        .mount(&server)
        .await;
    mount_balance(&server, KEY).await;
    assert!(balance_of(&server).await.is_ok());
}

#[test]
fn the_stripe_version_is_pinned() {
    assert_eq!(opsdeck_provider_stripe::STRIPE_VERSION, "2025-10-29.clover");
}
