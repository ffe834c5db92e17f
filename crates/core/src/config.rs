//! Service configuration: the raw form a service arrives in (a TOML table from `opsdeck.toml`
//! or a JSON object from the API), `${VAR}` interpolation, and validation against a provider's
//! declared fields into typed [`ConfigValues`].
//!
//! Validation never does I/O and reports every problem at once, each with the service name,
//! the field and what is accepted.

use std::collections::BTreeMap;
use std::fmt;
use std::time::Duration;

use secrecy::SecretString;
use serde::Serialize;
use serde_json::{Map, Value};
use url::Url;

use crate::schema::{FieldKind, ProviderDescriptor, quoted_list};

/// Keys of a service table that belong to opsdeck, not to the provider.
pub const SERVICE_KEYS: &[&str] = &["provider", "tags", "enabled", "interval"];

/// Shortest accepted per-service check interval.
pub const MIN_INTERVAL: Duration = Duration::from_secs(10);
/// Longest accepted per-service check interval.
pub const MAX_INTERVAL: Duration = Duration::from_secs(7 * 24 * 3600);

/// One problem found in a configuration.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ConfigProblem {
    /// Service (table key) the problem is in, if any.
    pub service: Option<String>,
    /// Field the problem is about, if any.
    pub field: Option<String>,
    /// What is wrong and what is accepted.
    pub message: String,
}

impl ConfigProblem {
    /// A problem about `field` of `service`.
    pub fn field(service: &str, field: &str, message: impl Into<String>) -> Self {
        ConfigProblem {
            service: Some(service.to_owned()),
            field: Some(field.to_owned()),
            message: message.into(),
        }
    }

    /// A problem about a whole service.
    pub fn service(service: &str, message: impl Into<String>) -> Self {
        ConfigProblem {
            service: Some(service.to_owned()),
            field: None,
            message: message.into(),
        }
    }

    /// A problem about the file as a whole.
    pub fn file(message: impl Into<String>) -> Self {
        ConfigProblem {
            service: None,
            field: None,
            message: message.into(),
        }
    }
}

impl fmt::Display for ConfigProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (&self.service, &self.field) {
            (Some(s), Some(field)) => write!(f, "services.{s}.{field}: {}", self.message),
            (Some(s), None) => write!(f, "services.{s}: {}", self.message),
            _ => f.write_str(&self.message),
        }
    }
}

/// Every problem found in a configuration.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct ConfigErrors {
    /// The problems, in file order.
    pub problems: Vec<ConfigProblem>,
}

impl fmt::Display for ConfigErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let n = self.problems.len();
        write!(
            f,
            "{n} configuration problem{}",
            if n == 1 { "" } else { "s" }
        )?;
        for p in &self.problems {
            write!(f, "\n  - {p}")?;
        }
        Ok(())
    }
}

impl From<ConfigProblem> for ConfigErrors {
    fn from(p: ConfigProblem) -> Self {
        ConfigErrors { problems: vec![p] }
    }
}

/// A provider config as given by the user, before validation. Its `Debug` prints only the
/// keys, because values may be secrets in plain text.
#[derive(Clone, Default, PartialEq)]
pub struct RawConfig(pub Map<String, Value>);

impl fmt::Debug for RawConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_set().entries(self.0.keys()).finish()
    }
}

/// A service as declared by the user: its name, provider and raw config.
#[derive(Debug, Clone, PartialEq)]
pub struct ServiceSpec {
    /// Unique service name (the `[services.NAME]` key).
    pub name: String,
    /// Provider id.
    pub provider: String,
    /// Provider fields, unvalidated.
    pub config: RawConfig,
    /// Free-form tags.
    pub tags: Vec<String>,
    /// Whether the service is tested and collected.
    pub enabled: bool,
    /// How often the server checks it (`interval = "10m"`); `None` = the server's default.
    /// The CLI, which checks on demand, ignores it.
    pub interval: Option<Duration>,
}

/// A validated config value.
#[derive(Clone)]
pub enum ConfigValue {
    /// Free text or an enum value.
    String(String),
    /// A secret.
    Secret(SecretString),
    /// A URL (trailing slash removed).
    Url(Url),
    /// An integer.
    Integer(i64),
    /// A boolean.
    Bool(bool),
    /// A list of strings.
    List(Vec<String>),
    /// A duration.
    Duration(Duration),
}

