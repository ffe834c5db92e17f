//! The incidents loop: reads every stored check result (the results hook is the wake-up, the
//! store's cursor says what is new, so nothing is missed or counted twice across lags and
//! restarts), runs crates/monitor's flap control per service with the incidents' thresholds,
//! and feeds the failures it confirms into crates/monitor's grouping; a service that recovers
//! (after the success threshold) leaves its incident, which resolves when none is left failing.
//!
//! It also drives the vendor status pages ([`crate::vendor_status`]): a failure reads its
//! vendor's page (when the cached read is older than the active interval) and, when the vendor
//! reports a problem, stores that with the failed result (`details.vendor_status`); changes of a
//! page refresh the cause and title of the open incidents of its providers.
//!
//! The server owns no math: placement, cause, titles, timelines and recovery are
//! `opsdeck_monitor::incident`; the flap control is `opsdeck_monitor::alert_state`.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use chrono::{DateTime, Utc};
use opsdeck_core::Status;
use opsdeck_core::domain::TimeWindow;
use opsdeck_monitor::alert_state::{self, AlertState, FlapPolicy, Observation, TransitionKind};
use opsdeck_monitor::incident::{
    self as model, Incident, PeerHealth, Placement, ServiceDeployment, ServiceFailure,
};
use opsdeck_monitor::statuspage::VendorStatus;
use opsdeck_store::{ResultForIncidents, StoreError};
use tokio::sync::{broadcast, watch};

use crate::features::Feature;
use crate::state::AppState;
use crate::vendor_status::{StatusPages, page_http_settings, resolve_pages};

/// Incident settings (server flags / environment; `docs/incidents.md`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct IncidentSettings {
    /// Consecutive failed checks that open or join an incident (default 3, like an alert's).
    pub failure_threshold: u32,
    /// Consecutive successful checks after which a service has recovered (default 2).
    pub success_threshold: u32,
    /// Grouping window (default 5 min).
    pub group_window: Duration,
    /// Deployments this long before an incident opened go on its timeline (default 30 min).
    pub deployment_window: Duration,
    /// How often the loop looks for due status-page polls without a wake-up.
    pub tick: Duration,
}

impl Default for IncidentSettings {
    fn default() -> Self {
        IncidentSettings {
            failure_threshold: 3,
            success_threshold: 2,
            group_window: Duration::from_secs(300),
            deployment_window: Duration::from_secs(1800),
            tick: Duration::from_secs(1),
        }
    }
}

fn ms(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

impl IncidentSettings {
    fn model(&self) -> model::IncidentSettings {
        model::IncidentSettings {
            group_window_ms: ms(self.group_window),
            deployment_window_ms: ms(self.deployment_window),
        }
    }

    fn policy(&self) -> FlapPolicy {
        FlapPolicy {
            failure_threshold: self.failure_threshold.max(1),
            success_threshold: self.success_threshold.max(1),
            remind_every_ms: None,
            send_resolved: true,
        }
    }
}

/// What this instance's incidents loop is working on: a claim under way, and the services of
/// the results it claimed and has not handled yet. The delivery loop holds a firing alert about
/// such a service back for a moment, so the notification names the incident that the same
/// result opens (the store's cursor alone moves at claim time, before the incident exists).
#[derive(Debug, Default)]
pub struct InFlight(std::sync::Mutex<InFlightInner>);

#[derive(Debug, Default)]
struct InFlightInner {
    claiming: usize,
    services: BTreeMap<String, usize>,
    /// Outbox rows held for an incident, since when (real time: a bound that holds whatever
    /// the injected clock does).
    held: BTreeMap<i64, std::time::Instant>,
}

impl InFlight {
    fn lock(&self) -> std::sync::MutexGuard<'_, InFlightInner> {
        self.0.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn begin_claim(&self) {
        self.lock().claiming += 1;
    }

    /// The claim ended with `services` to handle (none when it failed or was empty).
    fn claimed<'a>(&self, services: impl IntoIterator<Item = &'a str>) {
        let mut g = self.lock();
        g.claiming = g.claiming.saturating_sub(1);
        for s in services {
            *g.services.entry(s.to_owned()).or_default() += 1;
        }
    }

    fn handled(&self, service: &str) {
        let mut g = self.lock();
        if let Some(n) = g.services.get_mut(service) {
            *n -= 1;
            if *n == 0 {
                g.services.remove(service);
            }
        }
    }

    /// Whether a claim is under way or a claimed result of `service` is not handled yet.
    pub fn busy_with(&self, service: &str) -> bool {
        let g = self.lock();
        g.claiming > 0 || g.services.contains_key(service)
    }

    /// Whether outbox row `id` may still be held (first call starts its real-time bound).
    pub fn may_hold(&self, id: i64, bound: Duration) -> bool {
        let mut g = self.lock();
        let since = *g.held.entry(id).or_insert_with(std::time::Instant::now);
        let ok = since.elapsed() < bound;
        if !ok {
            g.held.remove(&id);
        }
        // Rows sent or given up elsewhere leave stale entries: keep the map small.
        if g.held.len() > 10_000 {
            g.held.clear();
        }
        ok
    }

    /// Row `id` is no longer held.
    pub fn release(&self, id: i64) {
        self.lock().held.remove(&id);
    }
}

