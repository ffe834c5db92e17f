//! The JSON API under `/api/v1`: providers, services, tests, metrics, status and tokens.
//! Handlers are thin: validation comes from core, persistence from the store.

use std::collections::BTreeMap;

use axum::extract::{Path, Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use futures::StreamExt;
use opsdeck_core::config::{RawConfig, ServiceSpec, check_service_name};
use opsdeck_core::{ProviderDescriptor, ServiceMetrics, ServiceReport};
use opsdeck_store::{Role, ServiceData, ServiceRecord, now_ms};
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Deserializer, Serialize};
use serde_json::{Map, Value, json};
use utoipa::ToSchema;

use crate::error::{ApiError, ApiResult, ErrorBody};
use crate::json::ApiJson;
use crate::runtime::{build, result_row, spec_of};
use crate::snapshot::{StatusDoc, rfc3339};
use crate::state::AppState;

// ---------- providers ----------

/// A provider and its config fields.
#[derive(Debug, Serialize, ToSchema)]
pub struct ProviderView {
    /// Stable id (`github`).
    pub id: &'static str,
    /// Display name.
    pub name: &'static str,
    /// Category.
    pub category: &'static str,
    /// What it checks.
    pub description: &'static str,
    /// Docs link.
    pub docs_url: &'static str,
    /// Config fields: name, kind, required, secret, default, description.
    #[schema(value_type = Vec<Object>)]
    pub fields: Value,
    /// JSON Schema of the `config` object (only on `GET /providers/{id}`).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub schema: Option<Value>,
}

fn provider_view(d: &'static ProviderDescriptor, with_schema: bool) -> ProviderView {
    ProviderView {
        id: d.id,
        name: d.name,
        category: d.category.as_str(),
        description: d.description,
        docs_url: d.docs_url,
        fields: serde_json::to_value(d.fields).unwrap_or_default(),
        schema: with_schema.then(|| d.json_schema()),
    }
}

/// Registered providers.
#[utoipa::path(get, path = "/providers", tag = "providers",
    responses((status = 200, body = Vec<ProviderView>), (status = 401, body = ErrorBody)))]
pub async fn list_providers(State(state): State<AppState>) -> ApiJson<Vec<ProviderView>> {
    ApiJson(
        state
            .runtime
            .factory()
            .providers()
            .map(|d| provider_view(d, false))
            .collect(),
    )
}

/// One provider with its JSON Schema.
#[utoipa::path(get, path = "/providers/{id}", tag = "providers",
    params(("id" = String, Path, description = "Provider id")),
    responses((status = 200, body = ProviderView), (status = 404, body = ErrorBody)))]
pub async fn get_provider(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> ApiResult<ApiJson<ProviderView>> {
    let d = state.runtime.factory().descriptor(&id).ok_or_else(|| {
        ApiError::NotFound(format!(
            "provider {id:?} not found; GET /api/v1/providers lists them"
        ))
    })?;
    Ok(ApiJson(provider_view(d, true)))
}

// ---------- services ----------

/// A service as the API shows it. Secret fields read as `{"set": true|false}`.
#[derive(Debug, Serialize, ToSchema)]
pub struct ServiceView {
    /// Unique name.
    pub name: String,
    /// Provider id.
    pub provider: String,
    /// The provider's fields; secrets as `{"set": bool}`.
    #[schema(value_type = Object)]
    pub config: Map<String, Value>,
    /// Tags.
    pub tags: Vec<String>,
    /// Whether scheduled checks run.
    pub enabled: bool,
    /// Check interval in seconds; null = the server default.
    pub interval_secs: Option<i64>,
    /// Managed by the server's config file (read-only through the API).
    pub provisioned: bool,
    /// Send it back in PATCH.
    pub version: i64,
    /// RFC 3339.
    pub created_at: String,
    /// RFC 3339.
    pub updated_at: String,
}

fn service_view(state: &AppState, rec: &ServiceRecord) -> ServiceView {
    let mut config = rec.config.clone();
    let set: Vec<&str> = rec.secret_fields().collect();
    let secret_names: Vec<&str> = match state.runtime.factory().descriptor(&rec.provider) {
        Some(d) => d.secret_fields().collect(),
        None => set.clone(),
    };
    for name in secret_names {
        config.insert(name.to_owned(), json!({ "set": set.contains(&name) }));
    }
    ServiceView {
        name: rec.name.clone(),
        provider: rec.provider.clone(),
        config,
        tags: rec.tags.clone(),
        enabled: rec.enabled,
        interval_secs: rec.interval_secs,
        provisioned: rec.provisioned,
        version: rec.version,
        created_at: rfc3339(rec.created_at),
        updated_at: rfc3339(rec.updated_at),
    }
}

fn yes() -> bool {
    true
}

/// `POST /services` body.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateService {
    /// 1-64 letters, digits, `-`, `_`, `.`.
    pub name: String,
    /// Provider id.
    pub provider: String,
    /// The provider's fields (as in the config file).
    #[serde(default)]
    #[schema(value_type = Object)]
    pub config: Map<String, Value>,
    /// Tags.
    #[serde(default)]
    pub tags: Vec<String>,
    /// Default true.
    #[serde(default = "yes")]
    pub enabled: bool,
    /// Check interval in seconds (10 s to 7 days); default: the server's.
    #[serde(default)]
    pub interval_secs: Option<i64>,
}

