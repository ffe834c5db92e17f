//! The alert state machine: one pure step per (rule, service) from
//! `(state, observation, silence, now)` to `(state, transitions)`.
//!
//! - `failure_threshold` consecutive bad observations fire; `success_threshold` consecutive good
//!   ones resolve. [`ObservationKind::NoData`] (nothing to judge) neither extends nor breaks a streak.
//! - While firing, a bad observation sends a reminder when `remind_every` has passed since the
//!   last notification.
//! - A silence suppresses sends, never state: the firing is recorded (`notify = false`), and a
//!   firing that was never announced resolves without a notification. If the silence ends while
//!   the alert still fires, the next bad observation announces it.
//! - An observation may name a *subject* (for instance the expiry date that identifies a
//!   credential). A bad observation with a different subject than the firing one resolves the
//!   old firing and starts over, so "once per credential" holds for forecasts.
//!
//! The state is serialisable: the server stores it with the outbox rows of the transitions in one
//! transaction, so a crash can neither lose nor repeat a notification.

use serde::{Deserialize, Serialize};

/// Good, bad, or nothing to judge.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ObservationKind {
    /// The condition holds (something is wrong).
    Bad,
    /// The condition does not hold.
    Good,
    /// The evidence cannot decide.
    NoData,
}

/// One judgement of a rule's condition on a service.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Observation {
    /// Good, bad or no data.
    pub kind: ObservationKind,
    /// What was seen, in words (goes into the notification).
    pub message: String,
    /// What the firing is about, when that can change under one rule (a credential's expiry).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subject: Option<String>,
}

impl Observation {
    /// A bad observation.
    pub fn bad(message: impl Into<String>) -> Self {
        Observation {
            kind: ObservationKind::Bad,
            message: message.into(),
            subject: None,
        }
    }

    /// A good observation.
    pub fn good(message: impl Into<String>) -> Self {
        Observation {
            kind: ObservationKind::Good,
            message: message.into(),
            subject: None,
        }
    }

    /// Nothing to judge.
    pub fn no_data(message: impl Into<String>) -> Self {
        Observation {
            kind: ObservationKind::NoData,
            message: message.into(),
            subject: None,
        }
    }

    /// Names what the observation is about.
    pub fn with_subject(mut self, subject: impl Into<String>) -> Self {
        self.subject = Some(subject.into());
        self
    }
}

/// The flap-control settings of a rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct FlapPolicy {
    /// Consecutive bad observations that fire (≥ 1).
    pub failure_threshold: u32,
    /// Consecutive good observations that resolve (≥ 1).
    pub success_threshold: u32,
    /// Reminder interval while firing.
    pub remind_every_ms: Option<i64>,
    /// Notify on resolve.
    pub send_resolved: bool,
}

/// Persisted state of one (rule, service).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AlertState {
    /// Currently firing.
    pub firing: bool,
    /// Consecutive bad observations.
    pub bad_streak: u32,
    /// Consecutive good observations while firing.
    pub good_streak: u32,
    /// When the current bad streak began (the alert's `started_at`).
    pub started_at_ms: Option<i64>,
    /// When it fired.
    pub fired_at_ms: Option<i64>,
    /// A firing notification went out for the current firing.
    pub announced: bool,
    /// Last notification (firing or reminder) sent for the current firing.
    pub last_notified_ms: Option<i64>,
    /// The subject of the current streak.
    pub subject: Option<String>,
    /// The latest message.
    pub message: Option<String>,
}

/// What happened.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TransitionKind {
    /// The alert fired (or was announced late, after a silence).
    Firing,
    /// Still firing; reminder due.
    Reminder,
    /// Resolved.
    Resolved,
}

/// Why a transition sends nothing.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "reason", rename_all = "snake_case")]
pub enum Suppression {
    /// A silence matched.
    Silenced {
        /// The silence's name.
        silence: String,
    },
    /// A resolve for a firing that was never announced.
    NeverAnnounced,
    /// The rule has `send_resolved = false`.
    SendResolvedOff,
}

/// A state change to record (alert history) and, when `notify`, to put in the outbox.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Transition {
    /// Firing, reminder or resolved.
    pub kind: TransitionKind,
    /// When.
    pub at_ms: i64,
    /// When the bad streak that fired began.
    pub started_at_ms: Option<i64>,
    /// The observation's message.
    pub message: String,
    /// Whether to send it to the rule's channels.
    pub notify: bool,
    /// Why not, when `notify` is false.
    pub suppressed: Option<Suppression>,
}

