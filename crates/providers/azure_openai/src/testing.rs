//! Stand-ins for the Azure OpenAI data plane, for tests in this crate and in others (the CLI's
//! end-to-end tests): mocks that answer only requests with the key in `api-key`, the configured
//! `api-version` in the query and our User-Agent, with the bodies in `tests/it/fixtures`.
//! Enabled by the `testing` feature; never part of a release build.

use opsdeck_testkit::QueryKeys;
use opsdeck_testkit::wiremock::matchers::{header, method, path, query_param};
use opsdeck_testkit::wiremock::{Mock, MockBuilder, MockServer, ResponseTemplate};

/// The key the mocks expect.
pub const API_KEY: &str = "0123456789abcdef0123456789abcdef";
/// The API version the mocks expect (the default).
pub const API_VERSION: &str = crate::DEFAULT_API_VERSION;
/// The deployment the deployment mock describes.
pub const DEPLOYMENT: &str = "gpt-4o-prod";

/// `GET /openai/models` as Azure answers it (four models, one fine-tuned).
pub const MODELS: &str = include_str!("../tests/it/fixtures/models_200.json");
/// `GET /openai/deployments/{DEPLOYMENT}` as the data plane describes it.
pub const DEPLOYMENT_BODY: &str = include_str!("../tests/it/fixtures/deployment_200.json");
/// Azure's 401 for a wrong key or endpoint.
pub const ERROR_401: &str = include_str!("../tests/it/fixtures/error_401.json");
/// Azure's 404 for a missing deployment.
pub const ERROR_404_DEPLOYMENT: &str =
    include_str!("../tests/it/fixtures/error_404_deployment.json");

fn body(status: u16, raw: &str) -> ResponseTemplate {
    ResponseTemplate::new(status).set_body_raw(raw.to_owned(), "application/json")
}

/// A GET of `p` exactly as Azure's reference specifies: `api-key` header, `api-version` as the
/// only query parameter, our User-Agent, no `Authorization`.
pub fn get(p: &str) -> MockBuilder {
    Mock::given(method("GET"))
        .and(path(p.to_owned()))
        .and(header("api-key", API_KEY))
        .and(header("user-agent", opsdeck_core::http::USER_AGENT))
        .and(query_param("api-version", API_VERSION))
        .and(QueryKeys(&["api-version"]))
        .and(opsdeck_testkit::NoHeader("authorization"))
}

/// The models list (connection test and metrics).
pub async fn mount_probe(server: &MockServer) {
    get("/openai/models")
        .respond_with(body(200, MODELS))
        .mount(server)
        .await;
}

/// The deployment's description.
pub async fn mount_deployment(server: &MockServer) {
    get(&format!("/openai/deployments/{DEPLOYMENT}"))
        .respond_with(body(200, DEPLOYMENT_BODY))
        .mount(server)
        .await;
}

/// [`mount_probe`] and [`mount_deployment`].
pub async fn mount_all(server: &MockServer) {
    mount_probe(server).await;
    mount_deployment(server).await;
}

/// Every request answered as Azure answers a wrong key.
pub async fn mount_unauthorized(server: &MockServer) {
    Mock::given(method("GET"))
        .respond_with(body(401, ERROR_401))
        .mount(server)
        .await;
}
