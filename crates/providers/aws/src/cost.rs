//! Cost Explorer queries and their cache.
//!
//! Every Cost Explorer request costs $0.01 (each page counts), and AWS refreshes cost data only
//! a few times a day, so results are cached per service instance for `cost_cache_ttl`. The
//! requests are made one after another in a fixed order (month-to-date by service, then daily
//! totals, then the forecast): that keeps a collection at the minimum number of paid requests
//! and makes the sequence deterministic, which the AWS emulator used in tests relies on.
//!
//! Amounts are decimal strings (`"123.4567891234"`) and are summed as exact decimals.

use std::collections::{BTreeMap, HashMap};
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use aws_sdk_costexplorer::operation::get_cost_and_usage::GetCostAndUsageOutput;
use aws_sdk_costexplorer::types::{
    DateInterval, Granularity, GroupDefinition, GroupDefinitionType, Metric as CeMetric,
    MetricValue,
};
use chrono::{DateTime, Datelike, Months, NaiveDate, Utc};
use opsdeck_core::http::{Page, Paged, Paging, paginate};
use opsdeck_core::rust_decimal::Decimal;
use opsdeck_core::{Error, Result};
use tokio::sync::OnceCell;
use tokio::time::Instant;

use crate::client::{Api, AwsClient};

/// The cost metric requested from Cost Explorer (what the bill shows before discounts are
/// amortised).
pub const COST_METRIC: &str = "UnblendedCost";

/// Stop following `NextPageToken` after this many pages: each page costs money, and a
/// by-service breakdown of one period never needs more than a handful. Reaching it (or a
/// repeated token, the deadline, a failing later page) keeps what was read, with a note.
const MAX_PAGES: usize = 20;

/// Cost of each AWS service over a period, summed over all result periods.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ServiceCosts {
    /// Service name (as Cost Explorer spells it) → amount.
    pub by_service: BTreeMap<String, Decimal>,
    /// Currency code reported by Cost Explorer (USD).
    pub currency: String,
    /// AWS marked at least one period as estimated.
    pub estimated: bool,
    /// Why the figures are partial (pages left unread), if they are.
    pub note: Option<String>,
}

impl ServiceCosts {
    /// Sum over all services.
    pub fn total(&self) -> Decimal {
        self.by_service.values().copied().sum()
    }
}

/// Total cost of one day.
#[derive(Debug, Clone, PartialEq)]
pub struct DailyCost {
    /// The day (UTC).
    pub date: NaiveDate,
    /// Amount.
    pub amount: Decimal,
    /// AWS marked the figure as estimated.
    pub estimated: bool,
}

/// Everything one metrics collection reports, as fetched at one moment.
#[derive(Debug, Clone)]
pub struct CostSnapshot {
    /// When the figures were fetched.
    pub fetched_at: DateTime<Utc>,
    /// The UTC day the figures are for ("today" when fetched).
    pub day: NaiveDate,
    /// Month-to-date by service; `None` on the 1st, when the period is empty.
    pub month_to_date: Option<ServiceCosts>,
    /// The last 7 full days.
    pub daily: Vec<DailyCost>,
    /// Currency of the daily figures.
    pub daily_currency: String,
    /// Forecast from today to the end of the month, or why there is none.
    pub forecast: std::result::Result<(Decimal, String), String>,
    /// Why the daily figures are partial (pages left unread), if they are.
    pub daily_note: Option<String>,
    /// The previous full calendar month by service, or the problem that kept it out (a
    /// section of its own: the current month's figures stand without it).
    pub previous_month: std::result::Result<ServiceCosts, opsdeck_core::MetricProblem>,
}

/// The UTC calendar days a snapshot covers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Periods {
    /// Today (UTC).
    pub today: NaiveDate,
    /// First day of this month.
    pub month_start: NaiveDate,
    /// First day of next month.
    pub next_month: NaiveDate,
    /// First of the last 7 full days.
    pub week_start: NaiveDate,
    /// First day of the previous month.
    pub previous_month_start: NaiveDate,
}

