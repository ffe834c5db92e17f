//! The incremental rollup: raw check samples (by id) into stored hourly and daily buckets,
//! with a cursor that makes every batch idempotent.
//!
//! ## Protocol (what the store does around [`Rollup::apply`])
//! 1. Read the cursor row (one row per rollup stream, e.g. `name = 'checks'`, holding
//!    [`RollupCursor`] as JSON) and a batch of raw rows
//!    `WHERE id > cursor.last_id OR id IN (cursor.pending ids) ORDER BY id LIMIT n`.
//! 2. Load the bucket rows [`Rollup::touched`] names (service, width, start).
//! 3. Call [`Rollup::apply`]; write the returned buckets (upsert) **and** the returned cursor in
//!    one transaction, the cursor with a compare-and-set on the version it read
//!    (`UPDATE … SET cursor = new WHERE name = 'checks' AND cursor = old`); if no row changed,
//!    another instance got there first: roll back and start over.
//!
//! A crash before the commit leaves buckets and cursor as they were, so the batch is simply
//! applied again. Re-applying a batch that *was* committed changes nothing: every sample the
//! cursor covers is skipped (`RollupOutput::skipped`). With several instances on PostgreSQL, one
//! holds a rollup lease (like the scheduler's leases) so they do not race for every batch; the
//! compare-and-set keeps even a lease that expired mid-batch from counting a sample twice.
//!
//! ## Late commits
//! PostgreSQL hands out ids when a row is inserted, not when it commits, so id 100 can become
//! visible after id 101. A cursor that simply jumped to 101 would skip 100 forever. The cursor
//! therefore remembers the ids it jumped over as *pending* for a settle time (default 5 min —
//! far longer than an insert transaction lives); the next batches ask for them again, and a
//! pending id that never shows up (a rolled-back insert) is given up after the settle time.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use crate::history::{Bucket, BucketError, CheckSample};
use crate::time::{BucketWidth, MINUTE_MS};

/// A raw sample as stored: its row id and its service.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RawSample<K> {
    /// Row id (monotonic insert order).
    pub id: i64,
    /// The service it belongs to (the store's service id, or a name for library users).
    pub service: K,
    /// The sample.
    pub sample: CheckSample,
}

/// Identifies a stored bucket row.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct BucketKey<K> {
    /// Service.
    pub service: K,
    /// Width.
    pub width: BucketWidth,
    /// Aligned start, UTC unix ms.
    pub start_ms: i64,
}

/// An id the cursor jumped over, still expected to appear.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct PendingId {
    /// The missing id.
    pub id: i64,
    /// When the cursor first missed it.
    pub since_ms: i64,
}

/// How far the rollup has got. Stored as one JSON value beside the buckets and replaced in the
/// same transaction.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RollupCursor {
    /// Highest id applied.
    pub last_id: i64,
    /// Ids below `last_id` not seen yet (late commits), oldest first.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub pending: Vec<PendingId>,
}

impl RollupCursor {
    /// Whether the sample with `id` is already in the buckets (so raw retention may delete it).
    pub fn covers(&self, id: i64) -> bool {
        id <= self.last_id && !self.pending.iter().any(|p| p.id == id)
    }

    /// The pending ids, for the store's `id IN (…)` clause.
    pub fn pending_ids(&self) -> Vec<i64> {
        self.pending.iter().map(|p| p.id).collect()
    }

    /// Moves the cursor over `id` (read in increasing id order after the cursor, or a pending
    /// one); `false` when the cursor already covered it. Ids jumped over (at most `max_jump` of
    /// them) become pending: on PostgreSQL a lower id can commit after a higher one.
    pub fn advance(&mut self, id: i64, now_ms: i64, max_jump: i64) -> bool {
        if let Some(pos) = self.pending.iter().position(|p| p.id == id) {
            self.pending.remove(pos);
            return true;
        }
        if id <= self.last_id {
            return false;
        }
        let jump = id - self.last_id - 1;
        if jump > 0 && jump <= max_jump {
            self.pending
                .extend((self.last_id + 1..id).map(|id| PendingId {
                    id,
                    since_ms: now_ms,
                }));
        }
        self.last_id = id;
        true
    }

