//! Running checks on demand: one stored service, an unsaved config, or every service.

use axum::extract::{Path, Query, State};
use futures::StreamExt;
use opsdeck_core::config::{RawConfig, ServiceSpec};
use opsdeck_core::{ServiceMetrics, ServiceReport};
use opsdeck_store::{ServiceRecord, now_ms};
use serde::Deserialize;
use serde_json::{Map, Value};
use utoipa::ToSchema;

use super::services::{check_name, descriptor};
use crate::error::{ApiResult, ErrorBody};
use crate::json::ApiJson;
use crate::runtime::result_row;
use crate::state::AppState;

/// Tests a stored service now; the report is stored and returned.
#[utoipa::path(post, path = "/services/{name}/test", tag = "tests",
    params(("name" = String, Path, description = "Service name")),
    responses((status = 200, description = "The connection report", body = Object), (status = 404, body = ErrorBody)))]
pub async fn test_service(
    State(state): State<AppState>,
    Path(name): Path<String>,
) -> ApiResult<ApiJson<ServiceReport>> {
    let rec = state.store.get_service(&name).await?;
    let report = state.runtime.test(&state.store, &rec).await?;
    state
        .store
        .insert_result(&result_row(rec.id, &report, &state.instance))
        .await?;
    state.refresh_views().await;
    Ok(ApiJson(report))
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
    responses((status = 200, description = "The connection report", body = Object), (status = 422, body = ErrorBody)))]
pub async fn test_unsaved(
    State(state): State<AppState>,
    ApiJson(body): ApiJson<TestUnsaved>,
) -> ApiResult<ApiJson<ServiceReport>> {
    let name = body.name.unwrap_or_else(|| "unsaved".to_owned());
    check_name(&name)?;
    descriptor(&state, &body.provider)?;
    let spec = ServiceSpec::new(name, body.provider, RawConfig(body.config));
    Ok(ApiJson(state.runtime.test_spec(&spec).await?))
}

/// `POST /test-all` query.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct TestAllQuery {
    /// Services tested at once (default: the server's check concurrency, max 256).
    pub concurrency: Option<usize>,
}

/// Tests every enabled service now; reports are stored and returned sorted by name.
#[utoipa::path(post, path = "/test-all", tag = "tests", params(TestAllQuery),
    responses((status = 200, description = "One report per enabled service", body = Vec<Object>)))]
pub async fn test_all(
    State(state): State<AppState>,
    Query(q): Query<TestAllQuery>,
) -> ApiResult<ApiJson<Vec<ServiceReport>>> {
    let concurrency = q
        .concurrency
        .unwrap_or(state.settings.check_concurrency)
        .clamp(1, 256);
    let recs: Vec<ServiceRecord> = state
        .store
        .list_services()
        .await?
        .into_iter()
        .filter(|r| r.enabled)
        .collect();
    let mut out: Vec<(i64, ServiceReport)> = futures::stream::iter(recs)
        .map(|rec| {
            let state = state.clone();
            async move {
                let report = match state.runtime.test(&state.store, &rec).await {
                    Ok(r) => r,
                    Err(e) => ServiceReport::new(
                        &rec.name,
                        &rec.provider,
                        opsdeck_core::ConnectionReport::from_error(
                            &opsdeck_core::Error::invalid_config(e.to_string()),
                            std::time::Duration::ZERO,
                        ),
                    ),
                };
                (rec.id, report)
            }
        })
        .buffer_unordered(concurrency)
        .collect()
        .await;
    out.sort_by(|a, b| a.1.service.cmp(&b.1.service));
    // One transaction for all results: on SQLite a commit per service would cost more than
    // the checks themselves.
    let rows: Vec<_> = out
        .iter()
        .map(|(id, r)| result_row(*id, r, &state.instance))
        .collect();
    state.store.insert_results(&rows).await?;
    state.refresh_views().await;
    Ok(ApiJson(out.into_iter().map(|(_, r)| r).collect()))
}

/// Collects a service's metrics now (and keeps them for `/metrics`).
#[utoipa::path(get, path = "/services/{name}/metrics", tag = "services",
    params(("name" = String, Path, description = "Service name")),
    responses((status = 200, description = "Metrics, notes and error", body = Object), (status = 404, body = ErrorBody)))]
pub async fn service_metrics(
    State(state): State<AppState>,
    Path(name): Path<String>,
) -> ApiResult<ApiJson<ServiceMetrics>> {
    let rec = state.store.get_service(&name).await?;
    let m = state.runtime.collect(&state.store, &rec).await?;
    if m.error.is_none() && rec.enabled {
        let value = serde_json::to_value(&m.metrics).unwrap_or_default();
        state.store.save_metrics(rec.id, now_ms(), &value).await?;
        state.snapshot.mark_changed();
    }
    Ok(ApiJson(m))
}
