//! The GitHub service: the connection test, metric collection, the development verbs and the
//! deployments ability, all built from the same calls in `client.rs`.

use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, Duration as ChronoDuration, Utc};
use futures::stream::{self, StreamExt};
use opsdeck_core::clock::SharedClock;
use opsdeck_core::domain::{
    Deployment, DeploymentState, DevActivity, RepoActivity, Repository, TimeWindow,
};
use opsdeck_core::http::{HttpSettings, Paged, StopReason};
use opsdeck_core::status::ReportDetails;
use opsdeck_core::{
    Ability, BaseService, BuildContext, Connected, DeploymentSource, DevelopmentService, Error,
    FailureKind, MetricSet, ProviderDescriptor, Result, Sections,
};

use crate::client::{self, GithubClient, Repo};
use crate::config::{GithubConfig, RepoName};
use crate::metrics::{self, RepoStats};

/// Repositories examined at once. GitHub asks clients not to hammer it concurrently
/// (secondary limits); 6 keeps a 50-repository collection well inside a 10 s deadline.
const CONCURRENCY: usize = 6;

/// Deployment statuses fetched at most per `deployments()` call (one request each).
const MAX_DEPLOYMENT_STATUSES: usize = 50;

/// Warn about a token that expires within this many days.
const EXPIRY_WARNING_DAYS: i64 = 14;

/// One configured GitHub (or GitHub Enterprise Server) account.
#[derive(Debug)]
pub struct GithubService {
    config: GithubConfig,
    client: GithubClient,
    clock: SharedClock,
}

/// The repositories a collection covers, and what the operator should know about the list.
struct Targets {
    repos: Vec<Repo>,
    truncated: bool,
    notes: Vec<String>,
}

impl GithubService {
    /// Build from a registry context (no I/O).
    pub fn build(ctx: BuildContext) -> Result<Arc<dyn BaseService>> {
        let config = GithubConfig::from_values(&ctx.config)?;
        Ok(Arc::new(Self::with_clock(config, &ctx.http, ctx.clock)?))
    }

    /// Build from a typed config (library use), on the system clock. No I/O.
    pub fn new(config: GithubConfig, http: &HttpSettings) -> Result<Self> {
        Self::with_clock(config, http, opsdeck_core::clock::system())
    }

    /// Build from a typed config with the clock that times GitHub App JWTs, the
    /// installation-token cache, credential expiry and the activity windows. No I/O.
    pub fn with_clock(
        config: GithubConfig,
        http: &HttpSettings,
        clock: SharedClock,
    ) -> Result<Self> {
        let client = GithubClient::new(&config, http, clock.clone())?;
        Ok(GithubService {
            config,
            client,
            clock,
        })
    }

    /// The configured repositories, else the organisation's active ones (capped).
    async fn targets(&self) -> Result<Targets> {
        if !self.config.repos.is_empty() {
            let fetched: Vec<(RepoName, Result<Repo>)> = stream::iter(self.config.repos.clone())
                .map(|name| async move {
                    let r = self.client.repo(&name).await;
                    (name, r)
                })
                .buffered(CONCURRENCY)
                .collect()
                .await;
            let mut out = Targets {
                repos: Vec::new(),
                truncated: false,
                notes: Vec::new(),
            };
            for (name, r) in fetched {
                match r {
                    Ok(repo) => out.repos.push(repo),
                    Err(e) if client::is_repo_scoped(&e) => {
                        out.notes.push(format!("{name} skipped: {e}"));
                    }
                    Err(e) => return Err(e),
                }
            }
            return Ok(out);
        }
        if let Some(org) = &self.config.org {
            let paged = self.client.org_repos(org, self.config.max_repos).await?;
            let mut notes = Vec::new();
            match &paged.stopped {
                None => {}
                Some(StopReason::ItemCap { .. }) => notes.push(format!(
                    "Only the first {} active repositories of {org} (by name) were examined; raise max_repos or list them in `repos`.",
                    paged.items.len()
                )),
                Some(_) => notes.extend(paged.note()),
            }
            return Ok(Targets {
                truncated: !paged.is_complete(),
                repos: paged.items,
                notes,
            });
        }
        if self.client.app().is_some() {
            let paged = self
                .client
                .installation_repos(self.config.max_repos)
                .await?;
            let mut notes = Vec::new();
            match &paged.stopped {
                None => {}
                Some(StopReason::ItemCap { .. }) => notes.push(format!(
                    "Only the first {} active repositories of the GitHub App installation were examined; raise max_repos or list them in `repos`.",
                    paged.items.len()
                )),
                Some(_) => notes.extend(paged.note()),
            }
            return Ok(Targets {
                truncated: !paged.is_complete(),
                repos: paged.items,
                notes,
            });
        }
        Ok(Targets {
            repos: Vec::new(),
            truncated: false,
            notes: vec![
                "No `repos` or `org` configured: only the rate-limit headroom is reported."
                    .to_owned(),
            ],
        })
    }

