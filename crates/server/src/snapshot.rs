//! The dashboard status, the service list and the Prometheus export, kept pre-rendered in
//! memory and rebuilt by one task.
//!
//! `GET /api/v1/status`, `GET /api/v1/services` and `GET /metrics` are what dashboards, the UI
//! and Prometheus poll, so they are served from bytes rendered after each change; a request never
//! touches the database.
//!
//! **One rebuild task, a generation counter.** Writers do not rebuild: they bump the requested
//! generation ([`Snapshot::request`]) and, when their answer must show the change, await it
//! ([`Snapshot::refresh`]). The task rebuilds once for any number of requests that arrived
//! meanwhile and publishes the generation it started from, so an older read can never overwrite
//! a newer one. Between requests it looks every two seconds for changes other instances wrote
//! to a shared PostgreSQL — first with a one-row fingerprint query, rebuilding only when that
//! moved — and when a service's metrics turn stale.
//!
//! **Prometheus** text of provider metrics is rendered once when a collection is saved (the
//! store keeps it beside the samples), so a rebuild only concatenates fragments. Metrics of a
//! disabled service, and metrics older than [`STALE_FACTOR`] × the service's interval, are not
//! exported: a scrape must not present last week's figures as current.
//! `opsdeck_metrics_collected_timestamp_seconds` says when each enabled service's metrics were
//! collected.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::RwLock;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use bytes::Bytes;
use chrono::{DateTime, SecondsFormat, Utc};
use opsdeck_core::{Metric, Status};
use opsdeck_store::{Fingerprint, StatusRow, StoreError};
use serde::Serialize;
use tokio::sync::{Notify, watch};

use crate::state::AppState;

/// Provider metrics older than this many check intervals are left out of `/metrics`.
pub const STALE_FACTOR: i64 = 3;

/// How often the task looks for changes made by other instances.
const POLL: Duration = Duration::from_secs(2);

/// One service on the dashboard: its identity plus its last report, flattened.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct StatusEntry {
    /// Service name.
    pub service: String,
    /// Provider id.
    pub provider: String,
    /// Whether scheduled checks run.
    pub enabled: bool,
    /// Tags.
    pub tags: Vec<String>,
    /// `connected` | `failed` | `unknown` (never checked or disabled: `unknown`).
    #[schema(value_type = String)]
    pub status: Status,
    /// Failure kind when not connected; null when connected, never checked or disabled.
    #[schema(value_type = Option<String>)]
    pub failure: Option<opsdeck_core::FailureKind>,
    /// Latency of the last check.
    pub latency_ms: Option<i64>,
    /// What the last check found and what to do.
    pub message: String,
    /// Account the credentials belong to.
    pub identity: Option<String>,
    /// When the last check finished (RFC 3339).
    pub checked_at: Option<String>,
    /// connected ÷ (connected + failed) over the last 24 h (to the end of the current hour);
    /// null without a decided check, or when monitoring is off.
    pub uptime_24h: Option<f64>,
    /// The same over 30 days.
    pub uptime_30d: Option<f64>,
}

/// Counts by status.
#[derive(Debug, Clone, Default, Serialize, utoipa::ToSchema)]
pub struct Summary {
    /// Services whose last check connected.
    pub connected: usize,
    /// Services whose last check failed.
    pub failed: usize,
    /// Never checked, disabled, or undecided.
    pub unknown: usize,
}

/// `GET /api/v1/status`.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct StatusDoc {
    /// When this view was computed (RFC 3339).
    pub generated_at: String,
    /// Counts by status.
    pub summary: Summary,
    /// Every service, sorted by name.
    pub services: Vec<StatusEntry>,
}

/// A JSON document in the forms we serve it.
#[derive(Debug, Clone, Default)]
pub struct Rendered {
    /// JSON.
    pub plain: Bytes,
    /// The same JSON, gzip-compressed once per rebuild instead of once per request.
    pub gzip: Bytes,
    /// Strong validator for `If-None-Match`.
    pub etag: String,
}

/// Pre-rendered views.
#[derive(Debug)]
pub struct Snapshot {
    status: RwLock<Rendered>,
    services: RwLock<Rendered>,
    prometheus: RwLock<Bytes>,
    requested: AtomicU64,
    built: watch::Sender<u64>,
    wake: Notify,
}

