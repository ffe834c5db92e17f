//! Channel configuration: the issue's TOML contract, every problem at once, secrets hidden,
//! the plain/secret split for storage, and the JSON shape from the API.

use std::collections::BTreeMap;

use opsdeck_notify::config::{TABLE, parse_channels_file};
use opsdeck_notify::{Channel, ChannelConfig, ChannelKind};
use secrecy::{ExposeSecret, SecretString};
use serde_json::{Value, json};

use crate::support::options;

const CONTRACT: &str = r#"
[services.gh-main]
provider = "github"
token = "x"

[channels.ops-hook]
kind = "webhook"
url = "https://hooks.example.com/opsdeck"
secret = "${OPSDECK_HOOK_SECRET}"

[channels.team-slack]
kind = "slack"
webhook_url = "${SLACK_WEBHOOK_URL}"

[channels.oncall-mail]
kind = "email"
smtp_url = "smtp://mailer.example.com:587"   # smtps:// for implicit TLS
username = "opsdeck"
password = "${SMTP_PASSWORD}"
from = "opsdeck@example.com"
to = ["oncall@example.com"]
"#;

const HOOK_SECRET: &str = "hook-secret-0123456789";
const SLACK_URL: &str = "https://hooks.slack.com/services/T000/B000/slacktoken123";
const SMTP_PASSWORD: &str = "smtp-password-xyz";

fn env(name: &str) -> Option<String> {
    match name {
        "OPSDECK_HOOK_SECRET" => Some(HOOK_SECRET.into()),
        "SLACK_WEBHOOK_URL" => Some(SLACK_URL.into()),
        "SMTP_PASSWORD" => Some(SMTP_PASSWORD.into()),
        _ => None,
    }
}

fn contract_channels() -> Vec<(String, ChannelConfig)> {
    parse_channels_file(CONTRACT, &env).unwrap_or_else(|e| panic!("{e}"))
}

#[test]
fn the_issue_contract_parses() {
    let channels = contract_channels();
    let summary: Vec<(String, ChannelKind, String)> = channels
        .iter()
        .map(|(n, c)| (n.clone(), c.kind(), c.destination()))
        .collect();
    assert_eq!(
        summary,
        vec![
            (
                "oncall-mail".into(),
                ChannelKind::Email,
                "oncall@example.com via mailer.example.com:587".into()
            ),
            (
                "ops-hook".into(),
                ChannelKind::Webhook,
                "hooks.example.com".into()
            ),
            (
                "team-slack".into(),
                ChannelKind::Slack,
                "hooks.slack.com".into()
            ),
        ]
    );
    for (name, config) in &channels {
        assert!(Channel::new(name, config, &options(Default::default())).is_ok());
    }
    // A file without channels has none.
    assert!(
        parse_channels_file("[services.a]\nprovider = \"github\"\n", &env)
            .is_ok_and(|c| c.is_empty())
    );
}

