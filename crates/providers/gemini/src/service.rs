//! The Gemini service: connection test, model metrics and the AI category verb. Usage and cost
//! are declared unavailable, with the reason and where to get them instead: a Gemini API key
//! can read no usage or billing data.

use std::sync::Arc;

use async_trait::async_trait;
use opsdeck_core::domain::AiModel;
use opsdeck_core::http::HttpSettings;
use opsdeck_core::{
    Ability, AiService, AiUsageSource, BaseService, BuildContext, Connected, CostSource, Metric,
    MetricSet, ProviderDescriptor, Result, Unavailable, Unit,
};

use crate::client::GeminiClient;
use crate::config::GeminiConfig;

/// Why usage and cost are unavailable, and what to use instead.
pub const USAGE_UNAVAILABLE: &str = "Gemini API keys have no usage or billing endpoint. Usage: Google Cloud Console → APIs & Services → Generative Language API → Metrics (or Cloud Monitoring, role roles/monitoring.viewer). Cost: Cloud Billing reports or the billing export to BigQuery (role roles/billing.viewer).";

/// One configured Gemini service.
#[derive(Debug)]
pub struct GeminiService {
    client: GeminiClient,
}

impl GeminiService {
    /// Build from a registry context (no I/O).
    pub fn build(ctx: BuildContext) -> Result<Arc<dyn BaseService>> {
        let config = GeminiConfig::from_values(&ctx.config)?;
        Ok(Arc::new(Self::new(&config, &ctx.http)?))
    }

    /// Build from a typed config (library use). No I/O.
    pub fn new(config: &GeminiConfig, http: &HttpSettings) -> Result<Self> {
        Ok(GeminiService {
            client: GeminiClient::new(config, http)?,
        })
    }
}

#[async_trait]
impl BaseService for GeminiService {
    fn descriptor(&self) -> &'static ProviderDescriptor {
        &crate::DESCRIPTOR
    }

    async fn probe(&self) -> Result<Connected> {
        let (page, _) = self.client.models_page(1, None).await?;
        let first = page
            .models
            .first()
            .map(|m| format!(" (e.g. {})", m.id()))
            .unwrap_or_default();
        // An API key names no account or project, so the identity says what was checked.
        Ok(Connected::new(
            Some("Gemini API key".to_owned()),
            format!(
                "Google accepted the Gemini API key; the models list answered{first}. Usage and cost are not available with an API key."
            ),
        ))
    }

    async fn collect_metrics(&self) -> Result<MetricSet> {
        let models = self.client.all_models().await?;
        let mut set = MetricSet::new();
        set.push(Metric::new(
            "gemini_models_available",
            models.items.len() as f64,
            Unit::Count,
        ));
        if let Some(note) = models.note() {
            set.note(format!("{note} gemini_models_available is a lower bound."));
        }
        for m in &models.items {
            if let Some(limit) = m.input_token_limit {
                set.push(
                    Metric::new("gemini_model_input_token_limit", limit as f64, Unit::Tokens)
                        .label("model", m.id()),
                );
            }
            if let Some(limit) = m.output_token_limit {
                set.push(
                    Metric::new(
                        "gemini_model_output_token_limit",
                        limit as f64,
                        Unit::Tokens,
                    )
                    .label("model", m.id()),
                );
            }
        }
        set.note(USAGE_UNAVAILABLE);
        Ok(set)
    }

    fn as_ai(&self) -> Option<&dyn AiService> {
        Some(self)
    }
}

#[async_trait]
impl AiService for GeminiService {
    async fn models(&self) -> Result<Vec<AiModel>> {
        let models = self.client.all_models().await?;
        if let Some(note) = models.note() {
            // The models verb has no notes; the partial list is still returned.
            tracing::info!(note, "gemini models partial");
        }
        Ok(models
            .items
            .into_iter()
            .map(|m| {
                let mut model = AiModel::new(m.id());
                model.display_name = m.display_name.clone();
                model.input_token_limit = m.input_token_limit;
                model.output_token_limit = m.output_token_limit;
                model
            })
            .collect())
    }

    // The Gemini API has no usage or billing endpoint for API keys: not offered, whatever the
    // configuration.
    fn usage_source(&self) -> Ability<'_, dyn AiUsageSource> {
        Err(Unavailable::unsupported(USAGE_UNAVAILABLE))
    }

    fn cost_source(&self) -> Ability<'_, dyn CostSource> {
        Err(Unavailable::unsupported(USAGE_UNAVAILABLE))
    }
}