impl fmt::Debug for ConfigValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ConfigValue::String(s) => write!(f, "{s:?}"),
            ConfigValue::Secret(_) => f.write_str("[REDACTED]"),
            ConfigValue::Url(u) => write!(f, "{:?}", u.as_str()),
            ConfigValue::Integer(i) => write!(f, "{i}"),
            ConfigValue::Bool(b) => write!(f, "{b}"),
            ConfigValue::List(l) => write!(f, "{l:?}"),
            ConfigValue::Duration(d) => write!(f, "{d:?}"),
        }
    }
}

/// A provider config that passed validation, with defaults applied. Accessors return `None`
/// for absent optional fields.
#[derive(Debug, Clone, Default)]
pub struct ConfigValues {
    values: BTreeMap<String, ConfigValue>,
}

impl ConfigValues {
    /// Build directly (tests and library users who skip the raw form).
    pub fn from_map(values: BTreeMap<String, ConfigValue>) -> Self {
        ConfigValues { values }
    }

    /// Raw access.
    pub fn get(&self, name: &str) -> Option<&ConfigValue> {
        self.values.get(name)
    }

    /// A string or enum field.
    pub fn string(&self, name: &str) -> Option<&str> {
        match self.values.get(name) {
            Some(ConfigValue::String(s)) => Some(s),
            _ => None,
        }
    }

    /// A secret field.
    pub fn secret(&self, name: &str) -> Option<&SecretString> {
        match self.values.get(name) {
            Some(ConfigValue::Secret(s)) => Some(s),
            _ => None,
        }
    }

    /// A URL field.
    pub fn url(&self, name: &str) -> Option<&Url> {
        match self.values.get(name) {
            Some(ConfigValue::Url(u)) => Some(u),
            _ => None,
        }
    }

    /// An integer field.
    pub fn integer(&self, name: &str) -> Option<i64> {
        match self.values.get(name) {
            Some(ConfigValue::Integer(i)) => Some(*i),
            _ => None,
        }
    }

    /// A boolean field.
    pub fn bool(&self, name: &str) -> Option<bool> {
        match self.values.get(name) {
            Some(ConfigValue::Bool(b)) => Some(*b),
            _ => None,
        }
    }

    /// A list field (empty when absent).
    pub fn list(&self, name: &str) -> &[String] {
        match self.values.get(name) {
            Some(ConfigValue::List(l)) => l,
            _ => &[],
        }
    }

    /// A duration field.
    pub fn duration(&self, name: &str) -> Option<Duration> {
        match self.values.get(name) {
            Some(ConfigValue::Duration(d)) => Some(*d),
            _ => None,
        }
    }

    /// A required field that validation guaranteed; a missing one is reported as an
    /// `invalid_config` error rather than a panic, so hand-built configs fail cleanly.
    pub fn require<'a, T>(
        &'a self,
        name: &str,
        get: impl FnOnce(&'a Self, &str) -> Option<T>,
    ) -> crate::Result<T> {
        get(self, name).ok_or_else(|| {
            crate::Error::invalid_config(format!("The required field `{name}` is missing."))
        })
    }
}

