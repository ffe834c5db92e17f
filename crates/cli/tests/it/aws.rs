//! The CLI with the AWS provider against a local STS stand-in: connected, and — with every log
//! level on — no configured credential (access key id included) in stdout or stderr.

use opsdeck::providers::aws::testing::{self, KEY_ID, SECRET};
use wiremock::MockServer;

use crate::{json, opsdeck};

#[tokio::test(flavor = "multi_thread")]
async fn connected_and_credentials_never_logged_even_at_trace() {
    let server = MockServer::start().await;
    testing::mount_probe(&server).await;
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let cfg = dir.path().join("opsdeck.toml");
    std::fs::write(
        &cfg,
        format!(
            "[services.aws-prod]\nprovider = \"aws\"\naccess_key_id = \"${{OPSDECK_T_KEY}}\"\nsecret_access_key = \"${{OPSDECK_T_SECRET}}\"\nbase_url = \"{}\"\n",
            server.uri()
        ),
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let out = tokio::task::spawn_blocking(move || {
        opsdeck()
            .env("OPSDECK_T_KEY", KEY_ID)
            .env("OPSDECK_T_SECRET", SECRET)
            .env("RUST_LOG", "trace")
            .args(["-vvv", "test", "--json", "--timeout", "5", "--config"])
            .arg(&cfg)
            .output()
            .unwrap_or_else(|e| panic!("{e}"))
    })
    .await
    .unwrap_or_else(|e| panic!("{e}"));
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stdout}\n{stderr}");
    assert!(stderr.contains("TRACE"), "trace logging was not on");
    for secret in [KEY_ID, SECRET] {
        assert!(!stdout.contains(secret), "a credential leaked into stdout");
        assert!(
            !stderr.contains(secret),
            "a credential leaked into the logs"
        );
    }
    let v = json(&out.stdout);
    assert_eq!(v[0]["status"], "connected");
    assert!(
        v[0]["identity"]
            .as_str()
            .is_some_and(|i| i.starts_with("arn:aws:"))
    );
}
