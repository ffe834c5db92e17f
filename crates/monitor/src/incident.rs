//! Incidents: grouping of failures that belong together, the inferred cause and a title that
//! says it in words, the open → acknowledged → resolved life cycle with its timeline, nearby
//! deployments, and MTTA / MTTR.
//!
//! ## Grouping
//! A failure joins an unresolved incident when the service is already in it, or when the failure
//! is of the same class as the incident (credentials, configuration, rate limit, outage), shares
//! a provider or host with one of its services, and happened within the grouping window
//! (default 5 min) of the incident's latest failure. Network failures (timeouts, unreachable)
//! also join a network-class incident of *another* provider within the window: several providers
//! unreachable at once points at our side of the network. Otherwise the failure opens a new
//! incident.
//!
//! ## Cause
//! - `credentials` — invalid credentials / permission denied while another service of the same
//!   provider is connected (or without a vendor problem to blame);
//! - `vendor_outage` — the vendor's status page reports an incident, maintenance or a component
//!   that is not operational;
//! - `network` — timeouts / unreachable across two or more providers at once;
//! - `rate_limit` — the vendor throttles us;
//! - `unknown` — none of the above.

use std::collections::{BTreeMap, BTreeSet};

use opsdeck_core::domain::Deployment;
use opsdeck_core::{FailureKind, Status};
use serde::{Deserialize, Serialize};

use crate::statuspage::VendorStatus;
use crate::time::{MINUTE_MS, rfc3339};

/// Incident life cycle.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum IncidentState {
    /// Open, nobody has acknowledged it.
    Open,
    /// Someone is on it.
    Acknowledged,
    /// Over.
    Resolved,
}

/// What the evidence points to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Cause {
    /// The vendor's status page reports a problem.
    VendorOutage,
    /// The credentials of the failing service(s) are rejected.
    Credentials,
    /// Several providers unreachable or timing out at once.
    Network,
    /// The vendor throttles us.
    RateLimit,
    /// Nothing conclusive.
    Unknown,
}

impl Cause {
    /// snake_case name.
    pub fn as_str(self) -> &'static str {
        match self {
            Cause::VendorOutage => "vendor_outage",
            Cause::Credentials => "credentials",
            Cause::Network => "network",
            Cause::RateLimit => "rate_limit",
            Cause::Unknown => "unknown",
        }
    }
}

/// Failure classes that group together.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FailureClass {
    /// Invalid credentials, permission denied.
    Credentials,
    /// Not found, invalid config.
    Config,
    /// Rate limited.
    RateLimit,
    /// Timeouts, unreachable, vendor errors, bad responses.
    Outage,
}

impl FailureClass {
    /// The class of a failure kind (`FailureKind` is non-exhaustive: new kinds count as outages).
    pub fn of(kind: FailureKind) -> FailureClass {
        match kind {
            FailureKind::InvalidCredentials | FailureKind::PermissionDenied => {
                FailureClass::Credentials
            }
            FailureKind::NotFound | FailureKind::InvalidConfig => FailureClass::Config,
            FailureKind::RateLimited => FailureClass::RateLimit,
            _ => FailureClass::Outage,
        }
    }
}

fn is_network(kind: Option<FailureKind>) -> bool {
    matches!(kind, Some(FailureKind::Timeout | FailureKind::Unreachable))
}

/// A service failing (from a status change or an alert firing), the input to grouping.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServiceFailure {
    /// Service name.
    pub service: String,
    /// Provider id.
    pub provider: String,
    /// Provider display name for titles ("GitHub").
    pub provider_name: String,
    /// Host of the service's base URL, when it has its own (self-hosted GitHub, Jira site).
    pub host: Option<String>,
    /// The failure kind.
    pub failure: FailureKind,
    /// The check's message.
    pub message: String,
    /// When.
    pub at_ms: i64,
}

/// A service's current status, for the "others of the same provider are fine" test.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PeerHealth {
    /// Service name.
    pub service: String,
    /// Provider id.
    pub provider: String,
    /// Latest status.
    pub status: Status,
}

/// A service in an incident.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IncidentService {
    /// Service name.
    pub service: String,
    /// Provider id.
    pub provider: String,
    /// Provider display name.
    pub provider_name: String,
    /// Host, when known.
    pub host: Option<String>,
    /// Latest failure kind.
    pub failure: Option<FailureKind>,
    /// Latest failure time.
    pub failed_at_ms: i64,
    /// When it recovered (after the success threshold), if it has.
    pub recovered_at_ms: Option<i64>,
}

