//! Running checks on demand: one stored service, an unsaved config, or every service; and a
//! service's metrics (the last collection for anyone, a fresh one for admins).
//!
//! `POST /test-all` is bounded on the server: one run at a time per instance (409
//! `test_all_running`), its checks share the global check limit, and the run has a deadline
//! (`--test-all-timeout`, default 10 min) after which the checks still waiting or running are
//! cancelled and reported as `timeout` without being stored. Results are stored in small
//! batches as checks finish, so a long run's progress is visible in `/status` and a client
//! that disconnects loses nothing already finished. With `Accept: application/x-ndjson` the
//! reports stream one per line as each finishes; otherwise the answer is the JSON array of
//! reports sorted by name, as before.

use std::time::Duration;

use axum::body::Body;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{IntoResponse, Response};
use futures::StreamExt;
use opsdeck_core::config::{RawConfig, ServiceSpec};
use opsdeck_core::manager::ErrorReport;
use opsdeck_core::{ConnectionReport, Error, FailureKind, Metric, MetricProblem, ServiceReport};
use opsdeck_store::ServiceRecord;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use tokio::sync::mpsc;
use utoipa::ToSchema;

use super::services::{descriptor, load};
use crate::checks::{Checked, Record, ServiceMeta};
use crate::error::{ApiError, ApiResult};
use crate::events::CheckSource;
use crate::json::ApiJson;
use crate::snapshot::rfc3339;
use crate::state::AppState;
use crate::validate::{self, Problems};

/// Tests a stored service now; the report is stored (unless the service was deleted or
/// changed meanwhile) and returned.
#[utoipa::path(post, path = "/services/{name}/test", tag = "tests",
    params(("name" = String, Path, description = "Service name")),
    responses((status = 200, description = "The connection report", body = Object)))]
pub async fn test_service(
    State(state): State<AppState>,
    Path(name): Path<String>,
) -> ApiResult<ApiJson<ServiceReport>> {
    let rec = load(&state, &name).await?;
    let checked = state.checks.test(&rec).await;
    state
        .checks
        .record(std::slice::from_ref(&checked), Record::Requested)
        .await?;
    state.refresh_views().await;
    Ok(ApiJson(checked.service_report()))
}

/// `POST /test` body: a config that is not saved.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TestUnsaved {
    /// Provider id.
    pub provider: String,
    /// The provider's fields.
    #[serde(default)]
    #[schema(value_type = Object)]
    pub config: Map<String, Value>,
    /// Name used in messages (default `unsaved`).
    #[serde(default)]
    pub name: Option<String>,
}

/// Tests a config without saving it (the setup wizard's step).
#[utoipa::path(post, path = "/test", tag = "tests", request_body = TestUnsaved,
    responses((status = 200, description = "The connection report", body = Object)))]
pub async fn test_unsaved(
    State(state): State<AppState>,
    ApiJson(body): ApiJson<TestUnsaved>,
) -> ApiResult<ApiJson<ServiceReport>> {
    let name = body.name.unwrap_or_else(|| "unsaved".to_owned());
    let mut problems = Problems::default();
    validate::name(&mut problems, &name);
    validate::config(&mut problems, &body.config);
    super::services::problems_error(problems)?;
    descriptor(&state, &body.provider)?;
    let spec = ServiceSpec::new(name, body.provider, RawConfig(body.config));
    Ok(ApiJson(state.checks.test_spec(&spec).await?))
}

/// `POST /test-all` query.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct TestAllQuery {
    /// Services tested at once (default and maximum: the server's check concurrency, which
    /// the scheduler and other tests share).
    #[param(minimum = 1, maximum = 256)]
    pub concurrency: Option<usize>,
}

/// Results stored per transaction at most while a test-all runs.
const RECORD_BATCH: usize = 64;

