//! Time arithmetic on UTC unix milliseconds: bucket widths and their alignment, UTC calendar
//! months (for budgets) and the duration spelling used in config (`"4h"`, `"30m"`).
//!
//! Every stored time in opsdeck is UTC unix milliseconds (design.md, "Time"). Buckets are
//! aligned to the unix epoch, which makes hours and days UTC hours and days: there is no DST in
//! UTC, so a day is always exactly 86 400 000 ms and alignment is plain integer arithmetic.

use std::fmt;
use std::time::Duration;

use chrono::{DateTime, Datelike, NaiveDate, TimeZone, Utc};
use serde::{Deserialize, Serialize};

/// Milliseconds in a minute.
pub const MINUTE_MS: i64 = 60_000;
/// Milliseconds in an hour.
pub const HOUR_MS: i64 = 3_600_000;
/// Milliseconds in a UTC day (UTC has no DST, so every day has this length).
pub const DAY_MS: i64 = 86_400_000;

/// The width of a history bucket. Hourly and daily buckets are stored; 5- and 15-minute buckets
/// are computed from raw samples on read (raw samples are kept long enough for them).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum BucketWidth {
    /// 5 minutes.
    #[serde(rename = "5m")]
    FiveMinutes,
    /// 15 minutes.
    #[serde(rename = "15m")]
    FifteenMinutes,
    /// One UTC hour.
    #[serde(rename = "1h")]
    Hour,
    /// One UTC day.
    #[serde(rename = "1d")]
    Day,
}

impl BucketWidth {
    /// Every width, narrowest first.
    pub const ALL: [BucketWidth; 4] = [
        BucketWidth::FiveMinutes,
        BucketWidth::FifteenMinutes,
        BucketWidth::Hour,
        BucketWidth::Day,
    ];

    /// The widths the rollup stores by default.
    pub const STORED: [BucketWidth; 2] = [BucketWidth::Hour, BucketWidth::Day];

    /// Length in milliseconds.
    pub const fn ms(self) -> i64 {
        match self {
            BucketWidth::FiveMinutes => 5 * MINUTE_MS,
            BucketWidth::FifteenMinutes => 15 * MINUTE_MS,
            BucketWidth::Hour => HOUR_MS,
            BucketWidth::Day => DAY_MS,
        }
    }

    /// Stable spelling (`5m`, `15m`, `1h`, `1d`), as in the API's `bucket=` parameter.
    pub const fn as_str(self) -> &'static str {
        match self {
            BucketWidth::FiveMinutes => "5m",
            BucketWidth::FifteenMinutes => "15m",
            BucketWidth::Hour => "1h",
            BucketWidth::Day => "1d",
        }
    }

    /// Parses `5m`, `15m`, `1h` or `1d`.
    pub fn parse(s: &str) -> Option<BucketWidth> {
        BucketWidth::ALL.into_iter().find(|w| w.as_str() == s)
    }

    /// Start of the bucket containing `at_ms` (floor, also for times before 1970).
    pub const fn align(self, at_ms: i64) -> i64 {
        floor_to(at_ms, self.ms())
    }

    /// Start of the first bucket that starts at or after `at_ms`.
    pub const fn align_up(self, at_ms: i64) -> i64 {
        let down = floor_to(at_ms, self.ms());
        if down == at_ms {
            down
        } else {
            down.saturating_add(self.ms())
        }
    }

    /// Whether `start_ms` is a bucket boundary of this width.
    pub const fn is_aligned(self, start_ms: i64) -> bool {
        start_ms.rem_euclid(self.ms()) == 0
    }
}

impl fmt::Display for BucketWidth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

const fn floor_to(at_ms: i64, width: i64) -> i64 {
    at_ms - at_ms.rem_euclid(width)
}

/// A UTC calendar month, the period of a budget.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Month {
    /// Year.
    pub year: i32,
    /// 1..=12.
    pub month: u32,
}

impl Month {
    /// The UTC month containing `at`.
    pub fn containing(at: DateTime<Utc>) -> Month {
        Month {
            year: at.year(),
            month: at.month(),
        }
    }

    /// The UTC month containing `at_ms`; `None` for a time chrono cannot represent.
    pub fn containing_ms(at_ms: i64) -> Option<Month> {
        to_datetime(at_ms).map(Month::containing)
    }

    /// First day of the month.
    pub fn first_day(self) -> Option<NaiveDate> {
        NaiveDate::from_ymd_opt(self.year, self.month, 1)
    }

    /// The month after this one.
    pub fn next(self) -> Month {
        if self.month == 12 {
            Month {
                year: self.year + 1,
                month: 1,
            }
        } else {
            Month {
                year: self.year,
                month: self.month + 1,
            }
        }
    }

