//! [`HttpSettings`]: the timeouts, retry budget, body cap and outbound address policy one
//! service's HTTP client runs under. The CLI and the server derive it from their own flags.

use std::time::Duration;

/// Timeouts, retries, the response-size cap and the outbound address policy of one service.
///
/// Build it from [`HttpSettings::new`] (the defaults) and the `with_*` methods; new fields get a
/// default, so this type can grow without breaking callers.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct HttpSettings {
    /// Time to establish a TCP+TLS connection.
    pub connect_timeout: Duration,
    /// Time for one request, including reading the body. Capped by the caller's deadline.
    pub request_timeout: Duration,
    /// Retries after the first attempt (0 = no retries).
    pub max_retries: u32,
    /// First backoff; doubles per retry, with jitter.
    pub initial_backoff: Duration,
    /// Backoff cap.
    pub max_backoff: Duration,
    /// Longest `Retry-After` we are willing to sleep when there is no deadline.
    pub max_retry_wait: Duration,
    /// Largest response body read, in bytes. A longer body is not buffered: reading stops at
    /// the cap and the request fails as `invalid_response`.
    pub max_body: usize,
    /// Allow connections to link-local and cloud metadata addresses (169.254.0.0/16, fe80::/10,
    /// fd00:ec2::254). Off by default: a `base_url` pointing there is the classic way to steal a
    /// cloud machine's credentials. See `docs/status-model.md` ("Outbound addresses").
    pub allow_link_local: bool,
}

impl HttpSettings {
    /// Default response body cap: 8 MiB, far above any answer opsdeck reads and far below the
    /// server's memory budget.
    pub const DEFAULT_MAX_BODY: usize = 8 * 1024 * 1024;

    /// The defaults: 5 s connect, 10 s per request, 2 retries (200 ms backoff doubling to 5 s),
    /// 30 s longest `Retry-After` slept without a deadline, 8 MiB bodies, link-local refused.
    pub const fn new() -> Self {
        HttpSettings {
            connect_timeout: Duration::from_secs(5),
            request_timeout: Duration::from_secs(10),
            max_retries: 2,
            initial_backoff: Duration::from_millis(200),
            max_backoff: Duration::from_secs(5),
            max_retry_wait: Duration::from_secs(30),
            max_body: Self::DEFAULT_MAX_BODY,
            allow_link_local: false,
        }
    }

    /// Set [`connect_timeout`](Self::connect_timeout).
    pub const fn with_connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = timeout;
        self
    }

    /// Set [`request_timeout`](Self::request_timeout).
    pub const fn with_request_timeout(mut self, timeout: Duration) -> Self {
        self.request_timeout = timeout;
        self
    }

    /// Set [`max_retries`](Self::max_retries).
    pub const fn with_max_retries(mut self, retries: u32) -> Self {
        self.max_retries = retries;
        self
    }

    /// Set the backoff: the first wait and the cap.
    pub const fn with_backoff(mut self, initial: Duration, max: Duration) -> Self {
        self.initial_backoff = initial;
        self.max_backoff = max;
        self
    }

    /// Set [`max_retry_wait`](Self::max_retry_wait).
    pub const fn with_max_retry_wait(mut self, wait: Duration) -> Self {
        self.max_retry_wait = wait;
        self
    }

    /// Set [`max_body`](Self::max_body).
    pub const fn with_max_body(mut self, bytes: usize) -> Self {
        self.max_body = bytes;
        self
    }

    /// Set [`allow_link_local`](Self::allow_link_local).
    pub const fn with_allow_link_local(mut self, allow: bool) -> Self {
        self.allow_link_local = allow;
        self
    }
}

impl Default for HttpSettings {
    fn default() -> Self {
        Self::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builders_are_usable_in_consts() {
        const FAST: HttpSettings = HttpSettings::new()
            .with_backoff(Duration::from_millis(1), Duration::from_millis(2))
            .with_max_body(1024);
        assert_eq!(FAST.initial_backoff, Duration::from_millis(1));
        assert_eq!(FAST.max_body, 1024);
        assert_eq!(
            FAST.request_timeout,
            HttpSettings::default().request_timeout
        );
        const { assert!(!FAST.allow_link_local) };
    }
}