/// Starts the store's cursor at the newest result (first start) before anything is checked.
pub async fn init(state: &AppState) -> Result<(), StoreError> {
    if state.settings.features.enabled(Feature::Incidents)
        || state.settings.features.enabled(Feature::VendorStatus)
    {
        state.store.claim_results_for_incidents(0).await?;
    }
    Ok(())
}

/// The loop's state.
struct Worker {
    state: AppState,
    pages: Option<StatusPages>,
    incidents_on: bool,
    /// When the page polls and the housekeeping last ran (real time: they read the whole
    /// service list, so not on every wake-up).
    last_sweep: Option<tokio::time::Instant>,
}

/// How often the page polls and the housekeeping run at most.
const SWEEP_EVERY: Duration = Duration::from_secs(5);

/// Runs until `stop`: off when both `incidents` and `vendor_status` are off.
pub async fn run(state: AppState, mut stop: watch::Receiver<bool>) {
    let incidents_on = state.settings.features.enabled(Feature::Incidents);
    let vendor_on = state.settings.features.enabled(Feature::VendorStatus);
    if !incidents_on && !vendor_on {
        return;
    }
    let mut events = state.checks.subscribe();
    let pages = vendor_on.then(|| {
        let s = &state.settings.status_pages;
        StatusPages::new(
            resolve_pages(state.checks.factory(), &s.overrides),
            &page_http_settings(s.timeout),
            state.clock.clone(),
            s.poll_active,
            s.poll_interval,
        )
    });
    let mut worker = Worker {
        state: state.clone(),
        pages,
        incidents_on,
        last_sweep: None,
    };
    let mut tick = tokio::time::interval(state.settings.incidents.tick);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = stop.changed() => break,
            ev = events.recv() => match ev {
                Ok(_) | Err(broadcast::error::RecvError::Lagged(_)) => {}
                Err(broadcast::error::RecvError::Closed) => break,
            },
            _ = tick.tick() => {}
        }
        if *stop.borrow() {
            break;
        }
        if let Err(e) = worker.step().await {
            tracing::warn!(error = %e, "incidents: step failed; retrying on the next wake-up");
        }
    }
}

fn is_bad(r: &ResultForIncidents) -> bool {
    r.status == Status::Failed || (r.status == Status::Unknown && r.failure.is_some())
}

fn host_of(config: &serde_json::Map<String, serde_json::Value>) -> Option<String> {
    let base = config.get("base_url")?.as_str()?;
    url::Url::parse(base).ok()?.host_str().map(str::to_owned)
}

