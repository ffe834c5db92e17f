//! The Datadog service: connection test, metrics, the observability verb and cost.

use std::collections::BTreeMap;
use std::sync::Arc;

use async_trait::async_trait;
use chrono::{Datelike, SecondsFormat, TimeZone, Utc};
use opsdeck_core::clock::SharedClock;
use opsdeck_core::domain::{CostLine, CostReport, Money, MonitorSummary, TimeWindow};
use opsdeck_core::http::{HttpClient, HttpSettings};
use opsdeck_core::rust_decimal::Decimal;
use opsdeck_core::rust_decimal::prelude::ToPrimitive;
use opsdeck_core::status::SubCheck;
use opsdeck_core::{
    Ability, BaseService, BuildContext, Connected, CostSource, Error, FailureKind, Metric,
    MetricSet, ObservabilityService, ProviderDescriptor, ReportDetails, Result, Sections,
    Unavailable, Unit,
};

use crate::client::{self, CostResponse, MonitorSearch, Validate, ValidateKeys};
use crate::config::DatadogConfig;
use crate::error::{DatadogErrors, ESTIMATED_COST_PATH, VALIDATE_KEYS_PATH, VALIDATE_PATH};

/// States reported even at zero so dashboards and alerts always have a series.
const ALWAYS_REPORTED: [&str; 4] = ["ok", "warn", "alert", "no_data"];

/// One configured Datadog organisation (site + keys).
#[derive(Debug)]
pub struct DatadogService {
    config: DatadogConfig,
    http: HttpClient,
    clock: SharedClock,
}

/// Estimated cost summed over the rows Datadog returned.
#[derive(Debug, Default)]
struct CostTotals {
    total: Decimal,
    by_product: BTreeMap<String, Decimal>,
    rows: usize,
}

