//! The retry policy of a delivery across attempts, and the [`Outcome`] of one attempt.
//!
//! A delivery is attempted by [`crate::Channel::send_once`], which never sleeps: it returns
//! `Delivered`, `Retry { after }` or `GaveUp { reason }`. The server stores the outcome with
//! the outbox row and schedules the next attempt at `now + after`, so retries survive a
//! restart. `core::http`'s in-process retry loop (seconds, bounded by a check's deadline) is
//! the wrong shape for that; this policy only decides, from the attempt number and the
//! failure, what the caller should do next.

use std::time::Duration;

use chrono::{DateTime, Utc};

/// How a channel retries a delivery across attempts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeliveryPolicy {
    /// Attempts in total, the first included; after the last failure the delivery gives up.
    pub max_attempts: u32,
    /// Wait after the first failure; doubles per failure (with jitter), up to `max_backoff`.
    pub initial_backoff: Duration,
    /// Longest wait between attempts from backoff.
    pub max_backoff: Duration,
    /// Longest `Retry-After` honoured; a receiver asking for longer makes the delivery give
    /// up (an alert that arrives a day late is worse than a clear "gave up").
    pub max_retry_after: Duration,
    /// Time to establish a connection (TCP + TLS).
    pub connect_timeout: Duration,
    /// Time for one whole attempt (request and response, or the SMTP session).
    pub attempt_timeout: Duration,
}

impl Default for DeliveryPolicy {
    /// 8 attempts over about an hour: waits of 30 s, 1, 2, 4, 8, 16 and 32 min (each between
    /// half and all of that, from jitter).
    fn default() -> Self {
        DeliveryPolicy {
            max_attempts: 8,
            initial_backoff: Duration::from_secs(30),
            max_backoff: Duration::from_secs(3600),
            max_retry_after: Duration::from_secs(3600),
            connect_timeout: Duration::from_secs(5),
            attempt_timeout: Duration::from_secs(20),
        }
    }
}

/// Why one attempt failed, as a channel reports it to the policy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    /// Whether the same request may succeed later (network error, timeout, 429, 5xx, SMTP 4xx).
    pub retryable: bool,
    /// How long the receiver asked us to wait (`Retry-After`).
    pub retry_after: Option<Duration>,
    /// What happened and what to do, naming the channel; never contains a secret.
    pub reason: String,
}

/// The result of one delivery attempt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// The receiver accepted it.
    Delivered,
    /// Try again after `after` (attempt + 1).
    Retry {
        /// How long to wait before the next attempt.
        after: Duration,
        /// Why this attempt failed.
        reason: String,
    },
    /// Stop: the failure is permanent or the attempts are used up.
    GaveUp {
        /// Why, naming the channel and what to do.
        reason: String,
    },
}

impl Outcome {
    /// Whether the receiver accepted the notification.
    pub fn is_delivered(&self) -> bool {
        matches!(self, Outcome::Delivered)
    }

    /// When to attempt again, for a `Retry` decided at `now`.
    pub fn retry_at(&self, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
        match self {
            Outcome::Retry { after, .. } => chrono::Duration::from_std(*after)
                .ok()
                .and_then(|d| now.checked_add_signed(d)),
            _ => None,
        }
    }

    /// The failure reason, unless delivered.
    pub fn reason(&self) -> Option<&str> {
        match self {
            Outcome::Delivered => None,
            Outcome::Retry { reason, .. } | Outcome::GaveUp { reason } => Some(reason),
        }
    }
}

impl DeliveryPolicy {
    /// The wait after failed attempt number `attempt` (1 = the first attempt):
    /// `initial_backoff × 2^(attempt-1)`, capped at `max_backoff`, then "equal jitter"
    /// (between half and all of it) so many failed deliveries do not retry in lockstep.
    pub fn backoff(&self, attempt: u32) -> Duration {
        let exp = attempt.saturating_sub(1).min(30);
        let base = self
            .initial_backoff
            .saturating_mul(1u32 << exp)
            .min(self.max_backoff);
        let half = base / 2;
        half + half.mul_f64(fastrand::f64())
    }

