//! Metric history: every collection stored as samples, rolled up per series into hourly and
//! daily points holding the last value (gauges such as month-to-date cost or open issues) and
//! the minimum and maximum, with a cap on series per service.
//!
//! A point is an idempotent aggregate: adding the same sample twice leaves it unchanged (the
//! last value is chosen by time, ties broken by the larger value, so even the order of
//! arrival does not matter). The store can therefore upsert points in the same transaction that
//! inserts a collection's samples, with no cursor, and a retried ingest is harmless.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use opsdeck_core::{Metric, Unit};
use serde::{Deserialize, Serialize};

use crate::time::BucketWidth;

/// One stored metric value.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MetricSample {
    /// Metric name (`openai_cost_total`).
    pub name: String,
    /// Labels.
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
    /// Value.
    pub value: f64,
    /// Unit.
    pub unit: Unit,
    /// Collection time, UTC unix ms.
    pub at_ms: i64,
}

impl MetricSample {
    /// A sample of a collected metric.
    pub fn from_metric(m: &Metric, at_ms: i64) -> Self {
        MetricSample {
            name: m.name.clone(),
            labels: m.labels.clone(),
            value: m.value,
            unit: m.unit.clone(),
            at_ms,
        }
    }

    /// Samples of one collection.
    pub fn from_metrics(metrics: &[Metric], at_ms: i64) -> Vec<Self> {
        metrics
            .iter()
            .map(|m| Self::from_metric(m, at_ms))
            .collect()
    }

    /// The series this sample belongs to.
    pub fn key(&self) -> SeriesKey {
        SeriesKey {
            name: self.name.clone(),
            labels: self.labels.clone(),
        }
    }

    /// Whether the sample has `name` and every label in `labels` (others may be present).
    pub fn matches(&self, name: &str, labels: &BTreeMap<String, String>) -> bool {
        self.name == name && labels.iter().all(|(k, v)| self.labels.get(k) == Some(v))
    }
}

/// A series: metric name plus its full label set. Its text form is Prometheus' series notation,
/// `name{label="value",…}` (labels sorted, `\`, `"` and newlines escaped), usable as a column.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct SeriesKey {
    /// Metric name.
    pub name: String,
    /// Labels.
    pub labels: BTreeMap<String, String>,
}

impl fmt::Display for SeriesKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.name)?;
        if self.labels.is_empty() {
            return Ok(());
        }
        f.write_str("{")?;
        for (i, (k, v)) in self.labels.iter().enumerate() {
            if i > 0 {
                f.write_str(",")?;
            }
            write!(f, "{k}=\"")?;
            for c in v.chars() {
                match c {
                    '\\' => f.write_str("\\\\")?,
                    '"' => f.write_str("\\\"")?,
                    '\n' => f.write_str("\\n")?,
                    c => write!(f, "{c}")?,
                }
            }
            f.write_str("\"")?;
        }
        f.write_str("}")
    }
}

impl SeriesKey {
    /// Parses the text form written by `Display`.
    pub fn parse(s: &str) -> Option<SeriesKey> {
        let Some((name, rest)) = s.split_once('{') else {
            return (!s.is_empty()).then(|| SeriesKey {
                name: s.to_owned(),
                labels: BTreeMap::new(),
            });
        };
        let mut body = rest.strip_suffix('}')?.chars().peekable();
        let mut labels = BTreeMap::new();
        while body.peek().is_some() {
            let key: String = body.by_ref().take_while(|&c| c != '=').collect();
            if body.next() != Some('"') || key.is_empty() {
                return None;
            }
            let mut value = String::new();
            loop {
                match body.next()? {
                    '\\' => match body.next()? {
                        'n' => value.push('\n'),
                        c => value.push(c),
                    },
                    '"' => break,
                    c => value.push(c),
                }
            }
            labels.insert(key, value);
            match body.next() {
                Some(',') | None => {}
                Some(_) => return None,
            }
        }
        Some(SeriesKey {
            name: name.to_owned(),
            labels,
        })
    }
}

