//! The Jira service: the connection test (`/myself`), one snapshot of issue counts shared by
//! the metrics and the project-management verb, and the active sprint of a configured board.

use std::collections::BTreeMap;
use std::sync::Arc;

use async_trait::async_trait;
use futures::{StreamExt, TryStreamExt, stream};
use opsdeck_core::clock::SharedClock;
use opsdeck_core::domain::{IssueSummary, SprintSummary, TimeWindow};
use opsdeck_core::http::{HttpSettings, Page, Paging, paginate};
use opsdeck_core::{
    BaseService, BuildContext, Connected, FailureKind, MetricProblem, MetricSet,
    ProjectManagementService, ProviderDescriptor, ReportDetails, Result,
};

use crate::client::{JiraClient, Sprint};
use crate::config::JiraConfig;
use crate::jql::{self, StatusCategory};

/// Counts run this many requests at once: enough to finish well inside a check's timeout,
/// few enough to stay clear of Jira's per-endpoint burst limit.
const CONCURRENCY: usize = 4;

/// Without configured projects, per-project counts page through open issues; stop after this
/// many pages and say so, so one huge site cannot make every collection slow.
pub const MAX_SEARCH_PAGES: usize = 10;

/// Counts of the issues in one sprint.
#[derive(Debug, Clone)]
pub(crate) struct SprintCounts {
    pub sprint: Sprint,
    pub by_category: Vec<(StatusCategory, u64)>,
}

/// The active sprints of the configured board.
#[derive(Debug, Clone)]
pub(crate) struct BoardSprints {
    pub board: u64,
    pub sprints: Vec<SprintCounts>,
    /// Why the sprint list is partial, if it is.
    pub note: Option<String>,
}

/// Everything one collection learns; metrics and the verb are both views of it.
#[derive(Debug, Clone, Default)]
pub(crate) struct Snapshot {
    pub open_by_category: Vec<(StatusCategory, u64)>,
    pub open_by_project: BTreeMap<String, u64>,
    pub created: u64,
    pub resolved: u64,
    pub board: Option<BoardSprints>,
    pub notes: Vec<String>,
    /// Sections that failed while the issue counts were read (issue 14).
    pub problems: Vec<MetricProblem>,
}

/// One configured Jira Cloud site.
#[derive(Debug)]
pub struct JiraService {
    config: JiraConfig,
    client: JiraClient,
    clock: SharedClock,
}

impl JiraService {
    /// Build from a registry context (no I/O).
    pub fn build(ctx: BuildContext) -> Result<Arc<dyn BaseService>> {
        let config = JiraConfig::from_values(&ctx.config)?;
        Ok(Arc::new(
            Self::new(config, &ctx.http)?.with_clock(ctx.clock),
        ))
    }

    /// Build from a typed config (library use).
    pub fn new(config: JiraConfig, http: &HttpSettings) -> Result<Self> {
        let client = JiraClient::new(&config, http)?;
        Ok(JiraService {
            config,
            client,
            clock: opsdeck_core::clock::system(),
        })
    }

    /// Use `clock` for windows and month boundaries (the system clock by default).
    pub fn with_clock(mut self, clock: SharedClock) -> Self {
        self.clock = clock;
        self
    }

    /// The typed configuration.
    pub fn config(&self) -> &JiraConfig {
        &self.config
    }

    async fn counts(&self, queries: Vec<String>) -> Result<Vec<u64>> {
        let client = &self.client;
        // Owned queries keep the futures free of higher-ranked borrows (async_trait needs Send).
        stream::iter(queries)
            .map(|q| async move { client.count(&q).await })
            .buffered(CONCURRENCY)
            .try_collect()
            .await
    }

