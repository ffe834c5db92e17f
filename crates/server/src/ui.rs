//! The web UI at `/`: sign-in, the status dashboard, a service page, the add-service wizard, the
//! edit form and the tokens page.
//!
//! Static files compiled into the binary with `include_str!`: one HTML shell, one stylesheet and
//! native ES modules (one per view plus shared `api`, `forms`, `charts`, …) — no build step, no
//! CDN, no request to another origin. The shell holds no data, so it is served without a token;
//! the page asks for an API token and sends it as `Authorization: Bearer` on every API call, so
//! the data stays behind the same authentication as the API. A strict Content-Security-Policy
//! (no inline script or style, same-origin only, no framing) limits what an injected string
//! could do, and the scripts write data with `textContent` only.

use axum::Router;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;

/// The page.
pub const INDEX_HTML: &str = include_str!("../ui/index.html");
/// The styles.
pub const APP_CSS: &str = include_str!("../ui/app.css");

/// One static file of the UI, served at `path` without a token.
#[derive(Debug, Clone, Copy)]
pub struct Asset {
    /// URL path, e.g. `/ui/main.js`.
    pub path: &'static str,
    /// `Content-Type` header.
    pub content_type: &'static str,
    /// The file.
    pub body: &'static str,
}

const JS: &str = "text/javascript; charset=utf-8";

macro_rules! module {
    ($file:literal) => {
        Asset {
            path: concat!("/ui/", $file),
            content_type: JS,
            body: include_str!(concat!("../ui/", $file)),
        }
    };
}

/// Every file under `/ui/`. A module missing here would be a 401 in the browser (it falls through
/// to the authenticated routes), which the static test of imports in `tests/it/ui.rs` catches.
pub const ASSETS: &[Asset] = &[
    Asset {
        path: "/ui/app.css",
        content_type: "text/css; charset=utf-8",
        body: APP_CSS,
    },
    module!("main.js"),
    module!("api.js"),
    module!("router.js"),
    module!("dom.js"),
    module!("format.js"),
    module!("notices.js"),
    module!("forms.js"),
    module!("charts.js"),
    module!("report.js"),
    module!("views/login.js"),
    module!("views/dashboard.js"),
    module!("views/service.js"),
    module!("views/wizard.js"),
    module!("views/edit.js"),
    module!("views/tokens.js"),
    module!("views/incidents.js"),
    module!("views/alerts.js"),
    module!("views/history.js"),
];

/// Sent with every UI file. `connect-src 'self'` keeps the API calls (and the token) on this
/// origin; `form-action 'none'` because every form is handled by script; `frame-ancestors
/// 'none'` against clickjacking of the Test and Save buttons.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; script-src 'self'; \
style-src 'self'; img-src 'self'; connect-src 'self'; base-uri 'none'; form-action 'none'; \
frame-ancestors 'none'";

/// `/` and every file in [`ASSETS`], without authentication, and `/favicon.ico` as 204 No
/// Content: browsers request it on their own, and a 401 there is only console noise.
pub fn routes<S: Clone + Send + Sync + 'static>() -> Router<S> {
    let mut router = Router::new()
        .route(
            "/",
            get(|| async { asset("text/html; charset=utf-8", INDEX_HTML) }),
        )
        .route(
            "/favicon.ico",
            get(|| async { axum::http::StatusCode::NO_CONTENT }),
        );
    for a in ASSETS {
        let (content_type, body) = (a.content_type, a.body);
        router = router.route(
            a.path,
            get(move || async move { asset(content_type, body) }),
        );
    }
    router
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
