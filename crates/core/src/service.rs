//! The service model: [`BaseService`], which every provider implements, the category traits
//! with the verbs every provider of a category answers, and optional abilities expressed as
//! data ([`Ability`]) rather than methods that fail with "unsupported".

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

/// Why an optional ability is not available for a service instance.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Unavailable {
    /// What the user can do about it (or why nothing can be done).
    pub reason: Cow<'static, str>,
}

impl Unavailable {
    /// Unavailable with a reason.
    pub fn because(reason: impl Into<Cow<'static, str>>) -> Self {
        Unavailable {
            reason: reason.into(),
        }
    }

    /// The provider does not offer this ability at all.
    pub fn not_offered() -> Self {
        Self::because("this provider does not offer it")
    }
}

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

    /// Ability: report cost over a window.
    fn cost_source(&self) -> Ability<'_, dyn CostSource> {
        Err(Unavailable::not_offered())
    }

    /// Ability: report AI token usage (and cost) over a window.
    fn ai_usage_source(&self) -> Ability<'_, dyn AiUsageSource> {
        Err(Unavailable::not_offered())
    }

    /// Ability: list deployments over a window.
    fn deployment_source(&self) -> Ability<'_, dyn DeploymentSource> {
        Err(Unavailable::not_offered())
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
pub struct Capability {
    /// Ability name: `cost`, `ai_usage`, `deployments`.
    pub name: &'static str,
    /// Available for this instance.
    pub available: bool,
    /// Why not, when unavailable.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

impl Capability {
    fn from_ability<T: ?Sized>(name: &'static str, ability: Ability<'_, T>) -> Self {
        match ability {
            Ok(_) => Capability {
                name,
                available: true,
                reason: None,
            },
            Err(u) => Capability {
                name,
                available: false,
                reason: Some(u.reason.into_owned()),
            },
        }
    }
}

/// Source control and CI.
#[async_trait]
pub trait DevelopmentService: Send + Sync {
    /// Repositories the service covers (configured list, else the org's).
    async fn repositories(&self) -> Result<Vec<Repository>>;
    /// Activity per repository over `window`.
    async fn activity(&self, window: TimeWindow) -> Result<DevActivity>;
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
}

/// Cloud and hosting.
#[async_trait]
pub trait InfrastructureService: Send + Sync {
    /// Names of the projects/services/accounts the credentials can see.
    async fn resources(&self) -> Result<Vec<String>>;
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
