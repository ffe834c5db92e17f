//! Channel configuration: the `[channels.NAME]` tables of `opsdeck.toml` and the same objects
//! as JSON from the API, validated into a typed [`ChannelConfig`].
//!
//! Validation does no I/O and reports every problem at once, each with the table
//! (`channels`), the channel name and the field. Secret fields (`secret`, `url` and `headers`
//! of a webhook, Slack's `webhook_url`, the SMTP `password`) are held in `SecretString`, never
//! shown by `Debug`, and split from the plain fields for encrypted storage ([`ChannelConfig::split`],
//! [`ChannelConfig::from_parts`], [`ChannelConfig::view`]), the way services are stored.

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

use opsdeck_core::schema::{FieldKind, FieldSpec};
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};
use url::Url;

/// The config-file table channels live in (`[channels.NAME]`).
pub const TABLE: &str = "channels";

/// Shortest accepted webhook signing secret. Shorter keys make the signature guessable.
pub const MIN_SECRET_LEN: usize = 16;

/// Headers a webhook channel may not set: opsdeck owns them (or HTTP does).
const RESERVED_HEADERS: &[&str] = &[
    "content-type",
    "content-length",
    "host",
    "user-agent",
    "transfer-encoding",
    "connection",
    "idempotency-key",
];

/// The kind of a channel (`kind = "..."`). The spelling is a user-facing contract.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ChannelKind {
    /// A JSON `POST`, signed with HMAC-SHA256.
    Webhook,
    /// A Slack incoming webhook (Block Kit message); Slack-compatible receivers work too.
    Slack,
    /// Email over SMTP with STARTTLS (`smtp://`) or implicit TLS (`smtps://`).
    Email,
}

const WEBHOOK_FIELDS: &[FieldSpec] = &[
    FieldSpec::new(
        "url",
        FieldKind::Url,
        "Where opsdeck POSTs the signed JSON body. Treated as a secret, because receivers often embed a token in the URL.",
    )
    .required()
    .secret()
    .env("OPSDECK_HOOK_URL")
    .example("https://hooks.example.com/opsdeck"),
    FieldSpec::new(
        "secret",
        FieldKind::String,
        "Key for the X-Opsdeck-Signature HMAC-SHA256 (at least 16 characters, e.g. from `openssl rand -hex 32`).",
    )
    .required()
    .secret()
    .env("OPSDECK_HOOK_SECRET"),
];

const SLACK_FIELDS: &[FieldSpec] = &[FieldSpec::new(
    "webhook_url",
    FieldKind::Url,
    "The Slack incoming-webhook URL (https://hooks.slack.com/services/…); Mattermost and other Slack-compatible URLs work too.",
)
.required()
.secret()
.env("SLACK_WEBHOOK_URL")];

const EMAIL_FIELDS: &[FieldSpec] = &[
    FieldSpec::new(
        "smtp_url",
        FieldKind::String,
        "SMTP server: smtp://host:587 uses STARTTLS (required, never plain text), smtps://host:465 implicit TLS. The port defaults to 587 / 465.",
    )
    .required()
    .example("smtp://mailer.example.com:587"),
    FieldSpec::new(
        "username",
        FieldKind::String,
        "SMTP login name; give it together with password, or neither for a relay that needs no login.",
    )
    .example("opsdeck"),
    FieldSpec::new("password", FieldKind::String, "SMTP password.")
        .secret()
        .env("SMTP_PASSWORD"),
    FieldSpec::new(
        "from",
        FieldKind::String,
        "Sender address, e.g. opsdeck@example.com or \"opsdeck <opsdeck@example.com>\".",
    )
    .required()
    .example("opsdeck@example.com"),
    FieldSpec::new("to", FieldKind::StringList, "Recipient addresses.")
        .required()
        .example("oncall@example.com"),
];

impl ChannelKind {
    /// Every kind, in documentation order.
    pub const ALL: [ChannelKind; 3] =
        [ChannelKind::Webhook, ChannelKind::Slack, ChannelKind::Email];

