//! The webhook channel against a wiremock receiver: exact request (headers, pinned body,
//! signature verified with the documented recipes), retries on 500 and on 429 with
//! `Retry-After` with a stable delivery id, giving up cleanly, permanent failures, transport
//! failures, and no secret in reasons or logs.

use std::process::Command;
use std::time::Duration;

use opsdeck_core::ManualClock;
use opsdeck_notify::{DeliveryPolicy, Outcome};
use opsdeck_testkit::{LogCapture, assert_no_secrets, dead_url};
use serde_json::json;
use wiremock::matchers::{header, method, path, query_param};
use wiremock::{Mock, MockServer, Request, ResponseTemplate};

use crate::recipe::verify_opsdeck_webhook;
use crate::support::{SECRET, delivery, firing, options, policy, t, webhook};

const PATH: &str = "/hooks/opsdeck/tok3n-in-path";

async fn receiver(status: u16) -> MockServer {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(PATH))
        .respond_with(ResponseTemplate::new(status))
        .mount(&server)
        .await;
    server
}

async fn requests(server: &MockServer) -> Vec<Request> {
    server.received_requests().await.unwrap_or_default()
}

fn h<'a>(r: &'a Request, name: &str) -> &'a str {
    r.headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
}

#[tokio::test]
async fn the_request_is_exact_and_its_signature_verifies() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(PATH))
        .and(query_param("team", "ops"))
        .and(header("content-type", "application/json"))
        .and(header("x-opsdeck-event", "alert.firing"))
        .and(header("x-opsdeck-delivery", "dlv-1"))
        .and(header("idempotency-key", "dlv-1"))
        .and(header("x-opsdeck-timestamp", "1748916005"))
        .respond_with(ResponseTemplate::new(204))
        .expect(1)
        .mount(&server)
        .await;
    let channel = webhook(&format!("{}{PATH}?team=ops", server.uri()), policy());
    let now = t("2025-06-03T02:00:05Z");
    let outcome = channel
        .send_once(&firing(), &delivery("dlv-1"), 1, now)
        .await;
    assert_eq!(outcome, Outcome::Delivered);

    let reqs = requests(&server).await;
    assert_eq!(reqs.len(), 1);
    let r = &reqs[0];
    assert!(
        h(r, "user-agent").starts_with("opsdeck/"),
        "{}",
        h(r, "user-agent")
    );
    assert_eq!(
        String::from_utf8_lossy(&r.body),
        r#"{"event":"alert.firing","delivery":"dlv-1","alert":"connection-down","service":"gh-main","provider":"github","status":"failed","failure":"invalid_credentials","message":"GitHub rejected the credentials (HTTP 401: Bad credentials). Check that they are correct.","started_at":"2025-06-03T01:58:00.000Z","at":"2025-06-03T02:00:00.000Z","url":"https://opsdeck.example.com/#/services/gh-main"}"#
    );
    let sig = h(r, "x-opsdeck-signature");
    assert!(sig.starts_with("sha256=") && sig.len() == 71, "{sig}");
    assert!(verify_opsdeck_webhook(
        SECRET.as_bytes(),
        h(r, "x-opsdeck-timestamp"),
        sig,
        &r.body,
        now.timestamp() + 10,
    ));
    // The recipe refuses a tampered body, a wrong secret and a replay an hour later.
    let mut tampered = r.body.clone();
    tampered[10] ^= 1;
    assert!(!verify_opsdeck_webhook(
        SECRET.as_bytes(),
        h(r, "x-opsdeck-timestamp"),
        sig,
        &tampered,
        now.timestamp()
    ));
    assert!(!verify_opsdeck_webhook(
        b"another-secret-0123",
        h(r, "x-opsdeck-timestamp"),
        sig,
        &r.body,
        now.timestamp()
    ));
    assert!(!verify_opsdeck_webhook(
        SECRET.as_bytes(),
        h(r, "x-opsdeck-timestamp"),
        sig,
        &r.body,
        now.timestamp() + 3600
    ));
    python_recipe_verifies(r, now.timestamp());
}

