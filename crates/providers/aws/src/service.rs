//! The AWS service: the STS identity probe, Cost Explorer metrics, and the infrastructure
//! category verbs (the account as the resource, cost over a window).

use std::sync::Arc;

use async_trait::async_trait;
use chrono::{NaiveDate, NaiveTime};
use opsdeck_core::domain::{CostLine, CostReport, Money, TimeWindow, sum_by_currency};
use opsdeck_core::http::HttpSettings;
use opsdeck_core::status::{ReportDetails, SubCheck};
use opsdeck_core::{
    Ability, BaseService, BuildContext, Connected, CostSource, DeploymentSource, Error,
    InfrastructureService, MetricSet, ProviderDescriptor, Result, SharedClock, Unavailable,
};

use crate::client::{Api, AwsClient};
use crate::config::AwsConfig;
use crate::cost::{Cache, CostSnapshot, ServiceCosts, costs_by_service, fetch_snapshot};
use crate::metrics::to_metric_set;

/// Who the credentials belong to, from STS GetCallerIdentity.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallerIdentity {
    /// Account id.
    pub account: String,
    /// Caller ARN.
    pub arn: String,
}

/// One configured AWS account/credential set.
#[derive(Debug)]
pub struct AwsService {
    client: AwsClient,
    snapshots: Cache<NaiveDate, CostSnapshot>,
    windows: Cache<(NaiveDate, NaiveDate), ServiceCosts>,
    clock: SharedClock,
}

impl AwsService {
    /// Build from a registry context (no I/O).
    pub fn build(ctx: BuildContext) -> Result<Arc<dyn BaseService>> {
        let config = AwsConfig::from_values(&ctx.config)?;
        Ok(Arc::new(Self::new(config, &ctx.http).with_clock(ctx.clock)))
    }

    /// Build from a typed config (library use). No I/O.
    pub fn new(config: AwsConfig, http: &HttpSettings) -> Self {
        let ttl = config.cost_cache_ttl;
        AwsService {
            client: AwsClient::new(config, http),
            snapshots: Cache::new(ttl),
            windows: Cache::new(ttl),
            clock: opsdeck_core::clock::system(),
        }
    }

    /// Use `clock` for "today" and month boundaries (the system clock by default).
    pub fn with_clock(mut self, clock: SharedClock) -> Self {
        self.clock = clock;
        self
    }

    /// STS GetCallerIdentity. Needs no IAM permission, so it proves the credentials only.
    pub async fn caller_identity(&self) -> Result<CallerIdentity> {
        let sts = self.client.sts().await?;
        let out = self
            .client
            .call(Api::Sts, "sts:GetCallerIdentity", || {
                sts.get_caller_identity().send()
            })
            .await?;
        match (out.account(), out.arn()) {
            (Some(account), Some(arn)) if !account.is_empty() && !arn.is_empty() => {
                Ok(CallerIdentity {
                    account: account.to_owned(),
                    arn: arn.to_owned(),
                })
            }
            _ => Err(Error::invalid_response(
                "AWS STS answered GetCallerIdentity without an account or ARN; check base_url.",
            )),
        }
    }
}

#[async_trait]
impl BaseService for AwsService {
    fn descriptor(&self) -> &'static ProviderDescriptor {
        &crate::DESCRIPTOR
    }

    async fn probe(&self) -> Result<Connected> {
        let id = self.caller_identity().await?;
        let mut details = ReportDetails::default();
        details
            .extra
            .insert("account".to_owned(), serde_json::json!(id.account));
        details
            .extra
            .insert("arn".to_owned(), serde_json::json!(id.arn));
        // Probing Cost Explorer here would cost $0.01 per check; the permission shows up, named,
        // when metrics are collected.
        details.checks.push(SubCheck::skipped(
            "cost_explorer",
            "Not checked by the connection test (each Cost Explorer request costs $0.01): ce:GetCostAndUsage and ce:GetCostForecast are verified when metrics are collected.",
        ));
        Ok(Connected::new(
            Some(format!("{} (account {})", id.arn, id.account)),
            format!(
                "Authenticated as {} in account {}. This proves the credentials only, not the Cost Explorer permissions (ce:GetCostAndUsage, ce:GetCostForecast).",
                id.arn, id.account
            ),
        )
        .with_details(details))
    }

    async fn collect_metrics(&self) -> Result<MetricSet> {
        let now = self.clock.now();
        let today = now.date_naive();
        let (snap, age) = self
            .snapshots
            .get_or_fetch(today, || fetch_snapshot(&self.client, today, now))
            .await?;
        Ok(to_metric_set(
            &snap,
            age,
            self.client.config().cost_cache_ttl,
        ))
    }

    fn as_infrastructure(&self) -> Option<&dyn InfrastructureService> {
        Some(self)
    }
}

