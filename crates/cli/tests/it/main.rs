//! End-to-end tests of the `opsdeck` binary: JSON shapes, exit codes, config errors, and (with
//! provider features) real runs against local mock servers. Nothing here reaches the internet.

#[cfg(feature = "aws")]
mod aws;
mod basics;
#[cfg(all(
    feature = "openai",
    feature = "claude",
    feature = "gemini",
    feature = "github",
    feature = "vercel",
    feature = "datadog"
))]
mod cross;
#[cfg(feature = "github")]
mod github;
#[cfg(any(
    feature = "azure_openai",
    feature = "claude",
    feature = "datadog",
    feature = "gemini",
    feature = "github",
    feature = "jira",
    feature = "openai",
    feature = "railway",
    feature = "stripe",
    feature = "vercel"
))]
mod providers;
#[cfg(feature = "github")]
mod quickstart;
mod ux;

use assert_cmd::Command;

pub fn opsdeck() -> Command {
    let mut cmd = Command::cargo_bin("opsdeck").unwrap_or_else(|e| panic!("{e}"));
    // A width or colour choice from the caller's shell must not change what tests see.
    cmd.env_remove("RUST_LOG")
        .env_remove("OPSDECK_CONFIG")
        .env_remove("COLUMNS")
        .env_remove("NO_COLOR");
    cmd
}

pub fn json(out: &[u8]) -> serde_json::Value {
    serde_json::from_slice(out)
        .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(out)))
}
