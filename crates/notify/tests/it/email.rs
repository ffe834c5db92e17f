//! The email channel against the in-test SMTP server: STARTTLS then AUTH (the certificate
//! comes from a test CA the channel is told to trust), implicit TLS, the message's parts and
//! headers, and the failures a user meets: wrong password, refused connection, a server
//! without STARTTLS, an untrusted certificate, a temporary refusal.

use mail_parser::MessageParser;
use opsdeck_notify::{AlertEvent, Channel, ChannelOptions, Notification, Outcome};
use opsdeck_testkit::{LogCapture, assert_no_secrets, dead_url};
use serde_json::json;

use crate::smtp_server::{Behaviour, Mode, SmtpServer};
use crate::support::{alert, delivery, firing, policy, t};

const PASSWORD: &str = "smtp-pass-s3cret";

async fn server(b: Behaviour) -> SmtpServer {
    SmtpServer::start(b).await.unwrap_or_else(|e| panic!("{e}"))
}

fn channel(scheme: &str, port: u16, password: &str, roots: Vec<Vec<u8>>) -> Channel {
    Channel::from_json(
        "oncall-mail",
        &json!({"kind": "email", "smtp_url": format!("{scheme}://127.0.0.1:{port}"),
                "username": "opsdeck", "password": password,
                "from": "opsdeck <opsdeck@example.com>",
                "to": ["oncall@example.com", "Second <second@example.com>"]}),
        &ChannelOptions {
            policy: policy(),
            extra_root_certificates: roots,
        },
    )
    .unwrap_or_else(|e| panic!("{e}"))
}

fn escaped_alert() -> Notification {
    let mut a = alert(AlertEvent::Firing);
    a.message = "Token <ghp_…> rejected & \"revoked\"".into();
    Notification::Alert(a)
}

#[tokio::test]
async fn a_starttls_session_logs_in_after_tls_and_sends_text_and_html() {
    let smtp = server(Behaviour::new(Mode::StartTls)).await;
    let ch = channel("smtp", smtp.port, PASSWORD, vec![smtp.ca_pem.clone()]);
    let outcome = ch
        .send_once(
            &escaped_alert(),
            &delivery("dlv-mail-1"),
            1,
            t("2025-06-03T02:00:05Z"),
        )
        .await;
    assert_eq!(outcome, Outcome::Delivered);

    let sessions = smtp.sessions();
    assert_eq!(sessions.len(), 1);
    let s = &sessions[0];
    assert!(s.tls, "STARTTLS was not used");
    let starttls = s.commands.iter().position(|c| c == "STARTTLS");
    let auth = s.commands.iter().position(|c| c.starts_with("AUTH"));
    assert!(
        matches!((starttls, auth), (Some(a), Some(b)) if a < b),
        "AUTH must follow STARTTLS: {:?}",
        s.commands
    );
    assert_eq!(s.login, Some(("opsdeck".into(), PASSWORD.into())));
    assert_eq!(s.mail_from.as_deref(), Some("<opsdeck@example.com>"));
    assert_eq!(s.rcpt_to, ["<oncall@example.com>", "<second@example.com>"]);

    let data = s.data.clone().unwrap_or_default();
    let Some(msg) = MessageParser::default().parse(&data) else {
        panic!("unparseable message:\n{}", String::from_utf8_lossy(&data));
    };
    assert_eq!(
        msg.subject(),
        Some("[opsdeck] Firing: gh-main (github) is failing: invalid credentials")
    );
    assert_eq!(msg.message_id(), Some("dlv-mail-1@example.com"));
    assert_eq!(
        msg.date().map(|d| d.to_timestamp()),
        Some(t("2025-06-03T02:00:05Z").timestamp())
    );
    let header = |name: &str| {
        msg.header_raw(name)
            .map(|v| v.trim().to_owned())
            .unwrap_or_default()
    };
    assert_eq!(header("X-Opsdeck-Event"), "alert.firing");
    assert_eq!(header("X-Opsdeck-Delivery"), "dlv-mail-1");
    assert_eq!(header("Auto-Submitted"), "auto-generated");
    assert_eq!(msg.text_body.len(), 1);
    assert_eq!(msg.html_body.len(), 1);
    let text = msg.body_text(0).unwrap_or_default();
    let html = msg.body_html(0).unwrap_or_default();
    assert!(
        text.contains("Token <ghp_…> rejected & \"revoked\""),
        "{text}"
    );
    assert!(text.contains("Service: gh-main"), "{text}");
    assert!(
        text.contains("Open gh-main in opsdeck: https://opsdeck.example.com/#/services/gh-main"),
        "{text}"
    );
    assert!(
        html.contains("Token &lt;ghp_…&gt; rejected &amp; &quot;revoked&quot;"),
        "{html}"
    );
    assert!(
        html.contains(
            "<a href=\"https://opsdeck.example.com/#/services/gh-main\">Open gh-main in opsdeck</a>"
        ),
        "{html}"
    );
    assert!(!html.contains("<ghp_"), "{html}");
}

