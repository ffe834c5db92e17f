//! Deadline propagation. The [`crate::ServiceManager`] runs each check under a deadline; the
//! HTTP retry policy reads it so that retries and `Retry-After` waits never outlive the
//! caller's timeout ("a connection test answers within its timeout, always").
//!
//! The deadline is task-local: providers must run sub-requests on the same task (`join!`,
//! `buffer_unordered`), not `tokio::spawn`, or the deadline is lost for them.

use std::future::Future;
use std::time::Duration;

use tokio::time::Instant;

tokio::task_local! {
    static DEADLINE: Instant;
}

/// Run `fut` with `deadline` in effect (the earlier one wins when nested).
pub async fn with_deadline<F: Future>(deadline: Instant, fut: F) -> F::Output {
    let effective = current().map_or(deadline, |outer| outer.min(deadline));
    DEADLINE.scope(effective, fut).await
}

/// Run `fut` with a deadline `timeout` from now.
pub async fn with_timeout<F: Future>(timeout: Duration, fut: F) -> F::Output {
    with_deadline(Instant::now() + timeout, fut).await
}

/// The deadline in effect, if any.
pub fn current() -> Option<Instant> {
    DEADLINE.try_with(|d| *d).ok()
}

/// Time left until the deadline (zero when passed), or `None` without a deadline.
pub fn remaining() -> Option<Duration> {
    current().map(|d| d.saturating_duration_since(Instant::now()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn nested_deadlines_keep_the_earlier() {
        assert!(current().is_none());
        with_timeout(Duration::from_secs(1), async {
            let outer = current();
            with_timeout(Duration::from_secs(60), async {
                assert_eq!(current(), outer);
            })
            .await;
            assert!(remaining().is_some_and(|r| r <= Duration::from_secs(1)));
        })
        .await;
    }
}
