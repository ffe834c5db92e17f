//! The dashboard status and the Prometheus export, kept pre-rendered in memory.
//!
//! `GET /api/v1/status` and `GET /metrics` are what dashboards and Prometheus poll, so they are
//! served from bytes rendered after each change (and every couple of seconds, to pick up results
//! that other instances wrote to a shared PostgreSQL). A request never touches the database.

use std::collections::{BTreeMap, HashMap};
use std::fmt::Write as _;
use std::sync::RwLock;

use bytes::Bytes;
use chrono::{DateTime, SecondsFormat, Utc};
use opsdeck_core::Metric;
use opsdeck_store::{CheckResult, ServiceRecord, Store, StoreError};
use serde::Serialize;
use tokio::sync::Notify;

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
    pub status: String,
    /// Failure kind when not connected; null when connected, never checked or disabled.
    pub failure: Option<String>,
    /// Latency of the last check.
    pub latency_ms: Option<i64>,
    /// What the last check found and what to do.
    pub message: String,
    /// Account the credentials belong to.
    pub identity: Option<String>,
    /// When the last check finished (RFC 3339).
    pub checked_at: Option<String>,
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

/// The status document in the forms we serve it.
#[derive(Debug, Clone, Default)]
pub struct RenderedStatus {
    /// JSON.
    pub plain: Bytes,
    /// The same JSON, gzip-compressed once per rebuild instead of once per request.
    pub gzip: Bytes,
    /// Strong validator for `If-None-Match`.
    pub etag: String,
}

/// Pre-rendered views.
#[derive(Debug, Default)]
pub struct Snapshot {
    status: RwLock<RenderedStatus>,
    prometheus: RwLock<Bytes>,
    changed: Notify,
}

/// Milliseconds to RFC 3339 (UTC, second precision... plus millis when present).
pub fn rfc3339(ms: i64) -> String {
    DateTime::<Utc>::from_timestamp_millis(ms)
        .unwrap_or_default()
        .to_rfc3339_opts(SecondsFormat::Millis, true)
}

impl Snapshot {
    /// The status document.
    pub fn status(&self) -> RenderedStatus {
        self.status.read().map(|b| b.clone()).unwrap_or_default()
    }

    /// The Prometheus text.
    pub fn prometheus(&self) -> Bytes {
        self.prometheus
            .read()
            .map(|b| b.clone())
            .unwrap_or_default()
    }

    /// Asks the refresher for a rebuild soon (scheduler results).
    pub fn mark_changed(&self) {
        self.changed.notify_one();
    }

    /// Waits for [`Snapshot::mark_changed`].
    pub async fn changed(&self) {
        self.changed.notified().await;
    }

    /// Recomputes both views from the database.
    pub async fn rebuild(&self, store: &Store) -> Result<(), StoreError> {
        let services = store.list_services().await?;
        let latest: HashMap<i64, CheckResult> = store
            .latest_results()
            .await?
            .into_iter()
            .map(|r| (r.result.service_id, r))
            .collect();
        let metrics = store.all_metrics().await?;
        let doc = status_doc(&services, &latest);
        let json = serde_json::to_vec(&doc).map_err(|e| StoreError::Corrupt {
            what: "status document".into(),
            detail: e.to_string(),
        })?;
        let prom = prometheus_text(&services, &latest, &metrics);
        // The ETag covers the content, not `generated_at`, so it changes only when a service or
        // a result does and polling clients get 304s in between.
        let content = serde_json::to_vec(&(&doc.summary, &doc.services)).unwrap_or_default();
        let rendered = render(json, &content);
        if let Ok(mut g) = self.status.write() {
            *g = rendered;
        }
        if let Ok(mut g) = self.prometheus.write() {
            *g = Bytes::from(prom);
        }
        Ok(())
    }
}

fn render(json: Vec<u8>, content: &[u8]) -> RenderedStatus {
    use std::hash::{Hash, Hasher};
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
    RenderedStatus {
        plain: Bytes::from(json),
        gzip,
        etag,
    }
}

