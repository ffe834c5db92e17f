//! Turns report rows into opsdeck domain values and metric samples. Pure functions, so the
//! arithmetic (exact decimal cents → dollars, per-model sums) is unit-tested without HTTP.

use std::collections::BTreeMap;
use std::str::FromStr;

use opsdeck_core::domain::{CostLine, CostReport, ModelUsage, Money, TimeWindow, sum_by_currency};
use opsdeck_core::rust_decimal::Decimal;
use opsdeck_core::rust_decimal::prelude::ToPrimitive;
use opsdeck_core::{Error, Metric, MetricSet, Result, Unit};

use crate::client::{CostRow, UsageRow};

/// Label used when the report has no model for a row (non-token costs, ungrouped rows).
const NO_MODEL: &str = "none";

/// Per-model token totals over a window.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct ModelTotals {
    pub uncached_input: u64,
    pub cache_read: u64,
    pub cache_write_5m: u64,
    pub cache_write_1h: u64,
    pub output: u64,
    pub web_search_requests: u64,
}

/// Sum usage rows per model (rows arrive once per model per daily bucket).
pub(crate) fn usage_by_model(rows: &[UsageRow]) -> BTreeMap<String, ModelTotals> {
    let mut out: BTreeMap<String, ModelTotals> = BTreeMap::new();
    for r in rows {
        let model = r.model.clone().unwrap_or_else(|| NO_MODEL.to_owned());
        let t = out.entry(model).or_default();
        t.uncached_input = t.uncached_input.saturating_add(r.uncached_input_tokens);
        t.cache_read = t.cache_read.saturating_add(r.cache_read_input_tokens);
        t.cache_write_5m = t
            .cache_write_5m
            .saturating_add(r.cache_creation.ephemeral_5m_input_tokens);
        t.cache_write_1h = t
            .cache_write_1h
            .saturating_add(r.cache_creation.ephemeral_1h_input_tokens);
        t.output = t.output.saturating_add(r.output_tokens);
        t.web_search_requests = t
            .web_search_requests
            .saturating_add(r.server_tool_use.web_search_requests);
    }
    out
}

/// Usage in the cross-provider shape. Cache writes are billed as (more expensive) input, so
/// they count as uncached input; cache reads are the cached input.
pub(crate) fn model_usage(totals: &BTreeMap<String, ModelTotals>) -> Vec<ModelUsage> {
    totals
        .iter()
        .map(|(model, t)| {
            let mut usage = ModelUsage::new(model);
            usage.input_tokens = t
                .uncached_input
                .saturating_add(t.cache_write_5m)
                .saturating_add(t.cache_write_1h);
            usage.cached_input_tokens = t.cache_read;
            usage.output_tokens = t.output;
            usage
        })
        .collect()
}

/// Parse the cost report's `amount` — a decimal string in the currency's lowest unit, e.g.
/// `"123.78912"` USD = $1.2378912 — into major units, exactly.
pub(crate) fn cents_to_major(amount: &str) -> Result<Decimal> {
    let raw = amount.trim();
    let cents = Decimal::from_str(raw)
        .or_else(|_| Decimal::from_scientific(raw))
        .map_err(|_| {
            Error::invalid_response(format!(
                "Anthropic's cost report has an amount that is not a decimal number ({raw:?})."
            ))
        })?;
    cents.checked_div(Decimal::ONE_HUNDRED).ok_or_else(|| {
        Error::invalid_response(format!(
            "Anthropic's cost report has an amount out of range ({raw:?})."
        ))
    })
}

/// One cost row, parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ParsedCost {
    pub money: Money,
    pub cost_type: String,
    pub model: Option<String>,
    pub label: String,
}

/// Parse every cost row; one malformed amount fails the whole report rather than
/// under-reporting spend.
pub(crate) fn parse_costs(rows: &[CostRow]) -> Result<Vec<ParsedCost>> {
    rows.iter()
        .map(|r| {
            let currency = r.currency.as_deref().unwrap_or("USD");
            let cost_type = r.cost_type.clone().unwrap_or_else(|| "other".to_owned());
            let label = r
                .description
                .clone()
                .or_else(|| r.model.clone())
                .unwrap_or_else(|| cost_type.clone());
            Ok(ParsedCost {
                money: Money::new(cents_to_major(&r.amount)?, currency),
                cost_type,
                model: r.model.clone(),
                label,
            })
        })
        .collect()
}

/// The cost report in the cross-provider shape: one line per description (summed over days),
/// totals per currency.
pub(crate) fn cost_report(window: TimeWindow, costs: &[ParsedCost]) -> CostReport {
    let mut lines: BTreeMap<(String, String), Decimal> = BTreeMap::new();
    for c in costs {
        *lines
            .entry((c.label.clone(), c.money.currency.clone()))
            .or_default() += c.money.amount;
    }
    // The cost report is Anthropic's billing data, not an estimate (new() means final); it
    // excludes Priority Tier costs, which the docs page says.
    CostReport::new(
        window,
        sum_by_currency(costs.iter().map(|c| &c.money)),
        lines
            .into_iter()
            .map(|((label, currency), amount)| CostLine::new(label, Money::new(amount, &currency)))
            .collect(),
    )
}

