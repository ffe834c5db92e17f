//! Check history: the raw [`CheckSample`], the [`Bucket`] it is rolled into, and the uptime
//! and latency summary of any set of buckets and samples.
//!
//! `uptime = connected ÷ (connected + failed)`. `unknown` checks (rate limited before the vendor
//! judged the credentials, never decided) are excluded from the ratio and reported beside it; a
//! window without a single decided check has no uptime (`None`), never 100 %.
//!
//! Latency percentiles describe *connected* checks only: a failed check's latency is usually the
//! time it took to give up (a timeout), and mixing those in would make the response-time chart
//! show the timeout setting instead of how fast the service answers.

use opsdeck_core::{ConnectionReport, FailureKind, Status};
use serde::{Deserialize, Serialize};

use crate::digest::LatencyDigest;
use crate::time::BucketWidth;

/// One stored check result, reduced to what history needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct CheckSample {
    /// When the check finished, UTC unix ms.
    pub at_ms: i64,
    /// Outcome.
    pub status: Status,
    /// Typed reason when not connected.
    pub failure: Option<FailureKind>,
    /// Wall time of the check.
    pub latency_ms: u64,
}

impl CheckSample {
    /// The sample of a connection report.
    pub fn from_report(report: &ConnectionReport) -> Self {
        CheckSample {
            at_ms: report.checked_at.timestamp_millis(),
            status: report.status,
            failure: report.failure,
            latency_ms: report.latency_ms,
        }
    }
}

/// Counts and latency of the checks whose time falls in `[start_ms, start_ms + width)`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Bucket {
    /// Inclusive start, aligned to `width` (UTC).
    pub start_ms: i64,
    /// Width.
    pub width: BucketWidth,
    /// Connected checks.
    pub connected: u64,
    /// Failed checks.
    pub failed: u64,
    /// Unknown checks.
    pub unknown: u64,
    /// Latency of the connected checks.
    pub latency: LatencyDigest,
}

/// Why a sample or bucket could not be added to a bucket.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BucketError {
    /// The sample's time is outside the bucket.
    #[error("sample at {at_ms} ms is outside the {width} bucket starting at {start_ms} ms")]
    SampleOutside {
        /// Sample time.
        at_ms: i64,
        /// Bucket start.
        start_ms: i64,
        /// Bucket width.
        width: BucketWidth,
    },
    /// The other bucket does not lie inside this one.
    #[error(
        "a {other_width} bucket at {other_start_ms} ms does not lie inside the {width} bucket at {start_ms} ms"
    )]
    BucketOutside {
        /// The other bucket's start.
        other_start_ms: i64,
        /// The other bucket's width.
        other_width: BucketWidth,
        /// This bucket's start.
        start_ms: i64,
        /// This bucket's width.
        width: BucketWidth,
    },
}

impl Bucket {
    /// An empty bucket of `width` containing `at_ms` (the start is aligned down).
    pub fn containing(width: BucketWidth, at_ms: i64) -> Self {
        Bucket {
            start_ms: width.align(at_ms),
            width,
            connected: 0,
            failed: 0,
            unknown: 0,
            latency: LatencyDigest::new(),
        }
    }

    /// Exclusive end.
    pub fn end_ms(&self) -> i64 {
        self.start_ms.saturating_add(self.width.ms())
    }

    /// Whether `at_ms` falls in this bucket.
    pub fn contains(&self, at_ms: i64) -> bool {
        at_ms >= self.start_ms && at_ms < self.end_ms()
    }

    /// Counts one sample. Refuses a sample outside the bucket, so a caller's alignment bug
    /// cannot silently put checks in the wrong hour.
    pub fn add(&mut self, sample: &CheckSample) -> Result<(), BucketError> {
        if !self.contains(sample.at_ms) {
            return Err(BucketError::SampleOutside {
                at_ms: sample.at_ms,
                start_ms: self.start_ms,
                width: self.width,
            });
        }
        match sample.status {
            Status::Connected => {
                self.connected += 1;
                self.latency.add(sample.latency_ms);
            }
            Status::Failed => self.failed += 1,
            Status::Unknown => self.unknown += 1,
        }
        Ok(())
    }

    /// Adds the counts and latencies of `other`, which must lie inside this bucket (an hour into
    /// its day, or a second copy of the same hour from another source).
    pub fn merge(&mut self, other: &Bucket) -> Result<(), BucketError> {
        if other.width > self.width
            || other.start_ms < self.start_ms
            || other.end_ms() > self.end_ms()
        {
            return Err(BucketError::BucketOutside {
                other_start_ms: other.start_ms,
                other_width: other.width,
                start_ms: self.start_ms,
                width: self.width,
            });
        }
        self.connected += other.connected;
        self.failed += other.failed;
        self.unknown += other.unknown;
        self.latency.merge(&other.latency);
        Ok(())
    }

