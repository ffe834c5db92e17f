//! Retention: how long raw samples, hourly and daily buckets are kept, the cutoffs that follow
//! from `now`, and the predicates the store's bounded `DELETE`s mirror.
//!
//! - Raw samples (checks and metric samples) older than `raw` are deleted, but only once the
//!   rollup cursor covers them — retention never deletes a sample that is not in a bucket yet.
//! - A bucket is kept while any part of it lies inside its retention period: it is deleted when
//!   its *end* is at or before `now - keep`, i.e. when its start is before the cutoff aligned
//!   down to the bucket width.
//! - Deletes run in batches of at most `batch_size` rows, oldest ids first, so a large backlog
//!   never holds a long write lock (SQLite) or a long transaction (PostgreSQL).

use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::config::Problem;
use crate::rollup::RollupCursor;
use crate::time::{BucketWidth, duration_ms, format_duration, serde_duration};

/// How long history is kept. Defaults: raw 48 h, hourly 90 d, daily 400 d, batches of 5 000.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RetentionSettings {
    /// Raw check results and metric samples.
    #[serde(with = "serde_duration")]
    pub raw: Duration,
    /// Hourly buckets.
    #[serde(with = "serde_duration")]
    pub hourly: Duration,
    /// Daily buckets.
    #[serde(with = "serde_duration")]
    pub daily: Duration,
    /// Most rows one delete statement removes.
    pub batch_size: u32,
}

impl Default for RetentionSettings {
    fn default() -> Self {
        RetentionSettings {
            raw: Duration::from_secs(48 * 3600),
            hourly: Duration::from_secs(90 * 86_400),
            daily: Duration::from_secs(400 * 86_400),
            batch_size: 5_000,
        }
    }
}

/// Shortest raw retention: the 24 h chart at 5- or 15-minute resolution reads raw samples, and
/// the rollup may lag behind by a while.
pub const MIN_RAW: Duration = Duration::from_secs(25 * 3600);

impl RetentionSettings {
    /// Every problem with the settings, as `[retention] field: …` problems.
    pub fn validate(&self) -> Vec<Problem> {
        let mut problems = Vec::new();
        let mut p =
            |field: &str, msg: String| problems.push(Problem::field("retention", "", field, msg));
        let days = |n: u64| Duration::from_secs(n * 86_400);
        if self.raw < MIN_RAW || self.raw > days(30) {
            p(
                "raw",
                format!(
                    "must be from 25h to 30days (the 24 h chart is drawn from raw samples), found {}",
                    format_duration(self.raw)
                ),
            );
        }
        if self.hourly < days(2) || self.hourly > days(3 * 366) {
            p(
                "hourly",
                format!(
                    "must be from 2days to 3years, found {}",
                    format_duration(self.hourly)
                ),
            );
        } else if self.hourly < self.raw {
            p(
                "hourly",
                format!(
                    "must be at least as long as raw ({})",
                    format_duration(self.raw)
                ),
            );
        }
        if self.daily < days(32) || self.daily > days(20 * 366) {
            p(
                "daily",
                format!(
                    "must be from 32days (a whole month for budgets and 30-day uptime) to 20years, found {}",
                    format_duration(self.daily)
                ),
            );
        } else if self.daily < self.hourly {
            p(
                "daily",
                format!(
                    "must be at least as long as hourly ({})",
                    format_duration(self.hourly)
                ),
            );
        }
        if !(1..=100_000).contains(&self.batch_size) {
            p(
                "batch_size",
                format!("must be from 1 to 100000, found {}", self.batch_size),
            );
        }
        problems
    }

    /// The cutoffs in force at `now_ms`.
    pub fn cutoffs(&self, now_ms: i64) -> Cutoffs {
        Cutoffs {
            raw_before_ms: now_ms.saturating_sub(duration_ms(self.raw)),
            hourly_before_ms: BucketWidth::Hour
                .align(now_ms.saturating_sub(duration_ms(self.hourly))),
            daily_before_ms: BucketWidth::Day.align(now_ms.saturating_sub(duration_ms(self.daily))),
            batch_size: self.batch_size,
        }
    }
}

/// What is expired at one moment. The store's deletes must select exactly what these
/// predicates select (its tests can compare).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Cutoffs {
    /// Raw samples with `at_ms < raw_before_ms` (and covered by the rollup) are expired.
    pub raw_before_ms: i64,
    /// Hourly buckets with `start_ms < hourly_before_ms` are expired (hour-aligned).
    pub hourly_before_ms: i64,
    /// Daily buckets with `start_ms < daily_before_ms` are expired (day-aligned).
    pub daily_before_ms: i64,
    /// Most rows per delete.
    pub batch_size: u32,
}

impl Cutoffs {
    /// Whether the raw sample `(id, at_ms)` may be deleted: old enough and already rolled up.
    pub fn raw_expired(&self, id: i64, at_ms: i64, cursor: &RollupCursor) -> bool {
        at_ms < self.raw_before_ms && cursor.covers(id)
    }

    /// Whether a raw metric sample may be deleted. Metric points are upserted in the same
    /// transaction as their samples (they are idempotent and need no cursor), so age alone
    /// decides.
    pub fn metric_raw_expired(&self, at_ms: i64) -> bool {
        at_ms < self.raw_before_ms
    }

