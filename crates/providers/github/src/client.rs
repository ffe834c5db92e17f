//! The GitHub REST calls opsdeck makes, over the shared HTTP policy.
//!
//! Every call is a GET with the headers GitHub documents (`Authorization: Bearer`,
//! `Accept: application/vnd.github+json`, `X-GitHub-Api-Version: 2022-11-28`, our
//! `User-Agent`). Bodies are parsed into the small structs below, which hold only the fields we
//! read and tolerate everything else: a metrics collector must survive GitHub adding, and
//! GitHub-compatible servers omitting, fields that do not matter to us.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use chrono::{DateTime, Utc};
use opsdeck_core::http::{
    HttpClient, HttpResponse, HttpSettings, Page, Paged, Paging, link_with_rel, links, paginate,
};
use opsdeck_core::{Error, FailureKind, Result};
use secrecy::ExposeSecret;
use serde::Deserialize;
use serde::de::DeserializeOwned;

use crate::app::{AppAuth, AppErrors};
use crate::config::{GithubAuth, GithubConfig, RepoName};
use crate::error::GithubErrors;

/// The REST API version we speak. GHES 3.x supports only this one.
pub const API_VERSION: &str = "2022-11-28";

/// GitHub's maximum page size.
const PER_PAGE: &str = "100";

/// The authenticated user (`GET /user`).
#[derive(Debug, Clone, Deserialize)]
pub struct User {
    /// Login name, the identity we report.
    pub login: String,
    /// Display name.
    #[serde(default)]
    pub name: Option<String>,
    /// `User`, `Bot` or `Organization`.
    #[serde(default, rename = "type")]
    pub kind: Option<String>,
}

/// One rate-limit bucket of `GET /rate_limit`.
#[derive(Debug, Clone, Copy, Deserialize)]
pub struct Bucket {
    /// Window size.
    pub limit: u64,
    /// Left in the window.
    pub remaining: u64,
    /// Window reset, Unix seconds.
    pub reset: i64,
}

/// `GET /rate_limit`. `resources` is a map because GitHub keeps adding buckets.
#[derive(Debug, Clone, Deserialize)]
pub struct RateLimits {
    /// Buckets by name (`core`, `search`, `graphql`, …).
    pub resources: BTreeMap<String, Bucket>,
}

/// A repository as listed by `GET /orgs/{org}/repos` or `GET /repos/{o}/{r}`.
#[derive(Debug, Clone, Deserialize)]
pub struct Repo {
    /// `owner/name`.
    pub full_name: String,
    /// Private (or internal).
    #[serde(default)]
    pub private: bool,
    /// Read-only.
    #[serde(default)]
    pub archived: bool,
    /// Disabled by GitHub.
    #[serde(default)]
    pub disabled: bool,
    /// Open issues **plus** open pull requests.
    #[serde(default)]
    pub open_issues_count: u64,
    /// Default branch.
    #[serde(default)]
    pub default_branch: Option<String>,
    /// Web URL.
    #[serde(default)]
    pub html_url: Option<String>,
}

/// One workflow run. `status` and `conclusion` are free strings in GitHub's schema.
#[derive(Debug, Clone, Deserialize)]
pub struct WorkflowRun {
    /// `queued`, `in_progress`, `completed`, …
    #[serde(default)]
    pub status: Option<String>,
    /// `success`, `failure`, … or null until the run completes.
    #[serde(default)]
    pub conclusion: Option<String>,
    /// Creation time; checked against the window even when the server filtered.
    #[serde(default)]
    pub created_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Deserialize)]
struct WorkflowRunsPage {
    #[serde(default)]
    total_count: u64,
    #[serde(default)]
    workflow_runs: Vec<WorkflowRun>,
}

/// One deployment.
#[derive(Debug, Clone, Deserialize)]
pub struct GhDeployment {
    /// Deployment id.
    pub id: u64,
    /// Target environment.
    #[serde(default)]
    pub environment: Option<String>,
    /// Creation time.
    pub created_at: DateTime<Utc>,
}

