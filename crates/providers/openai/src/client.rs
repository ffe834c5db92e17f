//! The OpenAI API calls opsdeck makes and their wire types, over the shared HTTP client.
//!
//! The types are our own and lenient on purpose: only what we read is required, unknown fields
//! are ignored, and a usage or cost result whose `object` we do not know is skipped rather than
//! failing the whole page (async-openai 0.43's `UsageResult` enum would reject it, and its
//! `Model` rejects gateway answers without `created`/`owned_by`).

use std::str::FromStr;

use chrono::{DateTime, Utc};
use opsdeck_core::Result;
use opsdeck_core::http::{HttpClient, HttpResponse, Page as NextPage, Paged, Paging, paginate};
use opsdeck_core::rust_decimal::Decimal;
use serde::Deserialize;
use serde_json::Value;

/// Most pages we follow for one report. A 180-day window needs one page of costs and six of
/// daily usage; the cap only protects against a server that never stops paginating.
pub const MAX_PAGES: usize = 50;

/// `GET /models` → `{"object":"list","data":[…]}`.
#[derive(Debug, Deserialize)]
pub struct ModelList {
    /// The models.
    pub data: Vec<ModelEntry>,
}

/// One model. Only `id` is required: gateways often omit the rest.
#[derive(Debug, Deserialize)]
pub struct ModelEntry {
    /// Model id.
    pub id: String,
}

/// A page of `/organization/costs` or `/organization/usage/*` (`UsageResponse`).
#[derive(Debug, Deserialize)]
pub struct Page {
    /// Daily (or hourly) buckets.
    #[serde(default)]
    pub data: Vec<Bucket>,
    /// More pages follow.
    #[serde(default)]
    pub has_more: bool,
    /// Cursor for the next page.
    #[serde(default)]
    pub next_page: Option<String>,
}

/// One time bucket; results are kept raw and decoded by `object`.
#[derive(Debug, Deserialize)]
pub struct Bucket {
    /// Bucket start (Unix seconds).
    #[serde(default)]
    pub start_time: i64,
    /// Results of the bucket.
    #[serde(default)]
    pub results: Vec<Value>,
}

/// `organization.costs.result`. The spec requires only `object`, so everything is optional.
#[derive(Debug, Deserialize)]
pub struct CostResult {
    /// Amount; absent on some results.
    #[serde(default)]
    pub amount: Option<Amount>,
    /// Line item when grouped by `line_item`.
    #[serde(default)]
    pub line_item: Option<String>,
    /// Project id when grouped by `project_id`.
    #[serde(default)]
    pub project_id: Option<String>,
}

/// `{"value": 0.06, "currency": "usd"}`; the value is kept as the decimal OpenAI wrote.
#[derive(Debug, Deserialize)]
pub struct Amount {
    /// Number (or numeric string) as sent.
    #[serde(default)]
    pub value: Option<Value>,
    /// Lowercase ISO 4217 code.
    #[serde(default)]
    pub currency: Option<String>,
}

impl Amount {
    /// The exact decimal the JSON spelled, and the currency (default `usd`, the only one
    /// OpenAI bills in today). `None` when the value is missing or not a number.
    pub fn decimal(&self) -> Option<(Decimal, String)> {
        let text = match self.value.as_ref()? {
            Value::Number(n) => n.to_string(),
            Value::String(s) => s.trim().to_owned(),
            _ => return None,
        };
        // serde_json prints a parsed float with the shortest round-trip spelling, which is the
        // literal OpenAI sent (e.g. "0.06"), so summing these decimals has no float drift.
        let value = Decimal::from_str(&text)
            .or_else(|_| Decimal::from_scientific(&text))
            .ok()?;
        let currency = self
            .currency
            .as_deref()
            .map(str::trim)
            .filter(|c| !c.is_empty())
            .unwrap_or("usd")
            .to_ascii_lowercase();
        Some((value, currency))
    }
}

/// `organization.usage.completions.result`. Token counts default to 0 when absent.
#[derive(Debug, Default, Deserialize)]
pub struct CompletionsResult {
    /// Input tokens, including cached and cache-write tokens.
    #[serde(default)]
    pub input_tokens: u64,
    /// Cached input tokens.
    #[serde(default)]
    pub input_cached_tokens: Option<u64>,
    /// Output tokens.
    #[serde(default)]
    pub output_tokens: u64,
    /// Requests.
    #[serde(default)]
    pub num_model_requests: u64,
    /// Model when grouped by `model`.
    #[serde(default)]
    pub model: Option<String>,
}

/// Result `object` names we decode.
pub const COSTS_OBJECT: &str = "organization.costs.result";
/// Completions usage result object.
pub const COMPLETIONS_OBJECT: &str = "organization.usage.completions.result";

/// Decode the results of `pages` whose `object` is `object`; count the others (skipped).
pub fn results_of<T: serde::de::DeserializeOwned>(
    pages: &[Page],
    object: &str,
) -> (Vec<(i64, T)>, usize) {
    let mut out = Vec::new();
    let mut skipped = 0;
    for bucket in pages.iter().flat_map(|p| &p.data) {
        for r in &bucket.results {
            // Results without `object` are accepted: the endpoint already says what they are.
            let matches = r
                .get("object")
                .and_then(Value::as_str)
                .is_none_or(|o| o == object);
            match matches
                .then(|| serde_json::from_value::<T>(r.clone()))
                .and_then(|p| p.ok())
            {
                Some(v) => out.push((bucket.start_time, v)),
                None => skipped += 1,
            }
        }
    }
    (out, skipped)
}

/// `GET /models` with the api client.
pub async fn list_models(api: &HttpClient) -> Result<(ModelList, HttpResponse)> {
    api.get_json("/models", &[]).await
}

/// One-result cost query used by the connection test to prove the admin key may read costs.
pub async fn costs_probe(admin: &HttpClient, now: DateTime<Utc>) -> Result<HttpResponse> {
    let query = [
        ("start_time", (now.timestamp() - 86_400).to_string()),
        ("limit", "1".to_owned()),
    ];
    let (_page, resp): (Page, _) = admin.get_json("/organization/costs", &query).await?;
    Ok(resp)
}

/// Fetch the pages of an `/organization/*` report, following `next_page` (up to
/// [`MAX_PAGES`], a repeated cursor or the deadline; the driver notes why it stopped early).
/// `what` names the buckets in notes.
pub async fn all_pages(
    admin: &HttpClient,
    path: &str,
    what: &'static str,
    base_query: Vec<(&'static str, String)>,
) -> Result<Paged<Page>> {
    let base_query = &base_query;
    paginate(
        &Paging::new(what, MAX_PAGES),
        |cursor: Option<String>| async move {
            let mut query = base_query.clone();
            if let Some(c) = cursor {
                query.push(("page", c));
            }
            let (page, _): (Page, _) = admin.get_json(path, &query).await?;
            let next = page
                .next_page
                .clone()
                .filter(|c| page.has_more && !c.is_empty());
            let buckets = page.data.len();
            Ok(NextPage::new(vec![page], next).counting(buckets))
        },
    )
    .await
}
