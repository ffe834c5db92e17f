//! The web UI at `/`: a status dashboard and an add-service wizard.
//!
//! Three static files (HTML, JS, CSS) are compiled into the binary with `include_str!`: no build
//! step, no CDN, no request to another origin. The shell holds no data, so it is served without
//! a token; the page asks for an API token and sends it as `Authorization: Bearer` on every API
//! call, so the data stays behind the same authentication as the API. A strict
//! Content-Security-Policy (no inline script or style, same-origin only, no framing) limits what
//! an injected string could do, and the script itself writes data with `textContent` only.

use axum::Router;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;

/// The page.
pub const INDEX_HTML: &str = include_str!("../ui/index.html");
/// The dashboard and wizard logic.
pub const APP_JS: &str = include_str!("../ui/app.js");
/// The styles.
pub const APP_CSS: &str = include_str!("../ui/app.css");

/// Sent with every UI file. `connect-src 'self'` keeps the API calls (and the token) on this
/// origin; `form-action 'none'` because every form is handled by script; `frame-ancestors
/// 'none'` against clickjacking of the Test and Save buttons.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; script-src 'self'; \
style-src 'self'; img-src 'self'; connect-src 'self'; base-uri 'none'; form-action 'none'; \
frame-ancestors 'none'";

/// `/`, `/ui/app.js` and `/ui/app.css`, without authentication, and `/favicon.ico` as 204 No
/// Content: browsers request it on their own, and a 401 there is only console noise.
pub fn routes<S: Clone + Send + Sync + 'static>() -> Router<S> {
    Router::new()
        .route(
            "/",
            get(|| async { asset("text/html; charset=utf-8", INDEX_HTML) }),
        )
        .route(
            "/ui/app.js",
            get(|| async { asset("text/javascript; charset=utf-8", APP_JS) }),
        )
        .route(
            "/ui/app.css",
            get(|| async { asset("text/css; charset=utf-8", APP_CSS) }),
        )
        .route(
            "/favicon.ico",
            get(|| async { axum::http::StatusCode::NO_CONTENT }),
        )
}

fn asset(content_type: &'static str, body: &'static str) -> Response {
    let mut resp = body.into_response();
    let h = resp.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CONTENT_SECURITY_POLICY),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    // The files change only with the binary; revalidating costs one small request.
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    resp
}
