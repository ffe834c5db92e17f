//! Alerts (issue 11): the evaluator and the outbox delivery loop. The math lives in
//! `opsdeck-monitor` (conditions, flap control, silences, budgets, forecasts) and delivery in
//! `opsdeck-notify`; this module feeds them from the store and writes back what they decide.
//!
//! **Evaluator.** Subscribed to [`Checks::subscribe`](crate::checks::Checks::subscribe), it
//! treats every event as a wake-up and reads what is new from the store: check results by row
//! id after a cursor, metrics collections by `collected_at` after a per-service cursor. Each
//! pass runs in one transaction that holds the cursor row locked, writes the new alert states,
//! the history and the outbox rows, and moves the cursor — so a result is evaluated once, even
//! with several instances on one PostgreSQL database, and a crash loses or repeats nothing.
//! The reports the events carry keep their `details` (rate limit, token expiry) in memory until
//! evaluated; a result read only from the store (a lag, a restart, another instance's result)
//! is judged without them (forecast conditions then see no data for it).
//!
//! **Delivery.** Leases due outbox rows ([`Store::claim_outbox`]), sends each once with
//! [`Channel::send_once`] under its stable delivery id, and stores the outcome: delivered, a
//! retry at `now + after` (backoff, or the receiver's `Retry-After`), or given up.
//!
//! **Evidence that lives elsewhere.** `latency_trend` needs the 7-day latency digests that the
//! monitoring history builds; [`LatencyWindows`] is the seam (the default has none, so those
//! rules see no data). Budget spend comes from each service's cost source (`opsdeck costs`'
//! figures), fetched when the service's metrics are collected, through [`CostLookup`].

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use opsdeck_core::domain::TimeWindow;
use opsdeck_core::{ConnectionReport, Metric, Status};
use opsdeck_monitor::alert_state::{self, AlertState, Suppression, TransitionKind};
use opsdeck_monitor::alerts::{AlertRule, Condition, Evidence, EvidenceKind};
use opsdeck_monitor::budget::{self, Budget, BudgetState, BudgetStatus, CostFigure};
use opsdeck_monitor::config::Problem;
use opsdeck_monitor::digest::LatencyDigest;
use opsdeck_monitor::forecast::RateLimitPoint;
use opsdeck_monitor::metric_history::MetricSample;
use opsdeck_monitor::scope::ServiceRef;
use opsdeck_monitor::silence::{self, Silence};
use opsdeck_monitor::time::{HOUR_MS, duration_ms};
use opsdeck_notify::{
    AlertEvent, AlertNotice, BudgetNotice, Channel, ChannelConfig, ChannelOptions, DeliveryId,
    Notification, Outcome,
};
use opsdeck_store::{
    AlertTx, AttemptResult, ChannelRecord, ConfigKind, NewHistory, NewOutbox, Store, StoreError,
};
use serde_json::{Value, json};
use tokio::sync::{Notify, broadcast, watch};

use crate::events::CheckEvent;
use crate::features::Feature;
use crate::state::AppState;

/// Cursor of the check results fed to the rules.
const RESULTS_CURSOR: &str = "results";
/// Lock row of the metrics pass (per-service cursors are `metrics:<id>`).
const METRICS_CURSOR: &str = "metrics";
/// Results per evaluation transaction.
const BATCH: i64 = 500;
/// A result id the cursor jumped over is expected this long (an insert still committing), then
/// given up; larger jumps than `RESULTS_MAX_JUMP` are sequence gaps, not inserts in flight.
const RESULTS_SETTLE_MS: i64 = 5 * 60 * 1000;
const RESULTS_MAX_JUMP: i64 = 1_000;
const RESULTS_MAX_PENDING: usize = 10_000;
/// How long a result this instance has no report for is left to the instance that checked it.
const OTHER_INSTANCE_GRACE_MS: i64 = 3_000;
/// Rate-limit readings are kept this long at least.
const MIN_READINGS_MS: i64 = 24 * HOUR_MS;

/// The last 7 days and the 7 days before, for `latency_trend`.
#[async_trait]
pub trait LatencyWindows: Send + Sync + std::fmt::Debug {
    /// The two digests of a service at `now_ms`, or `None` when there is no history.
    async fn windows(&self, service_id: i64, now_ms: i64)
    -> Option<(LatencyDigest, LatencyDigest)>;
}

/// No latency history: `latency_trend` rules see no data (until the monitoring history backs
/// this seam).
#[derive(Debug, Default)]
pub struct NoLatencyHistory;

#[async_trait]
impl LatencyWindows for NoLatencyHistory {
    async fn windows(&self, _: i64, _: i64) -> Option<(LatencyDigest, LatencyDigest)> {
        None
    }
}

/// Where a service's month-to-date cost comes from.
#[async_trait]
pub trait CostLookup: Send + Sync + std::fmt::Debug {
    /// The service's month-to-date figure at `now`, with the provider's month-end forecast
    /// when its metrics carry one.
    async fn month_to_date(
        &self,
        state: &AppState,
        service: &str,
        metrics: &[Metric],
        now: DateTime<Utc>,
    ) -> CostFigure;
}

/// The service's own cost source (the figures `opsdeck costs` shows).
#[derive(Debug, Default)]
pub struct ServiceCosts;

/// Provider metrics that are a month-end forecast, by metric name.
const FORECAST_METRICS: &[&str] = &["aws_cost_forecast_month_end"];

