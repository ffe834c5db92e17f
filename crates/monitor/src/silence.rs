//! Silences and maintenance windows (`[silences.*]`): which services, when (a from–until range,
//! a weekly recurring window in UTC, or a weekly window bounded by from/until), and why.
//!
//! ```toml
//! [silences.db-migration]
//! services = ["aws-*"]                 # or tags = [...], providers = [...]
//! from = "2026-12-06T22:00:00Z"        # optional; default: now
//! until = "2026-12-07T02:00:00Z"
//! reason = "Database migration"
//!
//! [silences.weekly-deploys]
//! tags = ["staging"]
//! weekly = { days = ["sat", "sun"], start = "22:00", end = "02:00" }   # UTC; end ≤ start spans midnight
//! reason = "Weekend deploys"
//! ```
//!
//! A silence suppresses notifications only: alert state still changes and is recorded.

use chrono::{DateTime, Datelike, Timelike, Utc, Weekday};
use serde::{Serialize, Serializer};

use crate::config::{Fields, Problem};
use crate::scope::{Scope, ServiceRef};
use crate::time::{rfc3339, to_datetime};

/// A weekly recurring window in UTC.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct WeeklyWindow {
    /// Days the window starts on.
    #[serde(serialize_with = "ser_days")]
    pub days: Vec<Weekday>,
    /// Start, minutes after 00:00 UTC.
    #[serde(serialize_with = "ser_hhmm")]
    pub start_min: u32,
    /// End, minutes after 00:00 UTC; at or before `start_min` means the next day (equal: 24 h).
    #[serde(serialize_with = "ser_hhmm")]
    pub end_min: u32,
}

fn ser_days<S: Serializer>(days: &[Weekday], s: S) -> Result<S::Ok, S::Error> {
    s.collect_seq(days.iter().map(|d| d.to_string().to_ascii_lowercase()))
}

fn ser_hhmm<S: Serializer>(m: &u32, s: S) -> Result<S::Ok, S::Error> {
    s.collect_str(&format_args!("{:02}:{:02}", m / 60, m % 60))
}

impl WeeklyWindow {
    /// Whether `at` falls in the window.
    pub fn contains(&self, at: DateTime<Utc>) -> bool {
        let minute = at.hour() * 60 + at.minute();
        let today = at.weekday();
        let yesterday = today.pred();
        let spans_midnight = self.end_min <= self.start_min;
        self.days.iter().any(|&d| {
            (d == today && minute >= self.start_min && (spans_midnight || minute < self.end_min))
                || (spans_midnight && d == yesterday && minute < self.end_min)
        })
    }
}

/// One `[silences.<name>]` entry.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Silence {
    /// The table key.
    #[serde(skip)]
    pub name: String,
    /// Which services.
    #[serde(flatten)]
    pub scope: Scope,
    /// Not active before (unix ms).
    #[serde(
        rename = "from",
        serialize_with = "ser_opt_time",
        skip_serializing_if = "Option::is_none"
    )]
    pub from_ms: Option<i64>,
    /// Not active from (unix ms).
    #[serde(
        rename = "until",
        serialize_with = "ser_opt_time",
        skip_serializing_if = "Option::is_none"
    )]
    pub until_ms: Option<i64>,
    /// Weekly recurring window.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub weekly: Option<WeeklyWindow>,
    /// Why.
    pub reason: String,
}

fn ser_opt_time<S: Serializer>(t: &Option<i64>, s: S) -> Result<S::Ok, S::Error> {
    match t {
        Some(ms) => s.collect_str(&rfc3339(*ms)),
        None => s.serialize_none(),
    }
}

impl Silence {
    /// Whether it is in force at `now_ms` (ignoring scope).
    pub fn active_at(&self, now_ms: i64) -> bool {
        if self.from_ms.is_some_and(|f| now_ms < f) || self.until_ms.is_some_and(|u| now_ms >= u) {
            return false;
        }
        match &self.weekly {
            Some(w) => to_datetime(now_ms).is_some_and(|t| w.contains(t)),
            None => true,
        }
    }

    /// Whether it silences `svc` at `now_ms`.
    pub fn silences(&self, svc: &ServiceRef<'_>, now_ms: i64) -> bool {
        self.scope.matches(svc) && self.active_at(now_ms)
    }

    /// Whether it can never be active again after `now_ms` (the server may prune it).
    pub fn expired(&self, now_ms: i64) -> bool {
        self.until_ms.is_some_and(|u| now_ms >= u)
    }

