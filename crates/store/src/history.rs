//! Monitoring history: what `opsdeck-monitor` computes, persisted — hourly and daily check
//! buckets, the rollup cursor and its lease, status-change events, metric samples with their
//! hourly and daily points, and retention in bounded batches.
//!
//! The math is the monitor crate's: this module reads rows, hands them to
//! [`Rollup::apply`], [`detect_change`], [`plan_window`], [`admit`] and [`rollup_metrics`], and
//! writes back what they return. Raw check results are the `check_results` rows the server
//! already stores; the rollup follows them by id.
//!
//! **Several instances (PostgreSQL).** One instance at a time holds the rollup lease (a column
//! pair on the cursor row, like the scheduler's leases); the cursor itself is replaced with a
//! compare-and-set in the transaction that upserts the buckets, so even a lease that expired
//! mid-batch cannot count a result twice. Buckets and events have unique keys and are upserts.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fmt::Write as _;

use opsdeck_core::{FailureKind, Status, Unit};
use opsdeck_monitor::digest::LatencyDigest;
use opsdeck_monitor::events::{LastState, StatusChange, detect_change};
use opsdeck_monitor::history::{Bucket, CheckSample, UptimeSummary, WindowTotals};
use opsdeck_monitor::metric_history::{
    MetricPoint, MetricSample, SeriesKey, admit, rollup_metrics,
};
use opsdeck_monitor::retention::{Availability, Cutoffs};
use opsdeck_monitor::rollup::{BucketKey, RawSample, Rollup, RollupCursor};
use opsdeck_monitor::time::BucketWidth;
use opsdeck_monitor::window::{Piece, plan_window};
use sqlx::Row;
use sqlx::any::AnyRow;

use crate::Store;
use crate::db::{db_text, is_foreign_key_violation};
use crate::error::{Result, StoreError};
use crate::results::{parse_failure, parse_status};

/// The cursor row of the check rollup.
const CHECKS: &str = "checks";

/// Rows per multi-row `INSERT` (7–9 parameters each; well under both backends' limits).
const INSERT_CHUNK: usize = 200;

/// What one rollup step did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RollupStep {
    /// `false`: another instance holds the rollup lease; nothing was done.
    pub leased: bool,
    /// Results counted into buckets.
    pub applied: usize,
    /// Results the cursor already covered.
    pub skipped: usize,
    /// Status-change events stored.
    pub events: usize,
    /// Rows read in the batch (a full batch means there may be more).
    pub read: usize,
    /// Another instance moved the cursor between our read and our write: nothing was written,
    /// try again.
    pub conflict: bool,
}

/// A stored status-change event with its service's name.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredEvent {
    /// Service id.
    pub service_id: i64,
    /// Service name.
    pub service: String,
    /// The change.
    pub change: StatusChange,
}

/// What [`Store::record_metric_samples`] stored.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct MetricIngest {
    /// Samples stored (a re-ingested sample counts once: the first time).
    pub stored: usize,
    /// New series refused by the series cap.
    pub dropped: usize,
    /// The operator note when anything was dropped.
    pub note: Option<String>,
}

/// Rows retention deleted.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RetentionReport {
    /// Raw check results.
    pub raw_checks: u64,
    /// Raw metric samples.
    pub metric_samples: u64,
    /// Hourly check buckets and metric points.
    pub hourly: u64,
    /// Daily check buckets and metric points.
    pub daily: u64,
    /// Status-change events (kept as long as daily buckets).
    pub events: u64,
}

/// One series of a metric's history.
#[derive(Clone, Debug, PartialEq)]
pub struct MetricSeries {
    /// The series.
    pub key: SeriesKey,
    /// Its points, oldest first.
    pub points: Vec<MetricPoint>,
}

fn width_of(s: &str) -> Result<BucketWidth> {
    BucketWidth::parse(s).ok_or_else(|| StoreError::corrupt("bucket width", s))
}

fn in_list(ids: impl IntoIterator<Item = i64>) -> String {
    // Integers only: formatting an i64 cannot produce SQL syntax.
    let mut s = String::new();
    for (i, id) in ids.into_iter().enumerate() {
        if i > 0 {
            s.push(',');
        }
        let _ = write!(s, "{id}");
    }
    s
}

fn sample_of(at_ms: i64, status: &str, failure: Option<String>, latency_ms: i64) -> CheckSample {
    CheckSample {
        at_ms,
        status: parse_status(status),
        failure: parse_failure(failure),
        latency_ms: u64::try_from(latency_ms).unwrap_or(0),
    }
}

fn parse_bucket(row: &AnyRow, at: usize) -> Result<Bucket> {
    let width: String = row.try_get(at)?;
    let bytes: Vec<u8> = row.try_get(at + 5)?;
    let count = |i: usize| -> Result<u64> {
        let v: i64 = row.try_get(at + i)?;
        Ok(u64::try_from(v).unwrap_or(0))
    };
    Ok(Bucket {
        width: width_of(&width)?,
        start_ms: row.try_get(at + 1)?,
        connected: count(2)?,
        failed: count(3)?,
        unknown: count(4)?,
        latency: LatencyDigest::decode(&bytes)
            .map_err(|e| StoreError::corrupt("latency digest", e))?,
    })
}

const BUCKET_COLUMNS: &str = "width, start_ms, connected, failed, unknown, latency";

fn parse_cursor(text: &str) -> Result<RollupCursor> {
    serde_json::from_str(text).map_err(|e| StoreError::corrupt("rollup cursor", e))
}

fn cursor_text(c: &RollupCursor) -> Result<String> {
    serde_json::to_string(c).map_err(|e| StoreError::corrupt("rollup cursor", e))
}

