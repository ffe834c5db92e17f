//! Turns a [`Snapshot`] into the provider's metrics. Names, units and labels here are the
//! user-facing contract documented in `docs/providers/jira.md`.

use chrono::{DateTime, Utc};
use opsdeck_core::{Metric, MetricSet, Unit};

use crate::service::Snapshot;

/// Open issues by status category (`status_category` = `to_do` | `in_progress`).
pub const OPEN_ISSUES: &str = "jira_open_issues";
/// Open issues per project (`project`).
pub const OPEN_ISSUES_BY_PROJECT: &str = "jira_open_issues_by_project";
/// Issues created in the last 7 days.
pub const CREATED_7D: &str = "jira_issues_created_7d";
/// Issues resolved in the last 7 days.
pub const RESOLVED_7D: &str = "jira_issues_resolved_7d";
/// Number of active sprints on the board (`board`).
pub const ACTIVE_SPRINTS: &str = "jira_active_sprints";
/// Issues in an active sprint (`board`, `sprint_id`, `sprint`, `status_category`).
pub const SPRINT_ISSUES: &str = "jira_sprint_issues";
/// Days until an active sprint's planned end; negative when overdue (`board`, `sprint_id`, `sprint`).
pub const SPRINT_DAYS_REMAINING: &str = "jira_sprint_days_remaining";

#[allow(clippy::cast_precision_loss)]
fn count(n: u64) -> f64 {
    n as f64
}

/// The metrics of one snapshot, with `now` for the sprint's remaining days.
pub(crate) fn metric_set(snap: &Snapshot, now: DateTime<Utc>) -> MetricSet {
    let mut set = MetricSet::new();
    set.problems.clone_from(&snap.problems);
    for (category, n) in &snap.open_by_category {
        set.push(
            Metric::new(OPEN_ISSUES, count(*n), Unit::Count)
                .label("status_category", category.label),
        );
    }
    for (project, n) in &snap.open_by_project {
        set.push(
            Metric::new(OPEN_ISSUES_BY_PROJECT, count(*n), Unit::Count)
                .label("project", project.clone()),
        );
    }
    set.push(Metric::new(CREATED_7D, count(snap.created), Unit::Count));
    set.push(Metric::new(RESOLVED_7D, count(snap.resolved), Unit::Count));
    if let Some(board) = &snap.board {
        let board_id = board.board.to_string();
        set.push(
            Metric::new(
                ACTIVE_SPRINTS,
                count(board.sprints.len() as u64),
                Unit::Count,
            )
            .label("board", board_id.clone()),
        );
        for s in &board.sprints {
            let sprint_id = s.sprint.id.to_string();
            for (category, n) in &s.by_category {
                set.push(
                    Metric::new(SPRINT_ISSUES, count(*n), Unit::Count)
                        .label("board", board_id.clone())
                        .label("sprint_id", sprint_id.clone())
                        .label("sprint", s.sprint.name.clone())
                        .label("status_category", category.label),
                );
            }
            if let Some(end) = s.sprint.end() {
                // Fractional days, so a dashboard can show "0.5 days left" on the last day.
                #[allow(clippy::cast_precision_loss)]
                let days = (end - now).num_minutes() as f64 / 1440.0;
                let days = (days * 10.0).round() / 10.0;
                set.push(
                    Metric::new(SPRINT_DAYS_REMAINING, days, Unit::Other("days".into()))
                        .label("board", board_id.clone())
                        .label("sprint_id", sprint_id.clone())
                        .label("sprint", s.sprint.name.clone()),
                );
            }
        }
    }
    for note in &snap.notes {
        set.note(note.clone());
    }
    set
}
