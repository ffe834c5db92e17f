//! Integration tests for the Vercel provider: the conformance suite (with Vercel's 403 for a
//! bad token), exact requests (path, query incl. teamId, bearer token), deployments paged via
//! `pagination.next` → `until`, projects paged via `from`, FOCUS billing lines summed exactly,
//! empty results, and the infrastructure verbs.

use std::str::FromStr;
use std::sync::Arc;

use chrono::{Datelike, TimeZone, Utc};
use opsdeck_core::domain::{DeploymentState, TimeWindow};
use opsdeck_core::rust_decimal::Decimal;
use opsdeck_core::{BaseService, FailureKind, ServiceFactory, Status};
use opsdeck_testkit::wiremock::matchers::{header, method, path, query_param};
use opsdeck_testkit::wiremock::{Mock, MockServer, Request, ResponseTemplate};
use opsdeck_testkit::{Conformance, MountFuture, Scenario};
use serde_json::{Value, json};

use opsdeck_provider_vercel::testing::TOKEN;
const TEAM: &str = "team_a1b2c3";

fn fixture(name: &str) -> String {
    let p = format!("{}/tests/it/fixtures/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("{p}: {e}"))
}

fn json_fixture(name: &str) -> Value {
    serde_json::from_str(&fixture(name)).unwrap_or_else(|e| panic!("{name}: {e}"))
}

fn ok(name: &str) -> ResponseTemplate {
    ResponseTemplate::new(200).set_body_raw(fixture(name), "application/json")
}

fn bearer() -> opsdeck_testkit::wiremock::matchers::HeaderExactMatcher {
    header("authorization", format!("Bearer {TOKEN}").as_str())
}

fn param(req: &Request, key: &str) -> Option<String> {
    req.url
        .query_pairs()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.into_owned())
}

fn has_no(key: &'static str) -> impl Fn(&Request) -> bool {
    move |req: &Request| param(req, key).is_none()
}

/// `since` is about 24 h before now (milliseconds).
fn since_24h(req: &Request) -> bool {
    let now = Utc::now().timestamp_millis();
    param(req, "since")
        .and_then(|s| s.parse::<i64>().ok())
        .is_some_and(|s| (now - 86_400_000 - s).abs() < 60_000)
}

fn until_now(req: &Request) -> bool {
    let now = Utc::now().timestamp_millis();
    param(req, "until")
        .and_then(|s| s.parse::<i64>().ok())
        .is_some_and(|u| (now - u).abs() < 60_000)
}

/// The deployment fixtures with `created` moved into the last 24 hours: page 1 holds the
/// newest three (1, 2, 3 h ago), page 2 the next three (4, 5, 6 h ago). Returns the bodies and
/// the `until` cursor page 1 hands out.
fn deployment_pages() -> (Value, Value, i64) {
    let hour = 3_600_000;
    let now = Utc::now().timestamp_millis();
    let mut p1 = json_fixture("deployments_page1.json");
    let mut p2 = json_fixture("deployments_page2.json");
    let mut k = 1;
    for page in [&mut p1, &mut p2] {
        if let Some(list) = page["deployments"].as_array_mut() {
            for d in list {
                d["created"] = json!(now - k * hour);
                d["createdAt"] = json!(now - k * hour);
                k += 1;
            }
        }
    }
    let cursor = now - 3 * hour;
    p1["pagination"]["next"] = json!(cursor);
    (p1, p2, cursor)
}

fn month_start_iso() -> String {
    let now = Utc::now();
    Utc.with_ymd_and_hms(now.year(), now.month(), 1, 0, 0, 0)
        .single()
        .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true))
        .unwrap_or_default()
}

async fn mount_user(server: &MockServer) {
    // `/v2/user` takes no teamId, with or without a team configured.
    Mock::given(method("GET"))
        .and(path("/v2/user"))
        .and(bearer())
        .and(has_no("teamId"))
        .respond_with(ok("user.json"))
        .mount(server)
        .await;
}

fn mount_success(server: &MockServer) -> MountFuture<'_> {
    Box::pin(mount_user(server))
}