    /// Everything about one repository; failures that concern only this repository become
    /// notes, the rest abort the collection.
    async fn repo_stats(
        &self,
        repo: Repo,
        runs_since: DateTime<Utc>,
        deploys_since: DateTime<Utc>,
        until: Option<DateTime<Utc>>,
    ) -> Result<(RepoStats, Vec<String>)> {
        let name = match RepoName::parse(&repo.full_name) {
            Ok(n) => n,
            Err(_) => {
                return Err(Error::invalid_response(format!(
                    "GitHub listed a repository with an unexpected name \"{}\".",
                    repo.full_name
                )));
            }
        };
        let (prs, runs, deploys) = futures::join!(
            self.client.open_pull_requests(&name),
            self.client.workflow_runs(&name, runs_since, until),
            self.client.deployments(&name, deploys_since, until),
        );
        let mut notes = Vec::new();
        let soft = |notes: &mut Vec<String>, what: &str, e: Error| -> Result<()> {
            if client::is_repo_scoped(&e) {
                notes.push(format!("{name}: {what} not collected: {e}"));
                Ok(())
            } else {
                Err(e)
            }
        };
        let mut stats = RepoStats {
            repo: repo.full_name.clone(),
            ..RepoStats::default()
        };
        match prs {
            Ok(n) => {
                stats.open_pull_requests = Some(n);
                // `open_issues_count` counts pull requests too.
                stats.open_issues = Some(repo.open_issues_count.saturating_sub(n));
            }
            Err(e) => soft(&mut notes, "open pull requests", e)?,
        }
        match runs {
            Ok(r) => {
                if let Some(note) = &r.note {
                    notes.push(note.clone());
                } else if r.truncated {
                    notes.push(format!(
                        "{name}: more workflow runs in the window than one GitHub query lists; {} were counted (a lower bound).",
                        r.by_outcome.values().sum::<u64>()
                    ));
                }
                stats.runs = Some(r);
            }
            Err(e) => soft(&mut notes, "workflow runs", e)?,
        }
        match deploys {
            Ok(d) => {
                notes.extend(d.note());
                stats.deployments = Some(d.items.len() as u64);
            }
            Err(e) => soft(&mut notes, "deployments", e)?,
        }
        Ok((stats, notes))
    }

    /// Stats for every target, sorted by repository.
    async fn all_stats(
        &self,
        repos: &[Repo],
        runs_since: DateTime<Utc>,
        deploys_since: DateTime<Utc>,
        until: Option<DateTime<Utc>>,
    ) -> Result<(Vec<RepoStats>, Vec<String>)> {
        // Owned items: borrowed ones make the stream's closure higher-ranked, which the Send
        // bound of `async_trait` futures cannot express.
        let results: Vec<_> = stream::iter(repos.to_vec())
            .map(|r| self.repo_stats(r, runs_since, deploys_since, until))
            .buffered(CONCURRENCY)
            .collect()
            .await;
        let mut stats = Vec::with_capacity(results.len());
        let mut notes = Vec::new();
        for r in results {
            let (s, n) = r?;
            stats.push(s);
            notes.extend(n);
        }
        stats.sort_by(|a, b| a.repo.cmp(&b.repo));
        Ok((stats, notes))
    }
}

