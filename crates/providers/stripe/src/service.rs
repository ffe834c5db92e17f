//! The Stripe service: the connection test, metric collection and the billing verbs.

use std::collections::BTreeMap;
use std::sync::Arc;

use async_trait::async_trait;
use opsdeck_core::clock::SharedClock;
use opsdeck_core::domain::{Balance, Money, RevenueSummary, TimeWindow, sum_by_currency};
use opsdeck_core::http::{HttpClient, HttpSettings, Paged};
use opsdeck_core::status::SubCheck;
use opsdeck_core::{
    BaseService, BillingService, BuildContext, Connected, Metric, MetricSet, ProviderDescriptor,
    ReportDetails, Result, Sections, Unit,
};

use crate::client::{self, Account, Charge, Subscription};
use crate::config::{KeyKind, StripeConfig};
use crate::error::StripeErrors;
use crate::metrics::{ChargeTotals, MrrBreakdown, charge_totals, monthly_recurring_revenue};

/// Revenue metrics cover this many days.
const REVENUE_DAYS: i64 = 30;
/// At most this many pages of 100 per list (10 000 objects): enough for the accounts opsdeck
/// targets while keeping a collection inside its timeout. Hitting it is reported as a note.
const MAX_PAGES: usize = 100;

/// One configured Stripe account.
#[derive(Debug)]
pub struct StripeService {
    config: StripeConfig,
    http: HttpClient,
    clock: SharedClock,
}

impl StripeService {
    /// Build from a registry context (no I/O).
    pub fn build(ctx: BuildContext) -> Result<Arc<dyn BaseService>> {
        let config = StripeConfig::from_values(&ctx.config)?;
        Ok(Arc::new(
            Self::new(config, &ctx.http)?.with_clock(ctx.clock),
        ))
    }

    /// Use `clock` for windows and month boundaries (the system clock by default).
    pub fn with_clock(mut self, clock: SharedClock) -> Self {
        self.clock = clock;
        self
    }

    /// Build from a typed config (library use).
    pub fn new(config: StripeConfig, http: &HttpSettings) -> Result<Self> {
        let client = HttpClient::builder("Stripe", &config.base_url, http)
            .bearer(&config.secret_key)
            .header("accept", "application/json")
            .header("stripe-version", crate::STRIPE_VERSION)
            .vendor(StripeErrors)
            .build()?;
        Ok(StripeService {
            config,
            http: client,
            clock: opsdeck_core::clock::system(),
        })
    }

    async fn fetch_balance(&self) -> Result<client::Balance> {
        let (b, _) = self.http.get_json("/v1/balance", &[]).await?;
        Ok(b)
    }

    async fn fetch_account(&self) -> Result<Account> {
        let (a, _) = self.http.get_json("/v1/account", &[]).await?;
        Ok(a)
    }

    async fn fetch_charges(&self, window: TimeWindow, what: &str) -> Result<Paged<Charge>> {
        let query = [
            ("created[gte]", window.start.timestamp().to_string()),
            ("created[lt]", window.end.timestamp().to_string()),
        ];
        client::list_all(&self.http, "/v1/charges", &query, what, MAX_PAGES).await
    }

    async fn fetch_active_subscriptions(&self) -> Result<Paged<Subscription>> {
        let query = [("status", "active".to_owned())];
        client::list_all(
            &self.http,
            "/v1/subscriptions",
            &query,
            "active subscriptions",
            MAX_PAGES,
        )
        .await
    }

