//! The Railway service: the connection test for each token kind, the metrics run and the
//! infrastructure verbs (resources, deployments, cost).

use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, Duration, SecondsFormat, Utc};
use futures::stream::{self, StreamExt, TryStreamExt};
use opsdeck_core::clock::SharedClock;
use opsdeck_core::domain::{CostLine, CostReport, Deployment, Money, TimeWindow, sum_by_currency};
use opsdeck_core::http::{HttpSettings, Page, Paging, paginate};
use opsdeck_core::rust_decimal::Decimal;
use opsdeck_core::rust_decimal::prelude::FromPrimitive;
use opsdeck_core::{
    Ability, BaseService, BuildContext, Connected, CostSource, DeploymentSource,
    InfrastructureService, MetricSet, ProviderDescriptor, ReportDetails, Result, Sections,
    Unavailable,
};
use serde::Deserialize;
use serde_json::json;

use crate::client::GraphQl;
use crate::config::{RailwayConfig, TokenKind};
use crate::metrics::{self, Gathered, WorkspaceCost};
use crate::queries;

/// Deployment pages read per project before giving up (100 per page). Railway has no date
/// filter, so this bounds the cost of a very busy project.
const MAX_DEPLOYMENT_PAGES: usize = 10;
/// Project pages read per workspace (100 per page).
const MAX_PROJECT_PAGES: usize = 20;
/// Concurrent requests in one metrics run: enough to finish within a check's timeout, few
/// enough to stay inside Railway's per-second limits (10 RPS on Hobby).
const CONCURRENCY: usize = 4;

// ---- wire types (only what we read; unknown fields are ignored) ----

#[derive(Debug, Deserialize)]
struct MeData {
    me: Me,
}

#[derive(Debug, Deserialize)]
struct Me {
    #[serde(default)]
    email: Option<String>,
    #[serde(default)]
    name: Option<String>,
}

#[derive(Debug, Deserialize)]
struct MeWorkspacesData {
    me: MeWorkspaces,
}

