//! Pure metric assembly: deployment status counts, usage pricing and the metric samples. Kept
//! free of I/O so the arithmetic is unit-tested on its own.

use std::collections::BTreeMap;

use opsdeck_core::domain::DeploymentState;
use opsdeck_core::{Metric, MetricSet, Unit};

use crate::queries::PRICED_MEASUREMENTS;

/// Statuses always reported (zero when absent) so dashboards and alerts have a series to
/// watch even on a quiet day. Others appear when Railway returns them.
pub(crate) const ALWAYS_REPORTED: &[&str] = &["success", "failed", "crashed", "building"];

/// Railway's `DeploymentStatus` (schema enum) normalised to opsdeck's states.
pub(crate) fn deployment_state(status: &str) -> DeploymentState {
    match status {
        "SUCCESS" => DeploymentState::Succeeded,
        "FAILED" => DeploymentState::Failed,
        "CRASHED" => DeploymentState::Crashed,
        "BUILDING" | "DEPLOYING" | "INITIALIZING" | "QUEUED" | "WAITING" | "NEEDS_APPROVAL" => {
            DeploymentState::InProgress
        }
        "SKIPPED" => DeploymentState::Canceled,
        // REMOVED, REMOVING, SLEEPING and statuses added later.
        _ => DeploymentState::Other,
    }
}

/// Count deployments per lowercase status, with the always-reported statuses present.
pub(crate) fn count_by_status<'a>(
    statuses: impl IntoIterator<Item = &'a str>,
) -> BTreeMap<String, u64> {
    let mut counts: BTreeMap<String, u64> = ALWAYS_REPORTED
        .iter()
        .map(|s| ((*s).to_owned(), 0))
        .collect();
    for s in statuses {
        *counts.entry(s.to_ascii_lowercase()).or_default() += 1;
    }
    counts
}

/// Dollars for metered quantities, at Railway's list prices. Unpriced measurements count 0.
pub(crate) fn price<'a>(items: impl IntoIterator<Item = (&'a str, f64)>) -> f64 {
    items
        .into_iter()
        .map(|(measurement, quantity)| {
            PRICED_MEASUREMENTS
                .iter()
                .find(|(m, _)| *m == measurement)
                .map_or(0.0, |(_, unit_price)| quantity * unit_price)
        })
        .sum()
}

/// The estimated usage for the whole billing period, the way `railway usage` computes it: the
/// priced estimate plus whatever `currentUsage` holds beyond the metered usage so far (items
/// Railway bills that are not among the metered measurements).
pub(crate) fn estimated_period_usage(current_usage: f64, usage_so_far: f64, estimate: f64) -> f64 {
    estimate + (current_usage - usage_so_far).max(0.0)
}

/// Cost figures of one workspace.
#[derive(Debug, Clone)]
pub(crate) struct WorkspaceCost {
    pub workspace: String,
    pub current_usage: f64,
    pub estimated_usage: Option<f64>,
    pub period_end_unix: i64,
}

/// What a metrics run gathered.
#[derive(Debug, Default)]
pub(crate) struct Gathered {
    /// Workspace name → project count (absent for project tokens).
    pub projects: BTreeMap<String, u64>,
    /// (workspace, project) → service count.
    pub services: BTreeMap<(String, String), u64>,
    /// Vendor statuses of the deployments in the window (`None`: they could not be read).
    pub deployment_statuses: Option<Vec<String>>,
    /// Cost per workspace, where readable.
    pub costs: Vec<WorkspaceCost>,
    /// Workspaces the token sees (account/workspace tokens).
    pub workspaces: Option<u64>,
}

/// The samples for what was gathered.
pub(crate) fn assemble(g: &Gathered, set: &mut MetricSet) {
    if let Some(n) = g.workspaces {
        set.push(Metric::new("railway_workspaces", n as f64, Unit::Count));
    }
    for (ws, n) in &g.projects {
        set.push(Metric::new("railway_projects", *n as f64, Unit::Count).label("workspace", ws));
    }
    for ((ws, project), n) in &g.services {
        let mut m =
            Metric::new("railway_services", *n as f64, Unit::Count).label("project", project);
        // Project tokens do not reveal their workspace; leave the label out rather than empty.
        if !ws.is_empty() {
            m = m.label("workspace", ws);
        }
        set.push(m);
    }
    if let Some(statuses) = &g.deployment_statuses {
        for (status, n) in count_by_status(statuses.iter().map(String::as_str)) {
            set.push(
                Metric::new("railway_deployments_24h", n as f64, Unit::Count)
                    .label("status", status),
            );
        }
    }
    for c in &g.costs {
        set.push(
            Metric::new(
                "railway_current_usage_dollars",
                round_cents(c.current_usage),
                Unit::currency("usd"),
            )
            .label("workspace", &c.workspace),
        );
        if let Some(e) = c.estimated_usage {
            set.push(
                Metric::new(
                    "railway_estimated_usage_dollars",
                    round_cents(e),
                    Unit::currency("usd"),
                )
                .label("workspace", &c.workspace),
            );
        }
        set.push(
            Metric::new(
                "railway_billing_period_end_timestamp_seconds",
                c.period_end_unix as f64,
                Unit::Timestamp,
            )
            .label("workspace", &c.workspace),
        );
    }
}

/// Dollar figures are shown to the cent; the float arithmetic above is finer than that.
pub(crate) fn round_cents(v: f64) -> f64 {
    (v * 100.0).round() / 100.0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_are_counted_and_zero_filled() {
        let c = count_by_status(["SUCCESS", "SUCCESS", "REMOVED"]);
        assert_eq!(c.get("success"), Some(&2));
        assert_eq!(c.get("failed"), Some(&0));
        assert_eq!(c.get("crashed"), Some(&0));
        assert_eq!(c.get("building"), Some(&0));
        assert_eq!(c.get("removed"), Some(&1));
    }

    #[test]
    fn a_full_month_of_one_vcpu_and_one_gb_costs_thirty_dollars() {
        // 43,200 vCPU-minutes ($20) + 43,200 GB-minutes of RAM ($10).
        let d = price([("CPU_USAGE", 43_200.0), ("MEMORY_USAGE_GB", 43_200.0)]);
        assert!((d - 30.0).abs() < 1e-9, "{d}");
        assert!((price([("NETWORK_TX_GB", 10.0)]) - 0.5).abs() < 1e-9);
        assert_eq!(price([("CPU_LIMIT", 5.0)]), 0.0);
    }

    #[test]
    fn estimate_adds_unmetered_current_usage() {
        assert!((estimated_period_usage(12.0, 10.0, 30.0) - 32.0).abs() < 1e-9);
        assert!((estimated_period_usage(8.0, 10.0, 30.0) - 30.0).abs() < 1e-9);
    }

    #[test]
    fn states_follow_the_schema_enum() {
        assert_eq!(deployment_state("SUCCESS"), DeploymentState::Succeeded);
        assert_eq!(deployment_state("QUEUED"), DeploymentState::InProgress);
        assert_eq!(deployment_state("SKIPPED"), DeploymentState::Canceled);
        assert_eq!(deployment_state("SLEEPING"), DeploymentState::Other);
    }
}