/// Validate a raw provider config against `descriptor`'s fields. `service` is used in messages.
pub fn validate(
    service: &str,
    descriptor: &ProviderDescriptor,
    raw: &RawConfig,
) -> Result<ConfigValues, ConfigErrors> {
    let mut problems = Vec::new();
    let mut values = BTreeMap::new();

    for key in raw.0.keys() {
        if descriptor.field(key).is_none() {
            let accepted: Vec<&str> = descriptor.fields.iter().map(|f| f.name).collect();
            let mut msg = format!(
                "unknown field for provider \"{}\"; accepted fields: {}",
                descriptor.id,
                accepted.join(", ")
            );
            if let Some(s) = suggest(key, accepted.iter().copied()) {
                msg.push_str(&format!(" (did you mean \"{s}\"?)"));
            }
            problems.push(ConfigProblem::field(service, key, msg));
        }
    }

    for field in descriptor.fields {
        let given = raw.0.get(field.name).filter(|v| !v.is_null());
        let given_owned;
        let value = match (given, field.default) {
            (Some(v), _) => v,
            (None, Some(d)) => {
                given_owned = Value::String(d.to_owned());
                &given_owned
            }
            (None, None) => {
                if field.required {
                    let mut msg = format!("missing required field ({})", field.kind.describe());
                    if field.secret {
                        msg.push_str("; it is a secret, e.g. ");
                        let var = field.env.unwrap_or("VAR");
                        msg.push_str(&format!("{} = \"${{{var}}}\"", field.name));
                    }
                    problems.push(ConfigProblem::field(service, field.name, msg));
                }
                continue;
            }
        };
        match convert(&field.kind, field.secret, value) {
            Ok(v) => {
                values.insert(field.name.to_owned(), v);
            }
            Err(msg) => problems.push(ConfigProblem::field(service, field.name, msg)),
        }
    }

    if problems.is_empty() {
        Ok(ConfigValues { values })
    } else {
        Err(ConfigErrors { problems })
    }
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

fn convert(kind: &FieldKind, secret: bool, v: &Value) -> Result<ConfigValue, String> {
    let expected = || format!("expected {}, got {}", kind.describe(), type_name(v));
    match kind {
        FieldKind::String => match v {
            Value::String(s) if s.trim().is_empty() => {
                Err("must not be empty (remove the line to leave it unset)".into())
            }
            Value::String(s) if secret => Ok(ConfigValue::Secret(SecretString::from(s.clone()))),
            Value::String(s) => Ok(ConfigValue::String(s.clone())),
            _ => Err(expected()),
        },
        FieldKind::Url => {
            let Value::String(s) = v else {
                return Err(expected());
            };
            let url = Url::parse(s.trim()).map_err(|e| format!("not a valid URL ({e})"))?;
            if url.scheme() != "http" && url.scheme() != "https" {
                return Err(format!(
                    "the URL scheme must be http or https, not \"{}\"",
                    url.scheme()
                ));
            }
            if url.host_str().is_none() {
                return Err("the URL has no host".into());
            }
            if !url.username().is_empty() || url.password().is_some() {
                return Err("put credentials in their own fields, not in the URL".into());
            }
            crate::http::address::check_url(&url, false)?;
            Ok(ConfigValue::Url(url))
        }
        FieldKind::Integer { min, max } => {
            let n = match v {
                Value::Number(n) => n.as_i64(),
                // Interpolated values arrive as strings.
                Value::String(s) => s.trim().parse::<i64>().ok(),
                _ => None,
            }
            .ok_or_else(expected)?;
            if n < *min || n > *max {
                return Err(format!("{n} is out of range; expected {}", kind.describe()));
            }
            Ok(ConfigValue::Integer(n))
        }
        FieldKind::Bool => match v {
            Value::Bool(b) => Ok(ConfigValue::Bool(*b)),
            Value::String(s) => match s.trim() {
                "true" => Ok(ConfigValue::Bool(true)),
                "false" => Ok(ConfigValue::Bool(false)),
                _ => Err(expected()),
            },
            _ => Err(expected()),
        },
        FieldKind::StringList => match v {
            Value::Array(items) => {
                let mut out = Vec::with_capacity(items.len());
                for (i, item) in items.iter().enumerate() {
                    match item {
                        Value::String(s) if !s.trim().is_empty() => out.push(s.trim().to_owned()),
                        _ => {
                            return Err(format!(
                                "item {} must be a non-empty string, got {}",
                                i + 1,
                                type_name(item)
                            ));
                        }
                    }
                }
                Ok(ConfigValue::List(out))
            }
            // A comma-separated string is accepted so lists can come from one env variable.
            Value::String(s) => Ok(ConfigValue::List(
                s.split(',')
                    .map(str::trim)
                    .filter(|s| !s.is_empty())
                    .map(str::to_owned)
                    .collect(),
            )),
            _ => Err(expected()),
        },
        FieldKind::Enum { values } => match v {
            Value::String(s) if values.contains(&s.as_str()) => Ok(ConfigValue::String(s.clone())),
            Value::String(s) => {
                let mut msg = format!(
                    "\"{s}\" is not accepted; expected one of {}",
                    quoted_list(values)
                );
                if let Some(hint) = suggest(s, values.iter().copied()) {
                    msg.push_str(&format!(" (did you mean \"{hint}\"?)"));
                }
                Err(msg)
            }
            _ => Err(expected()),
        },
        FieldKind::Duration => match v {
            Value::String(s) => humantime::parse_duration(s.trim())
                .map(ConfigValue::Duration)
                .map_err(|e| format!("not a duration ({e}); {}", kind.describe())),
            Value::Number(n) => n
                .as_u64()
                .map(|secs| ConfigValue::Duration(Duration::from_secs(secs)))
                .ok_or_else(expected),
            _ => Err(expected()),
        },
    }
}

fn suggest<'a>(given: &str, candidates: impl Iterator<Item = &'a str>) -> Option<&'a str> {
    candidates
        .map(|c| (strsim::jaro_winkler(given, c), c))
        .filter(|(score, _)| *score > 0.8)
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, c)| c)
}