#[tokio::test]
async fn an_implicit_tls_session_delivers() {
    let smtp = server(Behaviour::new(Mode::Implicit)).await;
    let ch = channel("smtps", smtp.port, PASSWORD, vec![smtp.ca_pem.clone()]);
    let outcome = ch
        .send_once(&firing(), &delivery("d"), 1, t("2025-06-03T02:00:05Z"))
        .await;
    assert_eq!(outcome, Outcome::Delivered);
    let s = &smtp.sessions()[0];
    assert!(s.tls && s.login.is_some() && s.data.is_some(), "{s:?}");
    assert!(!s.commands.iter().any(|c| c == "STARTTLS"));
}

#[tokio::test]
async fn a_wrong_password_gives_up_with_a_clear_reason() {
    let logs = LogCapture::install();
    let smtp = server(Behaviour::new(Mode::StartTls)).await;
    let wrong = "wrong-pass-123456";
    let ch = channel("smtp", smtp.port, wrong, vec![smtp.ca_pem.clone()]);
    let outcome = ch
        .send_once(&firing(), &delivery("d"), 1, t("2025-06-03T02:00:05Z"))
        .await;
    let Outcome::GaveUp { reason } = &outcome else {
        panic!("expected to give up, got {outcome:?}");
    };
    assert!(
        reason.starts_with("channel \"oncall-mail\" (email to oncall@example.com, Second <second@example.com> via 127.0.0.1:"),
        "{reason}"
    );
    assert!(reason.contains("rejected the login"), "{reason}");
    assert!(reason.contains("535"), "{reason}");
    assert!(reason.contains("Check username and password"), "{reason}");
    assert_eq!(smtp.sessions()[0].failed_logins, 1);
    assert!(smtp.sessions()[0].data.is_none());
    assert_no_secrets(
        "the reason and logs",
        &format!("{reason}{}", logs.contents()),
        &[wrong],
    );
}

#[tokio::test]
async fn a_refused_connection_is_retried_with_a_clear_reason() {
    let url = dead_url().unwrap_or_else(|e| panic!("{e}"));
    let port: u16 = url
        .rsplit(':')
        .next()
        .and_then(|p| p.parse().ok())
        .unwrap_or(1);
    let ch = channel("smtp", port, PASSWORD, Vec::new());
    let outcome = ch
        .send_once(&firing(), &delivery("d"), 1, t("2025-06-03T02:00:05Z"))
        .await;
    let Outcome::Retry { reason, .. } = &outcome else {
        panic!("expected a retry, got {outcome:?}");
    };
    assert!(
        reason.contains(&format!(
            "could not connect to the SMTP server at 127.0.0.1:{port}"
        )),
        "{reason}"
    );
    assert!(reason.to_lowercase().contains("refused"), "{reason}");
    assert!(reason.contains("Check smtp_url"), "{reason}");
}

#[tokio::test]
async fn a_server_without_starttls_is_not_used_in_plain_text() {
    let smtp = server(Behaviour::new(Mode::NoTls)).await;
    let ch = channel("smtp", smtp.port, PASSWORD, vec![smtp.ca_pem.clone()]);
    let outcome = ch
        .send_once(&firing(), &delivery("d"), 1, t("2025-06-03T02:00:05Z"))
        .await;
    let Outcome::GaveUp { reason } = &outcome else {
        panic!("expected to give up, got {outcome:?}");
    };
    assert!(reason.contains("STARTTLS"), "{reason}");
    assert!(
        reason.contains("never sends mail or passwords in plain text"),
        "{reason}"
    );
    let s = &smtp.sessions()[0];
    assert!(s.login.is_none() && s.mail_from.is_none(), "{s:?}");
    assert!(
        !s.commands
            .iter()
            .any(|c| c.starts_with("AUTH") || c.starts_with("MAIL"))
    );
}

