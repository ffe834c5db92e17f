//! Typed domain values the category traits return, so opsdeck can answer cross-provider
//! questions ("AI spend this month across OpenAI + Claude", "all deployments in the last 24 h")
//! without knowing any vendor's wire format.

use std::collections::BTreeMap;

use chrono::{DateTime, Datelike, TimeZone, Utc};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

/// A half-open time range `[start, end)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct TimeWindow {
    /// Inclusive start.
    pub start: DateTime<Utc>,
    /// Exclusive end.
    pub end: DateTime<Utc>,
}

impl TimeWindow {
    /// The window ending now and lasting `duration`.
    pub fn last(duration: chrono::Duration) -> Self {
        let end = Utc::now();
        TimeWindow {
            start: end - duration,
            end,
        }
    }

    /// From the first instant of the current UTC month until now.
    pub fn month_to_date() -> Self {
        let end = Utc::now();
        let start = Utc
            .with_ymd_and_hms(end.year(), end.month(), 1, 0, 0, 0)
            .single()
            .unwrap_or(end);
        TimeWindow { start, end }
    }
}

/// An exact amount of money in major units (dollars, euros). Never a float.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Money {
    /// Amount in major units.
    pub amount: Decimal,
    /// Uppercase ISO 4217 code.
    pub currency: String,
}

/// ISO 4217 currencies without minor units (Stripe's list of zero-decimal currencies).
const ZERO_DECIMAL: &[&str] = &[
    "BIF", "CLP", "DJF", "GNF", "JPY", "KMF", "KRW", "MGA", "PYG", "RWF", "UGX", "VND", "VUV",
    "XAF", "XOF", "XPF",
];

impl Money {
    /// `amount` in major units of `currency`.
    pub fn new(amount: Decimal, currency: &str) -> Self {
        Money {
            amount,
            currency: currency.to_ascii_uppercase(),
        }
    }

    /// From minor units (cents): exact, and aware of zero-decimal currencies.
    pub fn from_minor(minor: i64, currency: &str) -> Self {
        let code = currency.to_ascii_uppercase();
        let scale = if ZERO_DECIMAL.contains(&code.as_str()) {
            0
        } else {
            2
        };
        Money {
            amount: Decimal::new(minor, scale),
            currency: code,
        }
    }
}

/// Sum amounts per currency, exactly.
pub fn sum_by_currency<'a>(items: impl IntoIterator<Item = &'a Money>) -> Vec<Money> {
    let mut sums: BTreeMap<String, Decimal> = BTreeMap::new();
    for m in items {
        *sums.entry(m.currency.clone()).or_default() += m.amount;
    }
    sums.into_iter()
        .map(|(currency, amount)| Money { amount, currency })
        .collect()
}

/// One line of a cost breakdown.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CostLine {
    /// What the line is for (AWS service, OpenAI line item, project, …).
    pub label: String,
    /// The amount.
    pub amount: Money,
}

/// Cost over a window.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CostReport {
    /// The window the figures cover.
    pub window: TimeWindow,
    /// Totals, one per currency.
    pub total: Vec<Money>,
    /// Breakdown lines.
    pub lines: Vec<CostLine>,
    /// The vendor marks the figures as estimates (not final billing data).
    pub estimated: bool,
    /// When the figures were fetched, if they come from a cache.
    pub cached_at: Option<DateTime<Utc>>,
}

/// Token usage of one model.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ModelUsage {
    /// Model id.
    pub model: String,
    /// Input tokens (uncached).
    pub input_tokens: u64,
    /// Input tokens served from cache.
    pub cached_input_tokens: u64,
    /// Output tokens.
    pub output_tokens: u64,
    /// Requests, when the vendor reports them.
    pub requests: Option<u64>,
}

/// AI usage and cost over a window.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AiUsage {
    /// The window.
    pub window: TimeWindow,
    /// Usage per model.
    pub models: Vec<ModelUsage>,
    /// Cost over the same window, when the vendor reports it.
    pub cost: Option<CostReport>,
}

/// An AI model available to the credentials.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AiModel {
    /// Model id as used in API calls.
    pub id: String,
    /// Display name.
    pub display_name: Option<String>,
    /// Maximum input tokens.
    pub input_token_limit: Option<u64>,
    /// Maximum output tokens.
    pub output_token_limit: Option<u64>,
}