/// The rolled-up value of one series over one bucket.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MetricPoint {
    /// Aligned start.
    pub start_ms: i64,
    /// Width (hourly and daily are stored).
    pub width: BucketWidth,
    /// The latest value in the bucket (the gauge reading the charts show).
    pub last: f64,
    /// Its time.
    pub last_at_ms: i64,
    /// Smallest value seen.
    pub min: f64,
    /// Largest value seen.
    pub max: f64,
    /// Unit of the latest value.
    pub unit: Unit,
}

impl MetricPoint {
    /// A point holding only `sample`.
    pub fn of(width: BucketWidth, sample: &MetricSample) -> Self {
        MetricPoint {
            start_ms: width.align(sample.at_ms),
            width,
            last: sample.value,
            last_at_ms: sample.at_ms,
            min: sample.value,
            max: sample.value,
            unit: sample.unit.clone(),
        }
    }

    /// Folds `sample` in; `false` (and no change) when it lies outside the bucket or is NaN.
    pub fn add(&mut self, sample: &MetricSample) -> bool {
        if self.width.align(sample.at_ms) != self.start_ms || sample.value.is_nan() {
            return false;
        }
        let other = MetricPoint::of(self.width, sample);
        self.fold(&other);
        true
    }

    /// Folds a point of the same or a finer width lying inside this one (an hour into its day).
    pub fn merge(&mut self, other: &MetricPoint) -> bool {
        if other.width > self.width || self.width.align(other.start_ms) != self.start_ms {
            return false;
        }
        self.fold(other);
        true
    }

    fn fold(&mut self, other: &MetricPoint) {
        if other.last_at_ms > self.last_at_ms
            || (other.last_at_ms == self.last_at_ms && other.last > self.last)
        {
            self.last = other.last;
            self.last_at_ms = other.last_at_ms;
            self.unit = other.unit.clone();
        }
        self.min = self.min.min(other.min);
        self.max = self.max.max(other.max);
    }
}

/// Folds samples into points per (series, width): what to upsert for one collection.
pub fn rollup_metrics(
    samples: &[MetricSample],
    widths: &[BucketWidth],
) -> BTreeMap<(SeriesKey, BucketWidth, i64), MetricPoint> {
    let mut out: BTreeMap<(SeriesKey, BucketWidth, i64), MetricPoint> = BTreeMap::new();
    for s in samples.iter().filter(|s| !s.value.is_nan()) {
        for &w in widths {
            let key = (s.key(), w, w.align(s.at_ms));
            match out.get_mut(&key) {
                Some(p) => {
                    p.add(s);
                }
                None => {
                    out.insert(key, MetricPoint::of(w, s));
                }
            }
        }
    }
    out
}

/// Default most series stored per service.
pub const DEFAULT_MAX_SERIES: usize = 250;

/// What a collection may add to a service's stored series.
#[derive(Debug, Clone, PartialEq)]
pub struct Admission {
    /// Samples to store.
    pub accepted: Vec<MetricSample>,
    /// New series refused because the cap was reached (sorted).
    pub dropped: Vec<SeriesKey>,
    /// An operator note when anything was dropped (shown with the collection's notes).
    pub note: Option<String>,
}