    /// For restricted keys: can the key read what metric collection needs? One cheap request
    /// per resource, so the test report says up front which metrics will be missing.
    async fn permission_checks(&self) -> Vec<SubCheck> {
        let probe = |path: &'static str, extra: Option<(&'static str, &'static str)>| async move {
            let mut q = vec![("limit", "1".to_owned())];
            if let Some((k, v)) = extra {
                q.push((k, v.to_owned()));
            }
            self.http
                .get_json::<serde_json::Value>(path, &q)
                .await
                .map(|_| ())
        };
        let (charges, subs) = futures::join!(
            probe("/v1/charges", None),
            probe("/v1/subscriptions", Some(("status", "active")))
        );
        vec![
            match charges {
                Ok(()) => {
                    SubCheck::passed("charges", "The key can read charges (revenue metrics).")
                }
                Err(e) => SubCheck::failed("charges", &e),
            },
            match subs {
                Ok(()) => SubCheck::passed(
                    "subscriptions",
                    "The key can read subscriptions (MRR metrics).",
                ),
                Err(e) => SubCheck::failed("subscriptions", &e),
            },
        ]
    }

    async fn revenue_parts(
        &self,
        window: TimeWindow,
    ) -> Result<(Paged<Charge>, Paged<Subscription>)> {
        let (charges, subs) = futures::join!(
            self.fetch_charges(window, "charges in the window"),
            self.fetch_active_subscriptions()
        );
        Ok((charges?, subs?))
    }
}

fn mode(livemode: bool) -> &'static str {
    if livemode { "live" } else { "test" }
}

fn minor(currency: &str) -> Unit {
    Unit::CurrencyMinor(currency.to_ascii_lowercase())
}

fn per_currency(amounts: &[client::Amount]) -> BTreeMap<String, i64> {
    let mut out = BTreeMap::new();
    for a in amounts {
        *out.entry(a.currency.to_ascii_lowercase()).or_default() += a.amount;
    }
    out
}

fn push_balance(set: &mut MetricSet, b: &client::Balance) {
    for (currency, amount) in per_currency(&b.available) {
        set.push(
            Metric::new("stripe_balance_available", amount as f64, minor(&currency))
                .label("currency", currency),
        );
    }
    for (currency, amount) in per_currency(&b.pending) {
        set.push(
            Metric::new("stripe_balance_pending", amount as f64, minor(&currency))
                .label("currency", currency),
        );
    }
}

fn push_charges(set: &mut MetricSet, t: &ChargeTotals) {
    for (currency, amount) in &t.gross_volume {
        set.push(
            Metric::new("stripe_gross_volume_30d", *amount as f64, minor(currency))
                .label("currency", currency.clone()),
        );
    }
    for (currency, amount) in &t.refunded {
        set.push(
            Metric::new("stripe_refunded_30d", *amount as f64, minor(currency))
                .label("currency", currency.clone()),
        );
    }
    // The common statuses are always present (as 0) so dashboards and alerts have a series.
    let mut by_status = t.by_status.clone();
    for s in ["succeeded", "failed", "pending"] {
        by_status.entry(s.to_owned()).or_default();
    }
    for (status, n) in by_status {
        set.push(Metric::new("stripe_charges_30d", n as f64, Unit::Count).label("status", status));
    }
    set.push(Metric::new(
        "stripe_refunds_30d",
        t.refunds as f64,
        Unit::Count,
    ));
    set.push(Metric::new(
        "stripe_failed_payments_30d",
        t.failed() as f64,
        Unit::Count,
    ));
}

fn push_mrr(set: &mut MetricSet, m: &MrrBreakdown) {
    set.push(Metric::new(
        "stripe_active_subscriptions",
        m.active_subscriptions as f64,
        Unit::Count,
    ));
    for (currency, amount) in &m.by_currency {
        set.push(
            Metric::new("stripe_mrr", *amount as f64, minor(currency))
                .label("currency", currency.clone()),
        );
    }
    set.push(Metric::new(
        "stripe_mrr_excluded_items",
        m.excluded_items as f64,
        Unit::Count,
    ));
    if m.excluded_items > 0 {
        set.note(format!(
            "{} subscription item(s) have no fixed price (metered, tiered or custom) and are left out of stripe_mrr.",
            m.excluded_items
        ));
    }
    if m.truncated_item_lists > 0 {
        set.note(format!(
            "{} subscription(s) have more than the 10 items Stripe embeds; their remaining items are not in stripe_mrr.",
            m.truncated_item_lists
        ));
    }
}

