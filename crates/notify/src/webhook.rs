//! The webhook channel: the contract's JSON body, `POST`ed with the `X-Opsdeck-*` headers and
//! the HMAC signature over `"<timestamp>.<raw body>"` (see [`crate::signature`]).

use chrono::{DateTime, Utc};
use http::{HeaderMap, HeaderName, HeaderValue};
use secrecy::{ExposeSecret, SecretString};

use crate::config::WebhookConfig;
use crate::http_target::{HttpTarget, Receiver};
use crate::message::{DeliveryId, Notification};
use crate::policy::{DeliveryPolicy, Failure};
use crate::signature;

#[derive(Clone)]
pub(crate) struct WebhookSender {
    target: HttpTarget,
    secret: SecretString,
    headers: HeaderMap,
}

impl std::fmt::Debug for WebhookSender {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WebhookSender")
            .field("target", &self.target)
            .finish_non_exhaustive()
    }
}

impl WebhookSender {
    pub(crate) fn new(
        config: &WebhookConfig,
        label: String,
        policy: &DeliveryPolicy,
    ) -> Result<WebhookSender, String> {
        let mut headers = HeaderMap::new();
        let mut secrets = vec![config.secret.clone()];
        for (name, value) in &config.headers {
            let name = HeaderName::from_bytes(name.as_bytes())
                .map_err(|_| format!("{label}: header {name} has an invalid name"))?;
            let mut v = HeaderValue::from_str(value.expose_secret())
                .map_err(|_| format!("{label}: header {name} has an invalid value"))?;
            // Sensitive values are left out of HTTP/2 header compression tables and of
            // hyper's debug output.
            v.set_sensitive(true);
            headers.append(name, v);
            secrets.push(value.clone());
        }
        let target = HttpTarget::new(Receiver::Webhook, &config.url, label, policy, secrets)?;
        Ok(WebhookSender {
            target,
            secret: config.secret.clone(),
            headers,
        })
    }

    pub(crate) async fn send(
        &self,
        notification: &Notification,
        delivery: &DeliveryId,
        now: DateTime<Utc>,
    ) -> Result<(), Failure> {
        let (headers, body) =
            signed_request(&self.secret, &self.headers, notification, delivery, now);
        self.target.post(body, headers).await
    }
}

/// The headers and body of one attempt. The body depends only on the notification and the
/// delivery id; the timestamp (and so the signature) is the time of this attempt.
fn signed_request(
    secret: &SecretString,
    extra: &HeaderMap,
    notification: &Notification,
    delivery: &DeliveryId,
    now: DateTime<Utc>,
) -> (HeaderMap, Vec<u8>) {
    let body = notification.webhook_body(delivery);
    let timestamp = now.timestamp();
    let signature = signature::sign(secret, timestamp, &body);
    let mut headers = extra.clone();
    let mut put = |name: &'static str, value: String| {
        if let Ok(v) = HeaderValue::from_str(&value) {
            headers.insert(HeaderName::from_static(name), v);
        }
    };
    put("x-opsdeck-event", notification.event().as_str().to_owned());
    put("x-opsdeck-delivery", delivery.as_str().to_owned());
    put("idempotency-key", delivery.as_str().to_owned());
    put("x-opsdeck-timestamp", timestamp.to_string());
    put("x-opsdeck-signature", signature);
    (headers, body)
}
