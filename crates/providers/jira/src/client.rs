//! Typed calls to the few Jira endpoints opsdeck needs, over the shared HTTP client:
//! `GET /rest/api/3/myself`, `POST /rest/api/3/search/approximate-count`,
//! `POST /rest/api/3/search/jql` (enhanced search, `nextPageToken` pagination) and the Agile
//! `GET /rest/agile/1.0/board/{id}/sprint`. The old `/rest/api/3/search` is removed by
//! Atlassian (changelog CHANGE-2046) and is never called.
//!
//! Response types keep only the fields we read and ignore the rest, so additions on Jira's
//! side never break parsing; fields we cannot do without are required, so a different API
//! fails loudly as `invalid_response`.

use chrono::{DateTime, Utc};
use opsdeck_core::Result;
use opsdeck_core::http::{HttpClient, HttpResponse, HttpSettings, Page, Paged, Paging, paginate};
use serde::{Deserialize, Serialize};

use crate::config::JiraConfig;
use crate::error::JiraErrors;

/// Page size for the enhanced search. Jira may return fewer (it lowers the page size when
/// fields are requested); we only follow `nextPageToken`, so any page size works.
pub const SEARCH_PAGE_SIZE: u32 = 1000;

/// Page size for the Agile sprint list (the API's default is 50).
const SPRINT_PAGE_SIZE: u32 = 50;

/// At most this many sprint pages; a board never has that many active sprints.
const MAX_SPRINT_PAGES: usize = 10;

/// `GET /rest/api/3/myself` (OpenAPI `User`).
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Myself {
    /// Atlassian account id.
    pub account_id: String,
    /// `atlassian`, `app` (service accounts), `customer`.
    #[serde(default)]
    pub account_type: Option<String>,
    /// Hidden (null or absent) when the user's privacy settings say so.
    #[serde(default)]
    pub email_address: Option<String>,
    /// Display name.
    #[serde(default)]
    pub display_name: Option<String>,
    /// Whether the account is active.
    #[serde(default)]
    pub active: Option<bool>,
}

#[derive(Debug, Serialize)]
struct CountRequest<'a> {
    jql: &'a str,
}

#[derive(Debug, Deserialize)]
struct CountResponse {
    count: u64,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct SearchRequest<'a> {
    jql: &'a str,
    fields: &'a [&'a str],
    max_results: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    next_page_token: Option<&'a str>,
}

/// One page of `POST /rest/api/3/search/jql` (OpenAPI `SearchAndReconcileResults`).
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SearchPage {
    /// Issues on this page.
    #[serde(default)]
    pub issues: Vec<Issue>,
    /// Token for the next page; absent on the last page.
    #[serde(default)]
    pub next_page_token: Option<String>,
    /// Whether this is the last page.
    #[serde(default)]
    pub is_last: Option<bool>,
}

/// An issue with only the fields we ask for.
#[derive(Debug, Deserialize)]
pub struct Issue {
    /// Requested fields.
    #[serde(default)]
    pub fields: IssueFields,
}

/// The fields we request.
#[derive(Debug, Default, Deserialize)]
pub struct IssueFields {
    /// The issue's project.
    #[serde(default)]
    pub project: Option<ProjectRef>,
}

/// A project reference inside an issue.
#[derive(Debug, Deserialize)]
pub struct ProjectRef {
    /// Project key, e.g. `OPS`.
    pub key: String,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct SprintPage {
    #[serde(default)]
    values: Vec<Sprint>,
    #[serde(default)]
    is_last: Option<bool>,
}

/// An Agile sprint.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Sprint {
    /// Sprint id.
    pub id: u64,
    /// Sprint name.
    pub name: String,
    /// `future`, `active` or `closed`.
    pub state: String,
    /// Planned end, as Jira sends it (`2015-04-20T01:22:00.000+10:00`).
    #[serde(default)]
    pub end_date: Option<String>,
    /// Board the sprint was created on; a board's list also shows sprints of boards that
    /// share its filter.
    #[serde(default)]
    pub origin_board_id: Option<u64>,
}

impl Sprint {
    /// The planned end, when present and well-formed. A malformed date only loses the
    /// "days remaining" figure, so it is not an error.
    pub fn end(&self) -> Option<DateTime<Utc>> {
        self.end_date
            .as_deref()
            .and_then(|d| DateTime::parse_from_rfc3339(d).ok())
            .map(|d| d.with_timezone(&Utc))
    }
}

/// The Jira REST client of one service.
#[derive(Debug, Clone)]
pub struct JiraClient {
    http: HttpClient,
}

impl JiraClient {
    /// Build the client (no I/O): Basic auth with email and API token, JSON accept header.
    pub fn new(config: &JiraConfig, settings: &HttpSettings) -> Result<Self> {
        let base = config.api_base()?;
        let http = HttpClient::builder("Jira", &base, settings)
            .basic(&config.email, &config.api_token)
            .header("accept", "application/json")
            .vendor(JiraErrors {
                gateway: config.via_gateway(),
            })
            .build()?;
        Ok(JiraClient { http })
    }

    /// The account the credentials belong to, with the raw response (for rate-limit headers).
    pub async fn myself(&self) -> Result<(Myself, HttpResponse)> {
        self.http.get_json("/rest/api/3/myself", &[]).await
    }

    /// Approximate number of issues matching `jql` (must be bounded).
    pub async fn count(&self, jql: &str) -> Result<u64> {
        let req = self
            .http
            .post("/rest/api/3/search/approximate-count")?
            .json(&CountRequest { jql });
        let resp = self.http.send(req).await?;
        let body: CountResponse = resp.json()?;
        Ok(body.count)
    }

    /// One page of the enhanced JQL search.
    pub async fn search_page(
        &self,
        jql: &str,
        fields: &[&str],
        next_page_token: Option<&str>,
    ) -> Result<SearchPage> {
        let req = self
            .http
            .post("/rest/api/3/search/jql")?
            .json(&SearchRequest {
                jql,
                fields,
                max_results: SEARCH_PAGE_SIZE,
                next_page_token,
            });
        self.http.send(req).await?.json()
    }

    /// Active sprints of a board, following `startAt` pagination.
    pub async fn active_sprints(&self, board_id: u64) -> Result<Paged<Sprint>> {
        let path = format!("/rest/agile/1.0/board/{board_id}/sprint");
        let paging = Paging::new(
            format!("active sprints of board {board_id}"),
            MAX_SPRINT_PAGES,
        );
        let path = &path;
        paginate(&paging, |start_at: Option<u32>| async move {
            let start_at = start_at.unwrap_or(0);
            let query = [
                ("state", "active".to_owned()),
                ("startAt", start_at.to_string()),
                ("maxResults", SPRINT_PAGE_SIZE.to_string()),
            ];
            let (page, _): (SprintPage, _) = self.http.get_json(path, &query).await?;
            let n = u32::try_from(page.values.len()).unwrap_or(u32::MAX);
            // An empty page also ends the listing, in case a server omits isLast.
            let last = page.is_last.unwrap_or(true) || n == 0;
            let next = (!last).then(|| start_at.saturating_add(n));
            Ok(Page::new(page.values, next))
        })
        .await
    }
}