impl DatadogService {
    /// Build from a registry context (no I/O).
    pub fn build(ctx: BuildContext) -> Result<Arc<dyn BaseService>> {
        let config = DatadogConfig::from_values(&ctx.config)?;
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
    pub fn new(config: DatadogConfig, http: &HttpSettings) -> Result<Self> {
        let mut builder = HttpClient::builder("Datadog", &config.base_url, http)
            .secret_header("dd-api-key", &config.api_key)
            .header("accept", "application/json")
            .vendor(DatadogErrors {
                target: config.target(),
                site: config.site.clone(),
            });
        if let Some(app) = &config.app_key {
            builder = builder.secret_header("dd-application-key", app);
        }
        Ok(DatadogService {
            http: builder.build()?,
            config,
            clock: opsdeck_core::clock::system(),
        })
    }

    fn needs_app_key(&self) -> Option<String> {
        self.config.app_key.is_none().then(|| {
            "Set app_key (an application key with monitors_read; usage_read and billing_read for cost) to collect monitor and cost metrics.".to_owned()
        })
    }

    async fn monitors(&self) -> Result<MonitorSummary> {
        // The facet counts cover every monitor the (empty) query matches, whatever the page
        // size, so one monitor per page is enough.
        let query = [("page", "0".to_owned()), ("per_page", "1".to_owned())];
        let (search, _): (MonitorSearch, _) =
            self.http.get_json("/api/v1/monitor/search", &query).await?;
        let mut out = MonitorSummary::default();
        for f in &search.counts.status {
            let name = match &f.name {
                serde_json::Value::String(s) => s.clone(),
                serde_json::Value::Bool(_) | serde_json::Value::Number(_) => f.name.to_string(),
                // No name, or a structure that is not a state name: not a state.
                serde_json::Value::Null
                | serde_json::Value::Array(_)
                | serde_json::Value::Object(_) => continue,
            };
            *out.by_state.entry(name).or_default() += f.monitors();
        }
        out.muted = search
            .counts
            .muted
            .iter()
            .filter(|f| match &f.name {
                serde_json::Value::Bool(b) => *b,
                serde_json::Value::String(s) => s.eq_ignore_ascii_case("true"),
                _ => false,
            })
            .map(client::Facet::monitors)
            .sum();
        out.total = search
            .metadata
            .and_then(|m| m.total_count)
            .and_then(|n| u64::try_from(n).ok())
            .unwrap_or_else(|| out.by_state.values().sum());
        Ok(out)
    }

    /// Estimated cost per month from the first of `from`'s month (to `to`'s month when
    /// given). Datadog reports it for the current and previous month only.
    async fn estimated_cost(
        &self,
        from: chrono::DateTime<Utc>,
        to: Option<chrono::DateTime<Utc>>,
    ) -> Result<CostTotals> {
        let month = |t: chrono::DateTime<Utc>| {
            Utc.with_ymd_and_hms(t.year(), t.month(), 1, 0, 0, 0)
                .single()
                .unwrap_or(t)
                .to_rfc3339_opts(SecondsFormat::Millis, true)
        };
        let mut query = vec![("view", "summary".to_owned()), ("start_month", month(from))];
        if let Some(to) = to
            && (to.year(), to.month()) != (from.year(), from.month())
        {
            query.push(("end_month", month(to)));
        }
        let (resp, _): (CostResponse, _) = self.http.get_json(ESTIMATED_COST_PATH, &query).await?;
        let mut t = CostTotals::default();
        for row in resp.data {
            let Some(a) = row.attributes else { continue };
            t.rows += 1;
            if let Some(total) = a.total_cost.as_ref().and_then(client::decimal) {
                t.total += total;
            }
            for c in a.charges {
                // A `total` row repeats the sum of the product's committed and on-demand rows
                // (Datadog's own example bodies include one); counting it too would double
                // every product that has one.
                if c.charge_type
                    .as_deref()
                    .is_some_and(|t| t.eq_ignore_ascii_case("total"))
                {
                    continue;
                }
                if let Some(cost) = c.cost.as_ref().and_then(client::decimal) {
                    let product = c.product_name.unwrap_or_else(|| "other".to_owned());
                    *t.by_product.entry(product).or_default() += cost;
                }
            }
        }
        Ok(t)
    }
}

fn usd(d: Decimal) -> f64 {
    // Metric values are f64 by contract; the exact figure stays in the cost verb's `Money`.
    d.to_f64().unwrap_or(f64::NAN)
}

#[async_trait]
impl BaseService for DatadogService {
    fn descriptor(&self) -> &'static ProviderDescriptor {
        &crate::DESCRIPTOR
    }

    async fn probe(&self) -> Result<Connected> {
        let (v, _): (Validate, _) = self.http.get_json(VALIDATE_PATH, &[]).await?;
        let target = self.config.target();
        if !v.valid {
            return Err(Error::new(
                FailureKind::InvalidCredentials,
                format!("Datadog says the API key is not valid on {target}."),
            ));
        }
        let mut details = ReportDetails::default();
        details.extra.insert(
            "site".into(),
            serde_json::Value::from(self.config.site.clone()),
        );
        let message = match &self.config.app_key {
            Some(_) => {
                let (k, _): (ValidateKeys, _) = self.http.get_json(VALIDATE_KEYS_PATH, &[]).await?;
                if k.status != "ok" {
                    return Err(Error::invalid_response(format!(
                        "Datadog answered the key validation with status \"{}\" instead of \"ok\".",
                        k.status
                    )));
                }
                details.checks.push(SubCheck::passed(
                    "app_key",
                    "The application key is valid; metrics can be collected.",
                ));
                format!("API and application keys are valid on {target}.")
            }
            None => {
                details.checks.push(SubCheck::skipped(
                    "app_key",
                    "No app_key configured: monitor and cost metrics need one.",
                ));
                format!(
                    "API key is valid on {target}. No app_key is configured, so monitor and cost metrics cannot be collected."
                )
            }
        };
        Ok(Connected::new(Some(target), message).with_details(details))
    }

