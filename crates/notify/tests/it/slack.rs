//! The Slack channel against a wiremock stand-in for an incoming webhook: the Block Kit
//! payload (pinned), escaping and limits, and Slack's documented failure answers.

use std::time::Duration;

use opsdeck_core::Status;
use opsdeck_notify::{AlertEvent, Notification, Outcome, ThresholdKind};
use opsdeck_testkit::assert_no_secrets;
use serde_json::{Value, json};
use wiremock::matchers::{header, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::support::{alert, budget, delivery, firing, slack, t};

const HOOK: &str = "/services/T000/B000/sl4cktok3n";

async fn slack_ok() -> MockServer {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(HOOK))
        .and(header("content-type", "application/json"))
        .respond_with(ResponseTemplate::new(200).set_body_string("ok"))
        .mount(&server)
        .await;
    server
}

async fn posted(n: &Notification) -> Value {
    let server = slack_ok().await;
    let channel = slack(&format!("{}{HOOK}", server.uri()));
    let outcome = channel
        .send_once(n, &delivery("d-1"), 1, t("2025-06-03T02:00:05Z"))
        .await;
    assert_eq!(outcome, Outcome::Delivered);
    let reqs = server.received_requests().await.unwrap_or_default();
    assert_eq!(reqs.len(), 1);
    serde_json::from_slice(&reqs[0].body).unwrap_or_default()
}

#[tokio::test]
async fn a_firing_alert_is_pinned() {
    assert_eq!(
        posted(&firing()).await,
        json!({
            "text": "Firing: gh-main (github) is failing: invalid credentials — GitHub rejected the credentials (HTTP 401: Bad credentials). Check that they are correct.",
            "blocks": [
                {"type": "header", "text": {"type": "plain_text", "emoji": true,
                    "text": ":red_circle: Firing: gh-main (github) is failing: invalid credentials"}},
                {"type": "section", "text": {"type": "mrkdwn",
                    "text": "GitHub rejected the credentials (HTTP 401: Bad credentials). Check that they are correct."}},
                {"type": "section", "fields": [
                    {"type": "mrkdwn", "text": "*Service*\ngh-main"},
                    {"type": "mrkdwn", "text": "*Provider*\ngithub"},
                    {"type": "mrkdwn", "text": "*Status*\nfailed"},
                    {"type": "mrkdwn", "text": "*Failure*\ninvalid_credentials"},
                    {"type": "mrkdwn", "text": "*Alert*\nconnection-down"},
                    {"type": "mrkdwn", "text": "*Since*\n2025-06-03 01:58 UTC"},
                ]},
                {"type": "context", "elements": [{"type": "mrkdwn",
                    "text": "opsdeck · alert.firing · 2025-06-03T02:00:00.000Z"}]},
                {"type": "actions", "elements": [{"type": "button",
                    "text": {"type": "plain_text", "text": "Open gh-main in opsdeck"},
                    "url": "https://opsdeck.example.com/#/services/gh-main"}]},
            ]
        })
    );
}

#[tokio::test]
async fn a_resolve_without_public_url_has_no_button() {
    let mut a = alert(AlertEvent::Resolved);
    a.status = Status::Connected;
    a.failure = None;
    a.message = "Connected as octocat.".into();
    a.at = t("2025-06-03T02:10:00Z");
    a.url = None;
    let body = posted(&Notification::Alert(a)).await;
    assert_eq!(
        body["blocks"][0]["text"]["text"],
        ":large_green_circle: Resolved: gh-main (github) is connected again"
    );
    let types: Vec<&str> = body["blocks"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|b| b["type"].as_str())
        .collect();
    assert_eq!(types, ["header", "section", "section", "context"]);
    assert!(body["blocks"][2]["fields"].as_array().is_some_and(|f| {
        f.iter()
            .any(|f| f["text"] == "*Resolved at*\n2025-06-03 02:10 UTC")
    }));
}

#[tokio::test]
async fn a_budget_forecast_says_when_the_limit_is_reached() {
    let body = posted(&budget(ThresholdKind::Forecast)).await;
    assert_eq!(
        body["blocks"][0]["text"]["text"],
        ":warning: Budget ai-spend: forecast to pass 100% of 500.00 USD in 2025-06"
    );
    assert_eq!(
        body["blocks"][1]["text"]["text"],
        "The month-end forecast is 612.04 USD against a limit of 500.00 USD; spent 412.50 USD so far. At the current rate the limit is reached on 2025-06-19."
    );
    let fields: Vec<&str> = body["blocks"][2]["fields"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|f| f["text"].as_str())
        .collect();
    assert_eq!(
        fields,
        [
            "*Budget*\nai-spend",
            "*Threshold*\n100% (forecast)",
            "*Spent*\n412.50 USD",
            "*Forecast*\n612.04 USD",
            "*Limit*\n500.00 USD",
            "*Month*\n2025-06",
            "*Limit reached on*\n2025-06-19",
        ]
    );
}

