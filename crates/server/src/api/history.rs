//! Monitoring reads (feature `monitoring`): uptime over a window, history in buckets, status-change
//! events and metric history. Read-only tokens may call them; with the feature off they answer
//! 404 `feature_disabled`. The numbers come from the store's rollups through `opsdeck-monitor`;
//! this module parses parameters and shapes JSON.
//!
//! Windows end with the current hour (uptime) or the current bucket (history), so they are read
//! from whole stored buckets plus the results not rolled up yet (docs/decisions.md, issue 10).

use std::collections::BTreeMap;

use axum::extract::{Path, Query, State};
use opsdeck_monitor::history::{Bucket, LatencySummary, UptimeSummary};
use opsdeck_monitor::time::{BucketWidth, DAY_MS};
use opsdeck_monitor::window::parse_window;
use opsdeck_store::StoredEvent;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::error::{ApiError, ApiResult, ErrorBody};
use crate::features::{Feature, require};
use crate::json::ApiJson;
use crate::monitoring::{availability, window_ending_now};
use crate::snapshot::rfc3339;
use crate::state::AppState;

/// Windows the monitoring routes accept.
pub const WINDOWS: [&str; 4] = ["24h", "7d", "30d", "90d"];
/// Events answered when `limit` is not given.
pub const DEFAULT_EVENTS_LIMIT: i64 = 100;
/// The most events one request may ask for.
pub const MAX_EVENTS_LIMIT: i64 = 1000;

/// Latency percentiles of connected checks, in milliseconds (null without one).
#[derive(Debug, Serialize, ToSchema)]
pub struct LatencyView {
    /// Median.
    pub p50: Option<u64>,
    /// 95th percentile.
    pub p95: Option<u64>,
    /// Maximum.
    pub max: Option<u64>,
}

impl From<LatencySummary> for LatencyView {
    fn from(l: LatencySummary) -> Self {
        LatencyView {
            p50: l.p50,
            p95: l.p95,
            max: l.max,
        }
    }
}

/// `GET /services/{name}/uptime`.
#[derive(Debug, Serialize, ToSchema)]
pub struct UptimeView {
    /// Service name.
    pub service: String,
    /// `24h` | `7d` | `30d` | `90d`.
    pub window: String,
    /// connected ÷ (connected + failed), 0–1; null without a decided check.
    pub uptime: Option<f64>,
    /// All checks in the window.
    pub checks: u64,
    /// Connected checks.
    pub connected: u64,
    /// Failed checks.
    pub failed: u64,
    /// Unknown checks (excluded from `uptime`).
    pub unknown: u64,
    /// Latency of connected checks.
    pub latency_ms: LatencyView,
}

/// One history bucket.
#[derive(Debug, Serialize, ToSchema)]
pub struct HistoryBucketView {
    /// Start (RFC 3339, UTC).
    pub start: String,
    /// All checks.
    pub checks: u64,
    /// Connected checks.
    pub connected: u64,
    /// Failed checks.
    pub failed: u64,
    /// Unknown checks.
    pub unknown: u64,
    /// connected ÷ (connected + failed); null without a decided check.
    pub uptime: Option<f64>,
    /// Latency of connected checks.
    pub latency_ms: LatencyView,
}

/// `GET /services/{name}/history`.
#[derive(Debug, Serialize, ToSchema)]
pub struct HistoryView {
    /// Service name.
    pub service: String,
    /// The window.
    pub window: String,
    /// `5m` | `15m` | `1h` | `1d`.
    pub bucket: String,
    /// Every bucket of the window, oldest first (empty ones included, with `checks` 0).
    pub buckets: Vec<HistoryBucketView>,
}

/// One bucket of `GET /history`: counts only (latency is on each service's own history).
#[derive(Debug, Serialize, ToSchema)]
pub struct CountsBucketView {
    /// Start (RFC 3339, UTC).
    pub start: String,
    /// All checks.
    pub checks: u64,
    /// Connected checks.
    pub connected: u64,
    /// Failed checks.
    pub failed: u64,
    /// Unknown checks.
    pub unknown: u64,
    /// connected ÷ (connected + failed); null without a decided check.
    pub uptime: Option<f64>,
}