#[async_trait]
impl CostLookup for ServiceCosts {
    async fn month_to_date(
        &self,
        state: &AppState,
        service: &str,
        metrics: &[Metric],
        now: DateTime<Utc>,
    ) -> CostFigure {
        let unavailable = |reason: String| CostFigure::Unavailable { reason };
        let rec = match state.store.find_service(service).await {
            Ok(Some(r)) => r,
            Ok(None) => return unavailable("the service was deleted".into()),
            Err(e) => return unavailable(format!("the store could not be read: {e}")),
        };
        let svc = match state.checks.instance(&rec) {
            Ok(s) => s,
            Err(e) => return unavailable(e.to_string()),
        };
        let start = chrono::TimeZone::with_ymd_and_hms(
            &Utc,
            chrono::Datelike::year(&now),
            chrono::Datelike::month(&now),
            1,
            0,
            0,
            0,
        )
        .single()
        .unwrap_or(now);
        // Asked like `opsdeck costs` asks: the check timeout as the call's deadline (the HTTP
        // policy never waits past it), in its own task so a panic cannot stop the alert loop.
        let timeout = state.checks.options().timeout;
        let window = TimeWindow::new(start, now);
        let call = tokio::spawn(opsdeck_core::deadline::with_timeout(timeout, async move {
            match svc.cost_source() {
                Ok(source) => Ok(source.cost(window).await),
                Err(u) => Err(u.to_string()),
            }
        }));
        let report = match tokio::time::timeout(timeout + Duration::from_secs(1), call).await {
            Ok(Ok(Ok(Ok(r)))) => r,
            Ok(Ok(Ok(Err(e)))) => {
                return unavailable(format!("its cost could not be read: {}", e.message()));
            }
            Ok(Ok(Err(why))) => return unavailable(format!("it cannot report cost: {why}")),
            Ok(Err(_)) => return unavailable("its cost source failed (panicked)".into()),
            Err(_) => {
                return unavailable(format!(
                    "its cost did not arrive within {}s",
                    timeout.as_secs()
                ));
            }
        };
        let mut figure = CostFigure::from_report(&report);
        for m in metrics
            .iter()
            .filter(|m| FORECAST_METRICS.contains(&m.name.as_str()))
        {
            if let (Some(cur), Some(amount)) = (
                currency_of(&m.unit),
                rust_decimal::Decimal::from_f64_retain(m.value).map(|d| d.round_dp(2)),
            ) {
                figure = figure.with_forecast(opsdeck_core::domain::Money::new(amount, &cur));
            }
        }
        figure
    }
}

fn currency_of(unit: &opsdeck_core::Unit) -> Option<String> {
    match unit {
        opsdeck_core::Unit::Currency(c) => Some(c.to_ascii_uppercase()),
        _ => None,
    }
}

/// What the alert loops read besides the store.
#[derive(Clone, Debug)]
pub struct Sources {
    /// Latency digests for `latency_trend`.
    pub latency: Arc<dyn LatencyWindows>,
    /// Month-to-date cost per service for budgets.
    pub costs: Arc<dyn CostLookup>,
}

impl Default for Sources {
    fn default() -> Self {
        Sources {
            latency: Arc::new(NoLatencyHistory),
            costs: Arc::new(ServiceCosts),
        }
    }
}

/// Settings of the alert loops (part of [`crate::Settings`]).
#[derive(Clone, Debug)]
pub struct AlertSettings {
    /// `public_url`: the address users open the UI at; links in notifications point there.
    pub public_url: Option<String>,
    /// How often the loops look for work besides the wake-ups (and how soon a retry that fell
    /// due is sent).
    pub tick: Duration,
    /// Retry policy and SMTP roots of every channel.
    pub channel_options: ChannelOptions,
    /// Evidence from elsewhere.
    pub sources: Sources,
}

impl Default for AlertSettings {
    fn default() -> Self {
        AlertSettings {
            public_url: None,
            tick: Duration::from_secs(5),
            channel_options: ChannelOptions::default(),
            sources: Sources::default(),
        }
    }
}

/// The rules, silences and budgets in force, parsed from the store; entries that no longer
/// parse are skipped with a warning (the API validates before it stores).
#[derive(Debug, Default)]
pub struct Definitions {
    /// Alert rules.
    pub rules: Vec<AlertRule>,
    /// Silences.
    pub silences: Vec<Silence>,
    /// Budgets.
    pub budgets: Vec<Budget>,
}

/// Reads and parses every stored definition.
pub async fn load_definitions(store: &Store) -> Result<Definitions, StoreError> {
    let channels: BTreeSet<String> = store
        .list_channels()
        .await?
        .into_iter()
        .map(|c| c.name)
        .collect();
    let mut out = Definitions::default();
    for kind in [ConfigKind::Alert, ConfigKind::Silence, ConfigKind::Budget] {
        for rec in store.list_alert_configs(kind).await? {
            let mut problems: Vec<Problem> = Vec::new();
            match kind {
                ConfigKind::Alert => out.rules.extend(AlertRule::parse(
                    &rec.name,
                    &rec.body,
                    &channels,
                    &mut problems,
                )),
                ConfigKind::Silence => {
                    out.silences
                        .extend(Silence::parse(&rec.name, &rec.body, &mut problems))
                }
                ConfigKind::Budget => out.budgets.extend(Budget::parse(
                    &rec.name,
                    &rec.body,
                    &channels,
                    &mut problems,
                )),
            }
            for p in problems {
                tracing::warn!(problem = %p, "a stored alert definition no longer validates; it is skipped");
            }
        }
    }
    Ok(out)
}

