//! Cross-provider questions through the facade: one `ServiceManager` holding several real
//! providers, each against its own local mock server with realistic bodies (trimmed copies of
//! the providers' own fixtures). Each answer names the service, and a service that cannot
//! answer says why (`unavailable`) while one whose vendor fails says how (`error`), without
//! disturbing the others. Nothing here reaches the internet.

#![cfg(any(
    all(feature = "openai", feature = "claude", feature = "gemini"),
    all(feature = "github", feature = "railway", feature = "vercel"),
    all(
        feature = "openai",
        feature = "claude",
        feature = "railway",
        feature = "vercel",
        feature = "datadog"
    )
))]

use std::time::Duration;

use chrono::{TimeZone, Utc};
use opsdeck::domain::TimeWindow;
use opsdeck::http::HttpSettings;
use opsdeck::manager::CrossProviderEntry;
use opsdeck::{ManagerOptions, ServiceManager};
use serde_json::{Value, json};
use wiremock::ResponseTemplate;

/// A manager over `services` (name, config object with `provider`), with fast retries.
fn manager(services: &[(&str, Value)]) -> ServiceManager {
    let factory = opsdeck::factory()
        .unwrap_or_else(|e| panic!("{e}"))
        .with_http_settings(
            HttpSettings::new()
                .with_backoff(Duration::from_millis(5), Duration::from_millis(10))
                .with_max_retry_wait(Duration::from_secs(1)),
        );
    let specs: Vec<_> = services
        .iter()
        .map(|(name, cfg)| {
            let map = cfg.as_object().cloned().unwrap_or_default();
            opsdeck::config::spec_from_map(name, map, &|_| None).unwrap_or_else(|e| panic!("{e}"))
        })
        .collect();
    ServiceManager::from_specs(
        &factory,
        &specs,
        ManagerOptions {
            concurrency: 8,
            timeout: Duration::from_secs(10),
        },
    )
    .unwrap_or_else(|e| panic!("{e}"))
}

fn fixture(name: &str) -> String {
    let p = format!("{}/tests/fixtures/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("{p}: {e}"))
}

fn ok(name: &str) -> ResponseTemplate {
    ResponseTemplate::new(200).set_body_raw(fixture(name), "application/json")
}

// Not every feature combination uses every helper.
#[allow(dead_code)]
fn at(y: i32, mo: u32, d: u32) -> chrono::DateTime<Utc> {
    Utc.with_ymd_and_hms(y, mo, d, 0, 0, 0)
        .single()
        .unwrap_or_else(|| panic!("bad date"))
}

fn entry<'a, T>(entries: &'a [CrossProviderEntry<T>], service: &str) -> &'a CrossProviderEntry<T> {
    entries
        .iter()
        .find(|e| e.service() == service)
        .unwrap_or_else(|| panic!("no entry for {service}"))
}

fn answered<'a, T: std::fmt::Debug>(entries: &'a [CrossProviderEntry<T>], service: &str) -> &'a T {
    let e = entry(entries, service);
    assert!(
        e.unavailable().is_none(),
        "{service}: {:?}",
        e.unavailable()
    );
    assert!(e.error().is_none(), "{service}: {:?}", e.error());
    e.result()
        .as_ref()
        .unwrap_or_else(|| panic!("{service}: no result"))
}

fn unavailable<T: std::fmt::Debug>(entries: &[CrossProviderEntry<T>], service: &str) -> String {
    let e = entry(entries, service);
    assert!(e.result().is_none(), "{service}: {:?}", e.result());
    assert!(e.error().is_none(), "{service}: {:?}", e.error());
    e.unavailable()
        .map(|u| u.reason.to_string())
        .unwrap_or_else(|| panic!("{service}: not unavailable"))
}

#[allow(dead_code)]
fn decimal(s: &str) -> opsdeck::rust_decimal::Decimal {
    s.parse().unwrap_or_else(|e| panic!("{s}: {e}"))
}

