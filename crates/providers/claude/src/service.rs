//! The Claude service: connection test (API key, plus the Admin key when set), metrics, the AI
//! category verb and the usage/cost abilities (available only with an Admin API key).

use std::collections::BTreeMap;
use std::sync::Arc;

use async_trait::async_trait;
use opsdeck_core::domain::{AiModel, AiUsage, CostReport, TimeWindow};
use opsdeck_core::http::HttpSettings;
use opsdeck_core::metrics::first_day_note;
use opsdeck_core::status::SubCheck;
use opsdeck_core::{
    Ability, AiService, AiUsageSource, BaseService, BuildContext, Connected, CostSource, Metric,
    MetricSet, ProviderDescriptor, ReportDetails, Result, Sections, SharedClock, Unavailable, Unit,
};

use crate::client::{ClaudeClient, day_bounds};
use crate::config::ClaudeConfig;
use crate::error::anthropic_rate_limit;
use crate::metrics;

/// Why usage and cost are unavailable without an Admin key (shown in capabilities and notes).
const NEEDS_ADMIN_KEY: &str = "Token usage and cost need an Anthropic Admin API key: set admin_key (sk-ant-admin…). Only organization admins can create one (Claude Console → Settings → Admin keys); individual accounts have no Admin API.";

/// One configured Claude (Anthropic API) service.
#[derive(Debug)]
pub struct ClaudeService {
    client: ClaudeClient,
    clock: SharedClock,
}

impl ClaudeService {
    /// Build from a registry context (no I/O).
    pub fn build(ctx: BuildContext) -> Result<Arc<dyn BaseService>> {
        let config = ClaudeConfig::from_values(&ctx.config)?;
        Ok(Arc::new(
            Self::new(&config, &ctx.http)?.with_clock(ctx.clock),
        ))
    }

    /// Build from a typed config (library use). No I/O.
    pub fn new(config: &ClaudeConfig, http: &HttpSettings) -> Result<Self> {
        Ok(ClaudeService {
            client: ClaudeClient::new(config, http)?,
            clock: opsdeck_core::clock::system(),
        })
    }

    /// Use `clock` for windows and month boundaries (the system clock by default).
    pub fn with_clock(mut self, clock: SharedClock) -> Self {
        self.clock = clock;
        self
    }

    /// The cost of the previous full month, parsed (the cost report only: token usage of a
    /// closed month is not what anyone reads on the first day).
    async fn fetch_previous_month_cost(
        &self,
        window: &TimeWindow,
    ) -> Result<(Vec<metrics::ParsedCost>, Option<String>)> {
        let cost = self.client.cost(window).await?;
        Ok((metrics::parse_costs(&cost.items)?, cost.note()))
    }

    /// Usage rows summed per model and parsed cost rows over `window`, fetched concurrently,
    /// with a note for each report that stopped early.
    async fn fetch_usage(&self, window: &TimeWindow) -> Result<Usage> {
        let (usage, cost) =
            futures::future::join(self.client.usage(window), self.client.cost(window)).await;
        let (usage, cost) = (usage?, cost?);
        Ok(Usage {
            totals: metrics::usage_by_model(&usage.items),
            costs: metrics::parse_costs(&cost.items)?,
            notes: usage.note().into_iter().chain(cost.note()).collect(),
        })
    }
}

/// Usage and cost over a window, and what the operator should know about their completeness.
struct Usage {
    totals: BTreeMap<String, metrics::ModelTotals>,
    costs: Vec<metrics::ParsedCost>,
    notes: Vec<String>,
}

/// Log a partial answer of a verb whose result has no room for notes.
fn log_partial(what: &str, notes: &[String]) {
    for note in notes {
        tracing::info!(what, note = %note, "claude answer is partial");
    }
}