/// Kinds of timeline entries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TimelineKind {
    /// The incident opened.
    Opened,
    /// A service failed (joined).
    ServiceFailed,
    /// A service recovered.
    ServiceRecovered,
    /// The inferred cause changed.
    Cause,
    /// The vendor's status page changed.
    VendorStatus,
    /// A deployment shortly before the incident.
    Deployment,
    /// A notification went out.
    Notification,
    /// Someone acknowledged it.
    Acknowledged,
    /// A note.
    Note,
    /// Resolved.
    Resolved,
}

/// One line of the timeline.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TimelineEntry {
    /// When.
    pub at_ms: i64,
    /// What.
    pub kind: TimelineKind,
    /// In words.
    pub text: String,
}

/// Why an incident operation was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IncidentError {
    /// Acknowledging or annotating a resolved incident, resolving it twice.
    #[error("incident {id} is already resolved")]
    Resolved {
        /// Incident id.
        id: i64,
    },
    /// Acknowledging twice.
    #[error("incident {id} is already acknowledged")]
    AlreadyAcknowledged {
        /// Incident id.
        id: i64,
    },
    /// An empty note.
    #[error("a note needs some text")]
    EmptyNote,
}

/// Grouping and correlation windows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct IncidentSettings {
    /// Failures within this time of an incident's latest failure may join it (default 5 min).
    pub group_window_ms: i64,
    /// Deployments this long before the incident opened go on its timeline (default 30 min).
    pub deployment_window_ms: i64,
}

impl Default for IncidentSettings {
    fn default() -> Self {
        IncidentSettings {
            group_window_ms: 5 * MINUTE_MS,
            deployment_window_ms: 30 * MINUTE_MS,
        }
    }
}

/// An incident.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Incident {
    /// Id (the store assigns it).
    pub id: i64,
    /// Title in words.
    pub title: String,
    /// Life-cycle state.
    pub state: IncidentState,
    /// Inferred cause.
    pub cause: Cause,
    /// The class of failure the incident groups.
    pub class: FailureClass,
    /// Services involved.
    pub services: Vec<IncidentService>,
    /// Opened.
    pub opened_at_ms: i64,
    /// Acknowledged.
    pub acknowledged_at_ms: Option<i64>,
    /// Resolved.
    pub resolved_at_ms: Option<i64>,
    /// The vendor's status when it bears on the incident.
    pub vendor_status: Option<VendorStatus>,
    /// Timeline, oldest first.
    pub timeline: Vec<TimelineEntry>,
}

/// Where a failure goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Placement {
    /// Join the incident with this id.
    Join(i64),
    /// Open a new incident.
    Open,
}

/// Decides where `failure` belongs among `incidents` (resolved ones are ignored).
pub fn place_failure(
    incidents: &[Incident],
    failure: &ServiceFailure,
    settings: &IncidentSettings,
) -> Placement {
    let live = incidents
        .iter()
        .filter(|i| i.state != IncidentState::Resolved);
    if let Some(i) = live
        .clone()
        .find(|i| i.services.iter().any(|s| s.service == failure.service))
    {
        return Placement::Join(i.id);
    }
    let class = FailureClass::of(failure.failure);
    let network = is_network(Some(failure.failure));
    live.filter(|i| i.class == class)
        .filter(|i| (failure.at_ms - i.latest_failure_ms()).abs() <= settings.group_window_ms)
        .filter(|i| {
            i.services.iter().any(|s| {
                s.provider == failure.provider
                    || (s.host.is_some() && s.host == failure.host)
                    || (network && is_network(s.failure))
            })
        })
        .min_by_key(|i| i.opened_at_ms)
        .map_or(Placement::Open, |i| Placement::Join(i.id))
}

impl Incident {
    /// A new incident for `failure`. Call [`refresh`](Self::refresh) afterwards to set the
    /// cause and title from the evidence.
    pub fn open(id: i64, failure: &ServiceFailure) -> Incident {
        let mut inc = Incident {
            id,
            title: String::new(),
            state: IncidentState::Open,
            cause: Cause::Unknown,
            class: FailureClass::of(failure.failure),
            services: Vec::new(),
            opened_at_ms: failure.at_ms,
            acknowledged_at_ms: None,
            resolved_at_ms: None,
            vendor_status: None,
            timeline: vec![TimelineEntry {
                at_ms: failure.at_ms,
                kind: TimelineKind::Opened,
                text: format!(
                    "Opened: {} failed ({}): {}",
                    failure.service, failure.failure, failure.message
                ),
            }],
        };
        inc.add_member(failure);
        inc.title = inc.compose_title();
        inc
    }