/// Applies the series cap: samples of series already stored always pass; new series are admitted
/// in sorted order until the service has `max_series`; the rest are dropped and counted in a
/// note, so a label that explodes (a repository per pull request, say) cannot grow the database
/// without bound.
pub fn admit(
    known: &BTreeSet<SeriesKey>,
    samples: Vec<MetricSample>,
    max_series: usize,
) -> Admission {
    let new: BTreeSet<SeriesKey> = samples
        .iter()
        .map(MetricSample::key)
        .filter(|k| !known.contains(k))
        .collect();
    let room = max_series.saturating_sub(known.len());
    let admitted: BTreeSet<&SeriesKey> = new.iter().take(room).collect();
    let dropped: Vec<SeriesKey> = new.iter().skip(room).cloned().collect();
    let accepted = samples
        .into_iter()
        .filter(|s| {
            let k = s.key();
            known.contains(&k) || admitted.contains(&k)
        })
        .collect();
    let note = dropped.first().map(|first| {
        format!(
            "{} new metric series not stored: the service already has the maximum of {max_series} series (first dropped: {first}); raise the series cap or narrow what the service collects",
            dropped.len()
        )
    });
    Admission {
        accepted,
        dropped,
        note,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::time::HOUR_MS;

    fn m(name: &str, repo: &str, value: f64, at_ms: i64) -> MetricSample {
        MetricSample {
            name: name.into(),
            labels: BTreeMap::from([("repo".to_string(), repo.to_string())]),
            value,
            unit: Unit::Count,
            at_ms,
        }
    }

    #[test]
    fn series_keys_round_trip_with_escapes() {
        let k = SeriesKey {
            name: "github_open_issues".into(),
            labels: BTreeMap::from([
                ("repo".into(), "o/r\"x\\y\nz".into()),
                ("a".into(), String::new()),
            ]),
        };
        let text = k.to_string();
        assert_eq!(text, r#"github_open_issues{a="",repo="o/r\"x\\y\nz"}"#);
        assert_eq!(SeriesKey::parse(&text), Some(k));
        assert_eq!(SeriesKey::parse("x").map(|k| k.name), Some("x".into()));
        assert_eq!(SeriesKey::parse("x{a=1}"), None);
    }

    #[test]
    fn last_value_per_hour_and_day_is_order_independent() {
        let samples = [
            m("cost", "r", 10.0, 5),
            m("cost", "r", 12.5, HOUR_MS - 1),
            m("cost", "r", 11.0, 100),
            m("cost", "r", 20.0, HOUR_MS + 1),
        ];
        let pts = rollup_metrics(&samples, &BucketWidth::STORED);
        let key = samples[0].key();
        let hour0 = &pts[&(key.clone(), BucketWidth::Hour, 0)];
        assert_eq!((hour0.last, hour0.min, hour0.max), (12.5, 10.0, 12.5));
        let day = &pts[&(key.clone(), BucketWidth::Day, 0)];
        assert_eq!((day.last, day.last_at_ms), (20.0, HOUR_MS + 1));
        // Same samples in reverse order, and one repeated: the same points.
        let mut rev: Vec<_> = samples.iter().rev().cloned().collect();
        rev.push(samples[1].clone());
        assert_eq!(rollup_metrics(&rev, &BucketWidth::STORED), pts);
        // Hours merge into their day.
        let mut d = MetricPoint::of(BucketWidth::Day, &samples[0]);
        assert!(d.merge(&pts[&(key.clone(), BucketWidth::Hour, HOUR_MS)]));
        assert_eq!(d.last, 20.0);
    }

    #[test]
    fn the_series_cap_drops_new_series_with_a_note() {
        let known: BTreeSet<SeriesKey> =
            [m("x", "a", 0.0, 0).key(), m("x", "b", 0.0, 0).key()].into();
        let samples = vec![
            m("x", "a", 1.0, 9),
            m("x", "d", 1.0, 9),
            m("x", "c", 1.0, 9),
            m("x", "e", 1.0, 9),
        ];
        let adm = admit(&known, samples, 3);
        let kept: Vec<_> = adm
            .accepted
            .iter()
            .map(|s| s.labels["repo"].clone())
            .collect();
        assert_eq!(kept, ["a", "c"]);
        assert_eq!(adm.dropped.len(), 2);
        assert!(
            adm.note
                .as_deref()
                .unwrap_or_default()
                .starts_with("2 new metric series not stored")
        );
        assert!(
            admit(&known, vec![m("x", "a", 1.0, 9)], 1).note.is_none(),
            "known series pass even over the cap"
        );
    }
}
