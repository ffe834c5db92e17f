//! Anthropic (Claude): `GET /v1/models` with `x-api-key` + `anthropic-version`, and with the
//! Admin key `GET /v1/organizations/me` (test) and the usage and cost reports for the month so
//! far (metrics, two pages each).

use chrono::{Datelike, TimeZone, Utc};
use wiremock::matchers::{header, method, path, query_param, query_param_is_missing};
use wiremock::{Mock, MockBuilder, MockServer, ResponseTemplate};

use super::{Provider, USER_AGENT};

const API_KEY: &str = "sk-ant-api03-e2e-cli-key-0123456789";
const ADMIN_KEY: &str = "sk-ant-admin01-e2e-cli-admin-0123456789";

pub const PROVIDER: Provider = Provider {
    id: "claude",
    env: &[
        ("OPSDECK_E2E_CLAUDE_KEY", API_KEY),
        ("OPSDECK_E2E_CLAUDE_ADMIN_KEY", ADMIN_KEY),
    ],
    secrets: &[API_KEY, ADMIN_KEY],
    block,
};

fn block(name: &str, base: &str) -> String {
    format!(
        "[services.{name}]\nprovider = \"claude\"\napi_key = \"${{OPSDECK_E2E_CLAUDE_KEY}}\"\nadmin_key = \"${{OPSDECK_E2E_CLAUDE_ADMIN_KEY}}\"\nbase_url = \"{base}\"\n\n"
    )
}

const MODELS_1: &str =
    include_str!("../../../../providers/claude/tests/it/fixtures/models_page1.json");
const MODELS_2: &str =
    include_str!("../../../../providers/claude/tests/it/fixtures/models_page2.json");
const ORG: &str =
    include_str!("../../../../providers/claude/tests/it/fixtures/organization_me.json");
const USAGE_1: &str =
    include_str!("../../../../providers/claude/tests/it/fixtures/usage_report_page1.json");
const USAGE_2: &str =
    include_str!("../../../../providers/claude/tests/it/fixtures/usage_report_page2.json");
const COST_1: &str =
    include_str!("../../../../providers/claude/tests/it/fixtures/cost_report_page1.json");
const COST_2: &str =
    include_str!("../../../../providers/claude/tests/it/fixtures/cost_report_page2.json");
const E401: &str = include_str!("../../../../providers/claude/tests/it/fixtures/error_401.json");

fn body(raw: &str) -> ResponseTemplate {
    ResponseTemplate::new(200).set_body_raw(raw.to_owned(), "application/json")
}

fn anthropic(p: &str, key: &str) -> MockBuilder {
    Mock::given(method("GET"))
        .and(path(p.to_owned()))
        .and(header("x-api-key", key))
        .and(header("anthropic-version", "2023-06-01"))
        .and(header("user-agent", USER_AGENT))
}

pub async fn mount_probe(server: &MockServer) {
    anthropic("/v1/models", API_KEY)
        .and(query_param("limit", "1"))
        .and(query_param_is_missing("after_id"))
        .respond_with(body(MODELS_1))
        .mount(server)
        .await;
    anthropic("/v1/organizations/me", ADMIN_KEY)
        .respond_with(body(ORG))
        .mount(server)
        .await;
}

/// Month start to the next UTC midnight, as the reports are asked for.
fn bounds() -> (String, String) {
    let now = Utc::now();
    let fmt = |t: chrono::DateTime<Utc>| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    let start = Utc
        .with_ymd_and_hms(now.year(), now.month(), 1, 0, 0, 0)
        .single()
        .unwrap_or(now);
    let today = Utc
        .with_ymd_and_hms(now.year(), now.month(), now.day(), 0, 0, 0)
        .single()
        .unwrap_or(now);
    (fmt(start), fmt(today + chrono::Duration::days(1)))
}

pub async fn mount_metrics(server: &MockServer) {
    for (after, page) in [
        (None, MODELS_1),
        (Some("claude-sonnet-4-20250514"), MODELS_2),
    ] {
        let m = anthropic("/v1/models", API_KEY).and(query_param("limit", "1000"));
        let m = match after {
            None => m.and(query_param_is_missing("after_id")),
            Some(a) => m.and(query_param("after_id", a)),
        };
        m.respond_with(body(page)).mount(server).await;
    }
    let (start, end) = bounds();
    for (p, group, pages) in [
        (
            "/v1/organizations/usage_report/messages",
            "model",
            [USAGE_1, USAGE_2],
        ),
        (
            "/v1/organizations/cost_report",
            "description",
            [COST_1, COST_2],
        ),
    ] {
        for (i, page) in pages.iter().enumerate() {
            let m = anthropic(p, ADMIN_KEY)
                .and(query_param("starting_at", start.as_str()))
                .and(query_param("ending_at", end.as_str()))
                .and(query_param("bucket_width", "1d"))
                .and(query_param("group_by[]", group))
                .and(query_param("limit", "31"));
            let m = if i == 0 {
                m.and(query_param_is_missing("page"))
            } else {
                m.and(query_param("page", "page_MjAyNi0xMS0yNlQwMDowMDowMFo="))
            };
            m.respond_with(body(page)).mount(server).await;
        }
    }
}

pub async fn mount_all(server: &MockServer) {
    mount_probe(server).await;
    mount_metrics(server).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn test_connects_as_the_organization() {
    let server = MockServer::start().await;
    mount_probe(&server).await;
    let out = PROVIDER.setup(&server.uri()).run("test", &[]).await;
    out.assert_connected(&PROVIDER.service(), "claude", "Acme Research");
}

#[tokio::test(flavor = "multi_thread")]
async fn metrics_sum_tokens_and_cost_exactly() {
    let server = MockServer::start().await;
    mount_metrics(&server).await;
    let out = PROVIDER.setup(&server.uri()).run("metrics", &[]).await;
    let s = PROVIDER.service();
    out.assert_collected(&s, "claude");
    let sonnet = [("model", "claude-sonnet-4-20250514")];
    assert_eq!(out.metric(&s, "claude_models_available", &[]), Some(3.0));
    assert_eq!(out.metric(&s, "claude_input_tokens", &sonnet), Some(1600.0));
    assert_eq!(out.metric(&s, "claude_output_tokens", &sonnet), Some(550.0));
    assert_eq!(out.metric(&s, "claude_cost_total", &[]), Some(1.2408912));
    assert_eq!(out.unit(&s, "claude_cost_total").as_deref(), Some("usd"));
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
