//! Turning what the GitHub calls returned into opsdeck metrics. Names, units and labels here
//! are a user-facing contract (see `docs/providers/github.md`).

use std::collections::BTreeMap;

use opsdeck_core::{Metric, MetricSet, Unit};

use crate::client::{RateLimits, RunCounts};

/// Rate-limit buckets worth reporting; the others (`scim`, `code_scanning_upload`, …) are
/// for integrations opsdeck does not use.
const BUCKETS: &[&str] = &["core", "search", "graphql"];

/// Conclusions that always get a series (0 when absent), so dashboards and alerts on failure
/// rates do not see gaps.
const ALWAYS_REPORTED: &[&str] = &["success", "failure"];

/// Everything collected for one repository.
#[derive(Debug, Clone, Default)]
pub struct RepoStats {
    /// `owner/name`.
    pub repo: String,
    /// Open issues, pull requests excluded.
    pub open_issues: Option<u64>,
    /// Open pull requests.
    pub open_pull_requests: Option<u64>,
    /// Workflow runs in the runs window.
    pub runs: Option<RunCounts>,
    /// Deployments in the deployments window.
    pub deployments: Option<u64>,
}

/// Rate-limit headroom per bucket.
pub fn push_rate_limits(set: &mut MetricSet, limits: &RateLimits) {
    for name in BUCKETS {
        let Some(b) = limits.resources.get(*name) else {
            continue;
        };
        set.push(
            Metric::new(
                "github_rate_limit_remaining",
                b.remaining as f64,
                Unit::Count,
            )
            .label("resource", *name),
        );
        set.push(
            Metric::new("github_rate_limit_limit", b.limit as f64, Unit::Count)
                .label("resource", *name),
        );
        set.push(
            Metric::new(
                "github_rate_limit_reset_timestamp",
                b.reset as f64,
                Unit::Timestamp,
            )
            .label("resource", *name),
        );
    }
}

/// Per-repository metrics.
pub fn push_repo(set: &mut MetricSet, stats: &RepoStats) {
    let repo = stats.repo.as_str();
    if let Some(n) = stats.open_issues {
        set.push(Metric::new("github_open_issues", n as f64, Unit::Count).label("repo", repo));
    }
    if let Some(n) = stats.open_pull_requests {
        set.push(
            Metric::new("github_open_pull_requests", n as f64, Unit::Count).label("repo", repo),
        );
    }
    if let Some(runs) = &stats.runs {
        let mut by: BTreeMap<&str, u64> = ALWAYS_REPORTED.iter().map(|c| (*c, 0)).collect();
        for (outcome, n) in &runs.by_outcome {
            *by.entry(outcome.as_str()).or_default() += n;
        }
        for (outcome, n) in by {
            set.push(
                Metric::new("github_workflow_runs", n as f64, Unit::Count)
                    .label("repo", repo)
                    .label("conclusion", outcome),
            );
        }
    }
    if let Some(n) = stats.deployments {
        set.push(Metric::new("github_deployments", n as f64, Unit::Count).label("repo", repo));
    }
}

/// How many repositories were covered, and whether discovery was capped.
pub fn push_coverage(set: &mut MetricSet, repos: usize, truncated: bool) {
    set.push(Metric::new(
        "github_repositories",
        repos as f64,
        Unit::Count,
    ));
    set.push(Metric::new(
        "github_repositories_truncated",
        if truncated { 1.0 } else { 0.0 },
        Unit::Count,
    ));
}