    /// Parses one entry, recording every problem.
    pub fn parse(
        name: &str,
        value: &serde_json::Value,
        problems: &mut Vec<Problem>,
    ) -> Option<Silence> {
        const T: &str = "silences";
        let before = problems.len();
        crate::alerts::check_name(T, name, problems);
        let mut f = Fields::new(T, name, value, problems)?;
        let scope_given = ["services", "tags", "providers"].iter().any(|k| f.has(k));
        let scope = Scope::read(&mut f, false);
        if !scope_given {
            f.entry_problem(
                "says no services: set services (globs, [\"*\"] for all), tags or providers",
            );
        }
        let from_ms = time_field(&mut f, "from");
        let until_given = f.has("until");
        let until_ms = time_field(&mut f, "until");
        let weekly_given = f.has("weekly");
        let weekly = f.value("weekly").and_then(|v| parse_weekly(&mut f, &v));
        if let (Some(a), Some(b)) = (from_ms, until_ms)
            && b <= a
        {
            f.problem("until", "must be after from");
        }
        if !until_given && !weekly_given {
            f.entry_problem("needs an end: set until (RFC 3339, UTC) or a weekly window");
        }
        let reason = match f.string("reason") {
            Some(r) if !r.trim().is_empty() => Some(r),
            Some(_) => {
                f.problem("reason", "must not be empty");
                None
            }
            None => {
                f.problem("reason", "is required: say why the alerts are silenced");
                None
            }
        };
        f.finish(&[
            "services",
            "tags",
            "providers",
            "from",
            "until",
            "weekly",
            "reason",
        ]);
        if problems.len() > before {
            return None;
        }
        Some(Silence {
            name: name.to_owned(),
            scope,
            from_ms,
            until_ms,
            weekly,
            reason: reason?,
        })
    }
}

fn time_field(f: &mut Fields<'_>, field: &str) -> Option<i64> {
    let s = f.string(field)?;
    match DateTime::parse_from_rfc3339(&s) {
        Ok(t) => Some(t.timestamp_millis()),
        Err(e) => {
            f.problem(
                field,
                format!("must be an RFC 3339 time such as 2026-12-06T22:00:00Z: {e}"),
            );
            None
        }
    }
}

fn parse_weekly(f: &mut Fields<'_>, v: &serde_json::Value) -> Option<WeeklyWindow> {
    let Some(obj) = v.as_object() else {
        f.problem(
            "weekly",
            "must be a table { days = [...], start = \"HH:MM\", end = \"HH:MM\" }",
        );
        return None;
    };
    let mut ok = true;
    let mut days = Vec::new();
    match obj.get("days").and_then(|d| d.as_array()) {
        Some(list) if !list.is_empty() => {
            for d in list {
                match d.as_str().and_then(parse_weekday) {
                    Some(day) if !days.contains(&day) => days.push(day),
                    Some(_) => {}
                    None => {
                        f.problem(
                            "weekly.days",
                            format!("unknown day {d}; use mon, tue, wed, thu, fri, sat, sun"),
                        );
                        ok = false;
                    }
                }
            }
        }
        _ => {
            f.problem(
                "weekly.days",
                "is required: a non-empty list such as [\"sat\", \"sun\"]",
            );
            ok = false;
        }
    }
    let mut hhmm = |key: &str| -> Option<u32> {
        let parsed = obj.get(key).and_then(|v| v.as_str()).and_then(|s| {
            let (h, m) = s.split_once(':')?;
            let (h, m): (u32, u32) = (h.parse().ok()?, m.parse().ok()?);
            (h < 24 && m < 60 && s.len() == 5).then_some(h * 60 + m)
        });
        if parsed.is_none() {
            f.problem(
                &format!("weekly.{key}"),
                "is required as \"HH:MM\" (UTC, 00:00–23:59)",
            );
        }
        parsed
    };
    let start = hhmm("start");
    let end = hhmm("end");
    for key in obj
        .keys()
        .filter(|k| !["days", "start", "end"].contains(&k.as_str()))
    {
        f.problem(
            &format!("weekly.{key}"),
            "unknown field; accepted: days, start, end",
        );
        ok = false;
    }
    Some(WeeklyWindow {
        days,
        start_min: start?,
        end_min: end?,
    })
    .filter(|_| ok)
}