#[tokio::test]
async fn an_untrusted_certificate_fails_the_handshake() {
    let smtp = server(Behaviour::new(Mode::StartTls)).await;
    let ch = channel("smtp", smtp.port, PASSWORD, Vec::new());
    let outcome = ch
        .send_once(&firing(), &delivery("d"), 1, t("2025-06-03T02:00:05Z"))
        .await;
    let Outcome::GaveUp { reason } = &outcome else {
        panic!("expected to give up, got {outcome:?}");
    };
    assert!(reason.contains("TLS handshake with 127.0.0.1:"), "{reason}");
    assert!(reason.contains("certificate"), "{reason}");
    assert!(smtp.sessions()[0].login.is_none());
}

#[tokio::test]
async fn a_temporary_refusal_is_retried() {
    let mut b = Behaviour::new(Mode::StartTls);
    b.defer_mail = true;
    let smtp = server(b).await;
    let ch = channel("smtp", smtp.port, PASSWORD, vec![smtp.ca_pem.clone()]);
    let outcome = ch
        .send_once(&firing(), &delivery("d"), 1, t("2025-06-03T02:00:05Z"))
        .await;
    let Outcome::Retry { reason, .. } = &outcome else {
        panic!("expected a retry, got {outcome:?}");
    };
    assert!(reason.contains("deferred the message"), "{reason}");
    assert!(reason.contains("451"), "{reason}");
}

#[tokio::test]
async fn send_test_sends_a_test_email() {
    let smtp = server(Behaviour::new(Mode::StartTls)).await;
    let ch = channel("smtp", smtp.port, PASSWORD, vec![smtp.ca_pem.clone()]);
    let result = ch.send_test(t("2025-06-03T02:00:05Z")).await;
    assert!(result.ok, "{result:?}");
    let data = smtp.sessions()[0].data.clone().unwrap_or_default();
    let msg = MessageParser::default().parse(&data);
    assert_eq!(
        msg.as_ref().and_then(|m| m.subject()),
        Some("[opsdeck] Test notification for channel oncall-mail")
    );
    assert_eq!(
        msg.as_ref()
            .and_then(|m| m.header_raw("X-Opsdeck-Delivery"))
            .map(str::trim),
        Some(result.delivery.as_str())
    );
}

#[tokio::test]
async fn smtps_against_a_starttls_port_explains_the_scheme() {
    let smtp = server(Behaviour::new(Mode::StartTls)).await;
    let ch = channel("smtps", smtp.port, PASSWORD, vec![smtp.ca_pem.clone()]);
    let outcome = ch
        .send_once(&firing(), &delivery("d"), 1, t("2025-06-03T02:00:05Z"))
        .await;
    let Outcome::GaveUp { reason } = &outcome else {
        panic!("expected to give up, got {outcome:?}");
    };
    assert!(reason.contains("TLS handshake"), "{reason}");
    assert!(
        reason.contains("a server on port 587 or 25 usually needs smtp:// (STARTTLS)"),
        "{reason}"
    );
}

#[tokio::test(start_paused = true)]
async fn smtp_against_an_implicit_tls_port_times_out_with_a_hint() {
    // The client waits for a plain greeting while the server waits for a TLS hello: only the
    // attempt timeout ends it (tokio's paused clock makes that instant).
    let smtp = server(Behaviour::new(Mode::Implicit)).await;
    let ch = channel("smtp", smtp.port, PASSWORD, vec![smtp.ca_pem.clone()]);
    let outcome = ch
        .send_once(&firing(), &delivery("d"), 1, t("2025-06-03T02:00:05Z"))
        .await;
    let Outcome::Retry { reason, .. } = &outcome else {
        panic!("expected a retry, got {outcome:?}");
    };
    assert!(
        reason.contains("did not finish the session within 20s"),
        "{reason}"
    );
    assert!(
        reason.contains("(usually port 465) needs smtps://"),
        "{reason}"
    );
}
