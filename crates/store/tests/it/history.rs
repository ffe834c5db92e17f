//! Monitoring history on both backends: the rollup (incremental, idempotent, restart in the
//! middle, two instances), uptime and history reads (hand-computed), status-change events,
//! metric samples and points (idempotent, capped) and retention (exactly the expired rows).

use opsdeck_core::{FailureKind, Metric, Status, Unit};
use opsdeck_monitor::history::CheckSample;
use opsdeck_monitor::metric_history::MetricSample;
use opsdeck_monitor::retention::{Availability, RetentionSettings};
use opsdeck_monitor::rollup::Rollup;
use opsdeck_monitor::time::{BucketWidth, DAY_MS, HOUR_MS, MINUTE_MS};
use opsdeck_store::*;

use super::{data, opts};

/// 2026-12-06T00:00:00Z.
const T0: i64 = 1_796_515_200_000;

fn all_available() -> Availability {
    Availability {
        raw_from_ms: 0,
        hourly_from_ms: 0,
        daily_from_ms: 0,
    }
}

fn check(service_id: i64, at: i64, status: Status, latency: i64) -> NewCheckResult {
    NewCheckResult {
        service_id,
        config_version: None,
        checked_at: at,
        status,
        failure: (status == Status::Failed).then_some(FailureKind::Timeout),
        latency_ms: latency,
        message: format!("{} at {at}", status.as_str()),
        identity: None,
        instance: None,
        hint: None,
        details: None,
    }
}

async fn roll_all(store: &Store, owner: &str, batch: i64, now: i64) -> usize {
    let mut applied = 0;
    loop {
        let step = store
            .rollup_checks(&Rollup::default(), owner, 60_000, batch, now)
            .await
            .unwrap();
        assert!(step.leased && !step.conflict, "{step:?}");
        applied += step.applied;
        if step.read < batch as usize {
            return applied;
        }
    }
}

on_both!(
    rollup_uptime_events_history,
    two_instances_one_bucket,
    retention_deletes_exactly_the_expired_rows,
    metric_history_is_idempotent_and_capped
);