async fn mount_deployments(server: &MockServer, team: bool) {
    let (p1, p2, cursor) = deployment_pages();
    let teamed = move |req: &Request| param(req, "teamId").as_deref() == team.then_some(TEAM);
    Mock::given(method("GET"))
        .and(path("/v6/deployments"))
        .and(bearer())
        .and(query_param("limit", "100"))
        .and(since_24h)
        .and(until_now)
        .and(teamed)
        .respond_with(ResponseTemplate::new(200).set_body_json(p1))
        .expect(1)
        .mount(server)
        .await;
    Mock::given(method("GET"))
        .and(path("/v6/deployments"))
        .and(bearer())
        .and(query_param("limit", "100"))
        .and(query_param("until", cursor.to_string().as_str()))
        .and(since_24h)
        .and(teamed)
        .respond_with(ResponseTemplate::new(200).set_body_json(p2))
        .expect(1)
        .mount(server)
        .await;
}

async fn mount_projects(server: &MockServer) {
    Mock::given(method("GET"))
        .and(path("/v10/projects"))
        .and(bearer())
        .and(query_param("limit", "100"))
        .and(has_no("from"))
        .respond_with(ok("projects_page1.json"))
        .expect(1)
        .mount(server)
        .await;
    Mock::given(method("GET"))
        .and(path("/v10/projects"))
        .and(bearer())
        .and(query_param("limit", "100"))
        .and(query_param("from", "1763000000000"))
        .respond_with(ok("projects_page2.json"))
        .expect(1)
        .mount(server)
        .await;
}

async fn mount_billing(server: &MockServer, response: ResponseTemplate) {
    Mock::given(method("GET"))
        .and(path("/v1/billing/charges"))
        .and(bearer())
        .and(query_param("from", month_start_iso().as_str()))
        .and(|req: &Request| {
            param(req, "to")
                .and_then(|t| chrono::DateTime::parse_from_rfc3339(&t).ok())
                .is_some_and(|t| (Utc::now().timestamp() - t.timestamp()).abs() < 60)
        })
        .respond_with(response)
        .expect(1)
        .mount(server)
        .await;
    // The previous full month is asked for too; no charges unless a test says otherwise.
    opsdeck_provider_vercel::testing::mount_previous_month_billing(server, Utc::now(), "").await;
}

fn jsonl() -> ResponseTemplate {
    ResponseTemplate::new(200).set_body_raw(fixture("billing_charges.jsonl"), "application/jsonl")
}

fn mount_metrics(server: &MockServer) -> MountFuture<'_> {
    Box::pin(async move {
        mount_deployments(server, false).await;
        mount_projects(server).await;
        mount_billing(server, jsonl()).await;
    })
}

fn vercel_error(status: u16) -> ResponseTemplate {
    let body = match status {
        403 => fixture("error_403_forbidden.json"),
        404 => fixture("error_404.json"),
        429 => fixture("error_429.json"),
        401 => json!({"error": {"code": "unauthorized", "message": "The token is not valid"}})
            .to_string(),
        _ => fixture("error_500.json"),
    };
    ResponseTemplate::new(status).set_body_raw(body, "application/json")
}

#[tokio::test]
async fn conformance() {
    Conformance::new("vercel", |base| json!({ "token": TOKEN, "base_url": base }))
        .secret(TOKEN)
        .success(mount_success)
        .metrics(mount_metrics)
        .error_body(vercel_error)
        // Vercel answers a missing or invalid token with 403 forbidden (docs: REST API errors).
        .expect(Scenario::Forbidden, FailureKind::InvalidCredentials)
        .run()
        .await;
}

fn service(server: &MockServer, team: bool) -> Arc<dyn BaseService> {
    let mut raw = json!({"token": TOKEN, "base_url": server.uri()});
    if team {
        raw["team_id"] = json!(TEAM);
    }
    opsdeck_testkit::service("vercel", raw)
}

#[tokio::test]
async fn probe_without_team_names_the_user() {
    let server = MockServer::start().await;
    mount_user(&server).await;
    let report = service(&server, false).test_connection().await;
    assert_eq!(report.status, Status::Connected, "{}", report.message);
    assert_eq!(report.identity.as_deref(), Some("janedoe"));
}

