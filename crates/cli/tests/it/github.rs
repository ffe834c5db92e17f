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

/// A 401 from the mock, whose message is a long sentence.
async fn unauthorized() -> MockServer {
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
    server
}

async fn output(cmd: assert_cmd::Command) -> std::process::Output {
    let mut cmd = cmd;
    tokio::task::spawn_blocking(move || cmd.output().unwrap_or_else(|e| panic!("{e}")))
        .await
        .unwrap_or_else(|e| panic!("{e}"))
}

#[tokio::test(flavor = "multi_thread")]
async fn disabled_services_need_no_variables_and_do_not_change_the_exit_code() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/user"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(serde_json::json!({"login": "octocat", "id": 1})),
        )
        .mount(&server)
        .await;
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let cfg = config(&dir, &server.uri());
    let mut text = std::fs::read_to_string(&cfg).unwrap_or_else(|e| panic!("{e}"));
    text.push_str(
        "\n[services.gh-off]\nprovider = \"github\"\ntoken = \"${OPSDECK_TEST_UNSET_TOKEN}\"\nenabled = false\n",
    );
    std::fs::write(&cfg, text).unwrap_or_else(|e| panic!("{e}"));
    let (code, v, _) = tokio::task::spawn_blocking(move || run(&cfg, &[]))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(code, 0, "{v}");
    // Listed with the same shape as before: unknown, no failure, the disabled message.
    let services: Vec<&str> = v
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|r| r["service"].as_str())
        .collect();
    assert_eq!(services, ["gh-main", "gh-off"]);
    let off = &v[1];
    assert_eq!(off["service"], "gh-off");
    assert_eq!(off["provider"], "github");
    assert_eq!(off["status"], "unknown");
    assert_eq!(off["failure"], serde_json::Value::Null);
    assert!(
        off["message"]
            .as_str()
            .is_some_and(|m| m.contains("Disabled"))
    );
    assert_eq!(v[0]["status"], "connected");
}

#[tokio::test(flavor = "multi_thread")]
async fn naming_a_service_validates_only_that_service() {
    let server = unauthorized().await;
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let cfg = config(&dir, &server.uri());
    let mut text = std::fs::read_to_string(&cfg).unwrap_or_else(|e| panic!("{e}"));
    text.push_str(
        "\n[services.broken]\nprovider = \"github\"\ntoken = \"${OPSDECK_TEST_UNSET_TOKEN}\"\n",
    );
    std::fs::write(&cfg, &text).unwrap_or_else(|e| panic!("{e}"));
    let cfg2 = cfg.clone();
    let (code, v, _) = tokio::task::spawn_blocking(move || run(&cfg2, &["gh-main"]))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    // The check itself decides (the mock says 401), not the other service's missing variable.
    assert_eq!(code, 1, "{v}");
    assert_eq!(v.as_array().map(Vec::len), Some(1), "{v}");
    assert_eq!(v[0]["failure"], "invalid_credentials");
    // Without a name, the broken service is a configuration error.
    let (code, v, _) = tokio::task::spawn_blocking(move || run(&cfg, &[]))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(code, 2, "{v}");
}

#[tokio::test(flavor = "multi_thread")]
async fn tables_fit_80_columns_without_breaking_words_or_colour_codes() {
    let server = unauthorized().await;
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let cfg = config(&dir, &server.uri());
    for columns in ["80", "120"] {
        let mut cmd = opsdeck();
        cmd.env("OPSDECK_TEST_GH_TOKEN", TOKEN)
            .env("COLUMNS", columns)
            .args(["test", "--timeout", "3s", "--config"])
            .arg(&cfg);
        let out = output(cmd).await;
        assert_eq!(out.status.code(), Some(1));
        let stdout = String::from_utf8_lossy(&out.stdout);
        let width: usize = columns.parse().unwrap_or_default();
        for line in stdout.lines() {
            assert!(
                line.chars().count() <= width,
                "wider than {width}:\n{stdout}"
            );
        }
        assert!(
            !stdout.contains('\u{1b}'),
            "colour codes off a terminal:\n{stdout}"
        );
        assert!(stdout.contains("invalid_credentials"), "{stdout}");
        // The message is whole, under the table, in a few lines rather than one word a line
        // (GitHub's 401 advice is about 330 characters: 5 lines at 80 columns).
        let message: Vec<&str> = stdout
            .lines()
            .skip_while(|l| !l.starts_with("gh-main: "))
            .take_while(|l| l.starts_with("gh-main: ") || l.starts_with("  "))
            .collect();
        assert!(
            (1..=6).contains(&message.len()),
            "the message takes {} lines:\n{stdout}",
            message.len()
        );
        assert!(message.concat().contains("HTTP 401"), "{stdout}");
        assert!(message.concat().contains("secret scanning."), "{stdout}");
    }
    // -o wide: one row, the message in full on it.
    let mut cmd = opsdeck();
    cmd.env("OPSDECK_TEST_GH_TOKEN", TOKEN)
        .env("COLUMNS", "80")
        .args(["test", "-o", "wide", "--config"])
        .arg(&cfg);
    let out = output(cmd).await;
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout
            .lines()
            .any(|l| l.contains("gh-main") && l.contains("HTTP 401")),
        "{stdout}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn trace_logs_into_a_file_have_no_colour_codes() {
    let server = unauthorized().await;
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let cfg = config(&dir, &server.uri());
    let mut cmd = opsdeck();
    cmd.env("OPSDECK_TEST_GH_TOKEN", TOKEN)
        .args(["-vvv", "test", "--config"])
        .arg(&cfg);
    let out = output(cmd).await;
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("TRACE"),
        "trace logging was not on:\n{stderr}"
    );
    assert!(
        !stderr.contains('\u{1b}'),
        "colour codes in logs:\n{stderr}"
    );
    assert!(!stderr.contains(TOKEN));
}