async fn rollup_uptime_events_history(url: Option<String>) {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(opts(&dir, &url)).await.unwrap();
    let a = store.create_service("a", &data("x")).await.unwrap().id;
    let b = store.create_service("b", &data("x")).await.unwrap().id;
    // Service a, hour 10: 3 connected (100, 200, 300 ms), 1 failed, 1 unknown; hour 11: 1
    // connected (400 ms). Service b: one failed check.
    let h10 = T0 + 10 * HOUR_MS;
    let h11 = T0 + 11 * HOUR_MS;
    let rows = [
        check(a, h10, Status::Connected, 100),
        check(a, h10 + MINUTE_MS, Status::Connected, 200),
        check(a, h10 + 2 * MINUTE_MS, Status::Failed, 10_000),
        check(a, h10 + 3 * MINUTE_MS, Status::Unknown, 50),
        check(a, h11 - 1, Status::Connected, 300),
        check(a, h11, Status::Connected, 400),
        check(b, h10 + 5 * MINUTE_MS, Status::Failed, 10),
    ];
    for r in &rows {
        assert!(matches!(
            store.record_result(r).await.unwrap(),
            RecordOutcome::Stored { .. }
        ));
    }
    // Before any rollup the answer already counts every stored result (unrolled rows).
    let before = store
        .check_summary(a, T0, T0 + DAY_MS, all_available())
        .await
        .unwrap();
    assert_eq!(
        (
            before.connected,
            before.failed,
            before.unknown,
            before.checks
        ),
        (4, 1, 1, 6)
    );
    assert_eq!(before.uptime, Some(0.8));

    // A restart in the middle: two results rolled up, then the rest in batches of 2.
    let step = store
        .rollup_checks(&Rollup::default(), "i1", 60_000, 2, h11 + HOUR_MS)
        .await
        .unwrap();
    assert_eq!((step.applied, step.read), (2, 2));
    let mid = store
        .check_summary(a, T0, T0 + DAY_MS, all_available())
        .await
        .unwrap();
    assert_eq!(mid, before, "half rolled up, half unrolled: same answer");
    assert_eq!(roll_all(&store, "i1", 2, h11 + HOUR_MS).await, 5);
    assert_eq!(
        roll_all(&store, "i1", 100, h11 + HOUR_MS).await,
        0,
        "idempotent"
    );

    let after = store
        .check_summary(a, T0, T0 + DAY_MS, all_available())
        .await
        .unwrap();
    assert_eq!(after, before);
    let digest = opsdeck_monitor::digest::LatencyDigest::from_values([100, 200, 300, 400]);
    assert_eq!(after.latency_ms.p50, digest.p50());
    assert_eq!(after.latency_ms.max, Some(400));
    // Hour 10 alone: 3 connected, 1 failed.
    let h = store
        .check_summary(a, h10, h11, all_available())
        .await
        .unwrap();
    assert_eq!((h.connected, h.failed, h.unknown), (3, 1, 1));
    assert_eq!(h.uptime, Some(0.75));
    // No decided check: null, not 100 %.
    let empty = store
        .check_summary(a, T0, h10, all_available())
        .await
        .unwrap();
    assert_eq!((empty.uptime, empty.checks), (None, 0));

    let hist = store
        .check_history(a, BucketWidth::Hour, h10, h11 + HOUR_MS)
        .await
        .unwrap();
    assert_eq!(hist.len(), 2);
    assert_eq!(
        (hist[0].connected, hist[0].failed, hist[0].unknown),
        (3, 1, 1)
    );
    assert_eq!((hist[1].connected, hist[1].start_ms), (1, h11));
    let fine = store
        .check_history(a, BucketWidth::FifteenMinutes, h10, h10 + HOUR_MS)
        .await
        .unwrap();
    assert_eq!(fine.len(), 4);
    assert_eq!(fine[0].checks(), 4);
    assert_eq!(fine[3].checks(), 1);
    let days = store
        .check_history(a, BucketWidth::Day, T0, T0 + DAY_MS)
        .await
        .unwrap();
    assert_eq!(days.len(), 1);
    assert_eq!(days[0].checks(), 6);

    let all = store
        .check_counts_all(T0, T0 + DAY_MS, all_available())
        .await
        .unwrap();
    assert_eq!(all[&a].uptime, Some(0.8));
    assert_eq!((all[&b].failed, all[&b].uptime), (1, Some(0.0)));

    // Events: a: first result, connected→failed, failed→unknown, unknown→connected; b: first.
    let ev = store.status_events(Some(a), 0, 100).await.unwrap();
    let seen: Vec<_> = ev
        .iter()
        .rev()
        .map(|e| (e.change.from, e.change.to, e.change.previous_duration_ms))
        .collect();
    assert_eq!(
        seen,
        [
            (None, Status::Connected, None),
            (Some(Status::Connected), Status::Failed, Some(2 * MINUTE_MS)),
            (Some(Status::Failed), Status::Unknown, Some(MINUTE_MS)),
            (
                Some(Status::Unknown),
                Status::Connected,
                Some(h11 - 1 - (h10 + 3 * MINUTE_MS))
            ),
        ]
    );
    assert_eq!(ev[2].change.failure, Some(FailureKind::Timeout));
    assert_eq!(ev[0].service, "a");
    assert_eq!(store.status_events(None, 0, 100).await.unwrap().len(), 5);
    assert_eq!(store.status_events(None, 0, 2).await.unwrap().len(), 2);
    let counts = store.status_change_counts().await.unwrap();
    assert_eq!((counts[&a], counts.get(&b)), (3, None));

    // Deleting a service removes its history with it.
    store.delete_service("b").await.unwrap();
    assert_eq!(store.status_events(None, 0, 100).await.unwrap().len(), 4);
    store.close().await;
}