fn to_repository(r: &Repo) -> Repository {
    let mut repo = Repository::new(&r.full_name);
    repo.private = r.private;
    repo.archived = r.archived;
    repo.default_branch = r.default_branch.clone();
    repo.url = r.html_url.clone();
    repo
}

/// GitHub deployment status states → opsdeck's normalised states.
fn deployment_state(state: &str) -> DeploymentState {
    match state {
        "success" => DeploymentState::Succeeded,
        "failure" | "error" => DeploymentState::Failed,
        "in_progress" | "queued" | "pending" => DeploymentState::InProgress,
        _ => DeploymentState::Other,
    }
}

#[async_trait]
impl BaseService for GithubService {
    fn descriptor(&self) -> &'static ProviderDescriptor {
        &crate::DESCRIPTOR
    }

    async fn probe(&self) -> Result<Connected> {
        if let Some(app) = self.client.app() {
            return crate::app::probe(&self.client, app, &self.config).await;
        }
        let who = self.client.whoami().await?;
        let resp = &who.response;
        let scopes = self.client.scopes(resp);
        let expires = client::token_expiry(resp);
        let login = who.user.login.clone();
        let host = self.config.base_url.host_str().unwrap_or("GitHub");
        let mut message = match who.user.name.as_deref().filter(|n| !n.is_empty()) {
            Some(name) => format!("Authenticated as {login} ({name}) on {host}."),
            None => format!("Authenticated as {login} on {host}."),
        };
        match &scopes {
            Some(s) if s.is_empty() => {
                message.push_str(" The token has no scopes: it can read public data only.")
            }
            Some(s) => message.push_str(&format!(" Token scopes: {}.", s.join(", "))),
            None => {
                message.push_str(" Fine-grained or app token: GitHub reports no scopes for it.")
            }
        }
        if let Some(at) = expires {
            let days = (at - self.clock.now()).num_days();
            if days < EXPIRY_WARNING_DAYS {
                message.push_str(&format!(
                    " The token expires on {} ({days} days): renew it soon.",
                    at.format("%Y-%m-%d")
                ));
            }
        }
        let mut details = ReportDetails::default();
        details.scopes = scopes;
        details.rate_limit = resp.rate_limit();
        details.token_expires_at = expires;
        details.http_status = Some(resp.status.as_u16());
        if let Some(kind) = who.user.kind {
            details
                .extra
                .insert("account_type".to_owned(), serde_json::Value::String(kind));
        }
        Ok(Connected::new(Some(login), message).with_details(details))
    }

    async fn collect_metrics(&self) -> Result<MetricSet> {
        // Each section stands alone (issue 14): a failed one becomes a problem naming it.
        let mut set = Sections::new();
        // First, and on its own: it costs nothing against the primary limit, and a bad token
        // or a dead server fails here before any per-repository work.
        match self.client.rate_limits().await {
            Err(e) if matches!(e.kind(), FailureKind::Timeout | FailureKind::Unreachable) => {
                return Err(e);
            }
            r => match set.section("rate_limit", r)? {
                Some(Some(limits)) => metrics::push_rate_limits(&mut set, &limits),
                Some(None) => {
                    set.note("This GitHub Enterprise Server has rate limiting switched off.");
                }
                None => {}
            },
        }
        let Some(targets) = set.section("repositories", self.targets().await)? else {
            return set.finish();
        };
        let now = self.clock.now();
        let stats = self
            .all_stats(
                &targets.repos,
                now - ChronoDuration::hours(24),
                now - ChronoDuration::days(7),
                None,
            )
            .await;
        for n in targets.notes {
            set.note(n);
        }
        if let Some((stats, notes)) = set.section("repository_activity", stats)? {
            metrics::push_coverage(&mut set, stats.len(), targets.truncated);
            for s in &stats {
                metrics::push_repo(&mut set, s);
            }
            for n in notes {
                set.note(n);
            }
            tracing::debug!(repos = stats.len(), "github metrics collected");
        }
        set.finish()
    }

    fn as_development(&self) -> Option<&dyn DevelopmentService> {
        Some(self)
    }
}

