//! Config problems and the field reader behind every validating parser in this crate.
//!
//! Config arrives as TOML (`opsdeck.toml`) or as the same shape in JSON (the API). Serde stops
//! at the first error, but a user fixing a config file wants every problem at once, each with the
//! table, the entry's name and the field (as the service config does). So tables are read as a
//! JSON value and each field through [`Fields`], which records a [`Problem`] and carries on.

use std::collections::BTreeSet;
use std::fmt;

use serde::Serialize;
use serde_json::{Map, Value};

/// One thing wrong with a config entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Problem {
    /// The table: `alerts`, `silences`, `budgets`, `retention`, …
    pub table: String,
    /// The entry's name (the key under the table); empty for a table-level problem.
    pub name: String,
    /// The field, when one is at fault.
    pub field: Option<String>,
    /// What is wrong and what is accepted.
    pub message: String,
}

impl Problem {
    /// A problem with a field of an entry.
    pub fn field(table: &str, name: &str, field: &str, message: impl Into<String>) -> Self {
        Problem {
            table: table.into(),
            name: name.into(),
            field: Some(field.into()),
            message: message.into(),
        }
    }

    /// A problem with an entry as a whole.
    pub fn entry(table: &str, name: &str, message: impl Into<String>) -> Self {
        Problem {
            table: table.into(),
            name: name.into(),
            field: None,
            message: message.into(),
        }
    }
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "[{}", self.table)?;
        if !self.name.is_empty() {
            write!(f, ".{}", self.name)?;
        }
        f.write_str("]")?;
        if let Some(field) = &self.field {
            write!(f, " {field}")?;
        }
        write!(f, ": {}", self.message)
    }
}

/// Every problem found in a config, in file order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, thiserror::Error)]
pub struct Problems {
    /// The problems; never empty when returned as an error.
    pub problems: Vec<Problem>,
}

impl fmt::Display for Problems {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} config problem(s):", self.problems.len())?;
        for p in &self.problems {
            write!(f, "\n  {p}")?;
        }
        Ok(())
    }
}

impl Problems {
    /// `Ok(value)` when `problems` is empty.
    pub fn check<T>(problems: Vec<Problem>, value: T) -> Result<T, Problems> {
        if problems.is_empty() {
            Ok(value)
        } else {
            Err(Problems { problems })
        }
    }
}

/// Converts a parsed TOML value to the JSON shape the parsers read (TOML datetimes become their
/// RFC 3339 strings).
pub fn toml_to_json(v: &toml::Value) -> Value {
    match v {
        toml::Value::String(s) => Value::String(s.clone()),
        toml::Value::Integer(i) => Value::from(*i),
        toml::Value::Float(f) => {
            serde_json::Number::from_f64(*f).map_or(Value::Null, Value::Number)
        }
        toml::Value::Boolean(b) => Value::Bool(*b),
        toml::Value::Datetime(d) => Value::String(d.to_string()),
        toml::Value::Array(a) => Value::Array(a.iter().map(toml_to_json).collect()),
        toml::Value::Table(t) => Value::Object(
            t.iter()
                .map(|(k, v)| (k.clone(), toml_to_json(v)))
                .collect(),
        ),
    }
}

/// Reads the fields of one entry, recording problems instead of stopping at the first.
#[derive(Debug)]
pub struct Fields<'a> {
    table: &'a str,
    name: &'a str,
    map: Map<String, Value>,
    problems: &'a mut Vec<Problem>,
}

impl<'a> Fields<'a> {
    /// The fields of entry `name` under `table`; a non-table value is itself a problem.
    pub fn new(
        table: &'a str,
        name: &'a str,
        value: &Value,
        problems: &'a mut Vec<Problem>,
    ) -> Option<Self> {
        match value {
            Value::Object(map) => Some(Fields {
                table,
                name,
                map: map.clone(),
                problems,
            }),
            _ => {
                problems.push(Problem::entry(table, name, "must be a table of fields"));
                None
            }
        }
    }

    /// Records a problem with `field`.
    pub fn problem(&mut self, field: &str, message: impl Into<String>) {
        self.problems
            .push(Problem::field(self.table, self.name, field, message));
    }

    /// Records a problem with the entry as a whole.
    pub fn entry_problem(&mut self, message: impl Into<String>) {
        self.problems
            .push(Problem::entry(self.table, self.name, message));
    }

    /// Whether `field` is present (and not null).
    pub fn has(&self, field: &str) -> bool {
        self.map.get(field).is_some_and(|v| !v.is_null())
    }

    fn take(&mut self, field: &str) -> Option<Value> {
        self.map.remove(field).filter(|v| !v.is_null())
    }