impl Default for Snapshot {
    fn default() -> Self {
        Snapshot {
            status: RwLock::default(),
            services: RwLock::default(),
            prometheus: RwLock::default(),
            requested: AtomicU64::new(0),
            built: watch::Sender::new(0),
            wake: Notify::new(),
        }
    }
}

/// Milliseconds to RFC 3339 (UTC, millisecond precision).
pub fn rfc3339(ms: i64) -> String {
    DateTime::<Utc>::from_timestamp_millis(ms)
        .unwrap_or_default()
        .to_rfc3339_opts(SecondsFormat::Millis, true)
}

impl Snapshot {
    /// The status document.
    pub fn status(&self) -> Rendered {
        self.status.read().map(|b| b.clone()).unwrap_or_default()
    }

    /// The service list (`GET /api/v1/services`).
    pub fn services(&self) -> Rendered {
        self.services.read().map(|b| b.clone()).unwrap_or_default()
    }

    /// The Prometheus text.
    pub fn prometheus(&self) -> Bytes {
        self.prometheus
            .read()
            .map(|b| b.clone())
            .unwrap_or_default()
    }

    /// Asks for a rebuild; returns the generation that will include everything written so
    /// far.
    pub fn request(&self) -> u64 {
        let generation = self.requested.fetch_add(1, Ordering::SeqCst) + 1;
        self.wake.notify_one();
        generation
    }

    /// Waits until `generation` is built (at most 10 s: a broken database must not hang the
    /// write that asked; the view then catches up on the next rebuild).
    pub async fn wait_for(&self, generation: u64) {
        let mut rx = self.built.subscribe();
        let waited =
            tokio::time::timeout(Duration::from_secs(10), rx.wait_for(|b| *b >= generation)).await;
        if waited.is_err() {
            tracing::warn!(generation, "the status views did not rebuild within 10 s");
        }
    }

    /// Requests a rebuild and waits for it: a write handler's answer then matches the views.
    pub async fn refresh(&self) {
        let generation = self.request();
        self.wait_for(generation).await;
    }

    fn set(&self, status: Option<Rendered>, services: Option<Rendered>, prometheus: Option<Bytes>) {
        if let (Some(v), Ok(mut g)) = (status, self.status.write()) {
            *g = v;
        }
        if let (Some(v), Ok(mut g)) = (services, self.services.write()) {
            *g = v;
        }
        if let (Some(v), Ok(mut g)) = (prometheus, self.prometheus.write()) {
            *g = v;
        }
    }
}

/// The rebuild task: runs until `stop` flips, also refreshing the token cache every poll.
pub async fn run(state: AppState, mut stop: watch::Receiver<bool>) {
    let mut last: Option<Fingerprint> = None;
    let mut next_expiry: Option<i64> = None;
    loop {
        let now = state.clock.now_ms();
        let until_expiry = next_expiry
            .map(|e| Duration::from_millis(u64::try_from(e.saturating_sub(now)).unwrap_or(0)));
        let wait = until_expiry.map_or(POLL, |d| d.min(POLL));
        let mut polled = false;
        tokio::select! {
            _ = stop.changed() => return,
            () = state.snapshot.wake.notified() => {}
            () = tokio::time::sleep(wait) => { polled = true; }
        }
        if polled && let Err(e) = state.tokens.refresh(&state.store).await {
            tracing::warn!(error = %e, "could not reload tokens");
        }
        let target = state.snapshot.requested.load(Ordering::SeqCst);
        let forced = target > *state.snapshot.built.borrow();
        let expired = next_expiry.is_some_and(|e| e <= state.clock.now_ms());
        if !forced && !expired {
            match state.store.fingerprint().await {
                Ok(fp) if Some(fp) == last => continue,
                Ok(_) => {}
                Err(e) => {
                    tracing::warn!(error = %e, "cannot read the views' fingerprint");
                    continue;
                }
            }
        }
        match rebuild(&state, &mut last).await {
            Ok(expiry) => next_expiry = expiry,
            Err(e) => tracing::warn!(error = %e, "could not rebuild the status views"),
        }
        // Published even after a failed rebuild, so no writer waits for it; the next change
        // or poll rebuilds again.
        state.snapshot.built.send_replace(target);
    }
}