/// Tests every enabled service now; reports are stored and returned sorted by name (or
/// streamed as NDJSON in completion order with `Accept: application/x-ndjson`).
#[utoipa::path(post, path = "/test-all", tag = "tests", params(TestAllQuery),
    responses((status = 200, description = "One report per enabled service: a JSON array, or with `Accept: application/x-ndjson` one JSON object per line",
        content((Vec<Object> = "application/json"), (Object = "application/x-ndjson")))))]
pub async fn test_all(
    State(state): State<AppState>,
    Query(q): Query<TestAllQuery>,
    headers: HeaderMap,
) -> ApiResult<Response> {
    let guard = state
        .test_all
        .clone()
        .try_lock_owned()
        .map_err(|_| ApiError::TestAllRunning)?;
    let concurrency = q
        .concurrency
        .unwrap_or(state.settings.check_concurrency)
        .clamp(1, state.settings.check_concurrency.max(1));
    let recs: Vec<ServiceRecord> = state
        .store
        .list_services()
        .await?
        .into_iter()
        .filter(|r| r.enabled)
        .collect();
    let ndjson = headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.contains("application/x-ndjson"));
    let deadline = tokio::time::Instant::now() + state.settings.test_all_timeout;
    let timeout = state.settings.test_all_timeout;

    // The recorder stores results in batches while checks run; it owns the run's guard, so
    // the next run may start once everything of this one is stored.
    let (tx, rx) = mpsc::channel::<Checked>(RECORD_BATCH * 2);
    let recorder = tokio::spawn(record_batches(state.clone(), rx, guard));

    let checks = {
        let state = state.clone();
        futures::stream::iter(recs)
            .map(move |rec| {
                let state = state.clone();
                async move {
                    match tokio::time::timeout_at(deadline, state.checks.test(&rec)).await {
                        Ok(c) => (c, true),
                        Err(_) => (not_reached(&rec, timeout), false),
                    }
                }
            })
            .buffer_unordered(concurrency)
    };

    if ndjson {
        let body = checks.then(move |(checked, store)| {
            let tx = tx.clone();
            async move {
                let mut line = serde_json::to_vec(&checked.service_report()).unwrap_or_default();
                line.push(b'\n');
                if store {
                    let _ = tx.send(checked).await;
                }
                Ok::<_, std::convert::Infallible>(bytes::Bytes::from(line))
            }
        });
        let mut resp = Body::from_stream(body).into_response();
        resp.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/x-ndjson"),
        );
        return Ok(resp);
    }

    let mut out: Vec<ServiceReport> = Vec::new();
    let mut checks = std::pin::pin!(checks);
    while let Some((checked, store)) = checks.next().await {
        out.push(checked.service_report());
        if store {
            let _ = tx.send(checked).await;
        }
    }
    drop(tx);
    if let Err(e) = recorder.await {
        tracing::warn!(error = %e, "the test-all recorder failed");
    }
    state.refresh_views().await;
    out.sort_by(|a, b| a.service.cmp(&b.service));
    Ok(ApiJson(out).into_response())
}

/// The report of a service the run's deadline cut off (not stored: no check ran to the end).
fn not_reached(rec: &ServiceRecord, timeout: Duration) -> Checked {
    Checked {
        meta: ServiceMeta::from(rec),
        report: ConnectionReport::from_error(
            &Error::new(
                FailureKind::Timeout,
                format!(
                    "Not tested: the test-all run reached its deadline of {} s before this check finished. Test it alone, or raise --test-all-timeout.",
                    timeout.as_secs()
                ),
            ),
            Duration::ZERO,
        ),
    }
}

async fn record_batches(
    state: AppState,
    mut rx: mpsc::Receiver<Checked>,
    guard: tokio::sync::OwnedMutexGuard<()>,
) {
    let mut batch = Vec::with_capacity(RECORD_BATCH);
    while rx.recv_many(&mut batch, RECORD_BATCH).await > 0 {
        if let Err(e) = state.checks.record(&batch, Record::Requested).await {
            tracing::warn!(error = %e, count = batch.len(), "could not store test-all results");
        }
        batch.clear();
        state.snapshot.request();
    }
    drop(guard);
}

