//! The Vercel service: connection test, metrics and the infrastructure verbs (resources,
//! deployments, cost).

use std::collections::BTreeMap;
use std::sync::Arc;

use async_trait::async_trait;
use chrono::{SecondsFormat, TimeZone, Utc};
use opsdeck_core::domain::{CostLine, CostReport, Deployment, DeploymentState, Money, TimeWindow};
use opsdeck_core::http::{HttpClient, HttpSettings, Page, Paged, Paging, paginate};
use opsdeck_core::metrics::first_day_note;
use opsdeck_core::rust_decimal::prelude::ToPrimitive;
use opsdeck_core::{
    Ability, BaseService, BuildContext, Connected, CostSource, DeploymentSource, Error,
    FailureKind, InfrastructureService, Metric, MetricSet, ProviderDescriptor, ReportDetails,
    Result, Sections, SharedClock, Unit,
};

use crate::client::{self, DeploymentsPage, FocusTotals, ProjectsPage, Team, UserResponse};
use crate::config::VercelConfig;
use crate::error::VercelErrors;

/// Page size for deployments and projects (the API's maximum).
const PAGE_SIZE: &str = "100";
/// Page cap per list (2 000 objects); hitting it is reported as a note.
const MAX_PAGES: usize = 20;
/// The states every `vercel_deployments_24h` collection reports, even at zero, so dashboards
/// and alerts always have a series (issue #5 names these four).
const ALWAYS_REPORTED: [&str; 4] = ["READY", "ERROR", "BUILDING", "CANCELED"];

/// One configured Vercel account or team.
#[derive(Debug)]
pub struct VercelService {
    config: VercelConfig,
    http: HttpClient,
    clock: SharedClock,
}

impl VercelService {
    /// Build from a registry context (no I/O).
    pub fn build(ctx: BuildContext) -> Result<Arc<dyn BaseService>> {
        let config = VercelConfig::from_values(&ctx.config)?;
        Ok(Arc::new(
            Self::new(config, &ctx.http)?.with_clock(ctx.clock),
        ))
    }

    /// Build from a typed config (library use).
    pub fn new(config: VercelConfig, http: &HttpSettings) -> Result<Self> {
        let client = HttpClient::builder("Vercel", &config.base_url, http)
            .bearer(&config.token)
            .vendor(VercelErrors)
            .build()?;
        Ok(VercelService {
            config,
            http: client,
            clock: opsdeck_core::clock::system(),
        })
    }

    /// Use `clock` for windows and month boundaries (the system clock by default).
    pub fn with_clock(mut self, clock: SharedClock) -> Self {
        self.clock = clock;
        self
    }

    /// `query` plus `teamId` when a team is configured.
    fn scoped<'a>(&self, mut query: Vec<(&'a str, String)>) -> Vec<(&'a str, String)> {
        if let Some(team) = &self.config.team_id {
            query.push(("teamId", team.clone()));
        }
        query
    }

    async fn user(&self) -> Result<UserResponse> {
        // `/v2/user` takes no team parameter (vercel/sdk `userGetAuthUser`): the user is the
        // token's owner whatever team it acts on.
        let (u, _) = self.http.get_json("/v2/user", &[]).await?;
        Ok(u)
    }

    async fn team(&self, team_id: &str) -> Result<Team> {
        let path = format!("/v2/teams/{team_id}");
        let (t, _) = self.http.get_json(&path, &[]).await.map_err(|e| {
            match e.kind() {
                FailureKind::PermissionDenied | FailureKind::NotFound => e.with_hint(format!(
                    "The token cannot see team {team_id}: check team_id and that the token's owner is a member of that team."
                )),
                _ => e,
            }
        })?;
        Ok(t)
    }

    /// Deployments created in `window`, newest first, following `pagination.next` into
    /// `until` (which must move back in time).
    async fn list_deployments(&self, window: TimeWindow) -> Result<Paged<client::Deployment>> {
        let since = window.start.timestamp_millis();
        let end = window.end.timestamp_millis();
        let paging = Paging::new("deployments of the window", MAX_PAGES);
        paginate(&paging, |cursor: Option<i64>| async move {
            let until = cursor.unwrap_or(end);
            let query = self.scoped(vec![
                ("since", since.to_string()),
                ("until", until.to_string()),
                ("limit", PAGE_SIZE.to_owned()),
            ]);
            let (page, _): (DeploymentsPage, _) =
                self.http.get_json("/v6/deployments", &query).await?;
            let next = page
                .pagination
                .next_cursor()
                .and_then(|n| n.parse::<i64>().ok())
                // A cursor that does not move back in time is handed to the driver, which
                // stops on the repeat; one before the window ends the listing.
                .filter(|n| *n <= until && *n >= since);
            let items = page
                .deployments
                .into_iter()
                .filter(|d| d.created >= since)
                .collect();
            Ok(Page::new(items, next))
        })
        .await
    }

    /// Every project, following `pagination.next` into `from`.
    async fn list_projects(&self) -> Result<Paged<client::Project>> {
        let paging = Paging::new("projects", MAX_PAGES);
        paginate(&paging, |from: Option<String>| async move {
            let mut query = vec![("limit", PAGE_SIZE.to_owned())];
            if let Some(f) = from {
                query.push(("from", f));
            }
            let (page, _): (ProjectsPage, _) = self
                .http
                .get_json("/v10/projects", &self.scoped(query))
                .await?;
            let next = page
                .pagination
                .next_cursor()
                .filter(|_| !page.projects.is_empty());
            Ok(Page::new(page.projects, next))
        })
        .await
    }

    async fn billing(&self, window: TimeWindow) -> Result<FocusTotals> {
        let iso = |t: chrono::DateTime<Utc>| t.to_rfc3339_opts(SecondsFormat::Millis, true);
        let query = self.scoped(vec![("from", iso(window.start)), ("to", iso(window.end))]);
        let resp = self
            .http
            .send(self.http.get("/v1/billing/charges")?.query(&query))
            .await?;
        if resp.is_html() {
            return Err(Error::invalid_response(
                "Vercel answered the billing charges request with an HTML page instead of FOCUS JSON lines; check base_url.",
            ));
        }
        Ok(client::focus_totals(&resp.text()))
    }
}