    fn add_member(&mut self, f: &ServiceFailure) {
        match self.services.iter_mut().find(|s| s.service == f.service) {
            Some(s) => {
                s.failure = Some(f.failure);
                s.failed_at_ms = f.at_ms;
                s.recovered_at_ms = None;
            }
            None => self.services.push(IncidentService {
                service: f.service.clone(),
                provider: f.provider.clone(),
                provider_name: f.provider_name.clone(),
                host: f.host.clone(),
                failure: Some(f.failure),
                failed_at_ms: f.at_ms,
                recovered_at_ms: None,
            }),
        }
    }

    /// The latest failure time of its services.
    pub fn latest_failure_ms(&self) -> i64 {
        self.services
            .iter()
            .map(|s| s.failed_at_ms)
            .max()
            .unwrap_or(self.opened_at_ms)
    }

    /// Services still failing.
    pub fn failing(&self) -> impl Iterator<Item = &IncidentService> {
        self.services.iter().filter(|s| s.recovered_at_ms.is_none())
    }

    /// Adds a failure that [`place_failure`] put here.
    pub fn join(&mut self, failure: &ServiceFailure) {
        self.add_member(failure);
        self.timeline.push(TimelineEntry {
            at_ms: failure.at_ms,
            kind: TimelineKind::ServiceFailed,
            text: format!(
                "{} failed ({}): {}",
                failure.service, failure.failure, failure.message
            ),
        });
        self.title = self.compose_title();
    }

    /// Re-infers cause and title from the vendors' status (by provider id) and the current
    /// status of every service; records changes of cause and vendor status on the timeline.
    pub fn refresh(
        &mut self,
        vendors: &BTreeMap<String, VendorStatus>,
        peers: &[PeerHealth],
        now_ms: i64,
    ) {
        if self.state == IncidentState::Resolved {
            return;
        }
        let providers: BTreeSet<&str> = self.services.iter().map(|s| s.provider.as_str()).collect();
        let vendor = providers
            .iter()
            .filter_map(|p| vendors.get(*p))
            .find(|v| v.reports_problem())
            .cloned();
        let members: BTreeSet<&str> = self.services.iter().map(|s| s.service.as_str()).collect();
        let peer_fine = peers.iter().any(|p| {
            providers.contains(p.provider.as_str())
                && !members.contains(p.service.as_str())
                && p.status == Status::Connected
        });
        let network_providers: BTreeSet<&str> = self
            .services
            .iter()
            .filter(|s| is_network(s.failure))
            .map(|s| s.provider.as_str())
            .collect();
        let cause = match self.class {
            FailureClass::Credentials if peer_fine => Cause::Credentials,
            _ if vendor.is_some() => Cause::VendorOutage,
            FailureClass::Credentials => Cause::Credentials,
            FailureClass::RateLimit => Cause::RateLimit,
            FailureClass::Outage if network_providers.len() >= 2 => Cause::Network,
            _ => Cause::Unknown,
        };
        let new_vendor = if cause == Cause::VendorOutage {
            vendor
        } else {
            None
        };
        if new_vendor.as_ref().map(VendorStatus::summary)
            != self.vendor_status.as_ref().map(VendorStatus::summary)
            && let Some(v) = &new_vendor
        {
            self.timeline.push(TimelineEntry {
                at_ms: now_ms,
                kind: TimelineKind::VendorStatus,
                text: v.summary(),
            });
        }
        self.vendor_status = new_vendor;
        if cause != self.cause {
            self.timeline.push(TimelineEntry {
                at_ms: now_ms,
                kind: TimelineKind::Cause,
                text: format!("Cause: {} (was {})", cause.as_str(), self.cause.as_str()),
            });
            self.cause = cause;
        }
        self.title = self.compose_title();
    }