/// A service's metrics as the API shows them.
#[derive(Debug, Serialize, ToSchema)]
pub struct MetricsView {
    /// Service name.
    pub service: String,
    /// Provider id.
    pub provider: String,
    /// When these metrics were collected (RFC 3339); null when never collected.
    pub collected_at: Option<String>,
    /// Samples: `name`, `value`, `unit`, `labels`.
    #[schema(value_type = Vec<Object>)]
    pub metrics: Vec<Metric>,
    /// What is partial or approximate, and why.
    pub notes: Vec<String>,
    /// Sections that failed while the others were collected: `section`, `failure`, `message`
    /// (`[]` when nothing failed; `error` stays for a collection that failed as a whole).
    #[schema(value_type = Vec<Object>)]
    pub problems: Vec<MetricProblem>,
    /// Why a fresh collection failed (POST only); null otherwise.
    #[schema(value_type = Option<Object>)]
    pub error: Option<ErrorReport>,
}

/// The last collected metrics of a service, with their time (no vendor call: read-only tokens
/// may use it). The scheduler collects after every connected check.
#[utoipa::path(get, path = "/services/{name}/metrics", tag = "services",
    params(("name" = String, Path, description = "Service name")),
    responses((status = 200, description = "The last collection", body = MetricsView)))]
pub async fn service_metrics(
    State(state): State<AppState>,
    Path(name): Path<String>,
) -> ApiResult<ApiJson<MetricsView>> {
    let rec = load(&state, &name).await?;
    let view = match state.store.latest_metrics(rec.id).await? {
        Some(saved) => MetricsView {
            service: rec.name,
            provider: rec.provider,
            collected_at: Some(rfc3339(saved.collected_at)),
            metrics: serde_json::from_value(saved.metrics).unwrap_or_default(),
            notes: saved.notes,
            problems: saved.problems,
            error: None,
        },
        None => MetricsView {
            service: rec.name,
            provider: rec.provider,
            collected_at: None,
            metrics: Vec::new(),
            notes: vec![
                "Not collected yet: the scheduler collects after each connected check; an admin can collect now with POST on this route.".into(),
            ],
            problems: Vec::new(),
            error: None,
        },
    };
    Ok(ApiJson(view))
}

/// Collects a service's metrics now (admin: it calls the vendor), keeps them for `/metrics`
/// and `GET` on this route, and returns them.
#[utoipa::path(post, path = "/services/{name}/metrics", tag = "services",
    params(("name" = String, Path, description = "Service name")),
    responses((status = 200, description = "The fresh collection (error set when it failed; the last good one is kept)", body = MetricsView)))]
pub async fn collect_metrics(
    State(state): State<AppState>,
    Path(name): Path<String>,
) -> ApiResult<ApiJson<MetricsView>> {
    let rec = load(&state, &name).await?;
    if !rec.enabled {
        return Ok(ApiJson(MetricsView {
            service: rec.name,
            provider: rec.provider,
            collected_at: None,
            metrics: Vec::new(),
            notes: vec!["Disabled (enabled = false); not collected.".into()],
            problems: Vec::new(),
            error: None,
        }));
    }
    let (m, at) = state.checks.collect(&rec, None).await;
    if m.error.is_none() {
        state
            .checks
            .record_metrics(&ServiceMeta::from(&rec), &m, at, CheckSource::Requested)
            .await?;
        state.refresh_views().await;
    }
    Ok(ApiJson(MetricsView {
        service: m.service,
        provider: m.provider,
        collected_at: Some(rfc3339(at.timestamp_millis())),
        metrics: m.metrics,
        notes: m.notes,
        problems: m.problems,
        error: m.error,
    }))
}