#[async_trait]
impl BaseService for StripeService {
    fn descriptor(&self) -> &'static ProviderDescriptor {
        &crate::DESCRIPTOR
    }

    async fn probe(&self) -> Result<Connected> {
        let balance = self.fetch_balance().await?;
        let mode = mode(balance.livemode);
        let kind = self.config.key_kind();
        let mut details = ReportDetails::default();
        details
            .extra
            .insert("livemode".into(), serde_json::Value::Bool(balance.livemode));
        details
            .extra
            .insert("key_kind".into(), serde_json::Value::from(kind.as_str()));

        let (account, mut checks) = if kind == KeyKind::Secret {
            (self.fetch_account().await, Vec::new())
        } else {
            futures::join!(self.fetch_account(), self.permission_checks())
        };
        let identity = match account {
            Ok(a) => {
                details
                    .extra
                    .insert("account_id".into(), serde_json::Value::from(a.id.clone()));
                checks.insert(
                    0,
                    SubCheck::passed("account", "The key can read the account."),
                );
                a.display()
            }
            Err(e) => {
                tracing::debug!(kind = %e.kind(), "Stripe account not readable; identity from mode");
                checks.insert(0, SubCheck::failed("account", &e));
                format!("Stripe {mode}-mode account")
            }
        };
        details.checks = checks;
        let missing: Vec<&str> = details
            .checks
            .iter()
            .filter(|c| c.failure.is_some() && c.name != "account")
            .map(|c| c.name.as_str())
            .collect();
        let mut message = format!("Connected to Stripe in {mode} mode as {identity}.");
        if !missing.is_empty() {
            message.push_str(&format!(
                " The key cannot read {}: those metrics will be missing (see checks).",
                missing.join(" and ")
            ));
        }
        Ok(Connected::new(Some(identity), message).with_details(details))
    }

    async fn collect_metrics(&self) -> Result<MetricSet> {
        let window = TimeWindow::ending_at(self.clock.now(), chrono::Duration::days(REVENUE_DAYS));
        let what = format!("charges of the last {REVENUE_DAYS} days");
        let (balance, charges, subs) = futures::join!(
            self.fetch_balance(),
            self.fetch_charges(window, &what),
            self.fetch_active_subscriptions()
        );
        // Each section stands alone: a failed endpoint (a 5xx, a restricted key without that
        // permission) becomes a problem naming it, and the others are still reported; nothing
        // readable at all is the first section's error.
        let mut set = Sections::new();
        let balance = set.section("balance", balance)?;
        let charges = set.section("charges", charges)?;
        let subs = set.section("subscriptions", subs)?;
        if let Some(b) = &balance {
            push_balance(&mut set, b);
        }
        if let Some(c) = &charges {
            push_charges(&mut set, &charge_totals(&c.items));
            if let Some(note) = c.note() {
                set.note(format!("{note} Revenue figures are partial."));
            }
        }
        if let Some(s) = &subs {
            push_mrr(&mut set, &monthly_recurring_revenue(&s.items));
            if let Some(note) = s.note() {
                set.note(format!(
                    "{note} stripe_active_subscriptions and stripe_mrr are partial."
                ));
            }
        }
        set.finish()
    }

    fn as_billing(&self) -> Option<&dyn BillingService> {
        Some(self)
    }
}

fn money(map: &BTreeMap<String, i64>) -> Vec<Money> {
    let items: Vec<Money> = map.iter().map(|(c, a)| Money::from_minor(*a, c)).collect();
    sum_by_currency(&items)
}

#[async_trait]
impl BillingService for StripeService {
    async fn balance(&self) -> Result<Balance> {
        let b = self.fetch_balance().await?;
        Ok(Balance::new(
            money(&per_currency(&b.available)),
            money(&per_currency(&b.pending)),
        ))
    }

    async fn revenue(&self, window: TimeWindow) -> Result<RevenueSummary> {
        let (charges, subs) = self.revenue_parts(window).await?;
        let totals = charge_totals(&charges.items);
        let mrr = monthly_recurring_revenue(&subs.items);
        let mut revenue = RevenueSummary::new(window);
        revenue.gross_volume = money(&totals.gross_volume);
        revenue.charges = totals.succeeded();
        revenue.refunded = money(&totals.refunded);
        revenue.failed_payments = totals.failed();
        revenue.active_subscriptions = mrr.active_subscriptions;
        revenue.mrr = money(&mrr.by_currency);
        Ok(revenue)
    }
}
