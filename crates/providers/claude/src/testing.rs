//! Stand-ins for the Anthropic API, for tests in this crate and in others (the CLI's end-to-end
//! tests): mocks that answer only the exact requests the provider makes (`x-api-key`,
//! `anthropic-version`, our `User-Agent`, the documented query), with the recorded bodies in
//! `tests/it/fixtures`. Enabled by the `testing` feature; never part of a release build.

use chrono::{Datelike, TimeZone, Utc};
use opsdeck_testkit::wiremock::matchers::{
    header, method, path, query_param, query_param_is_missing,
};
use opsdeck_testkit::wiremock::{Mock, MockBuilder, MockServer, ResponseTemplate};

/// The workspace API key the mocks expect.
pub const API_KEY: &str = "sk-ant-api03-test-key-0123456789";
/// The Admin API key the mocks expect.
pub const ADMIN_KEY: &str = "sk-ant-admin01-test-admin-0123456789";
/// The identity the probe reports with the Admin key (the organization's name).
pub const IDENTITY: &str = "Acme Research";

const MODELS_1: &str = include_str!("../tests/it/fixtures/models_page1.json");
const MODELS_2: &str = include_str!("../tests/it/fixtures/models_page2.json");
const ORG: &str = include_str!("../tests/it/fixtures/organization_me.json");
const USAGE_1: &str = include_str!("../tests/it/fixtures/usage_report_page1.json");
const USAGE_2: &str = include_str!("../tests/it/fixtures/usage_report_page2.json");
const COST_1: &str = include_str!("../tests/it/fixtures/cost_report_page1.json");
const COST_2: &str = include_str!("../tests/it/fixtures/cost_report_page2.json");
const COST_EMPTY: &str = include_str!("../tests/it/fixtures/cost_report_empty.json");
/// Anthropic's 401 for an invalid key.
pub const E401: &str = include_str!("../tests/it/fixtures/error_401.json");

fn body(raw: &str) -> ResponseTemplate {
    ResponseTemplate::new(200).set_body_raw(raw.to_owned(), "application/json")
}

/// A GET of `p` with `key` and Anthropic's required headers.
pub fn anthropic(p: &str, key: &str) -> MockBuilder {
    Mock::given(method("GET"))
        .and(path(p.to_owned()))
        .and(header("x-api-key", key))
        .and(header("anthropic-version", "2023-06-01"))
        .and(header("user-agent", opsdeck_core::http::USER_AGENT))
}

/// The connection test with both keys: one model, and the organization of the Admin key.
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

/// Two pages of models, and two pages each of the month's usage and cost reports.
pub async fn mount_metrics(server: &MockServer) {
    mount_previous_month_cost(server, Utc::now(), COST_EMPTY).await;
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

/// The cost report for the full month before `now`'s (exact bounds), answered with `raw`;
/// priority 1, so it wins over broader cost mocks.
pub async fn mount_previous_month_cost(
    server: &MockServer,
    now: chrono::DateTime<Utc>,
    raw: &'static str,
) {
    let previous = opsdeck_core::domain::TimeWindow::previous_month(now);
    let fmt = |t: chrono::DateTime<Utc>| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    anthropic("/v1/organizations/cost_report", ADMIN_KEY)
        .and(query_param("starting_at", fmt(previous.start).as_str()))
        .and(query_param("ending_at", fmt(previous.end).as_str()))
        .respond_with(body(raw))
        .with_priority(1)
        .mount(server)
        .await;
}

/// [`mount_probe`] and [`mount_metrics`].
pub async fn mount_all(server: &MockServer) {
    mount_probe(server).await;
    mount_metrics(server).await;
}

/// Every GET answered as Anthropic answers an invalid key.
pub async fn mount_unauthorized(server: &MockServer) {
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(401).set_body_raw(E401, "application/json"))
        .mount(server)
        .await;
}
