//! Vercel wire types (only the fields opsdeck reads; unknown fields are ignored), paging, and
//! the FOCUS billing export parser.
//!
//! Field names follow vercel/sdk (generated from openapi.vercel.sh): `GetAuthUserResponseBody
//! {user}`, `GetDeploymentsResponseBody {pagination, deployments}`, `Pagination {count, next,
//! prev}` where `next` is "Timestamp that must be used to request the next page".

use std::collections::BTreeMap;
use std::str::FromStr;

use opsdeck_core::rust_decimal::Decimal;
use serde::Deserialize;

/// `GET /v2/user`.
#[derive(Debug, Deserialize)]
pub struct UserResponse {
    pub user: User,
}

/// `AuthUser` or `AuthUserLimited` (same identity fields; `limited: true` on the latter).
#[derive(Debug, Deserialize)]
pub struct User {
    pub id: String,
    #[serde(default)]
    pub username: Option<String>,
    #[serde(default)]
    pub email: Option<String>,
    #[serde(default)]
    pub limited: bool,
}

impl User {
    /// Username, else email, else id.
    pub fn display(&self) -> String {
        self.username
            .clone()
            .or_else(|| self.email.clone())
            .filter(|s| !s.is_empty())
            .unwrap_or_else(|| self.id.clone())
    }
}

/// `GET /v2/teams/{teamId}`.
#[derive(Debug, Deserialize)]
pub struct Team {
    pub id: String,
    #[serde(default)]
    pub slug: Option<String>,
    #[serde(default)]
    pub name: Option<String>,
}

impl Team {
    /// Team name, else slug, else id.
    pub fn display(&self) -> String {
        self.name
            .clone()
            .or_else(|| self.slug.clone())
            .filter(|s| !s.is_empty())
            .unwrap_or_else(|| self.id.clone())
    }
}

/// Vercel's pagination object. `next` is a millisecond timestamp on deployments and either a
/// timestamp or a continuation token on projects, so it is kept as raw JSON.
#[derive(Debug, Default, Deserialize)]
pub struct Pagination {
    #[serde(default)]
    pub next: Option<serde_json::Value>,
}

impl Pagination {
    /// The cursor for the next page, as the query parameter value; `None` at the end.
    pub fn next_cursor(&self) -> Option<String> {
        match self.next.as_ref()? {
            serde_json::Value::Number(n) => Some(n.to_string()),
            serde_json::Value::String(s) if !s.is_empty() => Some(s.clone()),
            _ => None,
        }
    }
}

/// `GET /v6/deployments`.
#[derive(Debug, Deserialize)]
pub struct DeploymentsPage {
    #[serde(default)]
    pub deployments: Vec<Deployment>,
    #[serde(default)]
    pub pagination: Pagination,
}

/// One deployment.
#[derive(Debug, Clone, Deserialize)]
pub struct Deployment {
    pub uid: String,
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub url: Option<String>,
    /// Milliseconds since the epoch.
    pub created: i64,
    /// BLOCKED, BUILDING, CANCELED, DELETED, ERROR, INITIALIZING, QUEUED, READY.
    #[serde(rename = "readyState", default)]
    pub ready_state: Option<String>,
    /// Older spelling of the same enum; used when `readyState` is absent.
    #[serde(default)]
    pub state: Option<String>,
    #[serde(default)]
    pub target: Option<String>,
}

impl Deployment {
    /// The deployment's state, uppercase as Vercel spells it.
    pub fn state(&self) -> String {
        self.ready_state
            .clone()
            .or_else(|| self.state.clone())
            .unwrap_or_else(|| "UNKNOWN".to_owned())
            .to_ascii_uppercase()
    }
}

/// `GET /v10/projects`.
#[derive(Debug, Deserialize)]
pub struct ProjectsPage {
    #[serde(default)]
    pub projects: Vec<Project>,
    #[serde(default)]
    pub pagination: Pagination,
}

/// One project.
#[derive(Debug, Clone, Deserialize)]
pub struct Project {
    pub name: String,
}

