//! Budgets (`[budgets.*]`): monthly cost limits over a set of services, with thresholds in % of
//! the month-to-date spend and in % of the month-end forecast, each firing once per budget per
//! UTC calendar month.
//!
//! ```toml
//! [budgets.ai-spend]
//! category = "ai"               # or providers = [...], services = [...] (globs), tags = [...]
//! monthly_limit = 500
//! currency = "USD"
//! thresholds = [50, 80, 100]    # % of month-to-date spend (default [100])
//! forecast_thresholds = [100]   # % of the month-end forecast (default none)
//! channels = ["team-slack"]
//! ```
//!
//! **Spend** is the exact decimal sum of the month-to-date cost each matching service reports
//! in the budget's currency. A service that cannot report cost, reports another currency (no
//! conversion is made) or reports figures of another month is listed in
//! [`BudgetStatus::not_counted`], never counted as zero silently.
//!
//! **Forecast** (month end), per counted service: the provider's own month-end forecast where it
//! gives one (e.g. AWS Cost Explorer), never below what is already spent; otherwise the run-rate
//! `spent × month_length ÷ elapsed`, where `elapsed` is the time since the month began. The
//! budget's forecast is the sum; it is unknown during the first two days of a month (a run-rate
//! from a few hours of data swings wildly), unless every service has a provider forecast.
//!
//! **Reach date**: at the month's average rate so far, the budget is reached at
//! `month_start + elapsed × limit ÷ spent`; reported when that falls within the month.

use std::collections::BTreeSet;

use chrono::NaiveDate;
use opsdeck_core::domain::{CostReport, Money};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use crate::alerts::{check_channels, check_name, required};
use crate::config::{Fields, Problem};
use crate::scope::{Scope, ServiceRef};
use crate::time::{DAY_MS, Month, utc_date};

/// Least time into a month before a run-rate forecast is made.
pub const MIN_FORECAST_ELAPSED_MS: i64 = 2 * DAY_MS;

/// One `[budgets.<name>]` entry.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Budget {
    /// The table key.
    #[serde(skip)]
    pub name: String,
    /// Which services.
    #[serde(flatten)]
    pub scope: Scope,
    /// Limit per UTC calendar month, in `currency`.
    pub monthly_limit: Decimal,
    /// Uppercase ISO 4217 code.
    pub currency: String,
    /// Thresholds in % of month-to-date spend, ascending.
    pub thresholds: Vec<Decimal>,
    /// Thresholds in % of the month-end forecast, ascending.
    pub forecast_thresholds: Vec<Decimal>,
    /// Channel names.
    pub channels: Vec<String>,
}