#[async_trait]
impl DevelopmentService for GithubService {
    async fn repositories(&self) -> Result<Vec<Repository>> {
        Ok(self
            .targets()
            .await?
            .repos
            .iter()
            .map(to_repository)
            .collect())
    }

    async fn activity(&self, window: TimeWindow) -> Result<DevActivity> {
        let targets = self.targets().await?;
        let (stats, notes) = self
            .all_stats(&targets.repos, window.start, window.start, Some(window.end))
            .await?;
        let repos = stats
            .into_iter()
            .map(|s| {
                let mut a = RepoActivity::new(s.repo);
                a.open_issues = s.open_issues.unwrap_or_default();
                a.open_pull_requests = s.open_pull_requests.unwrap_or_default();
                a.workflow_runs = s.runs.map(|r| r.by_outcome).unwrap_or_default();
                a.deployments = s.deployments.unwrap_or_default();
                a
            })
            .collect();
        Ok(DevActivity::new(
            window,
            repos,
            targets.notes.into_iter().chain(notes).collect(),
        ))
    }

    fn deployment_source(&self) -> Ability<'_, dyn DeploymentSource> {
        // An App installation lists its own repositories.
        if self.config.repos.is_empty() && self.config.org.is_none() && self.client.app().is_none()
        {
            return Err(opsdeck_core::Unavailable::because(
                "no repositories configured: set `repos` or `org`",
            ));
        }
        Ok(self)
    }
}

#[async_trait]
impl DeploymentSource for GithubService {
    async fn deployments(&self, window: TimeWindow) -> Result<Vec<Deployment>> {
        let targets = self.targets().await?;
        let listed: Vec<(RepoName, Result<Paged<client::GhDeployment>>)> = stream::iter(
            targets
                .repos
                .iter()
                .filter_map(|r| RepoName::parse(&r.full_name).ok())
                .collect::<Vec<_>>(),
        )
        .map(|name| async move {
            let r = self
                .client
                .deployments(&name, window.start, Some(window.end))
                .await;
            (name, r)
        })
        .buffered(CONCURRENCY)
        .collect()
        .await;
        let mut found = Vec::new();
        for (name, r) in listed {
            match r {
                Ok(paged) => {
                    if let Some(note) = paged.note() {
                        // The cross-provider deployment list has no notes; the partial list is
                        // still returned, and the reason is logged.
                        tracing::info!(repo = %name, note, "github deployments partial");
                    }
                    found.extend(paged.items.into_iter().map(|d| (name.clone(), d)));
                }
                Err(e) if client::is_repo_scoped(&e) => {}
                Err(e) => return Err(e),
            }
        }
        found.sort_by_key(|(_, d)| std::cmp::Reverse(d.created_at));
        let wanted: Vec<(RepoName, u64)> = found
            .iter()
            .take(MAX_DEPLOYMENT_STATUSES)
            .map(|(name, d)| (name.clone(), d.id))
            .collect();
        let statuses: Vec<_> = stream::iter(wanted)
            .map(|(name, id)| async move { self.client.latest_deployment_status(&name, id).await })
            .buffered(CONCURRENCY)
            .collect()
            .await;
        let mut statuses = statuses.into_iter();
        let mut out = Vec::with_capacity(found.len());
        for (name, d) in &found {
            let status = match statuses.next() {
                Some(Ok(s)) => s,
                Some(Err(e)) if !client::is_repo_scoped(&e) => return Err(e),
                _ => None,
            };
            let (state, vendor_state, url) = match status {
                Some(s) => (deployment_state(&s.state), s.state, s.environment_url),
                // A deployment without statuses was requested but nothing reported on it.
                None => (DeploymentState::Other, "created".to_owned(), None),
            };
            let mut deployment =
                Deployment::new(d.id.to_string(), state, vendor_state, d.created_at);
            deployment.project = Some(name.full_name());
            deployment.environment = d.environment.clone();
            deployment.url = url;
            out.push(deployment);
        }
        Ok(out)
    }
}