    /// Stable name, as in `kind = "..."`.
    pub fn as_str(self) -> &'static str {
        match self {
            ChannelKind::Webhook => "webhook",
            ChannelKind::Slack => "slack",
            ChannelKind::Email => "email",
        }
    }

    /// The kind named `s`.
    pub fn parse(s: &str) -> Option<ChannelKind> {
        ChannelKind::ALL.into_iter().find(|k| k.as_str() == s)
    }

    /// The kind's fields (besides `kind`, and a webhook's `headers` table, which has no
    /// [`FieldKind`]).
    pub fn fields(self) -> &'static [FieldSpec] {
        match self {
            ChannelKind::Webhook => WEBHOOK_FIELDS,
            ChannelKind::Slack => SLACK_FIELDS,
            ChannelKind::Email => EMAIL_FIELDS,
        }
    }

    fn accepts(self, key: &str) -> bool {
        key == "kind"
            || self.fields().iter().any(|f| f.name == key)
            || (self == ChannelKind::Webhook && key == "headers")
    }

    fn accepted(self) -> Vec<&'static str> {
        let mut names: Vec<&'static str> = vec!["kind"];
        names.extend(self.fields().iter().map(|f| f.name));
        if self == ChannelKind::Webhook {
            names.push("headers");
        }
        names
    }

    /// Names of the secret fields: write-only through the API, encrypted at rest.
    pub fn secret_fields(self) -> Vec<&'static str> {
        let mut names: Vec<&'static str> = self
            .fields()
            .iter()
            .filter(|f| f.secret)
            .map(|f| f.name)
            .collect();
        if self == ChannelKind::Webhook {
            names.push("headers");
        }
        names
    }

    /// JSON Schema (draft 2020-12) of a channel object of this kind, for generated forms.
    pub fn json_schema(self) -> Value {
        let mut props = Map::new();
        props.insert(
            "kind".into(),
            json!({"const": self.as_str(), "description": "The channel kind."}),
        );
        for f in self.fields() {
            props.insert(f.name.into(), f.json_schema());
        }
        let mut required = vec!["kind"];
        required.extend(self.fields().iter().filter(|f| f.required).map(|f| f.name));
        if self == ChannelKind::Email {
            // An address list must not be empty.
            if let Some(Value::Object(to)) = props.get_mut("to") {
                to.insert("minItems".into(), json!(1));
            }
        }
        if self == ChannelKind::Webhook {
            props.insert(
                "headers".into(),
                json!({
                    "type": "object",
                    "additionalProperties": {"type": "string"},
                    "description": "Extra request headers (e.g. Authorization for a gateway). Values are secrets.",
                    "writeOnly": true,
                    "x-secret": true,
                }),
            );
        }
        json!({
            "$schema": "https://json-schema.org/draft/2020-12/schema",
            "$id": format!("https://opsdeck.dev/schema/channels/{}.json", self.as_str()),
            "title": format!("{} channel", self.as_str()),
            "type": "object",
            "properties": props,
            "required": required,
            "additionalProperties": false,
        })
    }
}

impl fmt::Display for ChannelKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One problem in a channel's configuration.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ChannelProblem {
    /// Always `channels`: the table the problem is in.
    pub table: &'static str,
    /// The channel (table key), when the problem is about one.
    pub name: Option<String>,
    /// The field, when the problem is about one.
    pub field: Option<String>,
    /// What is wrong and what is accepted.
    pub message: String,
}

impl ChannelProblem {
    fn new(name: Option<&str>, field: Option<&str>, message: impl Into<String>) -> Self {
        ChannelProblem {
            table: TABLE,
            name: name.map(str::to_owned),
            field: field.map(str::to_owned),
            message: message.into(),
        }
    }
}

impl fmt::Display for ChannelProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (&self.name, &self.field) {
            (Some(n), Some(field)) => write!(f, "{}.{n}.{field}: {}", self.table, self.message),
            (Some(n), None) => write!(f, "{}.{n}: {}", self.table, self.message),
            _ => write!(f, "{}: {}", self.table, self.message),
        }
    }
}

/// Every problem found in one or more channel configurations.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct ChannelErrors {
    /// The problems, channel by channel, fields in declaration order.
    pub problems: Vec<ChannelProblem>,
}

impl fmt::Display for ChannelErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let n = self.problems.len();
        write!(
            f,
            "{n} channel configuration problem{}",
            if n == 1 { "" } else { "s" }
        )?;
        for p in &self.problems {
            write!(f, "\n  - {p}")?;
        }
        Ok(())
    }
}

