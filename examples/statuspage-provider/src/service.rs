//! The Statuspage service: probe, metrics and the observability verb, all from one call to
//! `GET /api/v2/summary.json`.

use std::collections::BTreeMap;
use std::sync::Arc;

use async_trait::async_trait;
use opsdeck_core::domain::MonitorSummary;
use opsdeck_core::http::HttpClient;
use opsdeck_core::{
    BaseService, BuildContext, Connected, Metric, MetricSet, ObservabilityService,
    ProviderDescriptor, Result, Unit,
};
use serde::Deserialize;

use crate::config::StatuspageConfig;
use crate::error::StatuspageErrors;

/// The subset of the summary we read. Unknown fields are ignored so vendor additions never
/// break us; fields we need are required so a different API fails loudly as invalid_response.
#[derive(Debug, Deserialize)]
struct Summary {
    page: Page,
    status: PageStatus,
    #[serde(default)]
    components: Vec<Component>,
    #[serde(default)]
    incidents: Vec<Incident>,
}

#[derive(Debug, Deserialize)]
struct Page {
    name: String,
}

#[derive(Debug, Deserialize)]
struct PageStatus {
    indicator: String,
    description: String,
}

#[derive(Debug, Deserialize)]
struct Component {
    name: String,
    status: String,
    /// Group containers duplicate their children's state; skip them.
    #[serde(default)]
    group: bool,
}

#[derive(Debug, Deserialize)]
struct Incident {
    #[serde(default)]
    impact: Option<String>,
}

/// One configured status page.
#[derive(Debug)]
pub struct StatuspageService {
    config: StatuspageConfig,
    http: HttpClient,
}

impl StatuspageService {
    /// Build from a registry context (no I/O).
    pub fn build(ctx: BuildContext) -> Result<Arc<dyn BaseService>> {
        let config = StatuspageConfig::from_values(&ctx.config)?;
        Ok(Arc::new(Self::new(config, &ctx.http)?))
    }

    /// Build from a typed config (library use).
    pub fn new(config: StatuspageConfig, http: &opsdeck_core::http::HttpSettings) -> Result<Self> {
        let client = HttpClient::builder("Statuspage", &config.base_url, http)
            .header("accept", "application/json")
            .vendor(StatuspageErrors)
            .build()?;
        Ok(StatuspageService {
            config,
            http: client,
        })
    }

    async fn summary(&self) -> Result<Summary> {
        let (summary, _) = self.http.get_json("/api/v2/summary.json", &[]).await?;
        Ok(summary)
    }

    fn components<'a>(&self, summary: &'a Summary) -> impl Iterator<Item = &'a Component> {
        let wanted = &self.config.components;
        summary
            .components
            .iter()
            .filter(|c| !c.group)
            .filter(move |c| wanted.is_empty() || wanted.iter().any(|w| w == &c.name))
    }
}

/// Statuspage's indicator as a number, so it can be graphed and alerted on.
fn indicator_level(indicator: &str) -> f64 {
    match indicator {
        "none" => 0.0,
        "minor" => 1.0,
        "major" => 2.0,
        "critical" => 3.0,
        _ => -1.0,
    }
}

#[async_trait]
impl BaseService for StatuspageService {
    fn descriptor(&self) -> &'static ProviderDescriptor {
        &crate::DESCRIPTOR
    }

    async fn probe(&self) -> Result<Connected> {
        let s = self.summary().await?;
        Ok(Connected::new(
            Some(s.page.name.clone()),
            format!("{}: {}", s.page.name, s.status.description),
        ))
    }

    async fn collect_metrics(&self) -> Result<MetricSet> {
        let s = self.summary().await?;
        let mut set = MetricSet::new();
        set.push(
            Metric::new(
                "statuspage_indicator",
                indicator_level(&s.status.indicator),
                Unit::Count,
            )
            .label("indicator", s.status.indicator.clone()),
        );
        let mut by_status: BTreeMap<&str, u64> = BTreeMap::new();
        for c in self.components(&s) {
            *by_status.entry(c.status.as_str()).or_default() += 1;
        }
        for (status, n) in by_status {
            set.push(
                Metric::new("statuspage_components", n as f64, Unit::Count).label("status", status),
            );
        }
        set.push(Metric::new(
            "statuspage_unresolved_incidents",
            s.incidents.len() as f64,
            Unit::Count,
        ));
        let major = s
            .incidents
            .iter()
            .filter(|i| matches!(i.impact.as_deref(), Some("major" | "critical")))
            .count();
        set.push(Metric::new(
            "statuspage_major_incidents",
            major as f64,
            Unit::Count,
        ));
        Ok(set)
    }

    fn as_observability(&self) -> Option<&dyn ObservabilityService> {
        Some(self)
    }
}

#[async_trait]
impl ObservabilityService for StatuspageService {
    async fn monitor_summary(&self) -> Result<MonitorSummary> {
        let s = self.summary().await?;
        let mut out = MonitorSummary::default();
        for c in self.components(&s) {
            *out.by_state.entry(c.status.clone()).or_default() += 1;
            out.total += 1;
        }
        Ok(out)
    }
}