/// One deployment status (the newest one is the deployment's state).
#[derive(Debug, Clone, Deserialize)]
pub struct GhDeploymentStatus {
    /// Status id (GitHub's ids grow over time: the tie-breaker for equal times).
    #[serde(default)]
    pub id: u64,
    /// `success`, `failure`, `error`, `inactive`, `in_progress`, `queued`, `pending`.
    pub state: String,
    /// When the status was created.
    #[serde(default)]
    pub created_at: Option<DateTime<Utc>>,
    /// Where the deployment is reachable.
    #[serde(default)]
    pub environment_url: Option<String>,
}

/// Workflow runs counted over a window.
#[derive(Debug, Clone, Default)]
pub struct RunCounts {
    /// Runs by conclusion, or by status while unfinished.
    pub by_outcome: BTreeMap<String, u64>,
    /// GitHub's total for the query.
    pub total: u64,
    /// True when GitHub's 1,000-result cap (or our paging) cut the list.
    pub truncated: bool,
    /// Why paging stopped early, for the operator.
    pub note: Option<String>,
}

/// What one token learned on `GET /user`.
#[derive(Debug, Clone)]
pub struct Whoami {
    /// The user.
    pub user: User,
    /// The full response, for its headers.
    pub response: HttpResponse,
}

/// Most pages we follow for one listing. 10 × 100 matches GitHub's 1,000-result cap for
/// filtered workflow-run queries and keeps a collection inside its deadline.
const MAX_PAGES: usize = 10;

/// GitHub REST client for one service.
#[derive(Debug, Clone)]
pub struct GithubClient {
    http: HttpClient,
    scopes_apply: bool,
    /// GitHub App credentials; `None` for a token, which the HTTP client sends itself.
    app: Option<Arc<AppAuth>>,
}

/// Whether `X-OAuth-Scopes` says anything about a token: it is an OAuth-scope header, absent
/// or meaningless for fine-grained personal access tokens (`github_pat_`) and GitHub App
/// installation tokens (`ghs_`), whose access is granted per repository and permission.
pub fn scopes_apply_to(token: &str) -> bool {
    !(token.starts_with("github_pat_") || token.starts_with("ghs_"))
}

impl GithubClient {
    /// Build the client (no I/O). `clock` times the App JWT and the installation-token cache.
    pub fn new(
        config: &GithubConfig,
        settings: &HttpSettings,
        clock: opsdeck_core::clock::SharedClock,
    ) -> Result<Self> {
        let builder = HttpClient::builder("GitHub", &config.base_url, settings)
            .header("accept", "application/vnd.github+json")
            .header("x-github-api-version", API_VERSION);
        let (http, app, scopes_apply) = match &config.auth {
            GithubAuth::Token(token) => (
                builder.bearer(token).vendor(GithubErrors).build()?,
                None,
                scopes_apply_to(token.expose_secret()),
            ),
            // Installation tokens (`ghs_`) carry no OAuth scopes.
            GithubAuth::App(app) => (
                builder.vendor(AppErrors).build()?,
                Some(AppAuth::new(app, clock)?),
                false,
            ),
        };
        Ok(GithubClient {
            http,
            app,
            scopes_apply,
        })
    }

    /// The token's OAuth scopes from `resp`, or `None` when the header is absent or the token
    /// is of a kind the header does not describe ([`scopes_apply_to`]).
    pub fn scopes(&self, resp: &HttpResponse) -> Option<Vec<String>> {
        if self.scopes_apply {
            oauth_scopes(resp)
        } else {
            None
        }
    }

    /// The shared HTTP client (app-level calls use it with their own `Authorization`).
    pub(crate) fn http(&self) -> &HttpClient {
        &self.http
    }

    /// App credentials, when the service uses them.
    pub(crate) fn app(&self) -> Option<&Arc<AppAuth>> {
        self.app.as_ref()
    }