    /// A string field.
    pub fn string(&mut self, field: &str) -> Option<String> {
        match self.take(field)? {
            Value::String(s) => Some(s),
            other => {
                self.problem(field, format!("must be a string, found {}", kind(&other)));
                None
            }
        }
    }

    /// A boolean field.
    pub fn bool(&mut self, field: &str) -> Option<bool> {
        match self.take(field)? {
            Value::Bool(b) => Some(b),
            other => {
                self.problem(
                    field,
                    format!("must be true or false, found {}", kind(&other)),
                );
                None
            }
        }
    }

    /// A non-negative integer field within `range`.
    pub fn uint(&mut self, field: &str, range: std::ops::RangeInclusive<u64>) -> Option<u64> {
        let v = self.take(field)?;
        match v.as_u64() {
            Some(n) if range.contains(&n) => Some(n),
            _ => {
                self.problem(
                    field,
                    format!(
                        "must be a whole number from {} to {}, found {}",
                        range.start(),
                        range.end(),
                        show(&v)
                    ),
                );
                None
            }
        }
    }

    /// A number field (integer or float), kept exactly as a decimal.
    pub fn decimal(&mut self, field: &str) -> Option<rust_decimal::Decimal> {
        let v = self.take(field)?;
        match number_to_decimal(&v) {
            Some(d) => Some(d),
            None => {
                self.problem(field, format!("must be a number, found {}", show(&v)));
                None
            }
        }
    }

    /// A list of numbers.
    pub fn decimals(&mut self, field: &str) -> Option<Vec<rust_decimal::Decimal>> {
        let v = self.take(field)?;
        let Value::Array(items) = &v else {
            self.problem(
                field,
                format!("must be a list of numbers, found {}", kind(&v)),
            );
            return None;
        };
        let parsed: Option<Vec<_>> = items.iter().map(number_to_decimal).collect();
        if parsed.is_none() {
            self.problem(
                field,
                format!("must be a list of numbers, found {}", show(&v)),
            );
        }
        parsed
    }

    /// A list of strings.
    pub fn strings(&mut self, field: &str) -> Option<Vec<String>> {
        let v = self.take(field)?;
        let list = match &v {
            Value::Array(items) => items
                .iter()
                .map(|i| i.as_str().map(str::to_owned))
                .collect::<Option<Vec<_>>>(),
            _ => None,
        };
        if list.is_none() {
            self.problem(
                field,
                format!("must be a list of strings, found {}", show(&v)),
            );
        }
        list
    }

    /// A table of string values (labels).
    pub fn string_map(
        &mut self,
        field: &str,
    ) -> Option<std::collections::BTreeMap<String, String>> {
        let v = self.take(field)?;
        let map = match &v {
            Value::Object(m) => m
                .iter()
                .map(|(k, v)| v.as_str().map(|s| (k.clone(), s.to_owned())))
                .collect::<Option<_>>(),
            _ => None,
        };
        if map.is_none() {
            self.problem(
                field,
                format!("must be a table of strings, found {}", show(&v)),
            );
        }
        map
    }

    /// A duration field (`"4h"`).
    pub fn duration(&mut self, field: &str) -> Option<std::time::Duration> {
        let s = self.string(field)?;
        match crate::time::parse_duration(&s) {
            Ok(d) if !d.is_zero() => Some(d),
            Ok(_) => {
                self.problem(field, "must be longer than zero");
                None
            }
            Err(e) => {
                self.problem(field, e);
                None
            }
        }
    }

    /// A raw sub-value (for nested tables), without type checks.
    pub fn value(&mut self, field: &str) -> Option<Value> {
        self.take(field)
    }

    /// Records every field not read so far as unknown, suggesting the closest accepted name.
    pub fn finish(mut self, accepted: &[&str]) {
        let rest: BTreeSet<String> = std::mem::take(&mut self.map)
            .into_iter()
            .map(|(k, _)| k)
            .collect();
        for field in rest {
            let hint = accepted
                .iter()
                .map(|a| (strsim_distance(&field, a), *a))
                .filter(|(d, _)| *d <= 3)
                .min()
                .map(|(_, a)| format!(" (did you mean \"{a}\"?)"))
                .unwrap_or_default();
            self.problem(
                &field,
                format!("unknown field{hint}; accepted: {}", accepted.join(", ")),
            );
        }
    }
}

fn number_to_decimal(v: &Value) -> Option<rust_decimal::Decimal> {
    use std::str::FromStr;
    match v {
        // The JSON text of the number, so 0.1 stays 0.1 instead of its binary approximation.
        Value::Number(n) => rust_decimal::Decimal::from_str(&n.to_string())
            .or_else(|_| rust_decimal::Decimal::from_scientific(&n.to_string()))
            .ok(),
        _ => None,
    }
}

fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "nothing",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "a table",
    }
}

fn show(v: &Value) -> String {
    let s = v.to_string();
    if s.len() > 60 {
        format!(
            "{}…",
            &s[..s.char_indices().nth(57).map_or(s.len(), |(i, _)| i)]
        )
    } else {
        s
    }
}

/// Edit distance for "did you mean" hints (small inputs only).
fn strsim_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1; b.len() + 1];
        for (j, cb) in b.iter().enumerate() {
            cur[j + 1] = (prev[j] + usize::from(ca != *cb))
                .min(prev[j + 1] + 1)
                .min(cur[j] + 1);
        }
        prev = cur;
    }
    prev[b.len()]
}

/// The watching half's tables of `opsdeck.toml`: `[alerts.*]`, `[silences.*]`, `[budgets.*]`.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct WatchConfig {
    /// Alert rules, by name.
    pub alerts: Vec<crate::alerts::AlertRule>,
    /// Silences, by name.
    pub silences: Vec<crate::silence::Silence>,
    /// Budgets, by name.
    pub budgets: Vec<crate::budget::Budget>,
}

impl WatchConfig {
    /// Reads the three tables from a whole config document (other tables are left to their
    /// owners), reporting every problem of every entry at once. `known_channels` are the
    /// `[channels.*]` names the server accepted.
    pub fn from_document(
        doc: &Value,
        known_channels: &BTreeSet<String>,
    ) -> Result<WatchConfig, Problems> {
        let mut problems = Vec::new();
        let mut out = WatchConfig::default();
        let table = |name: &str, problems: &mut Vec<Problem>| -> Vec<(String, Value)> {
            match doc.get(name) {
                None | Some(Value::Null) => Vec::new(),
                Some(Value::Object(m)) => m.iter().map(|(k, v)| (k.clone(), v.clone())).collect(),
                Some(_) => {
                    problems.push(Problem::entry(
                        name,
                        "",
                        format!("must be a table of named entries ([{name}.<name>])"),
                    ));
                    Vec::new()
                }
            }
        };
        for (name, v) in table("alerts", &mut problems) {
            out.alerts.extend(crate::alerts::AlertRule::parse(
                &name,
                &v,
                known_channels,
                &mut problems,
            ));
        }
        for (name, v) in table("silences", &mut problems) {
            out.silences
                .extend(crate::silence::Silence::parse(&name, &v, &mut problems));
        }
        for (name, v) in table("budgets", &mut problems) {
            out.budgets.extend(crate::budget::Budget::parse(
                &name,
                &v,
                known_channels,
                &mut problems,
            ));
        }
        Problems::check(problems, out)
    }

    /// [`from_document`](Self::from_document) over TOML text.
    pub fn from_toml_str(
        text: &str,
        known_channels: &BTreeSet<String>,
    ) -> Result<WatchConfig, Problems> {
        let doc: toml::Value = toml::from_str(text).map_err(|e| Problems {
            problems: vec![Problem::entry(
                "",
                "",
                format!("not valid TOML: {}", e.message()),
            )],
        })?;
        Self::from_document(&toml_to_json(&doc), known_channels)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_problem_is_reported_with_its_field() {
        let v = serde_json::json!({"a": 1, "b": "x", "remind_evry": "4h", "n": 0});
        let mut problems = Vec::new();
        if let Some(mut f) = Fields::new("alerts", "down", &v, &mut problems) {
            assert_eq!(f.string("a"), None);
            assert_eq!(f.uint("n", 1..=10), None);
            assert_eq!(f.string("b").as_deref(), Some("x"));
            f.finish(&["a", "b", "n", "remind_every"]);
        }
        let text: Vec<String> = problems.iter().map(ToString::to_string).collect();
        assert_eq!(
            text,
            [
                "[alerts.down] a: must be a string, found a number",
                "[alerts.down] n: must be a whole number from 1 to 10, found 0",
                "[alerts.down] remind_evry: unknown field (did you mean \"remind_every\"?); accepted: a, b, n, remind_every",
            ]
        );
    }

    #[test]
    fn numbers_stay_exact_decimals() {
        let v = serde_json::json!({"x": 0.1, "y": [50, 80.5]});
        let mut problems = Vec::new();
        let (x, y) = match Fields::new("budgets", "b", &v, &mut problems) {
            Some(mut f) => (f.decimal("x"), f.decimals("y")),
            None => (None, None),
        };
        assert_eq!(x.map(|d| d.to_string()).as_deref(), Some("0.1"));
        assert_eq!(
            y.map(|v| v.iter().map(ToString::to_string).collect::<Vec<_>>()),
            Some(vec!["50".into(), "80.5".into()])
        );
        assert!(problems.is_empty());
    }
}
