//! The shared HTTP policy of every provider: one place for timeouts, retries with backoff and
//! jitter, `Retry-After`, rate-limit headers, response-size limits, the outbound address policy,
//! pagination, and the mapping of HTTP outcomes to [`FailureKind`](crate::FailureKind)s.
//! Providers add only what is vendor-specific, through [`VendorErrors`].
//!
//! Two entry points share the policy:
//! - [`HttpClient`], a reqwest-based client for providers that speak plain HTTP;
//! - [`execute`], the retry/classification loop over any "send once" function, for providers
//!   whose vendor SDK is the transport (the AWS provider); it returns the SDK's typed result.
//!
//! Rules this module enforces: rustls only; `User-Agent: opsdeck/<version>`; retries only on
//! connection errors, timeouts, 429 and 5xx — never on other 4xx; a wait longer than the time
//! left before the caller's deadline is not slept but reported; bodies are read up to
//! `max_body`; link-local and metadata addresses are refused; vendor input never panics; secrets
//! are never logged and are scrubbed from any vendor message we repeat.
//!
//! Files: `settings` (limits), `response` (one answer), `headers` (header parsers, `Link`),
//! `classify` (vendor errors → kinds and messages), `redact` (secret scrubbing), `retry` (the
//! policy loop), `client` (reqwest transport), `paging` (the pagination driver), `address`
//! (outbound address policy).

pub mod address;
mod classify;
mod client;
mod headers;
mod paging;
mod redact;
mod response;
mod retry;
mod settings;

pub use classify::{
    DefaultVendor, RequestCtx, VendorError, VendorErrors, Verdict, classify_transport,
    default_vendor_message,
};
pub use client::{HttpClient, HttpClientBuilder};
pub use headers::{
    Link, MAX_WAIT, link_with_rel, links, parse_go_duration, parse_links, parse_protobuf_duration,
    parse_rate_limit, parse_rate_limit_at, parse_reset, parse_reset_at, parse_retry_after,
    parse_retry_after_at, wait_from_secs_f64,
};
pub use paging::{Page, Paged, Paging, StopReason, paginate};
pub use redact::{Redactor, mask_keys};
pub use response::HttpResponse;
pub use retry::{Reply, Vendor, execute};
pub use settings::HttpSettings;

/// The `User-Agent` every provider sends.
pub const USER_AGENT: &str = concat!("opsdeck/", env!("CARGO_PKG_VERSION"));