/// How an SMTP connection is secured. There is deliberately no plain-text mode.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SmtpSecurity {
    /// `smtp://`: connect in plain text, then `STARTTLS` is required before anything else.
    StartTls,
    /// `smtps://`: TLS from the first byte.
    ImplicitTls,
}

/// A validated webhook channel.
#[derive(Clone)]
pub struct WebhookConfig {
    pub(crate) url: SecretString,
    pub(crate) secret: SecretString,
    pub(crate) headers: Vec<(String, SecretString)>,
}

/// A validated Slack channel.
#[derive(Clone)]
pub struct SlackConfig {
    pub(crate) webhook_url: SecretString,
}

/// A validated email channel.
#[derive(Clone)]
pub struct EmailConfig {
    pub(crate) smtp_url: String,
    pub(crate) security: SmtpSecurity,
    pub(crate) host: String,
    pub(crate) port: u16,
    pub(crate) username: Option<String>,
    pub(crate) password: Option<SecretString>,
    pub(crate) from: String,
    pub(crate) to: Vec<String>,
}

impl EmailConfig {
    /// STARTTLS or implicit TLS.
    pub fn security(&self) -> SmtpSecurity {
        self.security
    }

    /// SMTP host.
    pub fn host(&self) -> &str {
        &self.host
    }

    /// SMTP port (587 / 465 unless given).
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Sender.
    pub fn from(&self) -> &str {
        &self.from
    }

    /// Recipients.
    pub fn to(&self) -> &[String] {
        &self.to
    }
}

/// A validated channel configuration. Build it with [`ChannelConfig::from_json`],
/// [`parse_channels`] / [`parse_channels_file`] (config file) or [`ChannelConfig::from_parts`]
/// (storage).
#[derive(Clone)]
pub enum ChannelConfig {
    /// `kind = "webhook"`.
    Webhook(WebhookConfig),
    /// `kind = "slack"`.
    Slack(SlackConfig),
    /// `kind = "email"`.
    Email(EmailConfig),
}

// The Debug impls show only what `destination()` shows: URLs may carry tokens, and secrets
// stay hidden.
impl fmt::Debug for WebhookConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WebhookConfig")
            .field("host", &url_host(&self.url))
            .field("secret", &"[REDACTED]")
            .field(
                "headers",
                &self
                    .headers
                    .iter()
                    .map(|(n, _)| n.as_str())
                    .collect::<Vec<_>>(),
            )
            .finish()
    }
}

impl fmt::Debug for SlackConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SlackConfig")
            .field("host", &url_host(&self.webhook_url))
            .finish_non_exhaustive()
    }
}

impl fmt::Debug for EmailConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EmailConfig")
            .field("smtp_url", &self.smtp_url)
            .field("username", &self.username)
            .field("password", &self.password.as_ref().map(|_| "[REDACTED]"))
            .field("from", &self.from)
            .field("to", &self.to)
            .finish()
    }
}

impl fmt::Debug for ChannelConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ChannelConfig::Webhook(w) => f.debug_tuple("Webhook").field(w).finish(),
            ChannelConfig::Slack(s) => f.debug_tuple("Slack").field(s).finish(),
            ChannelConfig::Email(e) => f.debug_tuple("Email").field(e).finish(),
        }
    }
}

/// `host[:port]` of a URL held as a secret; the path and query (where tokens live) are left
/// out.
fn url_host(url: &SecretString) -> String {
    Url::parse(url.expose_secret())
        .ok()
        .and_then(|u| {
            u.host_str().map(|h| match u.port() {
                Some(p) => format!("{h}:{p}"),
                None => h.to_owned(),
            })
        })
        .unwrap_or_else(|| "?".to_owned())
}

impl ChannelConfig {
    /// Validate a channel object (`{"kind": "webhook", "url": …}`) as it comes from the API or
    /// from a config-file table after `${VAR}` interpolation. Every problem is reported.
    pub fn from_json(name: &str, value: &Value) -> Result<ChannelConfig, ChannelErrors> {
        match value {
            Value::Object(map) => Self::from_map(name, map),
            other => Err(ChannelErrors {
                problems: vec![ChannelProblem::new(
                    Some(name),
                    None,
                    format!(
                        "expected a table of channel settings (kind = \"webhook\" | \"slack\" | \"email\", …), got {}",
                        type_name(other)
                    ),
                )],
            }),
        }
    }