    /// Open issues per project by paging the enhanced search over open issues, asking only for
    /// the `project` field. Returns the counts and, when paging stopped early, why.
    async fn open_by_project_search(&self) -> Result<(BTreeMap<String, u64>, Option<String>)> {
        let jql = jql::open();
        let jql = &jql;
        let paging = Paging::new("open issues", MAX_SEARCH_PAGES);
        let paged = paginate(&paging, |token: Option<String>| async move {
            let page = self
                .client
                .search_page(jql, &["project"], token.as_deref())
                .await?;
            let keys: Vec<String> = page
                .issues
                .into_iter()
                .filter_map(|i| i.fields.project.map(|p| p.key))
                .collect();
            // The last page has no token (Jira omits the field); isLast says the same.
            let next = page
                .next_page_token
                .filter(|t| !t.is_empty() && page.is_last != Some(true));
            Ok(Page::new(keys, next))
        })
        .await?;
        let mut counts: BTreeMap<String, u64> = BTreeMap::new();
        for key in &paged.items {
            *counts.entry(key.clone()).or_default() += 1;
        }
        Ok((counts, paged.note()))
    }

    async fn board_sprints(&self, board: u64) -> Result<BoardSprints> {
        let listed = self.client.active_sprints(board).await?;
        let note = listed.note();
        let all = listed.items;
        // A board's list includes sprints of other boards that share its filter; keep the
        // board's own when it has any, so parallel teams are not mixed up.
        let own: Vec<Sprint> = all
            .iter()
            .filter(|s| s.state == "active" && s.origin_board_id.is_none_or(|b| b == board))
            .cloned()
            .collect();
        let active = if own.is_empty() {
            all.into_iter().filter(|s| s.state == "active").collect()
        } else {
            own
        };
        let mut queries = Vec::new();
        for s in &active {
            for c in jql::ALL_CATEGORIES {
                queries.push(jql::and([
                    Some(jql::sprint(s.id).as_str()),
                    Some(jql::in_category(c).as_str()),
                ]));
            }
        }
        let counts = self.counts(queries).await?;
        let sprints = active
            .into_iter()
            .zip(counts.chunks(jql::ALL_CATEGORIES.len()))
            .map(|(sprint, n)| SprintCounts {
                sprint,
                by_category: jql::ALL_CATEGORIES
                    .iter()
                    .copied()
                    .zip(n.iter().copied())
                    .collect(),
            })
            .collect();
        Ok(BoardSprints {
            board,
            sprints,
            note,
        })
    }

    /// Collect everything for `window` (created/resolved are counted over it).
    pub(crate) async fn snapshot(&self, window: TimeWindow) -> Result<Snapshot> {
        let now = self.clock.now();
        let scope = jql::projects(&self.config.projects);
        let scope = scope.as_deref();
        let mut queries: Vec<String> = jql::OPEN_CATEGORIES
            .iter()
            .map(|c| jql::and([Some(jql::in_category(*c).as_str()), scope]))
            .collect();
        queries.push(jql::and([
            Some(jql::within("created", window, now).as_str()),
            scope,
        ]));
        queries.push(jql::and([
            Some(jql::within("resolved", window, now).as_str()),
            scope,
        ]));
        for key in &self.config.projects {
            queries.push(jql::and([
                Some(jql::project(key).as_str()),
                Some(jql::open().as_str()),
            ]));
        }
        let counts = self.counts(queries).await?;
        let mut snap = Snapshot::default();
        let (fixed, per_project) = counts.split_at(4.min(counts.len()));
        if let [to_do, in_progress, created, resolved] = *fixed {
            snap.open_by_category = vec![(jql::TO_DO, to_do), (jql::IN_PROGRESS, in_progress)];
            snap.created = created;
            snap.resolved = resolved;
        }
        if self.config.projects.is_empty() {
            match self.open_by_project_search().await {
                Ok((by_project, stopped)) => {
                    snap.open_by_project = by_project;
                    if let Some(note) = stopped {
                        snap.notes.push(format!(
                            "{note} Open issues per project are counted over those pages only; set `projects` for exact per-project counts."
                        ));
                    }
                }
                Err(e) if e.kind() == FailureKind::InvalidCredentials => return Err(e),
                // The counts above stand on their own: name the failed section, keep them.
                Err(e) => snap
                    .problems
                    .push(MetricProblem::from_error("open_by_project", &e)),
            }
        } else {
            snap.open_by_project = self
                .config
                .projects
                .iter()
                .cloned()
                .zip(per_project.iter().copied())
                .collect();
        }

        if let Some(board) = self.config.board_id {
            match self.board_sprints(board).await {
                Ok(b) => {
                    snap.notes.extend(b.note.clone());
                    if b.sprints.is_empty() {
                        snap.notes
                            .push(format!("Board {board} has no active sprint."));
                    }
                    snap.board = Some(b);
                }
                // A wrong board id or a Kanban board is a configuration problem of this one
                // section; the issue counts above are still right, so report them with a note.
                Err(e)
                    if matches!(
                        e.kind(),
                        FailureKind::NotFound | FailureKind::InvalidConfig | FailureKind::Rejected
                    ) =>
                {
                    tracing::warn!(board, kind = %e.kind(), "jira sprint metrics skipped");
                    snap.notes
                        .push(format!("Sprint metrics skipped for board {board}: {}", e));
                }
                Err(e) if e.kind() == FailureKind::InvalidCredentials => return Err(e),
                Err(e) => snap.problems.push(MetricProblem::from_error("sprints", &e)),
            }
        }
        Ok(snap)
    }
}