impl Worker {
    async fn step(&mut self) -> Result<(), StoreError> {
        loop {
            let in_flight = self.state.incidents_in_flight.clone();
            in_flight.begin_claim();
            let batch = self.state.store.claim_results_for_incidents(200).await;
            in_flight.claimed(
                batch
                    .iter()
                    .flatten()
                    .filter(|_| self.incidents_on)
                    .map(|r| r.service.as_str()),
            );
            let batch = batch?;
            if batch.is_empty() {
                break;
            }
            for r in &batch {
                if let Err(e) = self.handle(r).await {
                    tracing::warn!(service = %r.service, error = %e, "incidents: result not processed");
                }
                if self.incidents_on {
                    in_flight.handled(&r.service);
                }
            }
        }
        if self.last_sweep.is_some_and(|at| at.elapsed() < SWEEP_EVERY) {
            return Ok(());
        }
        self.last_sweep = Some(tokio::time::Instant::now());
        if self.incidents_on {
            self.forget_deleted().await?;
        }
        self.poll_pages().await
    }

    /// A deleted service never recovers: it leaves its open incidents (which resolve when it
    /// was the last one failing).
    async fn forget_deleted(&mut self) -> Result<(), StoreError> {
        let open = self.state.store.unresolved_incidents().await?;
        if open.is_empty() {
            return Ok(());
        }
        let names: BTreeSet<String> = self
            .state
            .store
            .list_services()
            .await?
            .into_iter()
            .map(|s| s.name)
            .collect();
        let now = self.state.clock.now_ms();
        for s in open {
            let gone: Vec<String> = s
                .incident
                .failing()
                .filter(|m| !names.contains(&m.service))
                .map(|m| m.service.clone())
                .collect();
            if gone.is_empty() {
                continue;
            }
            let mut inc = s.incident.clone();
            for name in &gone {
                inc.add_note("opsdeck", &format!("{name} was deleted"), now)
                    .ok();
                inc.service_recovered(name, now);
            }
            if !self.state.store.update_incident(&inc, s.version).await? {
                tracing::debug!(
                    id = inc.id,
                    "incident changed meanwhile; retried on the next sweep"
                );
            }
        }
        Ok(())
    }

    fn vendors(&self) -> BTreeMap<String, VendorStatus> {
        self.pages
            .as_ref()
            .map(StatusPages::by_provider)
            .unwrap_or_default()
    }

    async fn handle(&mut self, r: &ResultForIncidents) -> Result<(), StoreError> {
        let bad = is_bad(r);
        if bad && let Some(pages) = &self.pages {
            pages.ensure_fresh(&r.provider).await;
            if let Some(v) = pages
                .current(&r.provider)
                .filter(VendorStatus::reports_problem)
            {
                self.state
                    .store
                    .save_result_vendor_status(r.result_id, r.service_id, &v)
                    .await?;
            }
        }
        if !self.incidents_on {
            return Ok(());
        }
        let previous: AlertState = self
            .state
            .store
            .incident_watch(r.service_id)
            .await?
            .and_then(|v| serde_json::from_value(v).ok())
            .unwrap_or_default();
        let obs = if bad {
            Observation::bad(r.message.clone())
        } else if r.status == Status::Connected {
            Observation::good(r.message.clone())
        } else {
            Observation::no_data(r.message.clone())
        };
        let (mut next, transitions) = alert_state::step(
            &self.state.settings.incidents.policy(),
            &previous,
            &obs,
            None,
            r.checked_at,
        );
        // The latest message is not needed between results; without it a healthy service's
        // state does not change, and costs no write.
        next.message = None;
        if next != previous {
            let value = serde_json::to_value(&next).unwrap_or_default();
            self.state
                .store
                .set_incident_watch(r.service_id, &value)
                .await?;
        }
        for t in transitions {
            match t.kind {
                TransitionKind::Firing => self.failed(r).await?,
                TransitionKind::Resolved => self.recovered(&r.service, r.checked_at).await?,
                TransitionKind::Reminder => {}
            }
        }
        Ok(())
    }

