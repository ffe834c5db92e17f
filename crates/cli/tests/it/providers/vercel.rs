//! Vercel REST: `GET /v2/user` for the test; deployments of the last 24 h (`/v7/deployments`,
//! paged by `until`), projects (`/v10/projects`, paged by `from`) and the FOCUS billing charges
//! of the month (`/v1/billing/charges`, JSON lines) for the metrics.

use chrono::{Datelike, TimeZone, Utc};
use serde_json::{Value, json};
use wiremock::matchers::{header, method, path, query_param};
use wiremock::{Mock, MockBuilder, MockServer, Request, ResponseTemplate};

use super::{Provider, param};

const TOKEN: &str = "vercel_e2e_cli_0123456789abcdefOPSDECK";

pub const PROVIDER: Provider = Provider {
    id: "vercel",
    env: &[("OPSDECK_E2E_VERCEL_TOKEN", TOKEN)],
    secrets: &[TOKEN],
    block,
};

fn block(name: &str, base: &str) -> String {
    format!(
        "[services.{name}]\nprovider = \"vercel\"\ntoken = \"${{OPSDECK_E2E_VERCEL_TOKEN}}\"\nbase_url = \"{base}\"\n\n"
    )
}

const USER: &str = include_str!("../../../../providers/vercel/tests/it/fixtures/user.json");
const DEPLOYMENTS_1: &str =
    include_str!("../../../../providers/vercel/tests/it/fixtures/deployments_page1.json");
const DEPLOYMENTS_2: &str =
    include_str!("../../../../providers/vercel/tests/it/fixtures/deployments_page2.json");
const PROJECTS_1: &str =
    include_str!("../../../../providers/vercel/tests/it/fixtures/projects_page1.json");
const PROJECTS_2: &str =
    include_str!("../../../../providers/vercel/tests/it/fixtures/projects_page2.json");
const CHARGES: &str =
    include_str!("../../../../providers/vercel/tests/it/fixtures/billing_charges.jsonl");
const NOT_AUTHORIZED: &str =
    include_str!("../../../../providers/vercel/tests/it/fixtures/error_403_not_authorized.json");

fn body(raw: &str) -> ResponseTemplate {
    ResponseTemplate::new(200).set_body_raw(raw.to_owned(), "application/json")
}

fn get(p: &'static str) -> MockBuilder {
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

pub async fn mount_probe(server: &MockServer) {
    get("/v2/user").respond_with(body(USER)).mount(server).await;
}

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
    get("/v7/deployments")
        .and(query_param("limit", "100"))
        .and(millis_near("since", 86_400_000))
        .and(millis_near("until", 0))
        .respond_with(ResponseTemplate::new(200).set_body_json(pages[0].clone()))
        .mount(server)
        .await;
    get("/v7/deployments")
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
}

pub async fn mount_all(server: &MockServer) {
    mount_probe(server).await;
    mount_metrics(server).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn test_connects_as_the_user() {
    let server = MockServer::start().await;
    mount_probe(&server).await;
    let out = PROVIDER.setup(&server.uri()).run("test", &[]).await;
    out.assert_connected(&PROVIDER.service(), "vercel", "janedoe");
}

#[tokio::test(flavor = "multi_thread")]
async fn metrics_page_deployments_projects_and_sum_billing() {
    let server = MockServer::start().await;
    mount_metrics(&server).await;
    let out = PROVIDER.setup(&server.uri()).run("metrics", &[]).await;
    let s = PROVIDER.service();
    out.assert_collected(&s, "vercel");
    let state = |st| out.metric(&s, "vercel_deployments_24h", &[("state", st)]);
    assert_eq!(state("ready"), Some(2.0));
    assert_eq!(state("error"), Some(1.0));
    assert_eq!(out.metric(&s, "vercel_projects", &[]), Some(3.0));
    assert_eq!(
        out.metric(&s, "vercel_billed_cost_mtd", &[("currency", "usd")]),
        Some(32.8)
    );
    assert_eq!(
        out.metric(
            &s,
            "vercel_billed_cost_mtd_by_service",
            &[("service", "Fast Data Transfer")]
        ),
        Some(0.3)
    );
    assert_eq!(out.notes(&s), "");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_rejected_token_fails_with_exit_1() {
    let server = MockServer::start().await;
    // Vercel answers an invalid token with 403 "Not authorized".
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(403).set_body_raw(NOT_AUTHORIZED, "application/json"))
        .mount(&server)
        .await;
    let setup = PROVIDER.setup(&server.uri());
    setup
        .run("test", &[])
        .await
        .assert_failed(&PROVIDER.service(), "invalid_credentials");
    setup
        .run("metrics", &[])
        .await
        .assert_metrics_failed(&PROVIDER.service(), "invalid_credentials");
}
