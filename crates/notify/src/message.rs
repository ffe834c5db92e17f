//! What a channel delivers: [`Notification`]s (alert, budget and test events), the delivery id
//! that makes each delivery idempotent, and the webhook body — the user-facing JSON contract
//! of issue 11 (plus the optional `incident` and `vendor_status` objects of issue 12).
//!
//! A notification is plain data the server stores in its outbox (it round-trips through
//! serde). Its webhook body is a pure function of the notification and the delivery id, so a
//! retry sends the same bytes; only the signed timestamp header changes per attempt.
//!
//! Wire formats chosen here (docs/alerts.md, pinned by tests): times are RFC 3339 UTC with
//! milliseconds (`2025-06-03T02:00:00.000Z`); money is an exact decimal *string* (`"412.50"`)
//! so no receiver rounds it through a float; months are `YYYY-MM`; dates `YYYY-MM-DD`.

use std::fmt;

use chrono::{DateTime, NaiveDate, SecondsFormat, Utc};
use opsdeck_core::{FailureKind, Status};
use rust_decimal::Decimal;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// The event names of the `X-Opsdeck-Event` header and the body's `event` field.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Event {
    /// An alert started firing.
    AlertFiring,
    /// A firing alert resolved.
    AlertResolved,
    /// An alert is still firing (`remind_every`).
    AlertReminder,
    /// A budget crossed a threshold of actual or forecast spend.
    BudgetThreshold,
    /// "Send a test notification".
    Test,
}

impl Event {
    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            Event::AlertFiring => "alert.firing",
            Event::AlertResolved => "alert.resolved",
            Event::AlertReminder => "alert.reminder",
            Event::BudgetThreshold => "budget.threshold",
            Event::Test => "test",
        }
    }
}

impl fmt::Display for Event {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Which alert transition a notice reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AlertEvent {
    /// `alert.firing`.
    Firing,
    /// `alert.resolved`.
    Resolved,
    /// `alert.reminder`.
    Reminder,
}

impl AlertEvent {
    /// The event.
    pub fn event(self) -> Event {
        match self {
            AlertEvent::Firing => Event::AlertFiring,
            AlertEvent::Resolved => Event::AlertResolved,
            AlertEvent::Reminder => Event::AlertReminder,
        }
    }
}

/// An incident a notification belongs to (issue 12).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IncidentRef {
    /// Incident id.
    pub id: i64,
    /// Incident title ("GitHub reports 'Degraded performance' — 3 services failing").
    pub title: String,
}

/// One incident on a vendor's public status page.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VendorIncident {
    /// Incident name as the vendor wrote it.
    pub name: String,
    /// The vendor's incident status (`investigating`, `identified`, `monitoring`, …).
    pub status: String,
    /// Link to the incident (Statuspage `shortlink`), when known.
    pub url: Option<String>,
}

/// What the vendor's status page said when the notification was made (issue 12).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VendorStatus {
    /// The page's overall indicator (Statuspage: `none`, `minor`, `major`, `critical`,
    /// `maintenance`).
    pub indicator: String,
    /// The page's overall description ("Partial System Outage").
    pub description: String,
    /// The status page's address.
    pub page_url: Option<String>,
    /// Unresolved incidents.
    #[serde(default)]
    pub incidents: Vec<VendorIncident>,
}

/// An alert transition for one service.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AlertNotice {
    /// Firing, resolved or reminder.
    pub event: AlertEvent,
    /// The alert rule's name (`[alerts.NAME]`).
    pub alert: String,
    /// Service name.
    pub service: String,
    /// Provider id.
    pub provider: String,
    /// The service's status at the time.
    pub status: Status,
    /// The typed failure reason (`null` when connected).
    pub failure: Option<FailureKind>,
    /// The human message of the check or rule.
    pub message: String,
    /// When the alert started firing.
    pub started_at: DateTime<Utc>,
    /// When this event happened (firing, resolution or reminder time).
    pub at: DateTime<Utc>,
    /// The service's page in the opsdeck UI, when the server has a `public_url`.
    pub url: Option<String>,
    /// The incident this alert belongs to (issue 12); omitted from the body when absent.
    #[serde(default)]
    pub incident: Option<IncidentRef>,
    /// The vendor's status page summary (issue 12); omitted from the body when absent.
    #[serde(default)]
    pub vendor_status: Option<VendorStatus>,
}

