//! Gemini API calls and their wire types (`GET /v1beta/models`). Field names follow the proto3
//! JSON mapping of `google.ai.generativelanguage.v1beta.Model` (lowerCamelCase). Unknown fields
//! are ignored; empty lists may be omitted entirely, so every list is optional.

use opsdeck_core::Result;
use opsdeck_core::http::{HttpClient, HttpResponse, HttpSettings, Page, Paged, Paging, paginate};
use serde::Deserialize;

use crate::config::GeminiConfig;
use crate::error::GeminiErrors;

/// Models per page when listing everything (the documented maximum is 1000).
const PAGE_SIZE: u32 = 1000;

/// Pages read at most: Google lists a few dozen models on one page; the cap bounds a page token
/// that never ends.
const MAX_PAGES: usize = 50;

/// `ListModelsResponse`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct ModelsPage {
    #[serde(default)]
    pub models: Vec<Model>,
    #[serde(default)]
    pub next_page_token: Option<String>,
}

/// `Model`.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Model {
    /// `models/{model}`.
    pub name: String,
    #[serde(default)]
    pub display_name: Option<String>,
    #[serde(default)]
    pub input_token_limit: Option<u64>,
    #[serde(default)]
    pub output_token_limit: Option<u64>,
}

impl Model {
    /// The id used in API calls: the resource name without `models/`.
    pub(crate) fn id(&self) -> &str {
        self.name.strip_prefix("models/").unwrap_or(&self.name)
    }
}

/// The Generative Language API as opsdeck uses it.
#[derive(Debug, Clone)]
pub(crate) struct GeminiClient {
    http: HttpClient,
}

impl GeminiClient {
    /// Build the client (no I/O). The key goes in `x-goog-api-key`, never in the query string.
    pub(crate) fn new(config: &GeminiConfig, settings: &HttpSettings) -> Result<Self> {
        let http = HttpClient::builder("Gemini", &config.base_url, settings)
            .secret_header("x-goog-api-key", &config.api_key)
            .header("accept", "application/json")
            .vendor(GeminiErrors)
            .build()?;
        Ok(GeminiClient { http })
    }

    /// One page of models; listing models uses no token quota.
    pub(crate) async fn models_page(
        &self,
        page_size: u32,
        page_token: Option<&str>,
    ) -> Result<(ModelsPage, HttpResponse)> {
        let mut query = vec![("pageSize", page_size.to_string())];
        if let Some(token) = page_token {
            query.push(("pageToken", token.to_owned()));
        }
        self.http.get_json("/v1beta/models", &query).await
    }

    /// Every model, following `nextPageToken` until it is absent.
    pub(crate) async fn all_models(&self) -> Result<Paged<Model>> {
        paginate(
            &Paging::new("models", MAX_PAGES),
            |token: Option<String>| async move {
                let (page, _) = self.models_page(PAGE_SIZE, token.as_deref()).await?;
                tracing::debug!(
                    models = page.models.len(),
                    more = page.next_page_token.is_some(),
                    "gemini models page"
                );
                let next = page.next_page_token.filter(|t| !t.is_empty());
                Ok(Page::new(page.models, next))
            },
        )
        .await
    }
}
