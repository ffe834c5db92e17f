//! Metrics a provider collects: Prometheus-compatible names prefixed with the provider id,
//! a value, a unit and labels. The JSON shape is a user-facing contract.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize, Serializer};

use crate::{Error, FailureKind};

/// Unit of a metric value. Currency units are lowercase ISO 4217 codes (`usd`).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Deserialize)]
#[serde(from = "String")]
#[non_exhaustive]
pub enum Unit {
    /// A count of things.
    Count,
    /// Tokens (AI usage).
    Tokens,
    /// Requests.
    Requests,
    /// Seconds.
    Seconds,
    /// Milliseconds.
    Milliseconds,
    /// Bytes.
    Bytes,
    /// 0..100.
    Percent,
    /// 0..1.
    Ratio,
    /// A Unix timestamp in seconds.
    Timestamp,
    /// Money in major units of a currency (e.g. dollars), lowercase ISO code.
    Currency(String),
    /// Money in minor units of a currency (e.g. cents): `<code>_minor`.
    CurrencyMinor(String),
    /// Anything else.
    Other(String),
}

impl Unit {
    /// Money in major units of `code` (e.g. "USD" → `usd`).
    pub fn currency(code: &str) -> Unit {
        Unit::Currency(code.to_ascii_lowercase())
    }

    /// The unit's stable spelling.
    pub fn as_str(&self) -> std::borrow::Cow<'_, str> {
        use std::borrow::Cow::{Borrowed, Owned};
        match self {
            Unit::Count => Borrowed("count"),
            Unit::Tokens => Borrowed("tokens"),
            Unit::Requests => Borrowed("requests"),
            Unit::Seconds => Borrowed("seconds"),
            Unit::Milliseconds => Borrowed("milliseconds"),
            Unit::Bytes => Borrowed("bytes"),
            Unit::Percent => Borrowed("percent"),
            Unit::Ratio => Borrowed("ratio"),
            Unit::Timestamp => Borrowed("timestamp"),
            Unit::Currency(c) => Borrowed(c),
            Unit::CurrencyMinor(c) => Owned(format!("{c}_minor")),
            Unit::Other(o) => Borrowed(o),
        }
    }
}

impl From<String> for Unit {
    fn from(s: String) -> Self {
        match s.as_str() {
            "count" => Unit::Count,
            "tokens" => Unit::Tokens,
            "requests" => Unit::Requests,
            "seconds" => Unit::Seconds,
            "milliseconds" => Unit::Milliseconds,
            "bytes" => Unit::Bytes,
            "percent" => Unit::Percent,
            "ratio" => Unit::Ratio,
            "timestamp" => Unit::Timestamp,
            _ => match s.strip_suffix("_minor") {
                Some(c) if c.len() == 3 => Unit::CurrencyMinor(c.to_owned()),
                _ if s.len() == 3 && s.chars().all(|c| c.is_ascii_lowercase()) => Unit::Currency(s),
                _ => Unit::Other(s),
            },
        }
    }
}

impl Serialize for Unit {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.as_str())
    }
}

/// One metric sample. Build it with [`Metric::new`] and [`Metric::label`]:
///
/// ```
/// use opsdeck_core::{Metric, Unit};
/// let m = Metric::new("github_open_issues", 12.0, Unit::Count).label("repo", "o/r");
/// assert_eq!(m.labels["repo"], "o/r");
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Metric {
    /// snake_case, prefixed with the provider id, e.g. `github_open_issues`.
    pub name: String,
    /// The value; integral values serialize without a fraction (`12`, not `12.0`).
    #[serde(serialize_with = "serialize_value")]
    pub value: f64,
    /// Unit of the value.
    pub unit: Unit,
    /// Labels (Prometheus label names: snake_case).
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
}

fn serialize_value<S: Serializer>(v: &f64, s: S) -> Result<S::Ok, S::Error> {
    // 2^53: beyond it f64 cannot represent every integer, so keep the float form.
    if v.fract() == 0.0 && v.abs() < 9_007_199_254_740_992.0 {
        #[allow(clippy::cast_possible_truncation)]
        s.serialize_i64(*v as i64)
    } else {
        s.serialize_f64(*v)
    }
}

