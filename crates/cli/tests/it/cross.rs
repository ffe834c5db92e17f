//! `opsdeck ai-usage`, `costs` and `deployments` against local mock servers: the JSON entry
//! shape (`result` | `unavailable` | `error`, absent keys left out), the table's per-currency
//! totals, the default windows, name selection and exit codes (0 answered or unavailable,
//! 1 any error, 2 config or usage error).

use std::path::{Path, PathBuf};

use chrono::{Datelike, TimeZone, Utc};
use serde_json::{Value, json};
use wiremock::matchers::{any, header, method, path, query_param};
use wiremock::{Mock, MockServer, Request, ResponseTemplate};

use crate::{json, opsdeck};

const OPENAI_KEY: &str = "sk-proj-cliCrossKey0123456789abcdef";
const OPENAI_ADMIN: &str = "sk-admin-cliCrossAdmin0123456789ab";
const CLAUDE_KEY: &str = "sk-ant-api03-cli-cross-key-0123456789";
const CLAUDE_ADMIN: &str = "sk-ant-admin01-cli-cross-admin-0123456789";
const GEMINI_KEY: &str = "AIzaSyCliCross0123456789abcdefghijklm";
const VERCEL_TOKEN: &str = "vercel_tok_cliCross0123456789abcdef";
const DD_API: &str = "ddapikeyclicross0123456789abcdef01";
const DD_APP: &str = "ddappkeyclicross0123456789abcdef0123456789";
const GH_TOKEN: &str = "ghp_cliCrossToken0123456789abcdefABCD";

const SECRETS: &[&str] = &[
    OPENAI_KEY,
    OPENAI_ADMIN,
    CLAUDE_KEY,
    CLAUDE_ADMIN,
    GEMINI_KEY,
    VERCEL_TOKEN,
    DD_API,
    DD_APP,
    GH_TOKEN,
];

fn fixture(name: &str) -> String {
    let p = format!(
        "{}/tests/it/fixtures/cross/{name}",
        env!("CARGO_MANIFEST_DIR")
    );
    std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("{p}: {e}"))
}

fn ok(name: &str) -> ResponseTemplate {
    ResponseTemplate::new(200).set_body_raw(fixture(name), "application/json")
}

fn write_config(dir: &tempfile::TempDir, text: &str) -> PathBuf {
    let p = dir.path().join("opsdeck.toml");
    std::fs::write(&p, text).unwrap_or_else(|e| panic!("{e}"));
    p
}

struct Run {
    code: i32,
    stdout: String,
    stderr: String,
}

impl Run {
    fn json(&self) -> Value {
        json(self.stdout.as_bytes())
    }
}

/// Run `opsdeck <args> --config <cfg>` off the async runtime; no secret may appear anywhere.
async fn run(cfg: &Path, args: &[&str]) -> Run {
    let cfg = cfg.to_owned();
    let args: Vec<String> = args.iter().map(|s| (*s).to_owned()).collect();
    let out = tokio::task::spawn_blocking(move || {
        opsdeck()
            .env("RUST_LOG", "debug")
            .args(&args)
            .args(["--timeout", "5", "--config"])
            .arg(&cfg)
            .output()
            .unwrap_or_else(|e| panic!("{e}"))
    })
    .await
    .unwrap_or_else(|e| panic!("{e}"));
    let r = Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    };
    for s in SECRETS {
        assert!(
            !r.stdout.contains(s) && !r.stderr.contains(s),
            "a secret leaked into the output or logs"
        );
    }
    r
}

fn entry<'a>(v: &'a Value, service: &str) -> &'a Value {
    v.as_array()
        .unwrap_or_else(|| panic!("expected an array: {v}"))
        .iter()
        .find(|e| e["service"] == service)
        .unwrap_or_else(|| panic!("no entry for {service}: {v}"))
}

/// Exactly one of `result`, `unavailable`, `error`; the others are absent, not null.
fn assert_one_of(e: &Value, key: &str) {
    for k in ["result", "unavailable", "error"] {
        assert_eq!(e.get(k).is_some(), k == key, "{k} in {e}");
    }
    assert!(e["service"].is_string() && e["provider"].is_string(), "{e}");
}

async fn openai_org() -> MockServer {
    let server = MockServer::start().await;
    for (p, body) in [
        ("/organization/costs", "openai_costs.json"),
        ("/organization/usage/completions", "openai_usage.json"),
    ] {
        Mock::given(method("GET"))
            .and(path(p))
            .and(header(
                "authorization",
                format!("Bearer {OPENAI_ADMIN}").as_str(),
            ))
            // The default window is 30 days: 30 daily buckets.
            .and(query_param("limit", "30"))
            .and(query_param("bucket_width", "1d"))
            .respond_with(ok(body))
            .mount(&server)
            .await;
    }
    server
}