    /// Whether a stored bucket may be deleted. 5- and 15-minute buckets are never stored; if a
    /// store keeps them anyway they follow the raw cutoff.
    pub fn bucket_expired(&self, width: BucketWidth, start_ms: i64) -> bool {
        match width {
            BucketWidth::Day => start_ms < self.daily_before_ms,
            BucketWidth::Hour => start_ms < self.hourly_before_ms,
            BucketWidth::FiveMinutes | BucketWidth::FifteenMinutes => {
                start_ms.saturating_add(width.ms()) <= self.raw_before_ms
            }
        }
    }

    /// One bounded batch of raw deletes: the ids, oldest first, of at most `batch_size` expired
    /// rows among `rows` (`(id, at_ms)`). The store's equivalent:
    /// `DELETE FROM t WHERE id IN (SELECT id FROM t WHERE checked_at < :raw_before AND id <= :last_id
    /// AND id NOT IN (:pending) ORDER BY id LIMIT :batch_size)`, repeated until it deletes nothing.
    pub fn raw_batch(
        &self,
        rows: impl IntoIterator<Item = (i64, i64)>,
        cursor: &RollupCursor,
    ) -> Vec<i64> {
        let mut ids: Vec<i64> = rows
            .into_iter()
            .filter(|&(id, at)| self.raw_expired(id, at, cursor))
            .map(|(id, _)| id)
            .collect();
        ids.sort_unstable();
        ids.truncate(self.batch_size as usize);
        ids
    }
}

/// The oldest time each granularity can still answer for, at `now_ms`: the window planner uses
/// these so a query never asks for rows retention has already deleted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Availability {
    /// Raw samples exist from here on.
    pub raw_from_ms: i64,
    /// Hourly buckets exist from this (aligned) start on.
    pub hourly_from_ms: i64,
    /// Daily buckets exist from this (aligned) start on.
    pub daily_from_ms: i64,
}

impl From<Cutoffs> for Availability {
    fn from(c: Cutoffs) -> Self {
        Availability {
            raw_from_ms: c.raw_before_ms,
            hourly_from_ms: c.hourly_before_ms,
            daily_from_ms: c.daily_before_ms,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rollup::PendingId;
    use crate::time::{DAY_MS, HOUR_MS};

    const NOW: i64 = 20_000 * DAY_MS + 10 * HOUR_MS + 123;

    #[test]
    fn defaults_are_valid_and_bad_values_all_reported() {
        assert!(RetentionSettings::default().validate().is_empty());
        let bad = RetentionSettings {
            raw: Duration::from_secs(3600),
            hourly: Duration::from_secs(86_400),
            daily: Duration::from_secs(10 * 86_400),
            batch_size: 0,
        };
        let fields: Vec<_> = bad.validate().into_iter().filter_map(|p| p.field).collect();
        assert_eq!(fields, ["raw", "hourly", "daily", "batch_size"]);
        let json: RetentionSettings = serde_json::from_str(r#"{"raw":"72h"}"#).unwrap_or_default();
        assert_eq!(json.raw, Duration::from_secs(72 * 3600));
        assert_eq!(json.hourly, RetentionSettings::default().hourly);
    }

    #[test]
    fn raw_edges_and_the_rollup_guard() {
        let c = RetentionSettings::default().cutoffs(NOW);
        assert_eq!(c.raw_before_ms, NOW - 48 * HOUR_MS);
        let cursor = RollupCursor {
            last_id: 10,
            pending: vec![PendingId { id: 7, since_ms: 0 }],
        };
        assert!(c.raw_expired(5, c.raw_before_ms - 1, &cursor));
        assert!(
            !c.raw_expired(5, c.raw_before_ms, &cursor),
            "exactly 48 h old is kept"
        );
        assert!(!c.raw_expired(11, 0, &cursor), "not rolled up yet");
        assert!(!c.raw_expired(7, 0, &cursor), "pending late commit");
        assert!(
            c.metric_raw_expired(c.raw_before_ms - 1) && !c.metric_raw_expired(c.raw_before_ms)
        );
        let rows = (1..=12).map(|id| (id, c.raw_before_ms - 100 + id * 10));
        // Expired: at < cutoff → id*10 < 100 → ids 1..=9, minus pending 7, minus none above 10.
        assert_eq!(
            c.raw_batch(rows.clone(), &cursor),
            vec![1, 2, 3, 4, 5, 6, 8, 9]
        );
        let small = Cutoffs { batch_size: 3, ..c };
        assert_eq!(small.raw_batch(rows.rev(), &cursor), vec![1, 2, 3]);
    }

    #[test]
    fn bucket_edges() {
        let c = RetentionSettings::default().cutoffs(NOW);
        // now - 90 d lies 10 h 123 ms into its day; the hour containing it is kept.
        let hour_cut = NOW - 90 * DAY_MS - 123;
        assert_eq!(c.hourly_before_ms, hour_cut);
        assert!(c.bucket_expired(BucketWidth::Hour, hour_cut - HOUR_MS));
        assert!(!c.bucket_expired(BucketWidth::Hour, hour_cut));
        let day_cut = 20_000 * DAY_MS - 400 * DAY_MS;
        assert_eq!(c.daily_before_ms, day_cut);
        assert!(c.bucket_expired(BucketWidth::Day, day_cut - DAY_MS));
        assert!(!c.bucket_expired(BucketWidth::Day, day_cut));
        // Exactly aligned `now`: the bucket ending exactly at the cutoff goes.
        let aligned = RetentionSettings::default().cutoffs(20_000 * DAY_MS);
        assert!(aligned.bucket_expired(BucketWidth::Hour, 20_000 * DAY_MS - 90 * DAY_MS - HOUR_MS));
        assert!(!aligned.bucket_expired(BucketWidth::Hour, 20_000 * DAY_MS - 90 * DAY_MS));
    }
}
