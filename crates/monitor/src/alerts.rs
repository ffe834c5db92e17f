//! Alert rules (`[alerts.*]`): the condition, which services it watches, flap control and the
//! channels it notifies — and the evaluators that turn a check report, a metrics collection or a
//! forecast's inputs into one [`Observation`] per (rule, service).
//!
//! ```toml
//! [alerts.connection-down]
//! condition = "status"          # status | latency | credential_expiry | rate_limit | metric
//!                               # | credential_expiry_forecast | rate_limit_forecast | latency_trend
//! services = ["*"]              # globs; or tags = [...], providers = [...]
//! failure_threshold = 3
//! success_threshold = 2
//! remind_every = "4h"           # optional
//! send_resolved = true
//! channels = ["ops-hook", "team-slack"]
//! ```
//!
//! Condition parameters: `status` — `include_unknown` (default false); `latency` — `above_ms`;
//! `credential_expiry` and `credential_expiry_forecast` — `within_days`; `rate_limit` —
//! `below_percent`; `metric` — `metric`, `labels` (optional), `op` (`">"` or `"<"`), `value`;
//! `rate_limit_forecast` — `window` (default `"1h"`); `latency_trend` — `percent`, `min_checks`
//! (default 20).

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use opsdeck_core::{ConnectionReport, Status};
use serde::{Deserialize, Serialize};

use crate::alert_state::{FlapPolicy, Observation};
use crate::config::{Fields, Problem};
use crate::digest::LatencyDigest;
use crate::forecast::{
    LatencyTrend, RateLimitForecast, RateLimitPoint, credential_expiry_forecast, latency_trend,
    rate_limit_forecast,
};
use crate::metric_history::MetricSample;
use crate::scope::Scope;
use crate::time::{duration_ms, rfc3339, serde_duration};

/// `>` or `<`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Comparison {
    /// Bad when the value is above.
    #[serde(rename = ">")]
    Above,
    /// Bad when the value is below.
    #[serde(rename = "<")]
    Below,
}

impl Comparison {
    fn holds(self, v: f64, threshold: f64) -> bool {
        match self {
            Comparison::Above => v > threshold,
            Comparison::Below => v < threshold,
        }
    }

    fn symbol(self) -> &'static str {
        match self {
            Comparison::Above => ">",
            Comparison::Below => "<",
        }
    }
}

/// What a rule watches for.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "condition", rename_all = "snake_case")]
pub enum Condition {
    /// The check failed (or, with `include_unknown`, could not decide).
    Status {
        /// Count `unknown` results as bad too.
        include_unknown: bool,
    },
    /// A connected check took longer than `above_ms`.
    Latency {
        /// Threshold, ms.
        above_ms: u64,
    },
    /// The credentials expire within `within_days` (from the report's `token_expires_at`).
    CredentialExpiry {
        /// Warning period, days.
        within_days: u32,
    },
    /// Rate-limit headroom below `below_percent` % of the limit.
    RateLimit {
        /// Threshold, percent of the limit.
        below_percent: u32,
    },
    /// A collected metric compared with a value.
    Metric {
        /// Metric name.
        metric: String,
        /// Labels the sample must carry (others may be present).
        #[serde(skip_serializing_if = "BTreeMap::is_empty")]
        labels: BTreeMap<String, String>,
        /// Comparison.
        op: Comparison,
        /// Threshold.
        value: f64,
    },
    /// Forecast: the credentials expire within `within_days`; fires once per credential (each
    /// new expiry date is a new credential) and says the date.
    CredentialExpiryForecast {
        /// Warning period, days.
        within_days: u32,
    },
    /// Forecast: at the rate seen over `window`, the rate-limit quota runs out before it resets.
    RateLimitForecast {
        /// How far back readings are used.
        #[serde(with = "serde_duration")]
        window: Duration,
    },
    /// Forecast: p95 latency of the last 7 days is at least `percent` % above the 7 days before.
    LatencyTrend {
        /// Threshold, percent.
        percent: u32,
        /// Connected checks needed in each window.
        min_checks: u64,
    },
}

/// The input an evaluator needs, which tells the server what to feed a rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum EvidenceKind {
    /// Each stored check result.
    Check,
    /// Each metrics collection.
    Metrics,
    /// The recent rate-limit readings of a service (from its check results).
    RateLimitHistory,
    /// The two 7-day latency digests of a service (from its hourly buckets).
    LatencyWindows,
}

