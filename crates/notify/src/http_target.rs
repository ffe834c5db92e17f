//! One HTTP receiver (a webhook URL or a Slack incoming webhook): a single `POST` per attempt
//! through core's `HttpClient` (rustls, `User-Agent: opsdeck/<version>`, connect and request
//! timeouts, redirects refused), with the response classified into a [`Failure`] whose
//! reason names the channel, says what to do, and never contains the URL's path or query
//! (where tokens live) or any other secret.

use http::HeaderMap;
use opsdeck_core::FailureKind;
use opsdeck_core::http::{
    HttpClient, HttpResponse, HttpSettings, Redactor, RequestCtx, VendorError, VendorErrors,
    Verdict,
};
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
        _ctx: &RequestCtx<'_>,
        response: &HttpResponse,
        _error: &VendorError,
        default: Verdict,
    ) -> Verdict {
        let code = response.status.as_u16();
        let who = self.name();
        let field = self.url_field();
        let (summary, hint): (String, Option<String>) = match (code, self) {
            (300..=399, _) => (
                format!("{who} answered with a redirect"),
                Some(format!(
                    "opsdeck does not follow redirects (they could carry the signed request elsewhere). Set {field} to the final address."
                )),
            ),
            (400 | 422, Receiver::Slack) => (
                "Slack refused the message".to_owned(),
                Some("If this persists, report it as an opsdeck bug with the channel's kind.".to_owned()),
            ),
            (400 | 422, Receiver::Webhook) => (
                format!("{who} refused the payload"),
                Some("Check that url points at an endpoint that accepts opsdeck's JSON (see docs/alerts.md).".to_owned()),
            ),
            (401 | 403, Receiver::Slack) => (
                "Slack refused the webhook".to_owned(),
                Some("The app may have been removed or may not post to that channel; create a new incoming webhook and update webhook_url.".to_owned()),
            ),
            (401 | 403, Receiver::Webhook) => (
                format!("{who} refused the request"),
                Some("Check the signing secret it verifies with and any Authorization header it expects (the channel's headers).".to_owned()),
            ),
            (404 | 410, Receiver::Slack) => (
                "Slack does not know this webhook".to_owned(),
                Some("It was revoked or its channel was archived or deleted. Create a new incoming webhook and update webhook_url.".to_owned()),
            ),
            (404 | 410, Receiver::Webhook) => (
                "nothing receives at this URL".to_owned(),
                Some("Check the channel's url.".to_owned()),
            ),
            (408, _) => (format!("{who} timed out reading the request"), None),
            (429, _) => (format!("{who} is rate limiting"), None),
            (500..=599, _) => (format!("{who} had a server error"), None),
            _ => (
                format!("{who} answered with a status that is not a success"),
                Some(format!("Check {field}.")),
            ),
        };
        let verdict = default.with_summary(summary);
        match hint {
            Some(h) => verdict.with_hint(h),
            None => verdict.with_hint(String::new()),
        }
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
        // One attempt per call: the outbox schedules the next one durably.
        let settings = HttpSettings::default()
            .with_connect_timeout(policy.connect_timeout)
            .with_request_timeout(policy.attempt_timeout)
            .with_max_retries(0);
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
        let mut reason = match e.hint().filter(|h| !h.is_empty()) {
            Some(hint) => self.reason(&format!("{} {hint}", e.message())),
            None => self.reason(e.message()),
        };
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