    async fn get<T: DeserializeOwned>(
        &self,
        path: &str,
        query: &[(&str, String)],
    ) -> Result<(T, HttpResponse)> {
        let Some(app) = &self.app else {
            return self.http.get_json(path, query).await;
        };
        let request = app
            .as_installation(&self.http, self.http.get(path)?.query(query))
            .await?;
        match self.http.send(request).await {
            Ok(resp) => Ok((resp.json()?, resp)),
            Err(e) => {
                if e.kind() == FailureKind::InvalidCredentials {
                    app.forget().await;
                }
                Err(e)
            }
        }
    }

    /// `GET /installation/repositories` (App credentials), following `link: rel="next"`, keeping
    /// at most `cap` active repositories. Takes the place of an organisation listing when
    /// neither `repos` nor `org` is configured.
    pub async fn installation_repos(&self, cap: usize) -> Result<Paged<Repo>> {
        #[derive(Deserialize)]
        struct Listing {
            #[serde(default)]
            repositories: Vec<Repo>,
        }
        let query = [("per_page", PER_PAGE.to_owned())];
        let paging = Paging::new(
            "repositories of the GitHub App installation",
            cap.div_ceil(100).max(1) + MAX_PAGES,
        )
        .max_items(cap);
        paginate(&paging, |next: Option<String>| {
            let query = &query;
            async move {
                let (listing, next) = self
                    .page::<Listing>("/installation/repositories", query, next.as_deref())
                    .await?;
                let active = listing
                    .repositories
                    .into_iter()
                    .filter(|r| !r.archived && !r.disabled)
                    .collect();
                Ok(Page::new(active, next))
            }
        })
        .await
    }

    /// How many repositories the installation can reach: `GET /installation/repositories?per_page=1`.
    pub async fn installation_repo_count(&self) -> Result<(Option<u64>, HttpResponse)> {
        #[derive(Deserialize)]
        struct Count {
            #[serde(default)]
            total_count: Option<u64>,
        }
        let query = [("per_page", "1".to_owned())];
        let (count, resp) = self
            .get::<Count>("/installation/repositories", &query)
            .await?;
        Ok((count.total_count, resp))
    }

    /// `GET /user`.
    pub async fn whoami(&self) -> Result<Whoami> {
        let (user, response) = self.get::<User>("/user", &[]).await?;
        Ok(Whoami { user, response })
    }

