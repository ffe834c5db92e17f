//! Fixtures shared by the tests: fixed notifications, times and channel builders.

use chrono::{DateTime, NaiveDate, Utc};
use opsdeck_core::{FailureKind, Status};
use opsdeck_notify::{
    AlertEvent, AlertNotice, BudgetNotice, Channel, ChannelOptions, DeliveryId, DeliveryPolicy,
    Notification, ThresholdKind,
};
use rust_decimal::Decimal;
use serde_json::json;

pub const SECRET: &str = "whsec-0123456789abcdef";

pub fn t(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s)
        .map(|t| t.with_timezone(&Utc))
        .unwrap_or_else(|e| panic!("bad time {s}: {e}"))
}

pub fn dec(s: &str) -> Decimal {
    s.parse().unwrap_or_else(|e| panic!("bad decimal {s}: {e}"))
}

pub fn delivery(id: &str) -> DeliveryId {
    DeliveryId::new(id).unwrap_or_else(|e| panic!("{e}"))
}

pub fn alert(event: AlertEvent) -> AlertNotice {
    AlertNotice {
        event,
        alert: "connection-down".into(),
        service: "gh-main".into(),
        provider: "github".into(),
        status: Status::Failed,
        failure: Some(FailureKind::InvalidCredentials),
        message: "GitHub rejected the credentials (HTTP 401: Bad credentials). Check that they are correct.".into(),
        started_at: t("2025-06-03T01:58:00Z"),
        at: t("2025-06-03T02:00:00Z"),
        url: Some("https://opsdeck.example.com/#/services/gh-main".into()),
        incident: None,
        vendor_status: None,
    }
}

pub fn firing() -> Notification {
    Notification::Alert(alert(AlertEvent::Firing))
}

pub fn budget(kind: ThresholdKind) -> Notification {
    Notification::Budget(BudgetNotice {
        budget: "ai-spend".into(),
        threshold: if kind == ThresholdKind::Actual {
            80
        } else {
            100
        },
        kind,
        spent: dec("412.50"),
        forecast: Some(dec("612.0375")),
        limit: dec("500"),
        currency: "USD".into(),
        month: NaiveDate::from_ymd_opt(2025, 6, 1).unwrap_or_default(),
        reach_date: NaiveDate::from_ymd_opt(2025, 6, 19),
        at: t("2025-06-12T09:30:00Z"),
    })
}

pub fn policy() -> DeliveryPolicy {
    DeliveryPolicy::default()
}

pub fn options(policy: DeliveryPolicy) -> ChannelOptions {
    ChannelOptions {
        policy,
        extra_root_certificates: Vec::new(),
    }
}

pub fn webhook(url: &str, policy: DeliveryPolicy) -> Channel {
    Channel::from_json(
        "ops-hook",
        &json!({"kind": "webhook", "url": url, "secret": SECRET}),
        &options(policy),
    )
    .unwrap_or_else(|e| panic!("{e}"))
}

pub fn slack(url: &str) -> Channel {
    Channel::from_json(
        "team-slack",
        &json!({"kind": "slack", "webhook_url": url}),
        &options(policy()),
    )
    .unwrap_or_else(|e| panic!("{e}"))
}