    /// Validate a channel object given as a JSON map.
    pub fn from_map(name: &str, map: &Map<String, Value>) -> Result<ChannelConfig, ChannelErrors> {
        let mut p = Problems::new(name);
        if let Err(msg) = check_channel_name(name) {
            p.channel(msg);
        }
        let kinds = || ChannelKind::ALL.iter().map(|k| k.as_str());
        let kind = match map.get("kind").filter(|v| !v.is_null()) {
            None => {
                p.field(
                    "kind",
                    "missing required field; one of \"webhook\", \"slack\", \"email\"",
                );
                None
            }
            Some(Value::String(s)) => match ChannelKind::parse(s) {
                Some(k) => Some(k),
                None => {
                    let mut msg = format!(
                        "\"{s}\" is not a channel kind; expected one of \"webhook\", \"slack\", \"email\""
                    );
                    if let Some(hint) = suggest(s, kinds()) {
                        msg.push_str(&format!(" (did you mean \"{hint}\"?)"));
                    }
                    p.field("kind", msg);
                    None
                }
            },
            Some(other) => {
                p.field(
                    "kind",
                    format!("expected a string, got {}", type_name(other)),
                );
                None
            }
        };
        let Some(kind) = kind else {
            return Err(p.into_errors());
        };
        for key in map.keys() {
            if !kind.accepts(key) {
                let accepted = kind.accepted();
                let mut msg = format!(
                    "unknown field for a {kind} channel; accepted fields: {}",
                    accepted.join(", ")
                );
                if let Some(s) = suggest(key, accepted.iter().copied()) {
                    msg.push_str(&format!(" (did you mean \"{s}\"?)"));
                }
                p.field(key, msg);
            }
        }
        let config = match kind {
            ChannelKind::Webhook => webhook(&mut p, map).map(ChannelConfig::Webhook),
            ChannelKind::Slack => slack(&mut p, map).map(ChannelConfig::Slack),
            ChannelKind::Email => email(&mut p, map).map(ChannelConfig::Email),
        };
        match config {
            Some(c) if p.problems.is_empty() => Ok(c),
            _ => Err(p.into_errors()),
        }
    }

    /// The kind.
    pub fn kind(&self) -> ChannelKind {
        match self {
            ChannelConfig::Webhook(_) => ChannelKind::Webhook,
            ChannelConfig::Slack(_) => ChannelKind::Slack,
            ChannelConfig::Email(_) => ChannelKind::Email,
        }
    }

    /// Where the channel delivers, safe to show and log: the host of a webhook or Slack URL
    /// (the path may embed a token), or the recipients and the SMTP server.
    pub fn destination(&self) -> String {
        match self {
            ChannelConfig::Webhook(w) => url_host(&w.url),
            ChannelConfig::Slack(s) => url_host(&s.webhook_url),
            ChannelConfig::Email(e) => format!("{} via {}:{}", e.to.join(", "), e.host, e.port),
        }
    }

    /// Split into the plain fields (including `kind`) and the secrets, for storage: the server
    /// encrypts the secrets per field. A webhook's `headers` are one secret (a JSON object).
    pub fn split(&self) -> (Map<String, Value>, BTreeMap<String, SecretString>) {
        let mut plain = Map::new();
        let mut secrets = BTreeMap::new();
        plain.insert("kind".into(), json!(self.kind().as_str()));
        match self {
            ChannelConfig::Webhook(w) => {
                secrets.insert("url".into(), w.url.clone());
                secrets.insert("secret".into(), w.secret.clone());
                if !w.headers.is_empty() {
                    let obj: Map<String, Value> = w
                        .headers
                        .iter()
                        .map(|(n, v)| (n.clone(), json!(v.expose_secret())))
                        .collect();
                    secrets.insert(
                        "headers".into(),
                        SecretString::from(Value::Object(obj).to_string()),
                    );
                }
            }
            ChannelConfig::Slack(s) => {
                secrets.insert("webhook_url".into(), s.webhook_url.clone());
            }
            ChannelConfig::Email(e) => {
                plain.insert("smtp_url".into(), json!(e.smtp_url));
                if let Some(u) = &e.username {
                    plain.insert("username".into(), json!(u));
                }
                if let Some(pw) = &e.password {
                    secrets.insert("password".into(), pw.clone());
                }
                plain.insert("from".into(), json!(e.from));
                plain.insert("to".into(), json!(e.to));
            }
        }
        (plain, secrets)
    }