/// Vercel's state → the cross-vendor state.
fn normalise(state: &str) -> DeploymentState {
    match state {
        "READY" => DeploymentState::Succeeded,
        "ERROR" => DeploymentState::Failed,
        "BUILDING" | "INITIALIZING" | "QUEUED" => DeploymentState::InProgress,
        "CANCELED" => DeploymentState::Canceled,
        _ => DeploymentState::Other,
    }
}

/// The 24 h deployment counts by state (every state in `ALWAYS_REPORTED` always present).
fn push_deployments(set: &mut MetricSet, deployments: &Paged<client::Deployment>) {
    let mut by_state: BTreeMap<String, u64> = ALWAYS_REPORTED
        .iter()
        .map(|s| ((*s).to_owned(), 0))
        .collect();
    for d in &deployments.items {
        *by_state.entry(d.state()).or_default() += 1;
    }
    for (state, n) in by_state {
        set.push(
            Metric::new("vercel_deployments_24h", n as f64, Unit::Count)
                .label("state", state.to_ascii_lowercase()),
        );
    }
    if let Some(note) = deployments.note() {
        set.note(format!("{note} vercel_deployments_24h is partial."));
    }
}

/// Metric values are f64 by contract; the exact figure stays in the cost verb's `Money`.
fn decimal_as_f64(d: opsdeck_core::rust_decimal::Decimal) -> f64 {
    d.to_f64().unwrap_or(f64::NAN)
}

