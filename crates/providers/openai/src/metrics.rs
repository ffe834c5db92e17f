//! Aggregation of OpenAI's cost and usage results into opsdeck's domain types and metrics.
//! Pure functions: no I/O, so the arithmetic is unit-tested directly.

use std::collections::BTreeMap;

use opsdeck_core::domain::{CostLine, CostReport, ModelUsage, Money, TimeWindow, sum_by_currency};
use opsdeck_core::rust_decimal::Decimal;
use opsdeck_core::rust_decimal::prelude::ToPrimitive;
use opsdeck_core::{Metric, MetricSet, Unit};

use crate::client::{CompletionsResult, CostResult};

/// Label value for results OpenAI did not attribute (null `line_item`, `project_id`, `model`).
pub const NONE_LABEL: &str = "none";

/// Costs summed over a window, exactly.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct CostTotals {
    /// (currency, line_item, project_id) → amount.
    pub by_item: BTreeMap<(String, String, String), Decimal>,
    /// Results that carried no usable amount.
    pub without_amount: usize,
}

impl CostTotals {
    /// Sum `results` (from every bucket of every page).
    pub fn from_results<'a>(results: impl IntoIterator<Item = &'a CostResult>) -> Self {
        let mut totals = CostTotals::default();
        for r in results {
            let Some((value, currency)) = r.amount.as_ref().and_then(|a| a.decimal()) else {
                totals.without_amount += 1;
                continue;
            };
            let key = (
                currency,
                label_or_none(r.line_item.as_deref()),
                label_or_none(r.project_id.as_deref()),
            );
            *totals.by_item.entry(key).or_default() += value;
        }
        totals
    }

    /// Totals per currency.
    pub fn totals(&self) -> Vec<Money> {
        let items: Vec<Money> = self
            .by_item
            .iter()
            .map(|((cur, _, _), v)| Money::new(*v, cur))
            .collect();
        sum_by_currency(&items)
    }

    /// The cross-provider cost report: one line per line item (projects folded together).
    pub fn report(&self, window: TimeWindow) -> CostReport {
        let mut lines: BTreeMap<(String, String), Decimal> = BTreeMap::new();
        for ((cur, item, _), v) in &self.by_item {
            *lines.entry((item.clone(), cur.clone())).or_default() += *v;
        }
        // The Costs API reports billed amounts per day, not a forecast (new() means final).
        CostReport::new(
            window,
            self.totals(),
            lines
                .into_iter()
                .map(|((label, cur), v)| CostLine::new(label, Money::new(v, &cur)))
                .collect(),
        )
    }

    /// `openai_cost_previous_month_total` per currency (USD 0 when nothing was spent), labelled
    /// `period="previous_month"` and `month`.
    pub fn push_previous_month(&self, set: &mut MetricSet, window: &TimeWindow) {
        let mut totals = self.totals();
        if totals.is_empty() {
            totals.push(Money::new(Decimal::ZERO, "usd"));
        }
        for m in totals {
            let cur = m.currency.to_ascii_lowercase();
            set.push(
                Metric::new(
                    "openai_cost_previous_month_total",
                    to_f64(m.amount),
                    Unit::currency(&cur),
                )
                .label("currency", cur)
                .previous_month(window),
            );
        }
    }

    /// `openai_cost` per line item and project, and `openai_cost_total` per currency.
    pub fn push_metrics(&self, set: &mut MetricSet) {
        for ((cur, item, project), v) in &self.by_item {
            set.push(
                Metric::new("openai_cost", to_f64(*v), Unit::currency(cur))
                    .label("currency", cur.clone())
                    .label("line_item", item.clone())
                    .label("project_id", project.clone()),
            );
        }
        let mut totals = self.totals();
        if totals.is_empty() {
            // No cost results means nothing was spent; OpenAI bills in USD.
            totals.push(Money::new(Decimal::ZERO, "usd"));
        }
        for m in totals {
            let cur = m.currency.to_ascii_lowercase();
            set.push(
                Metric::new("openai_cost_total", to_f64(m.amount), Unit::currency(&cur))
                    .label("currency", cur),
            );
        }
    }
}