    /// Gives up the pending ids older than `settle_ms` (inserts that never committed) and the
    /// oldest beyond `max_pending`; returns them.
    pub fn settle(&mut self, now_ms: i64, settle_ms: i64, max_pending: usize) -> Vec<i64> {
        let mut abandoned = Vec::new();
        self.pending.retain(|p| {
            let keep = now_ms - p.since_ms < settle_ms;
            if !keep {
                abandoned.push(p.id);
            }
            keep
        });
        if self.pending.len() > max_pending {
            let excess = self.pending.len() - max_pending;
            abandoned.extend(self.pending.drain(..excess).map(|p| p.id));
        }
        abandoned
    }
}

/// Why a batch was refused (nothing is applied then).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RollupError {
    /// Ids must increase strictly (the store's `ORDER BY id`).
    #[error("rollup batch is not in strictly increasing id order: {previous} then {next}")]
    OutOfOrder {
        /// The earlier id.
        previous: i64,
        /// The id that followed it.
        next: i64,
    },
    /// A bucket row given to the rollup does not match its key.
    #[error(
        "bucket row for start {key_start_ms} ({key_width}) holds a {width} bucket starting at {start_ms}"
    )]
    KeyMismatch {
        /// Start in the key.
        key_start_ms: i64,
        /// Width in the key.
        key_width: BucketWidth,
        /// Start in the bucket.
        start_ms: i64,
        /// Width in the bucket.
        width: BucketWidth,
    },
    /// A sample did not fit its own bucket (cannot happen with aligned keys; kept typed).
    #[error(transparent)]
    Bucket(#[from] BucketError),
}

/// The result of one rollup step: write `buckets` and `cursor` together.
#[derive(Debug, Clone, PartialEq)]
pub struct RollupOutput<K> {
    /// Every bucket the batch changed, complete (existing counts plus the batch).
    pub buckets: BTreeMap<BucketKey<K>, Bucket>,
    /// The cursor to store with them.
    pub cursor: RollupCursor,
    /// Samples counted.
    pub applied: usize,
    /// Samples the cursor already covered (a re-applied batch).
    pub skipped: usize,
    /// Pending ids given up in this step (inserts that never committed).
    pub abandoned: Vec<i64>,
}

/// Rollup settings; `Rollup::default()` stores hourly and daily buckets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rollup {
    /// Widths stored.
    pub widths: Vec<BucketWidth>,
    /// How long a skipped id stays pending before it is given up.
    pub settle_ms: i64,
    /// Largest jump in ids recorded as pending; a bigger jump (a sequence cache skip, rows
    /// deleted before the first rollup) is taken as a gap that will never fill.
    pub max_jump: i64,
    /// Most pending ids kept; beyond it the oldest are given up.
    pub max_pending: usize,
}

impl Default for Rollup {
    fn default() -> Self {
        Rollup {
            widths: BucketWidth::STORED.to_vec(),
            settle_ms: 5 * MINUTE_MS,
            max_jump: 1_000,
            max_pending: 10_000,
        }
    }
}

impl Rollup {
    /// The bucket rows the batch will update, for the store to load before [`apply`](Self::apply).
    pub fn touched<K: Ord + Clone>(
        &self,
        cursor: &RollupCursor,
        batch: &[RawSample<K>],
    ) -> BTreeSet<BucketKey<K>> {
        batch
            .iter()
            .filter(|r| !cursor.covers(r.id))
            .flat_map(|r| {
                self.widths.iter().map(move |&width| BucketKey {
                    service: r.service.clone(),
                    width,
                    start_ms: width.align(r.sample.at_ms),
                })
            })
            .collect()
    }