    async fn peers(&self) -> Result<Vec<PeerHealth>, StoreError> {
        let services = self.state.store.list_services().await?;
        let latest = self.state.store.latest_results().await?;
        Ok(latest
            .into_iter()
            .filter_map(|res| {
                let s = services.iter().find(|s| s.id == res.result.service_id)?;
                Some(PeerHealth {
                    service: s.name.clone(),
                    provider: s.provider.clone(),
                    status: res.result.status,
                })
            })
            .collect())
    }

    async fn failed(&mut self, r: &ResultForIncidents) -> Result<(), StoreError> {
        let Some(failure_kind) = r.failure else {
            return Ok(());
        };
        let provider_name = self
            .state
            .checks
            .factory()
            .descriptor(&r.provider)
            .map_or_else(|| r.provider.clone(), |d| d.name.to_owned());
        let failure = ServiceFailure {
            service: r.service.clone(),
            provider: r.provider.clone(),
            provider_name,
            host: host_of(&r.config),
            failure: failure_kind,
            message: r.message.clone(),
            at_ms: r.checked_at,
        };
        let settings = self.state.settings.incidents.model();
        let now = self.state.clock.now_ms();
        for _attempt in 0..5 {
            let stored = self.state.store.unresolved_incidents().await?;
            let plain: Vec<Incident> = stored.iter().map(|s| s.incident.clone()).collect();
            let vendors = self.vendors();
            let peers = self.peers().await?;
            match model::place_failure(&plain, &failure, &settings) {
                Placement::Open => {
                    let mut inc = Incident::open(0, &failure);
                    inc.refresh(&vendors, &peers, now);
                    let deployments = self.deployments_before(failure.at_ms).await;
                    inc.add_deployments(&deployments, settings.deployment_window_ms);
                    let created = self.state.store.create_incident(&inc).await?;
                    tracing::info!(id = created.incident.id, title = %created.incident.title, "incident opened");
                    return Ok(());
                }
                Placement::Join(id) => {
                    let Some(s) = stored.into_iter().find(|s| s.incident.id == id) else {
                        continue;
                    };
                    let mut inc = s.incident;
                    inc.join(&failure);
                    inc.refresh(&vendors, &peers, now);
                    if self.state.store.update_incident(&inc, s.version).await? {
                        tracing::info!(id, service = %failure.service, "service joined incident");
                        return Ok(());
                    }
                }
            }
        }
        tracing::warn!(service = %failure.service, "incident changed concurrently five times; failure not grouped");
        Ok(())
    }

    async fn recovered(&mut self, service: &str, at_ms: i64) -> Result<(), StoreError> {
        for _attempt in 0..5 {
            let stored = self.state.store.unresolved_incidents().await?;
            let Some(s) = stored.into_iter().find(|s| {
                s.incident
                    .services
                    .iter()
                    .any(|m| m.service == service && m.recovered_at_ms.is_none())
            }) else {
                return Ok(());
            };
            let mut inc = s.incident;
            let resolved = inc.service_recovered(service, at_ms);
            if self.state.store.update_incident(&inc, s.version).await? {
                if resolved {
                    tracing::info!(id = inc.id, "incident resolved: all services recovered");
                }
                return Ok(());
            }
        }
        Ok(())
    }

