//! The CLI against a GitHub-compatible mock server: JSON shape, exit codes, no secret leaks.

use std::path::PathBuf;

use wiremock::matchers::{header, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::{json, opsdeck};

const TOKEN: &str = "ghp_cliTestToken0123456789";

fn config(dir: &tempfile::TempDir, base: &str) -> PathBuf {
    let p = dir.path().join("opsdeck.toml");
    let text = format!(
        "[services.gh-main]\nprovider = \"github\"\ntoken = \"${{OPSDECK_TEST_GH_TOKEN}}\"\nbase_url = \"{base}\"\nrepos = [\"octo/hello\"]\n"
    );
    std::fs::write(&p, text).unwrap_or_else(|e| panic!("{e}"));
    p
}

fn run(cfg: &PathBuf, extra: &[&str]) -> (i32, serde_json::Value, String) {
    let out = opsdeck()
        .env("OPSDECK_TEST_GH_TOKEN", TOKEN)
        .env("RUST_LOG", "trace")
        .args(["test", "--json", "--timeout", "3", "--config"])
        .arg(cfg)
        .args(extra)
        .output()
        .unwrap_or_else(|e| panic!("{e}"));
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(
        !stdout.contains(TOKEN) && !stderr.contains(TOKEN),
        "the token leaked into the output or logs"
    );
    (out.status.code().unwrap_or(-1), json(&out.stdout), stderr)
}

#[tokio::test(flavor = "multi_thread")]
async fn connected_with_the_login() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/user"))
        .and(header("authorization", format!("Bearer {TOKEN}").as_str()))
        .respond_with(
            ResponseTemplate::new(200)
                .insert_header("x-oauth-scopes", "repo, read:org")
                .set_body_json(serde_json::json!({"login": "octocat", "id": 1, "type": "User"})),
        )
        .mount(&server)
        .await;
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let cfg = config(&dir, &server.uri());
    let (code, v, _) = tokio::task::spawn_blocking(move || run(&cfg, &[]))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(code, 0, "{v}");
    let r = &v[0];
    assert_eq!(r["service"], "gh-main");
    assert_eq!(r["provider"], "github");
    assert_eq!(r["status"], "connected");
    assert_eq!(r["failure"], serde_json::Value::Null);
    assert_eq!(r["identity"], "octocat");
    assert!(r["latency_ms"].is_u64());
    assert!(r["checked_at"].as_str().is_some_and(|t| t.contains('T')));
    assert!(r["message"].as_str().is_some_and(|m| !m.is_empty()));
}

#[tokio::test(flavor = "multi_thread")]
async fn rejected_token_is_invalid_credentials_and_exit_1() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/user"))
        .respond_with(ResponseTemplate::new(401).set_body_json(serde_json::json!({
            "message": "Bad credentials",
            "documentation_url": "https://docs.github.com/rest",
            "status": "401"
        })))
        .mount(&server)
        .await;
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let cfg = config(&dir, &server.uri());
    let (code, v, _) = tokio::task::spawn_blocking(move || run(&cfg, &[]))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(code, 1, "{v}");
    assert_eq!(v[0]["status"], "failed");
    assert_eq!(v[0]["failure"], "invalid_credentials");
}

#[tokio::test(flavor = "multi_thread")]
async fn dead_port_is_unreachable_and_exit_1() {
    let base = opsdeck_testkit_dead_url();
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let cfg = config(&dir, &base);
    let (code, v, _) = tokio::task::spawn_blocking(move || run(&cfg, &["gh-main"]))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(code, 1, "{v}");
    assert_eq!(v[0]["status"], "failed");
    assert_eq!(v[0]["failure"], "unreachable");
}

fn opsdeck_testkit_dead_url() -> String {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap_or_else(|e| panic!("{e}"));
    let port = l
        .local_addr()
        .map(|a| a.port())
        .unwrap_or_else(|e| panic!("{e}"));
    drop(l);
    format!("http://127.0.0.1:{port}")
}