    /// Applies `batch` (ids strictly increasing) on top of `existing` bucket rows (those named by
    /// [`touched`](Self::touched); missing ones start empty) and returns what to write.
    pub fn apply<K: Ord + Clone>(
        &self,
        cursor: &RollupCursor,
        batch: &[RawSample<K>],
        mut existing: BTreeMap<BucketKey<K>, Bucket>,
        now_ms: i64,
    ) -> Result<RollupOutput<K>, RollupError> {
        for w in batch.windows(2) {
            if w[1].id <= w[0].id {
                return Err(RollupError::OutOfOrder {
                    previous: w[0].id,
                    next: w[1].id,
                });
            }
        }
        for (key, b) in &existing {
            if key.start_ms != b.start_ms || key.width != b.width {
                return Err(RollupError::KeyMismatch {
                    key_start_ms: key.start_ms,
                    key_width: key.width,
                    start_ms: b.start_ms,
                    width: b.width,
                });
            }
        }
        let mut next = cursor.clone();
        let mut out: BTreeMap<BucketKey<K>, Bucket> = BTreeMap::new();
        let (mut applied, mut skipped) = (0, 0);
        for raw in batch {
            if !next.advance(raw.id, now_ms, self.max_jump) {
                skipped += 1;
                continue;
            }
            for &width in &self.widths {
                let key = BucketKey {
                    service: raw.service.clone(),
                    width,
                    start_ms: width.align(raw.sample.at_ms),
                };
                let bucket = match out.get_mut(&key) {
                    Some(b) => b,
                    None => {
                        let b = existing
                            .remove(&key)
                            .unwrap_or_else(|| Bucket::containing(width, raw.sample.at_ms));
                        out.entry(key).or_insert(b)
                    }
                };
                bucket.add(&raw.sample)?;
            }
            applied += 1;
        }
        let abandoned = next.settle(now_ms, self.settle_ms, self.max_pending);
        Ok(RollupOutput {
            buckets: out,
            cursor: next,
            applied,
            skipped,
            abandoned,
        })
    }
}

#[cfg(test)]
mod tests {
    use opsdeck_core::Status;

    use super::*;
    use crate::time::{DAY_MS, HOUR_MS};

    fn raw(id: i64, service: &str, at_ms: i64, status: Status) -> RawSample<String> {
        RawSample {
            id,
            service: service.into(),
            sample: CheckSample {
                at_ms,
                status,
                failure: None,
                latency_ms: 100 + id as u64,
            },
        }
    }

    /// The store in miniature: buckets and cursor committed together or not at all.
    #[derive(Default)]
    struct Store {
        cursor: RollupCursor,
        buckets: BTreeMap<BucketKey<String>, Bucket>,
    }

    impl Store {
        fn step(
            &mut self,
            rollup: &Rollup,
            batch: &[RawSample<String>],
            now: i64,
            commit: bool,
        ) -> RollupOutput<String> {
            let keys = rollup.touched(&self.cursor, batch);
            let existing = keys
                .iter()
                .filter_map(|k| self.buckets.get(k).map(|b| (k.clone(), b.clone())))
                .collect();
            let out = rollup.apply(&self.cursor, batch, existing, now);
            let out = match out {
                Ok(o) => o,
                Err(e) => panic!("{e}"),
            };
            if commit {
                self.buckets.extend(out.buckets.clone());
                self.cursor = out.cursor.clone();
            }
            out
        }
    }

    #[test]
    fn hourly_and_daily_buckets_across_a_utc_midnight() {
        let day = 20_000 * DAY_MS;
        let batch = [
            raw(1, "a", day - 1, Status::Connected),
            raw(2, "a", day, Status::Failed),
            raw(3, "a", day + HOUR_MS - 1, Status::Unknown),
            raw(4, "b", day + 5, Status::Connected),
        ];
        let mut store = Store::default();
        let out = store.step(&Rollup::default(), &batch, day + HOUR_MS, true);
        assert_eq!(out.applied, 4);
        let get = |s: &str, w, start| {
            store
                .buckets
                .get(&BucketKey {
                    service: s.to_string(),
                    width: w,
                    start_ms: start,
                })
                .map(|b| (b.connected, b.failed, b.unknown))
        };
        assert_eq!(get("a", BucketWidth::Day, day - DAY_MS), Some((1, 0, 0)));
        assert_eq!(get("a", BucketWidth::Hour, day - HOUR_MS), Some((1, 0, 0)));
        assert_eq!(get("a", BucketWidth::Day, day), Some((0, 1, 1)));
        assert_eq!(get("a", BucketWidth::Hour, day), Some((0, 1, 1)));
        assert_eq!(get("b", BucketWidth::Hour, day), Some((1, 0, 0)));
        assert_eq!(store.cursor.last_id, 4);
    }

