//! Validation: a provider's fields against its declaration ([`validate`]), and the keys every
//! service has — name, provider id, tags, interval, value sizes ([`validate_service_keys`]).
//! The file loader, [`crate::ServiceFactory`] and the server's API all run these same
//! functions, so a service is accepted or refused the same way whichever door it comes in by.
//!
//! Nothing here does I/O, and every function reports every problem it finds at once.

use std::time::Duration;

use secrecy::SecretString;
use serde_json::Value;
use url::Url;

use super::problem::{ConfigErrors, ConfigProblem, ProblemCode};
use super::spec::ServiceSpec;
use super::values::{ConfigValue, ConfigValues, RawConfig};
use crate::schema::{FieldKind, ProviderDescriptor, quoted_list};

/// Keys of a service table that belong to opsdeck, not to the provider.
pub const SERVICE_KEYS: &[&str] = &["provider", "tags", "enabled", "interval"];

/// Shortest accepted per-service check interval.
pub const MIN_INTERVAL: Duration = Duration::from_secs(10);
/// Longest accepted per-service check interval.
pub const MAX_INTERVAL: Duration = Duration::from_secs(7 * 24 * 3600);
/// Most tags a service may carry.
pub const MAX_TAGS: usize = 64;
/// Longest tag, in characters.
pub const MAX_TAG_CHARS: usize = 64;
/// Largest config value, in bytes of its JSON form (a string's bytes, a list's items together).
pub const MAX_VALUE_BYTES: usize = 64 * 1024;
/// Longest service name, in characters.
pub const MAX_NAME_CHARS: usize = 64;