    /// Rebuild from [`split`](Self::split)'s parts (validated again, so stored data that no
    /// longer validates is reported rather than used).
    pub fn from_parts(
        name: &str,
        plain: &Map<String, Value>,
        secrets: &BTreeMap<String, SecretString>,
    ) -> Result<ChannelConfig, ChannelErrors> {
        let mut map = plain.clone();
        for (k, v) in secrets {
            let value = if k == "headers" {
                match serde_json::from_str::<Value>(v.expose_secret()) {
                    Ok(obj @ Value::Object(_)) => obj,
                    _ => {
                        return Err(ChannelErrors {
                            problems: vec![ChannelProblem::new(
                                Some(name),
                                Some("headers"),
                                "the stored headers could not be read; set them again",
                            )],
                        });
                    }
                }
            } else {
                Value::String(v.expose_secret().to_owned())
            };
            map.insert(k.clone(), value);
        }
        Self::from_map(name, &map)
    }

    /// The config as the API shows it: plain fields as given, each secret field of the kind
    /// as `{"set": true|false}`.
    pub fn view(&self) -> Map<String, Value> {
        let (mut plain, secrets) = self.split();
        for name in self.kind().secret_fields() {
            plain.insert(name.into(), json!({"set": secrets.contains_key(name)}));
        }
        plain
    }
}

/// Channel names appear in URLs, logs and config keys: the same rule as service names.
pub fn check_channel_name(name: &str) -> Result<(), String> {
    let ok = !name.is_empty()
        && name.len() <= 64
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_' || c == '.')
        && name
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_alphanumeric());
    if ok {
        Ok(())
    } else {
        Err("invalid channel name; use 1-64 letters, digits, '-', '_' or '.', starting with a letter or digit".into())
    }
}