    /// `GET /rate_limit`. `None` when the server has rate limiting switched off (GitHub
    /// Enterprise Server answers 404 "Rate limiting is not enabled").
    pub async fn rate_limits(&self) -> Result<Option<RateLimits>> {
        match self.get::<RateLimits>("/rate_limit", &[]).await {
            Ok((limits, _)) => Ok(Some(limits)),
            Err(e) if e.kind() == FailureKind::NotFound => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// `GET /repos/{owner}/{repo}`.
    pub async fn repo(&self, repo: &RepoName) -> Result<Repo> {
        let path = format!("/repos/{}/{}", repo.owner, repo.name);
        Ok(self.get::<Repo>(&path, &[]).await?.0)
    }

    /// One page of a listing: the first from `path` with `query`, later ones from the
    /// `rel="next"` URL GitHub sent.
    async fn page<T: DeserializeOwned>(
        &self,
        path: &str,
        query: &[(&str, String)],
        next: Option<&str>,
    ) -> Result<(T, Option<String>)> {
        let (body, resp) = match next {
            None => self.get::<T>(path, query).await?,
            Some(url) => self.get::<T>(url, &[]).await?,
        };
        Ok((body, next_link(&resp)))
    }

    /// `GET /orgs/{org}/repos`, following `link: rel="next"`, keeping at most `cap` active
    /// repositories (archived and disabled ones are skipped).
    pub async fn org_repos(&self, org: &str, cap: usize) -> Result<Paged<Repo>> {
        let path = format!("/orgs/{org}/repos");
        let query = [
            ("type", "all".to_owned()),
            ("sort", "full_name".to_owned()),
            ("per_page", PER_PAGE.to_owned()),
        ];
        // Archived repositories are skipped, so allow some pages of slack beyond the cap.
        let paging = Paging::new(
            format!("active repositories of {org}"),
            cap.div_ceil(100).max(1) + MAX_PAGES,
        )
        .max_items(cap);
        paginate(&paging, |next: Option<String>| {
            let (path, query) = (&path, &query);
            async move {
                let (repos, next) = self
                    .page::<Vec<Repo>>(path, query, next.as_deref())
                    .await?;
                let active = repos
                    .into_iter()
                    .filter(|r| !r.archived && !r.disabled)
                    .collect();
                Ok(Page::new(active, next))
            }
        })
        .await
        .map_err(|e| {
            if e.kind() == FailureKind::NotFound {
                e.with_hint(format!(
                    "Check that the organisation \"{org}\" exists on this GitHub (for a personal account, list its repositories in `repos` instead of `org`)."
                ))
            } else {
                e
            }
        })
    }

    /// Number of open pull requests, with one cheap request from the core bucket:
    /// `GET /repos/{o}/{r}/pulls?state=open&per_page=1`; the `rel="last"` link's page number
    /// is the count. Without a `link` header everything fit on the page.
    pub async fn open_pull_requests(&self, repo: &RepoName) -> Result<u64> {
        let path = format!("/repos/{}/{}/pulls", repo.owner, repo.name);
        let query = [("state", "open".to_owned()), ("per_page", "1".to_owned())];
        let (items, resp) = self.get::<Vec<serde_json::Value>>(&path, &query).await?;
        Ok(last_page(&resp).unwrap_or(items.len() as u64))
    }

    /// Workflow runs created at or after `since` (and before `until`), counted by outcome.
    ///
    /// Asks GitHub to filter with `created=>=<since>` (search date syntax). A GitHub-compatible
    /// server that rejects that syntax (HTTP 400/422, `rejected`: the OpenAPI description types
    /// `created` as a plain date-time) is asked again without the filter, reading the newest-first list
    /// until it reaches past `since`. Either way each run's `created_at` is checked too, so a
    /// server that ignores the filter cannot inflate the counts.
    pub async fn workflow_runs(
        &self,
        repo: &RepoName,
        since: DateTime<Utc>,
        until: Option<DateTime<Utc>>,
    ) -> Result<RunCounts> {
        let fmt = |t: DateTime<Utc>| t.format("%Y-%m-%dT%H:%M:%SZ").to_string();
        // GitHub's search date syntax: `>=start` or `start..end` (both inclusive).
        let created = match until {
            Some(end) => format!("{}..{}", fmt(since), fmt(end)),
            None => format!(">={}", fmt(since)),
        };
        let filtered = [("created", created), ("per_page", PER_PAGE.to_owned())];
        match self.runs_pages(repo, &filtered, since, until, false).await {
            Err(e) if e.kind() == FailureKind::Rejected => {
                tracing::debug!(repo = %repo, "created filter rejected; listing runs unfiltered");
                let plain = [("per_page", PER_PAGE.to_owned())];
                self.runs_pages(repo, &plain, since, until, true).await
            }
            other => other,
        }
    }

    async fn runs_pages(
        &self,
        repo: &RepoName,
        query: &[(&str, String)],
        since: DateTime<Utc>,
        until: Option<DateTime<Utc>>,
        stop_at_since: bool,
    ) -> Result<RunCounts> {
        let path = format!("/repos/{}/{}/actions/runs", repo.owner, repo.name);
        let total = AtomicU64::new(0);
        let paging = Paging::new(format!("workflow runs of {repo}"), MAX_PAGES);
        let paged = paginate(&paging, |next: Option<String>| {
            let (path, total) = (&path, &total);
            async move {
                let (body, next) = self
                    .page::<WorkflowRunsPage>(path, query, next.as_deref())
                    .await?;
                total.fetch_max(body.total_count, Ordering::Relaxed);
                // The unfiltered list has no documented order: stop only at a page whose
                // runs are all older than the window (their own timestamps), never at the
                // first older run.
                let all_past = body
                    .workflow_runs
                    .iter()
                    .all(|r| r.created_at.is_some_and(|t| t < since));
                let last = body.workflow_runs.is_empty() || (stop_at_since && all_past);
                Ok(Page::new(
                    body.workflow_runs,
                    if last { None } else { next },
                ))
            }
        })
        .await?;
        let mut counts = RunCounts {
            total: total.load(Ordering::Relaxed),
            note: paged.note(),
            truncated: !paged.is_complete(),
            ..RunCounts::default()
        };
        let returned = paged.items.len() as u64;
        for run in &paged.items {
            if let Some(t) = run.created_at
                && (t < since || until.is_some_and(|u| t >= u))
            {
                continue;
            }
            let outcome = run
                .conclusion
                .as_deref()
                .or(run.status.as_deref())
                .filter(|s| !s.is_empty())
                .unwrap_or("unknown");
            *counts.by_outcome.entry(outcome.to_owned()).or_default() += 1;
        }
        if paged.is_complete() && !stop_at_since && counts.total > returned {
            // GitHub stops filtered lists at 1,000 runs but reports the full total.
            counts.truncated = true;
        }
        Ok(counts)
    }

    /// Deployments created at or after `since` (and before `until`), newest first. GitHub has
    /// no date filter and documents no order for this list, so nothing is assumed: paging stops
    /// only at a page whose deployments are *all* older than `since` (by their own
    /// `created_at`), every page read is filtered by time, and the result is sorted here.
    pub async fn deployments(
        &self,
        repo: &RepoName,
        since: DateTime<Utc>,
        until: Option<DateTime<Utc>>,
    ) -> Result<Paged<GhDeployment>> {
        let path = format!("/repos/{}/{}/deployments", repo.owner, repo.name);
        let query = [("per_page", PER_PAGE.to_owned())];
        let paging = Paging::new(format!("deployments of {repo}"), MAX_PAGES);
        let paged = paginate(&paging, |next: Option<String>| {
            let (path, query) = (&path, &query);
            async move {
                let (page, next) = self
                    .page::<Vec<GhDeployment>>(path, query, next.as_deref())
                    .await?;
                let all_past = !page.is_empty() && page.iter().all(|d| d.created_at < since);
                Ok(Page::new(page, if all_past { None } else { next }))
            }
        })
        .await?;
        Ok(paged.map(|all| {
            let mut in_window: Vec<GhDeployment> = all
                .into_iter()
                .filter(|d| d.created_at >= since && until.is_none_or(|u| d.created_at < u))
                .collect();
            in_window.sort_by(|a, b| b.created_at.cmp(&a.created_at).then(b.id.cmp(&a.id)));
            in_window
        }))
    }

    /// The newest status of a deployment, if it has any: the first page (100) is read and the
    /// newest picked by `created_at` (then id), since the list's order is not documented.
    pub async fn latest_deployment_status(
        &self,
        repo: &RepoName,
        id: u64,
    ) -> Result<Option<GhDeploymentStatus>> {
        let path = format!(
            "/repos/{}/{}/deployments/{id}/statuses",
            repo.owner, repo.name
        );
        let query = [("per_page", PER_PAGE.to_owned())];
        let (statuses, _) = self.get::<Vec<GhDeploymentStatus>>(&path, &query).await?;
        Ok(newest_status(statuses))
    }
}

/// The `rel="next"` URL, if any.
pub fn next_link(resp: &HttpResponse) -> Option<String> {
    link_with_rel(&resp.headers, "next")
}

/// The `page` number of the `rel="last"` URL, if any.
pub fn last_page(resp: &HttpResponse) -> Option<u64> {
    let last = links(&resp.headers)
        .into_iter()
        .find(|l| l.has_rel("last"))?;
    let parsed = url::Url::parse(&last.target).ok()?;
    parsed
        .query_pairs()
        .find(|(k, _)| k == "page")
        .and_then(|(_, v)| v.parse().ok())
}

/// Parse `github-authentication-token-expiration`, which is not RFC 3339:
/// `2027-01-31 12:00:00 UTC`, or with a numeric offset `2027-01-31 21:00:00 +0900`.
pub fn parse_token_expiration(raw: &str) -> Option<DateTime<Utc>> {
    let raw = raw.trim();
    if let Some(naive) = raw.strip_suffix(" UTC") {
        return chrono::NaiveDateTime::parse_from_str(naive, "%Y-%m-%d %H:%M:%S")
            .ok()
            .map(|n| n.and_utc());
    }
    DateTime::parse_from_str(raw, "%Y-%m-%d %H:%M:%S %z")
        .or_else(|_| DateTime::parse_from_rfc3339(raw))
        .ok()
        .map(|t| t.with_timezone(&Utc))
}

/// The token's expiry from `github-authentication-token-expiration`, or `None` when GitHub
/// reports none. A value within a minute of the response's `Date` is not an expiry: tokens
/// without one have been seen to carry the server's current time there (which would read as
/// "expires in 0 days"), so it is treated as "no expiry reported".
pub fn token_expiry(resp: &HttpResponse) -> Option<DateTime<Utc>> {
    let at = resp
        .header("github-authentication-token-expiration")
        .and_then(parse_token_expiration)?;
    let date = resp
        .header("date")
        .and_then(|d| DateTime::parse_from_rfc2822(d.trim()).ok())
        .map(|d| d.with_timezone(&Utc));
    match date {
        Some(date) if (at - date).num_seconds().abs() <= 60 => None,
        _ => Some(at),
    }
}

/// Scopes from `x-oauth-scopes` (`repo, read:org`). `None` when the header is absent, which is
/// the case for fine-grained tokens.
pub fn oauth_scopes(resp: &HttpResponse) -> Option<Vec<String>> {
    resp.header("x-oauth-scopes").map(|raw| {
        raw.split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
            .collect()
    })
}

/// Whether an error concerns one repository only (so other repositories can still be
/// reported) rather than the whole connection.
pub fn is_repo_scoped(err: &Error) -> bool {
    matches!(
        err.kind(),
        FailureKind::NotFound
            | FailureKind::PermissionDenied
            | FailureKind::InvalidConfig
            | FailureKind::Rejected
    )
}

/// The newest of `statuses` by `created_at`, then id (a status without a time counts as oldest).
pub(crate) fn newest_status(statuses: Vec<GhDeploymentStatus>) -> Option<GhDeploymentStatus> {
    statuses
        .into_iter()
        .max_by(|a, b| a.created_at.cmp(&b.created_at).then(a.id.cmp(&b.id)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;
    use http::{HeaderMap, HeaderValue, StatusCode};

    fn with_link(link: &str) -> HttpResponse {
        let mut h = HeaderMap::new();
        if let Ok(v) = HeaderValue::from_str(link) {
            h.insert("link", v);
        }
        HttpResponse::new(StatusCode::OK, h, Bytes::new(), "/x")
    }

    #[test]
    fn link_header_gives_next_and_last() {
        let r = with_link(
            r#"<https://api.github.com/repositories/1300192/pulls?state=open&per_page=1&page=2>; rel="next", <https://api.github.com/repositories/1300192/pulls?state=open&per_page=1&page=37>; rel="last""#,
        );
        assert_eq!(
            next_link(&r).as_deref(),
            Some("https://api.github.com/repositories/1300192/pulls?state=open&per_page=1&page=2")
        );
        assert_eq!(last_page(&r), Some(37));
        let none = with_link(r#"<https://api.github.com/x?page=1>; rel="prev""#);
        assert_eq!(next_link(&none), None);
        assert_eq!(last_page(&none), None);
    }

    #[test]
    fn token_expiration_parses_both_forms() {
        let t = parse_token_expiration("2021-10-07 19:07:53 UTC").map(|t| t.to_rfc3339());
        assert_eq!(t.as_deref(), Some("2021-10-07T19:07:53+00:00"));
        let t = parse_token_expiration("2027-03-31 09:00:00 +0900").map(|t| t.to_rfc3339());
        assert_eq!(t.as_deref(), Some("2027-03-31T00:00:00+00:00"));
        assert!(parse_token_expiration("soon").is_none());
    }
}