/// Runs the Python recipe from docs/alerts.md against a captured request, when python3 exists.
fn python_recipe_verifies(r: &Request, now: i64) {
    let docs = include_str!("../../../../docs/alerts.md");
    let Some(code) = fenced_after(docs, "<!-- recipe:python -->", "```python") else {
        panic!("docs/alerts.md has no Python recipe");
    };
    let Ok(dir) = tempfile::tempdir() else {
        panic!("no temp dir");
    };
    let _ = std::fs::write(dir.path().join("recipe.py"), code);
    let _ = std::fs::write(dir.path().join("body.bin"), &r.body);
    let headers = json!({
        "X-Opsdeck-Timestamp": h(r, "x-opsdeck-timestamp"),
        "X-Opsdeck-Signature": h(r, "x-opsdeck-signature"),
    });
    let _ = std::fs::write(dir.path().join("headers.json"), headers.to_string());
    let driver = format!(
        r#"
import json, sys
sys.path.insert(0, {dir:?})
from recipe import verify_opsdeck_webhook
headers = json.load(open({dir:?} + "/headers.json"))
body = open({dir:?} + "/body.bin", "rb").read()
secret = {secret:?}.encode()
assert verify_opsdeck_webhook(secret, headers, body, now={now}), "valid request refused"
assert not verify_opsdeck_webhook(secret, headers, body + b" ", now={now}), "tampered body accepted"
assert not verify_opsdeck_webhook(b"wrong-secret-123456", headers, body, now={now}), "wrong secret accepted"
assert not verify_opsdeck_webhook(secret, headers, body, now={now} + 3600), "replay accepted"
print("ok")
"#,
        dir = dir.path().display().to_string(),
        secret = SECRET,
    );
    match Command::new("python3").arg("-c").arg(driver).output() {
        Ok(out) => assert!(
            out.status.success() && String::from_utf8_lossy(&out.stdout).trim() == "ok",
            "python recipe failed: {}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            eprintln!("python3 not found: skipping the Python recipe check");
        }
        Err(e) => panic!("could not run python3: {e}"),
    }
}

fn fenced_after<'a>(doc: &'a str, marker: &str, fence: &str) -> Option<&'a str> {
    let rest = &doc[doc.find(marker)? + marker.len()..];
    let rest = &rest[rest.find(fence)? + fence.len()..];
    let rest = rest.strip_prefix('\n')?;
    Some(&rest[..rest.find("```")?])
}

#[test]
fn the_documented_rust_recipe_is_the_tested_one() {
    let docs = include_str!("../../../../docs/alerts.md");
    let documented = fenced_after(docs, "<!-- recipe:rust -->", "```rust").unwrap_or_default();
    assert_eq!(documented, crate::recipe::source());
}

#[tokio::test]
async fn custom_headers_are_sent() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(header("authorization", "Bearer gw-token-123"))
        .respond_with(ResponseTemplate::new(200))
        .expect(1)
        .mount(&server)
        .await;
    let channel = opsdeck_notify::Channel::from_json(
        "gw",
        &json!({"kind": "webhook", "url": format!("{}/in/", server.uri()), "secret": SECRET,
                "headers": {"Authorization": "Bearer gw-token-123"}}),
        &options(policy()),
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let outcome = channel
        .send_once(&firing(), &delivery("d"), 1, t("2025-06-03T02:00:00Z"))
        .await;
    assert_eq!(outcome, Outcome::Delivered);
    // The trailing slash of the configured URL is kept.
    assert_eq!(requests(&server).await[0].url.path(), "/in/");
}

