//! `/session`: who the caller is, so a client (the web UI) can hide what its token may not do
//! before the user fills a form. It only describes the token; the server still enforces the role
//! on every write.

use axum::Extension;
use serde::Serialize;
use utoipa::ToSchema;

use crate::auth::Caller;
use crate::error::ErrorBody;
use crate::json::ApiJson;

/// What the presented token may do.
#[derive(Debug, Serialize, ToSchema)]
pub struct SessionView {
    /// `admin` (read and write, tokens) or `read` (GET routes only).
    #[schema(example = "admin")]
    pub role: &'static str,
}

/// The caller's role.
#[utoipa::path(get, path = "/session", tag = "session",
    responses((status = 200, body = SessionView), (status = 401, body = ErrorBody)))]
pub async fn session(Extension(caller): Extension<Caller>) -> ApiJson<SessionView> {
    ApiJson(SessionView {
        role: caller.role.as_str(),
    })
}