#[async_trait]
impl InfrastructureService for AwsService {
    /// The account the credentials belong to.
    async fn resources(&self) -> Result<Vec<String>> {
        Ok(vec![self.caller_identity().await?.account])
    }

    fn deployment_source(&self) -> Ability<'_, dyn DeploymentSource> {
        Err(Unavailable::unsupported(
            "AWS has no single deployment feed that fits every account (CodeDeploy, CloudFormation, ECS, Lambda…); opsdeck reports identity and cost for AWS.",
        ))
    }

    fn cost_source(&self) -> Ability<'_, dyn CostSource> {
        Ok(self)
    }
}

/// The calendar days Cost Explorer should cover for `window`: from its start day up to the
/// day after the last (partial) day, since Cost Explorer's end date is exclusive.
fn window_days(window: &TimeWindow) -> (NaiveDate, NaiveDate) {
    let start = window.start.date_naive();
    let end_day = window.end.date_naive();
    let end = if window.end.time() == NaiveTime::MIN {
        end_day
    } else {
        end_day.succ_opt().unwrap_or(end_day)
    };
    if end <= start {
        (start, start.succ_opt().unwrap_or(start))
    } else {
        (start, end)
    }
}

#[async_trait]
impl CostSource for AwsService {
    async fn cost(&self, window: TimeWindow) -> Result<CostReport> {
        let (start, end) = window_days(&window);
        let fetched = self.clock.now();
        let (costs, age) = self
            .windows
            .get_or_fetch((start, end), || costs_by_service(&self.client, start, end))
            .await?;
        if let Some(note) = &costs.note {
            // The cross-provider cost report has no notes; the partial figure is still
            // returned, and the reason is logged.
            tracing::info!(note, "aws cost partial");
        }
        let lines: Vec<CostLine> = costs
            .by_service
            .iter()
            .map(|(service, amount)| {
                CostLine::new(service.clone(), Money::new(*amount, &costs.currency))
            })
            .collect();
        let mut total = sum_by_currency(lines.iter().map(|l| &l.amount));
        if total.is_empty() {
            total.push(Money::new(
                opsdeck_core::rust_decimal::Decimal::ZERO,
                &costs.currency,
            ));
        }
        let cached_at = age.and_then(|a| chrono::Duration::from_std(a).ok().map(|a| fetched - a));
        Ok(CostReport::new(window, total, lines)
            .with_estimated(costs.estimated)
            .with_cached_at(cached_at))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{TimeZone, Utc};

    #[test]
    fn windows_round_up_to_whole_days() {
        let at = |d, h| {
            Utc.with_ymd_and_hms(2026, 11, d, h, 0, 0)
                .single()
                .unwrap_or_default()
        };
        let day = |d| NaiveDate::from_ymd_opt(2026, 11, d).unwrap_or_default();
        let w = TimeWindow {
            start: at(1, 0),
            end: at(27, 15),
        };
        assert_eq!(window_days(&w), (day(1), day(28)));
        let w = TimeWindow {
            start: at(20, 0),
            end: at(27, 0),
        };
        assert_eq!(window_days(&w), (day(20), day(27)));
        let w = TimeWindow {
            start: at(27, 0),
            end: at(27, 0),
        };
        assert_eq!(window_days(&w), (day(27), day(28)));
    }
}