#[tokio::test]
async fn a_500_is_retried_with_backoff_and_the_same_delivery_id_and_body() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(500).set_body_string("database is down"))
        .up_to_n_times(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(200))
        .mount(&server)
        .await;
    let channel = webhook(&format!("{}{PATH}", server.uri()), policy());
    let clock = ManualClock::new(t("2025-06-03T02:00:00Z"));
    let id = delivery("dlv-retry");
    let n = firing();

    use opsdeck_core::Clock as _;
    let first = channel.send_once(&n, &id, 1, clock.now()).await;
    let Outcome::Retry { after, reason } = &first else {
        panic!("expected a retry, got {first:?}");
    };
    assert!(
        *after >= Duration::from_secs(15) && *after <= Duration::from_secs(30),
        "{after:?}"
    );
    assert!(reason.contains("channel \"ops-hook\""), "{reason}");
    assert!(reason.contains("HTTP 500: database is down"), "{reason}");
    clock.advance(*after);
    let second = channel.send_once(&n, &id, 2, clock.now()).await;
    assert_eq!(second, Outcome::Delivered);

    let reqs = requests(&server).await;
    assert_eq!(reqs.len(), 2);
    assert_eq!(h(&reqs[0], "x-opsdeck-delivery"), "dlv-retry");
    assert_eq!(h(&reqs[1], "x-opsdeck-delivery"), "dlv-retry");
    assert_eq!(reqs[0].body, reqs[1].body, "a retry sends the same body");
    assert_ne!(
        h(&reqs[0], "x-opsdeck-timestamp"),
        h(&reqs[1], "x-opsdeck-timestamp")
    );
    for r in &reqs {
        let ts: i64 = h(r, "x-opsdeck-timestamp").parse().unwrap_or_default();
        assert!(verify_opsdeck_webhook(
            SECRET.as_bytes(),
            h(r, "x-opsdeck-timestamp"),
            h(r, "x-opsdeck-signature"),
            &r.body,
            ts
        ));
    }
}

#[tokio::test]
async fn a_429_retry_after_is_honoured() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(429).insert_header("Retry-After", "120"))
        .mount(&server)
        .await;
    let channel = webhook(&format!("{}{PATH}", server.uri()), policy());
    let outcome = channel
        .send_once(&firing(), &delivery("d"), 1, t("2025-06-03T02:00:00Z"))
        .await;
    let Outcome::Retry { after, reason } = outcome else {
        panic!("expected a retry");
    };
    assert_eq!(after, Duration::from_secs(120));
    assert!(
        reason.contains("rate limiting (HTTP 429)")
            && reason.to_lowercase().contains("retry after 120s"),
        "{reason}"
    );
}

#[tokio::test]
async fn gives_up_cleanly_after_the_last_attempt() {
    let server = receiver(503).await;
    let policy = DeliveryPolicy {
        max_attempts: 3,
        ..DeliveryPolicy::default()
    };
    let channel = webhook(&format!("{}{PATH}", server.uri()), policy);
    let id = delivery("dlv-limit");
    let mut outcomes = Vec::new();
    for attempt in 1..=3 {
        outcomes.push(
            channel
                .send_once(&firing(), &id, attempt, t("2025-06-03T02:00:00Z"))
                .await,
        );
    }
    assert!(matches!(outcomes[0], Outcome::Retry { .. }));
    assert!(matches!(outcomes[1], Outcome::Retry { .. }));
    let Outcome::GaveUp { reason } = &outcomes[2] else {
        panic!("expected to give up: {outcomes:?}");
    };
    assert!(
        reason.starts_with("Gave up after 3 attempts; the last one failed: channel \"ops-hook\""),
        "{reason}"
    );
    assert!(reason.contains("HTTP 503"), "{reason}");
    let reqs = requests(&server).await;
    assert_eq!(reqs.len(), 3);
    assert!(
        reqs.iter()
            .all(|r| h(r, "x-opsdeck-delivery") == "dlv-limit")
    );
}

