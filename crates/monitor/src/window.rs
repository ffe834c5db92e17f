//! Window queries: which stored pieces answer "uptime over `[from, to)`", and the combiner that
//! adds them up.
//!
//! A 30-day window is read as whole UTC days from daily buckets, the hours at either edge from
//! hourly buckets, and the sub-hour edges from raw samples — a few dozen rows instead of 43 200
//! raw checks (Uptime Kuma's lesson). Where retention has already removed the finest data an edge
//! needs (the first partial hour of a 30-day window is older than the 48 h of raw samples), that
//! slice is reported as a gap and the answer covers the rest; [`WindowPlan::covered_ms`] says how
//! much. Samples not rolled up yet are read from raw rows beside their buckets
//! ([`Piece::Unrolled`]), so an answer never lags behind the rollup.

use serde::{Deserialize, Serialize};

use crate::history::{Bucket, CheckSample, UptimeSummary, WindowTotals};
use crate::retention::Availability;
use crate::time::{BucketWidth, DAY_MS, HOUR_MS};

/// One piece of a window and where to read it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "source", rename_all = "snake_case")]
pub enum Piece {
    /// Daily buckets with `from_ms <= start < to_ms`.
    Daily {
        /// Inclusive, day-aligned.
        from_ms: i64,
        /// Exclusive, day-aligned.
        to_ms: i64,
    },
    /// Hourly buckets with `from_ms <= start < to_ms`.
    Hourly {
        /// Inclusive, hour-aligned.
        from_ms: i64,
        /// Exclusive, hour-aligned.
        to_ms: i64,
    },
    /// Every raw sample with `from_ms <= at < to_ms`.
    Raw {
        /// Inclusive.
        from_ms: i64,
        /// Exclusive.
        to_ms: i64,
    },
    /// Raw samples with `from_ms <= at < to_ms` that the rollup cursor does not cover yet
    /// (`!cursor.covers(id)`): they belong to the bucket pieces over the same time.
    Unrolled {
        /// Inclusive.
        from_ms: i64,
        /// Exclusive.
        to_ms: i64,
    },
}

/// How to answer one window.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WindowPlan {
    /// Requested start.
    pub from_ms: i64,
    /// Requested end.
    pub to_ms: i64,
    /// The pieces, in time order (an `Unrolled` piece follows the bucket pieces it completes).
    pub pieces: Vec<Piece>,
    /// Slices of the window no retained data can answer, `(from, to)`.
    pub gaps: Vec<(i64, i64)>,
}

impl WindowPlan {
    /// Milliseconds of the window the pieces answer for.
    pub fn covered_ms(&self) -> i64 {
        let gap: i64 = self.gaps.iter().map(|(a, b)| b - a).sum();
        (self.to_ms - self.from_ms).max(0) - gap
    }

    /// Adds up the rows a store fetched for this plan. Rows outside every piece are ignored (and
    /// counted in the second value), so fetching a little too much never double counts.
    pub fn combine(
        &self,
        buckets: &[Bucket],
        raw: &[CheckSample],
        unrolled: &[CheckSample],
    ) -> (UptimeSummary, usize) {
        let mut totals = WindowTotals::new();
        let mut ignored = 0;
        for b in buckets {
            let fits = self.pieces.iter().any(|p| match *p {
                Piece::Daily { from_ms, to_ms } => {
                    b.width == BucketWidth::Day && b.start_ms >= from_ms && b.start_ms < to_ms
                }
                Piece::Hourly { from_ms, to_ms } => {
                    b.width == BucketWidth::Hour && b.start_ms >= from_ms && b.start_ms < to_ms
                }
                _ => false,
            });
            if fits {
                totals.add_bucket(b);
            } else {
                ignored += 1;
            }
        }
        let mut take = |samples: &[CheckSample], raw_piece: bool| {
            for s in samples {
                let fits = self.pieces.iter().any(|p| match *p {
                    Piece::Raw { from_ms, to_ms } if raw_piece => {
                        s.at_ms >= from_ms && s.at_ms < to_ms
                    }
                    Piece::Unrolled { from_ms, to_ms } if !raw_piece => {
                        s.at_ms >= from_ms && s.at_ms < to_ms
                    }
                    _ => false,
                });
                if fits {
                    totals.add_sample(s);
                } else {
                    ignored += 1;
                }
            }
        };
        take(raw, true);
        take(unrolled, false);
        (totals.finish(), ignored)
    }
}