/// Rebuilds the views now (start-up, before the first request is served).
pub async fn rebuild_now(state: &AppState) -> Result<(), StoreError> {
    let mut last = None;
    rebuild(state, &mut last).await.map(|_| ())
}

/// Recomputes the views; the service list only when the services changed. Returns when the
/// next metrics turn stale.
async fn rebuild(
    state: &AppState,
    last: &mut Option<Fingerprint>,
) -> Result<Option<i64>, StoreError> {
    let fp = state.store.fingerprint().await?;
    let services_changed = last.is_none_or(|l| l.services != fp.services);
    let records = if services_changed {
        Some(state.store.list_services().await?)
    } else {
        None
    };
    let rows = state.store.status_rows().await?;
    let uptimes = crate::monitoring::status_uptimes(state).await;
    let now = state.clock.now_ms();
    let default_interval_ms =
        i64::try_from(state.settings.check_interval.as_millis()).unwrap_or(i64::MAX);
    let factory_views = records.map(|recs| {
        recs.iter()
            .map(|r| crate::api::services::service_view(state.checks.factory(), r))
            .collect::<Vec<_>>()
    });
    // Serializing and compressing ~200 KB is CPU work: off the runtime's workers.
    let (status, services, prometheus, expiry) = tokio::task::spawn_blocking(move || {
        let doc = status_doc(&rows, now, &uptimes);
        let status = render_json(&doc, &(&doc.summary, &doc.services));
        let services = factory_views.map(|v| render_json(&v, &v));
        let (prom, expiry) = prometheus_text(&rows, now, default_interval_ms);
        (status, services, Bytes::from(prom), expiry)
    })
    .await
    .map_err(|e| StoreError::Corrupt {
        what: "status views".into(),
        detail: e.to_string(),
    })?;
    state.snapshot.set(Some(status), services, Some(prometheus));
    *last = Some(fp);
    Ok(expiry)
}

/// JSON, gzip and an ETag over `content` (the part that matters to a poller: not a
/// `generated_at` stamp, so an unchanged view answers 304).
fn render_json<T: Serialize, C: Serialize>(value: &T, content: &C) -> Rendered {
    use std::hash::{Hash, Hasher};
    let json = serde_json::to_vec(value).unwrap_or_default();
    let content = serde_json::to_vec(content).unwrap_or_default();
    let mut h = std::collections::hash_map::DefaultHasher::new();
    content.hash(&mut h);
    let etag = format!("\"{:016x}\"", h.finish());
    let mut enc = flate2::write::GzEncoder::new(
        Vec::with_capacity(json.len() / 8),
        flate2::Compression::fast(),
    );
    let gzip = std::io::Write::write_all(&mut enc, &json)
        .and_then(|()| enc.finish())
        .map(Bytes::from)
        .unwrap_or_default();
    Rendered {
        plain: Bytes::from(json),
        gzip,
        etag,
    }
}

fn status_doc(
    rows: &[StatusRow],
    now: i64,
    uptimes: &std::collections::HashMap<i64, (Option<f64>, Option<f64>)>,
) -> StatusDoc {
    let mut summary = Summary::default();
    let entries: Vec<StatusEntry> = rows
        .iter()
        .map(|s| {
            let last = s.last.as_ref().map(|r| &r.result);
            let mut e = StatusEntry {
                service: s.name.clone(),
                provider: s.provider.clone(),
                enabled: s.enabled,
                tags: s.tags.clone(),
                status: Status::Unknown,
                failure: None,
                latency_ms: None,
                message: "Not checked yet.".into(),
                identity: None,
                checked_at: None,
                uptime_24h: uptimes.get(&s.service_id).and_then(|u| u.0),
                uptime_30d: uptimes.get(&s.service_id).and_then(|u| u.1),
            };
            if let Some(r) = last {
                e.latency_ms = Some(r.latency_ms);
                e.checked_at = Some(rfc3339(r.checked_at));
                e.identity = r.identity.clone();
                if s.enabled {
                    e.status = r.status;
                    e.failure = r.failure;
                    e.message = r.message.clone();
                }
            }
            if !s.enabled {
                e.message = "Disabled (enabled = false); not checked.".into();
            }
            match e.status {
                Status::Connected => summary.connected += 1,
                Status::Failed => summary.failed += 1,
                Status::Unknown => summary.unknown += 1,
            }
            e
        })
        .collect();
    StatusDoc {
        generated_at: rfc3339(now),
        summary,
        services: entries,
    }
}