    /// All checks counted.
    pub fn checks(&self) -> u64 {
        self.connected + self.failed + self.unknown
    }

    /// Uptime and latency of this bucket alone.
    pub fn summary(&self) -> UptimeSummary {
        let mut t = WindowTotals::new();
        t.add_bucket(self);
        t.finish()
    }
}

/// Latency percentiles of connected checks.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct LatencySummary {
    /// Median, ms.
    pub p50: Option<u64>,
    /// 95th percentile, ms.
    pub p95: Option<u64>,
    /// Maximum, ms (exact).
    pub max: Option<u64>,
}

impl LatencySummary {
    /// The percentiles of a digest.
    pub fn of(d: &LatencyDigest) -> Self {
        LatencySummary {
            p50: d.p50(),
            p95: d.p95(),
            max: d.max(),
        }
    }
}

/// What the uptime API answers for a window.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct UptimeSummary {
    /// `connected ÷ (connected + failed)` in 0..=1; `None` without a decided check.
    pub uptime: Option<f64>,
    /// All checks (connected + failed + unknown).
    pub checks: u64,
    /// Connected checks.
    pub connected: u64,
    /// Failed checks.
    pub failed: u64,
    /// Unknown checks, excluded from `uptime`.
    pub unknown: u64,
    /// Latency of connected checks.
    pub latency_ms: LatencySummary,
}

/// `connected ÷ (connected + failed)`, `None` when both are zero.
pub fn uptime_ratio(connected: u64, failed: u64) -> Option<f64> {
    let decided = connected + failed;
    (decided > 0).then(|| connected as f64 / decided as f64)
}

/// Accumulates the pieces of a window (buckets and raw samples) into one [`UptimeSummary`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WindowTotals {
    connected: u64,
    failed: u64,
    unknown: u64,
    latency: LatencyDigest,
    skip_latency: bool,
}

impl WindowTotals {
    /// Nothing counted yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// Counts only (no percentiles): for the dashboard's uptime of every service, where merging
    /// digests would be wasted work. `latency_ms` of the summary is then all `None`.
    pub fn counts_only() -> Self {
        WindowTotals {
            skip_latency: true,
            ..Self::default()
        }
    }

    /// Counts a bucket.
    pub fn add_bucket(&mut self, b: &Bucket) {
        self.connected += b.connected;
        self.failed += b.failed;
        self.unknown += b.unknown;
        if !self.skip_latency {
            self.latency.merge(&b.latency);
        }
    }

    /// Counts a raw sample.
    pub fn add_sample(&mut self, s: &CheckSample) {
        match s.status {
            Status::Connected => {
                self.connected += 1;
                if !self.skip_latency {
                    self.latency.add(s.latency_ms);
                }
            }
            Status::Failed => self.failed += 1,
            Status::Unknown => self.unknown += 1,
        }
    }

    /// The merged latency digest so far (for trends that compare windows).
    pub fn latency(&self) -> &LatencyDigest {
        &self.latency
    }

    /// The summary.
    pub fn finish(&self) -> UptimeSummary {
        UptimeSummary {
            uptime: uptime_ratio(self.connected, self.failed),
            checks: self.connected + self.failed + self.unknown,
            connected: self.connected,
            failed: self.failed,
            unknown: self.unknown,
            latency_ms: LatencySummary::of(&self.latency),
        }
    }
}

