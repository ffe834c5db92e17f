//! The shared HTTP policy against wiremock: classification, retries, Retry-After vs deadline,
//! secret scrubbing, and exact requests.

use std::time::{Duration, Instant};

use opsdeck_core::deadline::with_timeout;
use opsdeck_core::http::{HttpClient, HttpSettings, USER_AGENT};
use opsdeck_core::{FailureKind, secrecy::SecretString};
use url::Url;
use wiremock::matchers::{header, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

fn settings() -> HttpSettings {
    HttpSettings {
        initial_backoff: Duration::from_millis(10),
        max_backoff: Duration::from_millis(40),
        ..HttpSettings::default()
    }
}

fn client(server: &MockServer, token: &str) -> HttpClient {
    let base = Url::parse(&format!("{}/api/v3", server.uri())).unwrap_or_else(|e| panic!("{e}"));
    HttpClient::builder("Demo", &base, &settings())
        .bearer(&SecretString::from(token.to_owned()))
        .build()
        .unwrap_or_else(|e| panic!("{e}"))
}

#[tokio::test]
async fn sends_auth_and_user_agent_and_keeps_the_base_path() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/api/v3/user"))
        .and(header("authorization", "Bearer tok-123456"))
        .and(header("user-agent", USER_AGENT))
        .respond_with(ResponseTemplate::new(200).set_body_json(serde_json::json!({"login": "me"})))
        .expect(1)
        .mount(&server)
        .await;
    let (v, _): (serde_json::Value, _) = client(&server, "tok-123456")
        .get_json("/user", &[])
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(v["login"], "me");
}

#[tokio::test]
async fn server_errors_are_retried_then_succeed() {
    let server = MockServer::start().await;
    Mock::given(path("/api/v3/x"))
        .respond_with(ResponseTemplate::new(503))
        .up_to_n_times(2)
        .expect(2)
        .mount(&server)
        .await;
    Mock::given(path("/api/v3/x"))
        .respond_with(ResponseTemplate::new(200).set_body_json(serde_json::json!({})))
        .expect(1)
        .mount(&server)
        .await;
    let r: Result<(serde_json::Value, _), _> =
        client(&server, "tok-123456").get_json("/x", &[]).await;
    assert!(r.is_ok(), "{:?}", r.err());
}

#[tokio::test]
async fn auth_errors_are_never_retried() {
    let server = MockServer::start().await;
    Mock::given(path("/api/v3/x"))
        .respond_with(
            ResponseTemplate::new(401)
                .set_body_json(serde_json::json!({"message": "Bad credentials"})),
        )
        .expect(1)
        .mount(&server)
        .await;
    let err = client(&server, "tok-123456")
        .get_json::<serde_json::Value>("/x", &[])
        .await
        .err()
        .unwrap_or_else(|| panic!("expected an error"));
    assert_eq!(err.kind(), FailureKind::InvalidCredentials);
    assert!(
        err.message().contains("Bad credentials"),
        "{}",
        err.message()
    );
}

#[tokio::test]
async fn retry_after_beyond_the_deadline_is_reported_not_slept() {
    let server = MockServer::start().await;
    Mock::given(path("/api/v3/x"))
        .respond_with(ResponseTemplate::new(429).insert_header("retry-after", "60"))
        .expect(1)
        .mount(&server)
        .await;
    let c = client(&server, "tok-123456");
    let started = Instant::now();
    let err = with_timeout(
        Duration::from_secs(5),
        c.get_json::<serde_json::Value>("/x", &[]),
    )
    .await
    .err()
    .unwrap_or_else(|| panic!("expected an error"));
    assert!(started.elapsed() < Duration::from_secs(1));
    assert_eq!(err.kind(), FailureKind::RateLimited);
    assert_eq!(err.retry_after(), Some(Duration::from_secs(60)));
    assert!(err.message().contains("Not retried"), "{}", err.message());
}