/// Whether a budget threshold is on actual spend or on the month-end forecast.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ThresholdKind {
    /// Month-to-date spend crossed `threshold` % of the limit.
    Actual,
    /// The month-end forecast crossed `threshold` % of the limit.
    Forecast,
}

impl ThresholdKind {
    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            ThresholdKind::Actual => "actual",
            ThresholdKind::Forecast => "forecast",
        }
    }
}

/// A budget crossing one of its thresholds.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BudgetNotice {
    /// The budget's name (`[budgets.NAME]`).
    pub budget: String,
    /// The threshold crossed, in whole percent of `limit`.
    pub threshold: u32,
    /// Actual spend or forecast.
    pub kind: ThresholdKind,
    /// Month-to-date spend.
    #[serde(with = "decimal_string")]
    pub spent: Decimal,
    /// Month-end forecast at the current rate, when one could be made.
    #[serde(with = "decimal_string_opt")]
    pub forecast: Option<Decimal>,
    /// The monthly limit.
    #[serde(with = "decimal_string")]
    pub limit: Decimal,
    /// ISO 4217 currency code.
    pub currency: String,
    /// The UTC calendar month, as any date in it; serialized `YYYY-MM`.
    #[serde(with = "month")]
    pub month: NaiveDate,
    /// The date the limit is reached at the current rate; `None` when it is not reached this
    /// month.
    pub reach_date: Option<NaiveDate>,
    /// When the threshold was crossed.
    pub at: DateTime<Utc>,
}

/// A test notification ("Send a test notification").
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TestNotice {
    /// The channel being tested.
    pub channel: String,
    /// When the test was requested.
    pub at: DateTime<Utc>,
}

impl TestNotice {
    /// The sentence every channel shows for a test.
    pub fn message(&self) -> String {
        format!(
            "Test notification from opsdeck for channel \"{}\". If you can read this, the channel works.",
            self.channel
        )
    }
}

/// Something to deliver. This is what the server writes to its outbox (serde round-trip; the
/// stored form is `{"type": "alert"|"budget"|"test", …fields}`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Notification {
    /// An alert transition.
    Alert(AlertNotice),
    /// A budget threshold.
    Budget(BudgetNotice),
    /// A test.
    Test(TestNotice),
}

impl Notification {
    /// The event it reports.
    pub fn event(&self) -> Event {
        match self {
            Notification::Alert(a) => a.event.event(),
            Notification::Budget(_) => Event::BudgetThreshold,
            Notification::Test(_) => Event::Test,
        }
    }

    /// When the reported event happened.
    pub fn at(&self) -> DateTime<Utc> {
        match self {
            Notification::Alert(a) => a.at,
            Notification::Budget(b) => b.at,
            Notification::Test(t) => t.at,
        }
    }

    /// The webhook body: the contract's fields in the contract's order. Deterministic, so
    /// every retry of one delivery sends identical bytes.
    pub fn webhook_body(&self, delivery: &DeliveryId) -> Vec<u8> {
        let event = self.event().as_str();
        let delivery = delivery.as_str();
        let result = match self {
            Notification::Alert(a) => serde_json::to_vec(&AlertBody {
                event,
                delivery,
                alert: &a.alert,
                service: &a.service,
                provider: &a.provider,
                status: a.status,
                failure: a.failure,
                message: &a.message,
                started_at: Rfc3339(a.started_at),
                at: Rfc3339(a.at),
                url: a.url.as_deref(),
                incident: a.incident.as_ref(),
                vendor_status: a.vendor_status.as_ref(),
            }),
            Notification::Budget(b) => serde_json::to_vec(&BudgetBody {
                event,
                delivery,
                budget: &b.budget,
                threshold: b.threshold,
                kind: b.kind,
                spent: b.spent.to_string(),
                forecast: b.forecast.map(|f| f.to_string()),
                limit: b.limit.to_string(),
                currency: &b.currency,
                month: b.month.format("%Y-%m").to_string(),
                reach_date: b.reach_date.map(|d| d.format("%Y-%m-%d").to_string()),
                at: Rfc3339(b.at),
            }),
            Notification::Test(t) => serde_json::to_vec(&TestBody {
                event,
                delivery,
                channel: &t.channel,
                message: t.message(),
                at: Rfc3339(t.at),
            }),
        };
        // Serializing these plain structs cannot fail (no maps with non-string keys, no
        // failing Serialize impls); an empty body would be refused by the receiver anyway.
        result.unwrap_or_default()
    }
}