fn some<'de, D: Deserializer<'de>, T: Deserialize<'de>>(d: D) -> Result<Option<T>, D::Error> {
    T::deserialize(d).map(Some)
}

/// `PATCH /services/{name}` body.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PatchService {
    /// The version you read; a stale one is refused with 409.
    pub version: i64,
    /// Fields to change: a value replaces, null removes, `{"set": true}` keeps a secret.
    #[serde(default)]
    #[schema(value_type = Option<Object>)]
    pub config: Option<Map<String, Value>>,
    /// New tags.
    #[serde(default)]
    pub tags: Option<Vec<String>>,
    /// Enable or disable.
    #[serde(default)]
    pub enabled: Option<bool>,
    /// New interval; null = back to the server default.
    #[serde(default, deserialize_with = "some")]
    #[schema(value_type = Option<i64>)]
    pub interval_secs: Option<Option<i64>>,
}

fn check_interval(v: Option<i64>) -> ApiResult<()> {
    match v {
        Some(s) if !(1..=7 * 86_400).contains(&s) => Err(ApiError::field(
            "interval_secs",
            "must be between 1 and 604800 seconds (7 days), or null for the server default",
        )),
        _ => Ok(()),
    }
}

fn check_name(name: &str) -> ApiResult<()> {
    check_service_name(name).map_err(|m| ApiError::field("name", m))
}

fn descriptor(state: &AppState, provider: &str) -> ApiResult<&'static ProviderDescriptor> {
    state
        .runtime
        .factory()
        .descriptor(provider)
        .ok_or_else(|| ApiError::UnknownProvider(provider.to_owned()))
}

/// Splits a validated config into non-secret fields and secrets.
fn split(
    d: &ProviderDescriptor,
    config: Map<String, Value>,
) -> (Map<String, Value>, BTreeMap<String, SecretString>) {
    let mut plain = Map::new();
    let mut secrets = BTreeMap::new();
    for (k, v) in config {
        if v.is_null() {
            continue;
        }
        match (d.field(&k).is_some_and(|f| f.secret), v) {
            (true, Value::String(s)) => {
                secrets.insert(k, SecretString::from(s));
            }
            (_, v) => {
                plain.insert(k, v);
            }
        }
    }
    (plain, secrets)
}

fn is_keep_marker(v: &Value) -> bool {
    v.as_object()
        .is_some_and(|o| o.len() == 1 && o.get("set") == Some(&Value::Bool(true)))
}

/// Every service.
#[utoipa::path(get, path = "/services", tag = "services",
    responses((status = 200, body = Vec<ServiceView>), (status = 401, body = ErrorBody)))]
pub async fn list_services(State(state): State<AppState>) -> ApiResult<ApiJson<Vec<ServiceView>>> {
    let recs = state.store.list_services().await?;
    Ok(ApiJson(
        recs.iter().map(|r| service_view(&state, r)).collect(),
    ))
}

/// One service.
#[utoipa::path(get, path = "/services/{name}", tag = "services",
    params(("name" = String, Path, description = "Service name")),
    responses((status = 200, body = ServiceView), (status = 404, body = ErrorBody)))]
pub async fn get_service(
    State(state): State<AppState>,
    Path(name): Path<String>,
) -> ApiResult<ApiJson<ServiceView>> {
    let rec = state.store.get_service(&name).await?;
    Ok(ApiJson(service_view(&state, &rec)))
}