/// Evidence for one evaluation of one rule on one service.
#[derive(Debug, Clone, Copy)]
pub enum Evidence<'a> {
    /// A check result.
    Check(&'a ConnectionReport),
    /// A metrics collection.
    Metrics(&'a [MetricSample]),
    /// Recent rate-limit readings.
    RateLimitHistory(&'a [RateLimitPoint]),
    /// Latency of the last 7 days and of the 7 days before.
    LatencyWindows {
        /// The last 7 days.
        recent: &'a LatencyDigest,
        /// The 7 days before.
        previous: &'a LatencyDigest,
    },
}

impl Condition {
    /// The condition's config name.
    pub fn name(&self) -> &'static str {
        match self {
            Condition::Status { .. } => "status",
            Condition::Latency { .. } => "latency",
            Condition::CredentialExpiry { .. } => "credential_expiry",
            Condition::RateLimit { .. } => "rate_limit",
            Condition::Metric { .. } => "metric",
            Condition::CredentialExpiryForecast { .. } => "credential_expiry_forecast",
            Condition::RateLimitForecast { .. } => "rate_limit_forecast",
            Condition::LatencyTrend { .. } => "latency_trend",
        }
    }

    /// What the server must feed [`observe`](Self::observe).
    pub fn evidence(&self) -> EvidenceKind {
        match self {
            Condition::Metric { .. } => EvidenceKind::Metrics,
            Condition::RateLimitForecast { .. } => EvidenceKind::RateLimitHistory,
            Condition::LatencyTrend { .. } => EvidenceKind::LatencyWindows,
            _ => EvidenceKind::Check,
        }
    }

    /// Default `(failure_threshold, success_threshold)`: Gatus' 3 and 2 for per-check
    /// conditions that flap; 1 and 1 for slow-moving facts (expiry dates, quotas, trends), where
    /// waiting for three readings only delays the warning.
    pub fn default_thresholds(&self) -> (u32, u32) {
        match self {
            Condition::Status { .. } | Condition::Latency { .. } => (3, 2),
            _ => (1, 1),
        }
    }

    /// Judges one piece of evidence. Evidence of the wrong kind, or evidence that cannot decide
    /// (latency of a failed check, a report without an expiry date), is
    /// [`ObservationKind::NoData`](crate::alert_state::ObservationKind::NoData): it neither extends nor breaks a streak.
    pub fn observe(&self, evidence: &Evidence<'_>, now_ms: i64) -> Observation {
        match (self, evidence) {
            (Condition::Status { include_unknown }, Evidence::Check(r)) => match r.status {
                Status::Connected => Observation::good(format!("connected: {}", r.message)),
                Status::Failed => Observation::bad(failure_text(r)),
                Status::Unknown if *include_unknown => Observation::bad(failure_text(r)),
                Status::Unknown => Observation::no_data("the check could not decide (unknown)"),
            },
            (Condition::Latency { above_ms }, Evidence::Check(r)) => {
                if r.status != Status::Connected {
                    Observation::no_data("latency is judged on connected checks only")
                } else if r.latency_ms > *above_ms {
                    Observation::bad(format!(
                        "check took {} ms (threshold {above_ms} ms)",
                        r.latency_ms
                    ))
                } else {
                    Observation::good(format!(
                        "check took {} ms (threshold {above_ms} ms)",
                        r.latency_ms
                    ))
                }
            }
            (Condition::CredentialExpiry { within_days }, Evidence::Check(r)) => {
                let Some(exp) = r.details.token_expires_at.map(|t| t.timestamp_millis()) else {
                    return Observation::no_data("the vendor reported no credential expiry");
                };
                match credential_expiry_forecast(Some(exp), now_ms, *within_days) {
                    Some(f) => Observation::bad(f.message),
                    None => {
                        Observation::good(format!("the credentials expire on {}", rfc3339(exp)))
                    }
                }
            }
            (Condition::CredentialExpiryForecast { within_days }, Evidence::Check(r)) => {
                let Some(exp) = r.details.token_expires_at.map(|t| t.timestamp_millis()) else {
                    return Observation::no_data("the vendor reported no credential expiry");
                };
                match credential_expiry_forecast(Some(exp), now_ms, *within_days) {
                    // The expiry instant names the credential: a new token with its own date is
                    // a new firing, the old one resolves.
                    Some(f) => Observation::bad(f.message).with_subject(format!("expires:{exp}")),
                    None => {
                        Observation::good(format!("the credentials expire on {}", rfc3339(exp)))
                    }
                }
            }
            (Condition::RateLimit { below_percent }, Evidence::Check(r)) => {
                let Some(rl) = r.details.rate_limit.as_ref() else {
                    return Observation::no_data("the check reported no rate limit");
                };
                let (Some(limit), Some(remaining)) = (rl.limit, rl.remaining) else {
                    return Observation::no_data("the rate limit lacks a limit or remaining count");
                };
                if limit == 0 {
                    return Observation::no_data("the vendor reported a limit of 0");
                }
                if rl.reset_at.is_some_and(|t| t.timestamp_millis() <= now_ms) {
                    return Observation::good("the rate-limit window has reset since the reading");
                }
                let resource = rl
                    .resource
                    .as_deref()
                    .map(|r| format!(" ({r})"))
                    .unwrap_or_default();
                let text = format!(
                    "{remaining} of {limit} requests left{resource} ({:.1} %; threshold {below_percent} %){}",
                    remaining as f64 * 100.0 / limit as f64,
                    rl.reset_at
                        .map(|t| format!(", resets at {}", rfc3339(t.timestamp_millis())))
                        .unwrap_or_default()
                );
                if u128::from(remaining) * 100 < u128::from(*below_percent) * u128::from(limit) {
                    Observation::bad(text)
                } else {
                    Observation::good(text)
                }
            }
            (
                Condition::Metric {
                    metric,
                    labels,
                    op,
                    value,
                },
                Evidence::Metrics(samples),
            ) => {
                let matching: Vec<&MetricSample> = samples
                    .iter()
                    .filter(|s| s.matches(metric, labels))
                    .collect();
                if matching.is_empty() {
                    return Observation::no_data(format!(
                        "no sample of {metric} in the collection"
                    ));
                }
                let bad: Vec<String> = matching
                    .iter()
                    .filter(|s| op.holds(s.value, *value))
                    .map(|s| format!("{} = {} {}", s.key(), s.value, s.unit.as_str()))
                    .collect();
                if bad.is_empty() {
                    Observation::good(format!("{metric} is not {} {value}", op.symbol()))
                } else {
                    Observation::bad(format!(
                        "{} (threshold {} {value})",
                        bad.join(", "),
                        op.symbol()
                    ))
                }
            }
            (Condition::RateLimitForecast { window }, Evidence::RateLimitHistory(points)) => {
                match rate_limit_forecast(points, now_ms, duration_ms(*window)) {
                    RateLimitForecast::RunsOut { message, .. } => Observation::bad(message),
                    f @ (RateLimitForecast::Lasts { .. }
                    | RateLimitForecast::NotConsuming { .. }
                    | RateLimitForecast::ResetPassed { .. }) => {
                        Observation::good(f.message().to_owned())
                    }
                    RateLimitForecast::NoData { message } => Observation::no_data(message),
                }
            }
            (
                Condition::LatencyTrend {
                    percent,
                    min_checks,
                },
                Evidence::LatencyWindows { recent, previous },
            ) => match latency_trend(recent, previous, *percent, *min_checks) {
                LatencyTrend::Rising { message, .. } => Observation::bad(message),
                LatencyTrend::Steady { message, .. } => Observation::good(message),
                LatencyTrend::Insufficient { message } => Observation::no_data(message),
            },
            _ => Observation::no_data(format!("{} is not judged from this evidence", self.name())),
        }
    }
}

fn failure_text(r: &ConnectionReport) -> String {
    match r.failure {
        Some(kind) => format!("{} ({kind}): {}", r.status, r.message),
        None => format!("{}: {}", r.status, r.message),
    }
}

/// One `[alerts.<name>]` entry.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AlertRule {
    /// The table key.
    #[serde(skip)]
    pub name: String,
    /// What it watches for.
    #[serde(flatten)]
    pub condition: Condition,
    /// Which services.
    #[serde(flatten)]
    pub scope: Scope,
    /// Consecutive bad results that fire it.
    pub failure_threshold: u32,
    /// Consecutive good results that resolve it.
    pub success_threshold: u32,
    /// Repeat the notification this often while firing.
    #[serde(
        with = "serde_duration::option",
        skip_serializing_if = "Option::is_none"
    )]
    pub remind_every: Option<Duration>,
    /// Notify when it resolves.
    pub send_resolved: bool,
    /// Channel names (`[channels.*]`); empty records without notifying.
    pub channels: Vec<String>,
}

