//! Anthropic API calls and their wire types. Two HTTP clients share the core policy: one sends
//! the workspace API key, the other the organization Admin API key. Wire types ignore unknown
//! fields (Anthropic adds fields over time) and require only what opsdeck reads.

use chrono::{DateTime, Duration as ChronoDuration, DurationRound, Utc};
use opsdeck_core::domain::TimeWindow;
use opsdeck_core::http::{HttpClient, HttpResponse, HttpSettings, Page, Paged, Paging, paginate};
use opsdeck_core::{Error, Result};
use serde::Deserialize;

use crate::config::ClaudeConfig;
use crate::error::{ClaudeErrors, KeyRole};

/// The API version header Anthropic requires on every request.
pub const ANTHROPIC_VERSION: &str = "2023-06-01";

/// Page size for `GET /v1/models` (documented range 1..=1000).
const MODELS_PAGE_SIZE: u32 = 1000;

/// Report buckets per page: the documented maximum for `bucket_width=1d` is 31.
const REPORT_PAGE_LIMIT: u32 = 31;

/// Pages read per listing: far more than any window needs (a month of daily buckets is one
/// report page), and a bound on a vendor bug (a cursor that never ends).
const MAX_PAGES: usize = 50;

/// `GET /v1/models` page.
#[derive(Debug, Deserialize)]
pub(crate) struct ModelsPage {
    pub data: Vec<ModelInfo>,
    #[serde(default)]
    pub has_more: bool,
    #[serde(default)]
    pub last_id: Option<String>,
}

/// One model of `GET /v1/models`.
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct ModelInfo {
    pub id: String,
    #[serde(default)]
    pub display_name: Option<String>,
    #[serde(default)]
    pub max_input_tokens: Option<u64>,
    #[serde(default)]
    pub max_tokens: Option<u64>,
}

/// `GET /v1/organizations/me`.
#[derive(Debug, Deserialize)]
pub(crate) struct Organization {
    #[serde(default)]
    pub id: Option<String>,
    pub name: String,
}

/// Envelope shared by the usage and cost reports.
#[derive(Debug, Deserialize)]
struct ReportPage<R> {
    data: Vec<Bucket<R>>,
    #[serde(default)]
    has_more: bool,
    #[serde(default)]
    next_page: Option<String>,
}

#[derive(Debug, Deserialize)]
struct Bucket<R> {
    #[serde(default = "Vec::new")]
    results: Vec<R>,
}

/// One row of the messages usage report (grouped by model).
#[derive(Debug, Clone, Default, Deserialize)]
pub(crate) struct UsageRow {
    #[serde(default)]
    pub model: Option<String>,
    #[serde(default)]
    pub uncached_input_tokens: u64,
    #[serde(default)]
    pub cache_read_input_tokens: u64,
    #[serde(default)]
    pub output_tokens: u64,
    #[serde(default)]
    pub cache_creation: CacheCreation,
    #[serde(default)]
    pub server_tool_use: ServerToolUse,
}

/// Cache-write tokens by time-to-live; nested in the usage report.
#[derive(Debug, Clone, Copy, Default, Deserialize)]
pub(crate) struct CacheCreation {
    #[serde(default)]
    pub ephemeral_5m_input_tokens: u64,
    #[serde(default)]
    pub ephemeral_1h_input_tokens: u64,
}

/// Server-side tool use counts.
#[derive(Debug, Clone, Copy, Default, Deserialize)]
pub(crate) struct ServerToolUse {
    #[serde(default)]
    pub web_search_requests: u64,
}

/// One row of the cost report (grouped by description). `amount` is a decimal string in the
/// currency's lowest unit (cents), kept as text until it is parsed exactly.
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct CostRow {
    pub amount: String,
    #[serde(default)]
    pub currency: Option<String>,
    #[serde(default)]
    pub cost_type: Option<String>,
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default)]
    pub model: Option<String>,
}

/// The Anthropic API as opsdeck uses it.
#[derive(Debug, Clone)]
pub(crate) struct ClaudeClient {
    api: HttpClient,
    admin: Option<HttpClient>,
}

impl ClaudeClient {
    /// Build both clients (no I/O).
    pub(crate) fn new(config: &ClaudeConfig, settings: &HttpSettings) -> Result<Self> {
        let api = HttpClient::builder("Anthropic", &config.base_url, settings)
            .secret_header("x-api-key", &config.api_key)
            .header("anthropic-version", ANTHROPIC_VERSION)
            .header("accept", "application/json")
            .vendor(ClaudeErrors {
                role: KeyRole::Api {
                    looks_like_admin: config.api_key_is_admin(),
                },
            })
            .build()?;
        let admin = match &config.admin_key {
            Some(key) => Some(
                HttpClient::builder("Anthropic Admin API", &config.base_url, settings)
                    .secret_header("x-api-key", key)
                    .header("anthropic-version", ANTHROPIC_VERSION)
                    .header("accept", "application/json")
                    .vendor(ClaudeErrors {
                        role: KeyRole::Admin {
                            looks_like_api_key: config.admin_key_looks_wrong(),
                        },
                    })
                    .build()?,
            ),
            None => None,
        };
        Ok(ClaudeClient { api, admin })
    }