/// The bars of a history chart: every `width` bucket in `[from_ms, to_ms)` (aligned outward),
/// including empty ones, built from finer stored buckets and raw samples. Pieces that do not fit
/// a bar exactly (a coarser bucket, or one straddling the range) are left out and counted in the
/// returned `skipped`, so a caller's wrong choice of source shows instead of skewing a bar.
pub fn resample(
    width: BucketWidth,
    from_ms: i64,
    to_ms: i64,
    buckets: &[Bucket],
    samples: &[CheckSample],
) -> (Vec<Bucket>, usize) {
    let start = width.align(from_ms);
    let end = width.align_up(to_ms);
    let n = if end > start {
        ((end - start) / width.ms()) as usize
    } else {
        0
    };
    let mut bars: Vec<Bucket> = (0..n)
        .map(|i| Bucket::containing(width, start + i as i64 * width.ms()))
        .collect();
    let mut skipped = 0;
    let slot = |at: i64| -> Option<usize> {
        (at >= start && at < end).then(|| ((at - start) / width.ms()) as usize)
    };
    for b in buckets {
        match slot(b.start_ms).map(|i| bars[i].merge(b)) {
            Some(Ok(())) => {}
            _ => skipped += 1,
        }
    }
    for s in samples {
        match slot(s.at_ms).map(|i| bars[i].add(s)) {
            Some(Ok(())) => {}
            _ => skipped += 1,
        }
    }
    (bars, skipped)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::time::{DAY_MS, HOUR_MS};

    fn s(at_ms: i64, status: Status, latency_ms: u64) -> CheckSample {
        CheckSample {
            at_ms,
            status,
            failure: match status {
                Status::Failed => Some(FailureKind::Timeout),
                Status::Unknown => Some(FailureKind::RateLimited),
                Status::Connected => None,
            },
            latency_ms,
        }
    }

    #[test]
    fn bucket_edges_are_half_open() {
        let mut b = Bucket::containing(BucketWidth::Hour, 5 * HOUR_MS + 17);
        assert_eq!(b.start_ms, 5 * HOUR_MS);
        assert!(b.add(&s(5 * HOUR_MS, Status::Connected, 10)).is_ok());
        assert!(b.add(&s(6 * HOUR_MS - 1, Status::Failed, 10_000)).is_ok());
        assert!(b.add(&s(6 * HOUR_MS, Status::Connected, 10)).is_err());
        assert!(b.add(&s(5 * HOUR_MS - 1, Status::Connected, 10)).is_err());
        assert_eq!((b.connected, b.failed, b.unknown), (1, 1, 0));
        // The failed check's 10 s latency is not in the digest.
        assert_eq!(b.latency.max(), Some(10));
    }

    #[test]
    fn uptime_excludes_unknown_and_is_none_without_decided_checks() {
        let mut b = Bucket::containing(BucketWidth::Hour, 0);
        for i in 0..3 {
            assert!(b.add(&s(i, Status::Connected, 100)).is_ok());
        }
        assert!(b.add(&s(3, Status::Failed, 100)).is_ok());
        assert!(b.add(&s(4, Status::Unknown, 100)).is_ok());
        let sum = b.summary();
        assert_eq!(sum.uptime, Some(0.75));
        assert_eq!((sum.checks, sum.unknown), (5, 1));

        let mut only_unknown = Bucket::containing(BucketWidth::Hour, 0);
        assert!(only_unknown.add(&s(1, Status::Unknown, 1)).is_ok());
        assert_eq!(only_unknown.summary().uptime, None);
        assert_eq!(WindowTotals::new().finish().uptime, None);
        assert_eq!(
            WindowTotals::new().finish().latency_ms,
            LatencySummary::default()
        );
    }

    #[test]
    fn hours_merge_into_their_utc_day_only() {
        let day = 20_000 * DAY_MS;
        let mut d = Bucket::containing(BucketWidth::Day, day);
        let mut h = Bucket::containing(BucketWidth::Hour, day + 23 * HOUR_MS);
        assert!(
            h.add(&s(day + 23 * HOUR_MS + 5, Status::Connected, 42))
                .is_ok()
        );
        assert!(d.merge(&h).is_ok());
        assert_eq!(d.connected, 1);
        let next = Bucket::containing(BucketWidth::Hour, day + DAY_MS);
        assert!(d.merge(&next).is_err());
        assert!(h.merge(&d).is_err());
    }

    #[test]
    fn resample_fills_empty_bars_and_reports_misfits() {
        let mut h0 = Bucket::containing(BucketWidth::Hour, 0);
        assert!(h0.add(&s(10, Status::Failed, 1)).is_ok());
        let raw = [
            s(HOUR_MS + 1, Status::Connected, 5),
            s(3 * HOUR_MS, Status::Connected, 7),
        ];
        let day = Bucket::containing(BucketWidth::Day, 0);
        let (bars, skipped) = resample(BucketWidth::Hour, 0, 3 * HOUR_MS, &[h0, day], &raw);
        assert_eq!(bars.len(), 3);
        assert_eq!(bars[0].failed, 1);
        assert_eq!(bars[1].connected, 1);
        assert_eq!(bars[2].checks(), 0);
        // The day bucket does not fit an hour bar; the sample at 3 h is outside [0, 3 h).
        assert_eq!(skipped, 2);
    }
}
