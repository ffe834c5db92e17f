//! The Azure OpenAI service: connection test, model metrics and the AI category verb. Usage and
//! cost are declared unavailable, with the reason and where to get them instead.

use std::sync::Arc;

use async_trait::async_trait;
use chrono::Duration as ChronoDuration;
use opsdeck_core::clock::SharedClock;
use opsdeck_core::domain::AiModel;
use opsdeck_core::http::HttpSettings;
use opsdeck_core::status::ReportDetails;
use opsdeck_core::{
    Ability, AiService, AiUsageSource, BaseService, BuildContext, Connected, CostSource, Metric,
    MetricSet, ProviderDescriptor, Result, Unavailable, Unit,
};

use crate::client::{AzureClient, DeploymentCheck, Model, unknown_deployment};
use crate::config::AzureOpenAiConfig;

/// Why usage and cost are unavailable, and what to use instead.
pub const USAGE_UNAVAILABLE: &str = "Azure OpenAI's data-plane API (endpoint + api-key) has no usage or billing endpoint. Usage: Azure Monitor metrics of the resource (Processed Prompt Tokens, Generated Completion Tokens; role Monitoring Reader). Cost: Azure Cost Management for the resource's subscription or resource group (role Cost Management Reader).";

/// Models whose inference retires within this window are counted as retiring.
const RETIRING_WITHIN_DAYS: i64 = 30;

/// One configured Azure OpenAI resource.
#[derive(Debug)]
pub struct AzureOpenAiService {
    config: AzureOpenAiConfig,
    client: AzureClient,
    clock: SharedClock,
}

impl AzureOpenAiService {
    /// Build from a registry context (no I/O).
    pub fn build(ctx: BuildContext) -> Result<Arc<dyn BaseService>> {
        let config = AzureOpenAiConfig::from_values(&ctx.config)?;
        Ok(Arc::new(Self::with_clock(config, &ctx.http, ctx.clock)?))
    }

    /// Build from a typed config (library use), on the system clock. No I/O.
    pub fn new(config: AzureOpenAiConfig, http: &HttpSettings) -> Result<Self> {
        Self::with_clock(config, http, opsdeck_core::clock::system())
    }

    /// Build with the clock that decides which models are about to retire. No I/O.
    pub fn with_clock(
        config: AzureOpenAiConfig,
        http: &HttpSettings,
        clock: SharedClock,
    ) -> Result<Self> {
        Ok(AzureOpenAiService {
            client: AzureClient::new(&config, http)?,
            config,
            clock,
        })
    }

    fn resource(&self) -> String {
        self.config
            .endpoint
            .host_str()
            .map(|h| h.strip_suffix(".openai.azure.com").unwrap_or(h).to_owned())
            .unwrap_or_else(|| "Azure OpenAI".to_owned())
    }

    /// Models whose inference retires within [`RETIRING_WITHIN_DAYS`] from now.
    fn retiring<'a>(&self, models: &'a [Model]) -> Vec<&'a Model> {
        let now = self.clock.now();
        let horizon = (now + ChronoDuration::days(RETIRING_WITHIN_DAYS)).timestamp();
        models
            .iter()
            .filter(|m| {
                m.deprecation
                    .inference
                    .is_some_and(|t| t > now.timestamp() && t <= horizon)
            })
            .collect()
    }

    /// The configured deployment, confirmed when the data plane can.
    async fn check_deployment(&self) -> Result<Option<(String, DeploymentCheck)>> {
        let Some(name) = &self.config.deployment else {
            return Ok(None);
        };
        let check = self.client.deployment(name).await?;
        if let DeploymentCheck::Found(d) = &check
            && d.id.as_deref().is_some_and(|id| id != name)
        {
            return Err(unknown_deployment(name));
        }
        Ok(Some((name.clone(), check)))
    }
}

