//! The payload contract, pinned byte for byte: webhook bodies for every event, the stored
//! (outbox) form of a notification, and the email rendering.

use opsdeck_core::{FailureKind, Status};
use opsdeck_notify::{
    AlertEvent, IncidentRef, Notification, TestNotice, ThresholdKind, VendorIncident, VendorStatus,
};
use serde_json::{Value, json};

use crate::support::{alert, budget, delivery, firing, t};

fn body(n: &Notification) -> String {
    String::from_utf8(n.webhook_body(&delivery("d-1"))).unwrap_or_default()
}

#[test]
fn alert_body_is_pinned_byte_for_byte() {
    assert_eq!(
        body(&firing()),
        r#"{"event":"alert.firing","delivery":"d-1","alert":"connection-down","service":"gh-main","provider":"github","status":"failed","failure":"invalid_credentials","message":"GitHub rejected the credentials (HTTP 401: Bad credentials). Check that they are correct.","started_at":"2025-06-03T01:58:00.000Z","at":"2025-06-03T02:00:00.000Z","url":"https://opsdeck.example.com/#/services/gh-main"}"#
    );
    let mut resolved = alert(AlertEvent::Resolved);
    resolved.status = Status::Connected;
    resolved.failure = None;
    resolved.message = "Connected as octocat.".into();
    resolved.at = t("2025-06-03T02:10:00Z");
    resolved.url = None;
    assert_eq!(
        body(&Notification::Alert(resolved)),
        r#"{"event":"alert.resolved","delivery":"d-1","alert":"connection-down","service":"gh-main","provider":"github","status":"connected","failure":null,"message":"Connected as octocat.","started_at":"2025-06-03T01:58:00.000Z","at":"2025-06-03T02:10:00.000Z","url":null}"#
    );
    let mut reminder = alert(AlertEvent::Reminder);
    reminder.status = Status::Unknown;
    reminder.failure = Some(FailureKind::RateLimited);
    let v: Value = serde_json::from_str(&body(&Notification::Alert(reminder))).unwrap_or_default();
    assert_eq!(v["event"], "alert.reminder");
    assert_eq!(v["status"], "unknown");
    assert_eq!(v["failure"], "rate_limited");
}

#[test]
fn incident_and_vendor_status_are_additive() {
    let mut a = alert(AlertEvent::Firing);
    a.incident = Some(IncidentRef {
        id: 42,
        title: "GitHub reports 'Degraded performance: API Requests' — 3 services failing".into(),
    });
    a.vendor_status = Some(VendorStatus {
        indicator: "minor".into(),
        description: "Partially Degraded Service".into(),
        page_url: Some("https://www.githubstatus.com".into()),
        incidents: vec![VendorIncident {
            name: "Degraded performance: API Requests".into(),
            status: "investigating".into(),
            url: Some("https://stspg.io/abc".into()),
        }],
    });
    let with: Value =
        serde_json::from_slice(&Notification::Alert(a).webhook_body(&delivery("d-1")))
            .unwrap_or_default();
    let without: Value = serde_json::from_str(&body(&firing())).unwrap_or_default();
    // Every base field is unchanged; the two objects are added.
    for (k, v) in without.as_object().into_iter().flatten() {
        assert_eq!(&with[k], v, "{k}");
    }
    assert_eq!(
        with["incident"],
        json!({"id": 42, "title": "GitHub reports 'Degraded performance: API Requests' — 3 services failing"})
    );
    assert_eq!(
        with["vendor_status"],
        json!({"indicator": "minor", "description": "Partially Degraded Service",
               "page_url": "https://www.githubstatus.com",
               "incidents": [{"name": "Degraded performance: API Requests", "status": "investigating",
                              "url": "https://stspg.io/abc"}]})
    );
    assert_eq!(with.as_object().map(|o| o.len()), Some(13));
}

#[test]
fn budget_bodies_are_pinned_with_exact_decimal_strings() {
    assert_eq!(
        body(&budget(ThresholdKind::Actual)),
        r#"{"event":"budget.threshold","delivery":"d-1","budget":"ai-spend","threshold":80,"kind":"actual","spent":"412.50","forecast":"612.0375","limit":"500","currency":"USD","month":"2025-06","reach_date":"2025-06-19","at":"2025-06-12T09:30:00.000Z"}"#
    );
    let Notification::Budget(mut b) = budget(ThresholdKind::Forecast) else {
        panic!("fixture");
    };
    b.forecast = None;
    b.reach_date = None;
    assert_eq!(
        body(&Notification::Budget(b)),
        r#"{"event":"budget.threshold","delivery":"d-1","budget":"ai-spend","threshold":100,"kind":"forecast","spent":"412.50","forecast":null,"limit":"500","currency":"USD","month":"2025-06","reach_date":null,"at":"2025-06-12T09:30:00.000Z"}"#
    );
}