/// `(id > last_id OR id IN (pending))`: the rows the cursor does not cover yet.
pub(crate) fn uncovered(cursor: &RollupCursor, column: &str) -> String {
    let pending = cursor.pending_ids();
    if pending.is_empty() {
        format!("{column} > {}", cursor.last_id)
    } else {
        format!(
            "({column} > {} OR {column} IN ({}))",
            cursor.last_id,
            in_list(pending)
        )
    }
}

fn to_i64(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

impl Store {
    /// The check rollup's cursor (default when the rollup never ran).
    pub async fn rollup_cursor(&self) -> Result<RollupCursor> {
        let row = sqlx::query("SELECT cursor FROM rollup_cursors WHERE name = $1")
            .bind(CHECKS)
            .fetch_optional(&self.pool)
            .await?;
        match row {
            Some(r) => parse_cursor(&r.try_get::<String, _>(0)?),
            None => Ok(RollupCursor::default()),
        }
    }

    /// Takes (or renews) the rollup lease for `owner` until `now_ms + lease_ms`; `false` when
    /// another live instance holds it.
    async fn take_rollup_lease(&self, owner: &str, now_ms: i64, lease_ms: i64) -> Result<bool> {
        sqlx::query(
            "INSERT INTO rollup_cursors (name, cursor) VALUES ($1, $2) ON CONFLICT (name) DO NOTHING",
        )
        .bind(CHECKS)
        .bind(cursor_text(&RollupCursor::default())?)
        .execute(&self.pool)
        .await?;
        let r = sqlx::query(
            "UPDATE rollup_cursors SET lease_owner = $1, lease_expires_at = $2 \
             WHERE name = $3 AND (lease_owner IS NULL OR lease_owner = $1 OR lease_expires_at <= $4)",
        )
        .bind(db_text(owner))
        .bind(now_ms.saturating_add(lease_ms))
        .bind(CHECKS)
        .bind(now_ms)
        .execute(&self.pool)
        .await?;
        Ok(r.rows_affected() == 1)
    }

    /// Gives the rollup lease up (shutdown), so another instance takes over at once.
    pub async fn release_rollup_lease(&self, owner: &str) -> Result<()> {
        sqlx::query(
            "UPDATE rollup_cursors SET lease_owner = NULL, lease_expires_at = NULL \
             WHERE name = $1 AND lease_owner = $2",
        )
        .bind(CHECKS)
        .bind(db_text(owner))
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// One rollup step: up to `batch` raw results after the cursor, counted into hourly and
    /// daily buckets, their status changes detected and stored, the cursor advanced — all in
    /// one transaction. Call it again while [`RollupStep::read`] equals `batch`.
    pub async fn rollup_checks(
        &self,
        rollup: &Rollup,
        owner: &str,
        lease_ms: i64,
        batch: i64,
        now_ms: i64,
    ) -> Result<RollupStep> {
        if !self.take_rollup_lease(owner, now_ms, lease_ms).await? {
            return Ok(RollupStep::default());
        }
        let cursor_row = sqlx::query("SELECT cursor FROM rollup_cursors WHERE name = $1")
            .bind(CHECKS)
            .fetch_one(&self.pool)
            .await?;
        let old_text: String = cursor_row.try_get(0)?;
        let cursor = parse_cursor(&old_text)?;

        let sql = sqlx::AssertSqlSafe(format!(
            "SELECT id, service_id, checked_at, status, failure, latency_ms, message \
             FROM check_results WHERE {} ORDER BY id LIMIT {batch}",
            uncovered(&cursor, "id")
        ));
        let rows = sqlx::query(sql).fetch_all(&self.pool).await?;
        let mut raw = Vec::with_capacity(rows.len());
        let mut messages = HashMap::with_capacity(rows.len());
        for r in &rows {
            let id: i64 = r.try_get(0)?;
            let status: String = r.try_get(3)?;
            raw.push(RawSample {
                id,
                service: r.try_get::<i64, _>(1)?,
                sample: sample_of(r.try_get(2)?, &status, r.try_get(4)?, r.try_get(5)?),
            });
            messages.insert(id, r.try_get::<String, _>(6)?);
        }
        let mut step = RollupStep {
            leased: true,
            read: raw.len(),
            ..RollupStep::default()
        };

        let touched = rollup.touched(&cursor, &raw);
        let existing = self.load_buckets(&touched).await?;
        let out = rollup
            .apply(&cursor, &raw, existing, now_ms)
            .map_err(|e| StoreError::corrupt("rollup batch", e))?;
        step.applied = out.applied;
        step.skipped = out.skipped;
        if out.applied == 0 && out.cursor == cursor {
            return Ok(step);
        }

        // Status changes of the results this step counts, in id order.
        let services: BTreeSet<i64> = raw
            .iter()
            .filter(|r| !cursor.covers(r.id))
            .map(|r| r.service)
            .collect();
        let mut states = self.load_states(&services).await?;
        let mut changed_states = BTreeSet::new();
        let mut events: Vec<(i64, StatusChange)> = Vec::new();
        for r in raw.iter().filter(|r| !cursor.covers(r.id)) {
            let msg = messages.get(&r.id).map(String::as_str).unwrap_or_default();
            let (state, change) = detect_change(states.get(&r.service), &r.sample, msg);
            if let Some(s) = state {
                if states.get(&r.service) != Some(&s) {
                    changed_states.insert(r.service);
                }
                states.insert(r.service, s);
            }
            if let Some(c) = change {
                events.push((r.service, c));
            }
        }

        let new_text = cursor_text(&out.cursor)?;
        let mut tx = self.begin_write().await?;
        let cas = sqlx::query(
            "UPDATE rollup_cursors SET cursor = $1 WHERE name = $2 AND cursor = $3 AND lease_owner = $4",
        )
        .bind(&new_text)
        .bind(CHECKS)
        .bind(&old_text)
        .bind(db_text(owner))
        .execute(&mut *tx)
        .await?;
        if cas.rows_affected() != 1 {
            tx.rollback().await?;
            step.conflict = true;
            step.applied = 0;
            return Ok(step);
        }
        let buckets: Vec<(&BucketKey<i64>, &Bucket)> = out.buckets.iter().collect();
        for chunk in buckets.chunks(INSERT_CHUNK) {
            let mut sql = String::from(
                "INSERT INTO check_buckets (service_id, width, start_ms, connected, failed, unknown, latency) VALUES ",
            );
            push_value_rows(&mut sql, chunk.len(), 7, "");
            sql.push_str(
                " ON CONFLICT (service_id, width, start_ms) DO UPDATE SET connected = excluded.connected, \
                 failed = excluded.failed, unknown = excluded.unknown, latency = excluded.latency",
            );
            let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
            for (k, b) in chunk {
                q = q
                    .bind(k.service)
                    .bind(k.width.as_str())
                    .bind(k.start_ms)
                    .bind(to_i64(b.connected))
                    .bind(to_i64(b.failed))
                    .bind(to_i64(b.unknown))
                    .bind(b.latency.encode());
            }
            q.execute(&mut *tx).await?;
        }
        for (service, c) in &events {
            let r = sqlx::query(
                "INSERT INTO status_events (service_id, at_ms, from_status, from_failure, to_status, \
                 failure, message, previous_duration_ms) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) \
                 ON CONFLICT (service_id, at_ms) DO NOTHING",
            )
            .bind(*service)
            .bind(c.at_ms)
            .bind(c.from.map(Status::as_str))
            .bind(c.from_failure.map(FailureKind::as_str))
            .bind(c.to.as_str())
            .bind(c.failure.map(FailureKind::as_str))
            .bind(db_text(&c.message))
            .bind(c.previous_duration_ms)
            .execute(&mut *tx)
            .await?;
            step.events += usize::try_from(r.rows_affected()).unwrap_or(0);
        }
        for service in &changed_states {
            let Some(s) = states.get(service) else {
                continue;
            };
            sqlx::query(
                "INSERT INTO status_state (service_id, status, failure, since_ms, last_at_ms) \
                 VALUES ($1, $2, $3, $4, $5) ON CONFLICT (service_id) DO UPDATE SET \
                 status = excluded.status, failure = excluded.failure, since_ms = excluded.since_ms, \
                 last_at_ms = excluded.last_at_ms",
            )
            .bind(*service)
            .bind(s.status.as_str())
            .bind(s.failure.map(FailureKind::as_str))
            .bind(s.since_ms)
            .bind(s.last_at_ms)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        if !out.abandoned.is_empty() {
            tracing::debug!(
                count = out.abandoned.len(),
                "rollup gave up result ids that never committed"
            );
        }
        Ok(step)
    }

    async fn load_buckets(
        &self,
        keys: &BTreeSet<BucketKey<i64>>,
    ) -> Result<BTreeMap<BucketKey<i64>, Bucket>> {
        let mut out = BTreeMap::new();
        let mut by_width: BTreeMap<BucketWidth, (BTreeSet<i64>, BTreeSet<i64>)> = BTreeMap::new();
        for k in keys {
            let e = by_width.entry(k.width).or_default();
            e.0.insert(k.start_ms);
            e.1.insert(k.service);
        }
        for (width, (starts, services)) in by_width {
            // A batch normally spans an hour or two: one query per width, filtered here.
            for starts in starts.iter().copied().collect::<Vec<_>>().chunks(64) {
                let mut sql = format!(
                    "SELECT service_id, {BUCKET_COLUMNS} FROM check_buckets WHERE width = $1 \
                     AND start_ms IN ({})",
                    in_list(starts.iter().copied())
                );
                if services.len() <= 500 {
                    let _ = write!(
                        sql,
                        " AND service_id IN ({})",
                        in_list(services.iter().copied())
                    );
                }
                let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
                    .bind(width.as_str())
                    .fetch_all(&self.pool)
                    .await?;
                for r in &rows {
                    let key = BucketKey {
                        service: r.try_get(0)?,
                        width,
                        start_ms: r.try_get(2)?,
                    };
                    if keys.contains(&key) {
                        out.insert(key, parse_bucket(r, 1)?);
                    }
                }
            }
        }
        Ok(out)
    }

    async fn load_states(&self, services: &BTreeSet<i64>) -> Result<HashMap<i64, LastState>> {
        let mut out = HashMap::new();
        let list: Vec<i64> = services.iter().copied().collect();
        for chunk in list.chunks(500) {
            let sql = format!(
                "SELECT service_id, status, failure, since_ms, last_at_ms FROM status_state \
                 WHERE service_id IN ({})",
                in_list(chunk.iter().copied())
            );
            for r in sqlx::query(sqlx::AssertSqlSafe(sql))
                .fetch_all(&self.pool)
                .await?
            {
                let status: String = r.try_get(1)?;
                out.insert(
                    r.try_get(0)?,
                    LastState {
                        status: parse_status(&status),
                        failure: parse_failure(r.try_get(2)?),
                        since_ms: r.try_get(3)?,
                        last_at_ms: r.try_get(4)?,
                    },
                );
            }
        }
        Ok(out)
    }

    /// Uptime and latency of one service over `[from_ms, to_ms)`: daily and hourly buckets,
    /// raw results at the edges, and results the rollup has not counted yet (so an answer
    /// never lags behind the rollup). `available` says what retention still keeps.
    pub async fn check_summary(
        &self,
        service_id: i64,
        from_ms: i64,
        to_ms: i64,
        available: Availability,
    ) -> Result<UptimeSummary> {
        Ok(self
            .check_totals(service_id, from_ms, to_ms, available)
            .await?
            .finish())
    }

    /// The latency digest of one service's connected checks over `[from_ms, to_ms)`, read like
    /// [`check_summary`](Self::check_summary).
    pub async fn check_latency(
        &self,
        service_id: i64,
        from_ms: i64,
        to_ms: i64,
        available: Availability,
    ) -> Result<LatencyDigest> {
        Ok(self
            .check_totals(service_id, from_ms, to_ms, available)
            .await?
            .latency()
            .clone())
    }

    async fn check_totals(
        &self,
        service_id: i64,
        from_ms: i64,
        to_ms: i64,
        available: Availability,
    ) -> Result<WindowTotals> {
        let cursor = self.rollup_cursor().await?;
        let unrolled = self
            .unrolled_samples(&cursor, Some(service_id), from_ms, to_ms)
            .await?;
        let plan = plan_window(
            from_ms,
            to_ms,
            available,
            unrolled.iter().map(|(_, s)| s.at_ms).min(),
        );
        // Each piece is fetched by exactly its own range, so everything fetched counts; an
        // unrolled result counts only inside an `Unrolled` piece (elsewhere a `Raw` piece has it).
        let mut totals = WindowTotals::new();
        for p in &plan.pieces {
            match *p {
                Piece::Daily { from_ms, to_ms } => {
                    for b in self
                        .stored_buckets(service_id, BucketWidth::Day, from_ms, to_ms)
                        .await?
                    {
                        totals.add_bucket(&b);
                    }
                }
                Piece::Hourly { from_ms, to_ms } => {
                    for b in self
                        .stored_buckets(service_id, BucketWidth::Hour, from_ms, to_ms)
                        .await?
                    {
                        totals.add_bucket(&b);
                    }
                }
                Piece::Raw { from_ms, to_ms } => {
                    for s in self.raw_samples(service_id, from_ms, to_ms).await? {
                        totals.add_sample(&s);
                    }
                }
                Piece::Unrolled { from_ms, to_ms } => {
                    for (_, s) in unrolled
                        .iter()
                        .filter(|(_, s)| s.at_ms >= from_ms && s.at_ms < to_ms)
                    {
                        totals.add_sample(s);
                    }
                }
            }
        }
        Ok(totals)
    }

    /// Connected/failed/unknown counts (no percentiles) of every service over
    /// `[from_ms, to_ms)`, by service id: the dashboard's uptime, summed in the database.
    pub async fn check_counts_all(
        &self,
        from_ms: i64,
        to_ms: i64,
        available: Availability,
    ) -> Result<HashMap<i64, UptimeSummary>> {
        let cursor = self.rollup_cursor().await?;
        let sql = format!(
            "SELECT MIN(checked_at) FROM check_results WHERE {} AND checked_at >= $1 AND checked_at < $2",
            uncovered(&cursor, "id")
        );
        let unrolled_from: Option<i64> = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(from_ms)
            .bind(to_ms)
            .fetch_one(&self.pool)
            .await?
            .try_get(0)?;
        let plan = plan_window(from_ms, to_ms, available, unrolled_from);
        let mut totals: HashMap<i64, [u64; 3]> = HashMap::new();
        let mut add = |service: i64, status: Status, n: i64| {
            let t = totals.entry(service).or_default();
            let n = u64::try_from(n).unwrap_or(0);
            match status {
                Status::Connected => t[0] += n,
                Status::Failed => t[1] += n,
                Status::Unknown => t[2] += n,
            }
        };
        for p in &plan.pieces {
            let (bucket_width, raw_filter, a, b) = match *p {
                Piece::Daily { from_ms, to_ms } => (Some(BucketWidth::Day), None, from_ms, to_ms),
                Piece::Hourly { from_ms, to_ms } => (Some(BucketWidth::Hour), None, from_ms, to_ms),
                Piece::Raw { from_ms, to_ms } => (None, Some(String::new()), from_ms, to_ms),
                Piece::Unrolled { from_ms, to_ms } => (
                    None,
                    Some(format!(" AND {}", uncovered(&cursor, "id"))),
                    from_ms,
                    to_ms,
                ),
            };
            if let Some(w) = bucket_width {
                let rows = sqlx::query(
                    "SELECT service_id, CAST(SUM(connected) AS BIGINT), CAST(SUM(failed) AS BIGINT), \
                     CAST(SUM(unknown) AS BIGINT) FROM check_buckets \
                     WHERE width = $1 AND start_ms >= $2 AND start_ms < $3 GROUP BY service_id",
                )
                .bind(w.as_str())
                .bind(a)
                .bind(b)
                .fetch_all(&self.pool)
                .await?;
                for r in rows {
                    let s: i64 = r.try_get(0)?;
                    add(s, Status::Connected, r.try_get(1)?);
                    add(s, Status::Failed, r.try_get(2)?);
                    add(s, Status::Unknown, r.try_get(3)?);
                }
            } else if let Some(filter) = raw_filter {
                let sql = format!(
                    "SELECT service_id, status, COUNT(*) FROM check_results \
                     WHERE checked_at >= $1 AND checked_at < $2{filter} GROUP BY service_id, status"
                );
                let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
                    .bind(a)
                    .bind(b)
                    .fetch_all(&self.pool)
                    .await?;
                for r in rows {
                    let status: String = r.try_get(1)?;
                    add(r.try_get(0)?, parse_status(&status), r.try_get(2)?);
                }
            }
        }
        Ok(totals
            .into_iter()
            .map(|(id, [c, f, u])| {
                let mut t = WindowTotals::counts_only();
                let mut b = Bucket::containing(BucketWidth::Day, 0);
                b.connected = c;
                b.failed = f;
                b.unknown = u;
                t.add_bucket(&b);
                (id, t.finish())
            })
            .collect())
    }

    /// The latency digest of every service's connected checks over the hour-aligned
    /// `[from_ms, to_ms)`, by service id: hourly buckets plus the results not rolled up yet, in
    /// two queries (the Prometheus latency summary of all services).
    pub async fn check_latency_all(
        &self,
        from_ms: i64,
        to_ms: i64,
    ) -> Result<HashMap<i64, LatencyDigest>> {
        let mut out: HashMap<i64, LatencyDigest> = HashMap::new();
        let rows = sqlx::query(
            "SELECT service_id, latency FROM check_buckets WHERE width = '1h' \
             AND start_ms >= $1 AND start_ms < $2",
        )
        .bind(from_ms)
        .bind(to_ms)
        .fetch_all(&self.pool)
        .await?;
        for r in &rows {
            let bytes: Vec<u8> = r.try_get(1)?;
            let d = LatencyDigest::decode(&bytes)
                .map_err(|e| StoreError::corrupt("latency digest", e))?;
            out.entry(r.try_get(0)?).or_default().merge(&d);
        }
        let cursor = self.rollup_cursor().await?;
        for (service, s) in self.unrolled_samples(&cursor, None, from_ms, to_ms).await? {
            if s.status == Status::Connected {
                out.entry(service).or_default().add(s.latency_ms);
            }
        }
        Ok(out)
    }

    /// One service's history in buckets of `width` covering `[from_ms, to_ms)` (both aligned
    /// to `width`), oldest first, empty buckets included. Hourly and daily buckets come from
    /// the rollup (plus results it has not counted yet); 5- and 15-minute buckets from raw
    /// results.
    pub async fn check_history(
        &self,
        service_id: i64,
        width: BucketWidth,
        from_ms: i64,
        to_ms: i64,
    ) -> Result<Vec<Bucket>> {
        let mut out: BTreeMap<i64, Bucket> = BTreeMap::new();
        let mut start = width.align(from_ms);
        while start < to_ms {
            out.insert(start, Bucket::containing(width, start));
            start = start.saturating_add(width.ms());
        }
        let samples: Vec<CheckSample> = if BucketWidth::STORED.contains(&width) {
            for b in self
                .stored_buckets(service_id, width, from_ms, to_ms)
                .await?
            {
                if let Some(slot) = out.get_mut(&b.start_ms) {
                    *slot = b;
                }
            }
            let cursor = self.rollup_cursor().await?;
            self.unrolled_samples(&cursor, Some(service_id), from_ms, to_ms)
                .await?
                .into_iter()
                .map(|(_, s)| s)
                .collect()
        } else {
            self.raw_samples(service_id, from_ms, to_ms).await?
        };
        for s in &samples {
            if let Some(b) = out.get_mut(&width.align(s.at_ms)) {
                b.add(s)
                    .map_err(|e| StoreError::corrupt("history bucket", e))?;
            }
        }
        Ok(out.into_values().collect())
    }

    /// Check counts (connected, failed, unknown; no latency) of each service in `service_ids`
    /// in buckets of `width` covering `[from_ms, to_ms)`, oldest first, empty buckets included:
    /// the dashboard's strips of every service in two queries. Stored widths read the bucket
    /// counts from the covering index, without the latency digests.
    pub async fn check_counts_history_all(
        &self,
        service_ids: &[i64],
        width: BucketWidth,
        from_ms: i64,
        to_ms: i64,
    ) -> Result<HashMap<i64, Vec<Bucket>>> {
        let mut empty: BTreeMap<i64, Bucket> = BTreeMap::new();
        let mut start = width.align(from_ms);
        while start < to_ms {
            empty.insert(start, Bucket::containing(width, start));
            start = start.saturating_add(width.ms());
        }
        let mut out: HashMap<i64, BTreeMap<i64, Bucket>> =
            service_ids.iter().map(|id| (*id, empty.clone())).collect();
        let mut count = |id: i64, at_ms: i64, status: Status, n: u64| {
            if let Some(b) = out
                .get_mut(&id)
                .and_then(|m| m.get_mut(&width.align(at_ms)))
            {
                match status {
                    Status::Connected => b.connected += n,
                    Status::Failed => b.failed += n,
                    Status::Unknown => b.unknown += n,
                }
            }
        };
        let raw_filter = if BucketWidth::STORED.contains(&width) {
            let rows = sqlx::query(
                "SELECT service_id, start_ms, connected, failed, unknown FROM check_buckets \
                 WHERE width = $1 AND start_ms >= $2 AND start_ms < $3",
            )
            .bind(width.as_str())
            .bind(from_ms)
            .bind(to_ms)
            .fetch_all(&self.pool)
            .await?;
            for r in &rows {
                let (id, at): (i64, i64) = (r.try_get(0)?, r.try_get(1)?);
                for (col, status) in [
                    (2, Status::Connected),
                    (3, Status::Failed),
                    (4, Status::Unknown),
                ] {
                    let n: i64 = r.try_get(col)?;
                    count(id, at, status, u64::try_from(n).unwrap_or(0));
                }
            }
            let cursor = self.rollup_cursor().await?;
            format!(" AND {}", uncovered(&cursor, "id"))
        } else {
            String::new()
        };
        let sql = format!(
            "SELECT service_id, checked_at, status FROM check_results \
             WHERE checked_at >= $1 AND checked_at < $2{raw_filter}"
        );
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(from_ms)
            .bind(to_ms)
            .fetch_all(&self.pool)
            .await?;
        for r in &rows {
            let status: String = r.try_get(2)?;
            count(r.try_get(0)?, r.try_get(1)?, parse_status(&status), 1);
        }
        Ok(out
            .into_iter()
            .map(|(id, m)| (id, m.into_values().collect()))
            .collect())
    }

    async fn stored_buckets(
        &self,
        service_id: i64,
        width: BucketWidth,
        from_ms: i64,
        to_ms: i64,
    ) -> Result<Vec<Bucket>> {
        let sql = sqlx::AssertSqlSafe(format!(
            "SELECT {BUCKET_COLUMNS} FROM check_buckets WHERE service_id = $1 AND width = $2 \
             AND start_ms >= $3 AND start_ms < $4 ORDER BY start_ms"
        ));
        let rows = sqlx::query(sql)
            .bind(service_id)
            .bind(width.as_str())
            .bind(from_ms)
            .bind(to_ms)
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(|r| parse_bucket(r, 0)).collect()
    }

    async fn raw_samples(
        &self,
        service_id: i64,
        from_ms: i64,
        to_ms: i64,
    ) -> Result<Vec<CheckSample>> {
        let rows = sqlx::query(
            "SELECT checked_at, status, failure, latency_ms FROM check_results \
             WHERE service_id = $1 AND checked_at >= $2 AND checked_at < $3",
        )
        .bind(service_id)
        .bind(from_ms)
        .bind(to_ms)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                let status: String = r.try_get(1)?;
                Ok(sample_of(
                    r.try_get(0)?,
                    &status,
                    r.try_get(2)?,
                    r.try_get(3)?,
                ))
            })
            .collect()
    }

    /// Results the cursor does not cover yet, `(service_id, sample)`.
    async fn unrolled_samples(
        &self,
        cursor: &RollupCursor,
        service_id: Option<i64>,
        from_ms: i64,
        to_ms: i64,
    ) -> Result<Vec<(i64, CheckSample)>> {
        // The id range is the selective part (a few rows behind the rollup); `+service_id`
        // keeps SQLite from preferring the (service_id, checked_at) index, which would walk
        // all of the service's raw results instead.
        let service = service_id.map_or(String::new(), |id| format!(" AND +service_id = {id}"));
        let sql = format!(
            "SELECT service_id, checked_at, status, failure, latency_ms FROM check_results \
             WHERE {}{service} AND checked_at >= $1 AND checked_at < $2",
            uncovered(cursor, "id")
        );
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(from_ms)
            .bind(to_ms)
            .fetch_all(&self.pool)
            .await?;
        rows.iter()
            .map(|r| {
                let status: String = r.try_get(2)?;
                Ok((
                    r.try_get(0)?,
                    sample_of(r.try_get(1)?, &status, r.try_get(3)?, r.try_get(4)?),
                ))
            })
            .collect()
    }

    /// Status-change events at or after `since_ms`, newest first, of one service or all.
    pub async fn status_events(
        &self,
        service_id: Option<i64>,
        since_ms: i64,
        limit: i64,
    ) -> Result<Vec<StoredEvent>> {
        let filter = service_id.map_or(String::new(), |id| format!(" AND e.service_id = {id}"));
        let sql = format!(
            "SELECT e.service_id, s.name, e.at_ms, e.from_status, e.from_failure, e.to_status, \
             e.failure, e.message, e.previous_duration_ms FROM status_events e \
             JOIN services s ON s.id = e.service_id WHERE e.at_ms >= $1{filter} \
             ORDER BY e.at_ms DESC, e.id DESC LIMIT $2"
        );
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(since_ms)
            .bind(limit)
            .fetch_all(&self.pool)
            .await?;
        rows.iter()
            .map(|r| {
                let from: Option<String> = r.try_get(3)?;
                let to: String = r.try_get(5)?;
                Ok(StoredEvent {
                    service_id: r.try_get(0)?,
                    service: r.try_get(1)?,
                    change: StatusChange {
                        at_ms: r.try_get(2)?,
                        from: from.as_deref().map(parse_status),
                        from_failure: parse_failure(r.try_get(4)?),
                        to: parse_status(&to),
                        failure: parse_failure(r.try_get(6)?),
                        message: r.try_get(7)?,
                        previous_duration_ms: r.try_get(8)?,
                    },
                })
            })
            .collect()
    }

    /// Status changes stored per service id (Prometheus' `opsdeck_service_status_changes_total`;
    /// the first result of a service is not a change and is not counted).
    pub async fn status_change_counts(&self) -> Result<HashMap<i64, u64>> {
        let rows = sqlx::query(
            "SELECT service_id, COUNT(*) FROM status_events WHERE from_status IS NOT NULL \
             GROUP BY service_id",
        )
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                let n: i64 = r.try_get(1)?;
                Ok((r.try_get(0)?, u64::try_from(n).unwrap_or(0)))
            })
            .collect()
    }

    /// Stores one metrics collection as samples and folds it into hourly and daily points, in
    /// one transaction. New series beyond `max_series` per service are refused (see
    /// [`MetricIngest::note`]). Storing the same collection again changes nothing. A service
    /// deleted meanwhile stores nothing.
    pub async fn record_metric_samples(
        &self,
        service_id: i64,
        samples: Vec<MetricSample>,
        max_series: usize,
    ) -> Result<MetricIngest> {
        match self
            .try_record_metric_samples(service_id, samples, max_series)
            .await
        {
            Err(StoreError::Database(e)) if is_foreign_key_violation(&e) => {
                Ok(MetricIngest::default())
            }
            other => other,
        }
    }

    async fn try_record_metric_samples(
        &self,
        service_id: i64,
        samples: Vec<MetricSample>,
        max_series: usize,
    ) -> Result<MetricIngest> {
        let samples: Vec<MetricSample> = samples
            .into_iter()
            .filter(|s| s.value.is_finite())
            .collect();
        if samples.is_empty() {
            return Ok(MetricIngest::default());
        }
        let mut tx = self.begin_write().await?;
        let exists = sqlx::query("SELECT 1 FROM services WHERE id = $1")
            .bind(service_id)
            .fetch_optional(&mut *tx)
            .await?
            .is_some();
        if !exists {
            tx.rollback().await?;
            return Ok(MetricIngest::default());
        }
        let mut known = BTreeSet::new();
        for r in sqlx::query("SELECT series FROM metric_series WHERE service_id = $1")
            .bind(service_id)
            .fetch_all(&mut *tx)
            .await?
        {
            if let Some(k) = SeriesKey::parse(&r.try_get::<String, _>(0)?) {
                known.insert(k);
            }
        }
        let admission = admit(&known, samples, max_series);
        let mut ingest = MetricIngest {
            dropped: admission.dropped.len(),
            note: admission.note.clone(),
            ..MetricIngest::default()
        };
        for key in admission
            .accepted
            .iter()
            .map(MetricSample::key)
            .collect::<BTreeSet<_>>()
        {
            if !known.contains(&key) {
                sqlx::query(
                    "INSERT INTO metric_series (service_id, series) VALUES ($1, $2) \
                     ON CONFLICT (service_id, series) DO NOTHING",
                )
                .bind(service_id)
                .bind(db_text(&key.to_string()))
                .execute(&mut *tx)
                .await?;
            }
        }
        for s in &admission.accepted {
            let r = sqlx::query(
                "INSERT INTO metric_samples (service_id, series, at_ms, value, unit) \
                 VALUES ($1, $2, $3, $4, $5) ON CONFLICT (service_id, series, at_ms) DO NOTHING",
            )
            .bind(service_id)
            .bind(db_text(&s.key().to_string()))
            .bind(s.at_ms)
            .bind(s.value)
            .bind(db_text(&s.unit.as_str()))
            .execute(&mut *tx)
            .await?;
            ingest.stored += usize::try_from(r.rows_affected()).unwrap_or(0);
        }
        let points = rollup_metrics(&admission.accepted, &BucketWidth::STORED);
        for ((key, width, start), mut point) in points {
            let series = db_text(&key.to_string());
            let existing = sqlx::query(
                "SELECT last, last_at_ms, min, max, unit FROM metric_points \
                 WHERE service_id = $1 AND series = $2 AND width = $3 AND start_ms = $4",
            )
            .bind(service_id)
            .bind(&series)
            .bind(width.as_str())
            .bind(start)
            .fetch_optional(&mut *tx)
            .await?;
            if let Some(r) = existing {
                let old = parse_point(&r, 0, width, start)?;
                let mut merged = old;
                merged.merge(&point);
                point = merged;
            }
            sqlx::query(
                "INSERT INTO metric_points (service_id, series, width, start_ms, last, last_at_ms, \
                 min, max, unit) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) \
                 ON CONFLICT (service_id, series, width, start_ms) DO UPDATE SET last = excluded.last, \
                 last_at_ms = excluded.last_at_ms, min = excluded.min, max = excluded.max, unit = excluded.unit",
            )
            .bind(service_id)
            .bind(&series)
            .bind(width.as_str())
            .bind(start)
            .bind(point.last)
            .bind(point.last_at_ms)
            .bind(point.min)
            .bind(point.max)
            .bind(db_text(&point.unit.as_str()))
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(ingest)
    }

    /// The newest metric sample time of a service (catch-up after a restart or a lagging
    /// subscriber compares it with the last collection).
    pub async fn last_metric_sample_at(&self, service_id: i64) -> Result<Option<i64>> {
        Ok(
            sqlx::query("SELECT MAX(at_ms) FROM metric_samples WHERE service_id = $1")
                .bind(service_id)
                .fetch_one(&self.pool)
                .await?
                .try_get(0)?,
        )
    }

    /// The points of every series of metric `name` of a service, in buckets of `width`
    /// (hourly or daily) starting in `[from_ms, to_ms)`.
    pub async fn metric_history(
        &self,
        service_id: i64,
        name: &str,
        width: BucketWidth,
        from_ms: i64,
        to_ms: i64,
    ) -> Result<Vec<MetricSeries>> {
        // `series` is `name` or `name{labels}`; substr instead of LIKE, whose `_` is a wildcard.
        let rows = sqlx::query(
            "SELECT series, start_ms, last, last_at_ms, min, max, unit FROM metric_points \
             WHERE service_id = $1 AND width = $2 AND start_ms >= $3 AND start_ms < $4 \
             AND (series = $5 OR substr(series, 1, CAST($6 AS INTEGER)) = $7) ORDER BY series, start_ms",
        )
        .bind(service_id)
        .bind(width.as_str())
        .bind(from_ms)
        .bind(to_ms)
        .bind(db_text(name))
        .bind(i64::try_from(name.chars().count() + 1).unwrap_or(i64::MAX))
        .bind(db_text(&format!("{name}{{")))
        .fetch_all(&self.pool)
        .await?;
        let mut out: Vec<MetricSeries> = Vec::new();
        for r in &rows {
            let series: String = r.try_get(0)?;
            let start: i64 = r.try_get(1)?;
            let point = parse_point(r, 2, width, start)?;
            match out.last_mut() {
                Some(s) if s.key.to_string() == series => s.points.push(point),
                _ => out.push(MetricSeries {
                    key: SeriesKey::parse(&series)
                        .ok_or_else(|| StoreError::corrupt("metric series", &series))?,
                    points: vec![point],
                }),
            }
        }
        Ok(out)
    }

    /// Deletes what retention says is expired, in batches of `cutoffs.batch_size` rows: raw
    /// results the rollup has counted (never a service's latest result, which the status view
    /// shows), raw metric samples, hourly and daily buckets and points, and events older than
    /// the daily cutoff.
    pub async fn apply_retention(&self, cutoffs: &Cutoffs) -> Result<RetentionReport> {
        let batch = i64::from(cutoffs.batch_size.max(1));
        let cursor = self.rollup_cursor().await?;
        let pending = cursor.pending_ids();
        let not_pending = if pending.is_empty() {
            String::new()
        } else {
            format!(" AND id NOT IN ({})", in_list(pending))
        };
        let mut report = RetentionReport::default();
        let raw_sql = format!(
            "DELETE FROM check_results WHERE id IN (SELECT id FROM check_results \
             WHERE id <= $1 AND checked_at < $2{not_pending} AND id NOT IN \
             (SELECT last_result_id FROM schedule WHERE last_result_id IS NOT NULL) \
             ORDER BY id LIMIT $3)"
        );
        report.raw_checks = self
            .delete_batches(&raw_sql, &[cursor.last_id, cutoffs.raw_before_ms], batch)
            .await?;
        report.metric_samples = self
            .delete_batches(
                "DELETE FROM metric_samples WHERE id IN (SELECT id FROM metric_samples \
                 WHERE at_ms < $1 ORDER BY id LIMIT $2)",
                &[cutoffs.raw_before_ms],
                batch,
            )
            .await?;
        for (width, before) in [
            (BucketWidth::Hour, cutoffs.hourly_before_ms),
            (BucketWidth::Day, cutoffs.daily_before_ms),
        ] {
            let w = width.as_str();
            let n = self
                .delete_batches(
                    &format!(
                        "DELETE FROM check_buckets WHERE (service_id, width, start_ms) IN \
                         (SELECT service_id, width, start_ms FROM check_buckets \
                         WHERE width = '{w}' AND start_ms < $1 LIMIT $2)"
                    ),
                    &[before],
                    batch,
                )
                .await?
                + self
                    .delete_batches(
                        &format!(
                            "DELETE FROM metric_points WHERE (service_id, series, width, start_ms) IN \
                             (SELECT service_id, series, width, start_ms FROM metric_points \
                             WHERE width = '{w}' AND start_ms < $1 LIMIT $2)"
                        ),
                        &[before],
                        batch,
                    )
                    .await?;
            match width {
                BucketWidth::Day => report.daily += n,
                _ => report.hourly += n,
            }
        }
        report.events = self
            .delete_batches(
                "DELETE FROM status_events WHERE id IN (SELECT id FROM status_events \
                 WHERE at_ms < $1 ORDER BY id LIMIT $2)",
                &[cutoffs.daily_before_ms],
                batch,
            )
            .await?;
        Ok(report)
    }

    /// Runs a bounded `DELETE` (its parameters, then the batch size last) until it deletes
    /// less than a full batch; each batch is its own short transaction.
    async fn delete_batches(&self, sql: &str, params: &[i64], batch: i64) -> Result<u64> {
        let mut total = 0;
        loop {
            let mut q = sqlx::query(sqlx::AssertSqlSafe(sql.to_owned()));
            for p in params {
                q = q.bind(*p);
            }
            let n = q.bind(batch).execute(&self.pool).await?.rows_affected();
            total += n;
            if n < u64::try_from(batch).unwrap_or(u64::MAX) {
                return Ok(total);
            }
        }
    }

    /// Writes finished buckets in bulk (benchmarks that stand in for weeks of rollups).
    #[doc(hidden)]
    pub async fn bulk_insert_buckets(&self, rows: &[(i64, Bucket)]) -> Result<u64> {
        let mut tx = self.begin_write().await?;
        let mut n = 0;
        for chunk in rows.chunks(INSERT_CHUNK) {
            let mut sql = String::from(
                "INSERT INTO check_buckets (service_id, width, start_ms, connected, failed, unknown, latency) VALUES ",
            );
            push_value_rows(&mut sql, chunk.len(), 7, "");
            let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
            for (service, b) in chunk {
                q = q
                    .bind(*service)
                    .bind(b.width.as_str())
                    .bind(b.start_ms)
                    .bind(to_i64(b.connected))
                    .bind(to_i64(b.failed))
                    .bind(to_i64(b.unknown))
                    .bind(b.latency.encode());
            }
            n += q.execute(&mut *tx).await?.rows_affected();
        }
        tx.commit().await?;
        Ok(n)
    }

    /// Inserts raw results in bulk without the checks' guards (benchmarks and tests that need
    /// weeks of history quickly). Returns the number inserted.
    #[doc(hidden)]
    pub async fn bulk_insert_raw(&self, rows: &[(i64, CheckSample)]) -> Result<u64> {
        let mut tx = self.begin_write().await?;
        let mut n = 0;
        for chunk in rows.chunks(INSERT_CHUNK) {
            let mut sql = String::from(
                "INSERT INTO check_results (service_id, checked_at, status, failure, latency_ms, message) VALUES ",
            );
            push_value_rows(&mut sql, chunk.len(), 5, ",''");
            let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
            for (service, s) in chunk {
                q = q
                    .bind(*service)
                    .bind(s.at_ms)
                    .bind(s.status.as_str())
                    .bind(s.failure.map(FailureKind::as_str))
                    .bind(to_i64(s.latency_ms));
            }
            n += q.execute(&mut *tx).await?.rows_affected();
        }
        tx.commit().await?;
        Ok(n)
    }
}