/// Escapes a Prometheus label value.
fn esc(v: &str) -> String {
    v.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

/// Makes a provider label name Prometheus-safe.
fn label_name(k: &str) -> String {
    let mut out: String = k
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect();
    if out.starts_with(|c: char| c.is_ascii_digit()) || out.is_empty() {
        out.insert(0, '_');
    }
    out
}

fn base_labels(service: &str, provider: &str) -> String {
    format!(
        "service=\"{}\",provider=\"{}\"",
        esc(service),
        esc(provider)
    )
}

/// One service's provider metrics as Prometheus sample lines (no HELP/TYPE: families from
/// several services are grouped when the export is assembled). Rendered when the collection
/// is saved.
pub fn prometheus_fragment(service: &str, provider: &str, metrics: &[Metric]) -> String {
    let mut out = String::new();
    let base = base_labels(service, provider);
    for m in metrics {
        if !m.value.is_finite() || !valid_metric_name(&m.name) {
            continue;
        }
        let mut labels = base.clone();
        for (k, v) in &m.labels {
            let k = label_name(k);
            // `service` and `provider` are ours; a provider label with the same name would
            // produce a duplicate label, which Prometheus rejects.
            let k = if k == "service" || k == "provider" {
                format!("exported_{k}")
            } else {
                k
            };
            let _ = write!(labels, ",{k}=\"{}\"", esc(v));
        }
        let _ = writeln!(out, "{}{{{labels}}} {}", m.name, m.value);
    }
    out
}

fn valid_metric_name(name: &str) -> bool {
    !name.is_empty()
        && !name.starts_with(|c: char| c.is_ascii_digit())
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':')
}