    /// What to do after attempt number `attempt` (1-based) failed with `failure`.
    pub fn after_failure(&self, attempt: u32, failure: Failure) -> Outcome {
        let Failure {
            retryable,
            retry_after,
            reason,
        } = failure;
        if !retryable {
            return Outcome::GaveUp { reason };
        }
        if attempt >= self.max_attempts {
            return Outcome::GaveUp {
                reason: format!(
                    "Gave up after {attempt} attempt{}; the last one failed: {reason}",
                    if attempt == 1 { "" } else { "s" }
                ),
            };
        }
        let after = match retry_after {
            Some(wait) if wait > self.max_retry_after => {
                return Outcome::GaveUp {
                    reason: format!(
                        "{reason} The receiver asked to wait {}s, longer than the {}s opsdeck waits for one notification; gave up.",
                        wait.as_secs(),
                        self.max_retry_after.as_secs()
                    ),
                };
            }
            // A zero Retry-After would make the outbox spin; one second is the floor.
            Some(wait) => wait.max(Duration::from_secs(1)),
            None => self.backoff(attempt),
        };
        Outcome::Retry { after, reason }
    }

    /// How long the server should lease an outbox row for one attempt: the longest an
    /// attempt can take plus a margin, so another instance never sends the same row while
    /// this one may still be sending it.
    pub fn lease(&self) -> Duration {
        self.connect_timeout + self.attempt_timeout + Duration::from_secs(30)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fail(retryable: bool, retry_after: Option<u64>) -> Failure {
        Failure {
            retryable,
            retry_after: retry_after.map(Duration::from_secs),
            reason: "boom.".into(),
        }
    }

    #[test]
    fn backoff_doubles_with_equal_jitter_and_is_capped() {
        let p = DeliveryPolicy::default();
        for attempt in 1..=12u32 {
            let full = (Duration::from_secs(30) * 2u32.pow(attempt - 1)).min(p.max_backoff);
            for _ in 0..50 {
                let b = p.backoff(attempt);
                assert!(b >= full / 2 && b <= full, "attempt {attempt}: {b:?}");
            }
        }
        assert!(p.backoff(u32::MAX) <= p.max_backoff);
    }

    #[test]
    fn permanent_failures_give_up_at_once() {
        let p = DeliveryPolicy::default();
        assert_eq!(
            p.after_failure(1, fail(false, None)),
            Outcome::GaveUp {
                reason: "boom.".into()
            }
        );
    }

    #[test]
    fn retry_after_is_honoured_within_the_limit() {
        let p = DeliveryPolicy::default();
        assert_eq!(
            p.after_failure(1, fail(true, Some(120))),
            Outcome::Retry {
                after: Duration::from_secs(120),
                reason: "boom.".into()
            }
        );
        assert_eq!(
            p.after_failure(1, fail(true, Some(0))),
            Outcome::Retry {
                after: Duration::from_secs(1),
                reason: "boom.".into()
            }
        );
        let Outcome::GaveUp { reason } = p.after_failure(1, fail(true, Some(86_400))) else {
            panic!("a day-long Retry-After should give up");
        };
        assert!(reason.contains("86400s"), "{reason}");
    }

    #[test]
    fn the_last_attempt_gives_up_with_the_last_reason() {
        let p = DeliveryPolicy {
            max_attempts: 3,
            ..DeliveryPolicy::default()
        };
        assert!(matches!(
            p.after_failure(2, fail(true, None)),
            Outcome::Retry { .. }
        ));
        let Outcome::GaveUp { reason } = p.after_failure(3, fail(true, None)) else {
            panic!("expected to give up");
        };
        assert_eq!(
            reason,
            "Gave up after 3 attempts; the last one failed: boom."
        );
    }

    #[test]
    fn retry_at_adds_the_wait() {
        let now = DateTime::parse_from_rfc3339("2025-06-01T00:00:00Z")
            .map(|t| t.with_timezone(&Utc))
            .unwrap_or_default();
        let o = Outcome::Retry {
            after: Duration::from_secs(90),
            reason: String::new(),
        };
        assert_eq!(
            o.retry_at(now).map(|t| t.to_rfc3339()),
            Some("2025-06-01T00:01:30+00:00".to_owned())
        );
        assert_eq!(Outcome::Delivered.retry_at(now), None);
    }
}