impl AlertRule {
    /// The flap-control part, for [`crate::alert_state::step`].
    pub fn policy(&self) -> FlapPolicy {
        FlapPolicy {
            failure_threshold: self.failure_threshold,
            success_threshold: self.success_threshold,
            remind_every_ms: self.remind_every.map(duration_ms),
            send_resolved: self.send_resolved,
        }
    }

    /// Parses one entry (TOML table or API JSON), recording every problem. `known_channels` are
    /// the channel names the server knows.
    pub fn parse(
        name: &str,
        value: &serde_json::Value,
        known_channels: &BTreeSet<String>,
        problems: &mut Vec<Problem>,
    ) -> Option<AlertRule> {
        const T: &str = "alerts";
        let before = problems.len();
        check_name(T, name, problems);
        let mut f = Fields::new(T, name, value, problems)?;
        let mut accepted = vec![
            "condition",
            "services",
            "tags",
            "providers",
            "failure_threshold",
            "success_threshold",
            "remind_every",
            "send_resolved",
            "channels",
        ];
        let condition = match f.string("condition").as_deref() {
            None => {
                f.problem("condition", "is required: one of status, latency, credential_expiry, rate_limit, metric, credential_expiry_forecast, rate_limit_forecast, latency_trend");
                None
            }
            Some("status") => {
                accepted.push("include_unknown");
                Some(Condition::Status {
                    include_unknown: f.bool("include_unknown").unwrap_or(false),
                })
            }
            Some("latency") => {
                accepted.push("above_ms");
                required(&mut f, "above_ms", |f| f.uint("above_ms", 1..=3_600_000))
                    .map(|above_ms| Condition::Latency { above_ms })
            }
            Some(c @ ("credential_expiry" | "credential_expiry_forecast")) => {
                accepted.push("within_days");
                required(&mut f, "within_days", |f| f.uint("within_days", 1..=365)).map(|d| {
                    let within_days = d as u32;
                    if c == "credential_expiry" {
                        Condition::CredentialExpiry { within_days }
                    } else {
                        Condition::CredentialExpiryForecast { within_days }
                    }
                })
            }
            Some("rate_limit") => {
                accepted.push("below_percent");
                required(&mut f, "below_percent", |f| f.uint("below_percent", 1..=99)).map(|p| {
                    Condition::RateLimit {
                        below_percent: p as u32,
                    }
                })
            }
            Some("metric") => {
                accepted.extend(["metric", "labels", "op", "value"]);
                let metric = required(&mut f, "metric", |f| f.string("metric"));
                let labels = f.string_map("labels").unwrap_or_default();
                let op = match required(&mut f, "op", |f| f.string("op")).as_deref() {
                    Some(">") => Some(Comparison::Above),
                    Some("<") => Some(Comparison::Below),
                    Some(other) => {
                        f.problem("op", format!("must be \">\" or \"<\", found \"{other}\""));
                        None
                    }
                    None => None,
                };
                let value = required(&mut f, "value", |f| f.decimal("value")).and_then(|d| {
                    use rust_decimal::prelude::ToPrimitive;
                    d.to_f64()
                });
                if metric.as_deref().is_some_and(str::is_empty) {
                    f.problem("metric", "must not be empty");
                }
                match (metric, op, value) {
                    (Some(metric), Some(op), Some(value)) => Some(Condition::Metric {
                        metric,
                        labels,
                        op,
                        value,
                    }),
                    _ => None,
                }
            }
            Some("rate_limit_forecast") => {
                accepted.push("window");
                let window = if f.has("window") {
                    f.duration("window")
                } else {
                    Some(Duration::from_secs(3600))
                };
                window.map(|window| Condition::RateLimitForecast { window })
            }
            Some("latency_trend") => {
                accepted.extend(["percent", "min_checks"]);
                let percent = required(&mut f, "percent", |f| f.uint("percent", 1..=10_000));
                let min_checks = if f.has("min_checks") {
                    f.uint("min_checks", 1..=1_000_000)
                } else {
                    Some(20)
                };
                percent
                    .zip(min_checks)
                    .map(|(p, m)| Condition::LatencyTrend {
                        percent: p as u32,
                        min_checks: m,
                    })
            }
            Some(other) => {
                f.problem(
                    "condition",
                    format!("unknown condition \"{other}\"; accepted: status, latency, credential_expiry, rate_limit, metric, credential_expiry_forecast, rate_limit_forecast, latency_trend"),
                );
                None
            }
        };
        let scope_given = ["services", "tags", "providers"].iter().any(|k| f.has(k));
        let scope = Scope::read(&mut f, false);
        if !scope_given {
            f.entry_problem(
                "says no services: set services (globs, [\"*\"] for all), tags or providers",
            );
        }
        let (df, ds) = condition
            .as_ref()
            .map_or((3, 2), Condition::default_thresholds);
        let failure_threshold = if f.has("failure_threshold") {
            f.uint("failure_threshold", 1..=100)
        } else {
            Some(u64::from(df))
        };
        let success_threshold = if f.has("success_threshold") {
            f.uint("success_threshold", 1..=100)
        } else {
            Some(u64::from(ds))
        };
        let remind_every = f.duration("remind_every");
        if remind_every.is_some_and(|d| d < Duration::from_secs(60)) {
            f.problem("remind_every", "must be at least 1m");
        }
        let send_resolved = f.bool("send_resolved").unwrap_or(true);
        let channels = required(&mut f, "channels", |f| f.strings("channels")).unwrap_or_default();
        check_channels(&mut f, &channels, known_channels);
        f.finish(&accepted);
        if problems.len() > before {
            return None;
        }
        Some(AlertRule {
            name: name.to_owned(),
            condition: condition?,
            scope,
            failure_threshold: failure_threshold? as u32,
            success_threshold: success_threshold? as u32,
            remind_every,
            send_resolved,
            channels,
        })
    }
}