#[async_trait]
impl BaseService for VercelService {
    fn descriptor(&self) -> &'static ProviderDescriptor {
        &crate::DESCRIPTOR
    }

    async fn probe(&self) -> Result<Connected> {
        let user = self.user().await?.user;
        let login = user.display();
        let mut details = ReportDetails::default();
        details
            .extra
            .insert("user_id".into(), serde_json::Value::from(user.id.clone()));
        let (identity, mut message) = match &self.config.team_id {
            Some(team_id) => {
                let team = self.team(team_id).await?;
                details
                    .extra
                    .insert("team_id".into(), serde_json::Value::from(team.id.clone()));
                let name = team.display();
                (
                    name.clone(),
                    format!("Authenticated as {login}, acting on team {name}."),
                )
            }
            None => (login.clone(), format!("Authenticated as {login}.")),
        };
        if user.limited {
            message.push_str(" Vercel marks the token as limited (it cannot read full user data); metrics may be incomplete.");
        }
        Ok(Connected::new(Some(identity), message).with_details(details))
    }

    async fn collect_metrics(&self) -> Result<MetricSet> {
        let now = self.clock.now();
        let window = TimeWindow::ending_at(now, chrono::Duration::hours(24));
        let mtd = TimeWindow::month_to_date_at(now);
        let previous = TimeWindow::previous_month(now);
        let (deployments, projects, billing, billing_previous) = futures::join!(
            self.list_deployments(window),
            self.list_projects(),
            self.billing(mtd),
            self.billing(previous)
        );
        // Each section stands alone: one failed endpoint becomes a problem naming it.
        let mut set = Sections::new();
        let deployments = set.section("deployments", deployments)?;
        let projects = set.section("projects", projects)?;
        if let Some(deployments) = deployments {
            push_deployments(&mut set, &deployments);
        }
        if let Some(projects) = projects {
            set.push(Metric::new(
                "vercel_projects",
                projects.items.len() as f64,
                Unit::Count,
            ));
            if let Some(note) = projects.note() {
                set.note(format!("{note} vercel_projects is a lower bound."));
            }
        }

        // Cost is extra: a token without a billing role still gets deployment metrics, and the
        // problem says what was left out.
        if let Some(totals) = set.section("billing", billing)? {
            // Always report USD so "no charges yet this month" is 0, not a missing series.
            let mut by_currency = totals.by_currency.clone();
            by_currency.entry("USD".to_owned()).or_default();
            for (currency, amount) in by_currency {
                set.push(
                    Metric::new(
                        "vercel_billed_cost_mtd",
                        decimal_as_f64(amount),
                        Unit::currency(&currency),
                    )
                    .label("currency", currency.to_ascii_lowercase()),
                );
            }
            for ((currency, service), amount) in &totals.by_service {
                set.push(
                    Metric::new(
                        "vercel_billed_cost_mtd_by_service",
                        decimal_as_f64(*amount),
                        Unit::currency(currency),
                    )
                    .label("currency", currency.to_ascii_lowercase())
                    .label("service", service.clone()),
                );
            }
            if totals.skipped > 0 {
                set.note(format!(
                    "{} billing line(s) were not FOCUS rows with a BilledCost and were skipped.",
                    totals.skipped
                ));
            }
        }
        // The previous full month, so the month that just closed is never missing (and on
        // the first day, when month-to-date is 0, it is the figure worth reading).
        if let Some(totals) = set.section("billing_previous_month", billing_previous)? {
            let mut by_currency = totals.by_currency.clone();
            by_currency.entry("USD".to_owned()).or_default();
            let summary = by_currency
                .iter()
                .map(|(c, a)| format!("{} {c}", a.round_dp(2)))
                .collect::<Vec<_>>()
                .join(", ");
            for (currency, amount) in by_currency {
                set.push(
                    Metric::new(
                        "vercel_billed_cost_previous_month",
                        decimal_as_f64(amount),
                        Unit::currency(&currency),
                    )
                    .label("currency", currency.to_ascii_lowercase())
                    .previous_month(&previous),
                );
            }
            if TimeWindow::is_first_day_of_month(now) {
                set.note(first_day_note(&format!(
                    "{summary} ({})",
                    previous.month_label()
                )));
            }
        }
        set.finish()
    }

    fn as_infrastructure(&self) -> Option<&dyn InfrastructureService> {
        Some(self)
    }
}

#[async_trait]
impl InfrastructureService for VercelService {
    async fn resources(&self) -> Result<Vec<String>> {
        let projects = self.list_projects().await?;
        let mut names: Vec<String> = projects.items.into_iter().map(|p| p.name).collect();
        names.sort();
        Ok(names)
    }

    fn deployment_source(&self) -> Ability<'_, dyn DeploymentSource> {
        Ok(self)
    }

    fn cost_source(&self) -> Ability<'_, dyn CostSource> {
        Ok(self)
    }
}

#[async_trait]
impl DeploymentSource for VercelService {
    async fn deployments(&self, window: TimeWindow) -> Result<Vec<Deployment>> {
        let listed = self.list_deployments(window).await?;
        if let Some(note) = listed.note() {
            // The cross-provider deployment list has no notes; the partial list is still
            // returned, and the reason is logged.
            tracing::info!(note, "vercel deployments partial");
        }
        Ok(listed
            .items
            .into_iter()
            .map(|d| {
                let state = d.state();
                let created_at = Utc
                    .timestamp_millis_opt(d.created)
                    .single()
                    .unwrap_or_default();
                let mut deployment =
                    Deployment::new(d.uid.clone(), normalise(&state), state, created_at);
                deployment.project = d.name.clone();
                deployment.environment = d.target.clone();
                deployment.url = d.url.map(|u| {
                    if u.starts_with("http") {
                        u
                    } else {
                        format!("https://{u}")
                    }
                });
                deployment
            })
            .collect())
    }
}

#[async_trait]
impl CostSource for VercelService {
    async fn cost(&self, window: TimeWindow) -> Result<CostReport> {
        let totals = self.billing(window).await?;
        let total = totals
            .by_currency
            .iter()
            .map(|(c, a)| Money::new(*a, c))
            .collect();
        let lines = totals
            .by_service
            .iter()
            .map(|((c, service), a)| CostLine::new(service.clone(), Money::new(*a, c)))
            .collect();
        // Charges of the current day (and an uninvoiced month) can still change.
        let estimated = window.end > self.clock.now() - chrono::Duration::days(2);
        Ok(CostReport::new(window, total, lines).with_estimated(estimated))
    }
}