/// One service's buckets in `GET /history`.
#[derive(Debug, Serialize, ToSchema)]
pub struct ServiceBucketsView {
    /// Service name.
    pub service: String,
    /// Every bucket of the window, oldest first (empty ones included, with `checks` 0).
    pub buckets: Vec<CountsBucketView>,
}

/// `GET /history`: every service's history in one answer (the dashboard's strips).
#[derive(Debug, Serialize, ToSchema)]
pub struct HistoryListView {
    /// The window.
    pub window: String,
    /// `1h` | `1d`.
    pub bucket: String,
    /// One entry per service, by name.
    pub services: Vec<ServiceBucketsView>,
}

/// One status change.
#[derive(Debug, Serialize, ToSchema)]
pub struct EventView {
    /// Service name.
    pub service: String,
    /// When the new status was first seen (RFC 3339).
    pub at: String,
    /// The previous status; null for the service's first result.
    pub from: Option<String>,
    /// The new status.
    pub to: String,
    /// The new failure kind (null when connected).
    pub failure: Option<String>,
    /// The message of the result that changed it.
    pub message: String,
    /// How long the previous status lasted, in seconds; null for the first result.
    pub previous_duration_s: Option<f64>,
}

/// One point of a metric series.
#[derive(Debug, Serialize, ToSchema)]
pub struct MetricPointView {
    /// Bucket start (RFC 3339).
    pub start: String,
    /// The last value in the bucket (a gauge's reading).
    pub value: f64,
    /// When that value was collected (RFC 3339).
    pub at: String,
    /// Smallest value in the bucket.
    pub min: f64,
    /// Largest value in the bucket.
    pub max: f64,
}

/// One series (the metric with one label set).
#[derive(Debug, Serialize, ToSchema)]
pub struct MetricSeriesView {
    /// Labels.
    pub labels: BTreeMap<String, String>,
    /// Unit of the latest point (`usd`, `count`, `tokens`, …).
    pub unit: String,
    /// Points, oldest first; buckets without a collection are absent.
    pub points: Vec<MetricPointView>,
}

/// `GET /services/{name}/metrics/history`.
#[derive(Debug, Serialize, ToSchema)]
pub struct MetricHistoryView {
    /// Service name.
    pub service: String,
    /// Metric name.
    pub name: String,
    /// The window.
    pub window: String,
    /// `1h` | `1d`.
    pub bucket: String,
    /// Every series of the metric.
    pub series: Vec<MetricSeriesView>,
}

/// `?window=`.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
pub struct UptimeQuery {
    /// `24h` (default), `7d`, `30d` or `90d`.
    #[param(pattern = "^(24h|7d|30d|90d)$")]
    pub window: Option<String>,
}

/// `?window=&bucket=`.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
pub struct HistoryQuery {
    /// `24h` (default), `7d`, `30d` or `90d`.
    #[param(pattern = "^(24h|7d|30d|90d)$")]
    pub window: Option<String>,
    /// `5m` or `15m` (window 24h only), `1h` (default for 24h and 7d) or `1d` (default for
    /// 30d and 90d).
    pub bucket: Option<String>,
}

/// `?since=&limit=`.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
pub struct EventsQuery {
    /// RFC 3339 time, or a duration back from now (`24h`, `7d`); default 30 days.
    pub since: Option<String>,
    /// 1 to 1000, default 100; newest first.
    #[param(value_type = Option<i64>, minimum = 1, maximum = 1000)]
    pub limit: Option<String>,
}

/// `?name=&window=&bucket=`.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
pub struct MetricHistoryQuery {
    /// Metric name (as in `GET /services/{name}/metrics`), required.
    pub name: Option<String>,
    /// `24h`, `7d`, `30d` (default) or `90d`.
    pub window: Option<String>,
    /// `1h` or `1d` (default).
    pub bucket: Option<String>,
}

fn parse_win(raw: Option<&str>, default: &str) -> ApiResult<(String, i64)> {
    let w = raw.unwrap_or(default).trim();
    match parse_window(w).filter(|_| WINDOWS.contains(&w)) {
        Some(ms) => Ok((w.to_owned(), ms)),
        None => Err(ApiError::BadRequest(format!(
            "window: must be one of {}, got {w:?}",
            WINDOWS.join(", ")
        ))),
    }
}

