//! Stand-ins for Vercel's REST API, for tests in this crate and in others (the CLI's
//! end-to-end tests): mocks that answer only the exact requests the provider makes (path, query,
//! bearer token, no `teamId` for an account token), with the documented bodies in
//! `tests/it/fixtures`. Enabled by the `testing` feature; never part of a release build.

use chrono::{Datelike, TimeZone, Utc};
use opsdeck_testkit::param;
use opsdeck_testkit::wiremock::matchers::{header, method, path, query_param};
use opsdeck_testkit::wiremock::{Mock, MockBuilder, MockServer, Request, ResponseTemplate};
use serde_json::{Value, json};

/// The token the mocks expect.
pub const TOKEN: &str = "vercel_tok_0123456789abcdefOPSDECK";
/// The identity the probe reports (the user fixture's username).
pub const IDENTITY: &str = "janedoe";

const USER: &str = include_str!("../tests/it/fixtures/user.json");
const DEPLOYMENTS_1: &str = include_str!("../tests/it/fixtures/deployments_page1.json");
const DEPLOYMENTS_2: &str = include_str!("../tests/it/fixtures/deployments_page2.json");
const PROJECTS_1: &str = include_str!("../tests/it/fixtures/projects_page1.json");
const PROJECTS_2: &str = include_str!("../tests/it/fixtures/projects_page2.json");
const CHARGES: &str = include_str!("../tests/it/fixtures/billing_charges.jsonl");
/// Vercel's 403 for a token it does not accept.
pub const NOT_AUTHORIZED: &str = include_str!("../tests/it/fixtures/error_403_not_authorized.json");

fn body(raw: &str) -> ResponseTemplate {
    ResponseTemplate::new(200).set_body_raw(raw.to_owned(), "application/json")
}

/// A GET of `p` with [`TOKEN`] and without `teamId`.
pub fn get(p: &'static str) -> MockBuilder {
    Mock::given(method("GET"))
        .and(path(p))
        .and(header("authorization", format!("Bearer {TOKEN}").as_str()))
        .and(|r: &Request| param(r, "teamId").is_none())
}

/// Milliseconds `param` is from `now - ago_ms`, within a minute.
fn millis_near(key: &'static str, ago_ms: i64) -> impl Fn(&Request) -> bool {
    move |r: &Request| {
        let want = Utc::now().timestamp_millis() - ago_ms;
        param(r, key)
            .and_then(|v| v.parse::<i64>().ok())
            .is_some_and(|v| (v - want).abs() < 60_000)
    }
}

/// `GET /v2/user` for [`TOKEN`].
pub async fn mount_probe(server: &MockServer) {
    get("/v2/user").respond_with(body(USER)).mount(server).await;
}

/// Two pages of deployments of the last 24 h (1-3 h and 4-6 h old), two pages of projects, and
/// the month's FOCUS billing lines.
pub async fn mount_metrics(server: &MockServer) {
    // Deployment times moved into the last 24 hours: page 1 is 1-3 h old, page 2 4-6 h.
    let hour = 3_600_000;
    let now = Utc::now().timestamp_millis();
    let mut pages: Vec<Value> = [DEPLOYMENTS_1, DEPLOYMENTS_2]
        .iter()
        .map(|p| serde_json::from_str(p).unwrap_or_else(|e| panic!("{e}")))
        .collect();
    let mut k = 1;
    for page in &mut pages {
        for d in page["deployments"].as_array_mut().into_iter().flatten() {
            d["created"] = json!(now - k * hour);
            d["createdAt"] = json!(now - k * hour);
            k += 1;
        }
    }
    let cursor = now - 3 * hour;
    pages[0]["pagination"]["next"] = json!(cursor);
    get("/v6/deployments")
        .and(query_param("limit", "100"))
        .and(millis_near("since", 86_400_000))
        .and(millis_near("until", 0))
        .respond_with(ResponseTemplate::new(200).set_body_json(pages[0].clone()))
        .mount(server)
        .await;
    get("/v6/deployments")
        .and(query_param("limit", "100"))
        .and(millis_near("since", 86_400_000))
        .and(query_param("until", cursor.to_string().as_str()))
        .respond_with(ResponseTemplate::new(200).set_body_json(pages[1].clone()))
        .mount(server)
        .await;
    get("/v10/projects")
        .and(query_param("limit", "100"))
        .and(|r: &Request| param(r, "from").is_none())
        .respond_with(body(PROJECTS_1))
        .mount(server)
        .await;
    get("/v10/projects")
        .and(query_param("limit", "100"))
        .and(query_param("from", "1763000000000"))
        .respond_with(body(PROJECTS_2))
        .mount(server)
        .await;
    let month_start = {
        let n = Utc::now();
        Utc.with_ymd_and_hms(n.year(), n.month(), 1, 0, 0, 0)
            .single()
            .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true))
            .unwrap_or_default()
    };
    get("/v1/billing/charges")
        .and(query_param("from", month_start.as_str()))
        .and(|r: &Request| {
            param(r, "to")
                .and_then(|t| chrono::DateTime::parse_from_rfc3339(&t).ok())
                .is_some_and(|t| (Utc::now().timestamp() - t.timestamp()).abs() < 60)
        })
        .respond_with(ResponseTemplate::new(200).set_body_raw(CHARGES, "application/jsonl"))
        .mount(server)
        .await;
    mount_previous_month_billing(server, Utc::now(), CHARGES).await;
}

/// `GET /v1/billing/charges` for the full month before `now`'s, answered with `jsonl`.
pub async fn mount_previous_month_billing(
    server: &MockServer,
    now: chrono::DateTime<Utc>,
    jsonl: &'static str,
) {
    let iso = |t: chrono::DateTime<Utc>| t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
    let previous = opsdeck_core::domain::TimeWindow::previous_month(now);
    get("/v1/billing/charges")
        .and(query_param("from", iso(previous.start).as_str()))
        .and(query_param("to", iso(previous.end).as_str()))
        .respond_with(ResponseTemplate::new(200).set_body_raw(jsonl, "application/jsonl"))
        .mount(server)
        .await;
}

/// [`mount_probe`] and [`mount_metrics`].
pub async fn mount_all(server: &MockServer) {
    mount_probe(server).await;
    mount_metrics(server).await;
}

/// Every GET answered as Vercel answers a token it does not accept (403 "Not authorized").
pub async fn mount_unauthorized(server: &MockServer) {
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(403).set_body_raw(NOT_AUTHORIZED, "application/json"))
        .mount(server)
        .await;
}