async fn two_instances_one_bucket(url: Option<String>) {
    let Some(url) = url else {
        // SQLite runs one instance (the data directory is locked); nothing to race.
        return;
    };
    let d1 = tempfile::tempdir().unwrap();
    let d2 = tempfile::tempdir().unwrap();
    let key = secrecy::SecretString::from("55".repeat(32));
    let open = |dir: &tempfile::TempDir| StoreOptions {
        secret_key: Some(key.clone()),
        ..opts(dir, &Some(url.clone()))
    };
    let s1 = Store::open(open(&d1)).await.unwrap();
    let s2 = Store::open(open(&d2)).await.unwrap();
    let a = s1.create_service("a", &data("x")).await.unwrap().id;
    let h = T0 + 5 * HOUR_MS;
    for i in 0..40 {
        s1.record_result(&check(a, h + i * 1000, Status::Connected, 10))
            .await
            .unwrap();
    }
    // Both roll up at once; the lease lets one in, the compare-and-set keeps an expired lease
    // from double counting.
    let now = h + HOUR_MS;
    let rollup = Rollup::default();
    let (r1, r2) = tokio::join!(
        s1.rollup_checks(&rollup, "one", 60_000, 7, now),
        s2.rollup_checks(&rollup, "two", 60_000, 7, now),
    );
    let (r1, r2) = (r1.unwrap(), r2.unwrap());
    assert!(r1.leased != r2.leased, "{r1:?} {r2:?}");
    // The lease expires: the other instance takes over and finishes.
    let later = now + 120_000;
    let mut total = r1.applied + r2.applied;
    loop {
        let (x, y) = tokio::join!(
            s1.rollup_checks(&rollup, "one", 60_000, 7, later),
            s2.rollup_checks(&rollup, "two", 60_000, 7, later),
        );
        let (x, y) = (x.unwrap(), y.unwrap());
        total += x.applied + y.applied;
        assert!(!(x.leased && y.leased), "one lease holder at a time");
        if x.read + y.read == 0 {
            break;
        }
    }
    assert_eq!(total, 40);
    use sqlx::Row;
    let rows = sqlx::query(
        "SELECT COUNT(*), CAST(SUM(connected) AS BIGINT) FROM check_buckets WHERE width = '1h'",
    )
    .fetch_one(s1.pool())
    .await
    .unwrap();
    let (n, sum): (i64, i64) = (rows.try_get(0).unwrap(), rows.try_get(1).unwrap());
    assert_eq!((n, sum), (1, 40), "one bucket, every check once");
    s1.close().await;
    s2.close().await;
}

async fn retention_deletes_exactly_the_expired_rows(url: Option<String>) {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(opts(&dir, &url)).await.unwrap();
    let a = store.create_service("a", &data("x")).await.unwrap().id;
    let now = T0 + 200 * DAY_MS + 30 * MINUTE_MS;
    let settings = RetentionSettings {
        batch_size: 3,
        ..RetentionSettings::default()
    };
    let cut = settings.cutoffs(now);
    // Raw: 10 results just before the raw cutoff, 2 at it; hourly and daily buckets either side.
    let mut raw = Vec::new();
    for i in 0..10 {
        raw.push((
            a,
            CheckSample {
                at_ms: cut.raw_before_ms - 1 - i * MINUTE_MS,
                status: Status::Connected,
                failure: None,
                latency_ms: 5,
            },
        ));
    }
    // Old results far back in time make hourly and daily buckets to expire.
    for at in [
        cut.hourly_before_ms - HOUR_MS,
        cut.hourly_before_ms,
        cut.daily_before_ms - DAY_MS,
        cut.daily_before_ms,
    ] {
        raw.push((
            a,
            CheckSample {
                at_ms: at,
                status: Status::Failed,
                failure: Some(FailureKind::Timeout),
                latency_ms: 5,
            },
        ));
    }
    raw.sort_by_key(|r| r.1.at_ms);
    assert_eq!(store.bulk_insert_raw(&raw).await.unwrap(), 14);
    for at in [cut.raw_before_ms, cut.raw_before_ms + 1] {
        store
            .record_result(&check(a, at, Status::Connected, 5))
            .await
            .unwrap();
    }
    assert_eq!(roll_all(&store, "i", 100, now).await, 16);
    // A result not rolled up yet is never deleted, however old.
    store
        .bulk_insert_raw(&[(
            a,
            CheckSample {
                at_ms: cut.raw_before_ms - DAY_MS,
                status: Status::Connected,
                failure: None,
                latency_ms: 5,
            },
        )])
        .await
        .unwrap();
    let report = store.apply_retention(&cut).await.unwrap();
    // 14 old raw rows expire (10 recent-ish + 4 ancient); the unrolled one and the 2 at the
    // cutoff stay.
    assert_eq!(report.raw_checks, 14, "{report:?}");
    assert_eq!(count(&store, "SELECT COUNT(*) FROM check_results").await, 3);
    // Hourly: the bucket before the cutoff goes, the one at it stays (the two recent hours
    // stay too). Daily: likewise.
    // Hourly: the hour before the hourly cutoff and the two ancient ones go; the hour at the
    // cutoff and the recent one stay. Daily: only the day before the daily cutoff goes.
    assert_eq!(report.hourly, 3, "{report:?}");
    assert_eq!(report.daily, 1, "{report:?}");
    assert_eq!(
        count(
            &store,
            "SELECT COUNT(*) FROM check_buckets WHERE width = '1h'"
        )
        .await,
        2
    );
    assert_eq!(
        count(
            &store,
            "SELECT COUNT(*) FROM check_buckets WHERE width = '1d'"
        )
        .await,
        4
    );
    // The service's latest result is never deleted, even when old.
    assert_eq!(
        store.apply_retention(&cut).await.unwrap(),
        RetentionReport::default()
    );
    let later = settings.cutoffs(now + 10 * DAY_MS);
    roll_all(&store, "i", 100, now).await;
    store.apply_retention(&later).await.unwrap();
    assert_eq!(
        count(&store, "SELECT COUNT(*) FROM check_results").await,
        1,
        "only the latest result remains"
    );
    assert_eq!(store.latest_results().await.unwrap().len(), 1);
    store.close().await;
}