#[cfg(any(
    all(feature = "openai", feature = "claude", feature = "gemini"),
    all(
        feature = "openai",
        feature = "claude",
        feature = "railway",
        feature = "vercel",
        feature = "datadog"
    )
))]
mod ai_vendors {
    //! Request shapes of the OpenAI and Claude admin reports, shared by the usage and cost tests.

    use opsdeck::domain::TimeWindow;
    use wiremock::matchers::{header, method, path, query_param, query_param_is_missing};
    use wiremock::{Match, Mock, MockBuilder, Request};

    pub const OPENAI_KEY: &str = "sk-proj-crossTestKey0123456789abcdef";
    pub const OPENAI_ADMIN: &str = "sk-admin-crossTestAdmin0123456789abc";
    pub const CLAUDE_KEY: &str = "sk-ant-api03-cross-test-key-0123456789";
    pub const CLAUDE_ADMIN: &str = "sk-ant-admin01-cross-test-admin-0123456789";

    /// Every value of a repeated query key, in order.
    struct QueryValues(&'static str, &'static [&'static str]);

    impl Match for QueryValues {
        fn matches(&self, request: &Request) -> bool {
            let got: Vec<String> = request
                .url
                .query_pairs()
                .filter(|(k, _)| k == self.0)
                .map(|(_, v)| v.into_owned())
                .collect();
            got == self.1
        }
    }

    /// `GET {report}` of OpenAI's organization API for exactly `window`, first page.
    pub fn openai_report(
        report: &'static str,
        group_by: &'static [&'static str],
        window: TimeWindow,
    ) -> MockBuilder {
        let days = ((window.end - window.start).num_seconds() + 86_399) / 86_400;
        Mock::given(method("GET"))
            .and(path(report))
            .and(header(
                "authorization",
                format!("Bearer {OPENAI_ADMIN}").as_str(),
            ))
            .and(query_param(
                "start_time",
                window.start.timestamp().to_string().as_str(),
            ))
            .and(query_param(
                "end_time",
                window.end.timestamp().to_string().as_str(),
            ))
            .and(query_param("bucket_width", "1d"))
            .and(query_param("limit", days.to_string().as_str()))
            .and(QueryValues("group_by", group_by))
            .and(query_param_is_missing("page"))
    }

    /// `GET {report}` of Anthropic's Admin API for a window that starts and ends on midnight.
    pub fn claude_report(report: &'static str, group_by: &str, window: TimeWindow) -> MockBuilder {
        let fmt =
            |t: chrono::DateTime<chrono::Utc>| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
        Mock::given(method("GET"))
            .and(path(report))
            .and(header("x-api-key", CLAUDE_ADMIN))
            .and(header("anthropic-version", "2023-06-01"))
            .and(query_param("starting_at", fmt(window.start).as_str()))
            .and(query_param("ending_at", fmt(window.end).as_str()))
            .and(query_param("bucket_width", "1d"))
            .and(query_param("group_by[]", group_by))
            .and(query_param("limit", "31"))
            .and(query_param_is_missing("page"))
    }
}

/// "AI usage and spend across OpenAI + Claude": one call, every AI service answers or says why
/// it cannot; a failing vendor is an error for its own service only.
#[cfg(all(feature = "openai", feature = "claude", feature = "gemini"))]
#[tokio::test]
async fn ai_usage_and_cost_across_openai_and_claude_in_one_call() {
    use ai_vendors::*;
    use opsdeck::FailureKind;
    use wiremock::MockServer;

    let window = TimeWindow {
        start: at(2026, 11, 25),
        end: at(2026, 11, 27),
    };

    let openai = MockServer::start().await;
    openai_report("/organization/costs", &["line_item", "project_id"], window)
        .respond_with(ok("openai/costs_page2.json"))
        .expect(1)
        .mount(&openai)
        .await;
    openai_report("/organization/usage/completions", &["model"], window)
        .respond_with(ok("openai/usage_completions_page2.json"))
        .expect(1)
        .mount(&openai)
        .await;

    let claude = MockServer::start().await;
    claude_report("/v1/organizations/usage_report/messages", "model", window)
        .respond_with(ok("claude/usage_report_page2.json"))
        .expect(1)
        .mount(&claude)
        .await;
    claude_report("/v1/organizations/cost_report", "description", window)
        .respond_with(ok("claude/cost_report_page2.json"))
        .expect(1)
        .mount(&claude)
        .await;

    // Gemini and OpenAI without an Admin key cannot answer: no request may reach them.
    let gemini = MockServer::start().await;
    let openai_plain = MockServer::start().await;

    // An OpenAI organisation whose usage API is down.
    let openai_down = MockServer::start().await;
    wiremock::Mock::given(wiremock::matchers::any())
        .respond_with(
            ResponseTemplate::new(500)
                .set_body_raw(fixture("openai/error_500.json"), "application/json"),
        )
        .mount(&openai_down)
        .await;

    let m = manager(&[
        (
            "openai-org",
            json!({"provider": "openai", "api_key": OPENAI_KEY, "admin_key": OPENAI_ADMIN, "base_url": openai.uri()}),
        ),
        (
            "claude-org",
            json!({"provider": "claude", "api_key": CLAUDE_KEY, "admin_key": CLAUDE_ADMIN, "base_url": claude.uri()}),
        ),
        (
            "gemini",
            json!({"provider": "gemini", "api_key": "AIzaSyCrossTest0123456789abcdefghijk", "base_url": gemini.uri()}),
        ),
        (
            "openai-project",
            json!({"provider": "openai", "api_key": OPENAI_KEY, "base_url": openai_plain.uri()}),
        ),
        (
            "openai-down",
            json!({"provider": "openai", "api_key": OPENAI_KEY, "admin_key": OPENAI_ADMIN, "base_url": openai_down.uri()}),
        ),
    ]);

    let entries = m.ai_usage(window).await;
    let names: Vec<&str> = entries.iter().map(|e| e.service()).collect();
    assert_eq!(
        names,
        [
            "claude-org",
            "gemini",
            "openai-down",
            "openai-org",
            "openai-project"
        ]
    );

    let o = answered(&entries, "openai-org");
    assert_eq!(entry(&entries, "openai-org").provider(), "openai");
    assert_eq!(o.window, window);
    assert_eq!(o.models.len(), 1);
    assert_eq!(o.models[0].model, "gpt-4o-mini-2024-07-18");
    assert_eq!(o.models[0].input_tokens, 7000);
    assert_eq!(o.models[0].output_tokens, 2000);
    assert_eq!(o.models[0].requests, Some(10));
    let o_cost = o.cost.as_ref().unwrap_or_else(|| panic!("openai cost"));
    assert_eq!(o_cost.total.len(), 1);
    assert_eq!(o_cost.total[0].currency, "USD");
    assert_eq!(o_cost.total[0].amount, decimal("0.7"));

    let c = answered(&entries, "claude-org");
    assert_eq!(entry(&entries, "claude-org").provider(), "claude");
    assert_eq!(c.models.len(), 1);
    assert_eq!(c.models[0].model, "claude-sonnet-4-20250514");
    // Uncached input includes cache writes (100 + 30); cache reads are the cached input.
    assert_eq!(c.models[0].input_tokens, 130);
    assert_eq!(c.models[0].cached_input_tokens, 70);
    assert_eq!(c.models[0].output_tokens, 50);
    let c_cost = c.cost.as_ref().unwrap_or_else(|| panic!("claude cost"));
    assert_eq!(c_cost.total[0].currency, "USD");
    // Anthropic reports cents: "0.2" is a fifth of a cent.
    assert_eq!(c_cost.total[0].amount, decimal("0.002"));

    // The cross-provider answer: AI spend across OpenAI + Claude, exactly.
    let spend = opsdeck::domain::sum_by_currency(
        entries
            .iter()
            .filter_map(|e| e.result())
            .filter_map(|u| u.cost.as_ref())
            .flat_map(|c| c.total.iter()),
    );
    assert_eq!(spend.len(), 1);
    assert_eq!(spend[0].currency, "USD");
    assert_eq!(spend[0].amount, decimal("0.702"));

    let why = unavailable(&entries, "gemini");
    assert!(why.contains("no usage or billing endpoint"), "{why}");
    let why = unavailable(&entries, "openai-project");
    assert!(why.contains("admin_key"), "{why}");
    assert!(
        gemini
            .received_requests()
            .await
            .unwrap_or_default()
            .is_empty()
    );
    assert!(
        openai_plain
            .received_requests()
            .await
            .unwrap_or_default()
            .is_empty()
    );

    let down = entry(&entries, "openai-down");
    assert!(down.result().is_none() && down.unavailable().is_none());
    let err = down.error().unwrap_or_else(|| panic!("no error"));
    assert_eq!(err.failure, FailureKind::ProviderError, "{}", err.message);
    assert!(!err.message.contains(OPENAI_ADMIN), "{}", err.message);

    // The wire shape the CLI and the server repeat: absent fields are left out.
    let v = serde_json::to_value(&entries).unwrap_or_else(|e| panic!("{e}"));
    let gem = &v[1];
    assert_eq!(gem["service"], "gemini");
    assert_eq!(gem["provider"], "gemini");
    assert!(gem.get("result").is_none() && gem.get("error").is_none());
    assert_eq!(v[2]["error"]["failure"], "provider_error");
    assert_eq!(v[0]["result"]["cost"]["total"][0]["currency"], "USD");
}

/// "All deployments in the last 24 h" across GitHub, Railway and Vercel.
#[cfg(all(feature = "github", feature = "railway", feature = "vercel"))]
#[tokio::test]
async fn deployments_in_the_last_24_hours_across_github_railway_and_vercel() {
    use opsdeck::domain::DeploymentState;
    use opsdeck::providers::railway::queries;
    use wiremock::matchers::{body_json, header, method, path, query_param};
    use wiremock::{Mock, MockServer, Request};

    const GH_TOKEN: &str = "ghp_crossTestToken0123456789abcdefABCD";
    const RW_TOKEN: &str = "rw-cross-3f9a1c2b-7d4e-4f00-9b1a-0c2d3e4f5a6b";
    const VC_TOKEN: &str = "vercel_tok_cross0123456789abcdef";
    const SHOP: &str = "0f8fad5b-d9cb-469f-a165-70867728950e";
    const ENV: &str = "e1d2c3b4-aaaa-4bbb-8ccc-ddddeeeeffff";

    let window = TimeWindow::last(chrono::Duration::hours(24));
    let ago = |h: i64| window.end - chrono::Duration::hours(h);

    // GitHub: one deployment inside the window (with a success status), two older ones.
    let github = MockServer::start().await;
    let gh = |p: &str| {
        Mock::given(method("GET"))
            .and(path(p))
            .and(header(
                "authorization",
                format!("Bearer {GH_TOKEN}").as_str(),
            ))
            .and(header("x-github-api-version", "2022-11-28"))
    };
    gh("/repos/acme/api")
        .respond_with(ok("github/repo_200.json"))
        .mount(&github)
        .await;
    let mut list: Vec<Value> =
        serde_json::from_str(&fixture("github/deployments_200.json")).unwrap_or_default();
    for (d, h) in list.iter_mut().zip([2, 30, 400]) {
        d["created_at"] = json!(ago(h).format("%Y-%m-%dT%H:%M:%SZ").to_string());
    }
    gh("/repos/acme/api/deployments")
        .respond_with(ResponseTemplate::new(200).set_body_json(list))
        .expect(1)
        .mount(&github)
        .await;
    gh("/repos/acme/api/deployments/9003/statuses")
        .and(query_param("per_page", "100"))
        .respond_with(ok("github/deployment_statuses_200.json"))
        .expect(1)
        .mount(&github)
        .await;

    // Railway, project token: two deployments (1 h and 3 h ago) over two pages.
    let railway = MockServer::start().await;
    let rw = |query: &str, variables: Value| {
        Mock::given(method("POST"))
            .and(path("/graphql/v2"))
            .and(header("project-access-token", RW_TOKEN))
            .and(body_json(json!({ "query": query, "variables": variables })))
    };
    rw(queries::PROJECT_TOKEN, json!({}))
        .respond_with(ok("railway/project_token_ok.json"))
        .mount(&railway)
        .await;
    let mut page1 = fixture("railway/deployments_page1.json");
    for h in [1, 3] {
        page1 = page1.replace(
            &format!("__NOW_MINUS_{h}H__"),
            &ago(h).to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
        );
    }
    rw(
        queries::DEPLOYMENTS,
        json!({ "input": { "projectId": SHOP, "environmentId": ENV }, "first": 100, "after": null }),
    )
    .respond_with(ResponseTemplate::new(200).set_body_raw(page1, "application/json"))
    .expect(1)
    .mount(&railway)
    .await;
    rw(
        queries::DEPLOYMENTS,
        json!({ "input": { "projectId": SHOP, "environmentId": ENV }, "first": 100, "after": "ZDI=" }),
    )
    .respond_with(ok("railway/deployments_empty.json"))
    .expect(1)
    .mount(&railway)
    .await;

    // Vercel: one page of three deployments, 1, 2 and 3 hours old.
    let vercel = MockServer::start().await;
    let mut vpage: Value =
        serde_json::from_str(&fixture("vercel/deployments_page1.json")).unwrap_or_default();
    if let Some(list) = vpage["deployments"].as_array_mut() {
        for (i, d) in list.iter_mut().enumerate() {
            let t = ago(i as i64 + 1).timestamp_millis();
            d["created"] = json!(t);
            d["createdAt"] = json!(t);
        }
    }
    vpage["pagination"]["next"] = Value::Null;
    let since = window.start.timestamp_millis().to_string();
    let until = window.end.timestamp_millis().to_string();
    Mock::given(method("GET"))
        .and(path("/v6/deployments"))
        .and(header(
            "authorization",
            format!("Bearer {VC_TOKEN}").as_str(),
        ))
        .and(query_param("since", since.as_str()))
        .and(query_param("until", until.as_str()))
        .and(query_param("limit", "100"))
        .and(|r: &Request| !r.url.query_pairs().any(|(k, _)| k == "teamId"))
        .respond_with(ResponseTemplate::new(200).set_body_json(vpage))
        .expect(1)
        .mount(&vercel)
        .await;

    let m = manager(&[
        (
            "gh",
            json!({"provider": "github", "token": GH_TOKEN, "base_url": github.uri(), "repos": ["acme/api"]}),
        ),
        (
            "gh-no-repos",
            json!({"provider": "github", "token": GH_TOKEN, "base_url": github.uri()}),
        ),
        (
            "railway-shop",
            json!({"provider": "railway", "token": RW_TOKEN, "token_kind": "project", "base_url": format!("{}/graphql/v2", railway.uri())}),
        ),
        (
            "vercel",
            json!({"provider": "vercel", "token": VC_TOKEN, "base_url": vercel.uri()}),
        ),
    ]);
    let entries = m.deployments(window).await;
    assert_eq!(entries.len(), 4);

    let gh = answered(&entries, "gh");
    assert_eq!(gh.len(), 1, "{gh:?}");
    assert_eq!(gh[0].id, "9003");
    assert_eq!(gh[0].project.as_deref(), Some("acme/api"));
    assert_eq!(gh[0].environment.as_deref(), Some("production"));
    assert_eq!(gh[0].state, DeploymentState::Succeeded);
    assert_eq!(gh[0].url.as_deref(), Some("https://api.acme.example"));

    let rw = answered(&entries, "railway-shop");
    assert_eq!(entry(&entries, "railway-shop").provider(), "railway");
    let states: Vec<_> = rw.iter().map(|d| d.state).collect();
    assert_eq!(
        states,
        [DeploymentState::Succeeded, DeploymentState::Failed]
    );
    assert!(rw.iter().all(|d| d.project.as_deref() == Some("shop-api")
        && d.environment.as_deref() == Some("production")));

    let vc = answered(&entries, "vercel");
    let states: Vec<_> = vc.iter().map(|d| d.state).collect();
    assert_eq!(
        states,
        [
            DeploymentState::Succeeded,
            DeploymentState::Failed,
            DeploymentState::InProgress
        ]
    );
    assert_eq!(vc[0].environment.as_deref(), Some("production"));

    let why = unavailable(&entries, "gh-no-repos");
    assert!(why.contains("repos"), "{why}");

    // Every deployment of the window, whatever the vendor, inside the window.
    let all: Vec<_> = entries
        .iter()
        .filter_map(|e| e.result())
        .flatten()
        .collect();
    assert_eq!(all.len(), 6);
    assert!(
        all.iter()
            .all(|d| d.created_at >= window.start && d.created_at < window.end)
    );
}

/// "What does everything cost this month": OpenAI, Claude, Railway, Vercel and Datadog in one
/// call, totalled exactly per currency.
#[cfg(all(
    feature = "openai",
    feature = "claude",
    feature = "railway",
    feature = "vercel",
    feature = "datadog"
))]
#[tokio::test]
async fn costs_over_a_window_across_ai_and_infrastructure_providers() {
    use ai_vendors::*;
    use opsdeck::providers::railway::queries;
    use wiremock::matchers::{body_json, header, method, path, query_param};
    use wiremock::{Mock, MockServer, Request};

    const RW_TOKEN: &str = "rw-cross-workspace-7d4e-4f00-9b1a-0c2d3e4f5a6b";
    const VC_TOKEN: &str = "vercel_tok_cross0123456789abcdef";
    const DD_API: &str = "ddapikeycross0123456789abcdef0123";
    const DD_APP: &str = "ddappkeycross0123456789abcdef0123456789ab";
    const ACME: &str = "a3b1c2d4-1111-4a2b-9c3d-5e6f7a8b9c0d";

    let window = TimeWindow {
        start: at(2026, 11, 1),
        end: at(2026, 11, 27),
    };
    let millis = |t: chrono::DateTime<Utc>| t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true);

    let openai = MockServer::start().await;
    openai_report("/organization/costs", &["line_item", "project_id"], window)
        .respond_with(ok("openai/costs_page2.json"))
        .expect(1)
        .mount(&openai)
        .await;

    let claude = MockServer::start().await;
    claude_report("/v1/organizations/cost_report", "description", window)
        .respond_with(ok("claude/cost_report_page2.json"))
        .expect(1)
        .mount(&claude)
        .await;

    let railway = MockServer::start().await;
    let rw = |query: &str, variables: Value| {
        Mock::given(method("POST"))
            .and(path("/graphql/v2"))
            .and(header(
                "authorization",
                format!("Bearer {RW_TOKEN}").as_str(),
            ))
            .and(body_json(json!({ "query": query, "variables": variables })))
    };
    rw(queries::PROBE_WORKSPACE, json!({}))
        .respond_with(ok("railway/api_token_ok.json"))
        .mount(&railway)
        .await;
    rw(queries::BILLING, json!({ "workspaceId": ACME }))
        .respond_with(ok("railway/workspace_customer.json"))
        .expect(1)
        .mount(&railway)
        .await;
    rw(
        queries::USAGE_ESTIMATE,
        json!({
            "workspaceId": ACME,
            "measurements": ["MEMORY_USAGE_GB", "CPU_USAGE", "NETWORK_TX_GB", "DISK_USAGE_GB", "BACKUP_USAGE_GB"],
            "startDate": "2026-11-01T00:00:00.000Z",
            "endDate": "2026-12-01T00:00:00.000Z",
        }),
    )
    .respond_with(ok("railway/usage_estimate.json"))
    .mount(&railway)
    .await;

    let vercel = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/v1/billing/charges"))
        .and(header(
            "authorization",
            format!("Bearer {VC_TOKEN}").as_str(),
        ))
        .and(query_param("from", millis(window.start).as_str()))
        .and(query_param("to", millis(window.end).as_str()))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_raw(fixture("vercel/billing_charges.jsonl"), "application/jsonl"),
        )
        .expect(1)
        .mount(&vercel)
        .await;

    let datadog = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/api/v2/usage/estimated_cost"))
        .and(header("dd-api-key", DD_API))
        .and(header("dd-application-key", DD_APP))
        .and(query_param("view", "summary"))
        .and(query_param("start_month", "2026-11-01T00:00:00.000Z"))
        .and(|r: &Request| !r.url.query_pairs().any(|(k, _)| k == "end_month"))
        .respond_with(ok("datadog/estimated_cost.json"))
        .expect(1)
        .mount(&datadog)
        .await;

    let m = manager(&[
        (
            "openai",
            json!({"provider": "openai", "api_key": OPENAI_KEY, "admin_key": OPENAI_ADMIN, "base_url": openai.uri()}),
        ),
        (
            "claude",
            json!({"provider": "claude", "api_key": CLAUDE_KEY, "admin_key": CLAUDE_ADMIN, "base_url": claude.uri()}),
        ),
        (
            "railway",
            json!({"provider": "railway", "token": RW_TOKEN, "token_kind": "workspace", "base_url": format!("{}/graphql/v2", railway.uri())}),
        ),
        (
            "railway-project",
            json!({"provider": "railway", "token": RW_TOKEN, "token_kind": "project", "base_url": format!("{}/graphql/v2", railway.uri())}),
        ),
        (
            "vercel",
            json!({"provider": "vercel", "token": VC_TOKEN, "base_url": vercel.uri()}),
        ),
        (
            "datadog",
            json!({"provider": "datadog", "api_key": DD_API, "app_key": DD_APP, "base_url": datadog.uri()}),
        ),
    ]);
    let entries = m.costs(window).await;
    assert_eq!(entries.len(), 6);

    let total = |service: &str| {
        let r = answered(&entries, service);
        assert_eq!(r.total.len(), 1, "{service}: {:?}", r.total);
        assert_eq!(r.total[0].currency, "USD", "{service}");
        r.total[0].amount
    };
    assert_eq!(total("openai"), decimal("0.7"));
    assert_eq!(total("claude"), decimal("0.002"));
    assert_eq!(total("railway"), decimal("28.42"));
    assert_eq!(total("vercel"), decimal("32.8"));
    assert_eq!(total("datadog"), decimal("73.17"));

    // Estimates are flagged; Railway reports its own billing period whatever the window.
    assert!(answered(&entries, "railway").estimated);
    assert!(answered(&entries, "datadog").estimated);
    assert!(!answered(&entries, "openai").estimated);
    assert_eq!(answered(&entries, "railway").window.start, at(2026, 11, 1));
    assert_eq!(answered(&entries, "openai").window, window);

    let why = unavailable(&entries, "railway-project");
    assert!(why.contains("workspace token"), "{why}");

    let spend = opsdeck::domain::sum_by_currency(
        entries
            .iter()
            .filter_map(|e| e.result())
            .flat_map(|r| r.total.iter()),
    );
    assert_eq!(spend.len(), 1);
    assert_eq!(spend[0].amount, decimal("135.092"));
}
