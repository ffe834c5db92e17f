//! The OpenAI service: the connection test (API key, plus whether the Admin key can read
//! usage), the metrics, the AI category verb and the cost / AI-usage abilities.

use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, Duration as ChronoDuration, TimeZone, Utc};
use opsdeck_core::domain::{AiModel, AiUsage, CostReport, ModelUsage, TimeWindow};
use opsdeck_core::http::{HttpClient, HttpResponse, HttpSettings, VendorErrors};
use opsdeck_core::status::SubCheck;
use opsdeck_core::{
    Ability, AiService, AiUsageSource, BaseService, BuildContext, Connected, CostSource, Error,
    Metric, MetricSet, ProviderDescriptor, ReportDetails, Result, Sections, SharedClock,
    Unavailable, Unit,
};

use crate::client::{self, COMPLETIONS_OBJECT, COSTS_OBJECT, CompletionsResult, CostResult};
use crate::config::OpenAiConfig;
use crate::error::{KeyRole, OpenAiErrors};
use crate::metrics::{CostTotals, push_usage_metrics, usage_by_model};

/// Name of the connection-test sub-check for the Admin key.
pub const USAGE_CHECK: &str = "usage_api";

const NEEDS_ADMIN: &str = "Usage and cost need an organization Admin key: set admin_key (sk-admin-…, created by an Owner under Settings → Organization → Admin keys, with Usage: Read).";

/// One configured OpenAI service.
#[derive(Debug)]
pub struct OpenAiService {
    config: OpenAiConfig,
    api: HttpClient,
    admin: Option<HttpClient>,
    clock: SharedClock,
}

/// Costs of a window plus what could not be counted.
struct CostData {
    totals: CostTotals,
    skipped: usize,
    stopped_early: Option<String>,
}

/// Usage of a window plus what could not be counted.
struct UsageData {
    models: Vec<ModelUsage>,
    skipped: usize,
    stopped_early: Option<String>,
}

impl OpenAiService {
    /// Build from a registry context (no I/O).
    pub fn build(ctx: BuildContext) -> Result<Arc<dyn BaseService>> {
        let config = OpenAiConfig::from_values(&ctx.config)?;
        Ok(Arc::new(
            Self::new(config, &ctx.http)?.with_clock(ctx.clock),
        ))
    }

    /// Build from a typed config (library use). No I/O.
    pub fn new(config: OpenAiConfig, http: &HttpSettings) -> Result<Self> {
        let mut api = HttpClient::builder("OpenAI", &config.base_url, http)
            .bearer(&config.api_key)
            .header("accept", "application/json")
            .vendor(OpenAiErrors::new(KeyRole::Api));
        if let Some(org) = &config.organization {
            api = api.header("openai-organization", org);
        }
        if let Some(project) = &config.project {
            api = api.header("openai-project", project);
        }
        let api = api.build()?;
        // The Admin key is organization-wide: no organization/project headers, which could
        // narrow or contradict it.
        let admin = config
            .admin_key
            .as_ref()
            .map(|key| {
                HttpClient::builder("OpenAI", &config.base_url, http)
                    .bearer(key)
                    .header("accept", "application/json")
                    .vendor(OpenAiErrors::new(KeyRole::Admin))
                    .build()
            })
            .transpose()?;
        Ok(OpenAiService {
            config,
            api,
            admin,
            clock: opsdeck_core::clock::system(),
        })
    }

    /// Use `clock` for windows and month boundaries (the system clock by default).
    pub fn with_clock(mut self, clock: SharedClock) -> Self {
        self.clock = clock;
        self
    }

    /// The typed config.
    pub fn config(&self) -> &OpenAiConfig {
        &self.config
    }

    fn admin(&self) -> std::result::Result<&HttpClient, Unavailable> {
        self.admin
            .as_ref()
            .ok_or_else(|| Unavailable::because(NEEDS_ADMIN))
    }

    fn identity(&self, resp: &HttpResponse) -> String {
        resp.header("openai-organization")
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
            .or_else(|| self.config.organization.clone())
            .or_else(|| self.config.project.clone())
            .unwrap_or_else(|| {
                self.config
                    .base_url
                    .host_str()
                    .unwrap_or("OpenAI")
                    .to_owned()
            })
    }

    /// The metrics window: today (partial) and the previous whole UTC days.
    fn metrics_window(&self, now: DateTime<Utc>) -> TimeWindow {
        let days = (self.config.metrics_window.as_secs() / 86_400).max(1);
        let midnight = Utc
            .timestamp_opt(now.timestamp() - now.timestamp().rem_euclid(86_400), 0)
            .single()
            .unwrap_or(now);
        let start = midnight - ChronoDuration::days(i64::try_from(days - 1).unwrap_or(0));
        TimeWindow { start, end: now }
    }

