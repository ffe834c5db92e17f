//! The `opsdeck` binary end to end against one local mock server per provider. Each mock answers
//! only the vendor's exact requests (method, path, query, auth headers) with the documented
//! bodies the provider crates test against: the mocks are the providers' own stand-ins
//! (`opsdeck::providers::<id>::testing`, behind the facade's `testing` feature). Every command runs
//! twice, once with `RUST_LOG=trace` and once with `-vvv`, and no secret value may appear in
//! stdout or stderr of either run.

// With only some provider features on, some helpers have no user.
#![cfg_attr(
    not(all(
        feature = "claude",
        feature = "datadog",
        feature = "gemini",
        feature = "github",
        feature = "jira",
        feature = "openai",
        feature = "railway",
        feature = "stripe",
        feature = "vercel"
    )),
    allow(dead_code)
)]

use std::path::PathBuf;

use serde_json::Value;

use crate::{json, opsdeck};

#[cfg(feature = "azure_openai")]
mod azure_openai;
#[cfg(feature = "claude")]
mod claude;
#[cfg(feature = "datadog")]
mod datadog;
#[cfg(feature = "gemini")]
mod gemini;
#[cfg(feature = "github")]
mod github;
#[cfg(feature = "jira")]
mod jira;
#[cfg(feature = "openai")]
mod openai;
#[cfg(feature = "railway")]
mod railway;
#[cfg(feature = "stripe")]
mod stripe;
#[cfg(feature = "vercel")]
mod vercel;

#[cfg(all(
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
mod all_at_once;

/// What a provider module tells the harness: how to configure it against a mock.
pub struct Provider {
    /// Provider id.
    pub id: &'static str,
    /// The environment the config's `${VAR}`s name.
    pub env: &'static [(&'static str, &'static str)],
    /// Values that must never be printed (secrets and recognisable parts of them).
    pub secrets: &'static [&'static str],
    /// The `[services.NAME]` block for a mock at `base`.
    pub block: fn(name: &str, base: &str) -> String,
}

impl Provider {
    /// The service name the single-provider tests use.
    pub fn service(&self) -> String {
        format!("{}-main", self.id)
    }

    /// A config with this provider's one service against `base`.
    pub fn setup(&self, base: &str) -> Setup {
        Setup::new(&(self.block)(&self.service(), base), self.env, self.secrets)
    }
}

/// A temporary directory holding `opsdeck.toml`, and the environment to run it with.
pub struct Setup {
    _dir: tempfile::TempDir,
    config: PathBuf,
    env: Vec<(String, String)>,
    secrets: Vec<String>,
}

/// One run of the binary.
#[derive(Debug)]
pub struct Outcome {
    pub code: i32,
    pub json: Value,
    pub stderr: String,
}

#[derive(Debug, Clone, Copy)]
enum Tracing {
    /// `RUST_LOG=trace`.
    Env,
    /// `-vvv` without `RUST_LOG`.
    Flag,
}

impl Setup {
    pub fn new(toml: &str, env: &[(&str, &str)], secrets: &[&str]) -> Self {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let config = dir.path().join("opsdeck.toml");
        std::fs::write(&config, toml).unwrap_or_else(|e| panic!("{e}"));
        Setup {
            _dir: dir,
            config,
            env: env
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect(),
            secrets: secrets.iter().map(|s| (*s).to_owned()).collect(),
        }
    }

    /// `opsdeck <command> --json --config <file> [names]`, once with `RUST_LOG=trace` and once
    /// with `-vvv`, then once more as a table (no `--json`). Asserts that no secret is printed
    /// and all runs exit alike; returns the first run.
    pub async fn run(&self, command: &str, names: &[&str]) -> Outcome {
        let config = self.config.clone();
        let env = self.env.clone();
        let secrets = self.secrets.clone();
        let command = command.to_owned();
        let names: Vec<String> = names.iter().map(|n| (*n).to_owned()).collect();
        tokio::task::spawn_blocking(move || {
            let run = |tracing, json| {
                run_once(&config, &env, &secrets, &command, &names, tracing, json)
            };
            let (code, stdout, stderr) = run(Tracing::Env, true);
            for (tracing, json) in [(Tracing::Flag, true), (Tracing::Env, false)] {
                let (other, out, err) = run(tracing, json);
                assert_eq!(
                    code, other,
                    "`{command}` exited {code} with RUST_LOG=trace --json but {other} with {tracing:?}, json {json}: {out}\n{err}"
                );
            }
            Outcome {
                code,
                json: json(stdout.as_bytes()),
                stderr,
            }
        })
        .await
        .unwrap_or_else(|e| panic!("{e}"))
    }
}