#[async_trait]
impl BaseService for AzureOpenAiService {
    fn descriptor(&self) -> &'static ProviderDescriptor {
        &crate::DESCRIPTOR
    }

    async fn probe(&self) -> Result<Connected> {
        let (models, resp) = self.client.models().await?;
        let deployment = self.check_deployment().await?;
        let resource = self.resource();
        let inference = models
            .iter()
            .filter(|m| m.capabilities.inference == Some(true))
            .count();
        let mut message = format!(
            "Azure OpenAI accepted the key for {resource} (api-version {}): {} models available, {inference} for inference.",
            self.config.api_version,
            models.len()
        );
        let retiring = self.retiring(&models);
        if !retiring.is_empty() {
            let names: Vec<&str> = retiring.iter().map(|m| m.id.as_str()).collect();
            message.push_str(&format!(
                " Retiring within {RETIRING_WITHIN_DAYS} days: {}.",
                names.join(", ")
            ));
        }
        let mut details = ReportDetails::default();
        details.http_status = Some(resp.status.as_u16());
        details.rate_limit = resp.rate_limit();
        details
            .extra
            .insert("resource".into(), resource.clone().into());
        details
            .extra
            .insert("api_version".into(), self.config.api_version.clone().into());
        details.extra.insert("models".into(), models.len().into());
        match &deployment {
            Some((name, DeploymentCheck::Found(d))) => {
                let model = d.model.as_deref().unwrap_or("an unnamed model");
                let status = d.status.as_deref().unwrap_or("unknown");
                message.push_str(&format!(
                    " Deployment {name} serves {model} (status {status})."
                ));
                details
                    .extra
                    .insert("deployment".into(), name.clone().into());
                if let Some(m) = &d.model {
                    details
                        .extra
                        .insert("deployment_model".into(), m.clone().into());
                }
                details
                    .extra
                    .insert("deployment_status".into(), status.into());
            }
            Some((name, DeploymentCheck::NotServed)) => {
                message.push_str(&format!(
                    " Deployment {name} was not confirmed: at api-version {} the data plane does not describe deployments (Azure lists them through Azure Resource Manager).",
                    self.config.api_version
                ));
                details
                    .extra
                    .insert("deployment".into(), name.clone().into());
                details
                    .extra
                    .insert("deployment_status".into(), "unverified".into());
            }
            None => {}
        }
        message.push_str(" Usage and cost are in Azure Monitor and Azure Cost Management.");
        Ok(Connected::new(Some(resource), message).with_details(details))
    }

    async fn collect_metrics(&self) -> Result<MetricSet> {
        let (models, _) = self.client.models().await?;
        let mut set = MetricSet::new();
        set.push(Metric::new(
            "azure_openai_models_available",
            models.len() as f64,
            Unit::Count,
        ));
        let inference = models
            .iter()
            .filter(|m| m.capabilities.inference == Some(true))
            .count();
        set.push(Metric::new(
            "azure_openai_models_inference",
            inference as f64,
            Unit::Count,
        ));
        set.push(Metric::new(
            "azure_openai_models_retiring_30d",
            self.retiring(&models).len() as f64,
            Unit::Count,
        ));
        match self.check_deployment().await? {
            Some((name, DeploymentCheck::Found(d))) => {
                let up = d
                    .status
                    .as_deref()
                    .is_none_or(|s| s.eq_ignore_ascii_case("succeeded"));
                let mut m = Metric::new(
                    "azure_openai_deployment_up",
                    if up { 1.0 } else { 0.0 },
                    Unit::Count,
                )
                .label("deployment", name);
                if let Some(model) = d.model {
                    m = m.label("model", model);
                }
                set.push(m);
            }
            Some((name, DeploymentCheck::NotServed)) => set.note(format!(
                "Deployment {name} could not be confirmed at api-version {}: the data plane does not describe deployments there.",
                self.config.api_version
            )),
            None => {}
        }
        set.note(USAGE_UNAVAILABLE);
        Ok(set)
    }

    fn as_ai(&self) -> Option<&dyn AiService> {
        Some(self)
    }
}

#[async_trait]
impl AiService for AzureOpenAiService {
    async fn models(&self) -> Result<Vec<AiModel>> {
        let (models, _) = self.client.models().await?;
        Ok(models
            .into_iter()
            .map(|m| {
                let mut model = AiModel::new(m.id.clone());
                model.display_name = m.model.map(|base| format!("{} (fine-tuned {base})", m.id));
                model
            })
            .collect())
    }

    fn usage_source(&self) -> Ability<'_, dyn AiUsageSource> {
        Err(Unavailable::unsupported(USAGE_UNAVAILABLE))
    }

    fn cost_source(&self) -> Ability<'_, dyn CostSource> {
        Err(Unavailable::unsupported(USAGE_UNAVAILABLE))
    }
}
