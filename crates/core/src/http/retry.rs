//! The retry loop every request runs under ([`execute`]): a per-attempt timeout capped by the
//! caller's deadline, retries with backoff and jitter on temporary failures, `Retry-After`
//! honoured only while it fits before the deadline, failed answers classified, and every message
//! scrubbed of secrets. Transports plug in with a "send once" function, so an SDK (the AWS
//! provider's) gets the same policy and hands back its own typed result.

use std::fmt;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use tokio::time::Instant;

use super::classify::{RequestCtx, VendorErrors, classify_response};
use super::redact::Redactor;
use super::response::HttpResponse;
use super::settings::HttpSettings;
use crate::deadline;
use crate::error::{Error, Result};
use crate::status::FailureKind;

/// Vendor identity for [`execute`]: who we talk to, how its errors read, what to redact.
#[derive(Clone)]
pub struct Vendor {
    /// Display name, e.g. "GitHub".
    pub name: &'static str,
    /// Host (for messages).
    pub host: String,
    /// Vendor-specific classification.
    pub errors: Arc<dyn VendorErrors>,
    /// Secrets to scrub from messages.
    pub redactor: Redactor,
}

impl fmt::Debug for Vendor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Vendor")
            .field("name", &self.name)
            .field("host", &self.host)
            .finish_non_exhaustive()
    }
}

impl Vendor {
    /// A vendor identity.
    pub fn new(
        name: &'static str,
        host: impl Into<String>,
        errors: Arc<dyn VendorErrors>,
        redactor: Redactor,
    ) -> Self {
        Vendor {
            name,
            host: host.into(),
            errors,
            redactor,
        }
    }
}

/// What one attempt of a transport produced.
#[derive(Debug)]
pub enum Reply<T> {
    /// The call succeeded: the transport's own typed result.
    Value(T),
    /// The vendor answered with an error status: the raw answer, for the policy to classify.
    Response(HttpResponse),
}

/// Run `send_once` under the policy and return its typed result.
///
/// `send_once` gets the attempt's timeout and returns [`Reply::Value`] on success,
/// [`Reply::Response`] with the raw answer for any error status (classified here: default table,
/// then the vendor's rules for `ctx`), or an already classified transport error. Temporary
/// failures are retried with backoff (or the vendor's `Retry-After`) while the wait fits before
/// the caller's deadline; a wait that does not fit is reported, not slept.
pub async fn execute<T, F, Fut>(
    settings: &HttpSettings,
    vendor: &Vendor,
    ctx: &RequestCtx<'_>,
    mut send_once: F,
) -> Result<T>
where
    F: FnMut(Duration) -> Fut,
    Fut: Future<Output = Result<Reply<T>>>,
{
    let deadline = deadline::current();
    let mut attempt = 0u32;
    loop {
        let left = deadline.map(|d| d.saturating_duration_since(Instant::now()));
        let attempt_timeout = left.map_or(settings.request_timeout, |l| {
            l.min(settings.request_timeout)
        });
        if attempt_timeout.is_zero() {
            return Err(Error::new(
                FailureKind::Timeout,
                format!(
                    "{} at {}: the time allowed for this check ran out.",
                    vendor.name, vendor.host
                ),
            ));
        }
        let outcome = match tokio::time::timeout(attempt_timeout, send_once(attempt_timeout)).await
        {
            Ok(r) => r,
            Err(_) => Err(Error::new(
                FailureKind::Timeout,
                format!(
                    "{} at {} did not answer within {:.1}s.",
                    vendor.name,
                    vendor.host,
                    attempt_timeout.as_secs_f64()
                ),
            )),
        };
        let err =
            match outcome {
                Ok(Reply::Value(v)) => return Ok(v),
                Ok(Reply::Response(mut resp)) => {
                    resp.attribute(vendor.name, &vendor.redactor);
                    if resp.status.is_success() {
                        // Transports hand back successes as values; a 2xx here is an answer the
                        // transport could not use.
                        vendor.errors.check_success(ctx, &resp).err().unwrap_or_else(|| {
                        Error::invalid_response(format!(
                            "{} at {} answered HTTP {} with something opsdeck could not read.",
                            vendor.name,
                            vendor.host,
                            resp.status.as_u16()
                        ))
                    })
                    } else {
                        classify_response(vendor.errors.as_ref(), ctx, &resp)
                    }
                }
                Err(e) => e,
            };
        let err = err.map_text(|t| vendor.redactor.scrub(t));
        if !err.is_temporary() || attempt >= settings.max_retries {
            tracing::debug!(vendor = vendor.name, attempt, kind = %err.kind(), status = ?err.http_status(), "request failed");
            return Err(err);
        }
        let wait = err
            .retry_after()
            .unwrap_or_else(|| backoff(settings, attempt));
        let fits = match deadline {
            Some(d) => Instant::now().checked_add(wait).is_some_and(|end| end < d),
            None => wait <= settings.max_retry_wait,
        };
        if !fits {
            tracing::debug!(
                vendor = vendor.name,
                wait_ms = u64::try_from(wait.as_millis()).unwrap_or(u64::MAX),
                "not retrying: wait exceeds the time left"
            );
            let secs = wait.as_secs().max(1);
            return Err(err.with_sentence(format!(
                "Not retried: waiting {secs}s would exceed the time allowed for this check."
            )));
        }
        tracing::debug!(vendor = vendor.name, attempt, kind = %err.kind(), wait_ms = u64::try_from(wait.as_millis()).unwrap_or(u64::MAX), "retrying");
        tokio::time::sleep(wait).await;
        attempt += 1;
    }
}

/// Exponential backoff with "equal jitter": between half and all of the base, so clients
/// spread out but still wait.
pub(crate) fn backoff(settings: &HttpSettings, attempt: u32) -> Duration {
    let base = settings
        .initial_backoff
        .saturating_mul(2u32.saturating_pow(attempt))
        .min(settings.max_backoff);
    let half = base / 2;
    let jitter =
        Duration::try_from_secs_f64(half.as_secs_f64() * fastrand::f64()).unwrap_or(Duration::ZERO);
    half.saturating_add(jitter.min(half))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_and_is_capped() {
        let s = HttpSettings::default();
        for attempt in 0..40 {
            let b = backoff(&s, attempt);
            assert!(b <= s.max_backoff, "{b:?}");
        }
        assert!(backoff(&s, 0) <= s.initial_backoff);
        let huge = HttpSettings::new().with_backoff(Duration::MAX, Duration::MAX);
        assert!(backoff(&huge, 3) <= Duration::MAX);
    }
}