#[tokio::test]
async fn text_is_escaped_and_cut_to_block_kit_limits() {
    let mut a = alert(AlertEvent::Firing);
    a.service = "x".repeat(200);
    a.message = format!(
        "<!channel> & <https://evil.example|click> {}",
        "y".repeat(5000)
    );
    a.url = Some("javascript:alert(1)".into());
    let body = posted(&Notification::Alert(a)).await;
    let header = body["blocks"][0]["text"]["text"]
        .as_str()
        .unwrap_or_default();
    assert_eq!(header.chars().count(), 150);
    assert!(header.ends_with('…'));
    let section = body["blocks"][1]["text"]["text"]
        .as_str()
        .unwrap_or_default();
    assert_eq!(section.chars().count(), 3000);
    assert!(
        section.starts_with("&lt;!channel&gt; &amp; &lt;https://evil.example|click&gt; "),
        "{section}"
    );
    let text = body["text"].as_str().unwrap_or_default();
    assert!(!text.contains('<') && text.chars().count() <= 3000);
    assert!(
        !body.to_string().contains("javascript:"),
        "a non-web link must not become a button"
    );
}

#[tokio::test]
async fn slacks_failure_answers_give_up_with_advice() {
    for (status, body, expect) in [
        (
            404,
            "no_service",
            "Slack does not know this webhook (HTTP 404: no_service)",
        ),
        (
            410,
            "channel_is_archived",
            "(HTTP 410: channel_is_archived)",
        ),
        (
            403,
            "action_prohibited",
            "Slack refused the webhook (HTTP 403: action_prohibited)",
        ),
        (
            400,
            "invalid_payload",
            "Slack refused the message (HTTP 400: invalid_payload)",
        ),
    ] {
        let server = MockServer::start().await;
        Mock::given(method("POST"))
            .respond_with(ResponseTemplate::new(status).set_body_string(body))
            .mount(&server)
            .await;
        let channel = slack(&format!("{}{HOOK}", server.uri()));
        let outcome = channel
            .send_once(&firing(), &delivery("d"), 1, t("2025-06-03T02:00:00Z"))
            .await;
        let Outcome::GaveUp { reason } = &outcome else {
            panic!("HTTP {status}: expected to give up, got {outcome:?}");
        };
        assert!(
            reason.starts_with("channel \"team-slack\" (slack to 127.0.0.1:"),
            "{reason}"
        );
        assert!(reason.contains(expect), "{reason}");
        if status != 400 {
            assert!(reason.contains("update webhook_url"), "{reason}");
        }
        assert_no_secrets("the reason", reason, &["sl4cktok3n", "/services/T000"]);
    }
}

#[tokio::test]
async fn slacks_rate_limit_is_honoured() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(
            ResponseTemplate::new(429)
                .insert_header("Retry-After", "30")
                .set_body_string("rate_limited"),
        )
        .mount(&server)
        .await;
    let channel = slack(&format!("{}{HOOK}", server.uri()));
    let outcome = channel
        .send_once(&firing(), &delivery("d"), 1, t("2025-06-03T02:00:00Z"))
        .await;
    let Outcome::Retry { after, reason } = outcome else {
        panic!("expected a retry");
    };
    assert_eq!(after, Duration::from_secs(30));
    assert!(
        reason.contains("Slack is rate limiting (HTTP 429: rate_limited)"),
        "{reason}"
    );
}

#[tokio::test]
async fn send_test_posts_a_test_message() {
    let server = slack_ok().await;
    let channel = slack(&format!("{}{HOOK}", server.uri()));
    let result = channel.send_test(t("2025-06-03T02:00:00Z")).await;
    assert!(result.ok, "{result:?}");
    assert!(
        result
            .message
            .starts_with("Sent a test notification to 127.0.0.1:"),
        "{}",
        result.message
    );
    let reqs = server.received_requests().await.unwrap_or_default();
    let body: Value = serde_json::from_slice(&reqs[0].body).unwrap_or_default();
    assert_eq!(
        body["blocks"][0]["text"]["text"],
        ":information_source: Test notification for channel team-slack"
    );
    assert_eq!(
        body["blocks"][1]["text"]["text"],
        "Test notification from opsdeck for channel \"team-slack\". If you can read this, the channel works."
    );
}
