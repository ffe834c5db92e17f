//! `/services`: create, read, update and delete stored services.

use axum::extract::{Path, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use opsdeck_core::ProviderDescriptor;
use opsdeck_core::config::{RawConfig, ServiceSpec, check_service_name};
use opsdeck_store::{ServiceData, ServiceRecord};
use secrecy::SecretString;
use serde::{Deserialize, Deserializer, Serialize};
use serde_json::{Map, Value, json};
use std::collections::BTreeMap;
use utoipa::ToSchema;

use crate::error::{ApiError, ApiResult, ErrorBody};
use crate::json::ApiJson;
use crate::runtime::{build, spec_of};
use crate::snapshot::rfc3339;
use crate::state::AppState;

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

pub(crate) fn check_name(name: &str) -> ApiResult<()> {
    check_service_name(name).map_err(|m| ApiError::field("name", m))
}

pub(crate) fn descriptor(
    state: &AppState,
    provider: &str,
) -> ApiResult<&'static ProviderDescriptor> {
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
    let mut spec = ServiceSpec::new(&body.name, &body.provider, RawConfig(body.config.clone()));
    spec.tags = body.tags.clone();
    spec.enabled = body.enabled;
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
    let mut spec = ServiceSpec::new(&rec.name, &rec.provider, RawConfig(merged.clone()));
    spec.tags = tags.clone();
    spec.enabled = enabled;
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
