//! `/tokens`: API tokens (admin only).

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use opsdeck_store::Role;
use secrecy::ExposeSecret;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::error::ApiResult;
use crate::json::ApiJson;
use crate::snapshot::rfc3339;
use crate::state::AppState;
use crate::validate::{self, Problems};

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
#[utoipa::path(get, path = "/tokens", tag = "tokens", responses((status = 200, body = Vec<TokenView>)))]
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
    responses((status = 201, body = TokenView)))]
pub async fn create_token(
    State(state): State<AppState>,
    ApiJson(body): ApiJson<CreateToken>,
) -> ApiResult<Response> {
    let mut problems = Problems::default();
    validate::token_name(&mut problems, &body.name);
    let role = match body.role.as_deref() {
        None | Some("read") => Role::Read,
        Some("admin") => Role::Admin,
        Some(other) => {
            problems.add(
                "role",
                format!("unknown role {other:?}; accepted: \"read\", \"admin\""),
            );
            Role::Read
        }
    };
    super::services::problems_error(problems)?;
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
    responses((status = 204, description = "Revoked")))]
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