/// One step of the state machine. `silence` is the name of the silence that matches the service
/// now, if any.
pub fn step(
    policy: &FlapPolicy,
    state: &AlertState,
    obs: &Observation,
    silence: Option<&str>,
    now_ms: i64,
) -> (AlertState, Vec<Transition>) {
    let mut s = state.clone();
    let mut out = Vec::new();
    let silenced = || {
        silence.map(|name| Suppression::Silenced {
            silence: name.to_owned(),
        })
    };
    match obs.kind {
        ObservationKind::NoData => return (s, out),
        ObservationKind::Good => {
            s.bad_streak = 0;
            s.message = Some(obs.message.clone());
            if !s.firing {
                s.started_at_ms = None;
                s.subject = None;
                return (s, out);
            }
            s.good_streak += 1;
            if s.good_streak >= policy.success_threshold.max(1) {
                out.push(resolve(policy, &s, &obs.message, silenced(), now_ms));
                s = AlertState {
                    message: Some(obs.message.clone()),
                    ..AlertState::default()
                };
            }
        }
        ObservationKind::Bad => {
            if s.firing && obs.subject.is_some() && obs.subject != s.subject {
                // A new subject (a new credential): close the old firing, start a new streak.
                out.push(resolve(
                    policy,
                    &s,
                    "replaced by a new one",
                    silenced(),
                    now_ms,
                ));
                s = AlertState::default();
            }
            s.good_streak = 0;
            s.bad_streak = s.bad_streak.saturating_add(1);
            if s.bad_streak == 1 {
                s.started_at_ms = Some(now_ms);
                s.subject = obs.subject.clone();
            }
            s.message = Some(obs.message.clone());
            if !s.firing {
                if s.bad_streak >= policy.failure_threshold.max(1) {
                    s.firing = true;
                    s.fired_at_ms = Some(now_ms);
                    let suppressed = silenced();
                    let notify = suppressed.is_none();
                    s.announced = notify;
                    s.last_notified_ms = notify.then_some(now_ms);
                    out.push(Transition {
                        kind: TransitionKind::Firing,
                        at_ms: now_ms,
                        started_at_ms: s.started_at_ms,
                        message: obs.message.clone(),
                        notify,
                        suppressed,
                    });
                }
            } else if !s.announced {
                if silence.is_none() {
                    s.announced = true;
                    s.last_notified_ms = Some(now_ms);
                    out.push(Transition {
                        kind: TransitionKind::Firing,
                        at_ms: now_ms,
                        started_at_ms: s.started_at_ms,
                        message: obs.message.clone(),
                        notify: true,
                        suppressed: None,
                    });
                }
            } else if let Some(every) = policy.remind_every_ms
                && silence.is_none()
                && s.last_notified_ms.is_none_or(|last| now_ms - last >= every)
            {
                s.last_notified_ms = Some(now_ms);
                out.push(Transition {
                    kind: TransitionKind::Reminder,
                    at_ms: now_ms,
                    started_at_ms: s.started_at_ms,
                    message: obs.message.clone(),
                    notify: true,
                    suppressed: None,
                });
            }
        }
    }
    (s, out)
}