    fn compose_title(&self) -> String {
        let failing: Vec<&IncidentService> = self.failing().collect();
        let shown = if failing.is_empty() {
            self.services.iter().collect()
        } else {
            failing
        };
        let n = shown.len();
        let count = format!("{n} service{} failing", if n == 1 { "" } else { "s" });
        let vendor_name = || {
            self.vendor_status
                .as_ref()
                .and_then(|v| v.page.clone())
                .or_else(|| shown.first().map(|s| s.provider_name.clone()))
                .unwrap_or_default()
        };
        let names = || {
            let mut list: Vec<&str> = shown.iter().map(|s| s.service.as_str()).take(3).collect();
            if n > 3 {
                list.push("…");
            }
            list.join(", ")
        };
        let kinds = || {
            let set: BTreeSet<String> = shown
                .iter()
                .filter_map(|s| s.failure)
                .map(|k| k.as_str().replace('_', " "))
                .collect();
            set.into_iter().collect::<Vec<_>>().join(", ")
        };
        match self.cause {
            Cause::VendorOutage => {
                let headline = self
                    .vendor_status
                    .as_ref()
                    .map(VendorStatus::headline)
                    .unwrap_or_default();
                format!("{} reports '{headline}' — {count}", vendor_name())
            }
            Cause::Credentials => format!(
                "{} rejects the credentials of {} ({}) — {count}",
                vendor_name(),
                names(),
                kinds()
            ),
            Cause::Network => {
                let providers: BTreeSet<&str> =
                    shown.iter().map(|s| s.provider_name.as_str()).collect();
                format!(
                    "Network trouble: {} across {} — {count}",
                    kinds(),
                    providers.into_iter().collect::<Vec<_>>().join(", ")
                )
            }
            Cause::RateLimit => format!("{} rate-limits {} — {count}", vendor_name(), names()),
            Cause::Unknown => format!("{}: {} — {count}", names(), kinds()),
        }
    }

    /// A service recovered (its alert resolved after the success threshold). Resolves the
    /// incident when it was the last one failing; returns whether it did.
    pub fn service_recovered(&mut self, service: &str, now_ms: i64) -> bool {
        if self.state == IncidentState::Resolved {
            return false;
        }
        let Some(s) = self
            .services
            .iter_mut()
            .find(|s| s.service == service && s.recovered_at_ms.is_none())
        else {
            return false;
        };
        s.recovered_at_ms = Some(now_ms);
        self.timeline.push(TimelineEntry {
            at_ms: now_ms,
            kind: TimelineKind::ServiceRecovered,
            text: format!("{service} recovered"),
        });
        if self.failing().next().is_none() {
            self.state = IncidentState::Resolved;
            self.resolved_at_ms = Some(now_ms);
            self.timeline.push(TimelineEntry {
                at_ms: now_ms,
                kind: TimelineKind::Resolved,
                text: "Resolved: all services recovered".into(),
            });
            return true;
        }
        self.title = self.compose_title();
        false
    }

    /// Someone acknowledges it.
    pub fn acknowledge(&mut self, by: &str, now_ms: i64) -> Result<(), IncidentError> {
        match self.state {
            IncidentState::Resolved => Err(IncidentError::Resolved { id: self.id }),
            IncidentState::Acknowledged => Err(IncidentError::AlreadyAcknowledged { id: self.id }),
            IncidentState::Open => {
                self.state = IncidentState::Acknowledged;
                self.acknowledged_at_ms = Some(now_ms);
                self.timeline.push(TimelineEntry {
                    at_ms: now_ms,
                    kind: TimelineKind::Acknowledged,
                    text: format!("Acknowledged by {by}"),
                });
                Ok(())
            }
        }
    }

    /// Adds a note (also to a resolved incident, for the post-mortem).
    pub fn add_note(&mut self, by: &str, text: &str, now_ms: i64) -> Result<(), IncidentError> {
        if text.trim().is_empty() {
            return Err(IncidentError::EmptyNote);
        }
        self.timeline.push(TimelineEntry {
            at_ms: now_ms,
            kind: TimelineKind::Note,
            text: format!("{by}: {}", text.trim()),
        });
        Ok(())
    }

    /// Resolves it by hand.
    pub fn resolve(&mut self, by: &str, now_ms: i64) -> Result<(), IncidentError> {
        if self.state == IncidentState::Resolved {
            return Err(IncidentError::Resolved { id: self.id });
        }
        self.state = IncidentState::Resolved;
        self.resolved_at_ms = Some(now_ms);
        self.timeline.push(TimelineEntry {
            at_ms: now_ms,
            kind: TimelineKind::Resolved,
            text: format!("Resolved by {by}"),
        });
        Ok(())
    }