#[test]
fn test_body_is_pinned() {
    let n = Notification::Test(TestNotice {
        channel: "ops-hook".into(),
        at: t("2025-06-03T02:00:00Z"),
    });
    assert_eq!(
        body(&n),
        r#"{"event":"test","delivery":"d-1","channel":"ops-hook","message":"Test notification from opsdeck for channel \"ops-hook\". If you can read this, the channel works.","at":"2025-06-03T02:00:00.000Z"}"#
    );
}

#[test]
fn the_body_is_the_same_for_every_attempt() {
    let n = firing();
    assert_eq!(
        n.webhook_body(&delivery("d-1")),
        n.webhook_body(&delivery("d-1"))
    );
    assert_ne!(
        n.webhook_body(&delivery("d-1")),
        n.webhook_body(&delivery("d-2"))
    );
}

#[test]
fn the_stored_form_round_trips_and_is_pinned() {
    for n in [firing(), budget(ThresholdKind::Forecast)] {
        let stored = serde_json::to_string(&n).unwrap_or_default();
        let back: Notification = serde_json::from_str(&stored).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(back, n);
    }
    let stored = serde_json::to_value(budget(ThresholdKind::Actual)).unwrap_or_default();
    assert_eq!(
        stored,
        json!({"type": "budget", "budget": "ai-spend", "threshold": 80, "kind": "actual",
               "spent": "412.50", "forecast": "612.0375", "limit": "500", "currency": "USD",
               "month": "2025-06", "reach_date": "2025-06-19", "at": "2025-06-12T09:30:00Z"})
    );
    // Rows written before incidents existed still load.
    let old = json!({"type": "alert", "event": "firing", "alert": "a", "service": "s",
                     "provider": "github", "status": "failed", "failure": "timeout",
                     "message": "m", "started_at": "2025-06-03T01:58:00Z",
                     "at": "2025-06-03T02:00:00Z", "url": null});
    let n: Notification = serde_json::from_value(old).unwrap_or_else(|e| panic!("{e}"));
    assert!(matches!(n, Notification::Alert(ref a) if a.incident.is_none()));
}

#[test]
fn email_subjects_say_what_happened() {
    let subject = |n: &Notification| n.email_parts(&delivery("d-1")).subject;
    assert_eq!(
        subject(&firing()),
        "[opsdeck] Firing: gh-main (github) is failing: invalid credentials"
    );
    let mut resolved = alert(AlertEvent::Resolved);
    resolved.status = Status::Connected;
    resolved.failure = None;
    assert_eq!(
        subject(&Notification::Alert(resolved)),
        "[opsdeck] Resolved: gh-main (github) is connected again"
    );
    assert_eq!(
        subject(&Notification::Alert(alert(AlertEvent::Reminder))),
        "[opsdeck] Still firing: gh-main (github) is failing: invalid credentials since 2025-06-03 01:58 UTC"
    );
    let mut latency = alert(AlertEvent::Firing);
    latency.alert = "slow-api".into();
    latency.status = Status::Connected;
    latency.failure = None;
    assert_eq!(
        subject(&Notification::Alert(latency)),
        "[opsdeck] Firing: gh-main (github) triggered slow-api"
    );
    assert_eq!(
        subject(&budget(ThresholdKind::Actual)),
        "[opsdeck] Budget ai-spend: 80% of 500.00 USD reached in 2025-06"
    );
    assert_eq!(
        subject(&budget(ThresholdKind::Forecast)),
        "[opsdeck] Budget ai-spend: forecast to pass 100% of 500.00 USD in 2025-06"
    );
    // A newline in a name cannot inject a header.
    let mut evil = alert(AlertEvent::Firing);
    evil.service = "x\r\nBcc: victim@example.com".into();
    let s = subject(&Notification::Alert(evil));
    assert!(!s.contains('\n') && !s.contains('\r'), "{s:?}");
}

#[test]
fn email_html_escapes_every_value() {
    let mut a = alert(AlertEvent::Firing);
    a.message = "<script>alert(1)</script> & \"quotes\"".into();
    a.url = Some("javascript:alert(1)".into());
    let parts = Notification::Alert(a).email_parts(&delivery("d-1"));
    assert!(
        parts
            .html
            .contains("&lt;script&gt;alert(1)&lt;/script&gt; &amp; &quot;quotes&quot;")
    );
    assert!(!parts.html.contains("<script>"));
    assert!(
        !parts.html.contains("javascript:"),
        "non-web links are dropped"
    );
    assert!(
        parts
            .text
            .contains("<script>alert(1)</script> & \"quotes\""),
        "text stays as written"
    );
    let budget = budget(ThresholdKind::Forecast).email_parts(&delivery("d-1"));
    assert!(budget.text.contains(
        "The month-end forecast is 612.04 USD against a limit of 500.00 USD; spent 412.50 USD so far. At the current rate the limit is reached on 2025-06-19."
    ), "{}", budget.text);
    assert!(budget.text.contains("delivery d-1"));
}