#[tokio::test]
async fn short_retry_after_is_honoured_within_the_deadline() {
    let server = MockServer::start().await;
    Mock::given(path("/api/v3/x"))
        .respond_with(ResponseTemplate::new(429).insert_header("retry-after", "1"))
        .up_to_n_times(1)
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(path("/api/v3/x"))
        .respond_with(ResponseTemplate::new(200).set_body_json(serde_json::json!({})))
        .expect(1)
        .mount(&server)
        .await;
    let c = client(&server, "tok-123456");
    let started = Instant::now();
    let r = with_timeout(
        Duration::from_secs(5),
        c.get_json::<serde_json::Value>("/x", &[]),
    )
    .await;
    assert!(r.is_ok(), "{:?}", r.err());
    assert!(started.elapsed() >= Duration::from_secs(1));
}

#[tokio::test]
async fn slow_answers_time_out_within_the_deadline() {
    let server = MockServer::start().await;
    Mock::given(path("/api/v3/x"))
        .respond_with(ResponseTemplate::new(200).set_delay(Duration::from_secs(5)))
        .mount(&server)
        .await;
    let c = client(&server, "tok-123456");
    let started = Instant::now();
    let err = with_timeout(
        Duration::from_millis(400),
        c.get_json::<serde_json::Value>("/x", &[]),
    )
    .await
    .err()
    .unwrap_or_else(|| panic!("expected an error"));
    assert_eq!(err.kind(), FailureKind::Timeout);
    assert!(started.elapsed() < Duration::from_millis(1500));
}

#[tokio::test]
async fn echoed_secrets_are_scrubbed_from_messages() {
    let server = MockServer::start().await;
    Mock::given(path("/api/v3/x"))
        .respond_with(ResponseTemplate::new(401).set_body_json(
            serde_json::json!({"error": {"message": "Invalid API key: tok-secret-999"}}),
        ))
        .mount(&server)
        .await;
    let err = client(&server, "tok-secret-999")
        .get_json::<serde_json::Value>("/x", &[])
        .await
        .err()
        .unwrap_or_else(|| panic!("expected an error"));
    assert!(
        !err.message().contains("tok-secret-999"),
        "{}",
        err.message()
    );
    assert!(err.message().contains("[REDACTED]"));
}

#[tokio::test]
async fn html_pages_and_redirects_are_explained() {
    let server = MockServer::start().await;
    Mock::given(path("/api/v3/html"))
        .respond_with(
            ResponseTemplate::new(403)
                .set_body_raw("<!DOCTYPE html><html>Access denied</html>", "text/html"),
        )
        .mount(&server)
        .await;
    Mock::given(path("/api/v3/moved"))
        .respond_with(
            ResponseTemplate::new(301).insert_header("location", "https://elsewhere.example/"),
        )
        .mount(&server)
        .await;
    let c = client(&server, "tok-123456");
    let html = c
        .get_json::<serde_json::Value>("/html", &[])
        .await
        .err()
        .unwrap_or_else(|| panic!("expected an error"));
    assert!(html.message().contains("HTML page"), "{}", html.message());
    let moved = c
        .get_json::<serde_json::Value>("/moved", &[])
        .await
        .err()
        .unwrap_or_else(|| panic!("expected an error"));
    assert_eq!(moved.kind(), FailureKind::InvalidResponse);
    assert!(
        moved.message().contains("elsewhere.example"),
        "{}",
        moved.message()
    );
}

#[tokio::test]
async fn links_to_other_hosts_are_refused() {
    let server = MockServer::start().await;
    let c = client(&server, "tok-123456");
    let err = c
        .url("https://evil.example/steal")
        .err()
        .unwrap_or_else(|| panic!("expected an error"));
    assert_eq!(err.kind(), FailureKind::InvalidResponse);
    assert!(
        c.url(&format!("{}/api/v3/next?page=2", server.uri()))
            .is_ok()
    );
}
