//! Stand-ins for the OpenAI API, for tests in this crate and in others (the CLI's end-to-end
//! tests): `GET /models` with the API key, and the organization Costs and Completions Usage APIs
//! with the Admin key, answering only the exact requests the provider makes, with the documented
//! bodies in `tests/it/fixtures`. Enabled by the `testing` feature; never part of a release
//! build.

use chrono::Utc;
use opsdeck_testkit::param;
use opsdeck_testkit::wiremock::matchers::{
    header, method, path, query_param, query_param_is_missing,
};
use opsdeck_testkit::wiremock::{Mock, MockBuilder, MockServer, Request, ResponseTemplate};

/// The API key the mocks expect. It ends like the key OpenAI's 401 fixture echoes masked
/// (`sk-proj-****…MxYA`), so tests can check that even the tail never appears.
pub const API_KEY: &str = "sk-proj-testkey0123456789abcdefMxYA";
/// The Admin key the mocks expect.
pub const ADMIN_KEY: &str = "sk-admin-testadmin0123456789abcdef";
/// The identity the probe reports (the `openai-organization` header).
pub const IDENTITY: &str = "org-acme";

const MODELS: &str = include_str!("../tests/it/fixtures/models.json");
const COSTS_1: &str = include_str!("../tests/it/fixtures/costs_page1.json");
const COSTS_2: &str = include_str!("../tests/it/fixtures/costs_page2.json");
const COSTS_EMPTY: &str = include_str!("../tests/it/fixtures/costs_empty.json");
const USAGE_1: &str = include_str!("../tests/it/fixtures/usage_completions_page1.json");
const USAGE_2: &str = include_str!("../tests/it/fixtures/usage_completions_page2.json");
/// OpenAI's 401 for an invalid key (echoing it masked).
pub const E401: &str = include_str!("../tests/it/fixtures/error_401_invalid_api_key.json");
const NEXT_PAGE: &str = "page_AAAAAGdGxdEiJdKOAAAAAGcqsYA=";

fn body(raw: &str) -> ResponseTemplate {
    ResponseTemplate::new(200).set_body_raw(raw.to_owned(), "application/json")
}

fn bearer(key: &str) -> String {
    format!("Bearer {key}")
}

/// `start_time` within two minutes of `now - offset` seconds.
fn start_near(offset: i64) -> impl Fn(&Request) -> bool {
    move |r: &Request| {
        let now = Utc::now().timestamp();
        param(r, "start_time")
            .and_then(|v| v.parse::<i64>().ok())
            .is_some_and(|t| (t - (now - offset)).abs() <= 120)
    }
}

fn models() -> MockBuilder {
    Mock::given(method("GET"))
        .and(path("/models"))
        .and(header("authorization", bearer(API_KEY).as_str()))
        .and(header("accept", "application/json"))
        .and(header("user-agent", opsdeck_core::http::USER_AGENT))
}

fn models_ok() -> ResponseTemplate {
    body(MODELS)
        .insert_header("openai-organization", "org-acme")
        .insert_header("x-request-id", "req_models_1")
        .insert_header("x-ratelimit-limit-requests", "5000")
        .insert_header("x-ratelimit-remaining-requests", "4999")
        .insert_header("x-ratelimit-reset-requests", "12ms")
}

/// The connection test with both keys: the models list, and one cost bucket with the Admin key.
pub async fn mount_probe(server: &MockServer) {
    models().respond_with(models_ok()).mount(server).await;
    Mock::given(method("GET"))
        .and(path("/organization/costs"))
        .and(header("authorization", bearer(ADMIN_KEY).as_str()))
        .and(query_param("limit", "1"))
        .and(start_near(86_400))
        .and(query_param_is_missing("group_by"))
        .respond_with(body(COSTS_EMPTY))
        .mount(server)
        .await;
}

/// `GET /organization/costs` for the full calendar month before `now`'s (exact `start_time`
/// and `end_time`), answered with `raw`; priority 1, so it wins over broader cost mocks.
pub async fn mount_previous_month_costs(
    server: &MockServer,
    now: chrono::DateTime<Utc>,
    raw: &'static str,
) {
    let previous = opsdeck_core::domain::TimeWindow::previous_month(now);
    Mock::given(method("GET"))
        .and(path("/organization/costs"))
        .and(header("authorization", bearer(ADMIN_KEY).as_str()))
        .and(query_param(
            "start_time",
            previous.start.timestamp().to_string().as_str(),
        ))
        .and(query_param(
            "end_time",
            previous.end.timestamp().to_string().as_str(),
        ))
        .respond_with(body(raw))
        .with_priority(1)
        .mount(server)
        .await;
}

/// One usage/costs report request: daily buckets over today and the six days before.
fn report(p: &'static str, group_by: &'static [&'static str]) -> MockBuilder {
    let offset = 6 * 86_400 + Utc::now().timestamp().rem_euclid(86_400);
    Mock::given(method("GET"))
        .and(path(p))
        .and(header("authorization", bearer(ADMIN_KEY).as_str()))
        .and(header("user-agent", opsdeck_core::http::USER_AGENT))
        .and(query_param("bucket_width", "1d"))
        .and(query_param("limit", "7"))
        .and(start_near(offset))
        .and(|r: &Request| {
            param(r, "end_time")
                .and_then(|v| v.parse::<i64>().ok())
                .is_some()
        })
        .and(move |r: &Request| {
            let got: Vec<String> = r
                .url
                .query_pairs()
                .filter(|(k, _)| k == "group_by")
                .map(|(_, v)| v.into_owned())
                .collect();
            got == group_by
        })
}

/// The models list, and the last 7 days of costs and completions usage, two pages each.
pub async fn mount_metrics(server: &MockServer) {
    models().respond_with(models_ok()).mount(server).await;
    mount_previous_month_costs(server, Utc::now(), COSTS_EMPTY).await;
    for (p, groups, pages) in [
        (
            "/organization/costs",
            &["line_item", "project_id"][..],
            [COSTS_1, COSTS_2],
        ),
        (
            "/organization/usage/completions",
            &["model"][..],
            [USAGE_1, USAGE_2],
        ),
    ] {
        let groups: &'static [&'static str] = groups;
        report(p, groups)
            .and(query_param_is_missing("page"))
            .respond_with(body(pages[0]))
            .mount(server)
            .await;
        report(p, groups)
            .and(query_param("page", NEXT_PAGE))
            .respond_with(body(pages[1]))
            .mount(server)
            .await;
    }
}

/// [`mount_probe`] and [`mount_metrics`].
pub async fn mount_all(server: &MockServer) {
    mount_probe(server).await;
    mount_metrics(server).await;
}

/// Every GET answered as OpenAI answers an invalid key.
pub async fn mount_unauthorized(server: &MockServer) {
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(401).set_body_raw(E401, "application/json"))
        .mount(server)
        .await;
}
