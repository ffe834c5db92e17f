//! One HTTP receiver (a webhook URL or a Slack incoming webhook): a single `POST` per attempt
//! through core's `HttpClient` (rustls, `User-Agent: opsdeck/<version>`, connect and request
//! timeouts, redirects refused), with the response classified into a [`Failure`] whose
//! reason names the channel, says what to do, and never contains the URL's path or query
//! (where tokens live) or any other secret.

use http::HeaderMap;
use opsdeck_core::FailureKind;
use opsdeck_core::http::{HttpClient, HttpResponse, HttpSettings, Redactor, VendorErrors};
use secrecy::{ExposeSecret, SecretString};
use url::Url;

use crate::policy::{DeliveryPolicy, Failure};

/// Who answers: shapes the advice in failure reasons.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Receiver {
    Webhook,
    Slack,
}

impl Receiver {
    fn name(self) -> &'static str {
        match self {
            Receiver::Webhook => "the webhook receiver",
            Receiver::Slack => "Slack",
        }
    }

    fn url_field(self) -> &'static str {
        match self {
            Receiver::Webhook => "url",
            Receiver::Slack => "webhook_url",
        }
    }
}

impl VendorErrors for Receiver {
    fn classify(
        &self,
        response: &HttpResponse,
        default: opsdeck_core::Error,
    ) -> opsdeck_core::Error {
        let code = response.status.as_u16();
        let said = self
            .vendor_message(response)
            .map(|m| format!(": {m}"))
            .unwrap_or_default();
        let who = self.name();
        let field = self.url_field();
        let message = match (code, self) {
            (300..=399, _) => format!(
                "{who} answered with a redirect (HTTP {code}); opsdeck does not follow redirects (they could carry the signed request elsewhere). Set {field} to the final address."
            ),
            (400 | 422, Receiver::Slack) => format!(
                "Slack refused the message (HTTP {code}{said}). If this persists, report it as an opsdeck bug with the channel's kind."
            ),
            (400 | 422, Receiver::Webhook) => format!(
                "{who} refused the payload (HTTP {code}{said}). Check that url points at an endpoint that accepts opsdeck's JSON (see docs/alerts.md)."
            ),
            (401 | 403, Receiver::Slack) => format!(
                "Slack refused the webhook (HTTP {code}{said}). The app may have been removed or may not post to that channel; create a new incoming webhook and update webhook_url."
            ),
            (401 | 403, Receiver::Webhook) => format!(
                "{who} refused the request (HTTP {code}{said}). Check the signing secret it verifies with and any Authorization header it expects (the channel's headers)."
            ),
            (404 | 410, Receiver::Slack) => format!(
                "Slack does not know this webhook (HTTP {code}{said}); it was revoked or its channel was archived or deleted. Create a new incoming webhook and update webhook_url."
            ),
            (404 | 410, Receiver::Webhook) => format!(
                "nothing receives at this URL (HTTP {code}{said}). Check the channel's url."
            ),
            (408, _) => format!("{who} timed out reading the request (HTTP 408{said})."),
            (429, _) => {
                let wait = default
                    .retry_after()
                    .map(|d| format!(" It asked to retry after {}s.", d.as_secs().max(1)))
                    .unwrap_or_default();
                format!("{who} is rate limiting (HTTP 429{said}).{wait}")
            }
            (500..=599, _) => format!("{who} had a server error (HTTP {code}{said})."),
            _ => {
                format!("{who} answered HTTP {code}{said}, which is not a success; check {field}.")
            }
        };
        default.with_message(message)
    }
}

/// A receiver bound to one URL, built once per channel.
#[derive(Clone)]
pub(crate) struct HttpTarget {
    client: HttpClient,
    /// Path and query, appended to the origin the client is bound to.
    path: String,
    label: String,
    redactor: Redactor,
    receiver: Receiver,
}

impl std::fmt::Debug for HttpTarget {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never the client (its Debug shows the base URL) nor the path.
        f.debug_struct("HttpTarget")
            .field("label", &self.label)
            .finish_non_exhaustive()
    }
}

impl HttpTarget {
    /// A target for `url`. `label` names the channel in reasons; `secrets` are scrubbed from
    /// every reason besides the URL and its path.
    pub(crate) fn new(
        receiver: Receiver,
        url: &SecretString,
        label: String,
        policy: &DeliveryPolicy,
        mut secrets: Vec<SecretString>,
    ) -> Result<HttpTarget, String> {
        let parsed = Url::parse(url.expose_secret())
            .map_err(|_| format!("{label}: the URL is not valid; set it again"))?;
        // The client is bound to the origin and the path is sent per request: core's client
        // would drop a trailing slash from a base URL, and some receivers route on it.
        let origin = Url::parse(&parsed.origin().ascii_serialization())
            .map_err(|_| format!("{label}: the URL has no usable origin; set it again"))?;
        let mut path = parsed.path().to_owned();
        if let Some(q) = parsed.query() {
            path.push('?');
            path.push_str(q);
        }
        let settings = HttpSettings {
            connect_timeout: policy.connect_timeout,
            request_timeout: policy.attempt_timeout,
            // One attempt per call: the outbox schedules the next one durably.
            max_retries: 0,
            ..HttpSettings::default()
        };
        let client = HttpClient::builder(receiver.name(), &origin, &settings)
            .vendor(receiver)
            .build()
            .map_err(|e| format!("{label}: {e}"))?;
        secrets.push(url.clone());
        if path.len() > 1 {
            secrets.push(SecretString::from(path.clone()));
        }
        Ok(HttpTarget {
            client,
            path,
            label,
            redactor: Redactor::new(secrets),
            receiver,
        })
    }

    /// `POST` `body` as JSON with `headers`, once.
    pub(crate) async fn post(&self, body: Vec<u8>, headers: HeaderMap) -> Result<(), Failure> {
        let request = match self.client.post(&self.path) {
            Ok(r) => r,
            Err(e) => {
                return Err(Failure {
                    retryable: false,
                    retry_after: None,
                    reason: self.reason(e.message()),
                });
            }
        };
        let request = request
            .header(http::header::CONTENT_TYPE, "application/json")
            .headers(headers)
            .body(body);
        match self.client.send(request).await {
            Ok(_) => Ok(()),
            Err(e) => Err(self.failure(&e)),
        }
    }

    fn failure(&self, e: &opsdeck_core::Error) -> Failure {
        let retryable = match e.http_status() {
            // 408 is a timeout on the receiver's side and safe to repeat (the delivery id
            // makes a repeat idempotent); other 4xx need a config change.
            Some(408 | 429) => true,
            Some(s) => (500..=599).contains(&s),
            None => matches!(
                e.kind(),
                FailureKind::Timeout
                    | FailureKind::Unreachable
                    | FailureKind::InvalidResponse
                    | FailureKind::ProviderError
                    | FailureKind::RateLimited
            ),
        };
        let mut reason = self.reason(e.message());
        if retryable && e.http_status().is_none() && self.receiver == Receiver::Webhook {
            reason.push_str(" Check the channel's url and that the receiver is up.");
        }
        Failure {
            retryable,
            retry_after: e.retry_after(),
            reason,
        }
    }

    fn reason(&self, message: &str) -> String {
        // Core words transport errors for providers ("Check base_url"); channels call the
        // address by their own field name.
        let message = message.replace(
            "Check base_url, DNS, TLS and proxy settings, and that the host is up.",
            "Check DNS, TLS and proxy settings.",
        );
        let message = message.replace("base_url", self.receiver.url_field());
        self.redactor.scrub(&format!("{}: {message}", self.label))
    }
}
