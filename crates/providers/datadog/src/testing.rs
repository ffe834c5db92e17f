//! Stand-ins for Datadog's API, for tests in this crate and in others (the CLI's end-to-end
//! tests): key validation, monitor search facets and the month's estimated cost, answering only
//! requests that carry the exact keys, with the recorded bodies in `tests/it/fixtures`. Enabled
//! by the `testing` feature; never part of a release build.

use chrono::{Datelike, TimeZone, Utc};
use opsdeck_testkit::wiremock::matchers::{header, method, path, query_param};
use opsdeck_testkit::wiremock::{Mock, MockBuilder, MockServer, Request, ResponseTemplate};

/// The API key the mocks expect.
pub const API_KEY: &str = "ddapikey0123456789abcdef01234567";
/// The application key the mocks expect.
pub const APP_KEY: &str = "ddappkey0123456789abcdef0123456789abcdef";

const VALIDATE: &str = include_str!("../tests/it/fixtures/validate_ok.json");
const VALIDATE_KEYS: &str = include_str!("../tests/it/fixtures/validate_keys_ok.json");
/// Datadog's 403 for a rejected key.
pub const FORBIDDEN: &str = include_str!("../tests/it/fixtures/validate_forbidden.json");
const MONITORS: &str = include_str!("../tests/it/fixtures/monitor_search.json");
const COST: &str = include_str!("../tests/it/fixtures/estimated_cost.json");

fn body(raw: &str) -> ResponseTemplate {
    ResponseTemplate::new(200).set_body_raw(raw.to_owned(), "application/json")
}

/// A GET of `p` with the API key and the JSON accept header.
pub fn get(p: &'static str) -> MockBuilder {
    Mock::given(method("GET"))
        .and(path(p))
        .and(header("dd-api-key", API_KEY))
        .and(header("accept", "application/json"))
}

/// Both key validations succeed.
pub async fn mount_probe(server: &MockServer) {
    get("/api/v1/validate")
        .respond_with(body(VALIDATE))
        .mount(server)
        .await;
    get("/api/v2/validate_keys")
        .and(header("dd-application-key", APP_KEY))
        .respond_with(body(VALIDATE_KEYS))
        .mount(server)
        .await;
}

/// Monitor search facets and this month's estimated cost.
pub async fn mount_metrics(server: &MockServer) {
    get("/api/v1/monitor/search")
        .and(header("dd-application-key", APP_KEY))
        .and(query_param("page", "0"))
        .and(query_param("per_page", "1"))
        .respond_with(body(MONITORS))
        .mount(server)
        .await;
    let month_start = {
        let n = Utc::now();
        Utc.with_ymd_and_hms(n.year(), n.month(), 1, 0, 0, 0)
            .single()
            .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true))
            .unwrap_or_default()
    };
    get("/api/v2/usage/estimated_cost")
        .and(header("dd-application-key", APP_KEY))
        .and(query_param("view", "summary"))
        .and(query_param("start_month", month_start.as_str()))
        .and(|r: &Request| !r.url.query_pairs().any(|(k, _)| k == "end_month"))
        .respond_with(body(COST))
        .mount(server)
        .await;
}

/// [`mount_probe`] and [`mount_metrics`].
pub async fn mount_all(server: &MockServer) {
    mount_probe(server).await;
    mount_metrics(server).await;
}

/// Every GET answered as `/api/v1/validate` answers a rejected API key (403 "Forbidden").
pub async fn mount_unauthorized(server: &MockServer) {
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(403).set_body_raw(FORBIDDEN, "application/json"))
        .mount(server)
        .await;
}
