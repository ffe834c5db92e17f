//! Request limits the API enforces beyond the provider's own config validation, collected so a
//! request hears about every problem at once. The same numbers are in the OpenAPI document
//! (`crate::openapi`) and in docs/server.md ("Limits and security").
//!
//! The interval range, tag limits and value sizes are core's (`validate_service_keys`, run by
//! `ServiceFactory::build`); the constants here repeat them for the OpenAPI document.

use serde_json::{Map, Value};

use crate::error::FieldProblem;

/// Shortest check interval (seconds).
pub const MIN_INTERVAL_SECS: i64 = 10;
/// Longest check interval (seconds): 7 days.
pub const MAX_INTERVAL_SECS: i64 = 7 * 86_400;
/// Tags per service at most.
pub const MAX_TAGS: usize = 64;
/// Characters per tag at most.
pub const MAX_TAG_CHARS: usize = 64;
/// Bytes of one config value (as JSON) at most.
pub const MAX_VALUE_BYTES: usize = 64 * 1024;
/// Characters of a token name at most.
pub const MAX_TOKEN_NAME_CHARS: usize = 100;

/// Collected problems.
#[derive(Debug, Default)]
pub struct Problems(pub Vec<FieldProblem>);

impl Problems {
    /// Adds one.
    pub fn add(&mut self, field: impl Into<String>, message: impl Into<String>) {
        self.0.push(FieldProblem {
            field: field.into(),
            message: message.into(),
        });
    }

    /// True when there is none.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// A control character (C0, DEL, C1): never allowed in names and tags.
pub fn is_control(c: char) -> bool {
    c.is_control()
}

/// The service name rule (also the URL key).
pub fn name(p: &mut Problems, name: &str) {
    if let Err(m) = opsdeck_core::config::check_service_name(name) {
        p.add("name", m);
    }
}

/// `interval_secs` as core's interval (core checks the 10 s – 7 days range); a value that is not
/// a positive number of seconds becomes zero so core reports it as out of range.
pub fn interval_of(v: Option<i64>) -> Option<std::time::Duration> {
    v.map(|s| std::time::Duration::from_secs(u64::try_from(s).unwrap_or(0)))
}

/// Tags: no control characters (core checks count and length).
pub fn tags(p: &mut Problems, tags: &[String]) {
    for (i, t) in tags.iter().enumerate().take(MAX_TAGS + 1) {
        if t.chars().any(is_control) {
            p.add(
                format!("tags[{i}]"),
                "a tag must not contain control characters",
            );
        }
    }
}

/// Config values: strings without NUL or control characters other than tab and line breaks
/// (PEM keys are multi-line); core checks each value's size.
pub fn config(p: &mut Problems, config: &Map<String, Value>) {
    for (k, v) in config {
        if has_bad_control(v) {
            p.add(
                format!("config.{k}"),
                "must not contain NUL or control characters (tab and line breaks are fine)",
            );
        }
    }
}

fn has_bad_control(v: &Value) -> bool {
    match v {
        Value::String(s) => s
            .chars()
            .any(|c| c.is_control() && !matches!(c, '\t' | '\n' | '\r')),
        Value::Array(a) => a.iter().any(has_bad_control),
        Value::Object(o) => o
            .iter()
            .any(|(k, v)| has_bad_control(&Value::String(k.clone())) || has_bad_control(v)),
        _ => false,
    }
}

/// A token name: 1 to 100 characters, not only spaces, no control characters.
pub fn token_name(p: &mut Problems, name: &str) {
    let n = name.chars().count();
    if name.trim().is_empty() || n > MAX_TOKEN_NAME_CHARS {
        p.add(
            "name",
            format!("must be 1 to {MAX_TOKEN_NAME_CHARS} characters, not only spaces"),
        );
    } else if name.chars().any(is_control) {
        p.add("name", "must not contain control characters");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_characters_are_refused_the_rest_is_core_s() {
        let mut p = Problems::default();
        name(&mut p, "bad name!");
        let mut many: Vec<String> = (0..70).map(|i| format!("t{i}")).collect();
        many[1] = "x".repeat(65);
        many[2] = "nul\u{0}".into();
        tags(&mut p, &many);
        let mut cfg = Map::new();
        cfg.insert("big".into(), Value::String("a".repeat(70_000)));
        cfg.insert("ctl".into(), Value::String("a\u{1}b".into()));
        cfg.insert("pem".into(), Value::String("-----BEGIN-----\nabc\n".into()));
        config(&mut p, &cfg);
        let fields: Vec<&str> = p.0.iter().map(|f| f.field.as_str()).collect();
        assert_eq!(fields, ["name", "tags[2]", "config.ctl"]);
        assert_eq!(interval_of(Some(-5)), Some(std::time::Duration::ZERO));
        assert_eq!(
            interval_of(Some(10)),
            Some(std::time::Duration::from_secs(10))
        );
        assert_eq!(interval_of(None), None);
    }
}
