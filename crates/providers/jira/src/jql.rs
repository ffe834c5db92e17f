//! The JQL opsdeck sends. Every query contains a restriction, because the count and enhanced
//! search endpoints reject unbounded JQL ("Unbounded JQL queries are not allowed here").
//!
//! Status categories are matched by id — 2 "To Do" (key `new`), 4 "In Progress"
//! (`indeterminate`), 3 "Done" (`done`) — because their names are translated per site
//! language ("In Arbeit", "Готово") while the ids are fixed.
//!
//! Time windows are written as relative offsets (`-7d`, `-90m`): absolute JQL dates are read
//! in the account's profile time zone, which opsdeck does not know.

use chrono::{DateTime, Utc};
use opsdeck_core::domain::TimeWindow;

/// A Jira status category: its fixed id, our label and the English display name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StatusCategory {
    /// Jira's id.
    pub id: u8,
    /// Metric label value.
    pub label: &'static str,
    /// English name, used in the category verb's result.
    pub name: &'static str,
}

/// "To Do".
pub const TO_DO: StatusCategory = StatusCategory {
    id: 2,
    label: "to_do",
    name: "To Do",
};
/// "In Progress".
pub const IN_PROGRESS: StatusCategory = StatusCategory {
    id: 4,
    label: "in_progress",
    name: "In Progress",
};
/// "Done".
pub const DONE: StatusCategory = StatusCategory {
    id: 3,
    label: "done",
    name: "Done",
};

/// The categories an open (not done) issue can be in.
pub const OPEN_CATEGORIES: [StatusCategory; 2] = [TO_DO, IN_PROGRESS];

/// Every category, for sprint breakdowns.
pub const ALL_CATEGORIES: [StatusCategory; 3] = [TO_DO, IN_PROGRESS, DONE];

/// Join clauses with AND, skipping absent ones.
pub fn and<'a>(clauses: impl IntoIterator<Item = Option<&'a str>>) -> String {
    clauses
        .into_iter()
        .flatten()
        .filter(|c| !c.is_empty())
        .collect::<Vec<_>>()
        .join(" AND ")
}

/// `project in ("A", "B")`, or `None` for "all projects". Keys were validated to contain only
/// letters, digits and underscores, so quoting is enough.
pub fn projects(keys: &[String]) -> Option<String> {
    if keys.is_empty() {
        return None;
    }
    let quoted: Vec<String> = keys.iter().map(|k| format!("\"{k}\"")).collect();
    Some(format!("project in ({})", quoted.join(", ")))
}

/// `project = "A"`.
pub fn project(key: &str) -> String {
    format!("project = \"{key}\"")
}

/// `statusCategory = <id>`.
pub fn in_category(c: StatusCategory) -> String {
    format!("statusCategory = {}", c.id)
}

/// Not done: `statusCategory != 3`.
pub fn open() -> String {
    format!("statusCategory != {}", DONE.id)
}

/// `sprint = <id>`.
pub fn sprint(id: u64) -> String {
    format!("sprint = {id}")
}

/// A relative JQL date for `at`, seen from `now`: whole days as `-7d`, else minutes.
fn relative(at: DateTime<Utc>, now: DateTime<Utc>) -> String {
    let minutes = (now - at).num_minutes().max(0);
    if minutes > 0 && minutes % 1440 == 0 {
        format!("-{}d", minutes / 1440)
    } else {
        format!("-{minutes}m")
    }
}

/// `<field> >= -7d` (and `<field> < -Nm` when the window ends more than a minute ago).
pub fn within(field: &str, window: TimeWindow, now: DateTime<Utc>) -> String {
    let mut clause = format!("{field} >= {}", relative(window.start, now));
    if (now - window.end).num_minutes() >= 1 {
        clause.push_str(&format!(" AND {field} < {}", relative(window.end, now)));
    }
    clause
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn windows_are_relative_and_bounded() {
        let now = Utc::now();
        let w = TimeWindow {
            start: now - chrono::Duration::days(7),
            end: now,
        };
        assert_eq!(within("created", w, now), "created >= -7d");
        let w = TimeWindow {
            start: now - chrono::Duration::minutes(90),
            end: now - chrono::Duration::minutes(30),
        };
        assert_eq!(
            within("resolved", w, now),
            "resolved >= -90m AND resolved < -30m"
        );
    }

    #[test]
    fn clauses_join_and_quote() {
        let keys = vec!["OPS".to_owned(), "WEB".to_owned()];
        let p = projects(&keys);
        assert_eq!(
            and([Some(in_category(TO_DO).as_str()), p.as_deref()]),
            "statusCategory = 2 AND project in (\"OPS\", \"WEB\")"
        );
        assert_eq!(and([Some(open().as_str()), None]), "statusCategory != 3");
    }
}
