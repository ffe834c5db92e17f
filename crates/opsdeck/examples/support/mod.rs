//! Local stand-ins for the vendors, so every example runs offline (CI runs them all). Each
//! answers the requests the provider makes with the documented response shape.

// Each example uses only the stand-ins it needs.
#![allow(dead_code)]

use wiremock::matchers::{header, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

/// The token the GitHub stand-in accepts.
pub const GOOD_TOKEN: &str = "ghp_exampleToken0123456789";

/// GitHub: `GET /user` answers for [`GOOD_TOKEN`], 401 "Bad credentials" for anything else.
pub async fn github() -> MockServer {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/user"))
        .and(header(
            "authorization",
            format!("Bearer {GOOD_TOKEN}").as_str(),
        ))
        .respond_with(
            ResponseTemplate::new(200)
                .insert_header("x-oauth-scopes", "repo, read:org")
                .insert_header("x-ratelimit-limit", "5000")
                .insert_header("x-ratelimit-remaining", "4999")
                .set_body_json(serde_json::json!({
                    "login": "octocat", "name": "The Octocat", "type": "User"
                })),
        )
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/user"))
        .respond_with(ResponseTemplate::new(401).set_body_json(serde_json::json!({
            "message": "Bad credentials",
            "documentation_url": "https://docs.github.com/rest"
        })))
        .with_priority(10)
        .mount(&server)
        .await;
    server
}

/// OpenAI: `GET /models`.
pub async fn openai() -> MockServer {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/models"))
        .respond_with(ResponseTemplate::new(200).set_body_json(serde_json::json!({
            "object": "list",
            "data": [
                {"id": "gpt-4o", "object": "model", "created": 1715367049, "owned_by": "system"},
                {"id": "gpt-4o-mini", "object": "model", "created": 1721172741, "owned_by": "system"}
            ]
        })))
        .mount(&server)
        .await;
    server
}

/// Gemini: `GET /v1beta/models`.
pub async fn gemini() -> MockServer {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/v1beta/models"))
        .respond_with(ResponseTemplate::new(200).set_body_json(serde_json::json!({
            "models": [{
                "name": "models/gemini-2.0-flash",
                "displayName": "Gemini 2.0 Flash",
                "inputTokenLimit": 1048576,
                "outputTokenLimit": 8192
            }]
        })))
        .mount(&server)
        .await;
    server
}

/// A status endpoint for the home-made provider of `write_a_provider`.
pub async fn health() -> MockServer {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/health"))
        .respond_with(ResponseTemplate::new(200).set_body_json(serde_json::json!({"ok": true})))
        .mount(&server)
        .await;
    server
}