/// Plans `[from_ms, to_ms)` given what retention has kept and the time of the oldest raw sample
/// the rollup has not covered yet (`None` when it is fully caught up).
pub fn plan_window(
    from_ms: i64,
    to_ms: i64,
    available: Availability,
    unrolled_from_ms: Option<i64>,
) -> WindowPlan {
    let mut plan = WindowPlan {
        from_ms,
        to_ms,
        pieces: Vec::new(),
        gaps: Vec::new(),
    };
    cover_days(&mut plan, from_ms, to_ms, &available);
    if let Some(u) = unrolled_from_ms {
        let mut with_unrolled = Vec::with_capacity(plan.pieces.len() + 2);
        for p in plan.pieces.drain(..) {
            with_unrolled.push(p);
            if let Piece::Daily { from_ms, to_ms } | Piece::Hourly { from_ms, to_ms } = p {
                let start = from_ms.max(u);
                if start < to_ms {
                    with_unrolled.push(Piece::Unrolled {
                        from_ms: start,
                        to_ms,
                    });
                }
            }
        }
        plan.pieces = with_unrolled;
    }
    plan
}

fn cover_days(plan: &mut WindowPlan, from: i64, to: i64, av: &Availability) {
    if from >= to {
        return;
    }
    let lo = BucketWidth::Day
        .align_up(from)
        .max(BucketWidth::Day.align_up(av.daily_from_ms));
    let hi = BucketWidth::Day.align(to);
    if lo < hi {
        cover_hours(plan, from, lo, av);
        plan.pieces.push(Piece::Daily {
            from_ms: lo,
            to_ms: hi,
        });
        cover_hours(plan, hi, to, av);
    } else {
        cover_hours(plan, from, to, av);
    }
}

fn cover_hours(plan: &mut WindowPlan, from: i64, to: i64, av: &Availability) {
    if from >= to {
        return;
    }
    let lo = BucketWidth::Hour
        .align_up(from)
        .max(BucketWidth::Hour.align_up(av.hourly_from_ms));
    let hi = BucketWidth::Hour.align(to);
    if lo < hi {
        cover_raw(plan, from, lo, av);
        plan.pieces.push(Piece::Hourly {
            from_ms: lo,
            to_ms: hi,
        });
        cover_raw(plan, hi, to, av);
    } else {
        cover_raw(plan, from, to, av);
    }
}

fn cover_raw(plan: &mut WindowPlan, from: i64, to: i64, av: &Availability) {
    if from >= to {
        return;
    }
    let start = from.max(av.raw_from_ms).min(to);
    if from < start {
        match plan.gaps.last_mut() {
            Some(last) if last.1 == from => last.1 = start,
            _ => plan.gaps.push((from, start)),
        }
    }
    if start < to {
        plan.pieces.push(Piece::Raw {
            from_ms: start,
            to_ms: to,
        });
    }
}

