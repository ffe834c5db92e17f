//! # opsdeck-notify
//!
//! Delivery channels for opsdeck's alerts: a signed JSON **webhook**, a **Slack** incoming
//! webhook (Block Kit) and **email** over SMTP (STARTTLS or implicit TLS, via `lettre`).
//!
//! The crate knows no database and no clock of its own. It owns:
//! - the channel configuration ([`ChannelConfig`]): `[channels.NAME]` tables of `opsdeck.toml`
//!   and the same shape as JSON from the API, validated with every problem reported at once,
//!   secrets in `SecretString`, and a plain/secret split for encrypted storage;
//! - the payloads ([`Notification`]): alert, budget and test events, rendered as the pinned
//!   webhook body, a Slack Block Kit message, or a plain-text + HTML email;
//! - delivery ([`Channel`]): one attempt at a time ([`Channel::send_once`]) returning an
//!   [`Outcome`] that a durable outbox stores and schedules by ([`DeliveryPolicy`]), plus
//!   [`Channel::deliver`], a loop with sleeps for library users, and [`Channel::send_test`].
//!
//! HTTP goes through `opsdeck_core::http::HttpClient` (rustls, `User-Agent`, timeouts, error
//! classification); retries across attempts are scheduled by the caller from the [`Outcome`],
//! so a restart loses no delivery and an alert is never sent twice by one process.
//!
//! Secrets (signing secrets, webhook URLs, header values, SMTP passwords) never appear in
//! `Debug`, logs or failure reasons.

mod channel;
pub mod config;
mod email;
mod http_target;
pub mod message;
pub mod policy;
pub mod signature;
mod slack;
#[cfg(feature = "testing")]
pub mod testing;
mod text;
mod webhook;

pub use channel::{Channel, ChannelOptions, Delivery, NotifyError, TestResult};
pub use config::{ChannelConfig, ChannelErrors, ChannelKind, ChannelProblem};
pub use email::EmailParts;
pub use message::{
    AlertEvent, AlertNotice, BudgetNotice, DeliveryId, Event, IncidentRef, Notification,
    TestNotice, ThresholdKind, VendorIncident, VendorStatus,
};
pub use policy::{DeliveryPolicy, Failure, Outcome};

/// Header naming the event (`alert.firing`, `alert.resolved`, `alert.reminder`,
/// `budget.threshold`, `test`).
pub const HEADER_EVENT: &str = "X-Opsdeck-Event";
/// Header carrying the delivery id: unique per notification and channel, stable across retries.
pub const HEADER_DELIVERY: &str = "X-Opsdeck-Delivery";
/// Header carrying the send time in unix seconds; it is signed together with the body.
pub const HEADER_TIMESTAMP: &str = "X-Opsdeck-Timestamp";
/// Header carrying `sha256=<hex>`, the HMAC-SHA256 of `"<timestamp>.<raw body>"`.
pub const HEADER_SIGNATURE: &str = "X-Opsdeck-Signature";
/// The conventional idempotency header; same value as [`HEADER_DELIVERY`].
pub const HEADER_IDEMPOTENCY_KEY: &str = "Idempotency-Key";