#[tokio::test]
async fn probe_with_team_names_the_team() {
    let server = MockServer::start().await;
    mount_user(&server).await;
    Mock::given(method("GET"))
        .and(path(format!("/v2/teams/{TEAM}")))
        .and(bearer())
        .respond_with(ok("team.json"))
        .expect(1)
        .mount(&server)
        .await;
    let report = service(&server, true).test_connection().await;
    assert_eq!(report.status, Status::Connected, "{}", report.message);
    assert_eq!(report.identity.as_deref(), Some("Acme Inc"));
    assert!(report.message.contains("janedoe"), "{}", report.message);
}

#[tokio::test]
async fn limited_token_is_connected_with_a_warning() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/v2/user"))
        .respond_with(ok("user_limited.json"))
        .mount(&server)
        .await;
    let report = service(&server, false).test_connection().await;
    assert_eq!(report.status, Status::Connected);
    assert!(report.message.contains("limited"), "{}", report.message);
}

#[tokio::test]
async fn not_authorized_403_is_invalid_credentials() {
    for body in ["error_403_not_authorized.json", "error_403_forbidden.json"] {
        let server = MockServer::start().await;
        Mock::given(method("GET"))
            .and(path("/v2/user"))
            .respond_with(
                ResponseTemplate::new(403).set_body_raw(fixture(body), "application/json"),
            )
            .expect(1) // a bad token is never retried
            .mount(&server)
            .await;
        let report = service(&server, false).test_connection().await;
        assert_eq!(
            report.failure,
            Some(FailureKind::InvalidCredentials),
            "{body}"
        );
        assert_eq!(report.status, Status::Failed);
        assert!(
            report.message.contains("Not authorized"),
            "{}",
            report.message
        );
        assert!(
            report
                .hint
                .as_deref()
                .is_some_and(|h| h.contains("project-scoped")),
            "{report:?}"
        );
        assert!(!report.message.contains(TOKEN));
    }
}

#[tokio::test]
async fn team_the_token_cannot_see_is_permission_denied() {
    let server = MockServer::start().await;
    mount_user(&server).await;
    Mock::given(method("GET"))
        .and(path(format!("/v2/teams/{TEAM}")))
        .respond_with(
            ResponseTemplate::new(403).set_body_json(json!({"error": {"code": "forbidden",
                "message": "You don't have permission to access the team.", "action": "read", "resource": "team"}})),
        )
        .mount(&server)
        .await;
    let report = service(&server, true).test_connection().await;
    assert_eq!(
        report.failure,
        Some(FailureKind::PermissionDenied),
        "{}",
        report.message
    );
    assert!(
        report.hint.as_deref().is_some_and(|h| h.contains(TEAM)),
        "{report:?}"
    );
}

#[tokio::test]
async fn rate_limit_reset_is_read_from_the_body() {
    let server = MockServer::start().await;
    let reset = Utc::now().timestamp() + 300;
    Mock::given(method("GET"))
        .and(path("/v2/user"))
        .respond_with(ResponseTemplate::new(429).set_body_json(json!({"error": {
            "code": "rate_limited", "message": "The rate limit of 100 exceeded for 'api-user'.",
            "limit": {"remaining": 0, "reset": reset, "resetMs": reset * 1000, "total": 100}}})))
        .mount(&server)
        .await;
    let report = service(&server, false).test_connection().await;
    assert_eq!(report.status, Status::Unknown);
    assert_eq!(report.failure, Some(FailureKind::RateLimited));
    let wait = report.details.retry_after_secs.unwrap_or_default();
    assert!((295..=301).contains(&wait), "retry_after_secs = {wait}");
}

