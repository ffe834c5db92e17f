//! Datadog wire types (only the fields opsdeck reads; unknown fields are ignored).
//!
//! Shapes from Datadog's OpenAPI description and recorded responses in
//! DataDog/datadog-api-client-rust (`tests/scenarios/cassettes`): `/api/v1/validate` →
//! `{"valid": true}`; `/api/v2/validate_keys` → `{"status": "ok"}`; `/api/v1/monitor/search` →
//! `{counts: {status: [{name, count}], muted: [{name: bool, count}], …}, metadata:
//! {total_count, …}, monitors: […]}`; `/api/v2/usage/estimated_cost` → `{data: [{type:
//! "cost_by_org", attributes: {total_cost, charges: [{product_name, charge_type, cost}], …}}]}`.

use std::str::FromStr;

use opsdeck_core::rust_decimal::Decimal;
use serde::Deserialize;

/// `GET /api/v1/validate`.
#[derive(Debug, Deserialize)]
pub struct Validate {
    pub valid: bool,
}

/// `GET /api/v2/validate_keys`.
#[derive(Debug, Deserialize)]
pub struct ValidateKeys {
    pub status: String,
}

/// `GET /api/v1/monitor/search`.
#[derive(Debug, Deserialize)]
pub struct MonitorSearch {
    #[serde(default)]
    pub counts: Counts,
    #[serde(default)]
    pub metadata: Option<SearchMetadata>,
}

/// Facet counts over every monitor the query matches (not just the returned page).
#[derive(Debug, Default, Deserialize)]
pub struct Counts {
    #[serde(default)]
    pub status: Vec<Facet>,
    #[serde(default)]
    pub muted: Vec<Facet>,
}

/// One facet value and how many monitors have it. `name` is a string for `status` and a
/// boolean for `muted` (`MonitorSearchCountItem.name` has no declared type in the spec).
/// The spec makes both fields optional and `count` a signed int64, so a facet without a
/// name or a usable count is ignored rather than failing the whole search.
#[derive(Debug, Deserialize)]
pub struct Facet {
    #[serde(default)]
    pub name: serde_json::Value,
    #[serde(default)]
    pub count: Option<i64>,
}

impl Facet {
    /// Monitors with this value; 0 when the count is absent or negative.
    pub fn monitors(&self) -> u64 {
        self.count.and_then(|c| u64::try_from(c).ok()).unwrap_or(0)
    }
}

/// Paging metadata.
#[derive(Debug, Deserialize)]
pub struct SearchMetadata {
    /// int64 in the spec; a negative value is treated as absent.
    #[serde(default)]
    pub total_count: Option<i64>,
}

/// `GET /api/v2/usage/estimated_cost`.
#[derive(Debug, Deserialize)]
pub struct CostResponse {
    #[serde(default)]
    pub data: Vec<CostRow>,
}

/// One organisation (or month) of estimated cost.
#[derive(Debug, Deserialize)]
pub struct CostRow {
    #[serde(default)]
    pub attributes: Option<CostAttributes>,
}

/// Cost attributes. Costs are JSON numbers in US dollars.
#[derive(Debug, Deserialize)]
pub struct CostAttributes {
    #[serde(default)]
    pub total_cost: Option<serde_json::Number>,
    #[serde(default)]
    pub charges: Vec<Charge>,
}

/// One product charge.
#[derive(Debug, Deserialize)]
pub struct Charge {
    #[serde(default)]
    pub product_name: Option<String>,
    /// `committed`, `on_demand`, or `total` (the sum of the others for the product).
    #[serde(default)]
    pub charge_type: Option<String>,
    #[serde(default)]
    pub cost: Option<serde_json::Number>,
}

/// A JSON number as an exact decimal (serde_json keeps the shortest decimal form it read).
pub fn decimal(n: &serde_json::Number) -> Option<Decimal> {
    let text = n.to_string();
    Decimal::from_str(&text)
        .or_else(|_| Decimal::from_scientific(&text))
        .ok()
}

/// "No Data" → "no_data": a Prometheus-friendly label value.
pub fn snake(name: &str) -> String {
    let mut out = String::new();
    for c in name.trim().chars() {
        if c.is_ascii_alphanumeric() {
            out.push(c.to_ascii_lowercase());
        } else if !out.ends_with('_') {
            out.push('_');
        }
    }
    out.trim_matches('_').to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn state_names_become_label_values() {
        assert_eq!(snake("No Data"), "no_data");
        assert_eq!(snake("OK"), "ok");
        assert_eq!(snake(" Warn "), "warn");
    }

    #[test]
    fn costs_are_exact() {
        let n: serde_json::Number = serde_json::from_str("73.17").unwrap_or_else(|_| 0.into());
        assert_eq!(decimal(&n), Decimal::from_str("73.17").ok());
    }
}
