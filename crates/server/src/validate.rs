//! Request limits the API enforces beyond the provider's own config validation, collected so a
//! request hears about every problem at once. The same numbers are in the OpenAPI document
//! (`crate::openapi`) and in docs/server.md ("Limits and security").
//!
//! Until core's `validate_service_keys()` lands (the "api" work), the interval range, tag
//! limits and value sizes are enforced here.

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

/// `interval_secs`: 10 s to 7 days, or null for the server default.
pub fn interval(p: &mut Problems, v: Option<i64>) {
    if let Some(s) = v
        && !(MIN_INTERVAL_SECS..=MAX_INTERVAL_SECS).contains(&s)
    {
        p.add(
            "interval_secs",
            format!(
                "must be between {MIN_INTERVAL_SECS} and {MAX_INTERVAL_SECS} seconds (7 days), or null for the server default"
            ),
        );
    }
}

/// Tags: at most 64, each 1 to 64 characters without control characters.
pub fn tags(p: &mut Problems, tags: &[String]) {
    if tags.len() > MAX_TAGS {
        p.add(
            "tags",
            format!("at most {MAX_TAGS} tags, not {}", tags.len()),
        );
    }
    for (i, t) in tags.iter().enumerate().take(MAX_TAGS + 1) {
        let n = t.chars().count();
        if n == 0 || n > MAX_TAG_CHARS {
            p.add(
                format!("tags[{i}]"),
                format!("a tag has 1 to {MAX_TAG_CHARS} characters, not {n}"),
            );
        } else if t.chars().any(is_control) {
            p.add(
                format!("tags[{i}]"),
                "a tag must not contain control characters",
            );
        }
    }
}

/// Config values: each at most 64 KiB as JSON; strings without NUL or control characters other
/// than tab and line breaks (PEM keys are multi-line).
pub fn config(p: &mut Problems, config: &Map<String, Value>) {
    for (k, v) in config {
        let size = serde_json::to_vec(v).map_or(usize::MAX, |b| b.len());
        if size > MAX_VALUE_BYTES {
            p.add(
                format!("config.{k}"),
                format!(
                    "a value may be at most {MAX_VALUE_BYTES} bytes (64 KiB), this one is {size}"
                ),
            );
            continue;
        }
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
    fn every_problem_at_once() {
        let mut p = Problems::default();
        name(&mut p, "bad name!");
        interval(&mut p, Some(5));
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
        assert_eq!(
            fields,
            [
                "name",
                "interval_secs",
                "tags",
                "tags[1]",
                "tags[2]",
                "config.big",
                "config.ctl"
            ]
        );
        let mut ok = Problems::default();
        interval(&mut ok, Some(10));
        interval(&mut ok, Some(604_800));
        interval(&mut ok, None);
        assert!(ok.is_empty());
    }
}