/// Service names appear in URLs, metric labels and file keys: keep them simple.
pub fn check_service_name(name: &str) -> Result<(), String> {
    let ok = !name.is_empty()
        && name.len() <= MAX_NAME_CHARS
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

/// Provider ids prefix metric names: lowercase letters, digits and '_'.
pub(crate) fn is_provider_id(id: &str) -> bool {
    !id.is_empty()
        && id
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
}

/// Check the keys every service has, whatever its provider: the name, the provider id's form,
/// tags (at most [`MAX_TAGS`] of at most [`MAX_TAG_CHARS`] characters), the interval
/// ([`MIN_INTERVAL`] to [`MAX_INTERVAL`]) and the size of each config value (at most
/// [`MAX_VALUE_BYTES`]). Returns every problem; an empty list means the keys are fine.
///
/// Whether the provider exists and whether its fields are right is checked by
/// [`crate::ServiceFactory::validate`], which calls this too.
pub fn validate_service_keys(spec: &ServiceSpec) -> Vec<ConfigProblem> {
    let name = spec.name.as_str();
    let mut problems = Vec::new();
    if let Err(msg) = check_service_name(name) {
        problems.push(ConfigProblem::service(name, msg).with_code(ProblemCode::InvalidName));
    }
    if spec.provider.is_empty() {
        problems.push(
            ConfigProblem::field(
                name,
                "provider",
                "missing required field; every service names its provider, e.g. provider = \"github\"",
            )
            .with_code(ProblemCode::MissingField),
        );
    } else if !is_provider_id(&spec.provider) || spec.provider.len() > MAX_NAME_CHARS {
        problems.push(
            ConfigProblem::field(
                name,
                "provider",
                format!(
                    "\"{}\" is not a provider id; ids are lowercase letters, digits and '_', e.g. \"github\"",
                    truncate(&spec.provider, MAX_NAME_CHARS)
                ),
            )
            .with_code(ProblemCode::UnknownProvider),
        );
    }
    if spec.tags.len() > MAX_TAGS {
        problems.push(
            ConfigProblem::field(
                name,
                "tags",
                format!(
                    "{} tags given; at most {MAX_TAGS} are accepted",
                    spec.tags.len()
                ),
            )
            .with_code(ProblemCode::TooMany),
        );
    }
    for (i, tag) in spec.tags.iter().enumerate() {
        if tag.trim().is_empty() {
            problems.push(
                ConfigProblem::field(name, "tags", format!("tag {} is empty", i + 1))
                    .with_code(ProblemCode::InvalidValue),
            );
        } else if tag.chars().count() > MAX_TAG_CHARS {
            problems.push(
                ConfigProblem::field(
                    name,
                    "tags",
                    format!(
                        "tag {} (\"{}…\") is longer than {MAX_TAG_CHARS} characters",
                        i + 1,
                        truncate(tag, 16)
                    ),
                )
                .with_code(ProblemCode::TooLong),
            );
        }
    }
    if let Some(d) = spec.interval
        && (d < MIN_INTERVAL || d > MAX_INTERVAL)
    {
        problems.push(
            ConfigProblem::field(
                name,
                "interval",
                "the interval must be between 10s and 7 days",
            )
            .with_code(ProblemCode::OutOfRange),
        );
    }
    for (key, value) in &spec.config.0 {
        let size = value_size(value);
        if size > MAX_VALUE_BYTES {
            problems.push(
                ConfigProblem::field(
                    name,
                    key,
                    format!(
                        "the value is {} KiB; at most {} KiB are accepted per value",
                        size.div_ceil(1024),
                        MAX_VALUE_BYTES / 1024
                    ),
                )
                .with_code(ProblemCode::TooLong),
            );
        }
    }
    problems
}

/// Bytes a value takes: a string's own bytes (no quotes or escapes), else its JSON text.
fn value_size(value: &Value) -> usize {
    match value {
        Value::String(s) => s.len(),
        Value::Array(items) => items.iter().map(value_size).sum(),
        other => serde_json::to_string(other).map_or(0, |s| s.len()),
    }
}

fn truncate(s: &str, max: usize) -> String {
    s.chars().take(max).collect()
}

/// Validate a raw provider config against `descriptor`'s fields. `service` is used in messages.
pub fn validate(
    service: &str,
    descriptor: &ProviderDescriptor,
    raw: &RawConfig,
) -> Result<ConfigValues, ConfigErrors> {
    let (values, problems) = validate_fields(service, descriptor, raw);
    ConfigErrors::check(problems, values)
}

/// [`validate`], returning the values that could be read together with every problem.
pub(crate) fn validate_fields(
    service: &str,
    descriptor: &ProviderDescriptor,
    raw: &RawConfig,
) -> (ConfigValues, Vec<ConfigProblem>) {
    let mut problems = Vec::new();
    let mut values = ConfigValues::default();

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
            problems
                .push(ConfigProblem::field(service, key, msg).with_code(ProblemCode::UnknownField));
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
                    problems.push(
                        ConfigProblem::field(service, field.name, msg)
                            .with_code(ProblemCode::MissingField),
                    );
                }
                continue;
            }
        };
        match convert(&field.kind, field.secret, value) {
            Ok(v) => values.insert(field.name, v),
            Err((code, msg)) => {
                problems.push(ConfigProblem::field(service, field.name, msg).with_code(code))
            }
        }
    }
    (values, problems)
}

pub(crate) fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "nothing",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "a table",
    }
}

type Refusal = (ProblemCode, String);