fn parse_bucket(
    raw: Option<&str>,
    window_ms: i64,
    allowed: &[BucketWidth],
) -> ApiResult<BucketWidth> {
    let default = if window_ms > 7 * DAY_MS {
        BucketWidth::Day
    } else {
        BucketWidth::Hour
    };
    let Some(raw) = raw else {
        return Ok(default);
    };
    let names: Vec<&str> = allowed.iter().map(|w| w.as_str()).collect();
    let w = BucketWidth::parse(raw.trim())
        .filter(|w| allowed.contains(w))
        .ok_or_else(|| {
            ApiError::BadRequest(format!(
                "bucket: must be one of {}, got {raw:?}",
                names.join(", ")
            ))
        })?;
    if w.ms() < BucketWidth::Hour.ms() && window_ms > DAY_MS {
        return Err(ApiError::BadRequest(format!(
            "bucket: {w} buckets are drawn from raw results, kept for 48 h by default; use window=24h, or bucket=1h or 1d"
        )));
    }
    Ok(w)
}

fn bucket_view(b: &Bucket) -> HistoryBucketView {
    let s = b.summary();
    HistoryBucketView {
        start: rfc3339(b.start_ms),
        checks: s.checks,
        connected: s.connected,
        failed: s.failed,
        unknown: s.unknown,
        uptime: s.uptime,
        latency_ms: s.latency_ms.into(),
    }
}

fn counts_view(b: &Bucket) -> CountsBucketView {
    let s = b.summary();
    CountsBucketView {
        start: rfc3339(b.start_ms),
        checks: s.checks,
        connected: s.connected,
        failed: s.failed,
        unknown: s.unknown,
        uptime: s.uptime,
    }
}

fn uptime_view(service: String, window: String, s: UptimeSummary) -> UptimeView {
    UptimeView {
        service,
        window,
        uptime: s.uptime,
        checks: s.checks,
        connected: s.connected,
        failed: s.failed,
        unknown: s.unknown,
        latency_ms: s.latency_ms.into(),
    }
}

fn event_view(e: StoredEvent) -> EventView {
    let c = e.change;
    EventView {
        service: e.service,
        at: rfc3339(c.at_ms),
        from: c.from.map(|s| s.as_str().to_owned()),
        to: c.to.as_str().to_owned(),
        failure: c.failure.map(|f| f.as_str().to_owned()),
        message: c.message,
        previous_duration_s: c.previous_duration_ms.map(|ms| ms as f64 / 1000.0),
    }
}

fn parse_since(raw: Option<&str>, now_ms: i64) -> ApiResult<i64> {
    let Some(raw) = raw.map(str::trim).filter(|s| !s.is_empty()) else {
        return Ok(now_ms - 30 * DAY_MS);
    };
    if let Ok(t) = chrono::DateTime::parse_from_rfc3339(raw) {
        return Ok(t.timestamp_millis());
    }
    match opsdeck_monitor::time::parse_duration(raw) {
        Ok(d) => Ok(now_ms.saturating_sub(i64::try_from(d.as_millis()).unwrap_or(i64::MAX))),
        Err(_) => Err(ApiError::BadRequest(format!(
            "since: use an RFC 3339 time (2026-12-01T00:00:00Z) or a duration back from now (24h, 7d), got {raw:?}"
        ))),
    }
}

fn parse_events_limit(raw: Option<&str>) -> ApiResult<i64> {
    let Some(raw) = raw else {
        return Ok(DEFAULT_EVENTS_LIMIT);
    };
    match raw.trim().parse::<i64>() {
        Ok(n) if (1..=MAX_EVENTS_LIMIT).contains(&n) => Ok(n),
        _ => Err(ApiError::BadRequest(format!(
            "limit: must be a whole number from 1 to {MAX_EVENTS_LIMIT}, got {raw:?}"
        ))),
    }
}

/// Uptime and latency of a service over a window.
#[utoipa::path(get, path = "/services/{name}/uptime", tag = "monitoring",
    params(("name" = String, Path, description = "Service name"), UptimeQuery),
    responses((status = 200, body = UptimeView), (status = 400, body = ErrorBody, description = "bad window"),
        (status = 401, body = ErrorBody), (status = 404, body = ErrorBody, description = "no such service, or monitoring is off (feature_disabled)")))]
