//! The email channel: a `multipart/alternative` message (plain text and escaped HTML) with a
//! subject that says what happened, sent over SMTP by `lettre` with STARTTLS required
//! (`smtp://`) or implicit TLS (`smtps://`) — never in plain text — on rustls + aws-lc-rs.
//! SMTP replies and connection errors become [`Failure`]s that say what to fix.

use std::str::FromStr;
use std::time::{Duration, SystemTime};

use chrono::{DateTime, Utc};
use lettre::message::header::{HeaderName, HeaderValue};
use lettre::message::{Mailbox, MultiPart};
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Certificate, Tls, TlsParameters};
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use opsdeck_core::http::Redactor;
use secrecy::ExposeSecret;

use crate::config::{EmailConfig, SmtpSecurity};
use crate::message::{DeliveryId, Notification};
use crate::policy::{DeliveryPolicy, Failure};
use crate::slack::is_web_url;
use crate::text::{Summary, Tone, html_escape, one_line};

/// The rustls error behind a failed handshake, if that is what happened. lettre reports a
/// handshake failure during STARTTLS as a connection error, so look through the causes;
/// `io::Error::source` skips the error it wraps, hence the `get_ref`.
fn tls_cause(e: &lettre::transport::smtp::Error) -> Option<String> {
    let mut current: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(err) = current {
        if let Some(tls) = err.downcast_ref::<rustls::Error>() {
            return Some(tls.to_string());
        }
        if let Some(tls) = err
            .downcast_ref::<std::io::Error>()
            .and_then(|io| io.get_ref())
            .and_then(|inner| inner.downcast_ref::<rustls::Error>())
        {
            return Some(tls.to_string());
        }
        current = err.source();
    }
    None
}

/// The three parts of a notification email.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EmailParts {
    /// Subject line: `[opsdeck] ` and what happened.
    pub subject: String,
    /// The text/plain part.
    pub text: String,
    /// The text/html part (every value escaped).
    pub html: String,
}

impl Notification {
    /// The email rendering: subject, plain text and HTML.
    pub fn email_parts(&self, delivery: &DeliveryId) -> EmailParts {
        let s = Summary::of(self);
        let subject = one_line(&format!("[opsdeck] {}", s.title));
        let footer = format!(
            "Sent by opsdeck · event {} · delivery {}",
            self.event(),
            delivery
        );

        let mut text = format!("{}\n\n", s.title);
        if !s.message.trim().is_empty() {
            text.push_str(&format!("{}\n\n", s.message));
        }
        for (label, value) in &s.facts {
            text.push_str(&format!("{label}: {value}\n"));
        }
        if let Some((label, url)) = &s.link {
            text.push_str(&format!("\n{label}: {url}\n"));
        }
        text.push_str(&format!("\n-- \n{footer}\n"));

        let colour = match s.tone {
            Tone::Bad => "#b3261e",
            Tone::Good => "#1e7b34",
            Tone::Warning => "#8a5a00",
            Tone::Info => "#1f4e8c",
        };
        let mut html = String::from(
            "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"></head>\n<body style=\"font-family: sans-serif; line-height: 1.4\">\n",
        );
        html.push_str(&format!(
            "<h2 style=\"color: {colour}\">{}</h2>\n",
            html_escape(&s.title)
        ));
        if !s.message.trim().is_empty() {
            html.push_str(&format!("<p>{}</p>\n", html_escape(&s.message)));
        }
        html.push_str("<table cellpadding=\"4\">\n");
        for (label, value) in &s.facts {
            html.push_str(&format!(
                "<tr><th align=\"left\">{}</th><td>{}</td></tr>\n",
                html_escape(label),
                html_escape(value)
            ));
        }
        html.push_str("</table>\n");
        if let Some((label, url)) = &s.link
            && is_web_url(url)
        {
            html.push_str(&format!(
                "<p><a href=\"{}\">{}</a></p>\n",
                html_escape(url),
                html_escape(label)
            ));
        }
        html.push_str(&format!(
            "<p style=\"color: #666; font-size: 12px\">{}</p>\n</body></html>\n",
            html_escape(&footer)
        ));
        EmailParts {
            subject,
            text,
            html,
        }
    }
}

