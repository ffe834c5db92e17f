//! Helpers shared by the test modules: building services through the registry, AWS request
//! matchers, fixtures and the date periods the provider queries.

use std::sync::Arc;

use chrono::{Datelike, Months, NaiveDate, Utc};
use opsdeck_core::http::HttpSettings;
use opsdeck_core::{BaseService, Metric, MetricSet};
use opsdeck_testkit::wiremock::Request;
use serde_json::{Value, json};

pub use opsdeck_provider_aws::testing::{KEY_ID, SECRET};
pub const TOKEN: &str = "FwoGZXIvYXdzEOPSDECKsessionTOKENvalue0123456789";

pub const STS_BODY: &str = "Action=GetCallerIdentity&Version=2011-06-15";
pub const CE_JSON: &str = "application/x-amz-json-1.1";
pub const TARGET_USAGE: &str = "AWSInsightsIndexService.GetCostAndUsage";
pub const TARGET_FORECAST: &str = "AWSInsightsIndexService.GetCostForecast";

pub fn fixture(name: &str) -> String {
    let path = format!("{}/tests/it/fixtures/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("fixture {path}: {e}"))
}

/// Fast retries so failure paths finish quickly.
pub fn settings() -> HttpSettings {
    opsdeck_testkit::FAST_RETRIES
}

/// A service built through the registry from a raw config object.
pub fn service(config: Value) -> Arc<dyn BaseService> {
    opsdeck_testkit::service("aws", config)
}

pub fn try_service(config: Value) -> Result<Arc<dyn BaseService>, String> {
    opsdeck_testkit::try_service("aws", config, &settings())
}

/// Static-key config against `base`.
pub fn keyed_config(base: &str) -> Value {
    json!({
        "region": "eu-west-1",
        "access_key_id": KEY_ID,
        "secret_access_key": SECRET,
        "session_token": TOKEN,
        "base_url": base,
    })
}

/// Matches a SigV4 `Authorization` header for our key with the given scope.
pub fn signed_for(
    region: &'static str,
    svc: &'static str,
) -> impl Fn(&Request) -> bool + Send + Sync + 'static {
    move |req: &Request| {
        let Some(auth) = req
            .headers
            .get("authorization")
            .and_then(|v| v.to_str().ok())
        else {
            return false;
        };
        auth.starts_with(&format!("AWS4-HMAC-SHA256 Credential={KEY_ID}/"))
            && auth.contains(&format!("/{region}/{svc}/aws4_request"))
            && auth.contains("Signature=")
            && req.headers.get("x-amz-date").is_some()
            && req
                .headers
                .get("x-amz-security-token")
                .and_then(|v| v.to_str().ok())
                == Some(TOKEN)
    }
}

/// The request body as JSON.
pub fn body_json(req: &Request) -> Value {
    serde_json::from_slice(&req.body).unwrap_or(Value::Null)
}

/// Matches a Cost Explorer request body with these members (and no others that matter).
pub fn ce_body(expected: Value) -> impl Fn(&Request) -> bool + Send + Sync + 'static {
    move |req: &Request| {
        let body = body_json(req);
        let Some(want) = expected.as_object() else {
            return false;
        };
        want.iter().all(|(k, v)| {
            if v.is_null() {
                body.get(k).is_none()
            } else {
                body.get(k) == Some(v)
            }
        })
    }
}

/// The days the provider queries today (UTC), as the provider computes them.
#[derive(Debug, Clone, Copy)]
pub struct Days {
    pub today: NaiveDate,
    pub month_start: NaiveDate,
    pub next_month: NaiveDate,
    pub week_start: NaiveDate,
    pub previous_month_start: NaiveDate,
}

impl Days {
    pub fn now() -> Self {
        Self::for_day(Utc::now().date_naive())
    }

    pub fn for_day(today: NaiveDate) -> Self {
        let month_start = today.with_day(1).unwrap_or(today);
        Days {
            previous_month_start: month_start
                .checked_sub_months(Months::new(1))
                .unwrap_or(month_start),
            today,
            month_start,
            next_month: month_start
                .checked_add_months(Months::new(1))
                .unwrap_or(today),
            week_start: today
                .checked_sub_days(chrono::Days::new(7))
                .unwrap_or(today),
        }
    }

    /// On the 1st there is no month-to-date request.
    pub fn has_month_to_date(&self) -> bool {
        self.month_start < self.today
    }
}

pub fn ymd(d: NaiveDate) -> String {
    d.format("%Y-%m-%d").to_string()
}

pub fn find<'a>(set: &'a MetricSet, name: &str, label: Option<(&str, &str)>) -> Option<&'a Metric> {
    set.metrics.iter().find(|m| {
        m.name == name && label.is_none_or(|(k, v)| m.labels.get(k).map(String::as_str) == Some(v))
    })
}

pub fn value(set: &MetricSet, name: &str, label: Option<(&str, &str)>) -> Option<f64> {
    find(set, name, label).map(|m| m.value)
}

pub fn approx(a: Option<f64>, b: f64) -> bool {
    a.is_some_and(|a| (a - b).abs() < 1e-9)
}

/// A daily Cost Explorer response for the 7 days before today, amounts 1..=7.
pub fn daily_body(days: &Days) -> Value {
    let results: Vec<Value> = (0..7u64)
        .map(|i| {
            let d = days
                .week_start
                .checked_add_days(chrono::Days::new(i))
                .unwrap_or(days.today);
            let e = d.succ_opt().unwrap_or(d);
            json!({
                "TimePeriod": {"Start": ymd(d), "End": ymd(e)},
                "Total": {"UnblendedCost": {"Amount": format!("{}.25", i + 1), "Unit": "USD"}},
                "Groups": [],
                "Estimated": i >= 5
            })
        })
        .collect();
    json!({"ResultsByTime": results, "DimensionValueAttributes": []})
}
