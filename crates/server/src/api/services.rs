//! `/services`: create, read, update and delete stored services.

use axum::extract::{Path, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use opsdeck_core::config::{RawConfig, ServiceSpec};
use opsdeck_core::{ProviderDescriptor, ServiceFactory};
use opsdeck_store::{ServiceData, ServiceRecord};
use secrecy::SecretString;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};
use std::collections::BTreeMap;
use utoipa::ToSchema;

use crate::checks::{config_problems, spec_of};
use crate::error::{ApiError, ApiResult, ErrorBody};
use crate::json::ApiJson;
use crate::snapshot::rfc3339;
use crate::state::AppState;
use crate::validate::{self, Problems};

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

/// A stored service as the API shows it (also rendered into the cached service list).
pub(crate) fn service_view(factory: &ServiceFactory, rec: &ServiceRecord) -> ServiceView {
    let mut config = rec.config.clone();
    let set: Vec<&str> = rec.secret_fields().collect();
    let secret_names: Vec<&str> = match factory.descriptor(&rec.provider) {
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
    #[serde(default, deserialize_with = "crate::json::opt_int")]
    pub interval_secs: Option<i64>,
}

/// `PATCH /services/{name}` body.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PatchService {
    /// The version you read; a stale one is refused with 409.
    #[serde(deserialize_with = "crate::json::int")]
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
    #[serde(default, deserialize_with = "crate::json::some_opt_int")]
    #[schema(value_type = Option<i64>)]
    pub interval_secs: Option<Option<i64>>,
}

pub(crate) fn descriptor(
    state: &AppState,
    provider: &str,
) -> ApiResult<&'static ProviderDescriptor> {
    state
        .checks
        .factory()
        .descriptor(provider)
        .ok_or_else(|| ApiError::UnknownProvider(provider.to_owned()))
}

/// A stored service by its URL name. A name that cannot be a service name is a 404 without a
/// database round trip (and odd bytes never reach the database).
pub(crate) async fn load(state: &AppState, name: &str) -> ApiResult<ServiceRecord> {
    if opsdeck_core::config::check_service_name(name).is_err() {
        return Err(ApiError::NotFound(format!("service {name:?} not found")));
    }
    Ok(state.store.get_service(name).await?)
}

/// Every problem of a write at once: the API's own limits, then the provider's validation
/// (build: no network call) unless a value is already too large or has control characters.
fn validate_write(state: &AppState, mut problems: Problems, spec: &ServiceSpec) -> ApiResult<()> {
    validate::config(&mut problems, &spec.config.0);
    if let Err(e) = state.checks.factory().build(spec) {
        match e {
            opsdeck_core::registry::BuildError::Config(errs) => {
                problems.0.extend(config_problems(&errs));
            }
            opsdeck_core::registry::BuildError::Provider { source, .. } => {
                let named = crate::checks::provider_problems(&source);
                if problems.is_empty() {
                    return Err(ApiError::InvalidConfig {
                        message: source.message().to_owned(),
                        details: named,
                    });
                }
                if named.is_empty() {
                    problems.add("config", source.message());
                } else {
                    problems.0.extend(named);
                }
            }
        }
    }
    problems_error(problems)
}

/// `Ok` without problems; all config problems → `invalid_config`, anything else →
/// `invalid_body` listing everything.
pub(crate) fn problems_error(problems: Problems) -> ApiResult<()> {
    if problems.is_empty() {
        return Ok(());
    }
    let message = problems
        .0
        .iter()
        .map(|d| format!("{}: {}", d.field, d.message))
        .collect::<Vec<_>>()
        .join("; ");
    if problems.0.iter().all(|p| p.field.starts_with("config")) {
        Err(ApiError::InvalidConfig {
            message,
            details: problems.0,
        })
    } else {
        Err(ApiError::InvalidBody {
            message,
            details: problems.0,
        })
    }
}

/// Splits a validated config into non-secret fields and secrets (core's one rule).
fn split(
    d: &ProviderDescriptor,
    config: Map<String, Value>,
) -> (Map<String, Value>, BTreeMap<String, SecretString>) {
    let split = opsdeck_core::config::split_secrets(d, RawConfig(config));
    (split.plain, split.secrets)
}