fn prometheus_text(
    rows: &[StatusRow],
    now: i64,
    default_interval_ms: i64,
) -> (String, Option<i64>) {
    let mut out = String::new();
    fn latest(s: &StatusRow) -> Option<&opsdeck_store::NewCheckResult> {
        s.last.as_ref().map(|r| &r.result)
    }

    out.push_str("# HELP opsdeck_service_up 1 if the service's last check connected, else 0.\n");
    out.push_str("# TYPE opsdeck_service_up gauge\n");
    for s in rows {
        let up = latest(s).is_some_and(|r| s.enabled && r.status == Status::Connected);
        let _ = writeln!(
            out,
            "opsdeck_service_up{{{}}} {}",
            base_labels(&s.name, &s.provider),
            u8::from(up)
        );
    }
    out.push_str("# HELP opsdeck_check_latency_seconds Duration of the service's last check.\n");
    out.push_str("# TYPE opsdeck_check_latency_seconds gauge\n");
    for s in rows {
        if let Some(r) = latest(s) {
            let _ = writeln!(
                out,
                "opsdeck_check_latency_seconds{{{}}} {}",
                base_labels(&s.name, &s.provider),
                r.latency_ms as f64 / 1000.0
            );
        }
    }
    out.push_str(
        "# HELP opsdeck_last_check_timestamp_seconds Unix time of the service's last check.\n",
    );
    out.push_str("# TYPE opsdeck_last_check_timestamp_seconds gauge\n");
    for s in rows {
        if let Some(r) = latest(s) {
            let _ = writeln!(
                out,
                "opsdeck_last_check_timestamp_seconds{{{}}} {}",
                base_labels(&s.name, &s.provider),
                r.checked_at as f64 / 1000.0
            );
        }
    }
    out.push_str("# HELP opsdeck_service_status 1 for the status of the service's last check.\n");
    out.push_str("# TYPE opsdeck_service_status gauge\n");
    for s in rows {
        let status = latest(s)
            .filter(|_| s.enabled)
            .map_or(Status::Unknown, |r| r.status);
        let _ = writeln!(
            out,
            "opsdeck_service_status{{{},status=\"{}\"}} 1",
            base_labels(&s.name, &s.provider),
            status.as_str()
        );
    }
    out.push_str(
        "# HELP opsdeck_metrics_collected_timestamp_seconds Unix time of the service's last metrics collection.\n",
    );
    out.push_str("# TYPE opsdeck_metrics_collected_timestamp_seconds gauge\n");
    let mut next_expiry: Option<i64> = None;
    // Provider metrics, grouped by name so each family is one block with one TYPE line.
    let mut families: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    let mut legacy: Vec<String> = Vec::new();
    for s in rows.iter().filter(|s| s.enabled) {
        let Some(m) = &s.metrics else {
            continue;
        };
        let _ = writeln!(
            out,
            "opsdeck_metrics_collected_timestamp_seconds{{{}}} {}",
            base_labels(&s.name, &s.provider),
            m.collected_at as f64 / 1000.0
        );
        let interval_ms = s
            .interval_secs
            .map_or(default_interval_ms, |i| i.saturating_mul(1000));
        let expires = m
            .collected_at
            .saturating_add(interval_ms.saturating_mul(STALE_FACTOR));
        if expires <= now {
            continue;
        }
        next_expiry = Some(next_expiry.map_or(expires, |e| e.min(expires)));
        match (&m.prometheus, &m.legacy_metrics) {
            (Some(text), _) => {
                for line in text.lines() {
                    let name = line.split(['{', ' ']).next().unwrap_or_default();
                    families.entry(name).or_default().push(line);
                }
            }
            // Saved before fragments existed: render once here.
            (None, Some(v)) => {
                if let Ok(list) = serde_json::from_value::<Vec<Metric>>(v.clone()) {
                    legacy.push(prometheus_fragment(&s.name, &s.provider, &list));
                }
            }
            (None, None) => {}
        }
    }
    for text in &legacy {
        for line in text.lines() {
            let name = line.split(['{', ' ']).next().unwrap_or_default();
            families.entry(name).or_default().push(line);
        }
    }
    for (name, lines) in families {
        if name.is_empty() {
            continue;
        }
        let _ = writeln!(out, "# TYPE {name} gauge");
        for l in lines {
            out.push_str(l);
            out.push('\n');
        }
    }
    (out, next_expiry)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use opsdeck_store::{CheckResult, MetricsRow, NewCheckResult};

    fn row(name: &str, enabled: bool, collected_at: Option<i64>) -> StatusRow {
        StatusRow {
            service_id: 1,
            name: name.into(),
            provider: "mock".into(),
            tags: vec![],
            enabled,
            interval_secs: Some(10),
            version: 1,
            last: Some(CheckResult {
                id: 1,
                result: NewCheckResult {
                    service_id: 1,
                    config_version: None,
                    checked_at: 1_000,
                    status: Status::Connected,
                    failure: None,
                    latency_ms: 5,
                    message: "ok".into(),
                    identity: None,
                    instance: None,
                    hint: None,
                    details: None,
                },
            }),
            metrics: collected_at.map(|at| MetricsRow {
                collected_at: at,
                prometheus: Some(prometheus_fragment(
                    name,
                    "mock",
                    &[Metric::new("mock_value", 42.0, opsdeck_core::Unit::Count)
                        .label("service", "x")],
                )),
                legacy_metrics: None,
            }),
        }
    }

    #[test]
    fn stale_and_disabled_metrics_are_dropped_and_times_exported() {
        let now = 100_000;
        let rows = [
            row("fresh", true, Some(now - 5_000)),
            row("stale", true, Some(now - 31_000)),
            row("off", false, Some(now - 1_000)),
        ];
        let (text, expiry) = prometheus_text(&rows, now, 300_000);
        assert!(
            text.contains(
                "mock_value{service=\"fresh\",provider=\"mock\",exported_service=\"x\"} 42"
            ),
            "{text}"
        );
        assert!(!text.contains("mock_value{service=\"stale\""), "{text}");
        assert!(!text.contains("mock_value{service=\"off\""), "{text}");
        assert!(text.contains(
            "opsdeck_metrics_collected_timestamp_seconds{service=\"stale\",provider=\"mock\"} 69"
        ));
        assert!(!text.contains("opsdeck_metrics_collected_timestamp_seconds{service=\"off\""));
        assert_eq!(text.matches("# TYPE mock_value gauge").count(), 1);
        assert_eq!(expiry, Some(now - 5_000 + 30_000));
    }
}