#[derive(Debug, Deserialize)]
struct MeWorkspaces {
    workspaces: Vec<Workspace>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct ApiTokenData {
    api_token: ApiToken,
}

#[derive(Debug, Deserialize)]
struct ApiToken {
    workspaces: Vec<Workspace>,
}

#[derive(Debug, Clone, Deserialize)]
struct Workspace {
    id: String,
    name: String,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct ProjectTokenData {
    project_token: ProjectToken,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct ProjectToken {
    project_id: String,
    environment_id: String,
    project: TokenProject,
    environment: Named,
}

/// The project of a project token (its id is `projectId` above).
#[derive(Debug, Deserialize)]
struct TokenProject {
    name: String,
    services: Connection<Named>,
}

#[derive(Debug, Deserialize)]
struct Project {
    id: String,
    name: String,
    services: Connection<Named>,
}

#[derive(Debug, Deserialize)]
struct Named {
    name: String,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Connection<T> {
    edges: Vec<Edge<T>>,
    page_info: PageInfo,
}

#[derive(Debug, Deserialize)]
struct Edge<T> {
    node: T,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct PageInfo {
    has_next_page: bool,
    #[serde(default)]
    end_cursor: Option<String>,
}

#[derive(Debug, Deserialize)]
struct ProjectsData {
    projects: Connection<Project>,
}

#[derive(Debug, Deserialize)]
struct DeploymentsData {
    deployments: Connection<DeploymentNode>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
struct DeploymentNode {
    id: String,
    status: String,
    created_at: DateTime<Utc>,
    #[serde(default)]
    static_url: Option<String>,
}

#[derive(Debug, Deserialize)]
struct BillingData {
    workspace: WorkspaceBilling,
}

#[derive(Debug, Deserialize)]
struct WorkspaceBilling {
    customer: Customer,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Customer {
    current_usage: f64,
    billing_period: BillingPeriod,
}

#[derive(Debug, Clone, Copy, Deserialize)]
struct BillingPeriod {
    start: DateTime<Utc>,
    end: DateTime<Utc>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct UsageEstimateData {
    usage: Vec<Aggregated>,
    estimated_usage: Vec<Estimated>,
}

#[derive(Debug, Deserialize)]
struct Aggregated {
    measurement: String,
    value: f64,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Estimated {
    measurement: String,
    estimated_value: f64,
}

// ---- what the token can see ----

/// A project with the context needed for deployments and labels.
#[derive(Debug, Clone)]
struct ProjectRef {
    workspace: String,
    id: String,
    name: String,
    /// Set for project tokens, which see one environment only.
    environment_id: Option<String>,
    environment: Option<String>,
    services: u64,
    services_capped: bool,
}

/// Everything a metrics run or a verb needs to know about the token's reach.
#[derive(Debug, Default)]
struct Inventory {
    workspaces: Vec<Workspace>,
    projects: Vec<ProjectRef>,
    notes: Vec<String>,
}

/// One configured Railway connection.
#[derive(Debug)]
pub struct RailwayService {
    config: RailwayConfig,
    gql: GraphQl,
    clock: SharedClock,
}

impl RailwayService {
    /// Build from a registry context (no I/O).
    pub fn build(ctx: BuildContext) -> Result<Arc<dyn BaseService>> {
        let config = RailwayConfig::from_values(&ctx.config)?;
        Ok(Arc::new(
            Self::new(config, &ctx.http)?.with_clock(ctx.clock),
        ))
    }

    /// Build from a typed config (library use).
    pub fn new(config: RailwayConfig, http: &HttpSettings) -> Result<Self> {
        let gql = GraphQl::new(&config, http)?;
        Ok(RailwayService {
            config,
            gql,
            clock: opsdeck_core::clock::system(),
        })
    }

    /// Use `clock` for windows and month boundaries (the system clock by default).
    pub fn with_clock(mut self, clock: SharedClock) -> Self {
        self.clock = clock;
        self
    }

    async fn workspaces(&self) -> Result<Vec<Workspace>> {
        match self.config.token_kind {
            TokenKind::Account => {
                let (d, _): (MeWorkspacesData, _) = self
                    .gql
                    .query(queries::ACCOUNT_WORKSPACES, json!({}))
                    .await?;
                Ok(d.me.workspaces)
            }
            TokenKind::Workspace => {
                let (d, _): (ApiTokenData, _) =
                    self.gql.query(queries::PROBE_WORKSPACE, json!({})).await?;
                Ok(d.api_token.workspaces)
            }
            TokenKind::Project => Ok(Vec::new()),
        }
    }

    async fn project_token(&self) -> Result<(ProjectToken, opsdeck_core::http::HttpResponse)> {
        let (d, resp): (ProjectTokenData, _) =
            self.gql.query(queries::PROJECT_TOKEN, json!({})).await?;
        Ok((d.project_token, resp))
    }

    /// All projects of one workspace, following `pageInfo.endCursor`; a note when paging
    /// stopped early.
    async fn projects_of(&self, ws: &Workspace) -> Result<(Vec<ProjectRef>, Option<String>)> {
        let paging = Paging::new(
            format!("projects of workspace {}", ws.name),
            MAX_PROJECT_PAGES,
        );
        let paged = paginate(&paging, |after: Option<String>| async move {
            let vars = json!({ "workspaceId": ws.id, "first": queries::PAGE_SIZE, "after": after });
            let (d, _): (ProjectsData, _) = self.gql.query(queries::PROJECTS, vars).await?;
            let projects = d
                .projects
                .edges
                .into_iter()
                .map(|e| {
                    let p = e.node;
                    ProjectRef {
                        workspace: ws.name.clone(),
                        id: p.id,
                        name: p.name,
                        environment_id: None,
                        environment: None,
                        services: p.services.edges.len() as u64,
                        services_capped: p.services.page_info.has_next_page,
                    }
                })
                .collect();
            Ok(match d.projects.page_info {
                PageInfo {
                    has_next_page: true,
                    end_cursor: Some(c),
                } => Page::new(projects, Some(c)),
                PageInfo {
                    has_next_page: true,
                    end_cursor: None,
                } => Page::more_without_cursor(projects),
                _ => Page::new(projects, None),
            })
        })
        .await?;
        let note = paged.note();
        Ok((paged.items, note))
    }

    async fn inventory(&self) -> Result<Inventory> {
        let mut inv = Inventory::default();
        if self.config.token_kind == TokenKind::Project {
            let (t, _) = self.project_token().await?;
            inv.projects.push(ProjectRef {
                workspace: String::new(),
                id: t.project_id,
                name: t.project.name,
                environment_id: Some(t.environment_id),
                environment: Some(t.environment.name),
                services: t.project.services.edges.len() as u64,
                services_capped: t.project.services.page_info.has_next_page,
            });
            return Ok(inv);
        }
        inv.workspaces = self.workspaces().await?;
        for ws in &inv.workspaces {
            let (projects, note) = self.projects_of(ws).await?;
            inv.projects.extend(projects);
            inv.notes.extend(note);
        }
        for p in inv.projects.iter().filter(|p| p.services_capped) {
            inv.notes.push(format!(
                "Project {}: only the first {} services were counted.",
                p.name,
                queries::PAGE_SIZE
            ));
        }
        Ok(inv)
    }

    /// Deployments of one project created in `window`, newest first as Railway lists them,
    /// and a note when paging stopped early.
    async fn deployments_of(
        &self,
        p: &ProjectRef,
        window: TimeWindow,
    ) -> Result<(Vec<DeploymentNode>, Option<String>)> {
        let mut input = json!({ "projectId": p.id });
        if let Some(env) = &p.environment_id {
            input["environmentId"] = json!(env);
        }
        let input = &input;
        let paging = Paging::new(
            format!("deployments of project {}", p.name),
            MAX_DEPLOYMENT_PAGES,
        );
        let paged = paginate(&paging, |after: Option<String>| async move {
            let vars = json!({ "input": input, "first": queries::PAGE_SIZE, "after": after });
            let (d, _): (DeploymentsData, _) = self.gql.query(queries::DEPLOYMENTS, vars).await?;
            let nodes: Vec<DeploymentNode> =
                d.deployments.edges.into_iter().map(|e| e.node).collect();
            // Railway documents no order (the connection has no `orderBy`), so none is assumed:
            // every page is filtered by each deployment's own `createdAt`, and only a page
            // entirely older than the window ends the walk. The caller sorts.
            let all_older = !nodes.is_empty() && nodes.iter().all(|n| n.created_at < window.start);
            let in_window = nodes
                .into_iter()
                .filter(|n| n.created_at >= window.start && n.created_at < window.end)
                .collect();
            Ok(match d.deployments.page_info {
                _ if all_older => Page::new(in_window, None),
                PageInfo {
                    has_next_page: true,
                    end_cursor: Some(c),
                } => Page::new(in_window, Some(c)),
                PageInfo {
                    has_next_page: true,
                    end_cursor: None,
                } => Page::more_without_cursor(in_window),
                _ => Page::new(in_window, None),
            })
        })
        .await?;
        let note = paged.note();
        Ok((paged.items, note))
    }

    async fn project_deployments(
        &self,
        p: &ProjectRef,
        window: TimeWindow,
    ) -> Result<(ProjectRef, Vec<DeploymentNode>, Option<String>)> {
        let (d, note) = self.deployments_of(p, window).await?;
        Ok((p.clone(), d, note))
    }

    /// Deployments of every project in `window`, a few projects at a time, and a note for each
    /// project whose list stopped early.
    async fn all_deployments(
        &self,
        projects: &[ProjectRef],
        window: TimeWindow,
    ) -> Result<(Vec<(ProjectRef, DeploymentNode)>, Vec<String>)> {
        // The futures are built up front (not in a stream closure) so the async-trait callers
        // stay `Send` without higher-ranked lifetime trouble.
        let futures: Vec<_> = projects
            .iter()
            .map(|p| Box::pin(self.project_deployments(p, window)))
            .collect();
        let per_project: Vec<(ProjectRef, Vec<DeploymentNode>, Option<String>)> =
            stream::iter(futures)
                .buffer_unordered(CONCURRENCY)
                .try_collect()
                .await?;
        let mut out = Vec::new();
        let mut notes = Vec::new();
        for (p, list, note) in per_project {
            notes.extend(note);
            out.extend(list.into_iter().map(|d| (p.clone(), d)));
        }
        // No order is assumed from Railway (the connection has no `orderBy`; its CLI re-sorts
        // by `createdAt` too) nor from the concurrent walk: newest first, by their own times.
        out.sort_by(|(_, a), (_, b)| {
            b.created_at
                .cmp(&a.created_at)
                .then_with(|| b.id.cmp(&a.id))
        });
        Ok((out, notes))
    }

    /// Usage cost of one workspace: `currentUsage` and the priced end-of-period estimate.
    async fn workspace_cost(&self, ws: &Workspace) -> Result<(WorkspaceCost, BillingPeriod)> {
        let (b, _): (BillingData, _) = self
            .gql
            .query(queries::BILLING, json!({ "workspaceId": ws.id }))
            .await?;
        let period = b.workspace.customer.billing_period;
        let current = b.workspace.customer.current_usage;
        let measurements: Vec<&str> = queries::PRICED_MEASUREMENTS
            .iter()
            .map(|(m, _)| *m)
            .collect();
        let vars = json!({
            "workspaceId": ws.id,
            "measurements": measurements,
            "startDate": period.start.to_rfc3339_opts(SecondsFormat::Millis, true),
            "endDate": period.end.to_rfc3339_opts(SecondsFormat::Millis, true),
        });
        // The estimate is a second, optional query: a failure leaves the current figure intact.
        let estimated = match self
            .gql
            .query::<UsageEstimateData>(queries::USAGE_ESTIMATE, vars)
            .await
        {
            Ok((u, _)) => {
                let so_far =
                    metrics::price(u.usage.iter().map(|a| (a.measurement.as_str(), a.value)));
                let estimate = metrics::price(
                    u.estimated_usage
                        .iter()
                        .map(|e| (e.measurement.as_str(), e.estimated_value)),
                );
                Some(metrics::estimated_period_usage(current, so_far, estimate))
            }
            Err(e) => {
                tracing::debug!(workspace = %ws.name, kind = %e.kind(), "usage estimate unavailable");
                None
            }
        };
        Ok((
            WorkspaceCost {
                workspace: ws.name.clone(),
                current_usage: current,
                estimated_usage: estimated,
                period_end_unix: period.end.timestamp(),
            },
            period,
        ))
    }

    /// Cost of every workspace the token can bill-read; the others become notes.
    async fn costs(
        &self,
        workspaces: &[Workspace],
        notes: &mut Vec<String>,
    ) -> Vec<(WorkspaceCost, BillingPeriod)> {
        let mut out = Vec::new();
        for ws in workspaces {
            match self.workspace_cost(ws).await {
                Ok(c) => out.push(c),
                Err(e) => notes.push(format!(
                    "Usage cost for workspace {} is not available ({}): {}",
                    ws.name,
                    e.kind(),
                    e
                )),
            }
        }
        out
    }
}

/// Dollars as exact money, to the cent. Railway sends a float; a non-finite one (never seen)
/// would become 0 rather than poison a cross-provider sum.
fn money(dollars: f64) -> Money {
    let amount = Decimal::from_f64(dollars)
        .map(|d| d.round_dp(2))
        .unwrap_or_default();
    Money::new(amount, "USD")
}

#[async_trait]
impl BaseService for RailwayService {
    fn descriptor(&self) -> &'static ProviderDescriptor {
        &crate::DESCRIPTOR
    }

    async fn probe(&self) -> Result<Connected> {
        let (identity, message, resp) = match self.config.token_kind {
            TokenKind::Account => {
                let (d, resp): (MeData, _) =
                    self.gql.query(queries::PROBE_ACCOUNT, json!({})).await?;
                let who =
                    d.me.email
                        .filter(|e| !e.is_empty())
                        .or(d.me.name)
                        .unwrap_or_else(|| "an unnamed Railway user".to_owned());
                let msg = format!("Authenticated to Railway as {who} (account token).");
                (who, msg, resp)
            }
            TokenKind::Workspace => {
                let (d, resp): (ApiTokenData, _) =
                    self.gql.query(queries::PROBE_WORKSPACE, json!({})).await?;
                let names: Vec<&str> = d
                    .api_token
                    .workspaces
                    .iter()
                    .map(|w| w.name.as_str())
                    .collect();
                if names.is_empty() {
                    let msg = "Railway accepted the token, but it can reach no workspace; metrics will be empty. Create the token for a workspace (Account settings → Tokens).".to_owned();
                    ("workspace token (no workspace)".to_owned(), msg, resp)
                } else {
                    let who = names.join(", ");
                    let msg = format!("Authenticated to Railway with a workspace token for {who}.");
                    (who, msg, resp)
                }
            }
            TokenKind::Project => {
                let (t, resp) = self.project_token().await?;
                let who = format!("{} / {}", t.project.name, t.environment.name);
                let msg = format!("Authenticated to Railway with a project token for {who}.");
                (who, msg, resp)
            }
        };
        let mut details = ReportDetails::default();
        details.rate_limit = resp.rate_limit();
        Ok(Connected::new(Some(identity), message).with_details(details))
    }

    async fn collect_metrics(&self) -> Result<MetricSet> {
        // The inventory (workspaces, projects, services) is what every other section is read
        // for: without it nothing can be collected. The sections after it stand alone.
        let mut set = Sections::new();
        let Some(inv) = set.section("inventory", self.inventory().await)? else {
            return set.finish();
        };
        let mut g = Gathered::default();
        for n in &inv.notes {
            set.note(n.clone());
        }
        if self.config.token_kind == TokenKind::Project {
            // A project token sees one project; label it by project, not by an unknown workspace.
            for p in &inv.projects {
                g.services
                    .insert((String::new(), p.name.clone()), p.services);
            }
        } else {
            g.workspaces = Some(inv.workspaces.len() as u64);
            for ws in &inv.workspaces {
                g.projects.insert(ws.name.clone(), 0);
            }
            for p in &inv.projects {
                *g.projects.entry(p.workspace.clone()).or_default() += 1;
                g.services
                    .insert((p.workspace.clone(), p.name.clone()), p.services);
            }
        }
        let window = TimeWindow::ending_at(self.clock.now(), Duration::hours(24));
        let deployments = self.all_deployments(&inv.projects, window).await;
        if let Some((deployments, notes)) = set.section("deployments", deployments)? {
            for note in notes {
                set.note(format!(
                    "{note} The 24 h deployment counts are a lower bound."
                ));
            }
            g.deployment_statuses =
                Some(deployments.iter().map(|(_, d)| d.status.clone()).collect());
        }

        if self.config.token_kind == TokenKind::Project {
            set.note("Usage cost needs a workspace or account token; project tokens cannot read billing.");
        } else {
            let mut notes = Vec::new();
            g.costs = self
                .costs(&inv.workspaces, &mut notes)
                .await
                .into_iter()
                .map(|(c, _)| c)
                .collect();
            for n in notes {
                set.note(n);
            }
        }
        metrics::assemble(&g, &mut set);
        set.finish()
    }

    fn as_infrastructure(&self) -> Option<&dyn InfrastructureService> {
        Some(self)
    }
}

#[async_trait]
impl InfrastructureService for RailwayService {
    async fn resources(&self) -> Result<Vec<String>> {
        let inv = self.inventory().await?;
        Ok(inv
            .projects
            .into_iter()
            .map(|p| match (p.environment, p.workspace.is_empty()) {
                (Some(env), _) => format!("{} / {env}", p.name),
                (None, false) => format!("{}/{}", p.workspace, p.name),
                (None, true) => p.name,
            })
            .collect())
    }

    fn deployment_source(&self) -> Ability<'_, dyn DeploymentSource> {
        Ok(self)
    }

    fn cost_source(&self) -> Ability<'_, dyn CostSource> {
        match self.config.token_kind {
            TokenKind::Project => Err(Unavailable::because(
                "Railway project tokens cannot read workspace billing; configure an account or workspace token to get cost.",
            )),
            _ => Ok(self),
        }
    }
}

#[async_trait]
impl DeploymentSource for RailwayService {
    async fn deployments(&self, window: TimeWindow) -> Result<Vec<Deployment>> {
        let inv = self.inventory().await?;
        let (list, notes) = self.all_deployments(&inv.projects, window).await?;
        for note in notes {
            // The cross-provider deployment list has no notes; the partial list is still
            // returned, and the reason is logged.
            tracing::info!(note, "railway deployments partial");
        }
        let mut out: Vec<Deployment> = list
            .into_iter()
            .map(|(p, d)| {
                let state = metrics::deployment_state(&d.status);
                let mut deployment = Deployment::new(d.id, state, d.status, d.created_at);
                deployment.project = Some(p.name);
                deployment.environment = p.environment;
                deployment.url = d.static_url.map(|u| {
                    if u.starts_with("http") {
                        u
                    } else {
                        format!("https://{u}")
                    }
                });
                deployment
            })
            .collect();
        out.sort_by_key(|d| std::cmp::Reverse(d.created_at));
        Ok(out)
    }
}

#[async_trait]
impl CostSource for RailwayService {
    /// Railway reports usage for the current billing period only, so the report covers that
    /// period (start to now) whatever `window` asks for; the report's window says so.
    async fn cost(&self, _window: TimeWindow) -> Result<CostReport> {
        let workspaces = self.workspaces().await?;
        let mut lines = Vec::new();
        let mut start: Option<DateTime<Utc>> = None;
        for ws in &workspaces {
            let (c, period) = self.workspace_cost(ws).await?;
            start = Some(start.map_or(period.start, |s| s.min(period.start)));
            lines.push(CostLine::new(c.workspace, money(c.current_usage)));
        }
        let end = self.clock.now();
        let total = sum_by_currency(lines.iter().map(|l| &l.amount));
        // `currentUsage` is cached by Railway and the period is not closed.
        Ok(
            CostReport::new(TimeWindow::new(start.unwrap_or(end), end), total, lines)
                .with_estimated(true),
        )
    }
}
