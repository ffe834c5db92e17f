//! The service model: [`BaseService`], which every provider implements, the category traits
//! with the verbs every provider of a category answers, and optional abilities expressed as
//! data ([`Ability`]) rather than methods that fail with "unsupported".
//!
//! The cross-provider questions (`ServiceManager::ai_usage`, `costs`, `deployments`) go
//! through the categories: AI usage and cost are AI verbs, deployments and cost are
//! infrastructure verbs, deployments are a development verb. `BaseService`'s ability accessors
//! route to those verbs by default; a provider overrides one only to offer the ability outside
//! its category (Datadog's bill is cost from an observability service).

use std::borrow::Cow;
use std::time::Instant;

use async_trait::async_trait;

use crate::domain::{
    AiModel, AiUsage, Balance, CostReport, Deployment, DevActivity, IssueSummary, MonitorSummary,
    Repository, RevenueSummary, TimeWindow,
};
use crate::error::Result;
use crate::metrics::MetricSet;
use crate::schema::ProviderDescriptor;
use crate::status::{Connected, ConnectionReport};

/// Why an optional ability is not available, in broad strokes: programs branch on this, people
/// read [`Unavailable::reason`]. The snake_case spelling is a stable contract.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum UnavailableKind {
    /// The provider has no such ability at all (a GitHub service asked for AI usage).
    NotOffered,
    /// The question belongs to the provider's category, but the vendor offers no way to answer
    /// it (Gemini API keys cannot read usage); the message says why.
    Unsupported,
    /// This instance could answer with other settings or credentials (an admin key, a
    /// repository list, another kind of token); the message says what to add.
    NotConfigured,
}

impl UnavailableKind {
    /// Stable snake_case name, as in JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            UnavailableKind::NotOffered => "not_offered",
            UnavailableKind::Unsupported => "unsupported",
            UnavailableKind::NotConfigured => "not_configured",
        }
    }
}

impl std::fmt::Display for UnavailableKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why an optional ability is not available for a service instance: a kind to branch on and
/// a message for people.
///
/// ```
/// use opsdeck_core::{Unavailable, UnavailableKind};
///
/// let u = Unavailable::because("Usage needs an Admin API key (admin_key).");
/// assert_eq!(u.kind, UnavailableKind::NotConfigured);
/// assert_eq!(Unavailable::not_offered().kind, UnavailableKind::NotOffered);
/// ```
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[non_exhaustive]
pub struct Unavailable {
    /// Not offered at all, or not with this configuration.
    pub kind: UnavailableKind,
    /// The message: what the user can do about it (or why nothing can be done).
    pub reason: Cow<'static, str>,
}

impl Unavailable {
    /// Unavailable for this instance's configuration ([`UnavailableKind::NotConfigured`]);
    /// `message` says what to add or change.
    pub fn because(message: impl Into<Cow<'static, str>>) -> Self {
        Unavailable {
            kind: UnavailableKind::NotConfigured,
            reason: message.into(),
        }
    }

    /// The provider has no such ability at all ([`UnavailableKind::NotOffered`]).
    pub fn not_offered() -> Self {
        Unavailable {
            kind: UnavailableKind::NotOffered,
            reason: Cow::Borrowed(NOT_OFFERED),
        }
    }

    /// The vendor offers no way to answer ([`UnavailableKind::Unsupported`]); `message` says
    /// why (e.g. "Gemini API keys cannot read usage").
    pub fn unsupported(message: impl Into<Cow<'static, str>>) -> Self {
        Unavailable {
            kind: UnavailableKind::Unsupported,
            reason: message.into(),
        }
    }
}

impl std::fmt::Display for Unavailable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.reason)
    }
}

/// The generic "not offered" message (kept word for word: scripts have matched on it).
pub(crate) const NOT_OFFERED: &str = "this provider does not offer it";

/// An optional ability: the implementation, or why it is not available.
pub type Ability<'a, T> = std::result::Result<&'a T, Unavailable>;