    #[test]
    fn an_interrupted_rollup_is_applied_once() {
        let rollup = Rollup::default();
        let first: Vec<_> = (1..=3)
            .map(|i| raw(i, "a", i * 1000, Status::Connected))
            .collect();
        let second: Vec<_> = (4..=6)
            .map(|i| raw(i, "a", i * 1000, Status::Failed))
            .collect();
        let mut store = Store::default();
        store.step(&rollup, &first, 10_000, true);
        // Crash before commit: nothing written, the same batch comes again.
        store.step(&rollup, &second, 10_000, false);
        let again = store.step(&rollup, &second, 10_000, true);
        assert_eq!((again.applied, again.skipped), (3, 0));
        // Crash after commit, before the store noticed: the batch is re-read and changes nothing.
        let replay = store.step(&rollup, &second, 10_000, true);
        assert_eq!((replay.applied, replay.skipped), (0, 3));
        assert!(replay.buckets.is_empty());
        let hour = &store.buckets[&BucketKey {
            service: "a".into(),
            width: BucketWidth::Hour,
            start_ms: 0,
        }];
        assert_eq!((hour.connected, hour.failed), (3, 3));
        // An overlapping batch (ids 5..=7) applies only the new one.
        let overlap = [
            raw(5, "a", 5000, Status::Failed),
            raw(6, "a", 6000, Status::Failed),
            raw(7, "a", 7000, Status::Connected),
        ];
        let out = store.step(&rollup, &overlap, 10_000, true);
        assert_eq!((out.applied, out.skipped), (1, 2));
    }

    #[test]
    fn late_commits_are_picked_up_and_abandoned_after_settling() {
        let rollup = Rollup::default();
        let mut store = Store::default();
        store.step(
            &rollup,
            &[
                raw(1, "a", 0, Status::Connected),
                raw(4, "a", 10, Status::Connected),
            ],
            0,
            true,
        );
        assert_eq!(store.cursor.pending_ids(), vec![2, 3]);
        assert!(!store.cursor.covers(2) && store.cursor.covers(4));
        // Id 2 commits late; the next batch (id > 4 or id in (2, 3)) brings it.
        let out = store.step(
            &rollup,
            &[
                raw(2, "a", 5, Status::Failed),
                raw(5, "a", 20, Status::Connected),
            ],
            60_000,
            true,
        );
        assert_eq!(out.applied, 2);
        assert_eq!(store.cursor.pending_ids(), vec![3]);
        // Id 3 was rolled back: given up once the settle time has passed.
        let out = store.step(&rollup, &[], 5 * MINUTE_MS, true);
        assert_eq!(out.abandoned, vec![3]);
        assert!(store.cursor.pending.is_empty());
        // A huge jump (first rollup over an old table) is not tracked id by id.
        store.step(
            &rollup,
            &[raw(100_000, "a", 30, Status::Connected)],
            5 * MINUTE_MS,
            true,
        );
        assert!(store.cursor.pending.is_empty());
    }

    #[test]
    fn bad_batches_are_refused_whole() {
        let rollup = Rollup::default();
        let batch = [
            raw(2, "a", 0, Status::Connected),
            raw(2, "a", 1, Status::Connected),
        ];
        assert!(matches!(
            rollup.apply(&RollupCursor::default(), &batch, BTreeMap::new(), 0),
            Err(RollupError::OutOfOrder { .. })
        ));
        let key = BucketKey {
            service: "a".to_string(),
            width: BucketWidth::Hour,
            start_ms: 0,
        };
        let wrong = BTreeMap::from([(key, Bucket::containing(BucketWidth::Day, 0))]);
        assert!(matches!(
            rollup.apply(&RollupCursor::default(), &batch[..1], wrong, 0),
            Err(RollupError::KeyMismatch { .. })
        ));
    }
}
