//! The web UI: three embedded files served without a token, under a strict CSP, that hold no
//! secret and talk to nothing but this server's API.

use reqwest::StatusCode;
use reqwest::header::{CONTENT_SECURITY_POLICY, CONTENT_TYPE};

use crate::support::{ADMIN, Db, GOOD_TOKEN, TestApp, spawn_app};

async fn fetch(app: &TestApp, path: &str) -> (StatusCode, reqwest::header::HeaderMap, String) {
    let resp = app
        .client
        .get(format!("{}{path}", app.base))
        .send()
        .await
        .unwrap();
    let status = resp.status();
    let headers = resp.headers().clone();
    (status, headers, resp.text().await.unwrap())
}

fn header(h: &reqwest::header::HeaderMap, name: reqwest::header::HeaderName) -> &str {
    h.get(&name)
        .unwrap_or_else(|| panic!("no {name} header"))
        .to_str()
        .unwrap()
}

fn assert_strict_csp(h: &reqwest::header::HeaderMap) {
    let csp = header(h, CONTENT_SECURITY_POLICY);
    for directive in [
        "default-src 'none'",
        "script-src 'self'",
        "style-src 'self'",
        "connect-src 'self'",
        "frame-ancestors 'none'",
        "base-uri 'none'",
    ] {
        assert!(csp.contains(directive), "CSP lacks {directive}: {csp}");
    }
    assert!(!csp.contains("unsafe-inline"), "{csp}");
    assert!(!csp.contains("unsafe-eval"), "{csp}");
    assert!(!csp.contains('*'), "wildcard source in {csp}");
    assert_eq!(
        header(h, reqwest::header::X_CONTENT_TYPE_OPTIONS),
        "nosniff"
    );
}