/// Builds a stored channel (secrets opened).
pub fn build_channel(
    store: &Store,
    rec: &ChannelRecord,
    options: &ChannelOptions,
) -> Result<Channel, String> {
    let secrets = store
        .decrypt_channel_secrets(rec)
        .map_err(|e| e.to_string())?;
    let config =
        ChannelConfig::from_parts(&rec.name, &rec.config, &secrets).map_err(|e| e.to_string())?;
    Channel::new(&rec.name, &config, options).map_err(|e| e.to_string())
}

/// The service page in the UI, when `public_url` is set.
pub fn service_url(public_url: Option<&str>, service: &str) -> Option<String> {
    public_url.map(|base| {
        let mut s = String::new();
        for b in service.bytes() {
            if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.') {
                s.push(b as char);
            } else {
                s.push_str(&format!("%{b:02X}"));
            }
        }
        format!("{}/#/services/{s}", base.trim_end_matches('/'))
    })
}

fn to_time(ms: i64) -> DateTime<Utc> {
    DateTime::from_timestamp_millis(ms).unwrap_or_default()
}

/// Reconstructs the report of a stored result (without details: the row has none).
fn report_of(r: &opsdeck_store::CheckResult) -> ConnectionReport {
    let mut report = ConnectionReport::disabled();
    report.status = r.result.status;
    report.failure = r.result.failure;
    report.latency_ms = u64::try_from(r.result.latency_ms).unwrap_or(0);
    report.message = r.result.message.clone();
    report.identity = r.result.identity.clone();
    report.checked_at = to_time(r.result.checked_at);
    report
}

fn suppression_text(s: &Suppression) -> String {
    match s {
        Suppression::Silenced { silence } => format!("silenced by {silence}"),
        Suppression::NeverAnnounced => "never announced (the firing was silenced)".into(),
        Suppression::SendResolvedOff => "send_resolved is off".into(),
    }
}

fn event_of(kind: TransitionKind) -> AlertEvent {
    match kind {
        TransitionKind::Firing => AlertEvent::Firing,
        TransitionKind::Reminder => AlertEvent::Reminder,
        TransitionKind::Resolved => AlertEvent::Resolved,
    }
}

/// Facts about one service for one evaluation.
struct Subject<'a> {
    service_id: i64,
    service: &'a str,
    provider: &'a str,
    tags: &'a [String],
    report: Option<&'a ConnectionReport>,
}

/// Steps one rule on one observation and writes state, history and outbox rows in `tx`.
/// Returns how many notifications were queued.
async fn step_rule(
    tx: &mut AlertTx,
    rule: &AlertRule,
    silences: &[Silence],
    subject: &Subject<'_>,
    obs: &opsdeck_monitor::alert_state::Observation,
    public_url: Option<&str>,
    now_ms: i64,
) -> Result<usize, StoreError> {
    let svc = ServiceRef {
        name: subject.service,
        provider: subject.provider,
        tags: subject.tags,
        category: None,
    };
    let silence = silence::active_silence(silences, &svc, now_ms).map(|s| s.name.as_str());
    let before: AlertState = tx
        .state(&rule.name, subject.service_id)
        .await?
        .and_then(|v| serde_json::from_value(v).ok())
        .unwrap_or_default();
    let (after, transitions) = alert_state::step(&rule.policy(), &before, obs, silence, now_ms);
    if after != before {
        let v = serde_json::to_value(&after).unwrap_or(Value::Null);
        tx.put_state(&rule.name, subject.service_id, &v, after.firing, now_ms)
            .await?;
    }
    let mut queued = 0;
    for t in transitions {
        let event = event_of(t.kind);
        let notify = t.notify && !rule.channels.is_empty();
        let history_id = tx
            .add_history(&NewHistory {
                at: t.at_ms,
                event: event.event().as_str().to_owned(),
                rule: rule.name.clone(),
                service: Some(subject.service.to_owned()),
                provider: Some(subject.provider.to_owned()),
                message: t.message.clone(),
                notified: notify,
                suppressed: t.suppressed.as_ref().map(suppression_text),
                detail: Some(json!({"condition": rule.condition.name()})),
            })
            .await?;
        if !notify {
            continue;
        }
        let (status, failure) = match subject.report {
            Some(r) => (r.status, r.failure),
            None => (
                if t.kind == TransitionKind::Resolved {
                    Status::Connected
                } else {
                    Status::Unknown
                },
                None,
            ),
        };
        let notice = Notification::Alert(AlertNotice {
            event,
            alert: rule.name.clone(),
            service: subject.service.to_owned(),
            provider: subject.provider.to_owned(),
            status,
            failure,
            message: t.message.clone(),
            started_at: to_time(t.started_at_ms.unwrap_or(t.at_ms)),
            at: to_time(t.at_ms),
            url: service_url(public_url, subject.service),
            incident: None,
            vendor_status: None,
        });
        queued += enqueue_all(tx, &rule.channels, &notice, history_id, now_ms).await?;
    }
    Ok(queued)
}

async fn enqueue_all(
    tx: &mut AlertTx,
    channels: &[String],
    notice: &Notification,
    history_id: i64,
    now_ms: i64,
) -> Result<usize, StoreError> {
    let body = serde_json::to_value(notice).unwrap_or(Value::Null);
    for channel in channels {
        tx.enqueue(
            &NewOutbox {
                delivery: DeliveryId::generate().to_string(),
                channel: channel.clone(),
                notification: body.clone(),
                history_id: Some(history_id),
            },
            now_ms,
        )
        .await?;
    }
    Ok(channels.len())
}

/// What one pass did (tests and logs).
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Pass {
    /// Results or collections evaluated.
    pub evaluated: usize,
    /// Notifications queued.
    pub queued: usize,
}