#[async_trait]
impl BaseService for ClaudeService {
    fn descriptor(&self) -> &'static ProviderDescriptor {
        &crate::DESCRIPTOR
    }

    async fn probe(&self) -> Result<Connected> {
        let models = self.client.models_page(1, None);
        let (models, org) = if self.client.has_admin() {
            let (m, o) = futures::future::join(models, self.client.organization()).await;
            (m, Some(o))
        } else {
            (models.await, None)
        };
        // The API key decides the status; the Admin key only decides whether usage/cost work.
        let (_, response) = models?;
        let mut details = ReportDetails::default();
        details.rate_limit = anthropic_rate_limit(&response);
        let mut identity = None;
        let mut message = "Anthropic accepted the API key (the Models API answered).".to_owned();
        match org {
            None => {
                details
                    .checks
                    .push(SubCheck::skipped("admin_api", NEEDS_ADMIN_KEY));
                message.push_str(
                    " No admin_key is set, so token usage and cost will not be collected.",
                );
            }
            Some(Ok(org)) => {
                if let Some(id) = &org.id {
                    details.extra.insert(
                        "organization_id".into(),
                        serde_json::Value::from(id.clone()),
                    );
                }
                details.checks.push(SubCheck::passed(
                    "admin_api",
                    format!(
                        "The Admin API key belongs to organization {}: usage and cost will be collected.",
                        org.name
                    ),
                ));
                message.push_str(&format!(
                    " The Admin API key works for organization {}; usage and cost will be collected.",
                    org.name
                ));
                identity = Some(org.name);
            }
            Some(Err(e)) => {
                details.checks.push(SubCheck::failed("admin_api", &e));
                message.push_str(&format!(
                    " The Admin API key check failed, so usage and cost will not be collected: {}",
                    e.message()
                ));
            }
        }
        // Without a working Admin key Anthropic tells us nothing about the account; the
        // organization id header (when present) is the best identity available.
        let identity = identity
            .or_else(|| {
                response
                    .header("anthropic-organization-id")
                    .map(|id| format!("organization {id}"))
            })
            .unwrap_or_else(|| "Anthropic API key".to_owned());
        Ok(Connected::new(Some(identity), message).with_details(details))
    }

    async fn collect_metrics(&self) -> Result<MetricSet> {
        let now = self.clock.now();
        let window = TimeWindow::month_to_date_at(now);
        let previous = TimeWindow::previous_month(now);
        let models = self.client.all_models();
        let (models, usage, previous_cost) = if self.client.has_admin() {
            let (m, u, p) = futures::join!(
                models,
                self.fetch_usage(&window),
                self.fetch_previous_month_cost(&previous)
            );
            (m, Some(u), Some(p))
        } else {
            (models.await, None, None)
        };
        // Each section stands alone: a failed endpoint becomes a problem naming it.
        let mut set = Sections::new();
        if let Some(models) = set.section("models", models)? {
            set.push(Metric::new(
                "claude_models_available",
                models.items.len() as f64,
                Unit::Count,
            ));
            if let Some(note) = models.note() {
                set.note(format!("{note} claude_models_available is a lower bound."));
            }
        }
        // Usage and cost are read with the admin key: a rejected one is this section's problem.
        let usage = usage.map(|u| set.section_with_own_credential("usage_and_cost", u));
        match usage {
            None => set.note(NEEDS_ADMIN_KEY),
            Some(None) => {}
            Some(Some(usage)) => {
                let (start, _) = day_bounds(&window);
                set.note(format!(
                    "Usage and cost cover {} to now (UTC, daily buckets); the cost report excludes Priority Tier costs.",
                    start.format("%Y-%m-%d")
                ));
                metrics::push_usage(&mut set, &usage.totals);
                metrics::push_cost(&mut set, &usage.costs);
                for note in usage.notes {
                    set.note(format!("{note} Usage and cost figures are partial."));
                }
            }
        }
        // The previous full month, labelled; on the first day it is the figure worth reading.
        if let Some(Some((costs, note))) =
            previous_cost.map(|p| set.section_with_own_credential("cost_previous_month", p))
        {
            let totals = metrics::push_previous_month_cost(&mut set, &costs, &previous);
            if let Some(note) = note {
                set.note(format!(
                    "{note} claude_cost_previous_month_total is partial."
                ));
            }
            if TimeWindow::is_first_day_of_month(now) {
                set.note(first_day_note(&format!(
                    "{totals} ({})",
                    previous.month_label()
                )));
            }
        }
        set.finish()
    }

    fn as_ai(&self) -> Option<&dyn AiService> {
        Some(self)
    }
}

#[async_trait]
impl AiService for ClaudeService {
    async fn models(&self) -> Result<Vec<AiModel>> {
        let models = self.client.all_models().await?;
        log_partial("models", &models.note().into_iter().collect::<Vec<_>>());
        Ok(models
            .items
            .into_iter()
            .map(|m| {
                let mut model = AiModel::new(m.id);
                model.display_name = m.display_name;
                model.input_token_limit = m.max_input_tokens;
                model.output_token_limit = m.max_tokens;
                model
            })
            .collect())
    }

    fn usage_source(&self) -> Ability<'_, dyn AiUsageSource> {
        if self.client.has_admin() {
            Ok(self)
        } else {
            Err(Unavailable::because(NEEDS_ADMIN_KEY))
        }
    }

    fn cost_source(&self) -> Ability<'_, dyn CostSource> {
        if self.client.has_admin() {
            Ok(self)
        } else {
            Err(Unavailable::because(NEEDS_ADMIN_KEY))
        }
    }
}

#[async_trait]
impl AiUsageSource for ClaudeService {
    async fn ai_usage(&self, window: TimeWindow) -> Result<AiUsage> {
        let usage = self.fetch_usage(&window).await?;
        log_partial("ai usage", &usage.notes);
        Ok(AiUsage::new(
            window,
            metrics::model_usage(&usage.totals),
            Some(metrics::cost_report(window, &usage.costs)),
        ))
    }
}

#[async_trait]
impl CostSource for ClaudeService {
    async fn cost(&self, window: TimeWindow) -> Result<CostReport> {
        let rows = self.client.cost(&window).await?;
        log_partial("cost", &rows.note().into_iter().collect::<Vec<_>>());
        Ok(metrics::cost_report(
            window,
            &metrics::parse_costs(&rows.items)?,
        ))
    }
}