/// Completions usage summed per model over a window.
pub fn usage_by_model<'a>(
    results: impl IntoIterator<Item = &'a CompletionsResult>,
) -> Vec<ModelUsage> {
    let mut by_model: BTreeMap<String, ModelUsage> = BTreeMap::new();
    for r in results {
        let model = label_or_none(r.model.as_deref());
        let entry = by_model.entry(model.clone()).or_insert_with(|| {
            let mut usage = ModelUsage::new(model);
            usage.requests = Some(0);
            usage
        });
        // OpenAI's input_tokens include the cached ones; the domain keeps them apart.
        let cached = r.input_cached_tokens.unwrap_or(0).min(r.input_tokens);
        entry.input_tokens += r.input_tokens - cached;
        entry.cached_input_tokens += cached;
        entry.output_tokens += r.output_tokens;
        entry.requests = Some(entry.requests.unwrap_or(0) + r.num_model_requests);
    }
    by_model.into_values().collect()
}

/// Token and request metrics per model.
pub fn push_usage_metrics(usage: &[ModelUsage], set: &mut MetricSet) {
    for u in usage {
        let m = |name: &str, v: u64, unit: Unit| {
            Metric::new(name, v as f64, unit).label("model", u.model.clone())
        };
        set.push(m("openai_input_tokens", u.input_tokens, Unit::Tokens));
        set.push(m(
            "openai_cached_input_tokens",
            u.cached_input_tokens,
            Unit::Tokens,
        ));
        set.push(m("openai_output_tokens", u.output_tokens, Unit::Tokens));
        set.push(m(
            "openai_requests",
            u.requests.unwrap_or(0),
            Unit::Requests,
        ));
    }
}

fn label_or_none(v: Option<&str>) -> String {
    v.map(str::trim)
        .filter(|s| !s.is_empty())
        .unwrap_or(NONE_LABEL)
        .to_owned()
}

fn to_f64(d: Decimal) -> f64 {
    d.to_f64().unwrap_or(f64::NAN)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::client::Amount;

    fn cost(value: serde_json::Value, item: Option<&str>) -> CostResult {
        CostResult {
            amount: Some(Amount {
                value: Some(value),
                currency: Some("usd".into()),
            }),
            line_item: item.map(str::to_owned),
            project_id: None,
        }
    }

    #[test]
    fn cost_sums_are_exact() {
        let results: Vec<CostResult> = (0..10)
            .map(|_| cost(serde_json::json!(0.1), Some("gpt-4o, input")))
            .chain([cost(serde_json::json!("0.2"), None)])
            .collect();
        let totals = CostTotals::from_results(&results);
        let total = totals.totals();
        assert_eq!(total.len(), 1);
        assert_eq!(total[0].amount, Decimal::new(12, 1));
        assert_eq!(total[0].currency, "USD");
        let report = totals.report(TimeWindow::last(chrono::Duration::days(1)));
        assert_eq!(report.lines.len(), 2);
        assert_eq!(report.lines[0].label, "gpt-4o, input");
        assert_eq!(report.lines[0].amount.amount, Decimal::new(1, 0));
    }

    #[test]
    fn cached_tokens_are_split_from_input() {
        let r = CompletionsResult {
            input_tokens: 100,
            input_cached_tokens: Some(30),
            output_tokens: 5,
            num_model_requests: 2,
            model: Some("gpt-4o".into()),
        };
        let u = usage_by_model([&r, &r]);
        assert_eq!(u.len(), 1);
        assert_eq!(u[0].input_tokens, 140);
        assert_eq!(u[0].cached_input_tokens, 60);
        assert_eq!(u[0].requests, Some(4));
    }
}