pub async fn service_uptime(
    State(state): State<AppState>,
    Path(name): Path<String>,
    Query(q): Query<UptimeQuery>,
) -> ApiResult<ApiJson<UptimeView>> {
    require(&state.settings.features, Feature::Monitoring)?;
    let (window, len) = parse_win(q.window.as_deref(), "24h")?;
    let rec = state.store.get_service(&name).await?;
    let now = state.clock.now_ms();
    let (from, to) = window_ending_now(now, len);
    let s = state
        .store
        .check_summary(rec.id, from, to, availability(&state, now))
        .await?;
    Ok(ApiJson(uptime_view(rec.name, window, s)))
}

/// A service's check history in buckets.
#[utoipa::path(get, path = "/services/{name}/history", tag = "monitoring",
    params(("name" = String, Path, description = "Service name"), HistoryQuery),
    responses((status = 200, body = HistoryView), (status = 400, body = ErrorBody, description = "bad window or bucket"),
        (status = 401, body = ErrorBody), (status = 404, body = ErrorBody, description = "no such service, or monitoring is off (feature_disabled)")))]
pub async fn service_history(
    State(state): State<AppState>,
    Path(name): Path<String>,
    Query(q): Query<HistoryQuery>,
) -> ApiResult<ApiJson<HistoryView>> {
    require(&state.settings.features, Feature::Monitoring)?;
    let (window, len) = parse_win(q.window.as_deref(), "24h")?;
    let width = parse_bucket(q.bucket.as_deref(), len, &BucketWidth::ALL)?;
    let rec = state.store.get_service(&name).await?;
    let now = state.clock.now_ms();
    let to = width.align(now).saturating_add(width.ms());
    let from = to.saturating_sub(len);
    let buckets = state.store.check_history(rec.id, width, from, to).await?;
    Ok(ApiJson(HistoryView {
        service: rec.name,
        window,
        bucket: width.as_str().to_owned(),
        buckets: buckets.iter().map(bucket_view).collect(),
    }))
}

/// The most buckets per service `GET /history` answers (a week of hours): the answer grows with
/// services × buckets, so longer windows use daily buckets.
pub const MAX_LIST_BUCKETS: i64 = 168;

/// Every service's check counts in hourly or daily buckets, in one answer (the dashboard's
/// strips; latency is on `GET /services/{name}/history`).
#[utoipa::path(get, path = "/history", tag = "monitoring",
    params(HistoryQuery),
    responses((status = 200, body = HistoryListView), (status = 400, body = ErrorBody, description = "bad window or bucket, or more than 168 buckets per service"),
        (status = 401, body = ErrorBody), (status = 404, body = ErrorBody, description = "monitoring is off (feature_disabled)")))]
pub async fn list_history(
    State(state): State<AppState>,
    Query(q): Query<HistoryQuery>,
) -> ApiResult<ApiJson<HistoryListView>> {
    require(&state.settings.features, Feature::Monitoring)?;
    let (window, len) = parse_win(q.window.as_deref(), "24h")?;
    let width = parse_bucket(q.bucket.as_deref(), len, &BucketWidth::STORED)?;
    if len / width.ms() > MAX_LIST_BUCKETS {
        return Err(ApiError::BadRequest(format!(
            "bucket: {width} over {window} is {} buckets per service, more than {MAX_LIST_BUCKETS}; use bucket=1d, or GET /services/{{name}}/history for one service",
            len / width.ms()
        )));
    }
    let services = state.store.list_services().await?;
    let ids: Vec<i64> = services.iter().map(|s| s.id).collect();
    let now = state.clock.now_ms();
    let to = width.align(now).saturating_add(width.ms());
    let from = to.saturating_sub(len);
    let mut all = state
        .store
        .check_counts_history_all(&ids, width, from, to)
        .await?;
    Ok(ApiJson(HistoryListView {
        window,
        bucket: width.as_str().to_owned(),
        services: services
            .into_iter()
            .map(|rec| ServiceBucketsView {
                buckets: all
                    .remove(&rec.id)
                    .unwrap_or_default()
                    .iter()
                    .map(counts_view)
                    .collect(),
                service: rec.name,
            })
            .collect(),
    }))
}