/// Creates a service (validated, no network call).
#[utoipa::path(post, path = "/services", tag = "services", request_body = CreateService,
    responses((status = 201, body = ServiceView), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn create_service(
    State(state): State<AppState>,
    ApiJson(body): ApiJson<CreateService>,
) -> ApiResult<Response> {
    check_name(&body.name)?;
    check_interval(body.interval_secs)?;
    let d = descriptor(&state, &body.provider)?;
    let spec = ServiceSpec {
        name: body.name.clone(),
        provider: body.provider.clone(),
        config: RawConfig(body.config.clone()),
        tags: body.tags.clone(),
        enabled: body.enabled,
        interval: None,
    };
    build(state.runtime.factory(), &spec)?;
    let (config, secrets) = split(d, body.config);
    let data = ServiceData {
        provider: body.provider,
        config,
        secrets,
        tags: body.tags,
        enabled: body.enabled,
        interval_secs: body.interval_secs,
        provisioned: false,
    };
    let rec = state.store.create_service(&body.name, &data).await?;
    tracing::info!(service = %rec.name, provider = %rec.provider, "service created");
    state.refresh_views().await;
    let location = format!("/api/v1/services/{}", rec.name);
    Ok((
        StatusCode::CREATED,
        [(header::LOCATION, location)],
        ApiJson(service_view(&state, &rec)),
    )
        .into_response())
}

/// Changes a service. Requires the version you read.
#[utoipa::path(patch, path = "/services/{name}", tag = "services", request_body = PatchService,
    params(("name" = String, Path, description = "Service name")),
    responses((status = 200, body = ServiceView), (status = 404, body = ErrorBody),
        (status = 409, body = ErrorBody, description = "stale_version or provisioned"), (status = 422, body = ErrorBody)))]
pub async fn patch_service(
    State(state): State<AppState>,
    Path(name): Path<String>,
    ApiJson(body): ApiJson<PatchService>,
) -> ApiResult<ApiJson<ServiceView>> {
    let rec = state.store.get_service(&name).await?;
    if rec.provisioned {
        return Err(ApiError::Provisioned(name));
    }
    if body.version != rec.version {
        return Err(ApiError::StaleVersion {
            expected: body.version,
            current: rec.version,
        });
    }
    let interval = body.interval_secs.unwrap_or(rec.interval_secs);
    check_interval(interval)?;
    let d = descriptor(&state, &rec.provider)?;
    let mut merged = spec_of(&state.store, &rec)?.config.0;
    if let Some(patch) = body.config {
        for (k, v) in patch {
            let secret = d.field(&k).is_some_and(|f| f.secret);
            if v.is_null() {
                merged.remove(&k);
            } else if secret && is_keep_marker(&v) {
                // What a read returned: keep the stored secret.
            } else {
                merged.insert(k, v);
            }
        }
    }
    let tags = body.tags.unwrap_or_else(|| rec.tags.clone());
    let enabled = body.enabled.unwrap_or(rec.enabled);
    let spec = ServiceSpec {
        name: rec.name.clone(),
        provider: rec.provider.clone(),
        config: RawConfig(merged.clone()),
        tags: tags.clone(),
        enabled,
        interval: None,
    };
    build(state.runtime.factory(), &spec)?;
    let (config, secrets) = split(d, merged);
    let data = ServiceData {
        provider: rec.provider.clone(),
        config,
        secrets,
        tags,
        enabled,
        interval_secs: interval,
        provisioned: false,
    };
    let updated = state
        .store
        .update_service(&name, Some(body.version), &data)
        .await?;
    state.runtime.forget(&name);
    tracing::info!(service = %name, version = updated.version, "service updated");
    state.refresh_views().await;
    Ok(ApiJson(service_view(&state, &updated)))
}