    /// Records a notification that went out (`what`: e.g. "alert.firing to team-slack").
    pub fn record_notification(&mut self, what: &str, now_ms: i64) {
        self.timeline.push(TimelineEntry {
            at_ms: now_ms,
            kind: TimelineKind::Notification,
            text: format!("Notified: {what}"),
        });
    }

    /// Puts the deployments made within `window_ms` before the incident opened on its timeline
    /// (once each); returns how many were added.
    pub fn add_deployments(&mut self, deployments: &[ServiceDeployment], window_ms: i64) -> usize {
        let mut added = 0;
        for d in deployments_near(deployments, self.opened_at_ms, window_ms) {
            let tag = format!("[{}]", d.deployment.id);
            if self
                .timeline
                .iter()
                .any(|e| e.kind == TimelineKind::Deployment && e.text.ends_with(&tag))
            {
                continue;
            }
            let dep = &d.deployment;
            let what = [dep.project.as_deref(), dep.environment.as_deref()]
                .into_iter()
                .flatten()
                .collect::<Vec<_>>()
                .join(" / ");
            self.timeline.push(TimelineEntry {
                at_ms: dep.created_at.timestamp_millis(),
                kind: TimelineKind::Deployment,
                text: format!(
                    "Deployment on {} ({}){}: {}{} {tag}",
                    d.service,
                    d.provider,
                    if what.is_empty() {
                        String::new()
                    } else {
                        format!(" of {what}")
                    },
                    dep.vendor_state,
                    dep.url
                        .as_deref()
                        .map(|u| format!(" — {u}"))
                        .unwrap_or_default()
                ),
            });
            added += 1;
        }
        self.timeline.sort_by_key(|e| e.at_ms);
        added
    }
}

/// A deployment with the service that reported it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServiceDeployment {
    /// Service name.
    pub service: String,
    /// Provider id.
    pub provider: String,
    /// The deployment.
    pub deployment: Deployment,
}

/// Deployments created in `[opened_at_ms - window_ms, opened_at_ms]`, oldest first.
pub fn deployments_near(
    deployments: &[ServiceDeployment],
    opened_at_ms: i64,
    window_ms: i64,
) -> Vec<&ServiceDeployment> {
    let mut near: Vec<&ServiceDeployment> = deployments
        .iter()
        .filter(|d| {
            let at = d.deployment.created_at.timestamp_millis();
            at <= opened_at_ms && at >= opened_at_ms - window_ms
        })
        .collect();
    near.sort_by_key(|d| d.deployment.created_at);
    near
}

/// Mean time to acknowledge and to resolve.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ResponseTimes {
    /// Incidents counted (opened in the window).
    pub incidents: usize,
    /// Of those, acknowledged.
    pub acknowledged: usize,
    /// Of those, resolved.
    pub resolved: usize,
    /// Mean open → acknowledged, ms.
    pub mtta_ms: Option<i64>,
    /// Mean open → resolved, ms.
    pub mttr_ms: Option<i64>,
}

/// MTTA and MTTR over incidents opened in `[from_ms, to_ms)`, optionally only those involving
/// `service`.
pub fn response_times(
    incidents: &[Incident],
    service: Option<&str>,
    from_ms: i64,
    to_ms: i64,
) -> ResponseTimes {
    let chosen: Vec<&Incident> = incidents
        .iter()
        .filter(|i| i.opened_at_ms >= from_ms && i.opened_at_ms < to_ms)
        .filter(|i| service.is_none_or(|s| i.services.iter().any(|m| m.service == s)))
        .collect();
    let mean = |v: Vec<i64>| -> Option<i64> {
        (!v.is_empty()).then(|| v.iter().sum::<i64>() / v.len() as i64)
    };
    let acks: Vec<i64> = chosen
        .iter()
        .filter_map(|i| i.acknowledged_at_ms.map(|a| a - i.opened_at_ms))
        .collect();
    let res: Vec<i64> = chosen
        .iter()
        .filter_map(|i| i.resolved_at_ms.map(|r| r - i.opened_at_ms))
        .collect();
    ResponseTimes {
        incidents: chosen.len(),
        acknowledged: acks.len(),
        resolved: res.len(),
        mtta_ms: mean(acks),
        mttr_ms: mean(res),
    }
}

/// The incident timeline rendered for logs and plain-text notifications.
pub fn timeline_text(incident: &Incident) -> String {
    incident
        .timeline
        .iter()
        .map(|e| format!("{} {:?}: {}", rfc3339(e.at_ms), e.kind, e.text))
        .collect::<Vec<_>>()
        .join("\n")
}
