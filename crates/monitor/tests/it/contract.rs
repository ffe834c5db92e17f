//! The `[alerts.*]`, `[silences.*]` and `[budgets.*]` tables of issue 11's contract, pinned.

use std::collections::BTreeSet;

use opsdeck_monitor::alerts::Condition;
use opsdeck_monitor::config::WatchConfig;
use rust_decimal::Decimal;

const CONTRACT: &str = r#"
[channels.ops-hook]
kind = "webhook"
url = "https://hooks.example.com/opsdeck"
secret = "${OPSDECK_HOOK_SECRET}"

[channels.team-slack]
kind = "slack"
webhook_url = "${SLACK_WEBHOOK_URL}"

[alerts.connection-down]
condition = "status"          # status | latency | credential_expiry | rate_limit | metric
services = ["*"]              # globs; or tags = [...], providers = [...]
failure_threshold = 3
success_threshold = 2
remind_every = "4h"           # optional
send_resolved = true
channels = ["ops-hook", "team-slack"]

[budgets.ai-spend]
category = "ai"               # or providers = [...], services = [...] (globs), tags = [...]
monthly_limit = 500
currency = "USD"
thresholds = [50, 80, 100]
forecast_thresholds = [100]
channels = ["team-slack"]
"#;

fn channels() -> BTreeSet<String> {
    ["ops-hook", "team-slack", "oncall-mail"]
        .map(String::from)
        .into()
}

#[test]
fn the_issue_contract_parses() {
    let cfg = WatchConfig::from_toml_str(CONTRACT, &channels()).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(cfg.alerts.len(), 1);
    let rule = &cfg.alerts[0];
    assert_eq!(rule.name, "connection-down");
    assert_eq!(
        rule.condition,
        Condition::Status {
            include_unknown: false
        }
    );
    assert_eq!((rule.failure_threshold, rule.success_threshold), (3, 2));
    assert_eq!(
        rule.remind_every,
        Some(std::time::Duration::from_secs(4 * 3600))
    );
    assert!(rule.send_resolved);
    assert_eq!(rule.channels, ["ops-hook", "team-slack"]);
    let budget = &cfg.budgets[0];
    assert_eq!(budget.monthly_limit, Decimal::from(500));
    assert_eq!(budget.forecast_thresholds, vec![Decimal::from(100)]);
    // The API shape of the same entries (JSON), pinned.
    assert_eq!(
        serde_json::to_value(rule).unwrap(),
        serde_json::json!({"condition": "status", "include_unknown": false, "services": ["*"], "failure_threshold": 3,
            "success_threshold": 2, "remind_every": "4h", "send_resolved": true, "channels": ["ops-hook", "team-slack"]})
    );
    assert_eq!(
        serde_json::to_value(budget).unwrap(),
        serde_json::json!({"category": "ai", "monthly_limit": "500", "currency": "USD", "thresholds": ["50", "80", "100"],
            "forecast_thresholds": ["100"], "channels": ["team-slack"]})
    );
}

#[test]
fn api_json_reads_back_into_the_same_rules() {
    let cfg = WatchConfig::from_toml_str(CONTRACT, &channels()).unwrap();
    let doc = serde_json::json!({
        "alerts": {"connection-down": serde_json::to_value(&cfg.alerts[0]).unwrap()},
        "budgets": {"ai-spend": serde_json::to_value(&cfg.budgets[0]).unwrap()},
    });
    // Decimal thresholds serialise as strings; the reader takes numbers. Convert as the API would.
    let mut doc = doc;
    for field in ["monthly_limit", "thresholds", "forecast_thresholds"] {
        let v = doc["budgets"]["ai-spend"][field].take();
        doc["budgets"]["ai-spend"][field] = match v {
            serde_json::Value::String(s) => serde_json::json!(s.parse::<f64>().unwrap()),
            serde_json::Value::Array(a) => a
                .iter()
                .map(|s| serde_json::json!(s.as_str().unwrap().parse::<f64>().unwrap()))
                .collect(),
            other => other,
        };
    }
    let again = WatchConfig::from_document(&doc, &channels()).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(again.alerts, cfg.alerts);
    assert_eq!(again.budgets, cfg.budgets);
}

#[test]
fn every_problem_of_every_table_at_once() {
    let text = r#"
[alerts.slow]
condition = "latency"
services = ["["]
failure_threshold = 0
channels = ["pager"]

[alerts.cost]
condition = "metric"
providers = ["openai"]
metric = "openai_cost_total"
op = ">="
value = "lots"
channels = []

[silences.maint]
services = ["*"]
until = "2026-12-07T02:00:00Z"

[budgets.cloud]
providers = ["aws"]
monthly_limit = 0
currency = "USD"
channels = ["team-slack"]
"#;
    let err = WatchConfig::from_toml_str(text, &channels()).unwrap_err();
    let lines: Vec<String> = err.problems.iter().map(ToString::to_string).collect();
    assert_eq!(
        lines,
        [
            "[alerts.cost] op: must be \">\" or \"<\", found \">=\"",
            "[alerts.cost] value: must be a number, found \"lots\"",
            "[alerts.slow] above_ms: is required",
            "[alerts.slow] services: invalid glob \"[\": unclosed character class; missing ']'",
            "[alerts.slow] failure_threshold: must be a whole number from 1 to 100, found 0",
            "[alerts.slow] channels: unknown channel \"pager\"; known: oncall-mail, ops-hook, team-slack",
            "[silences.maint] reason: is required: say why the alerts are silenced",
            "[budgets.cloud] monthly_limit: must be greater than zero",
        ]
    );
}
