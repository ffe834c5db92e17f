//! Middleware every response passes through: request bodies read under a size and time limit
//! (413, 408), one JSON error shape for every non-2xx answer (including axum's own extractor
//! rejections and 405s), and `Cache-Control: no-store` + `X-Content-Type-Options: nosniff`.

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use http_body_util::{BodyExt, LengthLimitError, Limited};

use crate::error::{ApiError, ErrorBody};
use crate::serve::HttpLimits;

/// Reads the whole request body before the handler runs: at most `max_body_bytes` (413 beyond,
/// without reading the rest) within `body_timeout` (408). Handlers then parse from memory.
pub async fn read_body(State(limits): State<HttpLimits>, req: Request, next: Next) -> Response {
    let declared = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok());
    if declared.is_some_and(|n| n > limits.max_body_bytes as u64) {
        return ApiError::PayloadTooLarge(limits.max_body_bytes).into_response();
    }
    let (parts, body) = req.into_parts();
    let collected = tokio::time::timeout(
        limits.body_timeout,
        Limited::new(body, limits.max_body_bytes).collect(),
    )
    .await;
    let bytes = match collected {
        Err(_) => return ApiError::RequestTimeout(limits.body_timeout.as_secs()).into_response(),
        Ok(Err(e)) if e.downcast_ref::<LengthLimitError>().is_some() => {
            return ApiError::PayloadTooLarge(limits.max_body_bytes).into_response();
        }
        Ok(Err(e)) => {
            return ApiError::BadRequest(format!("cannot read the request body: {e}"))
                .into_response();
        }
        Ok(Ok(c)) => c.to_bytes(),
    };
    next.run(Request::from_parts(parts, Body::from(bytes)))
        .await
}

/// Error bodies larger than this are not read back into a message.
const MAX_PLAIN_ERROR: usize = 4096;

/// Turns every non-2xx answer that is not already our JSON error into one: axum's plain-text
/// extractor rejections keep their message; empty bodies (405) get the status's reason.
pub async fn json_errors(req: Request, next: Next) -> Response {
    let resp = next.run(req).await;
    let status = resp.status();
    if !(status.is_client_error() || status.is_server_error()) {
        return resp;
    }
    let is_json = resp
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"));
    if is_json {
        return resp;
    }
    let (mut parts, body) = resp.into_parts();
    let text = match Limited::new(body, MAX_PLAIN_ERROR).collect().await {
        Ok(c) => String::from_utf8_lossy(&c.to_bytes()).trim().to_owned(),
        Err(_) => String::new(),
    };
    let message = if text.is_empty() {
        match status {
            StatusCode::METHOD_NOT_ALLOWED => {
                "this route does not accept that method; see the Allow header and /api/v1/openapi.json".to_owned()
            }
            StatusCode::NOT_FOUND => "no such route; see /api/v1/openapi.json".to_owned(),
            _ => status
                .canonical_reason()
                .unwrap_or("request refused")
                .to_owned(),
        }
    } else {
        text
    };
    let body = ErrorBody {
        code: ApiError::code_for_status(status),
        message,
        details: Vec::new(),
    };
    let json = serde_json::to_vec(&body).unwrap_or_default();
    parts.headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    parts.headers.remove(header::CONTENT_LENGTH);
    Response::from_parts(parts, Body::from(json))
}

/// `nosniff` on everything; `no-store` unless the route chose its own caching (the UI's static
/// files revalidate). API answers carry tokens, secrets' set-flags and live status: never cache.
pub async fn security_headers(req: Request, next: Next) -> Response {
    let mut resp = next.run(req).await;
    let h = resp.headers_mut();
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    if !h.contains_key(header::CACHE_CONTROL) {
        h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    resp
}