    async fn fetch_costs(&self, admin: &HttpClient, window: TimeWindow) -> Result<CostData> {
        let query = report_query(window, 180, &["line_item", "project_id"]);
        let paged =
            client::all_pages(admin, "/organization/costs", "daily cost buckets", query).await?;
        let stopped_early = paged.note();
        let (results, skipped) = client::results_of::<CostResult>(&paged.items, COSTS_OBJECT);
        let totals = CostTotals::from_results(results.iter().map(|(_, r)| r));
        Ok(CostData {
            skipped: skipped + totals.without_amount,
            totals,
            stopped_early,
        })
    }

    async fn fetch_usage(&self, admin: &HttpClient, window: TimeWindow) -> Result<UsageData> {
        let query = report_query(window, 31, &["model"]);
        let paged = client::all_pages(
            admin,
            "/organization/usage/completions",
            "daily usage buckets",
            query,
        )
        .await?;
        let stopped_early = paged.note();
        let (results, skipped) =
            client::results_of::<CompletionsResult>(&paged.items, COMPLETIONS_OBJECT);
        Ok(UsageData {
            models: usage_by_model(results.iter().map(|(_, r)| r)),
            skipped,
            stopped_early,
        })
    }
}

/// Query for a daily report over `window`: the bucket limit covers the window in one page
/// where the endpoint allows it (`max_limit`), and pagination fetches the rest.
fn report_query(
    window: TimeWindow,
    max_limit: i64,
    group_by: &[&'static str],
) -> Vec<(&'static str, String)> {
    let secs = (window.end - window.start).num_seconds().max(1);
    let days = (secs + 86_399) / 86_400;
    let mut q = vec![
        ("start_time", window.start.timestamp().to_string()),
        ("end_time", window.end.timestamp().to_string()),
        ("bucket_width", "1d".to_owned()),
        ("limit", days.clamp(1, max_limit).to_string()),
    ];
    // Arrays go as repeated keys (OpenAPI form/explode, the spec's default).
    q.extend(group_by.iter().map(|g| ("group_by", (*g).to_owned())));
    q
}

fn incomplete_notes(set: &mut MetricSet, what: &str, skipped: usize, stopped: Option<&String>) {
    if skipped > 0 {
        set.note(format!(
            "{skipped} {what} result(s) of an unknown kind or without an amount were skipped."
        ));
    }
    if let Some(why) = stopped {
        set.note(format!("{why} The {what} figures are partial."));
    }
}

#[async_trait]
impl BaseService for OpenAiService {
    fn descriptor(&self) -> &'static ProviderDescriptor {
        &crate::DESCRIPTOR
    }

    async fn probe(&self) -> Result<Connected> {
        let now = self.clock.now();
        let admin_check = async {
            match &self.admin {
                None => SubCheck::skipped(
                    USAGE_CHECK,
                    format!("Not checked: no admin_key. {NEEDS_ADMIN}"),
                ),
                Some(admin) => match client::costs_probe(admin, now).await {
                    Ok(_) => SubCheck::passed(
                        USAGE_CHECK,
                        "admin_key can read organization costs: usage and cost metrics will be collected.",
                    ),
                    Err(e) => SubCheck::failed(USAGE_CHECK, &e),
                },
            }
        };
        let (models, check) = futures::join!(client::list_models(&self.api), admin_check);
        match models {
            Ok((list, resp)) => {
                let identity = self.identity(&resp);
                let n = list.data.len();
                let mut message = format!(
                    "OpenAI accepted api_key for {identity}; {n} model{} available.",
                    if n == 1 { "" } else { "s" }
                );
                match (&self.admin, check.failure) {
                    (None, _) => message.push_str(" Usage and cost metrics are off: no admin_key."),
                    (Some(_), None) => {
                        message.push_str(" admin_key can read usage and cost.");
                    }
                    (Some(_), Some(kind)) if kind.is_temporary() => {
                        message.push_str(
                            " Whether admin_key can read usage and cost could not be checked now: ",
                        );
                        message.push_str(&check.message);
                    }
                    (Some(_), Some(_)) => {
                        message.push_str(" Usage and cost collection will NOT work: ");
                        message.push_str(&check.message);
                    }
                }
                let mut details = ReportDetails::default();
                details.rate_limit = OpenAiErrors::new(KeyRole::Api).rate_limit(&resp);
                details.checks = vec![check];
                if let Some(id) = resp.header("x-request-id") {
                    details
                        .extra
                        .insert("request_id".to_owned(), serde_json::Value::from(id));
                }
                Ok(Connected::new(Some(identity), message).with_details(details))
            }
            Err(mut e) => {
                e.details_mut().checks.push(check);
                Err(e)
            }
        }
    }

    async fn collect_metrics(&self) -> Result<MetricSet> {
        let mut set = MetricSet::new();
        let Some(admin) = &self.admin else {
            let (list, _) = client::list_models(&self.api).await?;
            push_models(&mut set, list.data.len());
            set.note(format!("{NEEDS_ADMIN} Only the model count was collected."));
            return Ok(set);
        };
        let now = self.clock.now();
        let window = self.metrics_window(now);
        let previous = TimeWindow::previous_month(now);
        let (models, costs, usage, costs_previous) = futures::join!(
            client::list_models(&self.api),
            self.fetch_costs(admin, window),
            self.fetch_usage(admin, window),
            self.fetch_costs(admin, previous),
        );
        // Each section stands alone: a failed endpoint becomes a problem naming it. Cost and
        // usage are read with the admin key, so a rejected admin key is their problem only.
        let mut set = Sections::new();
        if let Some((list, _)) = set.section("models", models)? {
            push_models(&mut set, list.data.len());
        }
        let costs =
            set.section_with_own_credential("cost", costs.map_err(|e| admin_failed(e, "cost")));
        let usage =
            set.section_with_own_credential("usage", usage.map_err(|e| admin_failed(e, "usage")));
        if let Some(costs) = &costs {
            costs.totals.push_metrics(&mut set);
        }
        if let Some(usage) = &usage {
            push_usage_metrics(&usage.models, &mut set);
        }
        if costs.is_some() || usage.is_some() {
            set.note(format!(
                "Usage and cost cover {} to {} (UTC, daily buckets; today is partial).",
                window.start.format("%Y-%m-%d"),
                window.end.format("%Y-%m-%d %H:%M")
            ));
        }
        if let Some(costs) = &costs {
            incomplete_notes(
                &mut set,
                "cost",
                costs.skipped,
                costs.stopped_early.as_ref(),
            );
        }
        if let Some(usage) = &usage {
            incomplete_notes(
                &mut set,
                "usage",
                usage.skipped,
                usage.stopped_early.as_ref(),
            );
        }
        // The previous full calendar month, labelled, whatever metrics_window is.
        let costs_previous = set.section_with_own_credential(
            "cost_previous_month",
            costs_previous.map_err(|e| admin_failed(e, "cost")),
        );
        if let Some(previous_costs) = &costs_previous {
            previous_costs
                .totals
                .push_previous_month(&mut set, &previous);
            incomplete_notes(
                &mut set,
                "previous-month cost",
                previous_costs.skipped,
                previous_costs.stopped_early.as_ref(),
            );
        }
        set.finish()
    }

    fn as_ai(&self) -> Option<&dyn AiService> {
        Some(self)
    }
}

