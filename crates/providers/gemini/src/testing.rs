//! Stand-ins for the Gemini API (`GET /v1beta/models`), for tests in this crate and in others
//! (the CLI's end-to-end tests): mocks that answer only requests carrying the key in
//! `x-goog-api-key` (never in the URL), with the recorded bodies in `tests/it/fixtures`. Enabled
//! by the `testing` feature; never part of a release build.

use opsdeck_testkit::wiremock::matchers::{
    header, method, path, query_param, query_param_is_missing,
};
use opsdeck_testkit::wiremock::{Mock, MockBuilder, MockServer, ResponseTemplate};

/// The API key the mocks expect.
pub const API_KEY: &str = "AIzaSyTEST-gemini-key-0123456789abcdef";
/// The identity the probe reports.
pub const IDENTITY: &str = "Gemini API key";

const MODELS_1: &str = include_str!("../tests/it/fixtures/models_page1.json");
const MODELS_2: &str = include_str!("../tests/it/fixtures/models_page2.json");
/// Google's 400 for an invalid key.
pub const BAD_KEY: &str = include_str!("../tests/it/fixtures/error_400_api_key_invalid.json");

fn body(raw: &str) -> ResponseTemplate {
    ResponseTemplate::new(200).set_body_raw(raw.to_owned(), "application/json")
}

/// A models request with the key in the header, never in the URL.
pub fn models() -> MockBuilder {
    Mock::given(method("GET"))
        .and(path("/v1beta/models"))
        .and(header("x-goog-api-key", API_KEY))
        .and(header("user-agent", opsdeck_core::http::USER_AGENT))
        .and(query_param_is_missing("key"))
}

/// The connection test: one model.
pub async fn mount_probe(server: &MockServer) {
    models()
        .and(query_param("pageSize", "1"))
        .and(query_param_is_missing("pageToken"))
        .respond_with(body(MODELS_1))
        .mount(server)
        .await;
}

/// Every model, over two pages of 1000.
pub async fn mount_metrics(server: &MockServer) {
    models()
        .and(query_param("pageSize", "1000"))
        .and(query_param_is_missing("pageToken"))
        .respond_with(body(MODELS_1))
        .mount(server)
        .await;
    models()
        .and(query_param("pageSize", "1000"))
        .and(query_param(
            "pageToken",
            "Ch5tb2RlbHMvZ2VtaW5pLTIuNS1mbGFzaC1saXRl",
        ))
        .respond_with(body(MODELS_2))
        .mount(server)
        .await;
}

/// [`mount_probe`] and [`mount_metrics`].
pub async fn mount_all(server: &MockServer) {
    mount_probe(server).await;
    mount_metrics(server).await;
}

/// Every request answered as Google answers a bad key (400 `API_KEY_INVALID`).
pub async fn mount_unauthorized(server: &MockServer) {
    Mock::given(method("GET"))
        .and(path("/v1beta/models"))
        .respond_with(ResponseTemplate::new(400).set_body_raw(BAD_KEY, "application/json"))
        .mount(server)
        .await;
}
