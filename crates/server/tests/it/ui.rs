//! The web UI: embedded files (a page, a stylesheet, ES modules) served without a token, under a
//! strict CSP, that hold no secret, talk to nothing but this server's API, and import only
//! modules that are served and export what is imported.

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
    assert!(
        body.contains(r#"<script type="module" src="/ui/main.js">"#),
        "{body}"
    );
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
        "only the UI files are public"
    );
    app.finish().await;
}

#[tokio::test]
async fn assets_have_their_content_types() {
    let app = spawn_app(Db::Sqlite).await.unwrap();
    for asset in opsdeck_server::ui::ASSETS {
        let (status, h, body) = fetch(&app, asset.path).await;
        assert_eq!(status, StatusCode::OK, "{}", asset.path);
        let ty = if asset.path.ends_with(".css") {
            "text/css"
        } else {
            "text/javascript"
        };
        assert!(
            header(&h, CONTENT_TYPE).starts_with(ty),
            "{}: {:?}",
            asset.path,
            h.get(CONTENT_TYPE)
        );
        assert_strict_csp(&h);
        assert_eq!(body, asset.body, "{}", asset.path);
    }
    // Browsers fetch it unasked; it must not be a 401 nor leak anything.
    let (status, _, body) = fetch(&app, "/favicon.ico").await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert!(body.is_empty());
    app.finish().await;
}

/// Every UI file: the page and each asset, with its path.
fn all_files() -> Vec<(&'static str, &'static str)> {
    let mut v = vec![("/", opsdeck_server::ui::INDEX_HTML)];
    v.extend(opsdeck_server::ui::ASSETS.iter().map(|a| (a.path, a.body)));
    v
}

fn scripts() -> impl Iterator<Item = &'static opsdeck_server::ui::Asset> {
    opsdeck_server::ui::ASSETS
        .iter()
        .filter(|a| a.path.ends_with(".js"))
}

/// Resolves `./x.js` / `../x.js` against the importing module's URL path.
fn resolve(from: &str, spec: &str) -> String {
    let mut parts: Vec<&str> = from.split('/').collect();
    parts.pop();
    for seg in spec.split('/') {
        match seg {
            "." => {}
            ".." => {
                parts.pop();
            }
            s => parts.push(s),
        }
    }
    parts.join("/")
}

/// `import { a, b as c } from "./x.js";` statements of a module: (names, specifier).
fn imports(js: &str) -> Vec<(Vec<String>, String)> {
    let mut out = Vec::new();
    for (i, _) in js.match_indices("import ") {
        if i > 0 && !js[..i].ends_with('\n') {
            continue;
        }
        let stmt = &js[i..i + js[i..].find(';').unwrap()];
        let spec = stmt.rsplit('"').nth(1).unwrap().to_owned();
        let names = match (stmt.find('{'), stmt.find('}')) {
            (Some(a), Some(b)) => stmt[a + 1..b]
                .split(',')
                .map(|n| n.split(" as ").next().unwrap().trim().to_owned())
                .filter(|n| !n.is_empty())
                .collect(),
            _ => Vec::new(),
        };
        out.push((names, spec));
    }
    out
}

#[test]
fn every_module_import_is_served_and_exported() {
    let index = opsdeck_server::ui::INDEX_HTML;
    assert!(
        index.contains(r#"<script type="module" src="/ui/main.js"></script>"#),
        "{index}"
    );
    let by_path: std::collections::HashMap<&str, &str> =
        scripts().map(|a| (a.path, a.body)).collect();
    let mut seen = 0;
    for a in scripts() {
        for (names, spec) in imports(a.body) {
            assert!(
                spec.starts_with("./") || spec.starts_with("../"),
                "{}: import {spec:?} is not relative",
                a.path
            );
            let target = resolve(a.path, &spec);
            let body = by_path.get(target.as_str()).unwrap_or_else(|| {
                panic!("{} imports {target}, which is not in ui::ASSETS", a.path)
            });
            for n in names {
                let exported = ["function ", "async function ", "const ", "let ", "class "]
                    .iter()
                    .any(|kw| body.contains(&format!("export {kw}{n}")));
                assert!(
                    exported,
                    "{} imports {n} from {target}, which does not export it",
                    a.path
                );
                seen += 1;
            }
        }
    }
    assert!(seen > 30, "found only {seen} imported names");
    // Every module is reachable from main.js (an orphan would be dead weight in the binary).
    let mut reached = std::collections::HashSet::from(["/ui/main.js".to_owned()]);
    let mut todo = vec!["/ui/main.js".to_owned()];
    while let Some(p) = todo.pop() {
        for (_, spec) in imports(by_path[p.as_str()]) {
            let t = resolve(&p, &spec);
            if reached.insert(t.clone()) {
                todo.push(t);
            }
        }
    }
    for a in scripts() {
        assert!(reached.contains(a.path), "{} is never imported", a.path);
    }
}

#[test]
fn ui_makes_no_request_to_another_origin() {
    for (file, text) in all_files() {
        let lower = text.to_ascii_lowercase();
        for scheme in ["http://", "https://", "//cdn", "ws://", "wss://"] {
            // The one allowed mention: the SVG namespace, an identifier that is never fetched.
            let mentions = lower.matches(scheme).count();
            let namespace = lower.matches("\"http://www.w3.org/2000/svg\"").count();
            let allowed = if scheme == "http://" { namespace } else { 0 };
            assert_eq!(mentions, allowed, "{file} mentions {scheme}");
        }
        assert!(!text.contains("@import"), "{file} imports a stylesheet");
        assert!(!text.contains("url("), "{file} loads a resource from CSS");
    }
    // Every API path in the scripts is relative to this origin: a string literal that starts a
    // path starts with /api/v1/ (a literal after `+ ` or `(name, ` is the tail of such a path; a
    // lone "/" is the hash router's separator).
    let mut paths = 0;
    let mut fetches = 0;
    for a in scripts() {
        let js = a.body;
        for (i, _) in js.match_indices("\"/") {
            let rest = &js[i + 1..];
            assert!(
                rest.starts_with("/api/v1/")
                    || rest.starts_with("/\"")
                    || js[..i].ends_with("+ ")
                    || js[..i].ends_with(", "),
                "{}: unexpected path {:?}",
                a.path,
                &rest[..rest.len().min(40)]
            );
            paths += 1;
        }
        fetches += js.matches("fetch(").count();
    }
    assert!(
        paths >= 10,
        "expected the API calls in the scripts, found {paths}"
    );
    assert_eq!(
        fetches, 1,
        "one fetch, in api.js's api(), that adds the token"
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
    for a in scripts() {
        for sink in [
            "innerHTML",
            "outerHTML",
            "insertAdjacentHTML",
            "document.write",
            "eval(",
            "new Function",
            "localStorage.",
            "setAttribute(\"style\"",
            ".style.",
        ] {
            assert!(!a.body.contains(sink), "{} uses {sink}", a.path);
        }
    }
    let api = scripts().find(|a| a.path == "/ui/api.js").unwrap().body;
    assert!(
        api.contains("sessionStorage.setItem"),
        "token in sessionStorage"
    );
}

#[test]
fn ui_holds_no_secret() {
    for (file, text) in all_files() {
        for secret in [ADMIN, GOOD_TOKEN] {
            assert!(!text.contains(secret), "{file} contains a test secret");
        }
        // No API token (odk_ + its random part) pasted into the files: only the "odk_" hint.
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