/// Reads a field that must be present.
pub(crate) fn required<T>(
    f: &mut Fields<'_>,
    field: &str,
    read: impl FnOnce(&mut Fields<'_>) -> Option<T>,
) -> Option<T> {
    if !f.has(field) {
        f.problem(field, "is required");
        return None;
    }
    read(f)
}

/// Channel names must be ones the server knows.
pub(crate) fn check_channels(f: &mut Fields<'_>, channels: &[String], known: &BTreeSet<String>) {
    let mut seen = BTreeSet::new();
    for c in channels {
        if !known.contains(c) {
            let list = if known.is_empty() {
                "none are configured ([channels.*])".to_owned()
            } else {
                format!(
                    "known: {}",
                    known.iter().cloned().collect::<Vec<_>>().join(", ")
                )
            };
            f.problem("channels", format!("unknown channel \"{c}\"; {list}"));
        }
        if !seen.insert(c) {
            f.problem("channels", format!("channel \"{c}\" is listed twice"));
        }
    }
}

/// Names appear in URLs and payloads: 1-64 letters, digits, `-`, `_`, `.`, starting with a
/// letter or digit (the same rule as service names).
pub(crate) fn check_name(table: &str, name: &str, problems: &mut Vec<Problem>) {
    if let Err(e) = opsdeck_core::config::check_service_name(name) {
        problems.push(Problem::entry(
            table,
            name,
            e.replace("service name", "name"),
        ));
    }
}

#[cfg(test)]
mod tests {
    use chrono::{TimeZone, Utc};
    use opsdeck_core::{FailureKind, RateLimitInfo, ReportDetails};

    use super::*;
    use crate::alert_state::ObservationKind;

    fn report(status: Status, latency_ms: u64, details: ReportDetails) -> ConnectionReport {
        let latency = std::time::Duration::from_millis(latency_ms);
        let mut r = if status == Status::Connected {
            ConnectionReport::connected(opsdeck_core::Connected::new(None, "m"), latency)
        } else {
            ConnectionReport::from_error(
                &opsdeck_core::Error::new(FailureKind::InvalidCredentials, "m"),
                latency,
            )
        };
        r.status = status;
        r.checked_at = Utc.timestamp_millis_opt(0).single().unwrap_or_default();
        r.details = details;
        r
    }

    #[test]
    fn status_and_latency_evaluators() {
        let status = Condition::Status {
            include_unknown: false,
        };
        assert_eq!(
            status
                .observe(
                    &Evidence::Check(&report(Status::Failed, 1, ReportDetails::default())),
                    0
                )
                .kind,
            ObservationKind::Bad
        );
        assert_eq!(
            status
                .observe(
                    &Evidence::Check(&report(Status::Unknown, 1, ReportDetails::default())),
                    0
                )
                .kind,
            ObservationKind::NoData
        );
        let with_unknown = Condition::Status {
            include_unknown: true,
        };
        assert_eq!(
            with_unknown
                .observe(
                    &Evidence::Check(&report(Status::Unknown, 1, ReportDetails::default())),
                    0
                )
                .kind,
            ObservationKind::Bad
        );
        let latency = Condition::Latency { above_ms: 500 };
        assert_eq!(
            latency
                .observe(
                    &Evidence::Check(&report(Status::Connected, 501, ReportDetails::default())),
                    0
                )
                .kind,
            ObservationKind::Bad
        );
        assert_eq!(
            latency
                .observe(
                    &Evidence::Check(&report(Status::Connected, 500, ReportDetails::default())),
                    0
                )
                .kind,
            ObservationKind::Good
        );
        assert_eq!(
            latency
                .observe(
                    &Evidence::Check(&report(Status::Failed, 9_000, ReportDetails::default())),
                    0
                )
                .kind,
            ObservationKind::NoData
        );
        assert_eq!(
            latency.observe(&Evidence::Metrics(&[]), 0).kind,
            ObservationKind::NoData
        );
    }

    #[test]
    fn rate_limit_and_expiry_evaluators() {
        let mut rate_limit = RateLimitInfo::new(Some("core".into()));
        rate_limit.limit = Some(5_000);
        rate_limit.remaining = Some(249);
        rate_limit.reset_at = Utc.timestamp_millis_opt(3_600_000).single();
        let mut details = ReportDetails::default();
        details.rate_limit = Some(rate_limit);
        details.token_expires_at = Utc.timestamp_millis_opt(3 * 86_400_000).single();
        let r = report(Status::Connected, 1, details);
        let o = Condition::RateLimit { below_percent: 5 }.observe(&Evidence::Check(&r), 0);
        assert_eq!(o.kind, ObservationKind::Bad);
        assert!(
            o.message
                .starts_with("249 of 5000 requests left (core) (5.0 %"),
            "{}",
            o.message
        );
        assert_eq!(
            Condition::RateLimit { below_percent: 4 }
                .observe(&Evidence::Check(&r), 0)
                .kind,
            ObservationKind::Good
        );
        // After the reset the reading is stale: good.
        assert_eq!(
            Condition::RateLimit { below_percent: 5 }
                .observe(&Evidence::Check(&r), 3_600_000)
                .kind,
            ObservationKind::Good
        );
        assert_eq!(
            Condition::CredentialExpiry { within_days: 7 }
                .observe(&Evidence::Check(&r), 0)
                .kind,
            ObservationKind::Bad
        );
        assert_eq!(
            Condition::CredentialExpiry { within_days: 2 }
                .observe(&Evidence::Check(&r), 0)
                .kind,
            ObservationKind::Good
        );
        let fc =
            Condition::CredentialExpiryForecast { within_days: 7 }.observe(&Evidence::Check(&r), 0);
        assert_eq!(fc.subject.as_deref(), Some("expires:259200000"));
    }

    #[test]
    fn metric_evaluator_matches_labels() {
        let s = |repo: &str, v: f64| MetricSample {
            name: "github_open_issues".into(),
            labels: BTreeMap::from([("repo".to_string(), repo.to_string())]),
            value: v,
            unit: opsdeck_core::Unit::Count,
            at_ms: 0,
        };
        let samples = [s("a", 10.0), s("b", 200.0)];
        let all = Condition::Metric {
            metric: "github_open_issues".into(),
            labels: BTreeMap::new(),
            op: Comparison::Above,
            value: 100.0,
        };
        let o = all.observe(&Evidence::Metrics(&samples), 0);
        assert_eq!(o.kind, ObservationKind::Bad);
        assert!(
            o.message
                .contains(r#"github_open_issues{repo="b"} = 200 count"#),
            "{}",
            o.message
        );
        let only_a = Condition::Metric {
            metric: "github_open_issues".into(),
            labels: BTreeMap::from([("repo".to_string(), "a".to_string())]),
            op: Comparison::Above,
            value: 100.0,
        };
        assert_eq!(
            only_a.observe(&Evidence::Metrics(&samples), 0).kind,
            ObservationKind::Good
        );
        let none = Condition::Metric {
            metric: "x".into(),
            labels: BTreeMap::new(),
            op: Comparison::Below,
            value: 1.0,
        };
        assert_eq!(
            none.observe(&Evidence::Metrics(&samples), 0).kind,
            ObservationKind::NoData
        );
    }
}