impl Periods {
    /// The periods for `today`.
    pub fn for_day(today: NaiveDate) -> Self {
        let month_start = today.with_day(1).unwrap_or(today);
        let next_month = month_start
            .checked_add_months(Months::new(1))
            .unwrap_or(today);
        let week_start = today
            .checked_sub_days(chrono::Days::new(7))
            .unwrap_or(today);
        let previous_month_start = month_start
            .checked_sub_months(Months::new(1))
            .unwrap_or(month_start);
        Periods {
            today,
            month_start,
            next_month,
            week_start,
            previous_month_start,
        }
    }
}

fn ymd(d: NaiveDate) -> String {
    d.format("%Y-%m-%d").to_string()
}

fn interval(start: NaiveDate, end: NaiveDate) -> Result<DateInterval> {
    DateInterval::builder()
        .start(ymd(start))
        .end(ymd(end))
        .build()
        .map_err(|e| Error::invalid_config(format!("bad Cost Explorer period: {e}")))
}

/// Parse a Cost Explorer amount exactly (plain or scientific notation).
pub fn parse_amount(raw: &str) -> Result<Decimal> {
    let raw = raw.trim();
    Decimal::from_str(raw)
        .or_else(|_| Decimal::from_scientific(raw))
        .map_err(|_| {
            Error::invalid_response(format!(
                "AWS Cost Explorer returned an amount that is not a number: {raw:?}."
            ))
        })
}

fn amount_of(value: Option<&MetricValue>) -> Result<(Decimal, Option<String>)> {
    match value {
        Some(v) => {
            let amount = match v.amount() {
                Some(a) => parse_amount(a)?,
                None => Decimal::ZERO,
            };
            Ok((amount, v.unit().map(str::to_owned)))
        }
        None => Ok((Decimal::ZERO, None)),
    }
}

/// The pages of one `GetCostAndUsage` query, following `NextPageToken` through the shared
/// pagination driver.
async fn cost_and_usage_pages(
    client: &AwsClient,
    what: &'static str,
    period: &DateInterval,
    granularity: Granularity,
    by_service: bool,
) -> Result<Paged<GetCostAndUsageOutput>> {
    let ce = client.ce().await?;
    let granularity = &granularity;
    paginate(
        &Paging::new(what, MAX_PAGES),
        |token: Option<String>| async move {
            let resp = client
                .call(Api::CostExplorer, "ce:GetCostAndUsage", || {
                    let mut req = ce
                        .get_cost_and_usage()
                        .time_period(period.clone())
                        .granularity(granularity.clone())
                        .metrics(COST_METRIC)
                        .set_next_page_token(token.clone());
                    if by_service {
                        req = req.group_by(
                            GroupDefinition::builder()
                                .r#type(GroupDefinitionType::Dimension)
                                .key("SERVICE")
                                .build(),
                        );
                    }
                    req.send()
                })
                .await?;
            let next = resp
                .next_page_token()
                .filter(|t| !t.is_empty())
                .map(str::to_owned);
            let periods = resp.results_by_time().len();
            Ok(Page::new(vec![resp], next).counting(periods))
        },
    )
    .await
}

/// Cost per AWS service over `[start, end)`, following every page.
pub async fn costs_by_service(
    client: &AwsClient,
    start: NaiveDate,
    end: NaiveDate,
) -> Result<ServiceCosts> {
    let period = interval(start, end)?;
    let pages = cost_and_usage_pages(
        client,
        "result periods of the cost by service",
        &period,
        Granularity::Monthly,
        true,
    )
    .await?;
    let mut out = ServiceCosts {
        currency: "USD".to_owned(),
        note: pages.note(),
        ..ServiceCosts::default()
    };
    let mut currency_seen = false;
    for result in pages.items.iter().flat_map(|r| r.results_by_time()) {
        out.estimated |= result.estimated();
        for group in result.groups() {
            let name = match group.keys() {
                [] => "(no service)".to_owned(),
                keys => keys.join(" / "),
            };
            let (amount, unit) = amount_of(group.metrics().and_then(|m| m.get(COST_METRIC)))?;
            if let Some(u) = unit
                && !currency_seen
            {
                out.currency = u;
                currency_seen = true;
            }
            *out.by_service.entry(name).or_default() += amount;
        }
    }
    Ok(out)
}