fn parse_point(r: &AnyRow, at: usize, width: BucketWidth, start_ms: i64) -> Result<MetricPoint> {
    let unit: String = r.try_get(at + 4)?;
    Ok(MetricPoint {
        start_ms,
        width,
        last: r.try_get(at)?,
        last_at_ms: r.try_get(at + 1)?,
        min: r.try_get(at + 2)?,
        max: r.try_get(at + 3)?,
        unit: Unit::from(unit),
    })
}

/// Appends `rows` parenthesised groups of `cols` numbered placeholders (`($1,$2),($3,$4)`), each
/// followed by `literal` (extra constant columns), for one multi-row INSERT.
fn push_value_rows(sql: &mut String, rows: usize, cols: usize, literal: &str) {
    for i in 0..rows {
        if i > 0 {
            sql.push(',');
        }
        sql.push('(');
        for c in 1..=cols {
            if c > 1 {
                sql.push(',');
            }
            let _ = write!(sql, "${}", i * cols + c);
        }
        sql.push_str(literal);
        sql.push(')');
    }
}

#[cfg(test)]
mod value_rows_tests {
    #[test]
    fn numbered_groups_with_a_literal() {
        let mut sql = String::from("VALUES ");
        super::push_value_rows(&mut sql, 2, 3, ",''");
        assert_eq!(sql, "VALUES ($1,$2,$3,''),($4,$5,$6,'')");
    }
}
