//! Stripe wire types (only the fields opsdeck reads; unknown fields are ignored so additions
//! never break us) and cursor paging over Stripe list endpoints.
//!
//! Lists are `{"object":"list","data":[…],"has_more":bool}`; the next page is requested with
//! `starting_after=<id of the last object>` (https://docs.stripe.com/api/pagination).

use opsdeck_core::Result;
use opsdeck_core::http::{HttpClient, Page, Paged, Paging, paginate};
use serde::Deserialize;
use serde::de::DeserializeOwned;

/// `GET /v1/balance`.
#[derive(Debug, Deserialize)]
pub struct Balance {
    #[serde(default)]
    pub available: Vec<Amount>,
    #[serde(default)]
    pub pending: Vec<Amount>,
    pub livemode: bool,
}

/// An amount in minor units of a currency.
#[derive(Debug, Deserialize)]
pub struct Amount {
    pub amount: i64,
    pub currency: String,
}

/// `GET /v1/account` (only what names the account).
#[derive(Debug, Deserialize)]
pub struct Account {
    pub id: String,
    #[serde(default)]
    pub email: Option<String>,
    #[serde(default)]
    pub business_profile: Option<BusinessProfile>,
    #[serde(default)]
    pub settings: Option<AccountSettings>,
}

#[derive(Debug, Deserialize)]
pub struct BusinessProfile {
    #[serde(default)]
    pub name: Option<String>,
}

#[derive(Debug, Deserialize)]
pub struct AccountSettings {
    #[serde(default)]
    pub dashboard: Option<Dashboard>,
}

#[derive(Debug, Deserialize)]
pub struct Dashboard {
    #[serde(default)]
    pub display_name: Option<String>,
}

impl Account {
    /// The most human name Stripe has for the account, with its id.
    pub fn display(&self) -> String {
        let name = self
            .settings
            .as_ref()
            .and_then(|s| s.dashboard.as_ref())
            .and_then(|d| d.display_name.clone())
            .or_else(|| self.business_profile.as_ref().and_then(|b| b.name.clone()))
            .or_else(|| self.email.clone())
            .filter(|n| !n.trim().is_empty());
        match name {
            Some(n) => format!("{n} ({})", self.id),
            None => self.id.clone(),
        }
    }
}

/// A charge (`GET /v1/charges`).
#[derive(Debug, Clone, Deserialize)]
pub struct Charge {
    pub id: String,
    pub amount: i64,
    /// Absent on API versions before 2020; then `amount` of a captured charge counts.
    #[serde(default)]
    pub amount_captured: Option<i64>,
    #[serde(default)]
    pub amount_refunded: i64,
    pub currency: String,
    /// `succeeded`, `pending` or `failed`.
    pub status: String,
    #[serde(default)]
    pub captured: Option<bool>,
}

/// A subscription (`GET /v1/subscriptions`).
#[derive(Debug, Clone, Deserialize)]
pub struct Subscription {
    pub id: String,
    pub status: String,
    pub items: ItemList,
}

/// The embedded item list of a subscription (itself paged by Stripe).
#[derive(Debug, Clone, Deserialize)]
pub struct ItemList {
    #[serde(default)]
    pub data: Vec<SubscriptionItem>,
    #[serde(default)]
    pub has_more: bool,
}

/// A subscription item.
#[derive(Debug, Clone, Deserialize)]
pub struct SubscriptionItem {
    /// Null for metered prices; treated as 1 otherwise-absent.
    #[serde(default)]
    pub quantity: Option<u64>,
    #[serde(default)]
    pub price: Option<Price>,
}

/// A price.
#[derive(Debug, Clone, Deserialize)]
pub struct Price {
    pub currency: String,
    /// Null for tiered, custom-amount and decimal-only prices.
    #[serde(default)]
    pub unit_amount: Option<i64>,
    #[serde(default)]
    pub recurring: Option<Recurring>,
}

/// `price.recurring`.
#[derive(Debug, Clone, Deserialize)]
pub struct Recurring {
    /// `day`, `week`, `month` or `year`.
    pub interval: String,
    #[serde(default)]
    pub interval_count: Option<u64>,
    /// `licensed` or `metered`.
    #[serde(default)]
    pub usage_type: Option<String>,
}

/// Objects that can be paged past.
pub trait HasId {
    fn id(&self) -> &str;
}

impl HasId for Charge {
    fn id(&self) -> &str {
        &self.id
    }
}

impl HasId for Subscription {
    fn id(&self) -> &str {
        &self.id
    }
}

#[derive(Debug, Deserialize)]
struct List<T> {
    data: Vec<T>,
    #[serde(default)]
    has_more: bool,
}

/// Page size: Stripe's maximum.
pub const PAGE_SIZE: &str = "100";

/// Fetch the pages of `path` with `query` (up to `max_pages`, and only while another page fits
/// before the deadline), following `starting_after=<last id>`. `what` names the objects in notes.
pub async fn list_all<T: DeserializeOwned + HasId>(
    http: &HttpClient,
    path: &str,
    query: &[(&str, String)],
    what: &str,
    max_pages: usize,
) -> Result<Paged<T>> {
    let paging = Paging::new(what.to_owned(), max_pages);
    paginate(&paging, |cursor: Option<String>| async move {
        let mut q: Vec<(&str, String)> = query.to_vec();
        q.push(("limit", PAGE_SIZE.to_owned()));
        if let Some(c) = cursor {
            q.push(("starting_after", c));
        }
        let (page, _): (List<T>, _) = http.get_json(path, &q).await?;
        let last = page.data.last().map(|o| o.id().to_owned());
        Ok(match (page.has_more, last) {
            (true, Some(id)) => Page::new(page.data, Some(id)),
            // has_more with an empty page gives no cursor to continue from.
            (true, None) => Page::more_without_cursor(page.data),
            (false, _) => Page::new(page.data, None),
        })
    })
    .await
}
