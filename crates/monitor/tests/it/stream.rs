//! A service's check stream end to end with an injected clock: reports stamped by a
//! `ManualClock`, rolled up in small batches with a crash in the middle, read back through the
//! window planner, with status-change events and one alert rule alongside.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use opsdeck_core::{Clock, Connected, ConnectionReport, Error, FailureKind, ManualClock, Status};
use opsdeck_monitor::alert_state::{self, AlertState, TransitionKind};
use opsdeck_monitor::alerts::Evidence;
use opsdeck_monitor::config::WatchConfig;
use opsdeck_monitor::events::detect_change;
use opsdeck_monitor::history::{Bucket, CheckSample};
use opsdeck_monitor::retention::RetentionSettings;
use opsdeck_monitor::rollup::{BucketKey, RawSample, Rollup, RollupCursor};
use opsdeck_monitor::time::{BucketWidth, DAY_MS, HOUR_MS};
use opsdeck_monitor::window::plan_window;

#[test]
fn a_day_of_minute_checks_through_rollup_uptime_events_and_alerts() {
    // 2026-12-05T22:00:00Z: the stream crosses a UTC midnight.
    let clock = ManualClock::at_ms(20_427 * DAY_MS - 2 * HOUR_MS);
    let start = clock.now_ms();
    let cfg = WatchConfig::from_toml_str(
        "[alerts.down]\ncondition = \"status\"\nservices = [\"gh-*\"]\nchannels = [\"hook\"]\n",
        &BTreeSet::from(["hook".to_string()]),
    )
    .unwrap();
    let rule = &cfg.alerts[0];

    let mut raw: Vec<RawSample<String>> = Vec::new();
    let mut events = Vec::new();
    let mut last = None;
    let mut alert = AlertState::default();
    let mut sent = Vec::new();
    // 4 hours of minute checks; down from minute 130 to 139 (10 failures), one rate-limited
    // check at minute 200.
    for minute in 0..240i64 {
        let (status, failure) = match minute {
            130..=139 => (Status::Failed, Some(FailureKind::Unreachable)),
            200 => (Status::Unknown, Some(FailureKind::RateLimited)),
            _ => (Status::Connected, None),
        };
        let latency = Duration::from_millis(100 + (minute as u64 % 7) * 10);
        let mut report = match failure {
            None => ConnectionReport::connected(
                Connected::new(None, format!("minute {minute}")),
                latency,
            ),
            Some(kind) => {
                ConnectionReport::from_error(&Error::new(kind, format!("minute {minute}")), latency)
            }
        };
        report.checked_at = clock.now();
        assert_eq!(report.status, status);
        let sample = CheckSample::from_report(&report);
        raw.push(RawSample {
            id: minute + 1,
            service: "gh-main".into(),
            sample,
        });
        let (state, change) = detect_change(last.as_ref(), &sample, &report.message);
        last = state;
        events.extend(change);
        let obs = rule
            .condition
            .observe(&Evidence::Check(&report), clock.now_ms());
        let (next, ts) = alert_state::step(&rule.policy(), &alert, &obs, None, clock.now_ms());
        alert = next;
        sent.extend(
            ts.into_iter()
                .filter(|t| t.notify)
                .map(|t| (t.kind, (t.at_ms - start) / 60_000)),
        );
        clock.advance(Duration::from_secs(60));
    }
    // Fires at the third failure (minute 132), resolves at the second success (minute 141).
    assert_eq!(
        sent,
        vec![
            (TransitionKind::Firing, 132),
            (TransitionKind::Resolved, 141)
        ]
    );
    // connected → failed, failed → connected, connected → unknown, unknown → connected, plus the first.
    assert_eq!(events.len(), 5);
    assert_eq!(events[2].previous_duration_ms, Some(10 * 60_000));

    // Roll up in batches of 50 with a crash (no commit) on the third batch.
    let rollup = Rollup::default();
    let mut cursor = RollupCursor::default();
    let mut buckets: BTreeMap<BucketKey<String>, Bucket> = BTreeMap::new();
    let mut crashed = false;
    let mut i = 0;
    while i < raw.len() {
        let batch = &raw[i..(i + 50).min(raw.len())];
        let existing = rollup
            .touched(&cursor, batch)
            .into_iter()
            .filter_map(|k| buckets.get(&k).map(|b| (k, b.clone())))
            .collect();
        let out = rollup
            .apply(&cursor, batch, existing, clock.now_ms())
            .unwrap();
        if i == 100 && !crashed {
            crashed = true;
            continue; // lost before commit: read the same batch again
        }
        buckets.extend(out.buckets);
        cursor = out.cursor;
        i += 50;
    }
    // Replaying an old batch after everything committed changes nothing.
    let replay = rollup
        .apply(&cursor, &raw[0..50], BTreeMap::new(), clock.now_ms())
        .unwrap();
    assert_eq!((replay.applied, replay.skipped), (0, 50));

    let hourly: Vec<&Bucket> = buckets
        .iter()
        .filter(|(k, _)| k.width == BucketWidth::Hour)
        .map(|(_, b)| b)
        .collect();
    assert_eq!(hourly.len(), 4);
    assert!(hourly.iter().all(|b| b.checks() == 60));
    let daily: Vec<&Bucket> = buckets
        .iter()
        .filter(|(k, _)| k.width == BucketWidth::Day)
        .map(|(_, b)| b)
        .collect();
    assert_eq!(
        daily.iter().map(|b| b.checks()).collect::<Vec<_>>(),
        vec![120, 120],
        "split at UTC midnight"
    );

    // The last 24 h, read as the planner says (all hours complete, rollup caught up).
    let now = clock.now_ms();
    let plan = plan_window(
        now - DAY_MS,
        now,
        RetentionSettings::default().cutoffs(now).into(),
        None,
    );
    let stored: Vec<Bucket> = hourly.into_iter().cloned().collect();
    let raw_samples: Vec<CheckSample> = raw.iter().map(|r| r.sample).collect();
    let (sum, _) = plan.combine(&stored, &raw_samples, &[]);
    assert_eq!(
        (sum.connected, sum.failed, sum.unknown, sum.checks),
        (229, 10, 1, 240)
    );
    assert_eq!(sum.uptime, Some(229.0 / 239.0));
    assert_eq!(sum.latency_ms.max, Some(160));
    // Rank 115 of 229 is 130 ms; the digest reports its bin (128–131) by the midpoint, 129.
    assert_eq!(sum.latency_ms.p50, Some(129));
}
