//! `/session`: who the caller is, so a client (the web UI) can hide what its token may not do
//! before the user fills a form. It only describes the token; the server still enforces the role
//! on every write.

use std::collections::BTreeMap;

use axum::Extension;
use axum::extract::State;
use serde::Serialize;
use utoipa::ToSchema;

use crate::auth::Caller;
use crate::error::ErrorBody;
use crate::features::Feature;
use crate::json::ApiJson;
use crate::state::AppState;

/// What the presented token may do.
#[derive(Debug, Serialize, ToSchema)]
pub struct SessionView {
    /// `admin` (read and write, tokens) or `read` (GET routes only).
    #[schema(example = "admin")]
    pub role: &'static str,
    /// Which run-time features are on (`monitoring`, `alerts`, …), so a client hides the parts
    /// of a feature that is off.
    pub features: BTreeMap<&'static str, bool>,
}

/// The caller's role.
#[utoipa::path(get, path = "/session", tag = "session",
    responses((status = 200, body = SessionView), (status = 401, body = ErrorBody)))]
pub async fn session(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
) -> ApiJson<SessionView> {
    ApiJson(SessionView {
        role: caller.role.as_str(),
        features: Feature::ALL
            .into_iter()
            .map(|f| (f.name(), state.settings.features.enabled(f)))
            .collect(),
    })
}