/// The windows the API offers (`window=24h|7d|30d|90d`), as milliseconds.
pub fn parse_window(s: &str) -> Option<i64> {
    match s {
        "24h" | "1d" => Some(DAY_MS),
        "7d" => Some(7 * DAY_MS),
        "30d" => Some(30 * DAY_MS),
        "90d" => Some(90 * DAY_MS),
        "1h" => Some(HOUR_MS),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use opsdeck_core::Status;

    use super::*;
    use crate::retention::RetentionSettings;

    const D: i64 = 20_000 * DAY_MS;

    fn sample(at_ms: i64, status: Status) -> CheckSample {
        CheckSample {
            at_ms,
            status,
            failure: None,
            latency_ms: 50,
        }
    }

    fn bucket(width: BucketWidth, start: i64, connected: u64, failed: u64) -> Bucket {
        let mut b = Bucket::containing(width, start);
        b.connected = connected;
        b.failed = failed;
        b
    }

    #[test]
    fn thirty_days_are_days_hours_and_raw_edges() {
        let now = D + 10 * HOUR_MS + 30 * 60_000;
        let av = RetentionSettings::default().cutoffs(now).into();
        let from = now - 30 * DAY_MS;
        let plan = plan_window(from, now, av, None);
        assert_eq!(
            plan.pieces,
            vec![
                Piece::Hourly {
                    from_ms: D - 30 * DAY_MS + 11 * HOUR_MS,
                    to_ms: D - 29 * DAY_MS
                },
                Piece::Daily {
                    from_ms: D - 29 * DAY_MS,
                    to_ms: D
                },
                Piece::Hourly {
                    from_ms: D,
                    to_ms: D + 10 * HOUR_MS
                },
                Piece::Raw {
                    from_ms: D + 10 * HOUR_MS,
                    to_ms: now
                },
            ]
        );
        // The first half hour is 30 days old: raw samples for it are long gone.
        assert_eq!(plan.gaps, vec![(from, D - 30 * DAY_MS + 11 * HOUR_MS)]);
        assert_eq!(plan.covered_ms(), 30 * DAY_MS - 30 * 60_000);

        // Hand-computed: 29 days × (1 400 up, 40 down) + 13 hours × (60, 0) + 10 hours × (58, 2)
        // + raw (3 up, 1 down, 1 unknown).
        let mut buckets: Vec<Bucket> = (1..=29)
            .map(|i| bucket(BucketWidth::Day, D - i * DAY_MS, 1_400, 40))
            .collect();
        buckets.extend(
            (11..24).map(|h| bucket(BucketWidth::Hour, D - 30 * DAY_MS + h * HOUR_MS, 60, 0)),
        );
        buckets.extend((0..10).map(|h| bucket(BucketWidth::Hour, D + h * HOUR_MS, 58, 2)));
        // A stray hour inside a daily piece and a day outside the window: ignored, not counted.
        buckets.push(bucket(BucketWidth::Hour, D - 5 * DAY_MS, 99, 99));
        buckets.push(bucket(BucketWidth::Day, D - 30 * DAY_MS, 99, 99));
        let raw = [
            sample(D + 10 * HOUR_MS, Status::Connected),
            sample(D + 10 * HOUR_MS + 1, Status::Connected),
            sample(now - 1, Status::Connected),
            sample(now - 2, Status::Failed),
            sample(now - 3, Status::Unknown),
            sample(now, Status::Failed),
        ];
        let (sum, ignored) = plan.combine(&buckets, &raw, &[]);
        let connected = 29 * 1_400 + 13 * 60 + 10 * 58 + 3;
        let failed = 29 * 40 + 10 * 2 + 1;
        assert_eq!(
            (sum.connected, sum.failed, sum.unknown),
            (connected, failed, 1)
        );
        assert_eq!(
            sum.uptime,
            Some(connected as f64 / (connected + failed) as f64)
        );
        assert_eq!(ignored, 3);
    }

    #[test]
    fn short_windows_and_rollup_lag() {
        let now = D + 10 * HOUR_MS + 30 * 60_000;
        let av: Availability = RetentionSettings::default().cutoffs(now).into();
        let plan = plan_window(now - DAY_MS, now, av, Some(D + 9 * HOUR_MS + 50 * 60_000));
        assert_eq!(
            plan.pieces,
            vec![
                Piece::Raw {
                    from_ms: now - DAY_MS,
                    to_ms: D - 13 * HOUR_MS
                },
                Piece::Hourly {
                    from_ms: D - 13 * HOUR_MS,
                    to_ms: D + 10 * HOUR_MS
                },
                Piece::Unrolled {
                    from_ms: D + 9 * HOUR_MS + 50 * 60_000,
                    to_ms: D + 10 * HOUR_MS
                },
                Piece::Raw {
                    from_ms: D + 10 * HOUR_MS,
                    to_ms: now
                },
            ]
        );
        assert!(plan.gaps.is_empty());
        let unrolled = [sample(D + 9 * HOUR_MS + 55 * 60_000, Status::Failed)];
        let (sum, _) = plan.combine(&[], &[], &unrolled);
        assert_eq!(sum.failed, 1);
        // Empty window: nothing to read, no uptime.
        let empty = plan_window(now, now, av, None);
        assert!(empty.pieces.is_empty());
        assert_eq!(empty.combine(&[], &[], &[]).0.uptime, None);
    }

    #[test]
    fn beyond_daily_retention_is_a_gap() {
        let now = D;
        let av: Availability = RetentionSettings::default().cutoffs(now).into();
        let plan = plan_window(now - 500 * DAY_MS, now, av, None);
        assert_eq!(
            plan.pieces,
            vec![Piece::Daily {
                from_ms: D - 400 * DAY_MS,
                to_ms: D
            }]
        );
        assert_eq!(plan.gaps, vec![(D - 500 * DAY_MS, D - 400 * DAY_MS)]);
        assert_eq!(parse_window("30d"), Some(30 * DAY_MS));
        assert_eq!(parse_window("31d"), None);
    }
}