/// Reports the events carried, by result id, until their result is evaluated.
#[derive(Debug, Default)]
pub struct Recent {
    reports: HashMap<i64, ConnectionReport>,
}

impl Recent {
    /// Keeps an event's report.
    pub fn remember(&mut self, result_id: i64, report: ConnectionReport) {
        // A bound, in case the evaluator stops evaluating (feature off mid-run).
        if self.reports.len() >= 10_000 {
            self.reports.clear();
        }
        self.reports.insert(result_id, report);
    }
}

/// Makes sure the results cursor exists: a first start begins with the results stored from now
/// on (history before alerts existed is not replayed as alerts).
pub async fn init_cursor(store: &Store) -> Result<(), StoreError> {
    let (mut tx, cursor) = store.begin_alert_eval(RESULTS_CURSOR).await?;
    if cursor.is_none() {
        let max = tx.max_result_id().await?;
        tx.set_cursor(RESULTS_CURSOR, max).await?;
    }
    tx.commit().await
}

/// Evaluates every stored result after the cursor against the rules.
pub async fn evaluate_results(state: &AppState, recent: &mut Recent) -> Result<Pass, StoreError> {
    let alert = &state.settings.alerting;
    let mut pass = Pass::default();
    if !state.store.results_pending(RESULTS_CURSOR).await? {
        return Ok(pass);
    }
    loop {
        let (mut tx, cursor) = state.store.begin_alert_eval(RESULTS_CURSOR).await?;
        let after: i64 = cursor.unwrap_or_default();
        // With the ids it jumped over: on PostgreSQL a lower id can commit after a higher one
        // (concurrent checks), and that result is judged when it appears.
        let mut position = tx.results_cursor(RESULTS_CURSOR, after).await?;
        let mut rows = tx.results_after_cursor(&position, BATCH).await?;
        let fetched = rows.len();
        // A fresh result whose report this instance has not seen was most likely checked by
        // another instance, whose evaluator has the report's details (rate limit, expiry) and
        // is about to run: leave it to that one for a moment rather than judge it without them.
        let wall_now = opsdeck_store::now_ms();
        if let Some(cut) = rows.iter().position(|r| {
            !recent.reports.contains_key(&r.result.id)
                && r.result.result.checked_at > wall_now - OTHER_INSTANCE_GRACE_MS
        }) {
            rows.truncate(cut);
        }
        if rows.is_empty() {
            tx.rollback().await?;
            return Ok(pass);
        }
        // Read after the results: a rule saved before a result was stored judges it.
        let defs = &load_definitions(&state.store).await?;
        for row in &rows {
            let report = recent
                .reports
                .remove(&row.result.id)
                .unwrap_or_else(|| report_of(&row.result));
            // The observation is judged now (the injected clock): a result caught up after a
            // restart is still evidence of the service's current streak.
            let now_ms = state.clock.now_ms();
            let service_id = row.result.result.service_id;
            let svc = ServiceRef {
                name: &row.service,
                provider: &row.provider,
                tags: &row.tags,
                category: None,
            };
            let rules: Vec<&AlertRule> = defs
                .rules
                .iter()
                .filter(|r| r.scope.matches(&svc))
                .collect();
            let mut points: Option<Vec<RateLimitPoint>> = None;
            if let Some(p) = RateLimitPoint::from_report(&report) {
                let keep = defs
                    .rules
                    .iter()
                    .filter_map(|r| match &r.condition {
                        Condition::RateLimitForecast { window } => Some(duration_ms(*window)),
                        _ => None,
                    })
                    .max()
                    .unwrap_or(0)
                    .max(MIN_READINGS_MS);
                let v = serde_json::to_value(&p).unwrap_or(Value::Null);
                tx.add_rate_limit(service_id, p.at_ms, &v, p.at_ms - keep)
                    .await?;
            }
            let subject = Subject {
                service_id,
                service: &row.service,
                provider: &row.provider,
                tags: &row.tags,
                report: Some(&report),
            };
            for rule in rules {
                let obs = match rule.condition.evidence() {
                    EvidenceKind::Check => {
                        rule.condition.observe(&Evidence::Check(&report), now_ms)
                    }
                    EvidenceKind::Metrics => continue,
                    EvidenceKind::RateLimitHistory => {
                        if points.is_none() {
                            let since = now_ms - MIN_READINGS_MS.max(7 * 24 * HOUR_MS);
                            points = Some(
                                tx.rate_limits(service_id, since)
                                    .await?
                                    .into_iter()
                                    .filter_map(|v| serde_json::from_value(v).ok())
                                    .collect(),
                            );
                        }
                        let pts = points.as_deref().unwrap_or(&[]);
                        rule.condition
                            .observe(&Evidence::RateLimitHistory(pts), now_ms)
                    }
                    EvidenceKind::LatencyWindows => {
                        match alert.sources.latency.windows(service_id, now_ms).await {
                            Some((recent, previous)) => rule.condition.observe(
                                &Evidence::LatencyWindows {
                                    recent: &recent,
                                    previous: &previous,
                                },
                                now_ms,
                            ),
                            None => continue,
                        }
                    }
                };
                pass.queued += step_rule(
                    &mut tx,
                    rule,
                    &defs.silences,
                    &subject,
                    &obs,
                    alert.public_url.as_deref(),
                    now_ms,
                )
                .await?;
            }
            pass.evaluated += 1;
        }
        let now_ms = state.clock.now_ms();
        for row in &rows {
            position.advance(row.result.id, now_ms, RESULTS_MAX_JUMP);
        }
        position.settle(now_ms, RESULTS_SETTLE_MS, RESULTS_MAX_PENDING);
        tx.set_results_cursor(RESULTS_CURSOR, &position).await?;
        tx.commit().await?;
        // Reports of results another pass already covered are no longer needed.
        let last = position.last_id;
        recent.reports.retain(|id, _| *id > last);
        if (fetched as i64) < BATCH || rows.len() < fetched {
            return Ok(pass);
        }
    }
}