#[async_trait]
impl BaseService for JiraService {
    fn descriptor(&self) -> &'static ProviderDescriptor {
        &crate::DESCRIPTOR
    }

    async fn probe(&self) -> Result<Connected> {
        let (me, resp) = self.client.myself().await?;
        let identity = me
            .email_address
            .clone()
            .filter(|e| !e.is_empty())
            .or_else(|| me.display_name.clone().filter(|n| !n.is_empty()))
            .unwrap_or_else(|| me.account_id.clone());
        let who = match (&me.display_name, &me.email_address) {
            (Some(name), Some(email)) if !name.is_empty() && !email.is_empty() => {
                format!("{name} <{email}>")
            }
            _ => identity.clone(),
        };
        let site = self.config.base_url.host_str().unwrap_or("the site");
        let mut message = format!("Authenticated as {who} on {site}");
        if let Some(id) = &self.config.cloud_id {
            message.push_str(&format!(
                " through the Atlassian API gateway (cloud id {id})"
            ));
        }
        message.push('.');
        if me.active == Some(false) {
            message.push_str(" The account is deactivated.");
        }
        let mut details = ReportDetails::default();
        details.rate_limit = resp.rate_limit();
        details.http_status = Some(resp.status.as_u16());
        details
            .extra
            .insert("account_id".into(), serde_json::json!(me.account_id));
        if let Some(t) = &me.account_type {
            details
                .extra
                .insert("account_type".into(), serde_json::json!(t));
        }
        Ok(Connected::new(Some(identity), message).with_details(details))
    }

    async fn collect_metrics(&self) -> Result<MetricSet> {
        let snap = self
            .snapshot(TimeWindow::ending_at(
                self.clock.now(),
                chrono::Duration::days(7),
            ))
            .await?;
        Ok(crate::metrics::metric_set(&snap, self.clock.now()))
    }

    fn as_project_management(&self) -> Option<&dyn ProjectManagementService> {
        Some(self)
    }
}

#[async_trait]
impl ProjectManagementService for JiraService {
    async fn issue_summary(&self, window: TimeWindow) -> Result<IssueSummary> {
        let snap = self.snapshot(window).await?;
        let active_sprint = snap
            .board
            .as_ref()
            .and_then(|b| b.sprints.first())
            .map(|s| {
                let mut sprint = SprintSummary::new(s.sprint.id, s.sprint.name.clone());
                sprint.issues_by_status_category = s
                    .by_category
                    .iter()
                    .map(|(c, n)| (c.name.to_owned(), *n))
                    .collect();
                sprint.end_date = s.sprint.end();
                sprint
            });
        let mut summary = IssueSummary::default();
        summary.open_by_status_category = snap
            .open_by_category
            .iter()
            .map(|(c, n)| (c.name.to_owned(), *n))
            .collect();
        summary.open_by_project = snap.open_by_project;
        summary.created = snap.created;
        summary.resolved = snap.resolved;
        summary.active_sprint = active_sprint;
        Ok(summary)
    }
}