#[tokio::test]
async fn metrics_page_through_deployments_projects_and_sum_billing() {
    let server = MockServer::start().await;
    mount_deployments(&server, true).await;
    mount_projects(&server).await;
    mount_billing(&server, jsonl()).await;
    let set = service(&server, true)
        .collect_metrics()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let state = |s| set.value("vercel_deployments_24h", &[("state", s)]);
    assert_eq!(state("ready"), Some(2.0));
    assert_eq!(state("error"), Some(1.0));
    assert_eq!(state("building"), Some(1.0));
    assert_eq!(state("canceled"), Some(1.0));
    assert_eq!(state("queued"), Some(1.0));
    assert_eq!(set.value("vercel_projects", &[]), Some(3.0));
    // 12.5 + 0.1 + 0.2 + 20: exact decimal sum, reported in dollars.
    assert_eq!(
        set.value("vercel_billed_cost_mtd", &[("currency", "usd")]),
        Some(32.8)
    );
    assert_eq!(
        set.value(
            "vercel_billed_cost_mtd_by_service",
            &[("service", "Fast Data Transfer")]
        ),
        Some(0.3)
    );
    let unit = set
        .metrics
        .iter()
        .find(|m| m.name == "vercel_billed_cost_mtd")
        .map(|m| m.unit.as_str().into_owned());
    assert_eq!(unit.as_deref(), Some("usd"));
    assert!(set.notes.is_empty(), "{:?}", set.notes);
}

#[tokio::test]
async fn billing_without_a_role_is_a_problem_not_a_failure() {
    let server = MockServer::start().await;
    mount_deployments(&server, false).await;
    mount_projects(&server).await;
    mount_billing(
        &server,
        ResponseTemplate::new(403)
            .set_body_raw(fixture("error_403_permission.json"), "application/json"),
    )
    .await;
    let set = service(&server, false)
        .collect_metrics()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(set.value("vercel_projects", &[]), Some(3.0));
    assert_eq!(set.value("vercel_billed_cost_mtd", &[]), None);
    opsdeck_testkit::assert_partial(&set, "billing", FailureKind::PermissionDenied);
    assert!(
        set.problems[0].message.contains("Billing"),
        "{:?}",
        set.problems
    );
}

#[tokio::test]
async fn empty_account_reports_zeroes() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/v6/deployments"))
        .respond_with(ok("deployments_empty.json"))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/v10/projects"))
        .respond_with(ResponseTemplate::new(200).set_body_json(
            json!({"projects": [], "pagination": {"count": 0, "next": null, "prev": null}}),
        ))
        .expect(1)
        .mount(&server)
        .await;
    mount_billing(
        &server,
        ResponseTemplate::new(200).set_body_raw("", "application/jsonl"),
    )
    .await;
    let set = service(&server, false)
        .collect_metrics()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    for s in ["ready", "error", "building", "canceled"] {
        assert_eq!(
            set.value("vercel_deployments_24h", &[("state", s)]),
            Some(0.0),
            "{s}"
        );
    }
    assert_eq!(set.value("vercel_projects", &[]), Some(0.0));
    assert_eq!(
        set.value("vercel_billed_cost_mtd", &[("currency", "usd")]),
        Some(0.0)
    );
}

#[tokio::test]
async fn verbs_normalise_deployments_and_cost() {
    let server = MockServer::start().await;
    mount_deployments(&server, false).await;
    mount_projects(&server).await;
    mount_billing(&server, jsonl()).await;
    let svc = service(&server, false);

    let deployments = svc
        .deployment_source()
        .unwrap_or_else(|u| panic!("{}", u.reason))
        .deployments(TimeWindow::last(chrono::Duration::hours(24)))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(deployments.len(), 6);
    assert_eq!(deployments[0].state, DeploymentState::Succeeded);
    assert_eq!(deployments[0].vendor_state, "READY");
    assert_eq!(deployments[1].state, DeploymentState::Failed);
    assert_eq!(deployments[2].state, DeploymentState::InProgress);
    assert_eq!(deployments[0].environment.as_deref(), Some("production"));
    assert!(
        deployments[0]
            .url
            .as_deref()
            .is_some_and(|u| u.starts_with("https://"))
    );

    let resources = svc
        .as_infrastructure()
        .unwrap_or_else(|| panic!("infrastructure verb missing"))
        .resources()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(resources, vec!["api", "docs", "web"]);

    let cost = svc
        .cost_source()
        .unwrap_or_else(|u| panic!("{}", u.reason))
        .cost(TimeWindow::month_to_date())
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(cost.total.len(), 1);
    assert_eq!(cost.total[0].currency, "USD");
    assert_eq!(
        cost.total[0].amount,
        Decimal::from_str("32.8").unwrap_or_default()
    );
    assert!(cost.estimated);
    let fdt = cost.lines.iter().find(|l| l.label == "Fast Data Transfer");
    assert_eq!(
        fdt.map(|l| l.amount.amount),
        Some(Decimal::from_str("0.3").unwrap_or_default())
    );
}