async fn claude_org() -> MockServer {
    let server = MockServer::start().await;
    for (p, group, body) in [
        (
            "/v1/organizations/usage_report/messages",
            "model",
            "claude_usage.json",
        ),
        (
            "/v1/organizations/cost_report",
            "description",
            "claude_cost.json",
        ),
    ] {
        Mock::given(method("GET"))
            .and(path(p))
            .and(header("x-api-key", CLAUDE_ADMIN))
            .and(header("anthropic-version", "2023-06-01"))
            .and(query_param("group_by[]", group))
            .respond_with(ok(body))
            .mount(&server)
            .await;
    }
    server
}

async fn ai_config(dir: &tempfile::TempDir, down: &MockServer) -> (PathBuf, Vec<MockServer>) {
    let openai = openai_org().await;
    let claude = claude_org().await;
    let gemini = MockServer::start().await;
    let plain = MockServer::start().await;
    let text = format!(
        r#"
[services.openai-org]
provider = "openai"
api_key = "{OPENAI_KEY}"
admin_key = "{OPENAI_ADMIN}"
base_url = "{openai}"

[services.claude-org]
provider = "claude"
api_key = "{CLAUDE_KEY}"
admin_key = "{CLAUDE_ADMIN}"
base_url = "{claude}"

[services.gemini]
provider = "gemini"
api_key = "{GEMINI_KEY}"
base_url = "{gemini}"

[services.openai-project]
provider = "openai"
api_key = "{OPENAI_KEY}"
base_url = "{plain}"

[services.openai-down]
provider = "openai"
api_key = "{OPENAI_KEY}"
admin_key = "{OPENAI_ADMIN}"
base_url = "{down}"

[services.openai-off]
provider = "openai"
api_key = "{OPENAI_KEY}"
admin_key = "{OPENAI_ADMIN}"
base_url = "{down}"
enabled = false
"#,
        openai = openai.uri(),
        claude = claude.uri(),
        gemini = gemini.uri(),
        plain = plain.uri(),
        down = down.uri(),
    );
    (
        write_config(dir, &text),
        vec![openai, claude, gemini, plain],
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn ai_usage_json_answers_says_why_not_and_fails_only_the_broken_service() {
    let down = MockServer::start().await;
    Mock::given(any())
        .respond_with(
            ResponseTemplate::new(500)
                .set_body_raw(fixture("openai_error_500.json"), "application/json"),
        )
        .mount(&down)
        .await;
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let (cfg, servers) = ai_config(&dir, &down).await;

    let r = run(&cfg, &["ai-usage", "--json"]).await;
    assert_eq!(r.code, 1, "{}\n{}", r.stdout, r.stderr);
    let v = r.json();
    let names: Vec<&str> = v
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|e| e["service"].as_str())
        .collect();
    // Sorted by name; the disabled service is not asked.
    assert_eq!(
        names,
        [
            "claude-org",
            "gemini",
            "openai-down",
            "openai-org",
            "openai-project"
        ]
    );

    let o = entry(&v, "openai-org");
    assert_one_of(o, "result");
    assert_eq!(o["provider"], "openai");
    assert_eq!(o["result"]["models"][0]["model"], "gpt-4o-mini-2024-07-18");
    assert_eq!(o["result"]["models"][0]["input_tokens"], 7000);
    assert_eq!(o["result"]["cost"]["total"][0]["currency"], "USD");
    assert_eq!(o["result"]["cost"]["total"][0]["amount"], "0.7");
    assert!(o["result"]["window"]["start"].is_string());

    let c = entry(&v, "claude-org");
    assert_one_of(c, "result");
    assert_eq!(c["result"]["models"][0]["output_tokens"], 50);
    assert_eq!(c["result"]["cost"]["total"][0]["amount"], "0.002");

    let g = entry(&v, "gemini");
    assert_one_of(g, "unavailable");
    assert!(
        g["unavailable"]
            .as_str()
            .is_some_and(|s| s.contains("no usage or billing endpoint")),
        "{g}"
    );
    let p = entry(&v, "openai-project");
    assert_one_of(p, "unavailable");
    assert!(
        p["unavailable"]
            .as_str()
            .is_some_and(|s| s.contains("admin_key")),
        "{p}"
    );

    let d = entry(&v, "openai-down");
    assert_one_of(d, "error");
    assert_eq!(d["error"]["failure"], "provider_error");
    assert!(
        d["error"]["message"]
            .as_str()
            .is_some_and(|m| !m.is_empty())
    );

    // Unavailable services are never called.
    for s in &servers[2..] {
        assert!(s.received_requests().await.unwrap_or_default().is_empty());
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn ai_usage_asks_only_the_named_services_and_unavailable_is_not_a_failure() {
    let down = MockServer::start().await;
    Mock::given(any())
        .respond_with(ResponseTemplate::new(500))
        .expect(0)
        .mount(&down)
        .await;
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let (cfg, _servers) = ai_config(&dir, &down).await;
    // A named but disabled service is not asked either.
    let names = [
        "openai-org",
        "claude-org",
        "gemini",
        "openai-project",
        "openai-off",
    ];

    let mut args = vec!["ai-usage", "--json"];
    args.extend(names);
    let r = run(&cfg, &args).await;
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    assert_eq!(r.json().as_array().map(Vec::len), Some(4));

    // The table: one row per service, a total per currency, and a tally.
    let mut args = vec!["ai-usage"];
    args.extend(names);
    let r = run(&cfg, &args).await;
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    for want in [
        "AI usage, ",
        "claude-org",
        "openai-org",
        "unavailable: Gemini API keys have no usage",
        "unavailable: Usage and cost need an organization Admin key",
        "0.70 USD",
        "Total cost: 0.702 USD",
        "2 answered, 2 unavailable, 0 failed",
    ] {
        assert!(r.stdout.contains(want), "missing {want:?} in\n{}", r.stdout);
    }
    assert!(!r.stdout.contains("openai-down"), "{}", r.stdout);
    assert!(
        r.stdout.contains("note: disabled, not asked: openai-off"),
        "{}",
        r.stdout
    );
}

fn month_start() -> chrono::DateTime<Utc> {
    let now = Utc::now();
    Utc.with_ymd_and_hms(now.year(), now.month(), 1, 0, 0, 0)
        .single()
        .unwrap_or(now)
}

#[tokio::test(flavor = "multi_thread")]
async fn costs_default_to_month_to_date_and_total_per_currency() {
    let start = month_start().to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
    let vercel = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/v1/billing/charges"))
        .and(header(
            "authorization",
            format!("Bearer {VERCEL_TOKEN}").as_str(),
        ))
        .and(query_param("from", start.as_str()))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_raw(fixture("vercel_billing.jsonl"), "application/jsonl"),
        )
        .expect(2)
        .mount(&vercel)
        .await;
    let datadog = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/api/v2/usage/estimated_cost"))
        .and(header("dd-api-key", DD_API))
        .and(header("dd-application-key", DD_APP))
        .and(query_param("view", "summary"))
        .and(query_param("start_month", start.as_str()))
        .respond_with(ok("datadog_estimated_cost.json"))
        .expect(2)
        .mount(&datadog)
        .await;
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let cfg = write_config(
        &dir,
        &format!(
            r#"
[services.vercel]
provider = "vercel"
token = "{VERCEL_TOKEN}"
base_url = "{vercel}"

[services.datadog]
provider = "datadog"
api_key = "{DD_API}"
app_key = "{DD_APP}"
base_url = "{datadog}"

[services.datadog-no-app-key]
provider = "datadog"
api_key = "{DD_API}"
base_url = "{datadog}"

[services.gh]
provider = "github"
token = "{GH_TOKEN}"
base_url = "{datadog}"
"#,
            vercel = vercel.uri(),
            datadog = datadog.uri(),
        ),
    );

    let r = run(&cfg, &["costs", "--json"]).await;
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    let v = r.json();
    let vc = entry(&v, "vercel");
    assert_one_of(vc, "result");
    assert_eq!(vc["result"]["total"][0]["amount"], "32.8");
    let window_start = vc["result"]["window"]["start"]
        .as_str()
        .and_then(|s| chrono::DateTime::parse_from_rfc3339(s).ok())
        .map(|t| t.with_timezone(&Utc));
    assert_eq!(window_start, Some(month_start()));
    let dd = entry(&v, "datadog");
    assert_one_of(dd, "result");
    assert_eq!(dd["result"]["total"][0]["amount"], "73.17");
    assert_eq!(dd["result"]["estimated"], true);
    let na = entry(&v, "datadog-no-app-key");
    assert_one_of(na, "unavailable");
    assert!(
        na["unavailable"]
            .as_str()
            .is_some_and(|s| s.contains("app_key")),
        "{na}"
    );
    // GitHub has no cost at all: an entry in JSON, one note line in the table.
    assert_one_of(entry(&v, "gh"), "unavailable");

    let r = run(&cfg, &["costs"]).await;
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    for want in [
        "Costs, ",
        "32.80 USD",
        "73.17 USD",
        "estimated",
        "unavailable: Set app_key",
        "Total cost: 105.97 USD",
        "2 answered, 1 unavailable, 0 failed",
        "Not offered by the provider of: gh (github)",
    ] {
        assert!(r.stdout.contains(want), "missing {want:?} in\n{}", r.stdout);
    }
    assert!(!r.stdout.contains("does not offer"), "{}", r.stdout);
}

#[tokio::test(flavor = "multi_thread")]
async fn deployments_default_to_the_last_24_hours() {
    let now = Utc::now().timestamp_millis();
    let hour = 3_600_000;
    let mut page: Value =
        serde_json::from_str(&fixture("vercel_deployments.json")).unwrap_or_else(|e| panic!("{e}"));
    if let Some(list) = page["deployments"].as_array_mut() {
        for (i, d) in list.iter_mut().enumerate() {
            d["created"] = json!(now - (i as i64 + 1) * hour);
            d["createdAt"] = json!(now - (i as i64 + 1) * hour);
        }
    }
    page["pagination"]["next"] = Value::Null;
    let vercel = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/v6/deployments"))
        .and(header(
            "authorization",
            format!("Bearer {VERCEL_TOKEN}").as_str(),
        ))
        .and(move |req: &Request| {
            // `since` is about 24 h before the run.
            req.url
                .query_pairs()
                .find(|(k, _)| k == "since")
                .and_then(|(_, v)| v.parse::<i64>().ok())
                .is_some_and(|s| (now - 24 * hour - s).abs() < 120_000)
        })
        .respond_with(ResponseTemplate::new(200).set_body_json(page))
        .expect(2)
        .mount(&vercel)
        .await;
    let github = MockServer::start().await;
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let cfg = write_config(
        &dir,
        &format!(
            r#"
[services.vercel]
provider = "vercel"
token = "{VERCEL_TOKEN}"
base_url = "{vercel}"

[services.gh-no-repos]
provider = "github"
token = "{GH_TOKEN}"
base_url = "{github}"
"#,
            vercel = vercel.uri(),
            github = github.uri(),
        ),
    );

    let r = run(&cfg, &["deployments", "--json"]).await;
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    let v = r.json();
    let vc = entry(&v, "vercel");
    assert_one_of(vc, "result");
    let list = vc["result"]
        .as_array()
        .unwrap_or_else(|| panic!("no list: {vc}"));
    assert_eq!(list.len(), 3);
    assert_eq!(list[0]["state"], "succeeded");
    assert_eq!(list[0]["vendor_state"], "READY");
    assert_eq!(list[0]["environment"], "production");
    assert_eq!(list[1]["state"], "failed");
    assert_eq!(list[2]["state"], "in_progress");
    assert_one_of(entry(&v, "gh-no-repos"), "unavailable");
    assert!(
        github
            .received_requests()
            .await
            .unwrap_or_default()
            .is_empty()
    );

    let r = run(&cfg, &["deployments"]).await;
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    for want in [
        "Deployments, ",
        "succeeded (READY)",
        "failed (ERROR)",
        "https://web-1111.vercel.app",
        "unavailable: no repositories configured",
        "3 deployment(s): failed 1, in_progress 1, succeeded 1",
        "1 answered, 1 unavailable, 0 failed",
    ] {
        assert!(r.stdout.contains(want), "missing {want:?} in\n{}", r.stdout);
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn cross_commands_reject_bad_windows_unknown_names_and_bad_configs_with_exit_2() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let cfg = write_config(
        &dir,
        &format!("[services.gem]\nprovider = \"gemini\"\napi_key = \"{GEMINI_KEY}\"\n"),
    );
    for cmd in ["ai-usage", "costs", "deployments"] {
        let r = run(&cfg, &[cmd, "--since", "yesterday"]).await;
        assert_eq!(r.code, 2, "{cmd}: {}", r.stderr);
        assert!(r.stderr.contains("not a duration"), "{}", r.stderr);

        let r = run(&cfg, &[cmd, "--json", "nope"]).await;
        assert_eq!(r.code, 2, "{cmd}: {}", r.stderr);
        assert_eq!(r.json()["error"], "invalid_config");
        assert!(
            r.stderr.contains("unknown service \"nope\""),
            "{}",
            r.stderr
        );
    }
    let bad = dir.path().join("bad.toml");
    std::fs::write(&bad, "[services.x]\nprovider = \"openai\"\n").unwrap_or_else(|e| panic!("{e}"));
    let r = run(&bad, &["costs", "--json"]).await;
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert_eq!(r.json()["error"], "invalid_config");

    // `mtd` is a window too; an unavailable-only run exits 0.
    let r = run(&cfg, &["ai-usage", "--since", "mtd", "--json"]).await;
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_one_of(entry(&r.json(), "gem"), "unavailable");

    // Nobody here deploys: the table says so instead of drawing an empty grid.
    let r = run(&cfg, &["deployments"]).await;
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(
        r.stdout.contains("None of the services can answer this.")
            && r.stdout
                .contains("Not offered by the provider of: gem (gemini)"),
        "{}",
        r.stdout
    );
}