/// Replace `${VAR}` in `input` with values from `env`. `$${` is a literal `${`.
/// Returns the names of missing variables as the error.
pub fn interpolate(
    input: &str,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<String, Vec<String>> {
    let mut out = String::with_capacity(input.len());
    let mut missing = Vec::new();
    let mut rest = input;
    while let Some(pos) = rest.find('$') {
        out.push_str(&rest[..pos]);
        let after = &rest[pos..];
        if let Some(stripped) = after.strip_prefix("$${") {
            out.push_str("${");
            rest = stripped;
        } else if let Some(body) = after.strip_prefix("${") {
            match body.find('}') {
                Some(end) => {
                    let name = &body[..end];
                    match env(name) {
                        Some(v) => out.push_str(&v),
                        None => missing.push(name.to_owned()),
                    }
                    rest = &body[end + 1..];
                }
                None => {
                    out.push_str(after);
                    rest = "";
                }
            }
        } else {
            out.push('$');
            rest = &after[1..];
        }
    }
    out.push_str(rest);
    if missing.is_empty() {
        Ok(out)
    } else {
        Err(missing)
    }
}

/// A config file parsed as far as possible: the specs that could be read, and every problem.
#[derive(Debug, Clone, Default)]
pub struct ParsedConfig {
    /// Services whose table could be read (possibly with problems in some fields).
    pub specs: Vec<ServiceSpec>,
    /// Every problem found so far.
    pub problems: Vec<ConfigProblem>,
    /// `(service, field)` pairs whose value could not be read (e.g. a missing `${VAR}`); later
    /// checks must not also call them "missing".
    pub unreadable: Vec<(String, String)>,
}

/// Parse an `opsdeck.toml` document into service specs. Interpolates `${VAR}` in every string
/// with `env`. Checks the file's own structure (tables, `provider`, `tags`, `enabled`); provider
/// fields are checked by [`crate::ServiceFactory::load_config`], which also merges both
/// stages' problems into one report.
pub fn parse_config_file(
    text: &str,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Vec<ServiceSpec>, ConfigErrors> {
    let parsed = parse_config_partial(text, env);
    if parsed.problems.is_empty() {
        Ok(parsed.specs)
    } else {
        Err(ConfigErrors {
            problems: parsed.problems,
        })
    }
}

/// Like [`parse_config_file`], but keeps going: returns what could be read and every problem.
pub fn parse_config_partial(text: &str, env: &dyn Fn(&str) -> Option<String>) -> ParsedConfig {
    let mut out = ParsedConfig::default();
    let doc: toml::Table = match text.parse() {
        Ok(d) => d,
        Err(e) => {
            let e: toml::de::Error = e;
            out.problems
                .push(ConfigProblem::file(format!("not valid TOML: {e}")));
            return out;
        }
    };
    for (key, value) in &doc {
        if key != "services" {
            out.problems.push(ConfigProblem::file(format!(
                "unknown top-level key \"{key}\"; accepted: [services.NAME] tables"
            )));
            continue;
        }
        let Some(services) = value.as_table() else {
            out.problems.push(ConfigProblem::file(
                "\"services\" must be a table of [services.NAME] tables",
            ));
            continue;
        };
        for (name, table) in services {
            if let Err(msg) = check_service_name(name) {
                out.problems.push(ConfigProblem::service(name, msg));
            }
            let Some(table) = table.as_table() else {
                out.problems.push(ConfigProblem::service(
                    name,
                    "must be a table ([services.NAME] followed by key = value lines)",
                ));
                continue;
            };
            let json = match serde_json::to_value(table) {
                Ok(Value::Object(map)) => map,
                _ => {
                    out.problems
                        .push(ConfigProblem::service(name, "could not be read as a table"));
                    continue;
                }
            };
            let (spec, mut problems) = spec_from_map_partial(name, json, env);
            for p in &problems {
                if let (Some(s), Some(f)) = (&p.service, &p.field) {
                    out.unreadable.push((s.clone(), f.clone()));
                }
            }
            out.problems.append(&mut problems);
            if let Some(spec) = spec {
                out.specs.push(spec);
            }
        }
    }
    out
}

/// Service names appear in URLs, metric labels and file keys: keep them simple.
pub fn check_service_name(name: &str) -> Result<(), String> {
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
        Err("invalid service name; use 1-64 letters, digits, '-', '_' or '.', starting with a letter or digit".into())
    }
}

/// Build a spec from a JSON/TOML object holding `provider`, `tags`, `enabled` and the provider
/// fields side by side (the config-file layout), interpolating `${VAR}` in strings.
pub fn spec_from_map(
    name: &str,
    map: Map<String, Value>,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<ServiceSpec, ConfigErrors> {
    match spec_from_map_partial(name, map, env) {
        (Some(spec), problems) if problems.is_empty() => Ok(spec),
        (_, problems) => Err(ConfigErrors { problems }),
    }
}

/// Like [`spec_from_map`], but returns the spec whenever the provider is known, leaving out the
/// fields that had problems, together with those problems.
pub fn spec_from_map_partial(
    name: &str,
    map: Map<String, Value>,
    env: &dyn Fn(&str) -> Option<String>,
) -> (Option<ServiceSpec>, Vec<ConfigProblem>) {
    let mut problems = Vec::new();
    let mut provider = None;
    let mut tags = Vec::new();
    let mut enabled = true;
    let mut interval = None;
    let mut config = Map::new();

    for (key, value) in map {
        let value = match interpolate_value(value, env) {
            Ok(v) => v,
            Err(missing) => {
                for var in missing {
                    problems.push(ConfigProblem::field(
                        name,
                        &key,
                        format!("environment variable {var} is not set (referenced as ${{{var}}})"),
                    ));
                }
                continue;
            }
        };
        match key.as_str() {
            "provider" => match value {
                Value::String(s) => provider = Some(s),
                other => problems.push(ConfigProblem::field(
                    name,
                    "provider",
                    format!("expected a provider id string, got {}", type_name(&other)),
                )),
            },
            "tags" => match value {
                Value::Array(items) if items.iter().all(Value::is_string) => {
                    tags = items
                        .into_iter()
                        .filter_map(|v| v.as_str().map(str::to_owned))
                        .collect();
                }
                other => problems.push(ConfigProblem::field(
                    name,
                    "tags",
                    format!("expected a list of strings, got {}", type_name(&other)),
                )),
            },
            "enabled" => match value {
                Value::Bool(b) => enabled = b,
                other => problems.push(ConfigProblem::field(
                    name,
                    "enabled",
                    format!("expected true or false, got {}", type_name(&other)),
                )),
            },
            "interval" => match parse_interval(&value) {
                Ok(d) => interval = Some(d),
                Err(msg) => problems.push(ConfigProblem::field(name, "interval", msg)),
            },
            _ => {
                config.insert(key, value);
            }
        }
    }
    if provider.is_none()
        && !problems
            .iter()
            .any(|p| p.field.as_deref() == Some("provider"))
    {
        problems.push(ConfigProblem::field(
            name,
            "provider",
            "missing required field; every service names its provider, e.g. provider = \"github\"",
        ));
    }
    let spec = provider.map(|provider| ServiceSpec {
        name: name.to_owned(),
        provider,
        config: RawConfig(config),
        tags,
        enabled,
        interval,
    });
    (spec, problems)
}

fn parse_interval(value: &Value) -> Result<Duration, String> {
    let d = match value {
        Value::String(s) => humantime::parse_duration(s.trim()).ok(),
        Value::Number(n) => n.as_u64().map(Duration::from_secs),
        _ => None,
    }
    .ok_or_else(|| {
        format!(
            "expected a duration such as \"90s\", \"5m\" or \"1h\", or a number of seconds, got {}",
            type_name(value)
        )
    })?;
    if d < MIN_INTERVAL || d > MAX_INTERVAL {
        return Err("the interval must be between 10s and 7 days".into());
    }
    Ok(d)
}

fn interpolate_value(
    value: Value,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Value, Vec<String>> {
    match value {
        Value::String(s) => interpolate(&s, env).map(Value::String),
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
        other => Ok(other),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::schema::{Category, FieldSpec};

    const FIELDS: &[FieldSpec] = &[
        FieldSpec::new("token", FieldKind::String, "Token.")
            .required()
            .secret(),
        FieldSpec::new("base_url", FieldKind::Url, "Base.")
            .default_value("https://api.example.com"),
        FieldSpec::new(
            "kind",
            FieldKind::Enum {
                values: &["a", "b"],
            },
            "Kind.",
        )
        .default_value("a"),
        FieldSpec::new("limit", FieldKind::Integer { min: 1, max: 10 }, "Limit."),
        FieldSpec::new("repos", FieldKind::StringList, "Repos."),
        FieldSpec::new("ttl", FieldKind::Duration, "TTL.").default_value("6h"),
    ];
    const DEMO: ProviderDescriptor = ProviderDescriptor {
        id: "demo",
        name: "Demo",
        category: Category::Other,
        description: "Demo.",
        docs_url: "",
        fields: FIELDS,
    };

    fn raw(v: Value) -> RawConfig {
        match v {
            Value::Object(m) => RawConfig(m),
            _ => RawConfig::default(),
        }
    }

    fn no_env(_: &str) -> Option<String> {
        None
    }

    #[test]
    fn valid_config_gets_defaults() {
        let cfg = validate("svc", &DEMO, &raw(serde_json::json!({"token": "t"})));
        let Ok(cfg) = cfg else { panic!("{cfg:?}") };
        assert_eq!(cfg.string("kind"), Some("a"));
        assert_eq!(cfg.duration("ttl"), Some(Duration::from_secs(6 * 3600)));
        assert_eq!(
            cfg.url("base_url").map(Url::as_str),
            Some("https://api.example.com/")
        );
        assert!(cfg.secret("token").is_some());
        assert!(!format!("{cfg:?}").contains("\"t\""));
    }

    #[test]
    fn every_problem_is_reported_at_once() {
        let cfg = validate(
            "svc",
            &DEMO,
            &raw(serde_json::json!({
                "tokn": "x", "base_url": "ftp://x", "kind": "c", "limit": 99, "repos": [1]
            })),
        );
        let Err(errs) = cfg else {
            panic!("expected errors")
        };
        let fields: Vec<_> = errs
            .problems
            .iter()
            .filter_map(|p| p.field.as_deref())
            .collect();
        assert_eq!(
            fields,
            ["tokn", "token", "base_url", "kind", "limit", "repos"]
        );
        assert!(errs.problems[0].message.contains("did you mean \"token\""));
        assert!(
            errs.problems
                .iter()
                .all(|p| p.service.as_deref() == Some("svc"))
        );
    }

    #[test]
    fn interpolation_reports_missing_vars_and_keeps_escapes() {
        let env = |k: &str| (k == "A").then(|| "1".to_owned());
        assert_eq!(interpolate("x${A}y$${B}", &env), Ok("x1y${B}".into()));
        assert_eq!(
            interpolate("${B}${C}", &env),
            Err(vec!["B".into(), "C".into()])
        );
    }

    #[test]
    fn config_file_problems_name_service_and_field() {
        let text = r#"
            [services.gh]
            provider = "github"
            token = "${NOPE}"
            enabled = "yes"

            [services.bad]
            token = "x"
            interval = "1s"
        "#;
        let Err(errs) = parse_config_file(text, &no_env) else {
            panic!("expected errors")
        };
        let rendered: Vec<String> = errs.problems.iter().map(ToString::to_string).collect();
        assert!(
            rendered
                .iter()
                .any(|p| p.contains("services.gh.token") && p.contains("NOPE"))
        );
        assert!(
            rendered
                .iter()
                .any(|p| p.starts_with("services.gh.enabled"))
        );
        assert!(
            rendered
                .iter()
                .any(|p| p.starts_with("services.bad.provider"))
        );
    }

    #[test]
    fn raw_config_debug_hides_values() {
        let r = raw(serde_json::json!({"token": "supersecret"}));
        assert_eq!(format!("{r:?}"), "{\"token\"}");
    }
}