    pub(crate) fn has_admin(&self) -> bool {
        self.admin.is_some()
    }

    fn admin(&self) -> Result<&HttpClient> {
        self.admin.as_ref().ok_or_else(|| {
            Error::invalid_config(
                "Usage and cost need an Anthropic Admin API key: set admin_key (sk-ant-admin…).",
            )
        })
    }

    /// One page of models; the cheapest authenticated call (no tokens are used).
    pub(crate) async fn models_page(
        &self,
        limit: u32,
        after_id: Option<&str>,
    ) -> Result<(ModelsPage, HttpResponse)> {
        let mut query = vec![("limit", limit.to_string())];
        if let Some(after) = after_id {
            query.push(("after_id", after.to_owned()));
        }
        self.api.get_json("/v1/models", &query).await
    }

    /// Every model, following `last_id` → `after_id` while `has_more`.
    pub(crate) async fn all_models(&self) -> Result<Paged<ModelInfo>> {
        paginate(
            &Paging::new("models", MAX_PAGES),
            |after: Option<String>| async move {
                let (page, _) = self.models_page(MODELS_PAGE_SIZE, after.as_deref()).await?;
                tracing::debug!(
                    models = page.data.len(),
                    more = page.has_more,
                    "anthropic models page"
                );
                Ok(match (page.has_more, page.last_id) {
                    (true, Some(last)) => Page::new(page.data, Some(last)),
                    (true, None) => Page::more_without_cursor(page.data),
                    (false, _) => Page::new(page.data, None),
                })
            },
        )
        .await
    }

    /// The organization the Admin key belongs to.
    pub(crate) async fn organization(&self) -> Result<Organization> {
        let (org, _) = self.admin()?.get_json("/v1/organizations/me", &[]).await?;
        Ok(org)
    }

    /// Messages usage over `window`, daily buckets grouped by model, all pages.
    pub(crate) async fn usage(&self, window: &TimeWindow) -> Result<Paged<UsageRow>> {
        self.report("/v1/organizations/usage_report/messages", window, "model")
            .await
    }

    /// Cost over `window`, daily buckets grouped by description, all pages.
    pub(crate) async fn cost(&self, window: &TimeWindow) -> Result<Paged<CostRow>> {
        self.report("/v1/organizations/cost_report", window, "description")
            .await
    }

    async fn report<R: serde::de::DeserializeOwned>(
        &self,
        path: &str,
        window: &TimeWindow,
        group_by: &str,
    ) -> Result<Paged<R>> {
        let client = self.admin()?;
        let (start, end) = day_bounds(window);
        let what = if path.contains("cost") {
            "cost report rows"
        } else {
            "usage report rows"
        };
        paginate(
            &Paging::new(what, MAX_PAGES),
            |page: Option<String>| async move {
                let mut query = vec![
                    ("starting_at", rfc3339(start)),
                    ("ending_at", rfc3339(end)),
                    ("bucket_width", "1d".to_owned()),
                    ("group_by[]", group_by.to_owned()),
                    ("limit", REPORT_PAGE_LIMIT.to_string()),
                ];
                if let Some(p) = page {
                    query.push(("page", p));
                }
                let (body, _): (ReportPage<R>, _) = client.get_json(path, &query).await?;
                let rows: Vec<R> = body.data.into_iter().flat_map(|b| b.results).collect();
                tracing::debug!(
                    path,
                    rows = rows.len(),
                    more = body.has_more,
                    "anthropic report page"
                );
                Ok(match (body.has_more, body.next_page) {
                    (true, Some(next)) => Page::new(rows, Some(next)),
                    (true, None) => Page::more_without_cursor(rows),
                    (false, _) => Page::new(rows, None),
                })
            },
        )
        .await
    }
}

/// The report endpoints use whole UTC days (`bucket_width=1d`) and return only buckets that end
/// before `ending_at`, so the start is floored and the end rounded up to midnight: the current,
/// still-running day is included.
pub(crate) fn day_bounds(window: &TimeWindow) -> (DateTime<Utc>, DateTime<Utc>) {
    let day = ChronoDuration::days(1);
    let start = window.start.duration_trunc(day).unwrap_or(window.start);
    let end_floor = window.end.duration_trunc(day).unwrap_or(window.end);
    let end = if end_floor == window.end {
        window.end
    } else {
        end_floor + day
    };
    (start, end.max(start + day))
}

fn rfc3339(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}
