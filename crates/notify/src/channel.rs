//! A ready-to-send channel: built once from a validated [`ChannelConfig`] (no I/O), then used
//! for single attempts ([`Channel::send_once`], for the server's durable outbox), a retry loop
//! with sleeps ([`Channel::deliver`], for library users) and test notifications
//! ([`Channel::send_test`]).

use std::future::Future;
use std::time::Duration;

use chrono::{DateTime, Utc};
use opsdeck_core::Clock;
use serde::Serialize;

use crate::config::{ChannelConfig, ChannelErrors, ChannelKind};
use crate::email::EmailSender;
use crate::http_target::{HttpTarget, Receiver};
use crate::message::{DeliveryId, Notification, TestNotice};
use crate::policy::{DeliveryPolicy, Failure, Outcome};
use crate::webhook::WebhookSender;

/// Errors building a channel.
#[derive(Debug, thiserror::Error)]
pub enum NotifyError {
    /// The configuration did not validate.
    #[error(transparent)]
    Config(#[from] ChannelErrors),
    /// The channel could not be set up (e.g. an unreadable extra root certificate). The
    /// message names the channel.
    #[error("{0}")]
    Setup(String),
}

/// How channels are built: the retry policy and, for SMTP over TLS, extra trusted roots.
#[derive(Debug, Clone, Default)]
pub struct ChannelOptions {
    /// Retry policy and timeouts.
    pub policy: DeliveryPolicy,
    /// PEM certificates trusted in addition to the platform's roots when connecting to an
    /// SMTP server (a private CA; tests).
    pub extra_root_certificates: Vec<Vec<u8>>,
}

#[derive(Debug, Clone)]
enum Sender {
    Webhook(WebhookSender),
    Slack(HttpTarget),
    Email(EmailSender),
}

/// A channel ready to deliver. Cheap to clone; build it once per configuration.
#[derive(Debug, Clone)]
pub struct Channel {
    name: String,
    kind: ChannelKind,
    destination: String,
    sender: Sender,
    policy: DeliveryPolicy,
}

/// The end of [`Channel::deliver`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delivery {
    /// Attempts made.
    pub attempts: u32,
    /// `Delivered` or `GaveUp` (never `Retry`).
    pub outcome: Outcome,
}

/// The answer to "send a test notification", for the API and UI.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TestResult {
    /// Whether the receiver accepted the test.
    pub ok: bool,
    /// The test's delivery id (look for it at the receiver).
    pub delivery: String,
    /// What happened, and what to do if it failed.
    pub message: String,
}

impl Channel {
    /// Build channel `name` from its configuration. No network I/O (the SMTP TLS verifier may
    /// read the platform's root certificates).
    pub fn new(
        name: &str,
        config: &ChannelConfig,
        options: &ChannelOptions,
    ) -> Result<Channel, NotifyError> {
        let destination = config.destination();
        let label = format!("channel \"{name}\" ({} to {destination})", config.kind());
        let policy = options.policy.clone();
        let sender = match config {
            ChannelConfig::Webhook(w) => {
                Sender::Webhook(WebhookSender::new(w, label, &policy).map_err(NotifyError::Setup)?)
            }
            ChannelConfig::Slack(s) => Sender::Slack(
                HttpTarget::new(Receiver::Slack, &s.webhook_url, label, &policy, Vec::new())
                    .map_err(NotifyError::Setup)?,
            ),
            ChannelConfig::Email(e) => Sender::Email(
                EmailSender::new(e, label, &policy, &options.extra_root_certificates)
                    .map_err(NotifyError::Setup)?,
            ),
        };
        Ok(Channel {
            name: name.to_owned(),
            kind: config.kind(),
            destination,
            sender,
            policy,
        })
    }

    /// Validate a channel object (API JSON) and build it.
    pub fn from_json(
        name: &str,
        value: &serde_json::Value,
        options: &ChannelOptions,
    ) -> Result<Channel, NotifyError> {
        let config = ChannelConfig::from_json(name, value)?;
        Channel::new(name, &config, options)
    }

    /// The channel's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The channel's kind.
    pub fn kind(&self) -> ChannelKind {
        self.kind
    }

    /// Where it delivers, safe to show (see [`ChannelConfig::destination`]).
    pub fn destination(&self) -> &str {
        &self.destination
    }

    /// The retry policy.
    pub fn policy(&self) -> &DeliveryPolicy {
        &self.policy
    }