/// Evaluates metric rules and budgets over collections newer than each service's cursor.
pub async fn evaluate_metrics(state: &AppState) -> Result<Pass, StoreError> {
    let alert = &state.settings.alerting;
    let features = &state.settings.features;
    let mut pass = Pass::default();
    let services = state.store.list_services().await?;
    // The latest collection of every service, read before the transaction.
    let mut fresh = Vec::new();
    {
        let (mut tx, _) = state.store.begin_alert_eval(METRICS_CURSOR).await?;
        for rec in &services {
            let cursor = tx.cursor(&format!("metrics:{}", rec.id)).await?;
            if let Some(saved) = state.store.latest_metrics(rec.id).await?
                && cursor.is_none_or(|c| saved.collected_at > c)
            {
                fresh.push((rec, saved));
            }
        }
        tx.rollback().await?;
    }
    if fresh.is_empty() {
        return Ok(pass);
    }
    // Read after the collections: a rule or budget saved before a collection judges it.
    let defs = &load_definitions(&state.store).await?;
    let budgets_on = features.enabled(Feature::CostAlerts) && !defs.budgets.is_empty();
    // Cost figures are fetched outside any transaction (they may call the vendor).
    let mut budget_touched = false;
    if budgets_on {
        for (rec, saved) in &fresh {
            let svc = ServiceRef {
                name: &rec.name,
                provider: &rec.provider,
                tags: &rec.tags,
                category: category_of(state, &rec.provider),
            };
            if !defs.budgets.iter().any(|b| b.scope.matches(&svc)) {
                continue;
            }
            let metrics: Vec<Metric> =
                serde_json::from_value(saved.metrics.clone()).unwrap_or_default();
            let figure = alert
                .sources
                .costs
                .month_to_date(state, &rec.name, &metrics, to_time(saved.collected_at))
                .await;
            let v = serde_json::to_value(&figure).unwrap_or(Value::Null);
            state
                .store
                .save_cost_figure(rec.id, &v, saved.collected_at)
                .await?;
            budget_touched = true;
        }
    }
    let (mut tx, _) = state.store.begin_alert_eval(METRICS_CURSOR).await?;
    let features_alerts = features.enabled(Feature::Alerts);
    for (rec, saved) in &fresh {
        let key = format!("metrics:{}", rec.id);
        // Another instance may have evaluated it meanwhile.
        if tx
            .cursor(&key)
            .await?
            .is_some_and(|c| c >= saved.collected_at)
        {
            continue;
        }
        if features_alerts {
            let metrics: Vec<Metric> =
                serde_json::from_value(saved.metrics.clone()).unwrap_or_default();
            let samples = MetricSample::from_metrics(&metrics, saved.collected_at);
            let svc = ServiceRef {
                name: &rec.name,
                provider: &rec.provider,
                tags: &rec.tags,
                category: None,
            };
            let subject = Subject {
                service_id: rec.id,
                service: &rec.name,
                provider: &rec.provider,
                tags: &rec.tags,
                report: None,
            };
            for rule in defs
                .rules
                .iter()
                .filter(|r| r.condition.evidence() == EvidenceKind::Metrics)
                .filter(|r| r.scope.matches(&svc))
            {
                let now_ms = state.clock.now_ms();
                let obs = rule.condition.observe(&Evidence::Metrics(&samples), now_ms);
                pass.queued += step_rule(
                    &mut tx,
                    rule,
                    &defs.silences,
                    &subject,
                    &obs,
                    alert.public_url.as_deref(),
                    now_ms,
                )
                .await?;
            }
        }
        tx.set_cursor(&key, saved.collected_at).await?;
        pass.evaluated += 1;
    }
    if budget_touched {
        let now_ms = state.clock.now_ms();
        pass.queued += evaluate_budgets_in(state, &mut tx, defs, now_ms).await?;
    }
    tx.commit().await?;
    Ok(pass)
}

fn category_of(state: &AppState, provider: &str) -> Option<opsdeck_core::Category> {
    state
        .checks
        .factory()
        .descriptor(provider)
        .map(|d| d.category)
}

/// The stored cost figures of every service, as budgets take them.
async fn cost_inputs(
    state: &AppState,
) -> Result<Vec<(opsdeck_store::ServiceRecord, CostFigure)>, StoreError> {
    let figures = state.store.cost_figures().await?;
    Ok(state
        .store
        .list_services()
        .await?
        .into_iter()
        .map(|rec| {
            let figure = figures
                .get(&rec.id)
                .and_then(|v| serde_json::from_value(v.clone()).ok())
                .unwrap_or_else(|| CostFigure::Unavailable {
                    reason: if rec.enabled {
                        "no cost figure yet (its metrics have not been collected since the budget was set up)".into()
                    } else {
                        "the service is disabled".into()
                    },
                });
            (rec, figure)
        })
        .collect())
}