/// Deletes a service and its history.
#[utoipa::path(delete, path = "/services/{name}", tag = "services",
    params(("name" = String, Path, description = "Service name")),
    responses((status = 204), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn delete_service(
    State(state): State<AppState>,
    Path(name): Path<String>,
) -> ApiResult<StatusCode> {
    let rec = state.store.get_service(&name).await?;
    if rec.provisioned {
        return Err(ApiError::Provisioned(name));
    }
    state.store.delete_service(&name).await?;
    state.runtime.forget(&name);
    tracing::info!(service = %name, "service deleted");
    state.refresh_views().await;
    Ok(StatusCode::NO_CONTENT)
}

// ---------- tests ----------

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
    let spec = ServiceSpec {
        name,
        provider: body.provider,
        config: RawConfig(body.config),
        tags: Vec::new(),
        enabled: true,
        interval: None,
    };
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
                    Err(e) => ServiceReport {
                        service: rec.name.clone(),
                        provider: rec.provider.clone(),
                        report: opsdeck_core::ConnectionReport::from_error(
                            &opsdeck_core::Error::invalid_config(e.to_string()),
                            std::time::Duration::ZERO,
                        ),
                    },
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

// ---------- status ----------

/// Every service with its last report (the dashboard).
#[utoipa::path(get, path = "/status", tag = "status", responses((status = 200, body = StatusDoc)))]
pub async fn status(State(state): State<AppState>, headers: axum::http::HeaderMap) -> Response {
    let s = state.snapshot.status();
    let etag = (header::ETAG, s.etag.clone());
    let vary = (header::VARY, "accept-encoding".to_owned());
    if headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|t| t.trim() == s.etag))
    {
        return (StatusCode::NOT_MODIFIED, [etag, vary]).into_response();
    }
    let gzip_ok = headers
        .get(header::ACCEPT_ENCODING)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| {
            v.split(',')
                .any(|e| e.trim().split(';').next() == Some("gzip"))
        });
    let json = (header::CONTENT_TYPE, "application/json".to_owned());
    if gzip_ok && !s.gzip.is_empty() {
        let enc = (header::CONTENT_ENCODING, "gzip".to_owned());
        ([json, etag, vary, enc], s.gzip).into_response()
    } else {
        ([json, etag, vary], s.plain).into_response()
    }
}

// ---------- tokens ----------

/// A token without its secret.
#[derive(Debug, Serialize, ToSchema)]
pub struct TokenView {
    /// Id (for DELETE).
    pub id: i64,
    /// Label.
    pub name: String,
    /// `admin` or `read`.
    pub role: &'static str,
    /// RFC 3339.
    pub created_at: String,
    /// The token itself: only in the response to POST, never again.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub token: Option<String>,
}

/// `POST /tokens` body.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateToken {
    /// Label.
    pub name: String,
    /// `read` (default) or `admin`.
    #[serde(default)]
    pub role: Option<String>,
}

/// Every API token (admin only).
#[utoipa::path(get, path = "/tokens", tag = "tokens", responses((status = 200, body = Vec<TokenView>), (status = 403, body = ErrorBody)))]
pub async fn list_tokens(State(state): State<AppState>) -> ApiResult<ApiJson<Vec<TokenView>>> {
    let list = state.store.list_tokens().await?;
    Ok(ApiJson(
        list.into_iter()
            .map(|t| TokenView {
                id: t.id,
                name: t.name,
                role: t.role.as_str(),
                created_at: rfc3339(t.created_at),
                token: None,
            })
            .collect(),
    ))
}

/// Creates a token; the response is the only time it is shown.
#[utoipa::path(post, path = "/tokens", tag = "tokens", request_body = CreateToken,
    responses((status = 201, body = TokenView), (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn create_token(
    State(state): State<AppState>,
    ApiJson(body): ApiJson<CreateToken>,
) -> ApiResult<Response> {
    let role = match body.role.as_deref() {
        None | Some("read") => Role::Read,
        Some("admin") => Role::Admin,
        Some(other) => {
            return Err(ApiError::field(
                "role",
                format!("unknown role {other:?}; accepted: \"read\", \"admin\""),
            ));
        }
    };
    if body.name.trim().is_empty() || body.name.len() > 100 {
        return Err(ApiError::field("name", "must be 1 to 100 characters"));
    }
    let (t, secret) = state.store.create_token(&body.name, role).await?;
    if let Err(e) = state.tokens.refresh(&state.store).await {
        tracing::warn!(error = %e, "could not reload tokens");
    }
    tracing::info!(token_id = t.id, role = role.as_str(), "token created");
    let view = TokenView {
        id: t.id,
        name: t.name,
        role: t.role.as_str(),
        created_at: rfc3339(t.created_at),
        token: Some(secret.expose_secret().to_owned()),
    };
    Ok((StatusCode::CREATED, ApiJson(view)).into_response())
}

/// Revokes a token.
#[utoipa::path(delete, path = "/tokens/{id}", tag = "tokens",
    params(("id" = i64, Path, description = "Token id")),
    responses((status = 204), (status = 404, body = ErrorBody)))]
pub async fn delete_token(
    State(state): State<AppState>,
    Path(id): Path<i64>,
) -> ApiResult<StatusCode> {
    state.store.delete_token(id).await?;
    if let Err(e) = state.tokens.refresh(&state.store).await {
        tracing::warn!(error = %e, "could not reload tokens");
    }
    tracing::info!(token_id = id, "token revoked");
    Ok(StatusCode::NO_CONTENT)
}