#[test]
fn team_id_is_checked_before_it_reaches_a_url() {
    let factory = ServiceFactory::from_registry().unwrap_or_else(|e| panic!("{e}"));
    let spec = opsdeck_core::config::spec_from_map(
        "vercel-bad-team",
        serde_json::from_value(
            json!({"provider": "vercel", "token": TOKEN, "team_id": "../v2/user"}),
        )
        .unwrap_or_default(),
        &|_| None,
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let err = match factory.build(&spec) {
        Ok(_) => panic!("accepted a path in team_id"),
        Err(e) => e.to_string(),
    };
    assert!(err.contains("team_id"), "{err}");
}

/// Answers every deployments page with one deployment and a `next` cursor one minute before
/// the requested `until`: an endless history.
/// Endless deployment history: every page holds one deployment just before `until` and hands
/// out a cursor a minute earlier (or, with `stuck`, the same `until` again); with `fail_after`,
/// pages after that many answer 500; with `delay`, every page is slow.
#[derive(Default)]
struct EndlessHistory {
    served: std::sync::atomic::AtomicU64,
    stuck: bool,
    fail_after: Option<u64>,
    delay: Option<std::time::Duration>,
}

impl opsdeck_testkit::wiremock::Respond for EndlessHistory {
    fn respond(&self, req: &Request) -> ResponseTemplate {
        let n = self
            .served
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        if self.fail_after.is_some_and(|f| n >= f) {
            return vercel_error(500);
        }
        let until = param(req, "until")
            .and_then(|u| u.parse::<i64>().ok())
            .unwrap_or_default();
        let (mut p1, _, _) = deployment_pages();
        if let Some(list) = p1["deployments"].as_array_mut() {
            list.truncate(1);
            list[0]["created"] = json!(until - 1);
        }
        p1["pagination"]["next"] = json!(if self.stuck { until } else { until - 60_000 });
        let r = ResponseTemplate::new(200).set_body_json(p1);
        match self.delay {
            Some(d) => r.set_delay(d),
            None => r,
        }
    }
}

async fn collect_with_history(history: EndlessHistory) -> opsdeck_core::MetricSet {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/v6/deployments"))
        .respond_with(history)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/v10/projects"))
        .respond_with(ok("projects_page2.json"))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/v1/billing/charges"))
        .respond_with(jsonl())
        .mount(&server)
        .await;
    let svc = service(&server, false);
    opsdeck_core::deadline::with_timeout(
        std::time::Duration::from_millis(600),
        svc.collect_metrics(),
    )
    .await
    .unwrap_or_else(|e| panic!("{e}"))
}

#[tokio::test]
async fn paging_stops_before_the_deadline_and_says_so() {
    let set = collect_with_history(EndlessHistory {
        delay: Some(std::time::Duration::from_millis(100)),
        ..EndlessHistory::default()
    })
    .await;
    assert!(
        set.notes
            .iter()
            .any(|n| n.contains("to answer within the time allowed")
                && n.contains("vercel_deployments_24h is partial")),
        "{:?}",
        set.notes
    );
    let ready = set.value("vercel_deployments_24h", &[("state", "ready")]);
    assert!(ready.is_some_and(|n| n >= 1.0), "{ready:?}");
}

#[tokio::test]
async fn more_pages_than_the_cap_give_partial_figures_with_a_note() {
    let set = collect_with_history(EndlessHistory::default()).await;
    let counted: f64 = set
        .metrics
        .iter()
        .filter(|m| m.name == "vercel_deployments_24h")
        .map(|m| m.value)
        .sum();
    assert_eq!(counted, 20.0);
    assert!(
        set.notes.iter().any(|n| n
            == "Stopped after 20 pages; figures cover 20 of more deployments of the window. vercel_deployments_24h is partial."),
        "{:?}",
        set.notes
    );
}

#[tokio::test]
async fn a_cursor_that_does_not_move_stops_paging_with_a_note() {
    let set = collect_with_history(EndlessHistory {
        stuck: true,
        ..EndlessHistory::default()
    })
    .await;
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
    let set = collect_with_history(EndlessHistory {
        fail_after: Some(3),
        ..EndlessHistory::default()
    })
    .await;
    let counted: f64 = set
        .metrics
        .iter()
        .filter(|m| m.name == "vercel_deployments_24h")
        .map(|m| m.value)
        .sum();
    assert_eq!(counted, 3.0);
    assert!(
        set.notes
            .iter()
            .any(|n| n.starts_with("Page 4 of deployments of the window failed (provider_error)")),
        "{:?}",
        set.notes
    );
}

/// Issue 14: one failed section (the projects list) keeps the deployments and the cost.
#[tokio::test]
async fn a_failed_projects_list_keeps_the_other_sections() {
    let server = MockServer::start().await;
    opsdeck_testkit::fail_section(&server, path("/v10/projects")).await;
    opsdeck_provider_vercel::testing::mount_all(&server).await;
    let set = service(&server, false)
        .collect_metrics()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    opsdeck_testkit::assert_partial(&set, "projects", FailureKind::ProviderError);
    assert!(
        set.value("vercel_deployments_24h", &[]).is_some(),
        "{set:?}"
    );
    assert!(
        set.value("vercel_billed_cost_mtd", &[]).is_some(),
        "{set:?}"
    );
    assert_eq!(set.value("vercel_projects", &[]), None);
}

/// Issue 14: the previous full month is reported, labelled, and on the first day of a month
/// (month-to-date is 0) the note names last month's figure. The clock is injected.
#[tokio::test]
async fn previous_month_is_reported_and_named_on_the_first_day() {
    let server = MockServer::start().await;
    let now = Utc
        .with_ymd_and_hms(2026, 12, 1, 0, 30, 0)
        .single()
        .unwrap_or_default();
    let clock = opsdeck_core::ManualClock::new(now);
    opsdeck_provider_vercel::testing::mount_previous_month_billing(
        &server,
        now,
        include_str!("fixtures/billing_charges.jsonl"),
    )
    .await;
    // Everything else (deployments, projects, the month-to-date charges): empty answers.
    Mock::given(method("GET"))
        .and(path("/v1/billing/charges"))
        .and(query_param("from", "2026-12-01T00:00:00.000Z"))
        .and(query_param("to", "2026-12-01T00:30:00.000Z"))
        .respond_with(ResponseTemplate::new(200).set_body_raw("", "application/jsonl"))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/v6/deployments"))
        .respond_with(
            ResponseTemplate::new(200).set_body_json(
                json!({"deployments": [], "pagination": {"count": 0, "next": null}}),
            ),
        )
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/v10/projects"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!({"projects": [], "pagination": {"count": 0, "next": null}})),
        )
        .mount(&server)
        .await;
    let svc = opsdeck_testkit::service_at(
        "vercel",
        json!({"token": TOKEN, "base_url": server.uri()}),
        clock,
    );
    let set = svc
        .collect_metrics()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(set.problems.is_empty(), "{:?}", set.problems);
    let previous = set
        .metrics
        .iter()
        .find(|m| {
            m.name == "vercel_billed_cost_previous_month"
                && m.labels.get("currency").map(String::as_str) == Some("usd")
        })
        .unwrap_or_else(|| panic!("no previous-month cost: {set:?}"));
    assert_eq!(
        previous.labels.get("period").map(String::as_str),
        Some("previous_month")
    );
    assert_eq!(
        previous.labels.get("month").map(String::as_str),
        Some("2026-11")
    );
    assert!(previous.value > 0.0, "{previous:?}");
    assert!(
        set.notes
            .iter()
            .any(|n| n.contains("month-to-date is 0; last month: ") && n.contains("(2026-11)")),
        "{:?}",
        set.notes
    );
}
