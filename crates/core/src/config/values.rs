//! Config values before and after validation: [`RawConfig`] (what the user wrote, untyped) and
//! [`ConfigValues`] (typed, defaults applied), which providers read their settings from.

use std::collections::BTreeMap;
use std::fmt;
use std::time::Duration;

use secrecy::SecretString;
use serde_json::{Map, Value};
use url::Url;

/// A provider config as given by the user, before validation. Its `Debug` prints only the
/// keys, because values may be secrets in plain text.
#[derive(Clone, Default, PartialEq)]
pub struct RawConfig(pub Map<String, Value>);

impl RawConfig {
    /// An empty config.
    pub fn new() -> Self {
        Self::default()
    }

    /// The same config with `key` set to `value`.
    pub fn with(mut self, key: impl Into<String>, value: impl Into<Value>) -> Self {
        self.0.insert(key.into(), value.into());
        self
    }
}

impl fmt::Debug for RawConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_set().entries(self.0.keys()).finish()
    }
}

impl From<Map<String, Value>> for RawConfig {
    fn from(map: Map<String, Value>) -> Self {
        RawConfig(map)
    }
}

/// A validated config value.
#[derive(Clone)]
#[non_exhaustive]
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

    pub(crate) fn insert(&mut self, name: &str, value: ConfigValue) {
        self.values.insert(name.to_owned(), value);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn raw_config_debug_hides_values() {
        let r = RawConfig::new().with("token", "supersecret");
        assert_eq!(format!("{r:?}"), "{\"token\"}");
        let v = ConfigValue::Secret(SecretString::from("supersecret"));
        assert_eq!(format!("{v:?}"), "[REDACTED]");
    }
}