#[derive(Clone)]
pub(crate) struct EmailSender {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    from: Mailbox,
    to: Vec<Mailbox>,
    security: SmtpSecurity,
    host: String,
    port: u16,
    label: String,
    redactor: Redactor,
    attempt_timeout: Duration,
}

impl std::fmt::Debug for EmailSender {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Not the transport: its Debug may include the credentials.
        f.debug_struct("EmailSender")
            .field("label", &self.label)
            .finish_non_exhaustive()
    }
}

impl EmailSender {
    pub(crate) fn new(
        config: &EmailConfig,
        label: String,
        policy: &DeliveryPolicy,
        extra_roots: &[Vec<u8>],
    ) -> Result<EmailSender, String> {
        let from = Mailbox::from_str(&config.from)
            .map_err(|e| format!("{label}: from is not an email address ({e})"))?;
        let to = config
            .to
            .iter()
            .map(|t| Mailbox::from_str(t))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| format!("{label}: a recipient is not an email address ({e})"))?;
        let mut tls = TlsParameters::builder(config.host.clone());
        for pem in extra_roots {
            let cert = Certificate::from_pem(pem).map_err(|e| {
                format!("{label}: an extra root certificate could not be read ({e})")
            })?;
            tls = tls.add_root_certificate(cert);
        }
        opsdeck_core::install_crypto_provider();
        let tls = tls
            .build_rustls()
            .map_err(|e| format!("{label}: could not set up TLS ({e})"))?;
        let tls = match config.security {
            SmtpSecurity::StartTls => Tls::Required(tls),
            SmtpSecurity::ImplicitTls => Tls::Wrapper(tls),
        };
        let mut builder = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(&config.host)
            .port(config.port)
            .tls(tls)
            .timeout(Some(policy.attempt_timeout));
        let mut secrets = Vec::new();
        if let (Some(user), Some(password)) = (&config.username, &config.password) {
            builder = builder.credentials(Credentials::new(
                user.clone(),
                password.expose_secret().to_owned(),
            ));
            secrets.push(password.clone());
        }
        Ok(EmailSender {
            transport: builder.build(),
            from,
            to,
            security: config.security,
            host: config.host.clone(),
            port: config.port,
            label,
            redactor: Redactor::new(secrets),
            attempt_timeout: policy.attempt_timeout,
        })
    }

    fn message(
        &self,
        notification: &Notification,
        delivery: &DeliveryId,
        now: DateTime<Utc>,
    ) -> Result<Message, Failure> {
        let parts = notification.email_parts(delivery);
        let mut builder = Message::builder()
            .from(self.from.clone())
            .subject(parts.subject)
            .date(SystemTime::from(now))
            // Stable across retries, so a retried email threads with (or is dropped as a
            // duplicate of) one that did arrive.
            .message_id(Some(format!("<{}@{}>", delivery, self.from.email.domain())));
        for to in &self.to {
            builder = builder.to(to.clone());
        }
        let mut message = builder
            .multipart(MultiPart::alternative_plain_html(parts.text, parts.html))
            .map_err(|e| Failure {
                retryable: false,
                retry_after: None,
                reason: format!("{}: could not build the email ({e}).", self.label),
            })?;
        let headers = message.headers_mut();
        let mut put = |name: &'static str, value: String| {
            headers.insert_raw(HeaderValue::new(
                HeaderName::new_from_ascii_str(name),
                value,
            ));
        };
        put("X-Opsdeck-Event", notification.event().as_str().to_owned());
        put("X-Opsdeck-Delivery", delivery.as_str().to_owned());
        // RFC 3834: tells auto-responders (out-of-office) not to answer.
        put("Auto-Submitted", "auto-generated".to_owned());
        Ok(message)
    }

    pub(crate) async fn send(
        &self,
        notification: &Notification,
        delivery: &DeliveryId,
        now: DateTime<Utc>,
    ) -> Result<(), Failure> {
        let message = self.message(notification, delivery, now)?;
        match tokio::time::timeout(self.attempt_timeout, self.transport.send(message)).await {
            Ok(Ok(_)) => Ok(()),
            Ok(Err(e)) => Err(self.failure(&e)),
            Err(_) => Err(self.timeout()),
        }
    }

    fn scheme_hint(&self) -> &'static str {
        match self.security {
            SmtpSecurity::StartTls => {
                "smtp:// connects in plain text and then requires STARTTLS (usually port 587); a server that speaks TLS from the first byte (usually port 465) needs smtps://."
            }
            SmtpSecurity::ImplicitTls => {
                "smtps:// expects TLS from the first byte (usually port 465); a server on port 587 or 25 usually needs smtp:// (STARTTLS)."
            }
        }
    }

    fn timeout(&self) -> Failure {
        Failure {
            retryable: true,
            retry_after: None,
            reason: format!(
                "{}: the SMTP server at {}:{} did not finish the session within {}s. If this keeps happening, check the port: {}",
                self.label,
                self.host,
                self.port,
                self.attempt_timeout.as_secs(),
                self.scheme_hint()
            ),
        }
    }

    fn failure(&self, e: &lettre::transport::smtp::Error) -> Failure {
        let detail = self.redactor.scrub(&e.to_string());
        let at = format!("{}:{}", self.host, self.port);
        let (retryable, what) = if let Some(code) = e.status() {
            let code = code.to_string();
            if e.is_transient() {
                (
                    true,
                    format!("the SMTP server at {at} deferred the message ({detail})."),
                )
            } else if matches!(code.as_str(), "530" | "534" | "535" | "538") {
                (
                    false,
                    format!(
                        "the SMTP server at {at} rejected the login ({detail}). Check username and password (some providers require an app password)."
                    ),
                )
            } else if matches!(code.as_str(), "550" | "551" | "552" | "553" | "554" | "555") {
                (
                    false,
                    format!(
                        "the SMTP server at {at} refused the message ({detail}). Check from (the account may not be allowed to send as that address) and to."
                    ),
                )
            } else {
                (
                    false,
                    format!("the SMTP server at {at} refused the message ({detail})."),
                )
            }
        } else if e.is_timeout() {
            return self.timeout();
        } else if let Some(cause) = tls_cause(e).or_else(|| e.is_tls().then(|| detail.clone())) {
            (
                false,
                format!(
                    "the TLS handshake with {at} failed ({cause}). Check that the server's certificate is valid for {} and issued by a trusted authority. {}",
                    self.host,
                    self.scheme_hint()
                ),
            )
        } else if e.is_client() {
            let hint = if detail.contains("STARTTLS") {
                " opsdeck never sends mail or passwords in plain text; if the server speaks TLS from the first byte, use smtps://."
            } else if detail.contains("authentication mechanism") {
                " The server offers no login method opsdeck supports (PLAIN or LOGIN over TLS); check username and password, or remove them if the relay needs no login."
            } else {
                ""
            };
            (
                false,
                format!("the SMTP session with {at} failed ({detail}).{hint}"),
            )
        } else if e.is_response() {
            (
                true,
                format!("the SMTP server at {at} sent a reply opsdeck could not read ({detail})."),
            )
        } else {
            (
                true,
                format!(
                    "could not connect to the SMTP server at {at} ({detail}). Check smtp_url and that the server is up."
                ),
            )
        };
        Failure {
            retryable,
            retry_after: None,
            reason: format!("{}: {what}", self.label),
        }
    }
}