fn convert(kind: &FieldKind, secret: bool, v: &Value) -> Result<ConfigValue, Refusal> {
    let expected = || {
        (
            ProblemCode::WrongType,
            format!("expected {}, got {}", kind.describe(), type_name(v)),
        )
    };
    let invalid = |msg: String| (ProblemCode::InvalidValue, msg);
    match kind {
        FieldKind::String => match v {
            Value::String(s) if s.trim().is_empty() => Err(invalid(
                "must not be empty (remove the line to leave it unset)".into(),
            )),
            Value::String(s) if secret => Ok(ConfigValue::Secret(SecretString::from(s.clone()))),
            Value::String(s) => Ok(ConfigValue::String(s.clone())),
            _ => Err(expected()),
        },
        FieldKind::Url => {
            let Value::String(s) = v else {
                return Err(expected());
            };
            let url =
                Url::parse(s.trim()).map_err(|e| invalid(format!("not a valid URL ({e})")))?;
            if url.scheme() != "http" && url.scheme() != "https" {
                return Err(invalid(format!(
                    "the URL scheme must be http or https, not \"{}\"",
                    url.scheme()
                )));
            }
            if url.host_str().is_none() {
                return Err(invalid("the URL has no host".into()));
            }
            if !url.username().is_empty() || url.password().is_some() {
                return Err(invalid(
                    "put credentials in their own fields, not in the URL".into(),
                ));
            }
            crate::http::address::check_url(&url, false).map_err(invalid)?;
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
                return Err((
                    ProblemCode::OutOfRange,
                    format!("{n} is out of range; expected {}", kind.describe()),
                ));
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
                            return Err((
                                ProblemCode::WrongType,
                                format!(
                                    "item {} must be a non-empty string, got {}",
                                    i + 1,
                                    type_name(item)
                                ),
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
                Err(invalid(msg))
            }
            _ => Err(expected()),
        },
        FieldKind::Duration => match v {
            Value::String(s) => humantime::parse_duration(s.trim())
                .map(ConfigValue::Duration)
                .map_err(|e| invalid(format!("not a duration ({e}); {}", kind.describe()))),
            Value::Number(n) => n
                .as_u64()
                .map(|secs| ConfigValue::Duration(Duration::from_secs(secs)))
                .ok_or_else(expected),
            _ => Err(expected()),
        },
    }
}

/// The closest candidate to `given`, when one is close enough to be a likely typo.
pub(crate) fn suggest<'a>(
    given: &str,
    candidates: impl Iterator<Item = &'a str>,
) -> Option<&'a str> {
    candidates
        .map(|c| (strsim::jaro_winkler(given, c), c))
        .filter(|(score, _)| *score > 0.8)
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, c)| c)
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
    const DEMO: ProviderDescriptor =
        ProviderDescriptor::new("demo", "Demo", Category::Other).fields(FIELDS);

    fn raw(v: Value) -> RawConfig {
        match v {
            Value::Object(m) => RawConfig(m),
            _ => RawConfig::default(),
        }
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
    fn every_problem_is_reported_at_once_with_its_code() {
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
        let got: Vec<_> = errs
            .problems
            .iter()
            .map(|p| (p.field.as_deref().unwrap_or(""), p.code))
            .collect();
        assert_eq!(
            got,
            [
                ("tokn", ProblemCode::UnknownField),
                ("token", ProblemCode::MissingField),
                ("base_url", ProblemCode::InvalidValue),
                ("kind", ProblemCode::InvalidValue),
                ("limit", ProblemCode::OutOfRange),
                ("repos", ProblemCode::WrongType),
            ]
        );
        assert!(errs.problems[0].message.contains("did you mean \"token\""));
        assert!(
            errs.problems
                .iter()
                .all(|p| p.service.as_deref() == Some("svc"))
        );
    }

    #[test]
    fn service_keys_are_checked_together() {
        let mut spec = ServiceSpec::new(
            "gh good",
            "Git-Hub",
            raw(serde_json::json!({"token": "x".repeat(MAX_VALUE_BYTES + 1)})),
        );
        spec.tags = (0..=MAX_TAGS).map(|i| format!("t{i}")).collect();
        spec.tags[0] = "y".repeat(MAX_TAG_CHARS + 1);
        spec.tags[1] = " ".into();
        spec.interval = Some(Duration::from_secs(5));
        let codes: Vec<_> = validate_service_keys(&spec)
            .into_iter()
            .map(|p| (p.field, p.code))
            .collect();
        let f = |s: &str| Some(s.to_owned());
        assert_eq!(
            codes,
            [
                (None, ProblemCode::InvalidName),
                (f("provider"), ProblemCode::UnknownProvider),
                (f("tags"), ProblemCode::TooMany),
                (f("tags"), ProblemCode::TooLong),
                (f("tags"), ProblemCode::InvalidValue),
                (f("interval"), ProblemCode::OutOfRange),
                (f("token"), ProblemCode::TooLong),
            ]
        );
        let mut ok = ServiceSpec::new("gh-main", "github", RawConfig::default());
        ok.tags = vec!["platform".into()];
        ok.interval = Some(Duration::from_secs(600));
        assert_eq!(validate_service_keys(&ok), []);
        ok.provider.clear();
        assert_eq!(
            validate_service_keys(&ok)[0].code,
            ProblemCode::MissingField
        );
    }
}