#[test]
fn every_problem_is_reported_at_once_with_table_name_and_field() {
    let text = r#"
[channels.hook]
kind = "webhook"
url = "ftp://hooks.example.com/x"
secrt = "abc"
headers = { "X-Opsdeck-Event" = "spoof", Authorization = 5 }

[channels.short]
kind = "webhook"
url = "https://user:pw@hooks.example.com/x"
secret = "too-short"

[channels.chat]
kind = "slak"
webhook_url = "https://hooks.slack.com/services/x"

[channels.slack2]
kind = "slack"
webhook_url = 5

[channels.mail]
kind = "email"
smtp_url = "http://mailer.example.com"
username = "opsdeck"
from = "not an address"
to = []

[channels.mail2]
kind = "email"
smtp_url = "smtps://mailer.example.com"
password = "${NOT_SET}"
from = "opsdeck@example.com"
to = ["ok@example.com", "nope"]

[channels."bad name"]
kind = "slack"
webhook_url = "https://hooks.slack.com/services/x"
"#;
    let Err(errors) = parse_channels_file(text, &env) else {
        panic!("expected problems");
    };
    let found: Vec<(String, String)> = errors
        .problems
        .iter()
        .map(|p| {
            assert_eq!(p.table, TABLE);
            (
                p.name.clone().unwrap_or_default(),
                p.field.clone().unwrap_or_default(),
            )
        })
        .collect();
    let expected: Vec<(String, String)> = [
        ("bad name", ""),
        ("chat", "kind"),
        ("hook", "secrt"),
        ("hook", "url"),
        ("hook", "secret"),
        ("hook", "headers.Authorization"),
        ("hook", "headers.X-Opsdeck-Event"),
        ("mail", "smtp_url"),
        ("mail", "password"),
        ("mail", "from"),
        ("mail", "to"),
        ("mail2", "password"),
        ("mail2", "to"),
        ("short", "url"),
        ("short", "secret"),
        ("slack2", "webhook_url"),
    ]
    .iter()
    .map(|(a, b)| ((*a).to_owned(), (*b).to_owned()))
    .collect();
    assert_eq!(found, expected, "{errors}");

    let rendered = errors.to_string();
    assert!(
        rendered.starts_with("16 channel configuration problems"),
        "{rendered}"
    );
    for needle in [
        "channels.chat.kind: \"slak\" is not a channel kind",
        "(did you mean \"slack\"?)",
        "channels.hook.secrt: unknown field for a webhook channel",
        "(did you mean \"secret\"?)",
        "channels.hook.url: the URL scheme must be https (or http), not \"ftp\"",
        "channels.hook.secret: missing required field",
        "channels.hook.headers.X-Opsdeck-Event: opsdeck sets this header itself",
        "channels.short.secret: must be at least 16 characters",
        "channels.mail.smtp_url: the scheme must be smtp:// (STARTTLS) or smtps:// (implicit TLS)",
        "channels.mail.password: missing: username is set",
        "channels.mail.to: give at least one recipient address",
        "channels.mail2.password: environment variable NOT_SET is not set",
        "channels.mail2.to: item 2 is not an email address",
        "channels.slack2.webhook_url: expected a string, got a number",
        "channels.bad name: invalid channel name",
    ] {
        assert!(
            rendered.contains(needle),
            "missing {needle:?} in:\n{rendered}"
        );
    }
    // The URL with credentials is refused without repeating them.
    assert!(!rendered.contains("user:pw"), "{rendered}");

    let problem = serde_json::to_value(&errors.problems[1]).unwrap_or_default();
    assert_eq!(
        problem,
        json!({"table": "channels", "name": "chat", "field": "kind",
               "message": "\"slak\" is not a channel kind; expected one of \"webhook\", \"slack\", \"email\" (did you mean \"slack\"?)"})
    );
}

#[test]
fn a_missing_kind_and_a_non_table_are_reported() {
    let Err(e) = ChannelConfig::from_json("x", &json!({"url": "https://a.example"})) else {
        panic!("expected a problem");
    };
    assert_eq!(e.problems.len(), 1);
    assert_eq!(e.problems[0].field.as_deref(), Some("kind"));
    let Err(e) = ChannelConfig::from_json("x", &json!("webhook")) else {
        panic!("expected a problem");
    };
    assert!(e.problems[0].message.contains("expected a table"), "{e}");
}

#[test]
fn secrets_never_appear_in_debug() {
    let mut channels = contract_channels();
    channels.push((
        "with-headers".into(),
        ChannelConfig::from_json(
            "with-headers",
            &json!({"kind": "webhook",
                    "url": "https://hooks.example.com/in/tok-in-path-123?key=tok-in-query-456",
                    "secret": HOOK_SECRET,
                    "headers": {"Authorization": "Bearer header-token-789"}}),
        )
        .unwrap_or_else(|e| panic!("{e}")),
    ));
    let secrets = [
        HOOK_SECRET,
        "slacktoken123",
        "/services/T000",
        SMTP_PASSWORD,
        "tok-in-path-123",
        "tok-in-query-456",
        "header-token-789",
        "/opsdeck",
    ];
    for (name, config) in &channels {
        let debug = format!("{config:?} {config:#?}");
        let channel = Channel::new(name, config, &options(Default::default()))
            .unwrap_or_else(|e| panic!("{e}"));
        let debug = format!("{debug} {channel:?} {channel:#?}");
        opsdeck_testkit::assert_no_secrets(&format!("Debug of {name}"), &debug, &secrets);
        assert!(debug.contains(name) || debug.contains("Webhook") || debug.contains("Email"));
    }
}