fn resolve(
    policy: &FlapPolicy,
    s: &AlertState,
    message: &str,
    silenced: Option<Suppression>,
    now_ms: i64,
) -> Transition {
    let suppressed = if !s.announced {
        Some(Suppression::NeverAnnounced)
    } else if !policy.send_resolved {
        Some(Suppression::SendResolvedOff)
    } else {
        silenced
    };
    Transition {
        kind: TransitionKind::Resolved,
        at_ms: now_ms,
        started_at_ms: s.started_at_ms,
        message: message.to_owned(),
        notify: suppressed.is_none(),
        suppressed,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::time::{HOUR_MS, MINUTE_MS};

    const POLICY: FlapPolicy = FlapPolicy {
        failure_threshold: 3,
        success_threshold: 2,
        remind_every_ms: Some(4 * HOUR_MS),
        send_resolved: true,
    };

    /// Runs a sequence of (minute, bad?, silenced?) and returns the transitions as
    /// (minute, kind, notify).
    fn run(
        policy: &FlapPolicy,
        seq: &[(i64, Option<bool>, bool)],
    ) -> (AlertState, Vec<(i64, TransitionKind, bool)>) {
        let mut state = AlertState::default();
        let mut all = Vec::new();
        for &(min, bad, silenced) in seq {
            let obs = match bad {
                Some(true) => Observation::bad("down"),
                Some(false) => Observation::good("up"),
                None => Observation::no_data("?"),
            };
            let (next, ts) = step(
                policy,
                &state,
                &obs,
                silenced.then_some("maint"),
                min * MINUTE_MS,
            );
            state = next;
            all.extend(
                ts.into_iter()
                    .map(|t| (t.at_ms / MINUTE_MS, t.kind, t.notify)),
            );
        }
        (state, all)
    }

    #[test]
    fn fail_ok_fail_fail_fail_fires_once_at_the_third_consecutive_failure() {
        let seq = [
            (0, Some(true), false),
            (1, Some(false), false),
            (2, Some(true), false),
            (3, Some(true), false),
            (4, Some(true), false),
            (5, Some(true), false),
        ];
        let (state, ts) = run(&POLICY, &seq);
        assert_eq!(ts, vec![(4, TransitionKind::Firing, true)]);
        assert_eq!(state.started_at_ms, Some(2 * MINUTE_MS));
    }

    #[test]
    fn recovery_resolves_once_after_the_success_threshold() {
        let seq = [
            (0, Some(true), false),
            (1, Some(true), false),
            (2, Some(true), false),
            (3, Some(false), false),
            (4, Some(true), false), // breaks the good streak
            (5, Some(false), false),
            (6, None, false), // no data: neither breaks nor extends
            (7, Some(false), false),
            (8, Some(false), false),
        ];
        let (state, ts) = run(&POLICY, &seq);
        assert_eq!(
            ts,
            vec![
                (2, TransitionKind::Firing, true),
                (7, TransitionKind::Resolved, true)
            ]
        );
        assert!(!state.firing);
    }

    #[test]
    fn reminders_respect_remind_every() {
        let mut seq = vec![
            (0, Some(true), false),
            (1, Some(true), false),
            (2, Some(true), false),
        ];
        // Bad every 30 minutes for 9 hours: reminders at 2 + 240 and 2 + 480 minutes.
        seq.extend((1..=18).map(|i| (2 + i * 30, Some(true), false)));
        let (_, ts) = run(&POLICY, &seq);
        assert_eq!(
            ts,
            vec![
                (2, TransitionKind::Firing, true),
                (242, TransitionKind::Reminder, true),
                (482, TransitionKind::Reminder, true)
            ]
        );
        let no_reminders = FlapPolicy {
            remind_every_ms: None,
            ..POLICY
        };
        assert_eq!(run(&no_reminders, &seq).1.len(), 1);
    }

    #[test]
    fn a_silence_suppresses_sends_but_not_state() {
        // Fires during a silence, recovers during it: recorded, nothing sent, no resolve sent.
        let seq = [
            (0, Some(true), true),
            (1, Some(true), true),
            (2, Some(true), true),
            (3, Some(false), true),
            (4, Some(false), true),
        ];
        let (state, ts) = run(&POLICY, &seq);
        assert_eq!(
            ts,
            vec![
                (2, TransitionKind::Firing, false),
                (4, TransitionKind::Resolved, false)
            ]
        );
        assert!(!state.firing);
        // Fires during a silence that ends while it still fires: announced at the next bad one,
        // reminders count from then, and the resolve is sent.
        let seq = [
            (0, Some(true), true),
            (1, Some(true), true),
            (2, Some(true), true),
            (3, Some(true), true),
            (10, Some(true), false),
            (11, Some(false), false),
            (12, Some(false), false),
        ];
        let (_, ts) = run(&POLICY, &seq);
        assert_eq!(
            ts,
            vec![
                (2, TransitionKind::Firing, false),
                (10, TransitionKind::Firing, true),
                (12, TransitionKind::Resolved, true)
            ]
        );
        // A silence that starts after the announcement suppresses reminders and the resolve.
        let seq = [
            (0, Some(true), false),
            (1, Some(true), false),
            (2, Some(true), false),
            (300, Some(true), true),
            (301, Some(false), true),
            (302, Some(false), true),
        ];
        let (_, ts) = run(&POLICY, &seq);
        assert_eq!(
            ts,
            vec![
                (2, TransitionKind::Firing, true),
                (302, TransitionKind::Resolved, false)
            ]
        );
    }

    #[test]
    fn send_resolved_off_and_suppression_reasons() {
        let policy = FlapPolicy {
            send_resolved: false,
            failure_threshold: 1,
            success_threshold: 1,
            remind_every_ms: None,
        };
        let (s, _) = step(
            &policy,
            &AlertState::default(),
            &Observation::bad("x"),
            None,
            0,
        );
        let (_, ts) = step(&policy, &s, &Observation::good("y"), None, 1);
        assert_eq!(ts.len(), 1);
        assert_eq!(ts[0].suppressed, Some(Suppression::SendResolvedOff));
        let (s, _) = step(
            &policy,
            &AlertState::default(),
            &Observation::bad("x"),
            Some("m"),
            0,
        );
        let (_, ts) = step(&policy, &s, &Observation::good("y"), None, 1);
        assert_eq!(ts[0].suppressed, Some(Suppression::NeverAnnounced));
    }

    #[test]
    fn a_new_subject_is_a_new_firing() {
        let policy = FlapPolicy {
            failure_threshold: 1,
            success_threshold: 1,
            remind_every_ms: None,
            send_resolved: true,
        };
        let bad = |s: &str| Observation::bad(format!("expires {s}")).with_subject(s);
        let (s, t1) = step(&policy, &AlertState::default(), &bad("d1"), None, 0);
        let (s, t2) = step(&policy, &s, &bad("d1"), None, 1);
        let (s, t3) = step(&policy, &s, &bad("d2"), None, 2);
        assert_eq!(t1.len(), 1);
        assert!(t2.is_empty(), "same credential: fired once");
        assert_eq!(
            t3.iter().map(|t| t.kind).collect::<Vec<_>>(),
            vec![TransitionKind::Resolved, TransitionKind::Firing]
        );
        assert_eq!(s.subject.as_deref(), Some("d2"));
        // State survives a round trip through JSON (the server persists it).
        let json = serde_json::to_string(&s).unwrap_or_default();
        assert_eq!(serde_json::from_str::<AlertState>(&json).ok(), Some(s));
    }
}