#[tokio::test]
async fn deliver_loops_with_the_waits_the_policy_chose() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(429).insert_header("Retry-After", "7"))
        .up_to_n_times(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(502))
        .up_to_n_times(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(200))
        .mount(&server)
        .await;
    let channel = webhook(&format!("{}{PATH}", server.uri()), policy());
    let clock = ManualClock::new(t("2025-06-03T02:00:00Z"));
    let mut waits = Vec::new();
    let result = channel
        .deliver_with_sleep(&firing(), &delivery("d-loop"), clock.as_ref(), |d| {
            waits.push(d);
            clock.advance(d);
            std::future::ready(())
        })
        .await;
    assert_eq!(result.attempts, 3);
    assert_eq!(result.outcome, Outcome::Delivered);
    assert_eq!(waits[0], Duration::from_secs(7));
    assert!(
        waits[1] >= Duration::from_secs(30) && waits[1] <= Duration::from_secs(60),
        "{waits:?}"
    );
    // Timestamps follow the injected clock.
    let reqs = requests(&server).await;
    let ts: Vec<&str> = reqs.iter().map(|r| h(r, "x-opsdeck-timestamp")).collect();
    assert_eq!(ts[0], "1748916000");
    assert_eq!(ts[1], "1748916007");
}

#[tokio::test(start_paused = true)]
async fn deliver_sleeps_on_tokio_time() {
    // With tokio's clock paused the 30 s backoff passes instantly; the receiver is dead, so no
    // response races the paused timers.
    let url = dead_url().unwrap_or_else(|e| panic!("{e}"));
    let policy = DeliveryPolicy {
        max_attempts: 2,
        ..DeliveryPolicy::default()
    };
    let channel = webhook(&format!("{url}/hook"), policy);
    let clock = ManualClock::new(t("2025-06-03T02:00:00Z"));
    let started = tokio::time::Instant::now();
    let result = channel
        .deliver(&firing(), &delivery("d"), clock.as_ref())
        .await;
    assert_eq!(result.attempts, 2);
    assert!(
        matches!(result.outcome, Outcome::GaveUp { .. }),
        "{result:?}"
    );
    assert!(
        started.elapsed() >= Duration::from_secs(15),
        "{:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn client_errors_give_up_at_once_with_the_reason() {
    for (status, expect) in [
        (400, "refused the payload (HTTP 400: bad things)"),
        (
            401,
            "refused the request (HTTP 401: bad things). Check the signing secret",
        ),
        (403, "refused the request (HTTP 403: bad things)"),
        (
            404,
            "nothing receives at this URL (HTTP 404: bad things). Check the channel's url.",
        ),
        (410, "nothing receives at this URL (HTTP 410: bad things)"),
        (
            302,
            "answered with a redirect (HTTP 302: bad things). opsdeck does not follow redirects",
        ),
    ] {
        let server = MockServer::start().await;
        Mock::given(method("POST"))
            .respond_with(
                ResponseTemplate::new(status)
                    .set_body_string("bad things")
                    .insert_header("Location", "https://elsewhere.example/steal"),
            )
            .mount(&server)
            .await;
        let channel = webhook(&format!("{}{PATH}?token=q-tok3n", server.uri()), policy());
        let outcome = channel
            .send_once(&firing(), &delivery("d"), 1, t("2025-06-03T02:00:00Z"))
            .await;
        let Outcome::GaveUp { reason } = &outcome else {
            panic!("HTTP {status}: expected to give up, got {outcome:?}");
        };
        assert!(
            reason.starts_with("channel \"ops-hook\" (webhook to 127.0.0.1:"),
            "{reason}"
        );
        assert!(reason.contains(expect), "HTTP {status}: {reason}");
        assert_no_secrets("the reason", reason, &["tok3n-in-path", "q-tok3n", SECRET]);
        assert_eq!(
            requests(&server).await.len(),
            1,
            "HTTP {status}: not followed or retried"
        );
    }
}

#[tokio::test]
async fn a_refused_connection_is_retried_and_names_the_channel() {
    let url = dead_url().unwrap_or_else(|e| panic!("{e}"));
    let channel = webhook(&format!("{url}{PATH}"), policy());
    let outcome = channel
        .send_once(&firing(), &delivery("d"), 1, t("2025-06-03T02:00:00Z"))
        .await;
    let Outcome::Retry { reason, .. } = &outcome else {
        panic!("expected a retry, got {outcome:?}");
    };
    assert!(reason.starts_with("channel \"ops-hook\""), "{reason}");
    assert!(
        reason.contains("Could not connect to the webhook receiver at 127.0.0.1:"),
        "{reason}"
    );
    assert!(reason.contains("Check the channel's url"), "{reason}");
    assert!(!reason.contains("base_url"), "{reason}");
    assert_no_secrets("the reason", reason, &["tok3n-in-path"]);
}

#[tokio::test(start_paused = true)]
async fn a_receiver_that_does_not_answer_in_time_is_retried() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(200).set_delay(Duration::from_secs(3600)))
        .mount(&server)
        .await;
    let channel = webhook(&format!("{}{PATH}", server.uri()), policy());
    let outcome = channel
        .send_once(&firing(), &delivery("d"), 1, t("2025-06-03T02:00:00Z"))
        .await;
    let Outcome::Retry { reason, .. } = &outcome else {
        panic!("expected a retry, got {outcome:?}");
    };
    assert!(reason.contains("did not answer within"), "{reason}");
}