/// Total cost of each day in `[start, end)`, its currency, and why it is partial (if it is).
pub async fn daily_totals(
    client: &AwsClient,
    start: NaiveDate,
    end: NaiveDate,
) -> Result<(Vec<DailyCost>, String, Option<String>)> {
    let period = interval(start, end)?;
    let pages = cost_and_usage_pages(
        client,
        "days of daily cost",
        &period,
        Granularity::Daily,
        false,
    )
    .await?;
    let mut days: BTreeMap<NaiveDate, DailyCost> = BTreeMap::new();
    let mut currency = "USD".to_owned();
    for result in pages.items.iter().flat_map(|r| r.results_by_time()) {
        let Some(date) = result
            .time_period()
            .and_then(|p| NaiveDate::parse_from_str(p.start(), "%Y-%m-%d").ok())
        else {
            return Err(Error::invalid_response(
                "AWS Cost Explorer returned a daily result without a valid start date.",
            ));
        };
        let (amount, unit) = amount_of(result.total().and_then(|t| t.get(COST_METRIC)))?;
        if let Some(u) = unit {
            currency = u;
        }
        let day = days.entry(date).or_insert(DailyCost {
            date,
            amount: Decimal::ZERO,
            estimated: false,
        });
        day.amount += amount;
        day.estimated |= result.estimated();
    }
    Ok((days.into_values().collect(), currency, pages.note()))
}

/// Cost Explorer's mean forecast over `[start, end)` and its currency.
pub async fn forecast(
    client: &AwsClient,
    start: NaiveDate,
    end: NaiveDate,
) -> Result<(Decimal, String)> {
    let ce = client.ce().await?;
    let period = interval(start, end)?;
    let resp = client
        .call(Api::CostExplorer, "ce:GetCostForecast", || {
            ce.get_cost_forecast()
                .time_period(period.clone())
                .metric(CeMetric::UnblendedCost)
                .granularity(Granularity::Monthly)
                .send()
        })
        .await?;
    let (amount, unit) = amount_of(resp.total())?;
    Ok((amount, unit.unwrap_or_else(|| "USD".to_owned())))
}

/// Fetch a full snapshot for `today`.
pub async fn fetch_snapshot(
    client: &AwsClient,
    today: NaiveDate,
    fetched_at: DateTime<Utc>,
) -> Result<CostSnapshot> {
    let p = Periods::for_day(today);
    // On the 1st the month-to-date period [1st, 1st) is empty, which Cost Explorer rejects.
    let month_to_date = if p.month_start < p.today {
        Some(costs_by_service(client, p.month_start, p.today).await?)
    } else {
        None
    };
    let (daily, daily_currency, daily_note) = daily_totals(client, p.week_start, p.today).await?;
    // The forecast is a bonus: new accounts have too little history for it
    // (DataUnavailableException), and a missing ce:GetCostForecast must not hide the costs.
    let forecast = forecast(client, p.today, p.next_month)
        .await
        .map_err(|e| e.to_string());
    // Last, so the order of the earlier requests is unchanged. The month that just closed:
    // on the 1st it is the figure worth reading; a failure is this section's problem only,
    // except rejected credentials, which fail everything.
    let previous_month = match costs_by_service(client, p.previous_month_start, p.month_start).await
    {
        Ok(c) => Ok(c),
        Err(e) if e.kind() == opsdeck_core::FailureKind::InvalidCredentials => return Err(e),
        Err(e) => Err(opsdeck_core::MetricProblem::from_error(
            "previous_month",
            &e,
        )),
    };
    Ok(CostSnapshot {
        fetched_at,
        day: today,
        month_to_date,
        daily,
        daily_currency,
        forecast,
        daily_note,
        previous_month,
    })
}

