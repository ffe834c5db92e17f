//! The monitoring loops (feature `monitoring`): the rollup of stored check results into hourly
//! and daily buckets with their status-change events, metric history ingest, retention, and
//! the monitoring part of `/metrics`.
//!
//! The results hook ([`crate::events`]) is only a wake-up: the rollup reads new
//! `check_results` rows by the store's id cursor, so a lagging subscriber, a restart or a
//! result stored by another instance is never missed or counted twice. Every stored result
//! counts, scheduled or asked for. Metrics collections are ingested from the event's samples
//! (idempotent: samples are unique per series and time); after a lag or a restart each service's
//! last saved collection is ingested again from the store.
//!
//! The math lives in `opsdeck-monitor`, the rows in `opsdeck-store`; this module only schedules
//! them, with time from the server's clock.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::sync::RwLock;
use std::time::Duration;

use opsdeck_monitor::digest::LatencyDigest;
use opsdeck_monitor::metric_history::{DEFAULT_MAX_SERIES, MetricSample};
use opsdeck_monitor::retention::{Availability, RetentionSettings};
use opsdeck_monitor::rollup::Rollup;
use opsdeck_monitor::time::{BucketWidth, DAY_MS, HOUR_MS};
use opsdeck_store::StoreError;
use tokio::sync::broadcast::{self, error::RecvError};
use tokio::sync::watch;

use crate::events::{CheckEvent, MetricsRecorded};
use crate::features::Feature;
use crate::state::AppState;

/// Monitoring settings (`OPSDECK_RETENTION_*`, `OPSDECK_METRIC_SERIES_MAX`; docs/server.md).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MonitoringSettings {
    /// How long raw results, hourly and daily buckets are kept; delete batch size.
    pub retention: RetentionSettings,
    /// Most metric series stored per service.
    pub max_series: usize,
    /// How often the loop rolls up even without a wake-up (results of other instances).
    pub rollup_every: Duration,
    /// How often retention runs.
    pub retention_every: Duration,
    /// Results per rollup transaction.
    pub rollup_batch: i64,
    /// How long the rollup lease lasts (renewed by every step).
    pub rollup_lease: Duration,
}

impl Default for MonitoringSettings {
    fn default() -> Self {
        MonitoringSettings {
            retention: RetentionSettings::default(),
            max_series: DEFAULT_MAX_SERIES,
            rollup_every: Duration::from_secs(15),
            retention_every: Duration::from_secs(3600),
            rollup_batch: 5_000,
            rollup_lease: Duration::from_secs(120),
        }
    }
}

/// What the loop keeps in memory: the Prometheus text of the monitoring families.
#[derive(Debug, Default)]
pub struct Monitor {
    prometheus: RwLock<String>,
}

impl Monitor {
    /// The monitoring families for `/metrics` (empty until the first refresh, and when the
    /// feature is off).
    pub fn prometheus(&self) -> String {
        self.prometheus
            .read()
            .map(|s| s.clone())
            .unwrap_or_default()
    }
}