impl Budget {
    /// Parses one entry, recording every problem.
    pub fn parse(
        name: &str,
        value: &serde_json::Value,
        known_channels: &BTreeSet<String>,
        problems: &mut Vec<Problem>,
    ) -> Option<Budget> {
        const T: &str = "budgets";
        let before = problems.len();
        check_name(T, name, problems);
        let mut f = Fields::new(T, name, value, problems)?;
        let scope_given = ["services", "tags", "providers", "category"]
            .iter()
            .any(|k| f.has(k));
        let scope = Scope::read(&mut f, true);
        if !scope_given {
            f.entry_problem("says no services: set category, providers, services (globs) or tags");
        }
        let limit = required(&mut f, "monthly_limit", |f| f.decimal("monthly_limit"));
        if limit.is_some_and(|l| l <= Decimal::ZERO) {
            f.problem("monthly_limit", "must be greater than zero");
        }
        let currency = required(&mut f, "currency", |f| f.string("currency"));
        if let Some(c) = &currency
            && !(c.len() == 3 && c.chars().all(|ch| ch.is_ascii_alphabetic()))
        {
            f.problem(
                "currency",
                format!("must be a three-letter ISO 4217 code such as \"USD\", found \"{c}\""),
            );
        }
        let percents = |f: &mut Fields<'_>, field: &str, default: Vec<Decimal>| -> Vec<Decimal> {
            if !f.has(field) {
                return default;
            }
            let mut list = f.decimals(field).unwrap_or_default();
            if list
                .iter()
                .any(|p| *p <= Decimal::ZERO || *p > Decimal::from(1000))
            {
                f.problem(
                    field,
                    "each threshold must be a percentage above 0 and at most 1000",
                );
            }
            list.sort();
            list.dedup();
            list
        };
        let thresholds = percents(&mut f, "thresholds", vec![Decimal::from(100)]);
        let forecast_thresholds = percents(&mut f, "forecast_thresholds", Vec::new());
        if thresholds.is_empty() && forecast_thresholds.is_empty() {
            f.entry_problem("has no thresholds: set thresholds and/or forecast_thresholds");
        }
        let channels = required(&mut f, "channels", |f| f.strings("channels")).unwrap_or_default();
        check_channels(&mut f, &channels, known_channels);
        f.finish(&[
            "category",
            "providers",
            "services",
            "tags",
            "monthly_limit",
            "currency",
            "thresholds",
            "forecast_thresholds",
            "channels",
        ]);
        if problems.len() > before {
            return None;
        }
        Some(Budget {
            name: name.to_owned(),
            scope,
            monthly_limit: limit?,
            currency: currency?.to_ascii_uppercase(),
            thresholds,
            forecast_thresholds,
            channels,
        })
    }
}

/// What one service says about its cost this month.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum CostFigure {
    /// Month-to-date figures (one per currency) and, where the provider forecasts, its
    /// month-end forecast.
    Reported {
        /// Month-to-date totals per currency.
        month_to_date: Vec<Money>,
        /// The provider's month-end forecast per currency (empty when it gives none).
        #[serde(default)]
        forecast_month_end: Vec<Money>,
        /// When the figures were current (their month must be the budget's).
        as_of_ms: i64,
    },
    /// The service cannot report cost (no cost ability, or the call failed).
    Unavailable {
        /// Why, for the budget's status.
        reason: String,
    },
}

impl CostFigure {
    /// From a month-to-date [`CostReport`] (as `ServiceManager::costs(TimeWindow::month_to_date())`
    /// returns): its totals, current as of the window's end (or its cache time).
    pub fn from_report(report: &CostReport) -> Self {
        CostFigure::Reported {
            month_to_date: report.total.clone(),
            forecast_month_end: Vec::new(),
            as_of_ms: report
                .cached_at
                .unwrap_or(report.window.end)
                .timestamp_millis(),
        }
    }

    /// Adds the provider's month-end forecast.
    pub fn with_forecast(mut self, forecast: Money) -> Self {
        if let CostFigure::Reported {
            forecast_month_end, ..
        } = &mut self
        {
            forecast_month_end.push(forecast);
        }
        self
    }
}

/// A service left out of the spend, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NotCounted {
    /// Service name.
    pub service: String,
    /// Why.
    pub reason: String,
}

/// How the forecast was made.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ForecastMethod {
    /// Every counted service's provider forecast.
    Provider,
    /// Run-rate for every counted service.
    RunRate,
    /// Provider forecasts where given, run-rate for the rest.
    Mixed,
    /// No forecast (too early in the month, or nothing counted).
    None,
}

/// The budget's standing now (the budget page, and the figures in a firing).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BudgetStatus {
    /// Budget name.
    pub budget: String,
    /// The UTC month.
    pub month: Month,
    /// Currency.
    pub currency: String,
    /// Monthly limit.
    pub limit: Decimal,
    /// Month-to-date spend of the counted services.
    pub spent: Decimal,
    /// Month-end forecast.
    pub forecast: Option<Decimal>,
    /// How the forecast was made.
    pub forecast_method: ForecastMethod,
    /// The month's average spend per day so far.
    pub daily_run_rate: Option<Decimal>,
    /// When the budget is reached at that rate, if within the month.
    pub reach_date: Option<NaiveDate>,
    /// Services whose spend is counted.
    pub counted: Vec<String>,
    /// Services left out, with the reason.
    pub not_counted: Vec<NotCounted>,
}