/// One FOCUS row (the columns opsdeck uses).
#[derive(Debug, Deserialize)]
struct FocusRow {
    #[serde(rename = "BilledCost")]
    billed_cost: Option<serde_json::Number>,
    #[serde(rename = "BillingCurrency", default)]
    billing_currency: Option<String>,
    #[serde(rename = "ServiceName", default)]
    service_name: Option<String>,
}

/// Billed cost summed from a FOCUS JSONL export.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct FocusTotals {
    /// Σ BilledCost per uppercase currency.
    pub by_currency: BTreeMap<String, Decimal>,
    /// Σ BilledCost per (currency, ServiceName).
    pub by_service: BTreeMap<(String, String), Decimal>,
    /// Rows read.
    pub rows: u64,
    /// Lines that were not valid FOCUS rows (skipped).
    pub skipped: u64,
}

/// JSON numbers parsed exactly: serde_json keeps the shortest decimal form of the value it
/// read, so `0.1` stays `0.1` and sums have no float drift.
fn decimal(n: &serde_json::Number) -> Option<Decimal> {
    let text = n.to_string();
    Decimal::from_str(&text)
        .or_else(|_| Decimal::from_scientific(&text))
        .ok()
}

/// Sum a FOCUS v1.3 JSONL body (one JSON object per line; blank lines ignored). FOCUS says
/// BillingCurrency is mandatory; rows without it are taken as USD, Vercel's billing currency.
pub fn focus_totals(body: &str) -> FocusTotals {
    let mut t = FocusTotals::default();
    for line in body.lines().map(str::trim).filter(|l| !l.is_empty()) {
        let row = serde_json::from_str::<FocusRow>(line).ok();
        let Some((row, cost)) = row.and_then(|r| {
            let c = r.billed_cost.as_ref().and_then(decimal)?;
            Some((r, c))
        }) else {
            t.skipped += 1;
            continue;
        };
        t.rows += 1;
        let currency = row
            .billing_currency
            .filter(|c| !c.trim().is_empty())
            .unwrap_or_else(|| "USD".to_owned())
            .to_ascii_uppercase();
        let service = row.service_name.unwrap_or_else(|| "Other".to_owned());
        *t.by_currency.entry(currency.clone()).or_default() += cost;
        *t.by_service.entry((currency, service)).or_default() += cost;
    }
    t
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn focus_sums_are_exact() {
        let body = "{\"BilledCost\":0.1,\"BillingCurrency\":\"USD\",\"ServiceName\":\"A\"}\n\
                    {\"BilledCost\":0.2,\"BillingCurrency\":\"USD\",\"ServiceName\":\"A\"}\n\
                    \n\
                    {\"BilledCost\":1e-7,\"ServiceName\":\"B\"}\n\
                    not json\n\
                    {\"ServiceName\":\"no cost\"}\n";
        let t = focus_totals(body);
        assert_eq!(
            t.by_currency["USD"],
            Decimal::from_str("0.3000001").unwrap_or_default()
        );
        assert_eq!(
            t.by_service[&("USD".to_owned(), "A".to_owned())],
            Decimal::from_str("0.3").unwrap_or_default()
        );
        assert_eq!(t.rows, 3);
        assert_eq!(t.skipped, 2);
    }

    #[test]
    fn pagination_cursor_accepts_numbers_and_tokens() {
        let p: Pagination = serde_json::from_str(r#"{"count":2,"next":1764210000000,"prev":null}"#)
            .unwrap_or_default();
        assert_eq!(p.next_cursor().as_deref(), Some("1764210000000"));
        let p: Pagination =
            serde_json::from_str(r#"{"count":2,"next":"MFRGGZDFMZTWQ2LK"}"#).unwrap_or_default();
        assert_eq!(p.next_cursor().as_deref(), Some("MFRGGZDFMZTWQ2LK"));
        let p: Pagination = serde_json::from_str(r#"{"count":0,"next":null}"#).unwrap_or_default();
        assert_eq!(p.next_cursor(), None);
    }
}
