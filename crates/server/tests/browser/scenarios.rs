//! The scenarios of issue 8, each in a fresh browser against a fresh server.

use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::app::{self, ADMIN, App, BAD, GOOD, ROTATED, requests_with};
use crate::driver::{self, Browser};
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

async fn setup() -> Option<(App, Browser)> {
    let app = app::start().await;
    match driver::start(&app.base).await {
        Some(b) => Some((app, b)),
        None => {
            app.finish().await;
            None
        }
    }
}

async fn sign_in(b: &Browser, token: &str) {
    b.goto("/").await;
    b.fill("#token-input", token).await;
    b.click_text("Sign in").await;
    b.visible("#dashboard-title").await;
}

/// A new user: sign in, add a GitHub service through the wizard (a bad token first), see it
/// connected on the dashboard without a reload, find its page, metrics and history, edit a
/// non-secret field keeping the token, disable it, delete it.
#[tokio::test]
async fn new_user_adds_tests_edits_and_deletes_a_service() {
    let Some((app, b)) = setup().await else {
        return;
    };
    let gh = app.github.uri();

    // ----- sign in: a wrong token is refused on the form, the right one opens the dashboard.
    b.goto("/").await;
    b.visible("#token-input").await;
    assert_eq!(b.focused().await, "token-input");
    let help = b.text("#token-help").await;
    assert!(
        help.contains("printed an admin token once") && help.contains("OPSDECK_ADMIN_TOKEN"),
        "{help}"
    );
    b.shot("sign-in").await;
    b.fill("#token-input", "odk_notAValidToken").await;
    b.click_text("Sign in").await;
    b.text_contains("#token-error", "did not accept this token")
        .await;
    assert_eq!(
        b.attr("#token-input", "aria-invalid").await.as_deref(),
        Some("true")
    );
    b.fill("#token-input", ADMIN).await;
    b.click_text("Sign in").await;
    b.visible("#dashboard-title").await;
    assert_eq!(
        b.focused().await,
        "dashboard-title",
        "focus moves to the page after sign-in"
    );
    assert_eq!(b.text("#role").await, "Admin");
    b.text_contains(".view-dashboard .empty", "No services yet")
        .await;

    // ----- wizard step 1: providers as cards by category, with a search box.
    b.click("#nav-add").await;
    b.visible("#provider-search").await;
    b.visible("[data-provider=github]").await;
    assert_eq!(
        b.attr("#nav-add", "aria-current").await.as_deref(),
        Some("page")
    );
    // Azure OpenAI has a card of its own among the AI providers.
    b.visible("[data-provider=azure_openai]").await;
    let groups = b.text("#step-1").await;
    for heading in ["DEVELOPMENT", "AI", "BILLING"] {
        assert!(groups.contains(heading), "category {heading} in\n{groups}");
    }
    b.shot_fold("wizard-1-provider").await;
    b.fill("#provider-search", "git").await;
    b.until(
        "the search to narrow the cards",
        "return document.querySelector('[data-provider=stripe]') === null",
    )
    .await;
    b.visible("[data-provider=github]").await;
    b.fill("#provider-search", "").await;
    b.visible("[data-provider=stripe]").await;
    b.click("[data-provider=github]").await;

    // ----- step 2: human labels with the key as secondary text, code in help rendered as code.
    b.visible("#config-form").await;
    b.text_contains("#step-2-title", "Configure GitHub").await;
    assert_eq!(b.focused().await, "step-2-title");
    let form = b.text("#config-form").await;
    assert!(
        form.contains("Access token") && form.contains("Base URL"),
        "{form}"
    );
    assert!(
        !form.contains('`'),
        "help text shows raw backticks:\n{form}"
    );
    assert!(
        b.exists("#config-form .help code").await,
        "inline code rendered as <code>"
    );
    assert!(
        b.exists("#config-form code.key").await,
        "keys shown as secondary text"
    );
    assert_eq!(
        b.attr("[data-field=token]", "type").await.as_deref(),
        Some("password")
    );
    // GitHub App credentials are offered beside the token, the private key masked.
    assert!(
        form.contains("GitHub App ID") && form.contains("GitHub App installation ID"),
        "{form}"
    );
    assert_eq!(
        b.attr("[data-field=private_key]", "type").await.as_deref(),
        Some("password")
    );
    assert_eq!(
        b.attr("[data-field=base_url]", "placeholder")
            .await
            .as_deref(),
        Some("https://api.github.com"),
        "defaults as placeholders"
    );

    // No credentials at all (GitHub takes a token or GitHub App fields, so no single field is
    // required): the server refuses the config and says what to set; nothing reaches the vendor.
    b.click("#wizard-test").await;
    let refused = b.text_contains("#wizard-result", "No credentials").await;
    assert!(refused.contains("installation_id"), "{refused}");
    assert_eq!(app.github.received_requests().await.unwrap().len(), 0);
    // The server names the field that is missing, so the form marks it; settings it refused
    // cannot go on to be saved.
    assert!(b.exists("[data-fix=token]").await, "{refused}");
    assert!(b.exists("#wizard-continue:disabled").await);
    assert_eq!(
        b.attr("[data-field=token]", "aria-invalid")
            .await
            .as_deref(),
        Some("true")
    );
    b.click_text("Back to settings").await;
    b.visible("#config-form").await;
    assert!(b.exists("#step-2:not([hidden])").await);

    // ----- step 3 with a bad token: invalid credentials, token field marked, focus on result.
    b.fill("[data-field=base_url]", &gh).await;
    b.fill("[data-field=repos]", "acme/api").await;
    b.fill("[data-field=token]", BAD).await;
    b.click("#wizard-test").await;
    b.text_contains("#wizard-result", "Invalid credentials")
        .await;
    assert_eq!(
        b.focused().await,
        "wizard-result",
        "focus moves to the test result"
    );
    assert_eq!(
        b.attr("[data-field=token]", "aria-invalid")
            .await
            .as_deref(),
        Some("true")
    );
    assert!(requests_with(&app.github, BAD).await >= 1);
    b.shot("wizard-3-test-failed").await;

    // Saving a failing config asks first; "Go back" saves nothing.
    b.click("#wizard-continue").await;
    b.visible("#save-form").await;
    b.text_contains("#test-summary", "last test failed").await;
    b.click("#wizard-save").await;
    b.text_contains("dialog[open]", "Save without a passing test?")
        .await;
    b.click_text("Go back").await;
    b.until(
        "the dialog to close",
        "return document.querySelector('dialog[open]') === null",
    )
    .await;
    let (_, list) = app.call(Method::GET, "/api/v1/services", ADMIN, None).await;
    assert_eq!(list, json!([]), "nothing saved");

    // "Fix token" goes back to the settings with the field marked and focused; values kept.
    b.click_text("Back").await;
    b.visible("#wizard-result").await;
    b.click("[data-fix=token]").await;
    b.visible("#config-form").await;
    assert_eq!(
        b.js("return document.activeElement.dataset.field", vec![])
            .await,
        json!("token")
    );
    let marked = b.text("#config-form").await;
    assert!(
        marked.contains("did not accept this access token"),
        "{marked}"
    );
    assert_eq!(b.value("[data-field=base_url]").await, gh);
    b.shot("wizard-2-settings").await;

    // Switching provider keeps what was typed for each.
    b.click_text("Back").await;
    b.click("[data-provider=stripe]").await;
    b.text_contains("#step-2-title", "Configure Stripe").await;
    b.fill("[data-field=secret_key]", "rk_test_typed").await;
    b.click_text("Back").await;
    b.click("[data-provider=github]").await;
    b.text_contains("#step-2-title", "Configure GitHub").await;
    assert_eq!(b.value("[data-field=base_url]").await, gh);
    assert_eq!(b.value("[data-field=token]").await, BAD);
    b.click_text("Back").await;
    b.click("[data-provider=stripe]").await;
    assert_eq!(b.value("[data-field=secret_key]").await, "rk_test_typed");
    b.click_text("Back").await;
    b.click("[data-provider=github]").await;

    // ----- fixed: connected, with the details of the credentials.
    b.fill("[data-field=token]", GOOD).await;
    b.click("#wizard-test").await;
    let result = b.text_contains("#wizard-result", "Connected").await;
    assert!(result.contains("octocat"), "{result}");
    assert!(
        result.contains("repo") && result.contains("4,987 of 5,000"),
        "{result}"
    );
    assert!(
        result.contains("in 44 days") || result.contains("in 45 days"),
        "{result}"
    );
    assert_eq!(
        b.attr("[data-field=token]", "aria-invalid").await,
        None,
        "a passing test clears the mark"
    );
    b.shot("wizard-3-test").await;

    // ----- step 4: name (suggested), tags, interval; save; the dashboard shows it connected.
    b.click("#wizard-continue").await;
    b.visible("#save-form").await;
    assert_eq!(b.focused().await, "step-4-title");
    b.text_contains("#test-summary", "Tested: connected as octocat")
        .await;
    let name_input = "#save-form input[maxlength='64']";
    assert_eq!(b.value(name_input).await, "github", "a name is suggested");
    b.fill(name_input, "gh-main").await;
    b.fill("#save-form .field:nth-of-type(2) input", "platform, prod")
        .await;
    b.shot("wizard-4-save").await;
    b.js("window.__noReload = 42;", vec![]).await;
    b.click("#wizard-save").await;
    b.visible("#dashboard-title").await;
    b.text_contains("tr[data-service='gh-main']", "Connected")
        .await;
    b.text_contains(".view-dashboard .notices", "Saved gh-main (connected)")
        .await;
    assert_eq!(
        b.js("return window.__noReload", vec![]).await,
        json!(42),
        "the dashboard updated without a reload"
    );
    assert_eq!(
        b.focused().await,
        "dashboard-title",
        "focus moves after save"
    );

    // The server refuses a config without credentials too, naming what to set.
    let (status, body) = app
        .call(
            Method::POST,
            "/api/v1/services",
            ADMIN,
            Some(json!({"name": "no-token", "provider": "github", "config": {}})),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert!(
        body["message"]
            .as_str()
            .is_some_and(|m| m.contains("`token`") && m.contains("`installation_id`")),
        "{body}"
    );

    // ----- a dashboard with more services: counts filter, search, URL keeps the filter.
    app.populate().await;
    b.click_text("Refresh").await;
    b.visible("tr[data-service='ghe-internal']").await;
    b.shot("dashboard").await;
    b.click("[data-status=failed]").await;
    b.until(
        "only failed services",
        "return document.querySelectorAll('#services tbody tr').length === 2",
    )
    .await;
    assert!(
        b.js("return location.hash", vec![])
            .await
            .as_str()
            .unwrap()
            .contains("status=failed")
    );
    b.click("[data-status=failed]").await;
    // Sortable columns: slowest first, kept in the URL.
    b.click("button[data-sort=latency]").await;
    b.until(
        "the slowest service first",
        "return document.querySelector('#services tbody tr').dataset.service === 'ghe-internal'",
    )
    .await;
    assert_eq!(
        b.attr("th:has(button[data-sort=latency])", "aria-sort")
            .await
            .as_deref(),
        Some("descending")
    );
    assert!(
        b.js("return location.hash", vec![])
            .await
            .as_str()
            .unwrap()
            .contains("sort=latency")
    );
    b.fill("#filter-q", "oss").await;
    b.until(
        "the search to find gh-oss only",
        "return document.querySelectorAll('#services tbody tr').length === 1",
    )
    .await;
    b.click_text("Clear filters").await;

    // ----- the service page: status, details, metrics, recent checks (a few more of them, as
    // the scheduler would have run).
    app.test("gh-main").await;
    app.set_token("gh-main", BAD).await;
    app.test("gh-main").await;
    app.set_token("gh-main", GOOD).await;
    app.test("gh-main").await;
    app.test("gh-main").await;
    app.test("gh-main").await;
    b.click("tr[data-service='gh-main'] th a").await;
    b.visible("#service-title").await;
    assert_eq!(b.focused().await, "service-title");
    b.text_contains("#status", "Connected").await;
    let details = b.text_contains("#details", "Scopes").await;
    assert!(
        details.contains("4,987 of 5,000 requests left"),
        "{details}"
    );
    assert!(details.contains("Credentials expire"), "{details}");
    let metrics = b.text_contains("#metrics", "Open issues").await;
    assert!(metrics.contains("Open pull requests"), "{metrics}");
    assert!(metrics.contains("acme/api"), "{metrics}");
    b.text_contains("#history", "Recent checks").await;
    b.visible("#history table.checks").await;
    b.shot("service").await;

    b.click("#action-test").await;
    b.text_contains(".view-service .notices", "Tested gh-main: connected")
        .await;
    b.until(
        "seven checks in the history",
        "return document.querySelectorAll('#history table.checks tbody tr').length === 7",
    )
    .await;
    assert_eq!(
        b.focused().await,
        "status",
        "focus moves to the result after a test"
    );

    // ----- edit a non-secret field, keep the token.
    let good_before = requests_with(&app.github, GOOD).await;
    b.click("#action-edit").await;
    b.visible("#edit-form").await;
    assert_eq!(
        b.attr("[data-field=token]", "placeholder").await.as_deref(),
        Some("Set — leave empty to keep")
    );
    assert_eq!(
        b.value("[data-field=token]").await,
        "",
        "the secret never comes back"
    );
    b.fill("[data-field=max_repos]", "20").await;
    b.click("#edit-test").await;
    b.text_contains("#edit-result", "Connected").await;
    assert_eq!(b.focused().await, "edit-result");
    assert!(
        requests_with(&app.github, GOOD).await > good_before,
        "the stored token was used for the test"
    );
    b.shot("edit").await;
    b.click("#edit-save").await;
    b.visible("#service-title").await;
    b.text_contains(".view-service .notices", "Saved the changes to gh-main")
        .await;
    let config = b.text_contains("#config", "20").await;
    assert!(config.contains("set (stored encrypted)"), "{config}");
    let (_, svc) = app
        .call(Method::GET, "/api/v1/services/gh-main", ADMIN, None)
        .await;
    assert_eq!(svc["config"]["max_repos"], 20);
    assert_eq!(svc["config"]["token"], json!({"set": true}));

    // ----- later, the token is rotated: replace it in the edit form, test, save.
    b.click("#action-edit").await;
    b.visible("#edit-form").await;
    b.fill("[data-field=token]", ROTATED).await;
    b.click("#edit-test").await;
    b.text_contains("#edit-result", "Connected").await;
    assert!(
        requests_with(&app.github, ROTATED).await >= 1,
        "the new token was tested"
    );
    b.click("#edit-save").await;
    b.text_contains(".view-service .notices", "tested it: connected")
        .await;
    let (_, svc) = app
        .call(Method::GET, "/api/v1/services/gh-main", ADMIN, None)
        .await;
    assert_eq!(svc["config"]["token"], json!({"set": true}));
    let rotated_before = requests_with(&app.github, ROTATED).await;
    app.test("gh-main").await;
    assert!(
        requests_with(&app.github, ROTATED).await > rotated_before,
        "the stored token is the new one"
    );

    // ----- disable, then delete (the confirmation names the service).
    b.click("#action-toggle").await;
    b.text_contains(".view-service .notices", "Disabled gh-main")
        .await;
    b.text_contains("#action-toggle", "Enable").await;
    let (_, svc) = app
        .call(Method::GET, "/api/v1/services/gh-main", ADMIN, None)
        .await;
    assert_eq!(svc["enabled"], false);
    b.click("#action-delete").await;
    b.text_contains("dialog[open]", "Delete gh-main?").await;
    b.click_text("Delete gh-main").await;
    b.visible("#dashboard-title").await;
    b.text_contains(".view-dashboard .notices", "Deleted gh-main.")
        .await;
    assert!(!b.exists("tr[data-service='gh-main']").await);
    let (status, _) = app
        .call(Method::GET, "/api/v1/services/gh-main", ADMIN, None)
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    // The refused sign-in and the test without credentials are the only error answers the
    // browser saw.
    b.assert_clean(&[
        "/api/v1/session - Failed to load resource: the server responded with a status of 401",
        "/api/v1/test - Failed to load resource: the server responded with a status of 422",
    ])
    .await;
    b.close().await;
    app.finish().await;
}

/// A read-only token sees no write control, is told why, and the server still refuses.
#[tokio::test]
async fn read_only_token_sees_no_write_controls() {
    let Some((app, b)) = setup().await else {
        return;
    };
    app.populate().await;
    let read = app.read_token().await;
    sign_in(&b, &read).await;
    assert_eq!(b.text("#role").await, "Read-only");
    b.visible("tr[data-service='gh-platform']").await;
    for hidden in ["#nav-add", "#nav-tokens"] {
        assert_eq!(
            b.js(
                &format!("return document.querySelector('{hidden}').offsetParent === null"),
                vec![]
            )
            .await,
            json!(true),
            "{hidden} shown to a read-only token"
        );
    }
    let buttons = b
        .js(
            "return [...document.querySelectorAll('main button, main a.button')].filter(e => e.offsetParent !== null).map(e => e.innerText.trim())",
            vec![],
        )
        .await;
    for write in ["Test", "Test all", "Add service"] {
        assert!(
            !buttons.as_array().unwrap().iter().any(|t| t == write),
            "{write} offered to a read-only token: {buttons}"
        );
    }
    b.text_contains(".view-dashboard", "gh-platform").await;

    b.click("tr[data-service='gh-platform'] th a").await;
    b.visible("#service-title").await;
    b.text_contains("#readonly-note", "Read-only token").await;
    for id in [
        "#action-test",
        "#action-edit",
        "#action-toggle",
        "#action-delete",
        "#collect-now",
    ] {
        assert!(!b.exists(id).await, "{id} shown to a read-only token");
    }
    b.text_contains("#metrics", "Open issues").await;
    b.shot("service-read-only").await;
    for (route, text) in [
        ("#/new", "needs an admin token"),
        ("#/services/gh-platform/edit", "needs an admin token"),
        ("#/tokens", "Only admin tokens"),
    ] {
        b.js(&format!("location.hash = '{route}';"), vec![]).await;
        b.text_contains("#readonly-note", text).await;
        assert!(!b.exists("main form").await, "{route} shows a form");
    }
    // The server enforces it, whatever the page shows.
    let (status, _) = app
        .call(
            Method::POST,
            "/api/v1/services/gh-platform/test",
            &read,
            None,
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    b.assert_clean(&[]).await;
    b.close().await;
    app.finish().await;
}

/// At 390 px wide the page never scrolls sideways, and the header keeps "Sign out" in view.
#[tokio::test]
async fn phone_width_has_no_horizontal_scroll() {
    let Some((app, b)) = setup().await else {
        return;
    };
    app.populate().await;
    b.viewport(390, 844).await;
    sign_in(&b, ADMIN).await;
    b.visible("tr[data-service='gh-oss']").await;
    let check = |what: &'static str| {
        let b = &b;
        async move {
            let (doc, vp) = b.widths().await;
            let wide = b
                .js(
                    "return [...document.querySelectorAll('body *')].filter(e => e.getBoundingClientRect().right > 390.5 || (e.scrollWidth > e.clientWidth + 1 && getComputedStyle(e).overflowX === 'visible' && e.clientWidth > 0)).slice(0, 12).map(e => e.tagName + '.' + e.getAttribute('class') + '#' + e.id + ' right=' + Math.round(e.getBoundingClientRect().right) + ' sw=' + e.scrollWidth + ' cw=' + e.clientWidth)",
                    vec![],
                )
                .await;
            assert!(
                vp <= 390.5 && doc <= vp,
                "{what}: document {doc} px wide in a {vp} px viewport; too wide: {wide}"
            );
        }
    };
    check("dashboard").await;
    let right = b
        .js(
            "return document.getElementById('sign-out').getBoundingClientRect().right",
            vec![],
        )
        .await;
    assert!(
        right.as_f64().unwrap() <= 390.0,
        "Sign out cut off at {right}"
    );
    b.shot("dashboard-phone").await;

    b.click("tr[data-service='gh-platform'] th a").await;
    b.text_contains("#metrics", "Open issues").await;
    check("service page").await;
    b.shot_fold("service-phone").await;

    b.click("#nav-add").await;
    b.visible("[data-provider=github]").await;
    check("wizard step 1").await;
    b.click("[data-provider=github]").await;
    b.visible("#config-form").await;
    check("wizard step 2").await;

    b.click("#nav-tokens").await;
    b.visible("#token-form").await;
    check("tokens").await;
    b.assert_clean(&[]).await;
    b.close().await;
    app.finish().await;
}

/// Admins create a named read-only token, see it once with a copy button, and revoke it.
#[tokio::test]
async fn tokens_page_creates_shows_once_and_revokes() {
    let Some((app, b)) = setup().await else {
        return;
    };
    sign_in(&b, ADMIN).await;
    b.click("#nav-tokens").await;
    b.visible("#token-form").await;
    b.click("#token-create").await;
    b.text_contains("#token-form", "Give the token a name.")
        .await;
    b.fill("#token-form input[maxlength='100']", "grafana")
        .await;
    b.click("#token-create").await;
    b.visible("#new-token").await;
    assert_eq!(b.focused().await, "new-token");
    let token = b.value("#new-token-value").await;
    assert!(token.starts_with("odk_"), "{token}");
    b.text_contains("#new-token", "shown this once").await;
    b.click("#copy-token").await;
    b.until(
        "copy feedback",
        "return /Copied|Selected/.test(document.querySelector('#new-token').innerText)",
    )
    .await;
    b.text_contains("#tokens", "grafana").await;
    b.text_contains("#tokens", "Read-only").await;
    b.shot("tokens").await;

    // It works, with the role chosen.
    let (status, who) = app.call(Method::GET, "/api/v1/session", &token, None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(who["role"], "read");

    b.click("button[aria-label='Revoke grafana']").await;
    b.text_contains("dialog[open]", "Revoke “grafana”?").await;
    b.click_text("Revoke grafana").await;
    b.text_contains(".view-tokens .notices", "Revoked").await;
    b.until(
        "the token to leave the list",
        "const t = document.querySelector('#tokens'); return !t || !t.innerText.includes('grafana')",
    )
    .await;
    let (status, _) = app.call(Method::GET, "/api/v1/session", &token, None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    b.assert_clean(&[]).await;
    b.close().await;
    app.finish().await;
}

/// A change saved elsewhere while the form was open is explained, not overwritten.
#[tokio::test]
async fn conflicting_edit_is_explained_not_overwritten() {
    let Some((app, b)) = setup().await else {
        return;
    };
    app.create(app.github_service("gh-main", GOOD, &["platform"]))
        .await;
    sign_in(&b, ADMIN).await;
    b.js("location.hash = '#/services/gh-main/edit';", vec![])
        .await;
    b.visible("#edit-form").await;
    b.fill("[data-field=max_repos]", "30").await;

    // Someone else saves first.
    let (status, r) = app
        .call(
            Method::PATCH,
            "/api/v1/services/gh-main",
            ADMIN,
            Some(json!({"version": 1, "tags": ["changed-elsewhere"]})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{r}");

    b.click("#edit-save").await;
    b.text_contains("dialog[open]", "Save without a passing test?")
        .await;
    b.click_text("Save anyway").await;
    let conflict = b.text_contains("#conflict", "changed elsewhere").await;
    assert!(
        conflict.contains("Tags: was platform, now changed-elsewhere"),
        "{conflict}"
    );
    assert_eq!(b.focused().await, "conflict");
    let (_, svc) = app
        .call(Method::GET, "/api/v1/services/gh-main", ADMIN, None)
        .await;
    assert_eq!(
        svc["config"]["max_repos"],
        json!(null),
        "nothing overwritten"
    );
    assert_eq!(svc["tags"], json!(["changed-elsewhere"]));
    b.shot("edit-conflict").await;

    // Load theirs, redo the change, save.
    b.click("#conflict-reload").await;
    b.until(
        "their tags in the form",
        "return [...document.querySelectorAll('#edit-form input')].some(i => i.value === 'changed-elsewhere')",
    )
    .await;
    assert_eq!(b.value("[data-field=max_repos]").await, "");
    b.fill("[data-field=max_repos]", "30").await;
    b.click("#edit-save").await;
    b.click_text("Save anyway").await;
    b.visible("#service-title").await;
    let (_, svc) = app
        .call(Method::GET, "/api/v1/services/gh-main", ADMIN, None)
        .await;
    assert_eq!(svc["config"]["max_repos"], 30);
    assert_eq!(svc["tags"], json!(["changed-elsewhere"]));
    b.assert_clean(&["/api/v1/services/gh-main - Failed to load resource: the server responded with a status of 409"])
        .await;
    b.close().await;
    app.finish().await;
}

/// Issue 14: a partial collection shows the metrics it has and, under them, each section that
/// was not collected, in words (no colour needed).
#[tokio::test]
async fn partial_metrics_name_the_section_not_collected() {
    let Some((app, b)) = setup().await else {
        return;
    };
    let vendor = wiremock::MockServer::start().await;
    wiremock::Mock::given(wiremock::matchers::path("/rate_limit"))
        .respond_with(wiremock::ResponseTemplate::new(200).set_body_raw(
            include_str!("../../../providers/github/tests/it/fixtures/rate_limit_200.json"),
            "application/json",
        ))
        .mount(&vendor)
        .await;
    wiremock::Mock::given(wiremock::matchers::path("/repos/acme/api"))
        .respond_with(wiremock::ResponseTemplate::new(500))
        .mount(&vendor)
        .await;
    app.create(json!({
        "name": "gh-partial",
        "provider": "github",
        "config": {"token": GOOD, "base_url": vendor.uri(), "repos": ["acme/api"]},
    }))
    .await;
    let (status, body) = app
        .call(
            Method::POST,
            "/api/v1/services/gh-partial/metrics",
            ADMIN,
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["problems"][0]["section"], "repositories", "{body}");

    sign_in(&b, ADMIN).await;
    b.js("location.hash = '#/services/gh-partial';", vec![])
        .await;
    b.visible("#service-title").await;
    let metrics = b.text_contains("#metrics", "Not collected").await;
    assert!(metrics.contains("repositories:"), "{metrics}");
    assert!(metrics.contains("rate_limit_remaining"), "{metrics}");
    app.finish().await;
}

/// GitHub fails while its status page reports an incident: the dashboard row carries the
/// incident, the incidents page lists it, its page shows the vendor's words and the timeline,
/// an admin acknowledges it and adds a note, and the service page shows the open incident.
#[tokio::test]
async fn incident_from_a_vendor_outage_is_acknowledged_and_annotated() {
    let page = MockServer::start().await;
    let summary = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../monitor/tests/fixtures/statuspage/major_outage.json"
    ))
    .unwrap();
    Mock::given(method("GET"))
        .and(path("/api/v2/summary.json"))
        .respond_with(ResponseTemplate::new(200).set_body_raw(summary, "application/json"))
        .mount(&page)
        .await;
    let down = MockServer::start().await;
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(503).set_body_json(json!({"message": "Unicorn!"})))
        .mount(&down)
        .await;
    let page_uri = page.uri();
    let app = app::start_with(move |s| {
        s.features
            .set(opsdeck_server::features::Feature::VendorStatus, true);
        s.status_pages.overrides =
            std::collections::BTreeMap::from([("github".to_owned(), page_uri)]);
        s.incidents.tick = std::time::Duration::from_millis(50);
    })
    .await;
    let Some(b) = driver::start(&app.base).await else {
        app.finish().await;
        return;
    };
    app.create(app.github_service("gh-platform", GOOD, &["platform"]))
        .await;
    app.test("gh-platform").await;
    for name in ["gh-api", "gh-web"] {
        app.create(json!({"name": name, "provider": "github",
            "config": {"token": GOOD, "base_url": down.uri()}, "tags": ["prod"]}))
            .await;
    }
    for _ in 0..3 {
        app.test("gh-api").await;
        app.test("gh-web").await;
    }
    // The loop groups in the background: wait for it through the API.
    let mut id = 0;
    for _ in 0..200 {
        let (_, list) = app
            .call(Method::GET, "/api/v1/incidents", ADMIN, None)
            .await;
        if list[0]["services"].as_array().is_some_and(|s| s.len() == 2) {
            id = list[0]["id"].as_i64().unwrap();
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert!(id > 0, "no incident for the two failing services");

    sign_in(&b, ADMIN).await;
    b.text_contains("tr[data-service='gh-api']", &format!("incident #{id}"))
        .await;
    b.shot_fold("incident-dashboard").await;
    b.click("#nav-incidents").await;
    b.text_contains("#incident-list", "GitHub reports").await;
    b.click(&format!("tr[data-incident='{id}'] a")).await;
    b.text_contains("#incident-cause", "Vendor outage").await;
    b.text_contains(
        "#vendor-status",
        "Incident with API Requests and Git Operations",
    )
    .await;
    b.text_contains("#incident-timeline", "gh-web failed").await;
    b.click("#incident-ack").await;
    b.text_contains("#incident-timeline", "Acknowledged by")
        .await;
    b.fill("#incident-note", "Waiting on GitHub; nothing to roll back.")
        .await;
    b.click("#incident-note-add").await;
    b.text_contains("#incident-timeline", "nothing to roll back")
        .await;
    b.shot("incident").await;
    b.goto("/#/incidents?state=resolved").await;
    b.text_contains("#no-incidents", "No resolved incidents")
        .await;
    b.click("#incident-filters a[href='#/incidents?state=acknowledged']")
        .await;
    b.text_contains(&format!("tr[data-incident='{id}']"), "Acknowledged")
        .await;
    b.goto("/#/services/gh-api").await;
    b.text_contains("#open-incident", &format!("#{id}")).await;
    b.text_contains("#service-incidents", "MTTA").await;
    b.shot_fold("incident-service").await;

    // A read-only token sees the incident, not the buttons.
    let read = app.read_token().await;
    b.click("#sign-out").await;
    sign_in(&b, &read).await;
    b.goto(&format!("/#/incidents/{id}")).await;
    b.text_contains("#incident-timeline", "nothing to roll back")
        .await;
    for hidden in ["#incident-resolve", "#note-form"] {
        assert!(
            !b.exists(hidden).await,
            "{hidden} shown to a read-only token"
        );
    }

    // At phone width neither page scrolls sideways.
    b.viewport(390, 844).await;
    for (what, url, ready) in [
        (
            "incident",
            format!("/#/incidents/{id}"),
            "#incident-timeline",
        ),
        (
            "incidents",
            "/#/incidents".to_owned(),
            "#incident-list table",
        ),
    ] {
        b.goto(&url).await;
        b.visible(ready).await;
        let (doc, vp) = b.widths().await;
        assert!(
            vp <= 390.5 && doc <= vp,
            "{what}: document {doc} px wide in a {vp} px viewport"
        );
    }
    b.assert_clean(&[]).await;
    b.close().await;
    app.finish().await;
}

/// Alerts (issue 11): add a webhook channel and send it a test, add a rule in the form, see a
/// failing service fire it — on the service page and in the recent alerts — with the budget's
/// standing beside.
#[tokio::test]
async fn alerts_page_adds_a_channel_tests_it_and_a_rule_that_fires() {
    use wiremock::matchers::method;
    use wiremock::{Mock, MockServer, ResponseTemplate};
    let Some((app, b)) = setup().await else {
        return;
    };
    app.populate().await;
    let hook = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(200))
        .mount(&hook)
        .await;
    let (status, r) = app
        .call(
            Method::POST,
            "/api/v1/budgets",
            ADMIN,
            Some(json!({"name": "ai-spend", "category": "ai", "monthly_limit": 500, "currency": "USD",
                        "thresholds": [50, 80, 100], "forecast_thresholds": [100], "channels": []})),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{r}");
    let (status, r) = app
        .call(
            Method::POST,
            "/api/v1/silences",
            ADMIN,
            Some(json!({"name": "db-upgrade", "services": ["ghe-*"], "until": "2030-01-01T06:00:00Z", "reason": "planned database upgrade"})),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{r}");
    sign_in(&b, ADMIN).await;
    b.click("#nav-alerts").await;
    b.visible("#alerts-title").await;

    b.click("#channels-add").await;
    b.fill("#channel-form input[name='name']", "ops-hook").await;
    b.fill(
        "#channel-form input[name='url']",
        &format!("{}/hook", hook.uri()),
    )
    .await;
    b.fill(
        "#channel-form input[name='secret']",
        "whsec-0123456789abcdef",
    )
    .await;
    b.click("#channel-save").await;
    b.text_contains("#channels-table", "ops-hook").await;
    b.click("button[data-channel='ops-hook']").await;
    b.text_contains("#channels-table", "Sent.").await;
    let got = hook.received_requests().await.unwrap();
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].headers.get("x-opsdeck-event").unwrap(), "test");
    assert!(!b.text("#channels-table").await.contains("whsec"));

    b.click("#rules-add").await;
    b.fill("#rules-form input[name='name']", "connection-down")
        .await;
    b.fill("#rules-form input[name='services']", "gh-*").await;
    b.fill("#rules-form input[name='failure_threshold']", "1")
        .await;
    b.fill("#rules-form input[name='channels']", "ops-hook")
        .await;
    b.click("#rules-save").await;
    b.text_contains("#rules-table", "connection-down").await;
    b.text_contains("#rules-table", "ops-hook").await;

    // The bad-token service fails again: the rule fires and the receiver hears of it.
    app.test("gh-oss").await;
    b.goto("/#/services/gh-oss").await;
    b.text_contains("#service-alert-state", "Firing: connection-down")
        .await;
    b.text_contains("#service-alert-history", "Firing").await;
    b.goto("/#/alerts").await;
    b.text_contains("#alert-history", "gh-oss").await;
    b.text_contains("#budgets-table", "Not counted").await;
    b.shot("alerts").await;
    // The firing reached the receiver too (the test notification was the first request).
    let mut heard = 0;
    for _ in 0..400 {
        heard = hook.received_requests().await.unwrap().len();
        if heard >= 2 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(25)).await;
    }
    assert_eq!(heard, 2);
    let got = hook.received_requests().await.unwrap();
    assert_eq!(
        got[1].headers.get("x-opsdeck-event").unwrap(),
        "alert.firing"
    );
    b.assert_clean(&[]).await;
    b.close().await;
    app.finish().await;
}

/// Monitoring: a service with 30 days of history and a recent outage shows its uptime figures,
/// the 90-bar strip (switchable 24 h / 30 d / 90 d, each bar titled with its uptime and checks),
/// the response-time chart, the status changes and a metric trend; each dashboard row shows a
/// compact strip and its 30-day uptime.
#[tokio::test]
async fn service_page_shows_uptime_strip_response_time_and_events() {
    let Some((app, b)) = setup().await else {
        return;
    };
    app.create(app.github_service("gh-platform", GOOD, &["platform", "prod"]))
        .await;
    app.create(app.github_service("gh-oss", BAD, &["oss"]))
        .await;
    app.seed_history("gh-platform", 30, 37).await;
    // Results through the API, as the scheduler or a user would produce them: connected, an
    // outage with a rotated-away token, connected again.
    app.test("gh-platform").await;
    app.set_token("gh-platform", BAD).await;
    app.test("gh-platform").await;
    app.set_token("gh-platform", GOOD).await;
    app.test("gh-platform").await;
    app.test("gh-oss").await;
    app.monitoring_catch_up().await;

    sign_in(&b, ADMIN).await;
    // The dashboard: a compact strip and the 30-day uptime per row.
    b.until(
        "the dashboard's uptime strips",
        "return document.querySelectorAll('.uptime-cell svg.uptime-strip').length >= 2",
    )
    .await;
    let cell = b.text("tr[data-service='gh-oss'] .uptime-30d").await;
    assert_eq!(cell, "0 %", "{cell}");
    // Every row's strip came from one request for all services, none from a per-row one.
    let requests = b
        .js(
            "const r = performance.getEntriesByType('resource').map((e) => new URL(e.name).pathname); \
             return [r.filter((p) => p === '/api/v1/history').length, \
                     r.filter((p) => /^\\/api\\/v1\\/services\\/[^/]+\\/history$/.test(p)).length];",
            vec![],
        )
        .await;
    assert_eq!(requests, json!([1, 0]), "GET /history, per-row history");
    b.shot_fold("dashboard-uptime").await;

    b.js("location.hash = '#/services/gh-platform';", vec![])
        .await;
    b.until(
        "the uptime figures",
        "const f = document.querySelectorAll('#uptime-figures li'); return f.length === 3 && f[1].innerText.includes('%')",
    )
    .await;
    // 24 h by 15 minutes: 96 bars, each with a title giving its uptime and checks.
    b.until(
        "the 24 h strip",
        "return document.querySelectorAll('#uptime-strip rect.ubar').length === 96",
    )
    .await;
    let title = b
        .js(
            "const t = [...document.querySelectorAll('#uptime-strip g.ubar-group > title')].map((x) => x.textContent).filter((t) => t.includes('uptime')); return t[t.length - 1] || ''",
            vec![],
        )
        .await;
    assert!(
        title.as_str().unwrap_or_default().contains("checks")
            || title.as_str().unwrap_or_default().contains("check"),
        "{title}"
    );
    b.click("#monitoring .seg button[data-window='30d']").await;
    b.until(
        "the 30 d strip",
        "return document.querySelectorAll('#uptime-strip rect.ubar').length === 30",
    )
    .await;
    // Days with failures are striped, not only coloured.
    let patterned = b
        .js(
            "return document.querySelectorAll('#uptime-strip g[data-kind=partial] rect.stripe, #uptime-strip g[data-kind=down] rect.stripe').length",
            vec![],
        )
        .await;
    assert!(patterned.as_u64().unwrap_or(0) >= 1, "{patterned}");
    b.click("#monitoring .seg button[data-window='90d']").await;
    b.until(
        "the 90 d strip",
        "return document.querySelectorAll('#uptime-strip rect.ubar').length === 90",
    )
    .await;
    b.visible("#response-time svg.response-time").await;
    b.text_contains("#response-time figcaption", "p95").await;
    // The events: the token rotated away and back.
    b.text_contains("#events table.events", "Invalid credentials")
        .await;
    b.text_contains("#events table.events", "Connected").await;
    b.click("#monitoring .seg button[data-window='30d']").await;
    b.until(
        "the 30 d strip again",
        "return document.querySelectorAll('#uptime-strip rect.ubar').length === 30",
    )
    .await;
    // A metric trend from the collections stored with each connected check.
    b.visible("#trends svg.trend").await;
    b.shot_fold("service-monitoring").await;
    b.assert_clean(&[]).await;
    b.close().await;
    app.finish().await;
}
