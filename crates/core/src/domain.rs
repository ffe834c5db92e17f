//! Typed domain values the category traits return, so opsdeck can answer cross-provider
//! questions ("AI spend this month across OpenAI + Claude", "all deployments in the last 24 h")
//! without knowing any vendor's wire format.
//!
//! The records are `#[non_exhaustive]` so fields can be added: build them with their `new`
//! constructors (or `Default`) and set the public fields. [`TimeWindow`] is a plain range and
//! stays a literal-constructible struct.

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
    /// `[start, end)`.
    pub fn new(start: DateTime<Utc>, end: DateTime<Utc>) -> Self {
        TimeWindow { start, end }
    }

    /// The window ending now and lasting `duration`: a `std::time::Duration` or a
    /// `chrono::Duration` (a span over 100 years is capped).
    ///
    /// ```
    /// use std::time::Duration;
    /// let w = opsdeck_core::domain::TimeWindow::last(Duration::from_secs(24 * 3600));
    /// assert_eq!((w.end - w.start).num_hours(), 24);
    /// ```
    pub fn last(duration: impl WindowSpan) -> Self {
        Self::ending_at(Utc::now(), duration)
    }

    /// The window ending at `end` and lasting `duration`.
    pub fn ending_at(end: DateTime<Utc>, duration: impl WindowSpan) -> Self {
        TimeWindow {
            start: end - duration.span(),
            end,
        }
    }

    /// From the first instant of the current UTC month until now.
    pub fn month_to_date() -> Self {
        Self::month_to_date_at(Utc::now())
    }

    /// From the first instant of `now`'s UTC month until `now` (empty on the first instant).
    pub fn month_to_date_at(now: DateTime<Utc>) -> Self {
        let start = Utc
            .with_ymd_and_hms(now.year(), now.month(), 1, 0, 0, 0)
            .single()
            .unwrap_or(now);
        TimeWindow { start, end: now }
    }

    /// The full UTC calendar month before `now`'s: `[first of last month, first of this month)`.
    ///
    /// ```
    /// use chrono::{TimeZone, Utc};
    /// use opsdeck_core::domain::TimeWindow;
    /// let w = TimeWindow::previous_month(Utc.with_ymd_and_hms(2026, 1, 1, 0, 5, 0).unwrap());
    /// assert_eq!(w.start, Utc.with_ymd_and_hms(2025, 12, 1, 0, 0, 0).unwrap());
    /// assert_eq!(w.end, Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap());
    /// assert_eq!(w.month_label(), "2025-12");
    /// ```
    pub fn previous_month(now: DateTime<Utc>) -> Self {
        let end = Self::month_to_date_at(now).start;
        let (year, month) = if end.month() == 1 {
            (end.year() - 1, 12)
        } else {
            (end.year(), end.month() - 1)
        };
        let start = Utc
            .with_ymd_and_hms(year, month, 1, 0, 0, 0)
            .single()
            .unwrap_or(end);
        TimeWindow { start, end }
    }

    /// The UTC month the window starts in, `YYYY-MM` (the `month` label of previous-month
    /// metrics).
    pub fn month_label(&self) -> String {
        self.start.format("%Y-%m").to_string()
    }

    /// True when `now` falls on the first UTC day of its month (month-to-date figures are 0
    /// or nearly so, and the previous month is the figure worth reading).
    pub fn is_first_day_of_month(now: DateTime<Utc>) -> bool {
        now.day() == 1
    }
}

/// A length of time a [`TimeWindow`] can span: `std::time::Duration` (no chrono needed) or
/// `chrono::Duration`. Spans beyond 100 years are capped, so no window overflows.
pub trait WindowSpan {
    /// The span as a chrono duration, capped.
    fn span(self) -> chrono::Duration;
}

const MAX_SPAN_SECS: i64 = 100 * 366 * 86_400;

impl WindowSpan for std::time::Duration {
    fn span(self) -> chrono::Duration {
        let secs = i64::try_from(self.as_secs())
            .unwrap_or(i64::MAX)
            .min(MAX_SPAN_SECS);
        chrono::Duration::seconds(secs)
            + chrono::Duration::nanoseconds(i64::from(self.subsec_nanos()))
    }
}

impl WindowSpan for chrono::Duration {
    fn span(self) -> chrono::Duration {
        self.clamp(
            chrono::Duration::seconds(-MAX_SPAN_SECS),
            chrono::Duration::seconds(MAX_SPAN_SECS),
        )
    }
}