    async fn collect_metrics(&self) -> Result<MetricSet> {
        if let Some(why) = self.needs_app_key() {
            let mut set = MetricSet::new();
            set.note(why);
            return Ok(set);
        }
        let now = self.clock.now();
        let (monitors, cost) = futures::join!(self.monitors(), self.estimated_cost(now, None));
        // Each section stands alone: a failed endpoint becomes a problem naming it. Estimated
        // cost needs a parent org, a Pro/Enterprise plan and extra permissions; monitors are
        // still worth reporting without it.
        let mut set = Sections::new();
        let monitors = set.section("monitors", monitors)?;
        let cost = set.section("estimated_cost", cost)?;
        if monitors.is_none()
            && cost.is_none()
            && set
                .problems
                .iter()
                .any(|p| p.failure == FailureKind::PermissionDenied)
        {
            // Datadog answers a rejected API key on these endpoints with the same 403 as a
            // missing permission; only the validate endpoints tell the two apart.
            self.probe().await?;
            return Err(Error::new(
                FailureKind::PermissionDenied,
                "The application key can read neither monitors nor usage cost; grant it monitors_read (and usage_read, billing_read for cost).",
            ));
        }
        if let Some(m) = monitors {
            let mut by_state: BTreeMap<String, u64> = ALWAYS_REPORTED
                .iter()
                .map(|s| ((*s).to_owned(), 0))
                .collect();
            for (name, n) in &m.by_state {
                *by_state.entry(client::snake(name)).or_default() += n;
            }
            for (state, n) in by_state {
                set.push(
                    Metric::new("datadog_monitors", n as f64, Unit::Count).label("state", state),
                );
            }
            set.push(Metric::new(
                "datadog_monitors_muted",
                m.muted as f64,
                Unit::Count,
            ));
            set.push(Metric::new(
                "datadog_monitors_total",
                m.total as f64,
                Unit::Count,
            ));
        }
        if let Some(c) = cost {
            if c.rows == 0 {
                set.note("Datadog has no estimated cost for this month yet (data can lag up to 72 hours).");
            } else {
                set.push(
                    Metric::new(
                        "datadog_estimated_cost_mtd",
                        usd(c.total),
                        Unit::currency("USD"),
                    )
                    .label("currency", "usd"),
                );
                for (product, amount) in &c.by_product {
                    set.push(
                        Metric::new(
                            "datadog_estimated_cost_mtd_by_product",
                            usd(*amount),
                            Unit::currency("USD"),
                        )
                        .label("currency", "usd")
                        .label("product", product.clone()),
                    );
                }
            }
        }
        set.finish()
    }

    fn as_observability(&self) -> Option<&dyn ObservabilityService> {
        Some(self)
    }

    fn cost_source(&self) -> Ability<'_, dyn CostSource> {
        match self.needs_app_key() {
            None => Ok(self),
            Some(why) => Err(Unavailable::because(why)),
        }
    }
}

#[async_trait]
impl ObservabilityService for DatadogService {
    async fn monitor_summary(&self) -> Result<MonitorSummary> {
        if let Some(why) = self.needs_app_key() {
            return Err(Error::invalid_config(why));
        }
        self.monitors().await
    }
}

#[async_trait]
impl CostSource for DatadogService {
    /// Datadog estimates cost per calendar month; the report covers whole months from the
    /// first of the window's start month until its end (current and previous month only).
    async fn cost(&self, window: TimeWindow) -> Result<CostReport> {
        let totals = self.estimated_cost(window.start, Some(window.end)).await?;
        let start = Utc
            .with_ymd_and_hms(window.start.year(), window.start.month(), 1, 0, 0, 0)
            .single()
            .unwrap_or(window.start);
        let lines = totals
            .by_product
            .into_iter()
            .map(|(label, amount)| CostLine::new(label, Money::new(amount, "USD")))
            .collect();
        Ok(CostReport::new(
            TimeWindow::new(start, window.end),
            vec![Money::new(totals.total, "USD")],
            lines,
        )
        .with_estimated(true))
    }
}