fn status_doc(services: &[ServiceRecord], latest: &HashMap<i64, CheckResult>) -> StatusDoc {
    let mut summary = Summary::default();
    let entries: Vec<StatusEntry> = services
        .iter()
        .map(|s| {
            let last = latest.get(&s.id).map(|r| &r.result);
            let mut e = StatusEntry {
                service: s.name.clone(),
                provider: s.provider.clone(),
                enabled: s.enabled,
                tags: s.tags.clone(),
                status: "unknown".into(),
                failure: None,
                latency_ms: None,
                message: "Not checked yet.".into(),
                identity: None,
                checked_at: None,
            };
            if let Some(r) = last {
                e.latency_ms = Some(r.latency_ms);
                e.checked_at = Some(rfc3339(r.checked_at));
                e.identity = r.identity.clone();
                if s.enabled {
                    e.status = r.status.clone();
                    e.failure = r.failure.clone();
                    e.message = r.message.clone();
                }
            }
            if !s.enabled {
                e.message = "Disabled (enabled = false); not checked.".into();
            }
            match e.status.as_str() {
                "connected" => summary.connected += 1,
                "failed" => summary.failed += 1,
                _ => summary.unknown += 1,
            }
            e
        })
        .collect();
    StatusDoc {
        generated_at: rfc3339(opsdeck_store::now_ms()),
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

fn prometheus_text(
    services: &[ServiceRecord],
    latest: &HashMap<i64, CheckResult>,
    metrics: &[(i64, i64, serde_json::Value)],
) -> String {
    let mut out = String::new();
    let by_id: HashMap<i64, &ServiceRecord> = services.iter().map(|s| (s.id, s)).collect();
    let base = |s: &ServiceRecord| {
        format!(
            "service=\"{}\",provider=\"{}\"",
            esc(&s.name),
            esc(&s.provider)
        )
    };

    out.push_str("# HELP opsdeck_service_up 1 if the service's last check connected, else 0.\n");
    out.push_str("# TYPE opsdeck_service_up gauge\n");
    for s in services {
        let up = latest
            .get(&s.id)
            .is_some_and(|r| s.enabled && r.result.status == "connected");
        let _ = writeln!(out, "opsdeck_service_up{{{}}} {}", base(s), u8::from(up));
    }
    out.push_str("# HELP opsdeck_check_latency_seconds Duration of the service's last check.\n");
    out.push_str("# TYPE opsdeck_check_latency_seconds gauge\n");
    for s in services {
        if let Some(r) = latest.get(&s.id) {
            let _ = writeln!(
                out,
                "opsdeck_check_latency_seconds{{{}}} {}",
                base(s),
                r.result.latency_ms as f64 / 1000.0
            );
        }
    }
    out.push_str(
        "# HELP opsdeck_last_check_timestamp_seconds Unix time of the service's last check.\n",
    );
    out.push_str("# TYPE opsdeck_last_check_timestamp_seconds gauge\n");
    for s in services {
        if let Some(r) = latest.get(&s.id) {
            let _ = writeln!(
                out,
                "opsdeck_last_check_timestamp_seconds{{{}}} {}",
                base(s),
                r.result.checked_at as f64 / 1000.0
            );
        }
    }
    out.push_str("# HELP opsdeck_service_status 1 for the status of the service's last check.\n");
    out.push_str("# TYPE opsdeck_service_status gauge\n");
    for s in services {
        let status = latest
            .get(&s.id)
            .filter(|_| s.enabled)
            .map_or("unknown", |r| r.result.status.as_str());
        let _ = writeln!(
            out,
            "opsdeck_service_status{{{},status=\"{}\"}} 1",
            base(s),
            esc(status)
        );
    }

    // Provider metrics, grouped by name so each gets one HELP/TYPE header.
    let mut by_name: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for (service_id, _, value) in metrics {
        let Some(s) = by_id.get(service_id) else {
            continue;
        };
        let Ok(list) = serde_json::from_value::<Vec<Metric>>(value.clone()) else {
            continue;
        };
        for m in list {
            if !m.value.is_finite() {
                continue;
            }
            let mut labels = base(s);
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
            by_name
                .entry(m.name.clone())
                .or_default()
                .push(format!("{}{{{labels}}} {}", m.name, m.value));
        }
    }
    for (name, lines) in by_name {
        let _ = writeln!(out, "# TYPE {name} gauge");
        for l in lines {
            out.push_str(&l);
            out.push('\n');
        }
    }
    out
}