#[tokio::test]
async fn index_is_served_without_a_token_with_a_strict_csp() {
    let app = spawn_app(Db::Sqlite).await.unwrap();
    let (status, h, body) = fetch(&app, "/").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(
        header(&h, CONTENT_TYPE).starts_with("text/html"),
        "{:?}",
        h.get(CONTENT_TYPE)
    );
    assert_strict_csp(&h);
    assert!(body.contains(r#"<script src="/ui/app.js""#), "{body}");
    assert!(body.contains(r#"href="/ui/app.css""#), "{body}");
    assert_eq!(body, opsdeck_server::ui::INDEX_HTML);

    // The shell is public; the data is not.
    let status = app
        .call(reqwest::Method::GET, "/api/v1/status", None, None)
        .await;
    assert_eq!(status.status, StatusCode::UNAUTHORIZED);
    let unknown = app.get("/ui/nope").await;
    assert_eq!(unknown.status, StatusCode::NOT_FOUND, "{}", unknown.text);
    assert_eq!(
        app.call(reqwest::Method::GET, "/ui/nope", None, None)
            .await
            .status,
        StatusCode::UNAUTHORIZED,
        "only the three UI files are public"
    );
    app.finish().await;
}

#[tokio::test]
async fn assets_have_their_content_types() {
    let app = spawn_app(Db::Sqlite).await.unwrap();
    for (path, ty, embedded) in [
        ("/ui/app.js", "text/javascript", opsdeck_server::ui::APP_JS),
        ("/ui/app.css", "text/css", opsdeck_server::ui::APP_CSS),
    ] {
        let (status, h, body) = fetch(&app, path).await;
        assert_eq!(status, StatusCode::OK, "{path}");
        assert!(
            header(&h, CONTENT_TYPE).starts_with(ty),
            "{path}: {:?}",
            h.get(CONTENT_TYPE)
        );
        assert_strict_csp(&h);
        assert_eq!(body, embedded, "{path}");
    }
    // Browsers fetch it unasked; it must not be a 401 nor leak anything.
    let (status, _, body) = fetch(&app, "/favicon.ico").await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert!(body.is_empty());
    app.finish().await;
}

const ALL: [(&str, &str); 3] = [
    ("index.html", opsdeck_server::ui::INDEX_HTML),
    ("app.js", opsdeck_server::ui::APP_JS),
    ("app.css", opsdeck_server::ui::APP_CSS),
];

#[test]
fn ui_makes_no_request_to_another_origin() {
    for (file, text) in ALL {
        for scheme in ["http://", "https://", "//cdn", "ws://", "wss://"] {
            assert!(
                !text.to_ascii_lowercase().contains(scheme),
                "{file} mentions {scheme}"
            );
        }
        assert!(!text.contains("@import"), "{file} imports a stylesheet");
        assert!(!text.contains("url("), "{file} loads a resource from CSS");
    }
    // Every API path in the script is relative to this origin: a string that starts a path
    // starts with /api/v1/ (a literal after `+ ` is the tail of such a path, e.g. "/test").
    let js = opsdeck_server::ui::APP_JS;
    let mut paths = 0;
    for (i, _) in js.match_indices("\"/") {
        let rest = &js[i + 1..];
        assert!(
            rest.starts_with("/api/v1/") || js[..i].ends_with("+ "),
            "app.js: unexpected path {:?}",
            &rest[..rest.len().min(40)]
        );
        paths += 1;
    }
    assert!(
        paths >= 6,
        "expected the API calls in app.js, found {paths}"
    );
    assert_eq!(
        js.matches("fetch(").count(),
        1,
        "one fetch, in api(), that adds the token"
    );
}

#[test]
fn ui_has_no_inline_script_or_style_and_no_html_sinks() {
    let html = opsdeck_server::ui::INDEX_HTML;
    // CSP forbids these; keep the source consistent with it.
    for (i, _) in html.match_indices("<script") {
        let tag = &html[i..i + html[i..].find('>').unwrap()];
        assert!(tag.contains(" src=\"/ui/"), "inline script: {tag}");
    }
    assert!(!html.contains("<style"), "inline <style>");
    assert!(!html.contains(" style="), "inline style attribute");
    let lower = html.to_ascii_lowercase();
    for handler in [
        " onclick=",
        " onload=",
        " onsubmit=",
        " onchange=",
        " onerror=",
    ] {
        assert!(!lower.contains(handler), "inline handler {handler}");
    }
    let js = opsdeck_server::ui::APP_JS;
    for sink in [
        "innerHTML",
        "outerHTML",
        "insertAdjacentHTML",
        "document.write",
        "eval(",
        "new Function",
        "localStorage.",
    ] {
        assert!(!js.contains(sink), "app.js uses {sink}");
    }
    assert!(
        js.contains("sessionStorage.setItem"),
        "token in sessionStorage"
    );
}

#[test]
fn ui_holds_no_secret() {
    for (file, text) in ALL {
        for secret in [ADMIN, GOOD_TOKEN] {
            assert!(!text.contains(secret), "{file} contains a test secret");
        }
        // No API token (odk_ + its random part) pasted into the files: only the "odk_…" hint.
        for (i, _) in text.match_indices("odk_") {
            let tail: String = text[i + 4..].chars().take(8).collect();
            assert!(
                !tail.chars().all(|c| c.is_ascii_alphanumeric()),
                "{file} contains what looks like a token: odk_{tail}"
            );
        }
        assert!(!text.contains("Bearer ey"), "{file} contains a JWT");
    }
}

#[tokio::test]
async fn provider_schema_has_what_the_wizard_reads() {
    // The wizard builds its form from `schema.properties` / `schema.required`, secrets from
    // `x-secret`, and orders fields as in `fields`.
    let app = spawn_app(Db::Sqlite).await.unwrap();
    let r = app.get("/api/v1/providers/mock").await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let schema = &r.body["schema"];
    assert_eq!(schema["properties"]["token"]["x-secret"], true);
    assert_eq!(schema["properties"]["base_url"]["format"], "uri");
    assert!(
        schema["required"]
            .as_array()
            .unwrap()
            .iter()
            .any(|v| v == "token")
    );
    let names: Vec<&str> = r.body["fields"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["base_url", "token", "team"]);
    app.finish().await;
}