#[derive(Serialize)]
struct AlertBody<'a> {
    event: &'a str,
    delivery: &'a str,
    alert: &'a str,
    service: &'a str,
    provider: &'a str,
    status: Status,
    failure: Option<FailureKind>,
    message: &'a str,
    started_at: Rfc3339,
    at: Rfc3339,
    url: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    incident: Option<&'a IncidentRef>,
    #[serde(skip_serializing_if = "Option::is_none")]
    vendor_status: Option<&'a VendorStatus>,
}

#[derive(Serialize)]
struct BudgetBody<'a> {
    event: &'a str,
    delivery: &'a str,
    budget: &'a str,
    threshold: u32,
    kind: ThresholdKind,
    spent: String,
    forecast: Option<String>,
    limit: String,
    currency: &'a str,
    month: String,
    reach_date: Option<String>,
    at: Rfc3339,
}

#[derive(Serialize)]
struct TestBody<'a> {
    event: &'a str,
    delivery: &'a str,
    channel: &'a str,
    message: String,
    at: Rfc3339,
}

/// A time rendered as RFC 3339 UTC with milliseconds.
struct Rfc3339(DateTime<Utc>);

impl Serialize for Rfc3339 {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&rfc3339(self.0))
    }
}

/// RFC 3339 UTC with milliseconds, as in every opsdeck payload.
pub fn rfc3339(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// The id of one delivery of one notification to one channel: the idempotency key a
/// receiver de-duplicates by. It is in the body (`delivery`), in `X-Opsdeck-Delivery` and
/// `Idempotency-Key`, and in an email's `Message-ID`, and it never changes across retries.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct DeliveryId(String);

impl DeliveryId {
    /// A new random id (UUID v4). The server makes one per outbox row, when it writes the row.
    pub fn generate() -> Self {
        DeliveryId(uuid::Uuid::new_v4().to_string())
    }

    /// An existing id: 1-128 characters from `A-Z a-z 0-9 . _ : -`, so it is safe in headers
    /// and in a `Message-ID`.
    pub fn new(id: impl Into<String>) -> Result<Self, String> {
        let id = id.into();
        let ok = !id.is_empty()
            && id.len() <= 128
            && id
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | ':' | '-'));
        if ok {
            Ok(DeliveryId(id))
        } else {
            Err("a delivery id is 1-128 characters from A-Z a-z 0-9 . _ : -".into())
        }
    }

    /// The id.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for DeliveryId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl TryFrom<String> for DeliveryId {
    type Error = String;
    fn try_from(s: String) -> Result<Self, String> {
        DeliveryId::new(s)
    }
}

impl From<DeliveryId> for String {
    fn from(d: DeliveryId) -> String {
        d.0
    }
}

mod decimal_string {
    use super::*;

    pub fn serialize<S: Serializer>(d: &Decimal, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&d.to_string())
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Decimal, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

mod decimal_string_opt {
    use super::*;

    pub fn serialize<S: Serializer>(d: &Option<Decimal>, s: S) -> Result<S::Ok, S::Error> {
        match d {
            Some(d) => s.serialize_some(&d.to_string()),
            None => s.serialize_none(),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Decimal>, D::Error> {
        Option::<String>::deserialize(d)?
            .map(|s| s.parse().map_err(serde::de::Error::custom))
            .transpose()
    }
}

mod month {
    use super::*;

    pub fn serialize<S: Serializer>(d: &NaiveDate, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&d.format("%Y-%m").to_string())
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<NaiveDate, D::Error> {
        let s = String::deserialize(d)?;
        NaiveDate::parse_from_str(&format!("{s}-01"), "%Y-%m-%d").map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delivery_ids_are_header_safe() {
        assert!(DeliveryId::new("abc-123_x.y:z").is_ok());
        assert!(DeliveryId::new("").is_err());
        assert!(DeliveryId::new("a\r\nX-Evil: 1").is_err());
        assert!(DeliveryId::new("x".repeat(129)).is_err());
        let g = DeliveryId::generate();
        assert_eq!(g.as_str().len(), 36);
        assert_ne!(g, DeliveryId::generate());
    }
}