/// Every budget's standing now (the API's budget status).
pub async fn budget_statuses(
    state: &AppState,
    defs: &Definitions,
    now_ms: i64,
) -> Result<Vec<BudgetStatus>, StoreError> {
    let inputs = cost_inputs(state).await?;
    let cats: Vec<Option<opsdeck_core::Category>> = inputs
        .iter()
        .map(|(r, _)| category_of(state, &r.provider))
        .collect();
    let costs: Vec<(ServiceRef<'_>, CostFigure)> = inputs
        .iter()
        .zip(&cats)
        .map(|((rec, fig), cat)| {
            (
                ServiceRef {
                    name: &rec.name,
                    provider: &rec.provider,
                    tags: &rec.tags,
                    category: *cat,
                },
                fig.clone(),
            )
        })
        .collect();
    let states = state.store.budget_states().await?;
    Ok(defs
        .budgets
        .iter()
        .map(|b| {
            let st: BudgetState = states
                .get(&b.name)
                .and_then(|v| serde_json::from_value(v.clone()).ok())
                .unwrap_or_default();
            budget::evaluate_budget(b, &st, &costs, now_ms).1
        })
        .collect())
}

async fn evaluate_budgets_in(
    state: &AppState,
    tx: &mut AlertTx,
    defs: &Definitions,
    now_ms: i64,
) -> Result<usize, StoreError> {
    let inputs = cost_inputs(state).await?;
    let cats: Vec<Option<opsdeck_core::Category>> = inputs
        .iter()
        .map(|(r, _)| category_of(state, &r.provider))
        .collect();
    let costs: Vec<(ServiceRef<'_>, CostFigure)> = inputs
        .iter()
        .zip(&cats)
        .map(|((rec, fig), cat)| {
            (
                ServiceRef {
                    name: &rec.name,
                    provider: &rec.provider,
                    tags: &rec.tags,
                    category: *cat,
                },
                fig.clone(),
            )
        })
        .collect();
    let mut queued = 0;
    for b in &defs.budgets {
        let before: BudgetState = tx
            .budget_state(&b.name)
            .await?
            .and_then(|v| serde_json::from_value(v).ok())
            .unwrap_or_default();
        let (after, status, firings) = budget::evaluate_budget(b, &before, &costs, now_ms);
        if after != before {
            let v = serde_json::to_value(&after).unwrap_or(Value::Null);
            tx.put_budget_state(&b.name, &v, now_ms).await?;
        }
        for f in firings {
            let notify = !b.channels.is_empty();
            let history_id = tx
                .add_history(&NewHistory {
                    at: f.at_ms,
                    event: "budget.threshold".into(),
                    rule: b.name.clone(),
                    service: None,
                    provider: None,
                    message: f.message.clone(),
                    notified: notify,
                    suppressed: None,
                    detail: Some(json!({
                        "threshold": f.threshold,
                        "kind": f.kind,
                        "spent": f.spent,
                        "forecast": f.forecast,
                        "limit": f.limit,
                        "currency": f.currency,
                        "month": f.month.to_string(),
                        "reach_date": f.reach_date,
                        "not_counted": status.not_counted,
                    })),
                })
                .await?;
            if !notify {
                continue;
            }
            use rust_decimal::prelude::ToPrimitive;
            let notice = Notification::Budget(BudgetNotice {
                budget: b.name.clone(),
                threshold: f.threshold.round().to_u32().unwrap_or(0),
                kind: match f.kind {
                    budget::ThresholdKind::Actual => opsdeck_notify::ThresholdKind::Actual,
                    budget::ThresholdKind::Forecast => opsdeck_notify::ThresholdKind::Forecast,
                },
                spent: f.spent,
                forecast: f.forecast,
                limit: f.limit,
                currency: f.currency.clone(),
                month: f.month.first_day().unwrap_or_default(),
                reach_date: f.reach_date,
                at: to_time(f.at_ms),
            });
            queued += enqueue_all(tx, &b.channels, &notice, history_id, now_ms).await?;
        }
    }
    Ok(queued)
}

/// Sends what is due in the outbox, once each. Returns the rows attempted.
pub async fn deliver_due(state: &AppState) -> Result<usize, StoreError> {
    let alert = &state.settings.alerting;
    let lease = alert.channel_options.policy.lease();
    let lease_ms = i64::try_from(lease.as_millis()).unwrap_or(i64::MAX);
    let owner = state.instance.as_str();
    let mut channels: HashMap<String, Result<Channel, String>> = HashMap::new();
    let mut attempted = 0;
    let mut incident_timeline: Vec<(String, String)> = Vec::new();
    let (mut held, mut last_round, mut waited) = (0usize, 0usize, Duration::ZERO);
    // A read first: an idle outbox costs no write per tick.
    if state
        .store
        .next_outbox_due()
        .await?
        .is_none_or(|due| due > state.clock.now_ms())
    {
        // Rows whose lease expired are due again too; they keep their next_attempt_at.
        return Ok(0);
    }
    loop {
        let now_ms = state.clock.now_ms();
        let rows = state
            .store
            .claim_outbox(owner, now_ms, lease_ms, 20)
            .await?;
        if rows.is_empty() {
            return Ok(attempted);
        }
        // Every row of the last round was held for an incident: look again shortly, within
        // this pass for up to HOLD_IN_PASS, then at the next tick or wake-up.
        if held > 0 && held == last_round {
            if waited >= HOLD_IN_PASS {
                return Ok(attempted);
            }
            tokio::time::sleep(HOLD_STEP).await;
            waited += HOLD_STEP;
        }
        last_round = rows.len();
        held = 0;
        for row in rows {
            attempted += 1;
            if !channels.contains_key(&row.channel) {
                let built = match state.store.find_channel(&row.channel).await? {
                    Some(rec) => build_channel(&state.store, &rec, &alert.channel_options),
                    None => Err(format!("channel \"{}\" no longer exists", row.channel)),
                };
                channels.insert(row.channel.clone(), built);
            }
            let result = match channels.get(&row.channel) {
                Some(Ok(channel)) => {
                    match (
                        serde_json::from_value::<Notification>(row.notification.clone()),
                        DeliveryId::new(row.delivery.clone()),
                    ) {
                        (Ok(n), Ok(d)) => {
                            if hold_for_incident(state, row.id, &n).await {
                                attempted -= 1;
                                held += 1;
                                state
                                    .store
                                    .finish_outbox(
                                        row.id,
                                        owner,
                                        &AttemptResult::Defer {
                                            at: state.clock.now_ms(),
                                        },
                                        state.clock.now_ms(),
                                    )
                                    .await?;
                                continue;
                            }
                            state.incidents_in_flight.release(row.id);
                            let n = with_incident(state, n).await;
                            let attempt = u32::try_from(row.attempts).unwrap_or(u32::MAX);
                            match channel.send_once(&n, &d, attempt, state.clock.now()).await {
                                Outcome::Delivered => {
                                    if let Notification::Alert(a) = &n
                                        && a.incident.is_some()
                                    {
                                        incident_timeline.push((
                                            a.service.clone(),
                                            format!(
                                                "{} sent to {}",
                                                a.event.event().as_str(),
                                                row.channel
                                            ),
                                        ));
                                    }
                                    AttemptResult::Delivered
                                }
                                Outcome::Retry { after, reason } => AttemptResult::Retry {
                                    at: state.clock.now_ms().saturating_add(
                                        i64::try_from(after.as_millis()).unwrap_or(i64::MAX),
                                    ),
                                    error: reason,
                                },
                                Outcome::GaveUp { reason } => {
                                    AttemptResult::GaveUp { error: reason }
                                }
                            }
                        }
                        (Err(e), _) => AttemptResult::GaveUp {
                            error: format!("the stored notification cannot be read: {e}"),
                        },
                        (_, Err(e)) => AttemptResult::GaveUp {
                            error: format!("the stored delivery id is invalid: {e}"),
                        },
                    }
                }
                Some(Err(error)) => {
                    tracing::error!(channel = %row.channel, delivery = %row.delivery, %error, "notification not delivered; gave up");
                    AttemptResult::GaveUp {
                        error: error.clone(),
                    }
                }
                None => AttemptResult::GaveUp {
                    error: "channel unavailable".into(),
                },
            };
            if !state
                .store
                .finish_outbox(row.id, owner, &result, state.clock.now_ms())
                .await?
            {
                tracing::warn!(delivery = %row.delivery, "the outbox lease expired during the attempt; another instance owns the row now");
            }
            // The incident's timeline lists the notifications sent about it (best effort: the
            // delivery itself is already recorded).
            for (service, what) in incident_timeline.drain(..) {
                if let Err(e) = crate::incidents::record_notification(state, &service, &what).await
                {
                    tracing::warn!(%service, error = %e, "alerts: cannot add the notification to the incident timeline");
                }
            }
        }
    }
}

/// How long a firing alert waits at most for the incidents loop to judge the same result, by
/// the injected clock from the alert's time and in real time from the first hold.
const INCIDENT_WAIT_MS: i64 = 15_000;
const INCIDENT_WAIT: Duration = Duration::from_secs(15);
/// Within one delivery pass: how long held rows are looked at again, and how often.
const HOLD_IN_PASS: Duration = Duration::from_secs(2);
const HOLD_STEP: Duration = Duration::from_millis(50);

/// Whether to hold outbox row `id` back: a firing alert about a service whose newest result
/// the incidents loop has not judged yet (not claimed, or claimed here and still being
/// handled) waits, without counting an attempt, so its notification names the incident that
/// result opens. Sent anyway when incidents are off or after `INCIDENT_WAIT`.
async fn hold_for_incident(state: &AppState, id: i64, n: &Notification) -> bool {
    let Notification::Alert(a) = n else {
        return false;
    };
    if a.incident.is_some()
        || a.event != opsdeck_notify::AlertEvent::Firing
        || !state.settings.features.enabled(Feature::Incidents)
        || state.clock.now_ms().saturating_sub(a.at.timestamp_millis()) >= INCIDENT_WAIT_MS
    {
        return false;
    }
    let judged = match state.store.incidents_claimed_latest(&a.service).await {
        Ok(Some(claimed)) => claimed && !state.incidents_in_flight.busy_with(&a.service),
        Ok(None) => true,
        Err(e) => {
            tracing::warn!(service = %a.service, error = %e, "alerts: cannot tell whether the incidents loop has judged the service");
            true
        }
    };
    !judged && state.incidents_in_flight.may_hold(id, INCIDENT_WAIT)
}

/// Names the service's open incident (issue 12) — id, title and what the vendor's status page
/// says — in an alert that does not name one yet. Looked up when the notification is sent, not
/// when it is queued: the incidents loop judges the same results on its own, and a firing alert
/// is held until it has (`hold_for_incident`). A lookup failure sends the alert without it.
async fn with_incident(state: &AppState, n: Notification) -> Notification {
    let Notification::Alert(mut a) = n else {
        return n;
    };
    if a.incident.is_some() || !state.settings.features.enabled(Feature::Incidents) {
        return Notification::Alert(a);
    }
    match state.store.open_incident_of(&a.service).await {
        Ok(Some((id, title))) => {
            if a.vendor_status.is_none() {
                match state.store.incident(id).await {
                    Ok(Some(inc)) => {
                        a.vendor_status = inc.incident.vendor_status.as_ref().map(vendor_notice);
                    }
                    Ok(None) => {}
                    Err(e) => {
                        tracing::warn!(incident = id, error = %e, "alerts: cannot read the incident's vendor status")
                    }
                }
            }
            a.incident = Some(opsdeck_notify::IncidentRef { id, title });
        }
        Ok(None) => {}
        Err(e) => {
            tracing::warn!(service = %a.service, error = %e, "alerts: cannot look up the service's open incident");
        }
    }
    Notification::Alert(a)
}

/// A status page summary as notifications carry it.
fn vendor_notice(v: &opsdeck_monitor::statuspage::VendorStatus) -> opsdeck_notify::VendorStatus {
    let indicator = match serde_json::to_value(&v.indicator) {
        Ok(Value::String(s)) => s,
        _ => String::new(),
    };
    opsdeck_notify::VendorStatus {
        indicator,
        description: v.description.clone(),
        page_url: v.url.clone(),
        incidents: v
            .incidents
            .iter()
            .map(|i| opsdeck_notify::VendorIncident {
                name: i.name.clone(),
                status: i.status.clone(),
                url: i.shortlink.clone(),
            })
            .collect(),
    }
}

/// Wakes the delivery loop when the evaluator queued something.
#[derive(Debug, Default)]
struct Wake(Notify);

/// Runs the evaluator and the delivery loop until `stop`.
pub async fn run(state: AppState, mut stop: watch::Receiver<bool>) {
    let mut events = state.checks.subscribe();
    if let Err(e) = init_cursor(&state.store).await {
        tracing::error!(error = %e, "alerts: cannot initialise the evaluation cursor");
    }
    let wake = Arc::new(Wake::default());
    let delivery = tokio::spawn(delivery_loop(state.clone(), stop.clone(), wake.clone()));
    let tick = state.settings.alerting.tick;
    let mut recent = Recent::default();
    let mut results_due = true;
    let mut metrics_due = true;
    // The tick re-reads the results cursor (one cheap read) every time and the metrics cursors
    // (one read per service) about once a minute; events trigger both at once.
    let metrics_every = (Duration::from_secs(60).as_millis() / tick.as_millis().max(1)).max(1);
    let mut ticks: u128 = 0;
    loop {
        let features = &state.settings.features;
        let alerts_on = features.enabled(Feature::Alerts);
        let costs_on = features.enabled(Feature::CostAlerts);
        let mut queued = 0;
        if results_due && alerts_on {
            match evaluate_results(&state, &mut recent).await {
                Ok(p) => queued += p.queued,
                Err(e) => tracing::warn!(error = %e, "alerts: evaluation failed; retrying"),
            }
        }
        if metrics_due && (alerts_on || costs_on) {
            match evaluate_metrics(&state).await {
                Ok(p) => queued += p.queued,
                Err(e) => tracing::warn!(error = %e, "alerts: metrics evaluation failed; retrying"),
            }
        }
        if queued > 0 {
            wake.0.notify_one();
        }
        results_due = false;
        metrics_due = false;
        tokio::select! {
            _ = stop.changed() => break,
            ev = events.recv() => match ev {
                Ok(CheckEvent::ResultRecorded(r)) => {
                    recent.remember(r.result_id, r.report.clone());
                    results_due = true;
                }
                Ok(CheckEvent::MetricsRecorded(_)) => metrics_due = true,
                Err(broadcast::error::RecvError::Lagged(n)) => {
                    tracing::debug!(missed = n, "alerts: events lagged; catching up from the store");
                    results_due = true;
                    metrics_due = true;
                }
                Err(broadcast::error::RecvError::Closed) => break,
            },
            _ = tokio::time::sleep(tick) => {
                ticks += 1;
                results_due = true;
                metrics_due = ticks.is_multiple_of(metrics_every);
            }
        }
        // Drain what else arrived, so a burst is one pass.
        while let Ok(ev) = events.try_recv() {
            match ev {
                CheckEvent::ResultRecorded(r) => {
                    recent.remember(r.result_id, r.report.clone());
                    results_due = true;
                }
                CheckEvent::MetricsRecorded(_) => metrics_due = true,
            }
        }
    }
    let _ = delivery.await;
}

async fn delivery_loop(state: AppState, mut stop: watch::Receiver<bool>, wake: Arc<Wake>) {
    let tick = state.settings.alerting.tick;
    loop {
        let on = state.settings.features.enabled(Feature::Alerts)
            || state.settings.features.enabled(Feature::CostAlerts);
        if on && let Err(e) = deliver_due(&state).await {
            tracing::warn!(error = %e, "alerts: delivery pass failed; retrying");
        }
        tokio::select! {
            _ = stop.changed() => break,
            _ = wake.0.notified() => {}
            _ = tokio::time::sleep(tick) => {}
        }
    }
}

/// Every problem of a set of definitions, as `[table.name] field: message` lines (API and
/// provisioning report them all at once).
pub fn problem_lines(problems: &[Problem]) -> Vec<String> {
    problems.iter().map(ToString::to_string).collect()
}

/// The names of a set of channels (for validating rules and budgets).
pub fn channel_names(recs: &[ChannelRecord]) -> BTreeSet<String> {
    recs.iter().map(|c| c.name.clone()).collect()
}

/// History entries as JSON for the API.
pub fn history_json(rows: &[opsdeck_store::HistoryRecord]) -> Vec<Value> {
    rows.iter()
        .map(|h| {
            let e = &h.entry;
            json!({
                "id": h.id,
                "at": opsdeck_monitor::time::rfc3339(e.at),
                "event": e.event,
                "alert": e.rule,
                "service": e.service,
                "provider": e.provider,
                "message": e.message,
                "notified": e.notified,
                "suppressed": e.suppressed,
                "detail": e.detail,
            })
        })
        .collect()
}