/// Which kind of threshold.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ThresholdKind {
    /// % of month-to-date spend.
    Actual,
    /// % of the month-end forecast.
    Forecast,
}

/// A threshold crossed (one per threshold per month): record it and notify the channels.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BudgetFiring {
    /// Budget name.
    pub budget: String,
    /// The threshold, percent.
    pub threshold: Decimal,
    /// Actual or forecast.
    pub kind: ThresholdKind,
    /// Spent so far.
    pub spent: Decimal,
    /// Month-end forecast.
    pub forecast: Option<Decimal>,
    /// Limit.
    pub limit: Decimal,
    /// Currency.
    pub currency: String,
    /// Month.
    pub month: Month,
    /// When the budget is reached at the current rate.
    pub reach_date: Option<NaiveDate>,
    /// When it fired.
    pub at_ms: i64,
    /// In words.
    pub message: String,
}

/// Which thresholds fired this month. Persist per budget; a new month starts empty.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct BudgetState {
    /// The month the sets refer to.
    pub month: Option<Month>,
    /// Actual thresholds fired.
    #[serde(default)]
    pub fired_actual: BTreeSet<Decimal>,
    /// Forecast thresholds fired.
    #[serde(default)]
    pub fired_forecast: BTreeSet<Decimal>,
}