/// A cached value with the moment it was fetched.
#[derive(Debug)]
struct Entry<T> {
    at: Instant,
    value: Arc<T>,
}

/// One key's slot: filled once by the first caller, awaited by concurrent ones.
type Slot<T> = Arc<OnceCell<Entry<T>>>;

/// Per-service cache with one slot per key. Concurrent collections of the same key pay for
/// one set of requests, not several; a fetch for one key (say, a slow forecast for another
/// window) never holds up a lookup of another key. A failed fetch is not kept: the next caller
/// (or a waiter) tries again.
#[derive(Debug)]
pub struct Cache<K, T> {
    ttl: Duration,
    slots: std::sync::Mutex<HashMap<K, Slot<T>>>,
}

impl<K: std::hash::Hash + Eq + Clone, T> Cache<K, T> {
    /// A cache whose entries live `ttl` (zero: nothing is kept once the fetch is done).
    pub fn new(ttl: Duration) -> Self {
        Cache {
            ttl,
            slots: std::sync::Mutex::new(HashMap::new()),
        }
    }

    /// The cached value for `key` with its age, or the result of `fetch` (stored on success).
    pub async fn get_or_fetch<F, Fut>(&self, key: K, fetch: F) -> Result<(Arc<T>, Option<Duration>)>
    where
        F: FnOnce() -> Fut,
        Fut: std::future::Future<Output = Result<T>>,
    {
        let slot = {
            // Poisoning needs a panic while the map is held, which no code path here has; the
            // map is still consistent then, so keep using it.
            let mut slots = self.slots.lock().unwrap_or_else(|p| p.into_inner());
            // Expired entries (other days, other windows) are of no further use; slots still
            // being filled stay, so their waiters and newcomers share one fetch.
            let ttl = self.ttl;
            slots.retain(|_, s| s.get().is_none_or(|e| e.at.elapsed() < ttl));
            slots.entry(key.clone()).or_default().clone()
        };
        let mut fetched = false;
        let entry = slot
            .get_or_try_init(|| async {
                fetched = true;
                let value = fetch().await?;
                Ok::<_, Error>(Entry {
                    at: Instant::now(),
                    value: Arc::new(value),
                })
            })
            .await?;
        let out = (entry.value.clone(), (!fetched).then(|| entry.at.elapsed()));
        if self.ttl.is_zero() && fetched {
            let mut slots = self.slots.lock().unwrap_or_else(|p| p.into_inner());
            if slots.get(&key).is_some_and(|s| Arc::ptr_eq(s, &slot)) {
                slots.remove(&key);
            }
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fail() -> Error {
        Error::invalid_response("stand-in failure")
    }

    #[tokio::test(start_paused = true)]
    async fn one_fetch_per_key_and_keys_do_not_wait_for_each_other() {
        let cache: Arc<Cache<u32, u32>> = Arc::new(Cache::new(Duration::from_secs(3600)));
        let calls = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let (release, hold) = tokio::sync::oneshot::channel::<()>();
        // Key 1: a slow fetch that waits until released.
        let slow = {
            let (cache, calls) = (cache.clone(), calls.clone());
            tokio::spawn(async move {
                cache
                    .get_or_fetch(1, || async move {
                        calls.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                        let _ = hold.await;
                        Ok(10)
                    })
                    .await
            })
        };
        tokio::task::yield_now().await;
        // A second caller of key 1 waits for the first fetch instead of making its own.
        let waiter = {
            let (cache, calls) = (cache.clone(), calls.clone());
            tokio::spawn(async move {
                cache
                    .get_or_fetch(1, || async move {
                        calls.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                        Ok(99)
                    })
                    .await
            })
        };
        tokio::task::yield_now().await;
        // Key 2 is answered while key 1 is still being fetched.
        let (two, age) = cache
            .get_or_fetch(2, || async { Ok(20) })
            .await
            .unwrap_or_else(|_| (Arc::new(0), None));
        assert_eq!((*two, age), (20, None));
        assert!(!slow.is_finished());
        let _ = release.send(());
        let (v1, age1) = slow
            .await
            .ok()
            .and_then(|r| r.ok())
            .unwrap_or_else(|| (Arc::new(0), None));
        let (w1, wage) = waiter
            .await
            .ok()
            .and_then(|r| r.ok())
            .unwrap_or_else(|| (Arc::new(0), None));
        assert_eq!((*v1, age1), (10, None));
        assert_eq!(*w1, 10, "the waiter shares the first fetch");
        assert!(wage.is_some(), "the waiter's value came from the cache");
        assert_eq!(calls.load(std::sync::atomic::Ordering::SeqCst), 1);
    }

    #[tokio::test(start_paused = true)]
    async fn failures_are_not_kept_and_entries_expire() {
        let cache: Cache<u32, u32> = Cache::new(Duration::from_secs(60));
        assert!(
            cache
                .get_or_fetch(1, || async { Err(fail()) })
                .await
                .is_err()
        );
        let got = cache
            .get_or_fetch(1, || async { Ok(5) })
            .await
            .ok()
            .map(|(v, a)| (*v, a));
        assert_eq!(got, Some((5, None)), "a failure is retried, not cached");
        tokio::time::advance(Duration::from_secs(30)).await;
        let got = cache
            .get_or_fetch(1, || async { Ok(6) })
            .await
            .ok()
            .map(|(v, a)| (*v, a));
        assert_eq!(got, Some((5, Some(Duration::from_secs(30)))));
        tokio::time::advance(Duration::from_secs(31)).await;
        let got = cache
            .get_or_fetch(1, || async { Ok(7) })
            .await
            .ok()
            .map(|(v, a)| (*v, a));
        assert_eq!(got, Some((7, None)), "expired after the ttl");
    }

    #[tokio::test(start_paused = true)]
    async fn zero_ttl_keeps_nothing() {
        let cache: Cache<u32, u32> = Cache::new(Duration::ZERO);
        let a = cache
            .get_or_fetch(1, || async { Ok(1) })
            .await
            .ok()
            .map(|(v, _)| *v);
        let b = cache
            .get_or_fetch(1, || async { Ok(2) })
            .await
            .ok()
            .map(|(v, _)| *v);
        assert_eq!((a, b), (Some(1), Some(2)));
    }

    #[test]
    fn periods_cover_month_week_and_forecast() {
        let d = |s: &str| NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap_or_default();
        let p = Periods::for_day(d("2026-11-27"));
        assert_eq!(p.month_start, d("2026-11-01"));
        assert_eq!(p.next_month, d("2026-12-01"));
        assert_eq!(p.week_start, d("2026-11-20"));
        let p = Periods::for_day(d("2026-12-31"));
        assert_eq!(p.next_month, d("2027-01-01"));
        let p = Periods::for_day(d("2026-03-01"));
        assert_eq!(p.month_start, p.today);
        assert_eq!(p.week_start, d("2026-02-22"));
    }

    #[test]
    fn amounts_are_exact() {
        let a = parse_amount("123.4567891234").unwrap_or_default();
        let b = parse_amount("0.0000000001").unwrap_or_default();
        assert_eq!((a + b).to_string(), "123.4567891235");
        assert_eq!(
            parse_amount("1.5E-7").unwrap_or_default().to_string(),
            "0.00000015"
        );
        assert!(parse_amount("n/a").is_err());
    }
}