fn parse_weekday(s: &str) -> Option<Weekday> {
    match s.to_ascii_lowercase().as_str() {
        "mon" | "monday" => Some(Weekday::Mon),
        "tue" | "tuesday" => Some(Weekday::Tue),
        "wed" | "wednesday" => Some(Weekday::Wed),
        "thu" | "thursday" => Some(Weekday::Thu),
        "fri" | "friday" => Some(Weekday::Fri),
        "sat" | "saturday" => Some(Weekday::Sat),
        "sun" | "sunday" => Some(Weekday::Sun),
        _ => None,
    }
}

/// The first silence (by name) that silences `svc` at `now_ms`.
pub fn active_silence<'a>(
    silences: &'a [Silence],
    svc: &ServiceRef<'_>,
    now_ms: i64,
) -> Option<&'a Silence> {
    silences
        .iter()
        .filter(|s| s.silences(svc, now_ms))
        .min_by(|a, b| a.name.cmp(&b.name))
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;
    use serde_json::json;

    use super::*;

    fn at(y: i32, mo: u32, d: u32, h: u32, mi: u32) -> i64 {
        Utc.with_ymd_and_hms(y, mo, d, h, mi, 0)
            .single()
            .map(|t| t.timestamp_millis())
            .unwrap_or_default()
    }

    #[test]
    fn from_until_and_weekly_windows() {
        let mut p = Vec::new();
        let once = Silence::parse(
            "m",
            &json!({"services": ["aws-*"], "from": "2026-12-06T22:00:00Z", "until": "2026-12-07T02:00:00Z", "reason": "db"}),
            &mut p,
        );
        assert!(p.is_empty(), "{p:?}");
        let once = once.unwrap_or_else(|| panic!("parsed"));
        assert!(!once.active_at(at(2026, 12, 6, 21, 59)));
        assert!(once.active_at(at(2026, 12, 6, 22, 0)));
        assert!(!once.active_at(at(2026, 12, 7, 2, 0)));
        let tags = vec![];
        assert!(once.silences(
            &ServiceRef {
                name: "aws-prod",
                provider: "aws",
                tags: &tags,
                category: None
            },
            at(2026, 12, 6, 23, 0)
        ));
        assert!(!once.silences(
            &ServiceRef {
                name: "gh",
                provider: "github",
                tags: &tags,
                category: None
            },
            at(2026, 12, 6, 23, 0)
        ));

        // 2026-12-05 is a Saturday. Sat/Sun 22:00 → 02:00 next day.
        let weekly = Silence::parse(
            "w",
            &json!({"tags": ["staging"], "weekly": {"days": ["sat", "sun"], "start": "22:00", "end": "02:00"}, "reason": "deploys"}),
            &mut p,
        );
        let weekly = weekly.unwrap_or_else(|| panic!("{p:?}"));
        assert!(weekly.active_at(at(2026, 12, 5, 22, 0)));
        assert!(
            weekly.active_at(at(2026, 12, 6, 1, 59)),
            "Sunday early morning, from Saturday"
        );
        assert!(
            weekly.active_at(at(2026, 12, 7, 1, 0)),
            "Monday early morning, from Sunday"
        );
        assert!(!weekly.active_at(at(2026, 12, 7, 2, 0)));
        assert!(!weekly.active_at(at(2026, 12, 5, 21, 59)));
        assert!(
            !weekly.active_at(at(2026, 12, 8, 1, 0)),
            "Tuesday: Monday is not a day of the window"
        );
        // Same-day window.
        let day = Silence::parse(
            "d",
            &json!({"providers": ["aws"], "weekly": {"days": ["mon"], "start": "09:00", "end": "10:00"}, "reason": "r"}),
            &mut p,
        );
        let day = day.unwrap_or_else(|| panic!("{p:?}"));
        assert!(day.active_at(at(2026, 12, 7, 9, 30)));
        assert!(!day.active_at(at(2026, 12, 7, 10, 0)));
    }

    #[test]
    fn every_problem_at_once() {
        let mut p = Vec::new();
        let s = Silence::parse(
            "bad name!",
            &json!({"from": "yesterday", "weekly": {"days": ["someday"], "start": "25:00"}, "colour": "red"}),
            &mut p,
        );
        assert!(s.is_none());
        let fields: Vec<String> = p
            .iter()
            .map(|p| p.field.clone().unwrap_or_else(|| "-".into()))
            .collect();
        assert_eq!(
            fields,
            [
                "-",
                "-",
                "from",
                "weekly.days",
                "weekly.start",
                "weekly.end",
                "reason",
                "colour"
            ]
        );
    }
}
