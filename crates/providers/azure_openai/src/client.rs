//! Azure OpenAI data-plane calls and their wire types. Every request carries the key in the
//! `api-key` header and `api-version` in the query, as Azure's REST reference specifies.
//! Unknown fields are ignored and every field we read is optional but the id, because Azure's
//! model list differs from OpenAI's (`created_at` instead of `created`, no `owned_by`).

use opsdeck_core::http::{HttpClient, HttpResponse, HttpSettings};
use opsdeck_core::{Error, FailureKind, Result};
use serde::Deserialize;

use crate::config::AzureOpenAiConfig;
use crate::error::{AzureErrors, DEPLOYMENT_NOT_FOUND, ERROR_CODE_DETAIL};

/// `ModelList`.
#[derive(Debug, Deserialize)]
pub(crate) struct ModelList {
    #[serde(default)]
    pub data: Vec<Model>,
}

/// `Capabilities`.
#[derive(Debug, Clone, Default, Deserialize)]
pub(crate) struct Capabilities {
    #[serde(default)]
    pub inference: Option<bool>,
}

/// `Deprecation`: Unix times after which fine-tuning / inference stop.
#[derive(Debug, Clone, Default, Deserialize)]
pub(crate) struct Deprecation {
    #[serde(default)]
    pub inference: Option<i64>,
}

/// `Model` as Azure lists it.
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct Model {
    pub id: String,
    /// The base model of a fine-tuned one.
    #[serde(default)]
    pub model: Option<String>,
    #[serde(default)]
    pub capabilities: Capabilities,
    #[serde(default)]
    pub deprecation: Deprecation,
}

/// A deployment, as the data plane described it where it still does.
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct Deployment {
    #[serde(default)]
    pub id: Option<String>,
    /// The deployed model.
    #[serde(default)]
    pub model: Option<String>,
    /// `succeeded`, `running`, `failed`, …
    #[serde(default)]
    pub status: Option<String>,
}

/// What Azure said about the configured deployment.
#[derive(Debug, Clone)]
pub(crate) enum DeploymentCheck {
    /// Azure described it.
    Found(Deployment),
    /// This API version's data plane does not serve deployment details (it answered 404 with
    /// no `DeploymentNotFound`): neither confirmed nor refuted.
    NotServed,
}

/// The Azure OpenAI data plane as opsdeck uses it.
#[derive(Debug, Clone)]
pub(crate) struct AzureClient {
    http: HttpClient,
    api_version: String,
}

impl AzureClient {
    /// Build the client (no I/O).
    pub(crate) fn new(config: &AzureOpenAiConfig, settings: &HttpSettings) -> Result<Self> {
        let http = HttpClient::builder("Azure OpenAI", &config.endpoint, settings)
            .secret_header("api-key", &config.api_key)
            .header("accept", "application/json")
            .vendor(AzureErrors)
            .build()?;
        Ok(AzureClient {
            http,
            api_version: config.api_version.clone(),
        })
    }

    fn version(&self) -> [(&'static str, String); 1] {
        [("api-version", self.api_version.clone())]
    }

    /// `GET /openai/models?api-version=…`: base models and the resource's fine-tuned models.
    pub(crate) async fn models(&self) -> Result<(Vec<Model>, HttpResponse)> {
        let (list, resp) = self
            .http
            .get_json::<ModelList>("/openai/models", &self.version())
            .await?;
        Ok((list.data, resp))
    }

    /// `GET /openai/deployments/{deployment}?api-version=…`.
    pub(crate) async fn deployment(&self, name: &str) -> Result<DeploymentCheck> {
        let path = format!("/openai/deployments/{name}");
        match self
            .http
            .get_json::<Deployment>(&path, &self.version())
            .await
        {
            Ok((d, _)) => Ok(DeploymentCheck::Found(d)),
            Err(e)
                if e.kind() == FailureKind::NotFound
                    && e.details().extra.get(ERROR_CODE_DETAIL)
                        != Some(&serde_json::Value::from(DEPLOYMENT_NOT_FOUND)) =>
            {
                tracing::debug!(
                    deployment = name,
                    "deployment details not served at this api-version"
                );
                Ok(DeploymentCheck::NotServed)
            }
            Err(e) => Err(e),
        }
    }
}

/// An error for a deployment Azure did not list among what it described.
pub(crate) fn unknown_deployment(name: &str) -> Error {
    Error::new(
        FailureKind::NotFound,
        format!("Azure OpenAI has no deployment named \"{name}\" on this resource."),
    )
    .with_hint("Set `deployment` to the deployment name shown in Azure AI Foundry → Deployments (not the model name).")
}
