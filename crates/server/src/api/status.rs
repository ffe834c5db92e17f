//! `/status`: the pre-rendered dashboard document.

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};

use crate::snapshot::{Rendered, StatusDoc};
use crate::state::AppState;

/// Every service with its last report (the dashboard).
#[utoipa::path(get, path = "/status", tag = "status",
    responses((status = 200, body = StatusDoc,
        headers(("ETag" = String, description = "Validator for If-None-Match"))),
        (status = 304, description = "Not modified since the ETag sent in If-None-Match")))]
pub async fn status(State(state): State<AppState>, headers: HeaderMap) -> Response {
    serve_rendered(&state.snapshot.status(), &headers)
}

/// A pre-rendered JSON view with `If-None-Match` (304) and `Accept-Encoding: gzip`.
pub(crate) fn serve_rendered(s: &Rendered, headers: &HeaderMap) -> Response {
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
        ([json, etag, vary, enc], s.gzip.clone()).into_response()
    } else {
        ([json, etag, vary], s.plain.clone()).into_response()
    }
}