/// A source repository.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Repository {
    /// `owner/name`.
    pub full_name: String,
    /// Private or internal.
    pub private: bool,
    /// Archived (read-only).
    pub archived: bool,
    /// Default branch.
    pub default_branch: Option<String>,
    /// Web URL.
    pub url: Option<String>,
}

/// Activity of one repository over a window.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RepoActivity {
    /// `owner/name`.
    pub repo: String,
    /// Open issues now (pull requests excluded).
    pub open_issues: u64,
    /// Open pull requests now.
    pub open_pull_requests: u64,
    /// Workflow runs created in the window, by conclusion (`success`, `failure`, …,
    /// `in_progress` for unfinished runs).
    pub workflow_runs: BTreeMap<String, u64>,
    /// Deployments created in the window.
    pub deployments: u64,
}

/// Development activity over a window.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DevActivity {
    /// The window.
    pub window: TimeWindow,
    /// Per repository.
    pub repos: Vec<RepoActivity>,
    /// Remarks (e.g. the repository list was capped).
    pub notes: Vec<String>,
}

/// Issue-tracker summary.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct IssueSummary {
    /// Open issues per status category (`To Do`, `In Progress`, …).
    pub open_by_status_category: BTreeMap<String, u64>,
    /// Open issues per project key.
    pub open_by_project: BTreeMap<String, u64>,
    /// Issues created in the window.
    pub created: u64,
    /// Issues resolved in the window.
    pub resolved: u64,
    /// The active sprint, when a board is configured and has one.
    pub active_sprint: Option<SprintSummary>,
}

/// An active sprint and its issue counts.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SprintSummary {
    /// Sprint id.
    pub id: u64,
    /// Sprint name.
    pub name: String,
    /// Issue counts per status category.
    pub issues_by_status_category: BTreeMap<String, u64>,
    /// Planned end.
    pub end_date: Option<DateTime<Utc>>,
}

/// Normalised deployment state across vendors.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DeploymentState {
    /// Live / successful.
    Succeeded,
    /// Build or deploy failed.
    Failed,
    /// Deployed, then crashed.
    Crashed,
    /// Queued, building or deploying.
    InProgress,
    /// Cancelled or skipped.
    Canceled,
    /// Removed, sleeping, inactive or anything else.
    Other,
}

/// A deployment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Deployment {
    /// Vendor id.
    pub id: String,
    /// Project / repository / app name.
    pub project: Option<String>,
    /// Environment or target (production, preview, …).
    pub environment: Option<String>,
    /// Normalised state.
    pub state: DeploymentState,
    /// The vendor's own state string.
    pub vendor_state: String,
    /// Creation time.
    pub created_at: DateTime<Utc>,
    /// URL, if any.
    pub url: Option<String>,
}

/// Monitor states (observability).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct MonitorSummary {
    /// Monitors per overall state (`OK`, `Warn`, `Alert`, `No Data`, …).
    pub by_state: BTreeMap<String, u64>,
    /// Muted monitors.
    pub muted: u64,
    /// All monitors.
    pub total: u64,
}

/// Account balance (billing).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Balance {
    /// Available funds per currency.
    pub available: Vec<Money>,
    /// Pending funds per currency.
    pub pending: Vec<Money>,
}

/// Revenue over a window (billing).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RevenueSummary {
    /// The window.
    pub window: TimeWindow,
    /// Gross volume of successful charges per currency.
    pub gross_volume: Vec<Money>,
    /// Successful charges.
    pub charges: u64,
    /// Refunded amounts per currency.
    pub refunded: Vec<Money>,
    /// Failed payments.
    pub failed_payments: u64,
    /// Active subscriptions now.
    pub active_subscriptions: u64,
    /// Monthly recurring revenue per currency.
    pub mrr: Vec<Money>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn minor_units_are_exact_and_currency_aware() {
        assert_eq!(
            Money::from_minor(12345, "usd").amount,
            Decimal::new(12345, 2)
        );
        assert_eq!(Money::from_minor(500, "jpy").amount, Decimal::new(500, 0));
        let total = sum_by_currency(&[
            Money::from_minor(1, "usd"),
            Money::from_minor(2, "usd"),
            Money::from_minor(3, "eur"),
        ]);
        assert_eq!(total.len(), 2);
        assert_eq!(total[1].amount, Decimal::new(3, 2));
    }
}
