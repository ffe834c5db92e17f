//! `/providers`: the registered providers and their config schemas.

use axum::extract::{Path, State};
use opsdeck_core::ProviderDescriptor;
use serde::Serialize;
use serde_json::Value;
use utoipa::ToSchema;

use crate::error::{ApiError, ApiResult};
use crate::json::ApiJson;
use crate::state::AppState;

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
    responses((status = 200, body = Vec<ProviderView>)))]
pub async fn list_providers(State(state): State<AppState>) -> ApiJson<Vec<ProviderView>> {
    ApiJson(
        state
            .checks
            .factory()
            .providers()
            .map(|d| provider_view(d, false))
            .collect(),
    )
}

/// One provider with its JSON Schema.
#[utoipa::path(get, path = "/providers/{id}", tag = "providers",
    params(("id" = String, Path, description = "Provider id")),
    responses((status = 200, body = ProviderView)))]
pub async fn get_provider(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> ApiResult<ApiJson<ProviderView>> {
    let d = state.checks.factory().descriptor(&id).ok_or_else(|| {
        ApiError::NotFound(format!(
            "provider {id:?} not found; GET /api/v1/providers lists them"
        ))
    })?;
    Ok(ApiJson(provider_view(d, true)))
}