async fn metric_history_is_idempotent_and_capped(url: Option<String>) {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(opts(&dir, &url)).await.unwrap();
    let a = store.create_service("a", &data("x")).await.unwrap().id;
    let m = |v: f64, repo: &str| {
        Metric::new("cost_mtd_total", v, Unit::currency("usd")).label("repo", repo)
    };
    let at1 = T0 + 3 * HOUR_MS;
    let at2 = at1 + 10 * MINUTE_MS;
    let at3 = T0 + DAY_MS + HOUR_MS;
    let first = MetricSample::from_metrics(&[m(1.0, "x"), m(5.0, "y")], at1);
    let r = store
        .record_metric_samples(a, first.clone(), 2)
        .await
        .unwrap();
    assert_eq!((r.stored, r.dropped), (2, 0));
    // Again: nothing new.
    let r = store.record_metric_samples(a, first, 2).await.unwrap();
    assert_eq!(r.stored, 0);
    // A third series is over the cap of 2.
    let r = store
        .record_metric_samples(
            a,
            MetricSample::from_metrics(&[m(2.0, "x"), m(9.0, "z")], at2),
            2,
        )
        .await
        .unwrap();
    assert_eq!((r.stored, r.dropped), (1, 1));
    assert!(r.note.unwrap().contains("maximum of 2 series"));
    store
        .record_metric_samples(a, MetricSample::from_metrics(&[m(3.0, "x")], at3), 2)
        .await
        .unwrap();
    let days = store
        .metric_history(a, "cost_mtd_total", BucketWidth::Day, T0, T0 + 2 * DAY_MS)
        .await
        .unwrap();
    assert_eq!(days.len(), 2);
    assert_eq!(days[0].key.to_string(), "cost_mtd_total{repo=\"x\"}");
    let x: Vec<(f64, f64, f64)> = days[0]
        .points
        .iter()
        .map(|p| (p.last, p.min, p.max))
        .collect();
    assert_eq!(x, [(2.0, 1.0, 2.0), (3.0, 3.0, 3.0)]);
    assert_eq!(days[0].points[0].unit, Unit::currency("usd"));
    let hours = store
        .metric_history(a, "cost_mtd_total", BucketWidth::Hour, T0, T0 + DAY_MS)
        .await
        .unwrap();
    assert_eq!(hours[0].points.len(), 1);
    // `_` in a name is not a wildcard; an unknown name has no history.
    assert!(
        store
            .metric_history(a, "cost_mtd_tota_", BucketWidth::Day, T0, T0 + 2 * DAY_MS)
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(store.last_metric_sample_at(a).await.unwrap(), Some(at3));
    store.close().await;
}

async fn count(store: &Store, sql: &'static str) -> i64 {
    use sqlx::Row;
    let r = sqlx::query(sql).fetch_one(store.pool()).await.unwrap();
    r.try_get::<i64, _>(0).unwrap()
}