fn is_keep_marker(v: &Value) -> bool {
    v.as_object()
        .is_some_and(|o| o.len() == 1 && o.get("set") == Some(&Value::Bool(true)))
}

/// Every service, sorted by name (served from the cached view, like `/status`).
#[utoipa::path(get, path = "/services", tag = "services",
    responses((status = 200, body = Vec<ServiceView>,
        headers(("ETag" = String, description = "Validator for If-None-Match"))),
        (status = 304, description = "Not modified since the ETag sent in If-None-Match")))]
pub async fn list_services(
    State(state): State<AppState>,
    headers: axum::http::HeaderMap,
) -> Response {
    super::status::serve_rendered(&state.snapshot.services(), &headers)
}

/// One service.
#[utoipa::path(get, path = "/services/{name}", tag = "services",
    params(("name" = String, Path, description = "Service name")),
    responses((status = 200, body = ServiceView), (status = 404, body = ErrorBody)))]
pub async fn get_service(
    State(state): State<AppState>,
    Path(name): Path<String>,
) -> ApiResult<ApiJson<ServiceView>> {
    let rec = load(&state, &name).await?;
    Ok(ApiJson(service_view(state.checks.factory(), &rec)))
}

/// Creates a service (validated, no network call).
#[utoipa::path(post, path = "/services", tag = "services", request_body = CreateService,
    responses((status = 201, body = ServiceView), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn create_service(
    State(state): State<AppState>,
    ApiJson(body): ApiJson<CreateService>,
) -> ApiResult<Response> {
    // Core checks the name, provider, tags, interval, value sizes and the provider's fields
    // (one validation for the file and the API); the server adds only what is about text it
    // stores (control characters).
    let mut problems = Problems::default();
    validate::tags(&mut problems, &body.tags);
    let mut spec = ServiceSpec::new(
        body.name.clone(),
        body.provider.clone(),
        RawConfig(body.config.clone()),
    );
    spec.tags = body.tags.clone();
    spec.enabled = body.enabled;
    spec.interval = validate::interval_of(body.interval_secs);
    let known = descriptor(&state, &body.provider);
    match (validate_write(&state, problems, &spec), known) {
        // An unknown provider alone keeps its own error code (`unknown_provider`).
        (Err(ApiError::InvalidBody { details, .. }), Err(unknown))
            if details.iter().all(|d| d.field == "provider") =>
        {
            return Err(unknown);
        }
        (Err(e), _) => return Err(e),
        (Ok(()), _) => {}
    }
    let d = descriptor(&state, &body.provider)?;
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
        ApiJson(service_view(state.checks.factory(), &rec)),
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
    let rec = load(&state, &name).await?;
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
    let mut problems = Problems::default();
    if let Some(tags) = &body.tags {
        validate::tags(&mut problems, tags);
    }
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
    let mut spec = ServiceSpec::new(
        rec.name.clone(),
        rec.provider.clone(),
        RawConfig(merged.clone()),
    );
    spec.tags = tags.clone();
    spec.enabled = enabled;
    spec.interval = validate::interval_of(interval);
    validate_write(&state, problems, &spec)?;
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
    state.checks.forget(updated.id);
    tracing::info!(service = %name, version = updated.version, "service updated");
    state.refresh_views().await;
    Ok(ApiJson(service_view(state.checks.factory(), &updated)))
}

/// Deletes a service and its history.
#[utoipa::path(delete, path = "/services/{name}", tag = "services",
    params(("name" = String, Path, description = "Service name")),
    responses((status = 204), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn delete_service(
    State(state): State<AppState>,
    Path(name): Path<String>,
) -> ApiResult<StatusCode> {
    let rec = load(&state, &name).await?;
    if rec.provisioned {
        return Err(ApiError::Provisioned(name));
    }
    state.store.delete_service(&name).await?;
    state.checks.forget(rec.id);
    tracing::info!(service = %name, "service deleted");
    state.refresh_views().await;
    Ok(StatusCode::NO_CONTENT)
}