#[tokio::test]
async fn send_test_posts_a_test_event_and_reports() {
    let server = receiver(200).await;
    let channel = webhook(&format!("{}{PATH}", server.uri()), policy());
    let result = channel.send_test(t("2025-06-03T02:00:00Z")).await;
    assert!(result.ok, "{result:?}");
    assert!(
        result
            .message
            .starts_with("Sent a test notification to 127.0.0.1:"),
        "{}",
        result.message
    );
    let reqs = requests(&server).await;
    assert_eq!(h(&reqs[0], "x-opsdeck-event"), "test");
    assert_eq!(h(&reqs[0], "x-opsdeck-delivery"), result.delivery);
    let body: serde_json::Value = serde_json::from_slice(&reqs[0].body).unwrap_or_default();
    assert_eq!(
        body,
        json!({"event": "test", "delivery": result.delivery, "channel": "ops-hook",
               "message": "Test notification from opsdeck for channel \"ops-hook\". If you can read this, the channel works.",
               "at": "2025-06-03T02:00:00.000Z"})
    );

    let failing = receiver(404).await;
    let channel = webhook(&format!("{}{PATH}", failing.uri()), policy());
    let result = channel.send_test(t("2025-06-03T02:00:00Z")).await;
    assert!(!result.ok);
    assert!(result.message.contains("HTTP 404"), "{}", result.message);
    assert_eq!(requests(&failing).await.len(), 1, "a test is not retried");
}

#[tokio::test]
async fn no_secret_reaches_the_logs() {
    let logs = LogCapture::install();
    let ok = receiver(200).await;
    let bad = receiver(401).await;
    for server in [&ok, &bad] {
        let channel = opsdeck_notify::Channel::from_json(
            "ops-hook",
            &json!({"kind": "webhook", "url": format!("{}{PATH}?key=q-tok3n", server.uri()),
                    "secret": SECRET, "headers": {"Authorization": "Bearer hdr-tok3n-value"}}),
            &options(policy()),
        )
        .unwrap_or_else(|e| panic!("{e}"));
        let _ = channel
            .send_once(&firing(), &delivery("d"), 1, t("2025-06-03T02:00:00Z"))
            .await;
    }
    let text = logs.contents();
    assert!(text.contains("notification delivered"), "{text}");
    assert!(text.contains("gave up"), "{text}");
    assert_no_secrets(
        "the logs",
        &text,
        &[SECRET, "tok3n-in-path", "q-tok3n", "hdr-tok3n-value"],
    );
}