/// Log a partial answer of a verb whose result has no room for notes.
fn log_partial(note: Option<&str>) {
    if let Some(note) = note {
        tracing::info!(note, "openai answer is partial");
    }
}

fn push_models(set: &mut MetricSet, n: usize) {
    set.push(Metric::new(
        "openai_models_available",
        n as f64,
        Unit::Count,
    ));
}

/// Say which half failed: the model count worked or was not the problem.
fn admin_failed(e: Error, what: &str) -> Error {
    let msg = format!(
        "Collecting OpenAI {what} with admin_key failed: {}",
        e.message()
    );
    e.with_message(msg)
}

#[async_trait]
impl AiService for OpenAiService {
    async fn models(&self) -> Result<Vec<AiModel>> {
        let (list, _) = client::list_models(&self.api).await?;
        Ok(list.data.into_iter().map(|m| AiModel::new(m.id)).collect())
    }

    fn usage_source(&self) -> Ability<'_, dyn AiUsageSource> {
        self.admin().map(|_| self as &dyn AiUsageSource)
    }

    fn cost_source(&self) -> Ability<'_, dyn CostSource> {
        self.admin().map(|_| self as &dyn CostSource)
    }
}

#[async_trait]
impl CostSource for OpenAiService {
    async fn cost(&self, window: TimeWindow) -> Result<CostReport> {
        let admin = self
            .admin()
            .map_err(|u| Error::invalid_config(u.reason.into_owned()))?;
        let costs = self.fetch_costs(admin, window).await?;
        log_partial(costs.stopped_early.as_deref());
        Ok(costs.totals.report(window))
    }
}

#[async_trait]
impl AiUsageSource for OpenAiService {
    async fn ai_usage(&self, window: TimeWindow) -> Result<AiUsage> {
        let admin = self
            .admin()
            .map_err(|u| Error::invalid_config(u.reason.into_owned()))?;
        let (costs, usage) = futures::join!(
            self.fetch_costs(admin, window),
            self.fetch_usage(admin, window)
        );
        let (costs, usage) = (costs?, usage?);
        log_partial(costs.stopped_early.as_deref());
        log_partial(usage.stopped_early.as_deref());
        Ok(AiUsage::new(
            window,
            usage.models,
            Some(costs.totals.report(window)),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn report_query_covers_the_window_with_repeated_group_by() {
        let end = Utc
            .timestamp_opt(1_764_374_400, 0)
            .single()
            .unwrap_or_default();
        let w = TimeWindow {
            start: end - ChronoDuration::days(40),
            end,
        };
        let q = report_query(w, 31, &["model"]);
        assert!(q.contains(&("limit", "31".to_owned())));
        assert!(q.contains(&("group_by", "model".to_owned())));
        assert!(q.contains(&("bucket_width", "1d".to_owned())));
        let q = report_query(w, 180, &["line_item", "project_id"]);
        assert!(q.contains(&("limit", "40".to_owned())));
        assert_eq!(q.iter().filter(|(k, _)| *k == "group_by").count(), 2);
    }
}