fn ms(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

/// What retention still keeps at `now_ms` (the window planner never asks for deleted rows).
pub fn availability(state: &AppState, now_ms: i64) -> Availability {
    state.settings.monitoring.retention.cutoffs(now_ms).into()
}

/// The window of `len_ms` the API and the views answer at `now_ms`: it ends with the current
/// hour (so it is read from whole hourly and daily buckets plus the results not rolled up yet),
/// and is `len_ms` long.
pub fn window_ending_now(now_ms: i64, len_ms: i64) -> (i64, i64) {
    let to = BucketWidth::Hour.align(now_ms).saturating_add(HOUR_MS);
    (to.saturating_sub(len_ms), to)
}

/// The loop. Started by [`crate::start`] when the feature is on, with a receiver subscribed
/// before the first check could be stored.
pub async fn run(
    state: AppState,
    mut events: broadcast::Receiver<CheckEvent>,
    mut stop: watch::Receiver<bool>,
) {
    let every = state.settings.monitoring.rollup_every;
    // Catch up with what was stored while no instance was rolling up.
    if let Err(e) = catch_up(&state).await {
        tracing::warn!(error = %e, "monitoring: catch-up failed; retrying on the next tick");
    }
    // The first retention pass runs one period after start, not at once: a restarting fleet
    // does not all delete at the same moment, and a test's manual clock is not taken for a
    // reason to delete real-time results.
    let mut last_retention = state.clock.now_ms();
    let mut last_prometheus: Option<i64> = None;
    loop {
        let mut dirty = false;
        let mut lagged = false;
        tokio::select! {
            _ = stop.changed() => break,
            ev = events.recv() => match ev {
                Ok(ev) => dirty |= handle(&state, ev).await,
                Err(RecvError::Lagged(n)) => {
                    tracing::debug!(missed = n, "monitoring fell behind the results hook; reading from the store");
                    lagged = true;
                }
                Err(RecvError::Closed) => break,
            },
            () = tokio::time::sleep(every) => { dirty = true; }
        }
        // Drain what else is queued: one rollup for a burst of results.
        loop {
            match events.try_recv() {
                Ok(ev) => dirty |= handle(&state, ev).await,
                Err(broadcast::error::TryRecvError::Lagged(_)) => lagged = true,
                Err(_) => break,
            }
        }
        if lagged && let Err(e) = catch_up_metrics(&state).await {
            tracing::warn!(error = %e, "monitoring: metrics catch-up failed");
        }
        if (dirty || lagged)
            && let Err(e) = rollup(&state).await
        {
            tracing::warn!(error = %e, "monitoring: rollup failed; retrying on the next tick");
        }
        let now = state.clock.now_ms();
        // The Prometheus families sum every service's windows: at most once per rollup period
        // (by the injected clock), however many results arrive.
        if (dirty || lagged) && last_prometheus.is_none_or(|t| now >= t.saturating_add(ms(every))) {
            last_prometheus = Some(now);
            refresh_prometheus(&state).await;
        }
        if now >= last_retention.saturating_add(ms(state.settings.monitoring.retention_every)) {
            last_retention = now;
            match retention(&state).await {
                Ok(r) if r != opsdeck_store::RetentionReport::default() => {
                    tracing::info!(?r, "monitoring: retention deleted expired history");
                }
                Ok(_) => {}
                Err(e) => tracing::warn!(error = %e, "monitoring: retention failed"),
            }
        }
    }
    if let Err(e) = state.store.release_rollup_lease(&state.instance).await {
        tracing::debug!(error = %e, "could not release the rollup lease");
    }
}

/// Handles one event; `true` when a rollup should follow.
async fn handle(state: &AppState, ev: CheckEvent) -> bool {
    match ev {
        CheckEvent::ResultRecorded(_) => true,
        CheckEvent::MetricsRecorded(m) => {
            if let Err(e) = ingest_metrics(state, &m).await {
                tracing::warn!(service = %m.service, error = %e, "monitoring: could not store metric history");
            }
            false
        }
        #[allow(unreachable_patterns)]
        _ => false,
    }
}

async fn ingest_metrics(state: &AppState, m: &MetricsRecorded) -> Result<(), StoreError> {
    let samples = MetricSample::from_metrics(&m.metrics, m.collected_at.timestamp_millis());
    let r = state
        .store
        .record_metric_samples(m.service_id, samples, state.settings.monitoring.max_series)
        .await?;
    if let Some(note) = r.note {
        tracing::warn!(service = %m.service, "{note}");
    }
    Ok(())
}

/// Ingests every service's last saved collection that the metric history does not have yet.
pub async fn catch_up_metrics(state: &AppState) -> Result<(), StoreError> {
    for row in state.store.status_rows().await? {
        let Some(saved) = state.store.latest_metrics(row.service_id).await? else {
            continue;
        };
        let have = state.store.last_metric_sample_at(row.service_id).await?;
        if have.is_some_and(|h| h >= saved.collected_at) {
            continue;
        }
        let Ok(metrics) = serde_json::from_value::<Vec<opsdeck_core::Metric>>(saved.metrics) else {
            continue;
        };
        let samples = MetricSample::from_metrics(&metrics, saved.collected_at);
        state
            .store
            .record_metric_samples(
                row.service_id,
                samples,
                state.settings.monitoring.max_series,
            )
            .await?;
    }
    Ok(())
}

/// Rolls up until the cursor has caught up (or another instance holds the lease).
pub async fn rollup(state: &AppState) -> Result<usize, StoreError> {
    let cfg = &state.settings.monitoring;
    let r = Rollup::default();
    let mut applied = 0;
    // Bounded: a huge backlog is worked off over several ticks, never in one endless loop.
    for _ in 0..1_000 {
        let step = state
            .store
            .rollup_checks(
                &r,
                &state.instance,
                ms(cfg.rollup_lease),
                cfg.rollup_batch,
                state.clock.now_ms(),
            )
            .await?;
        applied += step.applied;
        if !step.leased {
            break;
        }
        if step.read < usize::try_from(cfg.rollup_batch).unwrap_or(usize::MAX) && !step.conflict {
            break;
        }
    }
    Ok(applied)
}

/// Runs retention once at the clock's time.
pub async fn retention(state: &AppState) -> Result<opsdeck_store::RetentionReport, StoreError> {
    let cutoffs = state
        .settings
        .monitoring
        .retention
        .cutoffs(state.clock.now_ms());
    state.store.apply_retention(&cutoffs).await
}

/// Everything the loop would do now, at once: roll up, ingest missed metrics, refresh the
/// Prometheus text. Tests call it instead of waiting for the loop.
pub async fn catch_up(state: &AppState) -> Result<(), StoreError> {
    catch_up_metrics(state).await?;
    rollup(state).await?;
    refresh_prometheus(state).await;
    Ok(())
}

/// 24 h and 30 d uptime of every service by id, for the status document; empty when the
/// feature is off.
pub async fn status_uptimes(state: &AppState) -> HashMap<i64, (Option<f64>, Option<f64>)> {
    if !state.settings.features.enabled(Feature::Monitoring) {
        return HashMap::new();
    }
    let now = state.clock.now_ms();
    let av = availability(state, now);
    let (f24, t24) = window_ending_now(now, DAY_MS);
    let (f30, t30) = window_ending_now(now, 30 * DAY_MS);
    let (day, month) = match tokio::try_join!(
        state.store.check_counts_all(f24, t24, av),
        state.store.check_counts_all(f30, t30, av)
    ) {
        Ok(x) => x,
        Err(e) => {
            tracing::warn!(error = %e, "could not read uptime for the status document");
            return HashMap::new();
        }
    };
    month
        .iter()
        .map(|(id, m)| (*id, (day.get(id).and_then(|d| d.uptime), m.uptime)))
        .collect()
}

fn esc(v: &str) -> String {
    v.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

/// Sum of a digest's values, estimated from its percentiles (the digest keeps counts per bin,
/// not sums): 200 evenly spaced quantiles, each worth 1/200 of the values.
fn approx_sum(d: &LatencyDigest) -> f64 {
    if d.is_empty() {
        return 0.0;
    }
    let steps = 200u16;
    let total: f64 = (0..steps)
        .filter_map(|i| d.percentile_per_mille((i * 10 + 5) / 2))
        .map(|v| v as f64)
        .sum();
    total / f64::from(steps) * d.count() as f64
}

/// Recomputes the monitoring families of `/metrics`: uptime ratios (24h, 7d, 30d), the check
/// latency summary over 24 h, and status changes.
pub async fn refresh_prometheus(state: &AppState) {
    match prometheus_text(state).await {
        Ok(text) => {
            if let Ok(mut g) = state.monitor.prometheus.write() {
                *g = text;
            }
        }
        Err(e) => tracing::warn!(error = %e, "could not refresh the monitoring metrics"),
    }
}

async fn prometheus_text(state: &AppState) -> Result<String, StoreError> {
    let rows = state.store.status_rows().await?;
    let now = state.clock.now_ms();
    let av = availability(state, now);
    let mut out = String::new();
    let labels = |id: i64| {
        rows.iter().find(|r| r.service_id == id).map(|r| {
            format!(
                "service=\"{}\",provider=\"{}\"",
                esc(&r.name),
                esc(&r.provider)
            )
        })
    };
    out.push_str("# HELP opsdeck_service_uptime_ratio connected / (connected + failed) over the window; unknown checks are excluded. No sample without a decided check.\n");
    out.push_str("# TYPE opsdeck_service_uptime_ratio gauge\n");
    for (name, len) in [("24h", DAY_MS), ("7d", 7 * DAY_MS), ("30d", 30 * DAY_MS)] {
        let (from, to) = window_ending_now(now, len);
        let mut all: Vec<_> = state
            .store
            .check_counts_all(from, to, av)
            .await?
            .into_iter()
            .collect();
        all.sort_by_key(|(id, _)| *id);
        for (id, s) in all {
            if let (Some(u), Some(l)) = (s.uptime, labels(id)) {
                let _ = writeln!(
                    out,
                    "opsdeck_service_uptime_ratio{{{l},window=\"{name}\"}} {u}"
                );
            }
        }
    }
    out.push_str("# HELP opsdeck_service_check_latency_ms Latency of connected checks over the last 24 h (quantiles from the latency digest, within 1.6 %; the sum is estimated from it).\n");
    out.push_str("# TYPE opsdeck_service_check_latency_ms summary\n");
    let (from, to) = window_ending_now(now, DAY_MS);
    let digests = state.store.check_latency_all(from, to).await?;
    for r in &rows {
        let Some(s) = digests.get(&r.service_id).filter(|d| !d.is_empty()) else {
            continue;
        };
        let Some(l) = labels(r.service_id) else {
            continue;
        };
        for (q, v) in [("0.5", s.p50()), ("0.95", s.p95()), ("1", s.max())] {
            if let Some(v) = v {
                let _ = writeln!(
                    out,
                    "opsdeck_service_check_latency_ms{{{l},quantile=\"{q}\"}} {v}"
                );
            }
        }
        let _ = writeln!(
            out,
            "opsdeck_service_check_latency_ms_sum{{{l}}} {}",
            approx_sum(s).round()
        );
        let _ = writeln!(
            out,
            "opsdeck_service_check_latency_ms_count{{{l}}} {}",
            s.count()
        );
    }
    out.push_str("# HELP opsdeck_service_status_changes_total Status changes stored for the service (the first result is not a change).\n");
    out.push_str("# TYPE opsdeck_service_status_changes_total counter\n");
    let counts = state.store.status_change_counts().await?;
    for r in &rows {
        let _ = writeln!(
            out,
            "opsdeck_service_status_changes_total{{{}}} {}",
            labels(r.service_id).unwrap_or_default(),
            counts.get(&r.service_id).copied().unwrap_or(0)
        );
    }
    Ok(out)
}
