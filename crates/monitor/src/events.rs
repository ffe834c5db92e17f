//! Status-change events: the detector that turns a service's stream of check results into the
//! changes an operator wants to see ("connected → failed (invalid_credentials) after 3 days up").
//!
//! Decisions (also in docs/decisions.md):
//! - A change of the failure kind while the status stays the same *is* an event
//!   (`failed (timeout)` → `failed (invalid_credentials)`): what to do about it changed.
//! - The first result a service ever gets is an event with `from = None`, so the event list
//!   says when watching began and what the service looked like then.
//! - A result older than the last one seen (a late or replayed row) changes nothing: history
//!   never flips backwards.
//! - Stored once: the store keys events by (service, `at_ms`) with a unique index, so running
//!   the detector again over the same result after a crash inserts nothing twice.

use opsdeck_core::{FailureKind, Status};
use serde::{Deserialize, Serialize};

use crate::history::CheckSample;

/// What the detector remembers per service between results (persist it, or rebuild it from the
/// service's last event and last result).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct LastState {
    /// Current status.
    pub status: Status,
    /// Current failure kind.
    pub failure: Option<FailureKind>,
    /// When the current state began.
    pub since_ms: i64,
    /// Time of the latest result seen.
    pub last_at_ms: i64,
}

/// One change of a service's status.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StatusChange {
    /// When the new state was first seen (the result's time).
    pub at_ms: i64,
    /// The previous status; `None` for the first result ever.
    pub from: Option<Status>,
    /// The previous failure kind.
    pub from_failure: Option<FailureKind>,
    /// The new status.
    pub to: Status,
    /// The new failure kind.
    pub failure: Option<FailureKind>,
    /// The result's message.
    pub message: String,
    /// How long the previous state lasted; `None` for the first result.
    pub previous_duration_ms: Option<i64>,
}

/// Feeds one result to the detector: the new state to keep, and the event if the status (or the
/// failure kind) changed.
pub fn detect_change(
    previous: Option<&LastState>,
    sample: &CheckSample,
    message: &str,
) -> (Option<LastState>, Option<StatusChange>) {
    let Some(prev) = previous else {
        let state = LastState {
            status: sample.status,
            failure: sample.failure,
            since_ms: sample.at_ms,
            last_at_ms: sample.at_ms,
        };
        let change = StatusChange {
            at_ms: sample.at_ms,
            from: None,
            from_failure: None,
            to: sample.status,
            failure: sample.failure,
            message: message.to_owned(),
            previous_duration_ms: None,
        };
        return (Some(state), Some(change));
    };
    if sample.at_ms < prev.last_at_ms {
        return (Some(*prev), None);
    }
    if sample.status == prev.status && sample.failure == prev.failure {
        let state = LastState {
            last_at_ms: sample.at_ms,
            ..*prev
        };
        return (Some(state), None);
    }
    let change = StatusChange {
        at_ms: sample.at_ms,
        from: Some(prev.status),
        from_failure: prev.failure,
        to: sample.status,
        failure: sample.failure,
        message: message.to_owned(),
        previous_duration_ms: Some(sample.at_ms - prev.since_ms),
    };
    let state = LastState {
        status: sample.status,
        failure: sample.failure,
        since_ms: sample.at_ms,
        last_at_ms: sample.at_ms,
    };
    (Some(state), Some(change))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(at_ms: i64, status: Status, failure: Option<FailureKind>) -> CheckSample {
        CheckSample {
            at_ms,
            status,
            failure,
            latency_ms: 1,
        }
    }

    #[test]
    fn each_change_once_with_the_previous_duration() {
        let results = [
            s(0, Status::Connected, None),
            s(60_000, Status::Connected, None),
            s(120_000, Status::Failed, Some(FailureKind::Timeout)),
            s(180_000, Status::Failed, Some(FailureKind::Timeout)),
            s(
                240_000,
                Status::Failed,
                Some(FailureKind::InvalidCredentials),
            ),
            s(200_000, Status::Connected, None), // late row: ignored
            s(300_000, Status::Connected, None),
        ];
        let mut state = None;
        let mut events = Vec::new();
        for r in &results {
            let (next, change) = detect_change(state.as_ref(), r, "m");
            state = next;
            events.extend(change);
        }
        let summary: Vec<_> = events
            .iter()
            .map(|e| (e.at_ms, e.from, e.to, e.failure, e.previous_duration_ms))
            .collect();
        assert_eq!(
            summary,
            vec![
                (0, None, Status::Connected, None, None),
                (
                    120_000,
                    Some(Status::Connected),
                    Status::Failed,
                    Some(FailureKind::Timeout),
                    Some(120_000)
                ),
                (
                    240_000,
                    Some(Status::Failed),
                    Status::Failed,
                    Some(FailureKind::InvalidCredentials),
                    Some(120_000)
                ),
                (
                    300_000,
                    Some(Status::Failed),
                    Status::Connected,
                    None,
                    Some(60_000)
                ),
            ]
        );
        assert_eq!(events[2].from_failure, Some(FailureKind::Timeout));
        assert_eq!(
            state.map(|s| (s.since_ms, s.last_at_ms)),
            Some((300_000, 300_000))
        );
    }
}