impl Metric {
    /// A metric without labels.
    pub fn new(name: impl Into<String>, value: f64, unit: Unit) -> Self {
        Metric {
            name: name.into(),
            value,
            unit,
            labels: BTreeMap::new(),
        }
    }

    /// Add a label.
    pub fn label(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.labels.insert(key.into(), value.into());
        self
    }

    /// Label a figure of the previous full month: `period="previous_month"` and
    /// `month="YYYY-MM"` (see [`TimeWindow::previous_month`](crate::domain::TimeWindow::previous_month)).
    pub fn previous_month(self, window: &crate::domain::TimeWindow) -> Self {
        self.label("period", PREVIOUS_MONTH)
            .label("month", window.month_label())
    }
}

/// The `period` label value of previous-month figures.
pub const PREVIOUS_MONTH: &str = "previous_month";

/// The note for the first day of a month, when month-to-date figures are (about) zero:
/// "month-to-date is 0; last month: <last_month>." (e.g. "1,234.56 USD (2026-11)").
pub fn first_day_note(last_month: &str) -> String {
    format!("Today is the first day of the month: month-to-date is 0; last month: {last_month}.")
}

/// What `collect_metrics` returns: samples plus notes for the operator (e.g. "repository list
/// capped at 100", "usage needs an admin key", "cost figures from cache, 2 h old").
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct MetricSet {
    /// The samples.
    pub metrics: Vec<Metric>,
    /// Remarks about completeness or provenance.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
    /// One entry per section that could not be collected; the other sections' samples are
    /// still in [`metrics`](Self::metrics).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub problems: Vec<MetricProblem>,
}

/// A section of a provider's metrics (e.g. `charges`, `repositories`) that could not be
/// collected, while the others were. JSON: `{"section","failure","message"}` (a contract of the
/// CLI's `--json` and the server's API).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct MetricProblem {
    /// The section's stable name (snake_case), as the provider's docs list it.
    pub section: String,
    /// Why it failed.
    pub failure: FailureKind,
    /// What happened, for the operator (never contains a secret: it comes from an [`Error`]).
    pub message: String,
}

impl MetricProblem {
    /// A `failure` of `section` with its `message`.
    pub fn new(
        section: impl Into<String>,
        failure: FailureKind,
        message: impl Into<String>,
    ) -> Self {
        MetricProblem {
            section: section.into(),
            failure,
            message: message.into(),
        }
    }

    /// The problem `error` caused in `section` (message and hint in one line).
    pub fn from_error(section: impl Into<String>, error: &Error) -> Self {
        Self::new(section, error.kind(), error.to_string())
    }
}

/// Builds a [`MetricSet`] from independent sections, so one failed endpoint does not discard
/// what the others returned: each failed section becomes a [`MetricProblem`]. Two failures
/// still fail the whole collection — rejected credentials (every section would say the same),
/// and every section failing (nothing was collected; the first error is returned).
///
/// ```
/// use opsdeck_core::{Error, FailureKind, Metric, Unit};
/// use opsdeck_core::metrics::Sections;
///
/// let mut s = Sections::new();
/// if let Some(n) = s.section("balance", Ok::<_, Error>(3.0)).unwrap() {
///     s.push(Metric::new("stripe_balance", n, Unit::currency("usd")));
/// }
/// let charges: Result<f64, Error> = Err(Error::new(FailureKind::ProviderError, "HTTP 500"));
/// assert!(s.section("charges", charges).unwrap().is_none());
/// let set = s.finish().unwrap();
/// assert_eq!(set.metrics.len(), 1);
/// assert_eq!(set.problems[0].section, "charges");
/// ```
#[derive(Debug, Default)]
pub struct Sections {
    set: MetricSet,
    succeeded: usize,
    first_error: Option<Error>,
}

impl Sections {
    /// No sections yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// The outcome of `section`: its value, or `None` with a problem recorded. Rejected
    /// credentials are returned as the error of the whole collection.
    pub fn section<T>(
        &mut self,
        section: &str,
        result: crate::Result<T>,
    ) -> crate::Result<Option<T>> {
        match result {
            Ok(v) => {
                self.succeeded += 1;
                Ok(Some(v))
            }
            Err(e) if e.kind() == FailureKind::InvalidCredentials => Err(e),
            Err(e) => {
                tracing::debug!(section, failure = %e.kind(), "metrics section failed");
                self.set
                    .problems
                    .push(MetricProblem::from_error(section, &e));
                if self.first_error.is_none() {
                    self.first_error = Some(e);
                }
                Ok(None)
            }
        }
    }