/// One instance of a provider, configured and ready to check. Object-safe: services are held
/// as `Arc<dyn BaseService>`.
///
/// Implementors provide [`probe`](Self::probe) and [`collect_metrics`](Self::collect_metrics);
/// [`test_connection`](Self::test_connection) wraps the probe with timing and turns errors into
/// a report. Category and ability accessors default to "not this".
#[async_trait]
pub trait BaseService: Send + Sync + 'static {
    /// The provider this service belongs to.
    fn descriptor(&self) -> &'static ProviderDescriptor;

    /// Check that the credentials work; the cheapest authenticated call the vendor offers.
    async fn probe(&self) -> Result<Connected>;

    /// Collect the provider's metrics.
    async fn collect_metrics(&self) -> Result<MetricSet>;

    /// Test the connection and produce a report. Never fails: errors become failed reports.
    async fn test_connection(&self) -> ConnectionReport {
        let started = Instant::now();
        let outcome = self.probe().await;
        ConnectionReport::from_outcome(outcome, started.elapsed())
    }

    /// Development category (source control, CI).
    fn as_development(&self) -> Option<&dyn DevelopmentService> {
        None
    }

    /// Project-management category (issue tracking).
    fn as_project_management(&self) -> Option<&dyn ProjectManagementService> {
        None
    }

    /// AI category.
    fn as_ai(&self) -> Option<&dyn AiService> {
        None
    }

    /// Infrastructure category.
    fn as_infrastructure(&self) -> Option<&dyn InfrastructureService> {
        None
    }

    /// Observability category.
    fn as_observability(&self) -> Option<&dyn ObservabilityService> {
        None
    }

    /// Billing category.
    fn as_billing(&self) -> Option<&dyn BillingService> {
        None
    }

    /// Ability: report cost over a window. By default the category answers (infrastructure
    /// and AI services report cost as a category verb); override it only to offer cost outside
    /// the category (e.g. an observability vendor's bill).
    fn cost_source(&self) -> Ability<'_, dyn CostSource> {
        if let Some(infra) = self.as_infrastructure() {
            infra.cost_source()
        } else if let Some(ai) = self.as_ai() {
            ai.cost_source()
        } else {
            Err(Unavailable::not_offered())
        }
    }

    /// Ability: report AI token usage (and cost) over a window; the AI category answers.
    fn ai_usage_source(&self) -> Ability<'_, dyn AiUsageSource> {
        match self.as_ai() {
            Some(ai) => ai.usage_source(),
            None => Err(Unavailable::not_offered()),
        }
    }

    /// Ability: list deployments over a window; the infrastructure and development categories
    /// answer. Override it only to offer deployments outside those categories.
    fn deployment_source(&self) -> Ability<'_, dyn DeploymentSource> {
        if let Some(infra) = self.as_infrastructure() {
            infra.deployment_source()
        } else if let Some(dev) = self.as_development() {
            dev.deployment_source()
        } else {
            Err(Unavailable::not_offered())
        }
    }

    /// Which abilities this instance has, as data (for `providers`, the API and the UI).
    fn capabilities(&self) -> Vec<Capability> {
        vec![
            Capability::from_ability("cost", self.cost_source()),
            Capability::from_ability("ai_usage", self.ai_usage_source()),
            Capability::from_ability("deployments", self.deployment_source()),
        ]
    }
}

/// Whether an instance has an ability.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[non_exhaustive]
pub struct Capability {
    /// Ability name: `cost`, `ai_usage`, `deployments`.
    pub name: &'static str,
    /// Available for this instance.
    pub available: bool,
    /// Why not, when unavailable.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// Not offered at all, or not with this configuration, when unavailable.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kind: Option<UnavailableKind>,
}

impl Capability {
    fn from_ability<T: ?Sized>(name: &'static str, ability: Ability<'_, T>) -> Self {
        match ability {
            Ok(_) => Capability {
                name,
                available: true,
                reason: None,
                kind: None,
            },
            Err(u) => Capability {
                name,
                available: false,
                reason: Some(u.reason.into_owned()),
                kind: Some(u.kind),
            },
        }
    }
}

// Category traits. Each holds the verbs every provider of the category answers; a verb that a
// provider of the category may be unable to answer for one configuration returns an
// `Ability` (the source, or why not) instead of failing. They have no default methods, so a
// provider that joins a category is made to answer all of them by the compiler.

/// Source control and CI.
#[async_trait]
pub trait DevelopmentService: Send + Sync {
    /// Repositories the service covers (configured list, else the org's).
    async fn repositories(&self) -> Result<Vec<Repository>>;
    /// Activity per repository over `window`.
    async fn activity(&self, window: TimeWindow) -> Result<DevActivity>;
    /// Deployments of the covered repositories, or why not.
    fn deployment_source(&self) -> Ability<'_, dyn DeploymentSource>;
}

/// Issue tracking.
#[async_trait]
pub trait ProjectManagementService: Send + Sync {
    /// Open issues by status category and project; created/resolved in `window`; active sprint.
    async fn issue_summary(&self, window: TimeWindow) -> Result<IssueSummary>;
}

/// AI model APIs.
#[async_trait]
pub trait AiService: Send + Sync {
    /// Models available to the credentials.
    async fn models(&self) -> Result<Vec<AiModel>>;
    /// Token usage (and cost) over a window, or why not (e.g. it needs an admin key).
    fn usage_source(&self) -> Ability<'_, dyn AiUsageSource>;
    /// Spend over a window, or why not.
    fn cost_source(&self) -> Ability<'_, dyn CostSource>;
}

/// Cloud and hosting.
#[async_trait]
pub trait InfrastructureService: Send + Sync {
    /// Names of the projects/services/accounts the credentials can see.
    async fn resources(&self) -> Result<Vec<String>>;
    /// Deployments over a window, or why not.
    fn deployment_source(&self) -> Ability<'_, dyn DeploymentSource>;
    /// Cost over a window, or why not.
    fn cost_source(&self) -> Ability<'_, dyn CostSource>;
}

/// Monitoring.
#[async_trait]
pub trait ObservabilityService: Send + Sync {
    /// Monitors by state.
    async fn monitor_summary(&self) -> Result<MonitorSummary>;
}

/// Payments.
#[async_trait]
pub trait BillingService: Send + Sync {
    /// Current balance.
    async fn balance(&self) -> Result<Balance>;
    /// Revenue over `window`.
    async fn revenue(&self, window: TimeWindow) -> Result<RevenueSummary>;
}

/// Ability: cost over a window.
#[async_trait]
pub trait CostSource: Send + Sync {
    /// Cost over `window`.
    async fn cost(&self, window: TimeWindow) -> Result<CostReport>;
}

/// Ability: AI token usage over a window.
#[async_trait]
pub trait AiUsageSource: Send + Sync {
    /// Usage (and cost, when available) over `window`.
    async fn ai_usage(&self, window: TimeWindow) -> Result<AiUsage>;
}

/// Ability: deployments over a window.
#[async_trait]
pub trait DeploymentSource: Send + Sync {
    /// Deployments created in `window`.
    async fn deployments(&self, window: TimeWindow) -> Result<Vec<Deployment>>;
}