fn to_f64(d: Decimal) -> f64 {
    d.to_f64().unwrap_or(f64::NAN)
}

/// Token usage samples.
pub(crate) fn push_usage(set: &mut MetricSet, totals: &BTreeMap<String, ModelTotals>) {
    for (model, t) in totals {
        let m = |name: &str, v: u64, unit: Unit| {
            Metric::new(name, v as f64, unit).label("model", model.clone())
        };
        set.push(m("claude_input_tokens", t.uncached_input, Unit::Tokens));
        set.push(m("claude_output_tokens", t.output, Unit::Tokens));
        set.push(m(
            "claude_cache_read_input_tokens",
            t.cache_read,
            Unit::Tokens,
        ));
        set.push(
            m(
                "claude_cache_creation_input_tokens",
                t.cache_write_5m,
                Unit::Tokens,
            )
            .label("ttl", "5m"),
        );
        set.push(
            m(
                "claude_cache_creation_input_tokens",
                t.cache_write_1h,
                Unit::Tokens,
            )
            .label("ttl", "1h"),
        );
        set.push(m(
            "claude_web_search_requests",
            t.web_search_requests,
            Unit::Requests,
        ));
    }
}

/// Cost samples: per cost type and model, and the total per currency. Sums are exact decimals;
/// conversion to the metric's float happens once, at the end.
pub(crate) fn push_cost(set: &mut MetricSet, costs: &[ParsedCost]) {
    let mut by_kind: BTreeMap<(String, String, String), Decimal> = BTreeMap::new();
    for c in costs {
        let model = c.model.clone().unwrap_or_else(|| NO_MODEL.to_owned());
        *by_kind
            .entry((c.money.currency.clone(), c.cost_type.clone(), model))
            .or_default() += c.money.amount;
    }
    for ((currency, cost_type, model), amount) in by_kind {
        set.push(
            Metric::new("claude_cost", to_f64(amount), Unit::currency(&currency))
                .label("cost_type", cost_type)
                .label("model", model),
        );
    }
    for total in sum_by_currency(costs.iter().map(|c| &c.money)) {
        set.push(Metric::new(
            "claude_cost_total",
            to_f64(total.amount),
            Unit::currency(&total.currency),
        ));
    }
}

/// `claude_cost_previous_month_total` per currency (USD 0 when nothing was spent), labelled
/// `period="previous_month"` and `month`; returns the totals as text ("12.34 USD").
pub(crate) fn push_previous_month_cost(
    set: &mut MetricSet,
    costs: &[ParsedCost],
    window: &TimeWindow,
) -> String {
    let mut totals = sum_by_currency(costs.iter().map(|c| &c.money));
    if totals.is_empty() {
        totals.push(Money::new(Decimal::ZERO, "USD"));
    }
    let mut text = Vec::new();
    for total in totals {
        text.push(format!("{} {}", total.amount.round_dp(2), total.currency));
        set.push(
            Metric::new(
                "claude_cost_previous_month_total",
                to_f64(total.amount),
                Unit::currency(&total.currency),
            )
            .label("currency", total.currency.to_ascii_lowercase())
            .previous_month(window),
        );
    }
    text.join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cents_convert_exactly() {
        assert_eq!(
            cents_to_major("123.45").ok(),
            Decimal::from_str("1.2345").ok()
        );
        assert_eq!(
            cents_to_major("123.78912").ok(),
            Decimal::from_str("1.2378912").ok()
        );
        assert_eq!(cents_to_major("0").ok(), Some(Decimal::ZERO));
        assert!(cents_to_major("12,5").is_err());
        assert!(cents_to_major("").is_err());
    }

    #[test]
    fn sums_have_no_float_drift() {
        // 0.1 + 0.2 cents summed 10 times is exactly 3 cents = $0.03; f64 would drift.
        let rows: Vec<CostRow> = (0..10)
            .flat_map(|_| {
                ["0.1", "0.2"].map(|a| CostRow {
                    amount: a.to_owned(),
                    currency: Some("USD".into()),
                    cost_type: Some("tokens".into()),
                    description: Some("d".into()),
                    model: None,
                })
            })
            .collect();
        let parsed = parse_costs(&rows).unwrap_or_default();
        let report = cost_report(TimeWindow::month_to_date(), &parsed);
        assert_eq!(report.total.len(), 1);
        assert_eq!(report.total[0].amount, Decimal::new(3, 2));
        assert_eq!(report.total[0].currency, "USD");
    }

    #[test]
    fn usage_sums_per_model() {
        let row = |model: &str, n: u64| UsageRow {
            model: Some(model.into()),
            uncached_input_tokens: n,
            output_tokens: 2 * n,
            ..UsageRow::default()
        };
        let totals = usage_by_model(&[row("a", 1), row("b", 5), row("a", 10)]);
        assert_eq!(totals["a"].uncached_input, 11);
        assert_eq!(totals["a"].output, 22);
        assert_eq!(totals["b"].output, 10);
    }
}