/// Read the `[channels.*]` tables of a config file (the value of its `channels` key).
/// `${VAR}` in any string is replaced from `env`; a missing variable is a problem. Returns the
/// channels sorted by name, or every problem in every channel.
pub fn parse_channels(
    channels: &toml::Value,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Vec<(String, ChannelConfig)>, ChannelErrors> {
    let mut problems = Vec::new();
    let mut out = Vec::new();
    let Some(table) = channels.as_table() else {
        return Err(ChannelErrors {
            problems: vec![ChannelProblem::new(
                None,
                None,
                "\"channels\" must be a table of [channels.NAME] tables",
            )],
        });
    };
    for (name, value) in table {
        let Some(inner) = value.as_table() else {
            problems.push(ChannelProblem::new(
                Some(name),
                None,
                "must be a table ([channels.NAME] followed by key = value lines)",
            ));
            continue;
        };
        let mut map = Map::new();
        let mut unreadable = false;
        for (key, v) in inner {
            let json = match serde_json::to_value(v) {
                Ok(j) => j,
                Err(_) => {
                    problems.push(ChannelProblem::new(
                        Some(name),
                        Some(key),
                        "could not be read",
                    ));
                    unreadable = true;
                    continue;
                }
            };
            match interpolate_value(json, env) {
                Ok(j) => {
                    map.insert(key.clone(), j);
                }
                Err(missing) => {
                    unreadable = true;
                    for var in missing {
                        problems.push(ChannelProblem::new(
                            Some(name),
                            Some(key),
                            format!(
                                "environment variable {var} is not set (referenced as ${{{var}}})"
                            ),
                        ));
                    }
                }
            }
        }
        match ChannelConfig::from_map(name, &map) {
            Ok(c) if !unreadable => out.push((name.clone(), c)),
            Ok(_) => {}
            Err(e) => {
                // A field whose value could not be read is not also "missing".
                let skip: Vec<(Option<String>, Option<String>)> = problems
                    .iter()
                    .map(|p| (p.name.clone(), p.field.clone()))
                    .collect();
                problems.extend(e.problems.into_iter().filter(|p| {
                    !(p.message.starts_with("missing required field")
                        && skip.contains(&(p.name.clone(), p.field.clone())))
                }));
            }
        }
    }
    if problems.is_empty() {
        Ok(out)
    } else {
        Err(ChannelErrors { problems })
    }
}

/// Read the channels of a whole `opsdeck.toml` document. Other tables are left to their own
/// parsers; a file without `[channels]` has no channels.
pub fn parse_channels_file(
    text: &str,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Vec<(String, ChannelConfig)>, ChannelErrors> {
    let doc: toml::Table = text.parse().map_err(|e: toml::de::Error| ChannelErrors {
        problems: vec![ChannelProblem::new(
            None,
            None,
            format!("the config file is not valid TOML: {e}"),
        )],
    })?;
    match doc.get(TABLE) {
        Some(v) => parse_channels(v, env),
        None => Ok(Vec::new()),
    }
}

fn interpolate_value(
    value: Value,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Value, Vec<String>> {
    match value {
        Value::String(s) => opsdeck_core::config::interpolate(&s, env).map(Value::String),
        Value::Array(items) => {
            let mut out = Vec::with_capacity(items.len());
            let mut missing = Vec::new();
            for item in items {
                match interpolate_value(item, env) {
                    Ok(v) => out.push(v),
                    Err(mut m) => missing.append(&mut m),
                }
            }
            if missing.is_empty() {
                Ok(Value::Array(out))
            } else {
                Err(missing)
            }
        }
        Value::Object(map) => {
            let mut out = Map::new();
            let mut missing = Vec::new();
            for (k, v) in map {
                match interpolate_value(v, env) {
                    Ok(v) => {
                        out.insert(k, v);
                    }
                    Err(mut m) => missing.append(&mut m),
                }
            }
            if missing.is_empty() {
                Ok(Value::Object(out))
            } else {
                Err(missing)
            }
        }
        other => Ok(other),
    }
}

/// Collects the problems of one channel.
struct Problems<'a> {
    name: &'a str,
    problems: Vec<ChannelProblem>,
}

impl<'a> Problems<'a> {
    fn new(name: &'a str) -> Self {
        Problems {
            name,
            problems: Vec::new(),
        }
    }

    fn channel(&mut self, message: impl Into<String>) {
        self.problems
            .push(ChannelProblem::new(Some(self.name), None, message));
    }

    fn field(&mut self, field: &str, message: impl Into<String>) {
        self.problems
            .push(ChannelProblem::new(Some(self.name), Some(field), message));
    }

    fn into_errors(self) -> ChannelErrors {
        ChannelErrors {
            problems: self.problems,
        }
    }

    /// A string field: `None` (after recording a problem) when required and absent, empty or
    /// of the wrong type.
    fn string(&mut self, map: &Map<String, Value>, field: &str, required: bool) -> Option<String> {
        match map.get(field).filter(|v| !v.is_null()) {
            None if required => {
                self.field(field, "missing required field (a string)");
                None
            }
            None => None,
            Some(Value::String(s)) if s.trim().is_empty() => {
                self.field(
                    field,
                    "must not be empty (remove the line to leave it unset)",
                );
                None
            }
            Some(Value::String(s)) => Some(s.trim().to_owned()),
            Some(other) => {
                self.field(
                    field,
                    format!("expected a string, got {}", type_name(other)),
                );
                None
            }
        }
    }

    /// An http(s) URL held as a secret.
    fn http_url(&mut self, map: &Map<String, Value>, field: &str) -> Option<SecretString> {
        let raw = self.string(map, field, true)?;
        match check_http_url(&raw) {
            Ok(()) => Some(SecretString::from(raw)),
            Err(msg) => {
                self.field(field, msg);
                None
            }
        }
    }
}

fn check_http_url(raw: &str) -> Result<(), String> {
    // The parser's own message never repeats the URL, which may hold a token.
    let url = Url::parse(raw).map_err(|e| format!("not a valid URL ({e})"))?;
    if url.scheme() != "http" && url.scheme() != "https" {
        return Err(format!(
            "the URL scheme must be https (or http), not \"{}\"",
            url.scheme()
        ));
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err("the URL has no host".into());
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(
            "remove the user:password@ part; send credentials in `headers` (e.g. Authorization) instead"
                .into(),
        );
    }
    if url.fragment().is_some() {
        return Err("remove the #fragment: it is never sent to the receiver".into());
    }
    Ok(())
}

fn webhook(p: &mut Problems<'_>, map: &Map<String, Value>) -> Option<WebhookConfig> {
    let url = p.http_url(map, "url");
    let secret = match p.string(map, "secret", true) {
        Some(s) if s.chars().count() < MIN_SECRET_LEN => {
            p.field(
                "secret",
                format!(
                    "must be at least {MIN_SECRET_LEN} characters so the signature cannot be guessed; generate one with `openssl rand -hex 32`"
                ),
            );
            None
        }
        Some(s) => Some(SecretString::from(s)),
        None => None,
    };
    let mut headers = Vec::new();
    let mut headers_ok = true;
    match map.get("headers").filter(|v| !v.is_null()) {
        None => {}
        Some(Value::Object(h)) => {
            for (name, value) in h {
                let lower = name.to_ascii_lowercase();
                let field = format!("headers.{name}");
                if http::HeaderName::from_bytes(name.as_bytes()).is_err() {
                    p.field(&field, "not a valid HTTP header name");
                    headers_ok = false;
                    continue;
                }
                if RESERVED_HEADERS.contains(&lower.as_str()) || lower.starts_with("x-opsdeck-") {
                    p.field(
                        &field,
                        "opsdeck sets this header itself; it cannot be overridden",
                    );
                    headers_ok = false;
                    continue;
                }
                match value {
                    Value::String(v) if http::HeaderValue::from_str(v).is_ok() => {
                        headers.push((name.clone(), SecretString::from(v.clone())));
                    }
                    Value::String(_) => {
                        p.field(
                            &field,
                            "the value contains characters not allowed in an HTTP header (a newline or control character?)",
                        );
                        headers_ok = false;
                    }
                    other => {
                        p.field(
                            &field,
                            format!("expected a string, got {}", type_name(other)),
                        );
                        headers_ok = false;
                    }
                }
            }
        }
        Some(other) => {
            p.field(
                "headers",
                format!(
                    "expected a table of header names to values, e.g. headers = {{ Authorization = \"Bearer ${{TOKEN}}\" }}, got {}",
                    type_name(other)
                ),
            );
            headers_ok = false;
        }
    }
    match (url, secret, headers_ok) {
        (Some(url), Some(secret), true) => Some(WebhookConfig {
            url,
            secret,
            headers,
        }),
        _ => None,
    }
}

fn slack(p: &mut Problems<'_>, map: &Map<String, Value>) -> Option<SlackConfig> {
    p.http_url(map, "webhook_url")
        .map(|webhook_url| SlackConfig { webhook_url })
}

fn email(p: &mut Problems<'_>, map: &Map<String, Value>) -> Option<EmailConfig> {
    let endpoint = p
        .string(map, "smtp_url", true)
        .and_then(|raw| match parse_smtp_url(&raw) {
            Ok((security, host, port)) => Some((raw, security, host, port)),
            Err(msg) => {
                p.field("smtp_url", msg);
                None
            }
        });
    let username = p.string(map, "username", false);
    let password = p.string(map, "password", false).map(SecretString::from);
    let login_ok = match (
        &username,
        &password,
        map.get("username"),
        map.get("password"),
    ) {
        (Some(_), None, _, None) => {
            p.field(
                "password",
                "missing: username is set, so give the password too (password = \"${SMTP_PASSWORD}\")",
            );
            false
        }
        (None, Some(_), None, _) => {
            p.field(
                "username",
                "missing: password is set, so give the login name too",
            );
            false
        }
        _ => true,
    };
    let from =
        p.string(map, "from", true)
            .and_then(|f| match lettre::message::Mailbox::from_str(&f) {
                Ok(_) => Some(f),
                Err(e) => {
                    p.field(
                        "from",
                        format!("not an email address ({e}); e.g. opsdeck@example.com"),
                    );
                    None
                }
            });
    let to = match map.get("to").filter(|v| !v.is_null()) {
        None => {
            p.field(
                "to",
                "missing required field (a list of addresses, e.g. to = [\"oncall@example.com\"])",
            );
            None
        }
        Some(Value::Array(items)) if items.is_empty() => {
            p.field("to", "give at least one recipient address");
            None
        }
        Some(Value::Array(items)) => {
            let mut out = Vec::with_capacity(items.len());
            let mut ok = true;
            for (i, item) in items.iter().enumerate() {
                match item {
                    Value::String(s) => match lettre::message::Mailbox::from_str(s.trim()) {
                        Ok(_) => out.push(s.trim().to_owned()),
                        Err(e) => {
                            p.field(
                                "to",
                                format!("item {} is not an email address ({e})", i + 1),
                            );
                            ok = false;
                        }
                    },
                    other => {
                        p.field(
                            "to",
                            format!("item {} must be a string, got {}", i + 1, type_name(other)),
                        );
                        ok = false;
                    }
                }
            }
            ok.then_some(out)
        }
        Some(other) => {
            p.field(
                "to",
                format!("expected a list of addresses, got {}", type_name(other)),
            );
            None
        }
    };
    let (Some((smtp_url, security, host, port)), true, Some(from), Some(to)) =
        (endpoint, login_ok, from, to)
    else {
        return None;
    };
    Some(EmailConfig {
        smtp_url,
        security,
        host,
        port,
        username,
        password,
        from,
        to,
    })
}

/// `smtp://host[:port]` (STARTTLS, default 587) or `smtps://host[:port]` (implicit TLS, 465).
fn parse_smtp_url(raw: &str) -> Result<(SmtpSecurity, String, u16), String> {
    let url = Url::parse(raw).map_err(|e| {
        format!("not a valid URL ({e}); use smtp://host:587 (STARTTLS) or smtps://host:465 (implicit TLS)")
    })?;
    let (security, default_port) = match url.scheme() {
        "smtp" => (SmtpSecurity::StartTls, 587),
        "smtps" => (SmtpSecurity::ImplicitTls, 465),
        other => {
            return Err(format!(
                "the scheme must be smtp:// (STARTTLS) or smtps:// (implicit TLS), not \"{other}\""
            ));
        }
    };
    if !url.username().is_empty() || url.password().is_some() {
        return Err(
            "remove the user:password@ part; put the login in username and password (password is kept secret, smtp_url is not)"
                .into(),
        );
    }
    let host = url
        .host_str()
        .filter(|h| !h.is_empty())
        .ok_or("the URL has no host; e.g. smtp://mailer.example.com:587")?;
    // IPv6 literals come bracketed; the SMTP transport wants the bare address.
    let host = host
        .trim_start_matches('[')
        .trim_end_matches(']')
        .to_owned();
    if !matches!(url.path(), "" | "/") || url.query().is_some() || url.fragment().is_some() {
        return Err("give only scheme, host and port, e.g. smtp://mailer.example.com:587".into());
    }
    Ok((security, host, url.port().unwrap_or(default_port)))
}

fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "nothing",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "a table",
    }
}