#[test]
fn split_hides_secrets_and_round_trips() {
    for (name, config) in contract_channels() {
        let (plain, secrets) = config.split();
        let plain_text = Value::Object(plain.clone()).to_string();
        opsdeck_testkit::assert_no_secrets(
            "the plain part",
            &plain_text,
            &[
                HOOK_SECRET,
                "slacktoken123",
                SMTP_PASSWORD,
                "hooks.example.com/opsdeck",
            ],
        );
        let back =
            ChannelConfig::from_parts(&name, &plain, &secrets).unwrap_or_else(|e| panic!("{e}"));
        let (plain2, secrets2) = back.split();
        assert_eq!(plain, plain2);
        let expose = |m: &BTreeMap<String, SecretString>| {
            m.iter()
                .map(|(k, v)| (k.clone(), v.expose_secret().to_owned()))
                .collect::<Vec<_>>()
        };
        assert_eq!(expose(&secrets), expose(&secrets2));
    }
    let with_headers = ChannelConfig::from_json(
        "h",
        &json!({"kind": "webhook", "url": "https://h.example/x", "secret": HOOK_SECRET,
                "headers": {"Authorization": "Bearer abc"}}),
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let (plain, secrets) = with_headers.split();
    let back = ChannelConfig::from_parts("h", &plain, &secrets).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(format!("{back:?}"), format!("{with_headers:?}"));
}

#[test]
fn views_show_secrets_as_set_markers() {
    let channels = contract_channels();
    let views: Vec<Value> = channels
        .iter()
        .map(|(_, c)| Value::Object(c.view()))
        .collect();
    assert_eq!(
        views,
        vec![
            json!({"kind": "email", "smtp_url": "smtp://mailer.example.com:587", "username": "opsdeck",
                   "password": {"set": true}, "from": "opsdeck@example.com", "to": ["oncall@example.com"]}),
            json!({"kind": "webhook", "url": {"set": true}, "secret": {"set": true}, "headers": {"set": false}}),
            json!({"kind": "slack", "webhook_url": {"set": true}}),
        ]
    );
}

#[test]
fn the_api_json_shape_is_the_config_shape() {
    let config = ChannelConfig::from_json(
        "oncall-mail",
        &json!({"kind": "email", "smtp_url": "smtps://mail.example.com", "from": "opsdeck <opsdeck@example.com>",
                "to": ["a@example.com", "b@example.com"]}),
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let ChannelConfig::Email(email) = &config else {
        panic!("expected email");
    };
    assert_eq!(email.port(), 465);
    assert_eq!(email.host(), "mail.example.com");
    assert_eq!(email.to(), ["a@example.com", "b@example.com"]);
    assert_eq!(
        config.destination(),
        "a@example.com, b@example.com via mail.example.com:465"
    );
}

#[test]
fn json_schemas_mark_required_and_secret_fields() {
    let webhook = ChannelKind::Webhook.json_schema();
    assert_eq!(webhook["required"], json!(["kind", "url", "secret"]));
    assert_eq!(webhook["properties"]["secret"]["writeOnly"], json!(true));
    assert_eq!(webhook["properties"]["url"]["writeOnly"], json!(true));
    assert_eq!(webhook["properties"]["headers"]["writeOnly"], json!(true));
    assert_eq!(webhook["additionalProperties"], json!(false));
    let email = ChannelKind::Email.json_schema();
    assert_eq!(email["required"], json!(["kind", "smtp_url", "from", "to"]));
    assert_eq!(email["properties"]["password"]["writeOnly"], json!(true));
    assert_eq!(email["properties"]["to"]["minItems"], json!(1));
    assert!(email["properties"]["from"].get("writeOnly").is_none());
    assert_eq!(ChannelKind::Slack.secret_fields(), vec!["webhook_url"]);
    assert_eq!(
        ChannelKind::Webhook.secret_fields(),
        vec!["url", "secret", "headers"]
    );
}