    /// Like [`section`](Self::section), for a section read with a credential of its own (an
    /// admin key beside the API key): even rejected credentials are a problem of this section
    /// only, because the other sections' credential works.
    pub fn section_with_own_credential<T>(
        &mut self,
        section: &str,
        result: crate::Result<T>,
    ) -> Option<T> {
        match result {
            Ok(v) => {
                self.succeeded += 1;
                Some(v)
            }
            Err(e) => {
                tracing::debug!(section, failure = %e.kind(), "metrics section failed");
                self.set
                    .problems
                    .push(MetricProblem::from_error(section, &e));
                if self.first_error.is_none() {
                    self.first_error = Some(e);
                }
                None
            }
        }
    }

    /// True when at least one section succeeded.
    pub fn any_succeeded(&self) -> bool {
        self.succeeded > 0
    }

    /// The set: the samples with a problem per failed section, or the first section's error
    /// when no section succeeded.
    pub fn finish(self) -> crate::Result<MetricSet> {
        match self.first_error {
            Some(e) if self.succeeded == 0 => Err(e),
            _ => Ok(self.set),
        }
    }
}

impl std::ops::Deref for Sections {
    type Target = MetricSet;
    fn deref(&self) -> &MetricSet {
        &self.set
    }
}

impl std::ops::DerefMut for Sections {
    fn deref_mut(&mut self) -> &mut MetricSet {
        &mut self.set
    }
}

impl MetricSet {
    /// Empty set.
    pub fn new() -> Self {
        Self::default()
    }

    /// Add a sample.
    pub fn push(&mut self, metric: Metric) {
        self.metrics.push(metric);
    }

    /// Add a note.
    pub fn note(&mut self, note: impl Into<String>) {
        self.notes.push(note.into());
    }

    /// The value of the first sample named `name` whose labels include every `(key, value)` in
    /// `labels`.
    pub fn value(&self, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
        self.metrics
            .iter()
            .find(|m| {
                m.name == name
                    && labels
                        .iter()
                        .all(|(k, v)| m.labels.get(*k).map(String::as_str) == Some(*v))
            })
            .map(|m| m.value)
    }

    /// A group of metrics the credentials may not be allowed to read: a permission problem
    /// becomes a note ("`what` left out: …") and `Ok(None)`, so the other groups are still
    /// reported; any other error is returned.
    pub fn permitted<T>(
        &mut self,
        what: &str,
        result: crate::Result<T>,
    ) -> crate::Result<Option<T>> {
        match result {
            Ok(v) => Ok(Some(v)),
            Err(e) if e.kind() == FailureKind::PermissionDenied => {
                self.note(format!("{what} left out: {e}"));
                Ok(None)
            }
            Err(e) => Err(e),
        }
    }
}

/// True when `name` is a valid metric name for provider `id`: `<id>_` prefix, then lowercase
/// letters, digits and underscores (Prometheus-compatible).
pub fn is_valid_metric_name(id: &str, name: &str) -> bool {
    name.strip_prefix(id)
        .and_then(|rest| rest.strip_prefix('_'))
        .is_some_and(|rest| {
            !rest.is_empty()
                && rest
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn integral_values_serialize_as_integers() {
        let m = Metric::new("github_open_issues", 12.0, Unit::Count).label("repo", "o/r");
        let json = serde_json::to_string(&m).unwrap_or_default();
        assert_eq!(
            json,
            r#"{"name":"github_open_issues","value":12,"unit":"count","labels":{"repo":"o/r"}}"#
        );
        let m = Metric::new("openai_cost", 1.25, Unit::currency("USD"));
        let json = serde_json::to_string(&m).unwrap_or_default();
        assert!(json.contains(r#""value":1.25,"unit":"usd""#), "{json}");
    }

    #[test]
    fn metric_names_are_checked() {
        assert!(is_valid_metric_name("github", "github_open_issues"));
        assert!(!is_valid_metric_name("github", "github_"));
        assert!(!is_valid_metric_name("github", "openIssues"));
        assert!(!is_valid_metric_name("github", "jira_open"));
    }
}