    /// One delivery attempt. `attempt` is 1 for the first try and counts up across retries;
    /// `now` is the injected clock's time (it becomes the signed `X-Opsdeck-Timestamp` and the
    /// email's `Date`). Never sleeps and never panics; the caller stores the outcome and, for
    /// `Retry { after }`, tries again at `now + after` with `attempt + 1` and the same
    /// `delivery` id.
    pub async fn send_once(
        &self,
        notification: &Notification,
        delivery: &DeliveryId,
        attempt: u32,
        now: DateTime<Utc>,
    ) -> Outcome {
        let attempt = attempt.max(1);
        let result = self.attempt(notification, delivery, now).await;
        let outcome = match result {
            Ok(()) => Outcome::Delivered,
            Err(failure) => self.policy.after_failure(attempt, failure),
        };
        let event = notification.event().as_str();
        match &outcome {
            Outcome::Delivered => tracing::info!(
                channel = %self.name, kind = %self.kind, event, delivery = %delivery, attempt,
                "notification delivered"
            ),
            Outcome::Retry { after, reason } => tracing::warn!(
                channel = %self.name, kind = %self.kind, event, delivery = %delivery, attempt,
                retry_in_s = after.as_secs(), %reason, "notification not delivered; will retry"
            ),
            Outcome::GaveUp { reason } => tracing::error!(
                channel = %self.name, kind = %self.kind, event, delivery = %delivery, attempt,
                %reason, "notification not delivered; gave up"
            ),
        }
        outcome
    }

    /// Deliver with retries in this process, sleeping between attempts (tokio's clock), until
    /// delivered or given up. For library users without an outbox; the server uses
    /// [`send_once`](Self::send_once) so retries survive a restart.
    pub async fn deliver(
        &self,
        notification: &Notification,
        delivery: &DeliveryId,
        clock: &dyn Clock,
    ) -> Delivery {
        self.deliver_with_sleep(notification, delivery, clock, tokio::time::sleep)
            .await
    }

    /// [`deliver`](Self::deliver) with the sleep supplied by the caller (a test that records
    /// the waits, or a runtime other than tokio's timer).
    pub async fn deliver_with_sleep<S, F>(
        &self,
        notification: &Notification,
        delivery: &DeliveryId,
        clock: &dyn Clock,
        mut sleep: S,
    ) -> Delivery
    where
        S: FnMut(Duration) -> F,
        F: Future<Output = ()>,
    {
        let mut attempt = 1;
        loop {
            match self
                .send_once(notification, delivery, attempt, clock.now())
                .await
            {
                Outcome::Retry { after, .. } => {
                    sleep(after).await;
                    attempt += 1;
                }
                outcome => {
                    return Delivery {
                        attempts: attempt,
                        outcome,
                    };
                }
            }
        }
    }

    async fn attempt(
        &self,
        notification: &Notification,
        delivery: &DeliveryId,
        now: DateTime<Utc>,
    ) -> Result<(), Failure> {
        match &self.sender {
            Sender::Webhook(w) => w.send(notification, delivery, now).await,
            Sender::Slack(t) => {
                // Serializing a serde_json::Value cannot fail.
                let body = serde_json::to_vec(&notification.slack_message()).unwrap_or_default();
                t.post(body, http::HeaderMap::new()).await
            }
            Sender::Email(e) => e.send(notification, delivery, now).await,
        }
    }

    /// Send a `test` event once, now, and say what happened. Not retried: the person who
    /// pressed "send test" wants the answer, not a wait.
    pub async fn send_test(&self, now: DateTime<Utc>) -> TestResult {
        let delivery = DeliveryId::generate();
        let notification = Notification::Test(TestNotice {
            channel: self.name.clone(),
            at: now,
        });
        let result = self.attempt(&notification, &delivery, now).await;
        let message = match &result {
            Ok(()) => {
                tracing::info!(channel = %self.name, kind = %self.kind, delivery = %delivery, "test notification delivered");
                format!(
                    "Sent a test notification to {} (delivery {delivery}).",
                    self.destination
                )
            }
            Err(f) => {
                tracing::warn!(channel = %self.name, kind = %self.kind, delivery = %delivery, reason = %f.reason, "test notification failed");
                if f.retryable {
                    format!("{} This may be temporary; try again in a moment.", f.reason)
                } else {
                    f.reason.clone()
                }
            }
        };
        TestResult {
            ok: result.is_ok(),
            delivery: delivery.to_string(),
            message,
        }
    }
}