/// Evaluates a budget at `now_ms` over the cost figures of the services (those out of the
/// budget's scope are ignored).
pub fn evaluate_budget(
    budget: &Budget,
    state: &BudgetState,
    costs: &[(ServiceRef<'_>, CostFigure)],
    now_ms: i64,
) -> (BudgetState, BudgetStatus, Vec<BudgetFiring>) {
    let month = Month::containing_ms(now_ms).unwrap_or(Month {
        year: 1970,
        month: 1,
    });
    let start = month.start_ms().unwrap_or(now_ms);
    let month_len = month.end_ms().unwrap_or(now_ms) - start;
    let elapsed = (now_ms - start).max(1);
    let mut spent = Decimal::ZERO;
    let mut forecast = Some(Decimal::ZERO);
    let (mut by_provider, mut by_rate) = (0, 0);
    let mut counted = Vec::new();
    let mut not_counted = Vec::new();
    let cur = budget.currency.as_str();
    for (svc, figure) in costs.iter().filter(|(s, _)| budget.scope.matches(s)) {
        let reason = match figure {
            CostFigure::Unavailable { reason } => Some(reason.clone()),
            CostFigure::Reported { as_of_ms, .. }
                if Month::containing_ms(*as_of_ms) != Some(month) =>
            {
                Some(format!(
                    "its cost figures are from {}, not {month}",
                    Month::containing_ms(*as_of_ms)
                        .map_or_else(|| "an unknown month".into(), |m| m.to_string())
                ))
            }
            CostFigure::Reported { month_to_date, .. }
                if !month_to_date.iter().any(|m| m.currency == cur) =>
            {
                Some(format!(
                    "it reports cost in {}, the budget is in {cur} (no conversion is made)",
                    if month_to_date.is_empty() {
                        "no currency".to_owned()
                    } else {
                        month_to_date
                            .iter()
                            .map(|m| m.currency.clone())
                            .collect::<Vec<_>>()
                            .join(", ")
                    }
                ))
            }
            CostFigure::Reported { .. } => None,
        };
        if let Some(reason) = reason {
            not_counted.push(NotCounted {
                service: svc.name.to_owned(),
                reason,
            });
            continue;
        }
        let CostFigure::Reported {
            month_to_date,
            forecast_month_end,
            ..
        } = figure
        else {
            continue;
        };
        let s: Decimal = month_to_date
            .iter()
            .filter(|m| m.currency == cur)
            .map(|m| m.amount)
            .sum();
        spent += s;
        counted.push(svc.name.to_owned());
        let provider = forecast_month_end
            .iter()
            .find(|m| m.currency == cur)
            .map(|m| m.amount.max(s));
        let f = match provider {
            Some(p) => {
                by_provider += 1;
                Some(p)
            }
            None if elapsed >= MIN_FORECAST_ELAPSED_MS => {
                by_rate += 1;
                Some(s * Decimal::from(month_len) / Decimal::from(elapsed))
            }
            None => None,
        };
        forecast = forecast.zip(f).map(|(a, b)| a + b);
    }
    let forecast_method = match (
        forecast.is_some() && !counted.is_empty(),
        by_provider,
        by_rate,
    ) {
        (false, _, _) => ForecastMethod::None,
        (true, p, 0) if p > 0 => ForecastMethod::Provider,
        (true, 0, _) => ForecastMethod::RunRate,
        _ => ForecastMethod::Mixed,
    };
    let forecast = forecast
        .filter(|_| forecast_method != ForecastMethod::None)
        .map(|f| f.round_dp(2));
    let early = elapsed < MIN_FORECAST_ELAPSED_MS;
    let daily_run_rate = (!early || spent >= budget.monthly_limit)
        .then(|| (spent * Decimal::from(DAY_MS) / Decimal::from(elapsed)).round_dp(2));
    let reach_date = if spent > Decimal::ZERO && (!early || spent >= budget.monthly_limit) {
        let offset = Decimal::from(elapsed) * budget.monthly_limit / spent;
        use rust_decimal::prelude::ToPrimitive;
        offset
            .floor()
            .to_i64()
            .map(|o| start + o)
            .filter(|at| *at < start + month_len)
            .and_then(utc_date)
    } else {
        None
    };
    let status = BudgetStatus {
        budget: budget.name.clone(),
        month,
        currency: budget.currency.clone(),
        limit: budget.monthly_limit,
        spent,
        forecast,
        forecast_method,
        daily_run_rate,
        reach_date,
        counted,
        not_counted,
    };

    let mut next = if state.month == Some(month) {
        state.clone()
    } else {
        BudgetState {
            month: Some(month),
            ..BudgetState::default()
        }
    };
    let mut firings = Vec::new();
    let pct = |v: Decimal| v * Decimal::from(100) / budget.monthly_limit;
    for &t in &budget.thresholds {
        if pct(spent) >= t && next.fired_actual.insert(t) {
            firings.push(firing(budget, &status, t, ThresholdKind::Actual, now_ms));
        }
    }
    if let Some(f) = forecast {
        for &t in &budget.forecast_thresholds {
            if pct(f) >= t && next.fired_forecast.insert(t) {
                firings.push(firing(budget, &status, t, ThresholdKind::Forecast, now_ms));
            }
        }
    }
    (next, status, firings)
}

fn firing(
    budget: &Budget,
    st: &BudgetStatus,
    threshold: Decimal,
    kind: ThresholdKind,
    now_ms: i64,
) -> BudgetFiring {
    let cur = &st.currency;
    let money = |d: Decimal| format!("{:.2} {cur}", d);
    let what = match kind {
        ThresholdKind::Actual => format!("{threshold} % of the monthly budget spent"),
        ThresholdKind::Forecast => {
            format!("forecast to reach {threshold} % of the monthly budget by month end")
        }
    };
    let forecast = match (st.forecast, st.forecast_method) {
        (Some(f), ForecastMethod::Provider) => format!("forecast {} (provider forecast)", money(f)),
        (Some(f), ForecastMethod::Mixed) => format!(
            "forecast {} (provider forecasts, run-rate for the rest)",
            money(f)
        ),
        (Some(f), _) => format!(
            "forecast {} (run-rate: spend so far × days in month ÷ days elapsed)",
            money(f)
        ),
        (None, _) => "no forecast yet (less than two days into the month)".to_owned(),
    };
    let reach = match st.reach_date {
        Some(d) if st.spent >= st.limit => format!("; the budget was reached around {d}"),
        Some(d) => format!("; at the current rate the budget is reached on {d}"),
        None => "; at the current rate the budget is not reached this month".to_owned(),
    };
    let missing = if st.not_counted.is_empty() {
        String::new()
    } else {
        format!(
            " Not counted: {}.",
            st.not_counted
                .iter()
                .map(|n| format!("{} ({})", n.service, n.reason))
                .collect::<Vec<_>>()
                .join("; ")
        )
    };
    BudgetFiring {
        budget: budget.name.clone(),
        threshold,
        kind,
        spent: st.spent,
        forecast: st.forecast,
        limit: st.limit,
        currency: st.currency.clone(),
        month: st.month,
        reach_date: st.reach_date,
        at_ms: now_ms,
        message: format!(
            "Budget {}: {what} — spent {} of {} in {}; {forecast}{reach}.{missing}",
            budget.name,
            money(st.spent),
            money(st.limit),
            st.month
        ),
    }
}

#[cfg(test)]
mod tests {
    use chrono::{TimeZone, Utc};
    use opsdeck_core::Category;
    use serde_json::json;

    use super::*;

    fn at(y: i32, m: u32, d: u32) -> i64 {
        Utc.with_ymd_and_hms(y, m, d, 0, 0, 0)
            .single()
            .map(|t| t.timestamp_millis())
            .unwrap_or_default()
    }

    fn usd(s: &str, as_of_ms: i64) -> CostFigure {
        CostFigure::Reported {
            month_to_date: vec![Money::new(s.parse().unwrap_or_default(), "USD")],
            forecast_month_end: vec![],
            as_of_ms,
        }
    }

    fn budget() -> Budget {
        let mut p = Vec::new();
        let channels = BTreeSet::from(["team-slack".to_string()]);
        let b = Budget::parse(
            "ai-spend",
            &json!({"category": "ai", "monthly_limit": 500, "currency": "usd", "thresholds": [100, 50, 80], "forecast_thresholds": [100], "channels": ["team-slack"]}),
            &channels,
            &mut p,
        );
        b.unwrap_or_else(|| panic!("{p:?}"))
    }

    #[test]
    fn thresholds_fire_once_each_per_month_and_reset() {
        let b = budget();
        assert_eq!(b.currency, "USD");
        assert_eq!(
            b.thresholds,
            vec![Decimal::from(50), Decimal::from(80), Decimal::from(100)]
        );
        let tags: Vec<String> = vec![];
        let ai = |name: &'static str| ServiceRef {
            name,
            provider: "x",
            tags: &tags,
            category: Some(Category::Ai),
        };
        let dev = ServiceRef {
            name: "gh",
            provider: "github",
            tags: &tags,
            category: Some(Category::Development),
        };
        let mut state = BudgetState::default();
        let mut fired = Vec::new();
        // (day of December 2026, openai, claude)
        for (day, a, c) in [
            (11, "120", "80"),
            (12, "125", "80"),
            (16, "160", "100"),
            (21, "250", "160"),
            (26, "300", "210"),
            (27, "320", "220"),
        ] {
            let now = at(2026, 12, day);
            let costs = vec![
                (ai("openai"), usd(a, now)),
                (ai("claude"), usd(c, now)),
                (
                    ai("gemini"),
                    CostFigure::Unavailable {
                        reason: "no cost API".into(),
                    },
                ),
                (dev, usd("9999", now)),
            ];
            let (next, status, f) = evaluate_budget(&b, &state, &costs, now);
            state = next;
            if day == 11 {
                // Hand-computed: 200 spent after 10 of 31 days → run-rate 200 × 31 ÷ 10 = 620;
                // 20/day; 500 reached after 10 × 500 ÷ 200 = 25 days → 2026-12-26.
                assert_eq!(status.spent, Decimal::from(200));
                assert_eq!(status.forecast, Some(Decimal::from(620)));
                assert_eq!(status.forecast_method, ForecastMethod::RunRate);
                assert_eq!(status.daily_run_rate, Some(Decimal::from(20)));
                assert_eq!(status.reach_date, NaiveDate::from_ymd_opt(2026, 12, 26));
                assert_eq!(status.counted, ["openai", "claude"]);
                assert_eq!(
                    status.not_counted,
                    vec![NotCounted {
                        service: "gemini".into(),
                        reason: "no cost API".into()
                    }]
                );
                let msg = &f[0].message;
                assert!(msg.contains("forecast 620.00 USD (run-rate"), "{msg}");
                assert!(msg.contains("reached on 2026-12-26"), "{msg}");
                assert!(msg.contains("gemini (no cost API)"), "{msg}");
            }
            fired.extend(f.into_iter().map(|f| (day, f.kind, f.threshold)));
        }
        let d = Decimal::from;
        assert_eq!(
            fired,
            vec![
                (11, ThresholdKind::Forecast, d(100)),
                (16, ThresholdKind::Actual, d(50)),
                (21, ThresholdKind::Actual, d(80)),
                (26, ThresholdKind::Actual, d(100)),
            ]
        );
        // January: the state resets; two days in, the run-rate forecast fires again.
        let now = at(2027, 1, 1) + 3_600_000;
        let (state, status, f) = evaluate_budget(&b, &state, &[(ai("openai"), usd("5", now))], now);
        assert!(f.is_empty());
        assert_eq!(status.forecast, None, "too early in the month");
        assert_eq!(state.month, Month::parse("2027-01"));
        let now = at(2027, 1, 3);
        let (_, status, f) = evaluate_budget(&b, &state, &[(ai("openai"), usd("40", now))], now);
        assert_eq!(status.forecast, Some(Decimal::from(620)));
        assert_eq!(
            f.iter().map(|f| f.kind).collect::<Vec<_>>(),
            vec![ThresholdKind::Forecast]
        );
    }

    #[test]
    fn provider_forecasts_currencies_and_stale_months() {
        let b = budget();
        let tags: Vec<String> = vec![];
        let svc = |name: &'static str| ServiceRef {
            name,
            provider: "x",
            tags: &tags,
            category: Some(Category::Ai),
        };
        let now = at(2026, 12, 11);
        let costs = vec![
            (
                svc("a"),
                usd("100", now).with_forecast(Money::new(Decimal::from(450), "USD")),
            ),
            (svc("b"), usd("100", now)),
            (
                svc("eur"),
                CostFigure::Reported {
                    month_to_date: vec![Money::new(Decimal::from(5), "EUR")],
                    forecast_month_end: vec![],
                    as_of_ms: now,
                },
            ),
            (svc("old"), usd("100", at(2026, 11, 30))),
        ];
        let (_, status, _) = evaluate_budget(&b, &BudgetState::default(), &costs, now);
        // 450 (provider) + 100 × 31 ÷ 10 = 760.
        assert_eq!(status.forecast, Some(Decimal::from(760)));
        assert_eq!(status.forecast_method, ForecastMethod::Mixed);
        let reasons: Vec<_> = status
            .not_counted
            .iter()
            .map(|n| n.reason.clone())
            .collect();
        assert_eq!(
            reasons,
            [
                "it reports cost in EUR, the budget is in USD (no conversion is made)",
                "its cost figures are from 2026-11, not 2026-12"
            ]
        );
    }

    #[test]
    fn every_budget_problem_at_once() {
        let mut p = Vec::new();
        let b = Budget::parse(
            "b",
            &json!({"category": "food", "monthly_limit": -1, "currency": "dollars", "thresholds": [0], "channels": ["nope"]}),
            &BTreeSet::new(),
            &mut p,
        );
        assert!(b.is_none());
        let fields: Vec<_> = p.iter().filter_map(|p| p.field.clone()).collect();
        assert_eq!(
            fields,
            [
                "category",
                "monthly_limit",
                "currency",
                "thresholds",
                "channels"
            ]
        );
    }
}