/// One run: exit code, stdout, stderr, after checking that no secret was printed.
fn run_once(
    config: &PathBuf,
    env: &[(String, String)],
    secrets: &[String],
    command: &str,
    names: &[String],
    tracing: Tracing,
    json: bool,
) -> (i32, String, String) {
    let mut cmd = opsdeck();
    cmd.envs(env.iter().map(|(k, v)| (k, v)));
    match tracing {
        Tracing::Env => cmd.env("RUST_LOG", "trace"),
        Tracing::Flag => cmd.arg("-vvv"),
    };
    cmd.arg(command);
    if json {
        cmd.arg("--json");
    }
    let out = cmd
        .args(["--timeout", "10", "--config"])
        .arg(config)
        .args(names)
        .output()
        .unwrap_or_else(|e| panic!("{e}"));
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    for secret in secrets {
        for (stream, text) in [("stdout", &stdout), ("stderr", &stderr)] {
            if let Some(line) = text.lines().find(|l| l.contains(secret.as_str())) {
                panic!(
                    "`opsdeck {command}` ({tracing:?}, json {json}) printed the secret {secret:?} on {stream}: {line}"
                );
            }
        }
    }
    // The trace level really is on: otherwise the leak check above proves little.
    assert!(
        stderr.contains("TRACE") || stderr.contains("DEBUG"),
        "`opsdeck {command}` ({tracing:?}) logged nothing at debug/trace level: {stderr}"
    );
    (out.status.code().unwrap_or(-1), stdout, stderr)
}

impl Outcome {
    /// The entry of `service` in the JSON array.
    pub fn entry(&self, service: &str) -> &Value {
        self.json
            .as_array()
            .and_then(|a| a.iter().find(|e| e["service"] == service))
            .unwrap_or_else(|| panic!("no entry for {service} in {}", self.json))
    }

    /// `opsdeck test`: exit 0 and `service` connected as `identity`.
    pub fn assert_connected(&self, service: &str, provider: &str, identity: &str) {
        assert_eq!(self.code, 0, "{}\n{}", self.json, self.stderr);
        let e = self.entry(service);
        assert_eq!(e["provider"], provider, "{e}");
        assert_eq!(e["status"], "connected", "{e}");
        assert_eq!(e["failure"], Value::Null, "{e}");
        assert_eq!(e["identity"], identity, "{e}");
        assert!(e["latency_ms"].is_u64(), "{e}");
        assert!(e["message"].as_str().is_some_and(|m| !m.is_empty()), "{e}");
    }

    /// `opsdeck test`: exit 1 and `service` failed with `failure`.
    pub fn assert_failed(&self, service: &str, failure: &str) {
        assert_eq!(self.code, 1, "{}\n{}", self.json, self.stderr);
        let e = self.entry(service);
        assert_eq!(e["status"], "failed", "{e}");
        assert_eq!(e["failure"], failure, "{e}");
        assert!(e["message"].as_str().is_some_and(|m| !m.is_empty()), "{e}");
    }

    /// `opsdeck metrics`: exit 1 and `service` failed with `failure`, without samples.
    pub fn assert_metrics_failed(&self, service: &str, failure: &str) {
        assert_eq!(self.code, 1, "{}\n{}", self.json, self.stderr);
        let e = self.entry(service);
        assert_eq!(e["error"]["failure"], failure, "{e}");
        assert_eq!(e["metrics"], serde_json::json!([]), "{e}");
    }

    /// `opsdeck metrics`: exit 0 and no error for `service`.
    pub fn assert_collected(&self, service: &str, provider: &str) {
        assert_eq!(self.code, 0, "{}\n{}", self.json, self.stderr);
        let e = self.entry(service);
        assert_eq!(e["provider"], provider, "{e}");
        assert_eq!(e["error"], Value::Null, "{e}");
        assert!(
            e["metrics"].as_array().is_some_and(|m| !m.is_empty()),
            "{e}"
        );
    }

    /// The value of the first metric of `service` named `name` carrying these labels.
    pub fn metric(&self, service: &str, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
        self.entry(service)["metrics"]
            .as_array()?
            .iter()
            .find(|m| {
                m["name"] == name
                    && labels
                        .iter()
                        .all(|(k, v)| m["labels"][*k].as_str() == Some(*v))
            })
            .and_then(|m| m["value"].as_f64())
    }

    /// The unit of that metric.
    pub fn unit(&self, service: &str, name: &str) -> Option<String> {
        self.entry(service)["metrics"]
            .as_array()?
            .iter()
            .find(|m| m["name"] == name)
            .and_then(|m| m["unit"].as_str().map(str::to_owned))
    }

    /// The notes of `service`, joined.
    pub fn notes(&self, service: &str) -> String {
        self.entry(service)["notes"]
            .as_array()
            .map(|n| {
                n.iter()
                    .filter_map(Value::as_str)
                    .collect::<Vec<_>>()
                    .join("\n")
            })
            .unwrap_or_default()
    }
}