fn suggest<'a>(given: &str, candidates: impl Iterator<Item = &'a str>) -> Option<&'a str> {
    candidates
        .map(|c| (strsim::jaro_winkler(given, c), c))
        .filter(|(score, _)| *score > 0.8)
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, c)| c)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn smtp_urls_pick_security_and_default_ports() {
        assert_eq!(
            parse_smtp_url("smtp://mail.example.com"),
            Ok((SmtpSecurity::StartTls, "mail.example.com".into(), 587))
        );
        assert_eq!(
            parse_smtp_url("smtps://mail.example.com"),
            Ok((SmtpSecurity::ImplicitTls, "mail.example.com".into(), 465))
        );
        assert_eq!(
            parse_smtp_url("smtp://[::1]:2525"),
            Ok((SmtpSecurity::StartTls, "::1".into(), 2525))
        );
        assert!(parse_smtp_url("http://mail.example.com").is_err());
        assert!(parse_smtp_url("smtp://u:p@mail.example.com").is_err());
        assert!(parse_smtp_url("smtp://mail.example.com/x").is_err());
    }

    #[test]
    fn url_problems_never_repeat_the_url() {
        let Err(msg) = check_http_url("https://u:tok3nvalue@example.com/x") else {
            panic!("credentials in a URL must be refused");
        };
        assert!(!msg.contains("tok3nvalue"), "{msg}");
    }
}