/// A service's status changes, newest first.
#[utoipa::path(get, path = "/services/{name}/events", tag = "monitoring",
    params(("name" = String, Path, description = "Service name"), EventsQuery),
    responses((status = 200, body = Vec<EventView>), (status = 400, body = ErrorBody, description = "bad since or limit"),
        (status = 401, body = ErrorBody), (status = 404, body = ErrorBody, description = "no such service, or monitoring is off (feature_disabled)")))]
pub async fn service_events(
    State(state): State<AppState>,
    Path(name): Path<String>,
    Query(q): Query<EventsQuery>,
) -> ApiResult<ApiJson<Vec<EventView>>> {
    require(&state.settings.features, Feature::Monitoring)?;
    let since = parse_since(q.since.as_deref(), state.clock.now_ms())?;
    let limit = parse_events_limit(q.limit.as_deref())?;
    let rec = state.store.get_service(&name).await?;
    let rows = state
        .store
        .status_events(Some(rec.id), since, limit)
        .await?;
    Ok(ApiJson(rows.into_iter().map(event_view).collect()))
}

/// Status changes of every service, newest first.
#[utoipa::path(get, path = "/events", tag = "monitoring",
    params(EventsQuery),
    responses((status = 200, body = Vec<EventView>), (status = 400, body = ErrorBody, description = "bad since or limit"),
        (status = 401, body = ErrorBody), (status = 404, body = ErrorBody, description = "monitoring is off (feature_disabled)")))]
pub async fn list_events(
    State(state): State<AppState>,
    Query(q): Query<EventsQuery>,
) -> ApiResult<ApiJson<Vec<EventView>>> {
    require(&state.settings.features, Feature::Monitoring)?;
    let since = parse_since(q.since.as_deref(), state.clock.now_ms())?;
    let limit = parse_events_limit(q.limit.as_deref())?;
    let rows = state.store.status_events(None, since, limit).await?;
    Ok(ApiJson(rows.into_iter().map(event_view).collect()))
}

/// A metric's history: the last value per hour or day of each of its series.
#[utoipa::path(get, path = "/services/{name}/metrics/history", tag = "monitoring",
    params(("name" = String, Path, description = "Service name"), MetricHistoryQuery),
    responses((status = 200, body = MetricHistoryView), (status = 400, body = ErrorBody, description = "missing name, bad window or bucket"),
        (status = 401, body = ErrorBody), (status = 404, body = ErrorBody, description = "no such service, or monitoring is off (feature_disabled)")))]
pub async fn service_metric_history(
    State(state): State<AppState>,
    Path(name): Path<String>,
    Query(q): Query<MetricHistoryQuery>,
) -> ApiResult<ApiJson<MetricHistoryView>> {
    require(&state.settings.features, Feature::Monitoring)?;
    let metric = q
        .name
        .as_deref()
        .map(str::trim)
        .filter(|n| !n.is_empty() && n.len() <= 200 && !n.contains(['{', '}']))
        .ok_or_else(|| {
            ApiError::BadRequest(
                "name: the metric name is required (e.g. name=openai_cost_total; GET /services/{name}/metrics lists them)".into(),
            )
        })?
        .to_owned();
    let (window, len) = parse_win(q.window.as_deref(), "30d")?;
    let width = match q.bucket.as_deref() {
        None => BucketWidth::Day,
        Some(b) => parse_bucket(Some(b), len, &BucketWidth::STORED)?,
    };
    let rec = state.store.get_service(&name).await?;
    let now = state.clock.now_ms();
    let to = width.align(now).saturating_add(width.ms());
    let from = to.saturating_sub(len);
    let series = state
        .store
        .metric_history(rec.id, &metric, width, from, to)
        .await?;
    Ok(ApiJson(MetricHistoryView {
        service: rec.name,
        name: metric,
        window,
        bucket: width.as_str().to_owned(),
        series: series
            .into_iter()
            .map(|s| MetricSeriesView {
                unit: s
                    .points
                    .last()
                    .map(|p| p.unit.as_str().into_owned())
                    .unwrap_or_default(),
                labels: s.key.labels,
                points: s
                    .points
                    .iter()
                    .map(|p| MetricPointView {
                        start: rfc3339(p.start_ms),
                        value: p.last,
                        at: rfc3339(p.last_at_ms),
                        min: p.min,
                        max: p.max,
                    })
                    .collect(),
            })
            .collect(),
    }))
}