/// An exact amount of money in major units (dollars, euros). Never a float.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
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
#[non_exhaustive]
pub struct CostLine {
    /// What the line is for (AWS service, OpenAI line item, project, …).
    pub label: String,
    /// The amount.
    pub amount: Money,
}

/// Cost over a window.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
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
#[non_exhaustive]
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
#[non_exhaustive]
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
#[non_exhaustive]
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
#[non_exhaustive]
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
#[non_exhaustive]
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
#[non_exhaustive]
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
#[non_exhaustive]
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
#[non_exhaustive]
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
#[non_exhaustive]
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
#[non_exhaustive]
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
#[non_exhaustive]
pub struct Balance {
    /// Available funds per currency.
    pub available: Vec<Money>,
    /// Pending funds per currency.
    pub pending: Vec<Money>,
}

/// Revenue over a window (billing).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
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

impl CostLine {
    /// `amount` spent on `label`.
    pub fn new(label: impl Into<String>, amount: Money) -> Self {
        CostLine {
            label: label.into(),
            amount,
        }
    }
}

impl CostReport {
    /// Final (not estimated), uncached figures over `window`.
    pub fn new(window: TimeWindow, total: Vec<Money>, lines: Vec<CostLine>) -> Self {
        CostReport {
            window,
            total,
            lines,
            estimated: false,
            cached_at: None,
        }
    }

    /// Mark the figures as the vendor's estimate (or not).
    pub fn with_estimated(mut self, estimated: bool) -> Self {
        self.estimated = estimated;
        self
    }

    /// When the figures were fetched, when they come from a cache.
    pub fn with_cached_at(mut self, cached_at: Option<DateTime<Utc>>) -> Self {
        self.cached_at = cached_at;
        self
    }
}

impl ModelUsage {
    /// No usage yet of `model`.
    pub fn new(model: impl Into<String>) -> Self {
        ModelUsage {
            model: model.into(),
            ..ModelUsage::default()
        }
    }
}

impl AiUsage {
    /// Usage per model over `window`, with the cost when the vendor reports it.
    pub fn new(window: TimeWindow, models: Vec<ModelUsage>, cost: Option<CostReport>) -> Self {
        AiUsage {
            window,
            models,
            cost,
        }
    }
}

impl AiModel {
    /// A model known by its `id` only.
    pub fn new(id: impl Into<String>) -> Self {
        AiModel {
            id: id.into(),
            ..AiModel::default()
        }
    }
}

impl Repository {
    /// A public, active repository `owner/name` with nothing else known.
    pub fn new(full_name: impl Into<String>) -> Self {
        Repository {
            full_name: full_name.into(),
            private: false,
            archived: false,
            default_branch: None,
            url: None,
        }
    }
}

impl RepoActivity {
    /// No activity yet in `repo`.
    pub fn new(repo: impl Into<String>) -> Self {
        RepoActivity {
            repo: repo.into(),
            ..RepoActivity::default()
        }
    }
}

impl DevActivity {
    /// Activity over `window`.
    pub fn new(window: TimeWindow, repos: Vec<RepoActivity>, notes: Vec<String>) -> Self {
        DevActivity {
            window,
            repos,
            notes,
        }
    }
}

impl SprintSummary {
    /// Sprint `id` named `name`, no counts yet.
    pub fn new(id: u64, name: impl Into<String>) -> Self {
        SprintSummary {
            id,
            name: name.into(),
            ..SprintSummary::default()
        }
    }
}

impl Deployment {
    /// Deployment `id`, created at `created_at`, in `state` (the vendor's own word:
    /// `vendor_state`); project, environment and URL unknown until set.
    pub fn new(
        id: impl Into<String>,
        state: DeploymentState,
        vendor_state: impl Into<String>,
        created_at: DateTime<Utc>,
    ) -> Self {
        Deployment {
            id: id.into(),
            project: None,
            environment: None,
            state,
            vendor_state: vendor_state.into(),
            created_at,
            url: None,
        }
    }
}

impl Balance {
    /// Available and pending funds per currency.
    pub fn new(available: Vec<Money>, pending: Vec<Money>) -> Self {
        Balance { available, pending }
    }
}

impl RevenueSummary {
    /// Nothing earned yet over `window`.
    pub fn new(window: TimeWindow) -> Self {
        RevenueSummary {
            window,
            gross_volume: Vec::new(),
            charges: 0,
            refunded: Vec::new(),
            failed_payments: 0,
            active_subscriptions: 0,
            mrr: Vec::new(),
        }
    }
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