    /// Deployments that services with a deployment source (GitHub, Vercel, Railway) report
    /// within the deployment window before `opened_at_ms`. A service that cannot answer is
    /// skipped; each asks under the check timeout and a global check permit.
    async fn deployments_before(&self, opened_at_ms: i64) -> Vec<ServiceDeployment> {
        let window_ms = ms(self.state.settings.incidents.deployment_window);
        let (Some(start), Some(end)) = (
            DateTime::<Utc>::from_timestamp_millis(opened_at_ms - window_ms),
            DateTime::<Utc>::from_timestamp_millis(opened_at_ms + 1),
        ) else {
            return Vec::new();
        };
        let window = TimeWindow::new(start, end);
        let services = match self.state.store.list_services().await {
            Ok(s) => s,
            Err(e) => {
                tracing::warn!(error = %e, "incidents: cannot list services for deployments");
                return Vec::new();
            }
        };
        let mut out = Vec::new();
        for rec in services.iter().filter(|s| s.enabled) {
            let Ok(service) = self.state.checks.instance(rec) else {
                continue;
            };
            let Ok(source) = service.deployment_source() else {
                continue;
            };
            let permit = self.state.checks.permit().await;
            let answer = tokio::time::timeout(
                self.state.checks.options().timeout,
                source.deployments(window),
            )
            .await;
            drop(permit);
            match answer {
                Ok(Ok(list)) => out.extend(list.into_iter().map(|deployment| ServiceDeployment {
                    service: rec.name.clone(),
                    provider: rec.provider.clone(),
                    deployment,
                })),
                Ok(Err(e)) => {
                    tracing::debug!(service = %rec.name, error = %e, "deployments not read for the incident timeline")
                }
                Err(_) => {
                    tracing::debug!(service = %rec.name, "deployments timed out for the incident timeline")
                }
            }
        }
        out
    }

    /// Polls the pages that are due; refreshes the open incidents of providers whose page
    /// changed.
    async fn poll_pages(&mut self) -> Result<(), StoreError> {
        let Some(pages) = &self.pages else {
            return Ok(());
        };
        let services = self.state.store.list_services().await?;
        let present: BTreeSet<String> = services
            .iter()
            .filter(|s| s.enabled)
            .map(|s| s.provider.clone())
            .collect();
        let mut hot: BTreeSet<String> = BTreeSet::new();
        let latest = self.state.store.latest_results().await?;
        for res in &latest {
            if res.result.status == Status::Failed
                && let Some(s) = services.iter().find(|s| s.id == res.result.service_id)
            {
                hot.insert(s.provider.clone());
            }
        }
        let open = if self.incidents_on {
            self.state.store.unresolved_incidents().await?
        } else {
            Vec::new()
        };
        for s in &open {
            hot.extend(s.incident.services.iter().map(|m| m.provider.clone()));
        }
        let changed = pages.poll_due(&hot, &present).await;
        if changed.is_empty() || !self.incidents_on {
            return Ok(());
        }
        let vendors = self.vendors();
        let peers = self.peers().await?;
        let now = self.state.clock.now_ms();
        for s in open {
            if !s
                .incident
                .services
                .iter()
                .any(|m| changed.contains(&m.provider))
            {
                continue;
            }
            let mut inc = s.incident.clone();
            inc.refresh(&vendors, &peers, now);
            if inc != s.incident && !self.state.store.update_incident(&inc, s.version).await? {
                tracing::debug!(
                    id = inc.id,
                    "incident changed meanwhile; refreshed on the next poll"
                );
            }
        }
        Ok(())
    }
}

/// Records on the open incident of `service` that a notification about it went out (`what`:
/// e.g. "alert.firing to team-slack"); does nothing when the service is in no open incident.
/// For the alerts side's outbox, so the timeline lists the notifications sent.
pub async fn record_notification(
    state: &AppState,
    service: &str,
    what: &str,
) -> Result<Option<i64>, StoreError> {
    for _attempt in 0..5 {
        let Some((id, _)) = state.store.open_incident_of(service).await? else {
            return Ok(None);
        };
        let Some(stored) = state.store.incident(id).await? else {
            continue;
        };
        let mut inc = stored.incident;
        inc.record_notification(what, state.clock.now_ms());
        if state.store.update_incident(&inc, stored.version).await? {
            return Ok(Some(id));
        }
    }
    Ok(None)
}