    /// First instant of the month, unix ms.
    pub fn start_ms(self) -> Option<i64> {
        Utc.with_ymd_and_hms(self.year, self.month, 1, 0, 0, 0)
            .single()
            .map(|d| d.timestamp_millis())
    }

    /// First instant of the next month, unix ms (the exclusive end of this one).
    pub fn end_ms(self) -> Option<i64> {
        self.next().start_ms()
    }

    /// Parses `YYYY-MM`.
    pub fn parse(s: &str) -> Option<Month> {
        let (y, m) = s.split_once('-')?;
        if y.len() != 4 || m.len() != 2 {
            return None;
        }
        let year = y.parse().ok()?;
        let month = m.parse().ok()?;
        (1..=12).contains(&month).then_some(Month { year, month })
    }
}

impl fmt::Display for Month {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:04}-{:02}", self.year, self.month)
    }
}

impl Serialize for Month {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Month {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Month::parse(&s).ok_or_else(|| serde::de::Error::custom("expected a month as YYYY-MM"))
    }
}

/// `at_ms` as a chrono time; `None` outside chrono's range.
pub fn to_datetime(at_ms: i64) -> Option<DateTime<Utc>> {
    Utc.timestamp_millis_opt(at_ms).single()
}

/// The UTC date of `at_ms`.
pub fn utc_date(at_ms: i64) -> Option<NaiveDate> {
    to_datetime(at_ms).map(|d| d.date_naive())
}

/// RFC 3339 rendering of `at_ms` for messages (`2026-12-06T10:00:00Z`).
pub fn rfc3339(at_ms: i64) -> String {
    to_datetime(at_ms)
        .map(|d| d.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
        .unwrap_or_else(|| format!("{at_ms} ms"))
}

/// `d` in whole milliseconds, saturating.
pub fn duration_ms(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

/// Human spelling of a duration in config and messages (`4h`, `1day 2h`).
pub fn format_duration(d: Duration) -> String {
    humantime::format_duration(d).to_string()
}

/// Parses a config duration (`"30s"`, `"5m"`, `"4h"`, `"7d"`, `"1h 30m"`).
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    humantime::parse_duration(s.trim())
        .map_err(|e| format!("{e} (expected e.g. \"30m\", \"4h\", \"7d\")"))
}

/// Serde helpers that spell a `Duration` the way config does.
pub mod serde_duration {
    use std::time::Duration;

    use serde::{Deserialize, Deserializer, Serializer};

    /// Serialize as `"4h"`.
    pub fn serialize<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(&humantime::format_duration(*d))
    }

    /// Deserialize from `"4h"`.
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        let s = String::deserialize(d)?;
        super::parse_duration(&s).map_err(serde::de::Error::custom)
    }

    /// The same for `Option<Duration>`.
    pub mod option {
        use std::time::Duration;

        use serde::{Deserialize, Deserializer, Serializer};

        /// Serialize as `"4h"` or null.
        pub fn serialize<S: Serializer>(d: &Option<Duration>, s: S) -> Result<S::Ok, S::Error> {
            match d {
                Some(d) => s.collect_str(&humantime::format_duration(*d)),
                None => s.serialize_none(),
            }
        }

        /// Deserialize from `"4h"` or null.
        pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Duration>, D::Error> {
            let s = Option::<String>::deserialize(d)?;
            s.map(|s| super::super::parse_duration(&s).map_err(serde::de::Error::custom))
                .transpose()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn alignment_is_utc_and_floors_before_the_epoch() {
        // 2026-03-29T01:30:00Z — the night Europe moves its clocks; UTC does not care.
        let t = Utc
            .with_ymd_and_hms(2026, 3, 29, 1, 30, 0)
            .single()
            .map(|d| d.timestamp_millis())
            .unwrap_or_default();
        assert_eq!(BucketWidth::Day.align(t), t - 90 * MINUTE_MS);
        assert_eq!(BucketWidth::Hour.align(t), t - 30 * MINUTE_MS);
        assert_eq!(BucketWidth::FifteenMinutes.align(t), t);
        assert_eq!(BucketWidth::Day.align(-1), -DAY_MS);
        assert_eq!(BucketWidth::Hour.align_up(1), HOUR_MS);
        assert_eq!(BucketWidth::Hour.align_up(HOUR_MS), HOUR_MS);
    }

    #[test]
    fn months_roll_over_years() {
        let m = Month {
            year: 2026,
            month: 12,
        };
        assert_eq!(
            m.next(),
            Month {
                year: 2027,
                month: 1
            }
        );
        assert_eq!(m.to_string(), "2026-12");
        assert_eq!(Month::parse("2026-12"), Some(m));
        assert_eq!(Month::parse("2026-13"), None);
        assert_eq!(
            m.end_ms().zip(m.start_ms()).map(|(e, s)| e - s),
            Some(31 * DAY_MS)
        );
    }
}
