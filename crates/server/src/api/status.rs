//! `/status`: the pre-rendered dashboard document.

use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};

use crate::snapshot::StatusDoc;
use crate::state::AppState;

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
