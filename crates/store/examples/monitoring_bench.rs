//! The monitoring benchmark (`cargo xtask bench --only monitoring` runs it in release on SQLite
//! and PostgreSQL; figures in docs/benchmarks.md).
//!
//! For `--services N` services (default 1,000) and `--days D` of minute checks (default 30):
//! 1. **ingest**: the last 48 h of minute checks (N × 2,880 results) are inserted as raw rows
//!    in time order and rolled up through the same store path the server's monitoring loop
//!    uses (`Store::rollup_checks`: buckets, events, cursor); reported as results/s for the
//!    insert, the rollup, and both together. A sample of 20,000 results also goes through the
//!    guarded `record_results` path the check pipeline uses, for comparison;
//! 2. the older `D − 2` days are written as the hourly and daily buckets the rollup would have
//!    produced (the issue allows "the equivalent rollups plus 48 h of raw rows"), so the
//!    database holds what retention keeps for a service watched every minute for D days;
//! 3. **size**: database bytes ÷ (N × D × 24) service-hours;
//! 4. **reads**, each timed over repeated calls against a baseline measured in the same run (a
//!    plain `SELECT COUNT(*) FROM services`): 30-day uptime of one service, 30-day uptime of
//!    every service (the status document's figure), the 90-bar strip of one service (90 days by
//!    day), the 96-bar 24 h strip (15-minute buckets from raw rows), and the dashboard's 24 h
//!    strips of every service in one call against one service's.
//!
//! `--backend sqlite|postgres` (PostgreSQL: a fresh schema in `OPSDECK_TEST_DATABASE_URL`,
//! default the local `test` database). Prints one JSON object.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::print_stdout)]

use std::collections::BTreeMap;
use std::time::Instant;

use opsdeck_core::{FailureKind, Status};
use opsdeck_monitor::history::{Bucket, CheckSample};
use opsdeck_monitor::retention::RetentionSettings;
use opsdeck_monitor::rollup::Rollup;
use opsdeck_monitor::time::{BucketWidth, DAY_MS, HOUR_MS, MINUTE_MS};
use opsdeck_store::{NewCheckResult, ServiceData, Store, StoreOptions};
use secrecy::SecretString;
use sqlx::Row;

fn arg(args: &[String], name: &str) -> Option<String> {
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1).cloned())
}

/// A cheap deterministic hash (splitmix64) so every run generates the same history.
fn mix(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    x = (x ^ (x >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    x ^ (x >> 31)
}

/// The check of service `s` at minute `m`: ~0.3 % failed, ~0.2 % unknown, latency 60–260 ms
/// with a slow tail.
fn sample(s: i64, m: i64, at_ms: i64) -> CheckSample {
    let h = mix((s as u64) << 32 ^ m as u64);
    let roll = h % 1000;
    let (status, failure) = if roll < 3 {
        (Status::Failed, Some(FailureKind::Timeout))
    } else if roll < 5 {
        (Status::Unknown, Some(FailureKind::RateLimited))
    } else {
        (Status::Connected, None)
    };
    let mut latency_ms = 60 + (h >> 12) % 200;
    if (h >> 40).is_multiple_of(100) {
        latency_ms += 1500;
    }
    CheckSample {
        at_ms,
        status,
        failure,
        latency_ms,
    }
}

struct Timing {
    median_us: f64,
    p95_us: f64,
}

async fn time<F, Fut>(reps: usize, mut f: F) -> Timing
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    // One warm-up call (caches, prepared statements), then `reps` timed ones.
    f().await;
    let mut v: Vec<f64> = Vec::with_capacity(reps);
    for _ in 0..reps {
        let t = Instant::now();
        f().await;
        v.push(t.elapsed().as_secs_f64() * 1e6);
    }
    v.sort_by(|a, b| a.total_cmp(b));
    Timing {
        median_us: v[v.len() / 2],
        p95_us: v[(v.len() * 95 / 100).min(v.len() - 1)],
    }
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    let services: i64 = arg(&args, "--services").map_or(1000, |v| v.parse().unwrap());
    let days: i64 = arg(&args, "--days").map_or(30, |v| v.parse().unwrap());
    let backend = arg(&args, "--backend").unwrap_or_else(|| "sqlite".into());
    let dir = tempfile::tempdir().unwrap();
    let url = match backend.as_str() {
        "sqlite" => None,
        "postgres" => Some(
            opsdeck_store::testing::postgres_url("monitoring bench")
                .await
                .expect("PostgreSQL for the benchmark"),
        ),
        other => panic!("--backend sqlite|postgres, not {other}"),
    };
    let store = Store::open(StoreOptions {
        database_url: url.clone(),
        data_dir: dir.path().to_owned(),
        secret_key: Some(SecretString::from("42".repeat(32))),
    })
    .await
    .unwrap();

    let mut ids = Vec::new();
    for i in 0..services {
        let mut secrets = BTreeMap::new();
        secrets.insert("token".to_owned(), SecretString::from("bench".to_owned()));
        let data = ServiceData {
            provider: "mock".into(),
            config: serde_json::Map::new(),
            secrets,
            tags: vec![],
            enabled: true,
            interval_secs: Some(60),
            provisioned: false,
        };
        ids.push(
            store
                .create_service(&format!("svc-{i:04}"), &data)
                .await
                .unwrap()
                .id,
        );
    }

    let now = BucketWidth::Hour.align(opsdeck_store::now_ms()) + 30 * MINUTE_MS;
    let raw_from = now - 48 * HOUR_MS;
    let history_from = BucketWidth::Day.align(now - days * DAY_MS);

    // 2. Older days as the rollup would have stored them (hourly + daily), per service.
    let t = Instant::now();
    let mut older_buckets = 0u64;
    for (si, &id) in ids.iter().enumerate() {
        let mut rows = Vec::new();
        let mut day: Option<Bucket> = None;
        let mut hour = history_from;
        while hour < BucketWidth::Hour.align(raw_from) {
            let mut b = Bucket::containing(BucketWidth::Hour, hour);
            for m in 0..60 {
                let at = hour + m * MINUTE_MS;
                b.add(&sample(si as i64, at / MINUTE_MS, at)).unwrap();
            }
            let d = day.get_or_insert_with(|| Bucket::containing(BucketWidth::Day, hour));
            if !d.contains(hour) {
                rows.push((id, d.clone()));
                *d = Bucket::containing(BucketWidth::Day, hour);
            }
            d.merge(&b).unwrap();
            rows.push((id, b));
            hour += HOUR_MS;
        }
        // The day the raw part starts in is completed by the rollup below: store its head now.
        if let Some(d) = day {
            rows.push((id, d));
        }
        older_buckets += store.bulk_insert_buckets(&rows).await.unwrap();
    }
    let older_secs = t.elapsed().as_secs_f64();

    // 1. Ingest: 48 h of minute checks, raw rows in time order, rolled up as they arrive.
    let minutes = 48 * 60;
    let chunk_minutes = 10;
    let (mut insert_secs, mut rollup_secs) = (0.0, 0.0);
    let rollup = Rollup::default();
    let mut ingested = 0u64;
    let mut m0 = 0;
    while m0 < minutes {
        let mut rows = Vec::with_capacity((chunk_minutes * services) as usize);
        for m in m0..(m0 + chunk_minutes).min(minutes) {
            let at = raw_from + m * MINUTE_MS;
            for (si, &id) in ids.iter().enumerate() {
                rows.push((id, sample(si as i64, at / MINUTE_MS, at)));
            }
        }
        let t = Instant::now();
        ingested += store.bulk_insert_raw(&rows).await.unwrap();
        insert_secs += t.elapsed().as_secs_f64();
        let t = Instant::now();
        loop {
            let step = store
                .rollup_checks(&rollup, "bench", 60_000, 5_000, now)
                .await
                .unwrap();
            if step.read < 5_000 {
                break;
            }
        }
        rollup_secs += t.elapsed().as_secs_f64();
        m0 += chunk_minutes;
    }
    // The guarded path of the check pipeline (one transaction per batch of 100, as test-all).
    let guarded_n = 20_000i64;
    let t = Instant::now();
    let mut batch = Vec::new();
    for i in 0..guarded_n {
        let si = (i % services) as usize;
        batch.push(NewCheckResult {
            service_id: ids[si],
            config_version: None,
            checked_at: now - MINUTE_MS + (i % 60) * 1000,
            status: Status::Connected,
            failure: None,
            latency_ms: 100,
            message: "Authenticated as bench".into(),
            identity: Some("bench".into()),
            instance: Some("bench".into()),
            hint: None,
            details: None,
        });
        if batch.len() == 100 {
            store.record_results(&batch).await.unwrap();
            batch.clear();
        }
    }
    let guarded_secs = t.elapsed().as_secs_f64();
    let t = Instant::now();
    loop {
        let step = store
            .rollup_checks(&rollup, "bench", 60_000, 5_000, now)
            .await
            .unwrap();
        if step.read < 5_000 {
            break;
        }
    }
    let guarded_rollup_secs = t.elapsed().as_secs_f64();
    // Retention at `now` (nothing is old enough yet; it must not delete what is kept).
    let cut = RetentionSettings::default().cutoffs(now);
    let deleted = store.apply_retention(&cut).await.unwrap();

    // 3. Size.
    let bytes: i64 = match url {
        None => {
            sqlx::query("PRAGMA wal_checkpoint(TRUNCATE)")
                .execute(store.pool())
                .await
                .unwrap();
            sqlx::query("VACUUM").execute(store.pool()).await.unwrap();
            let pages: i64 = sqlx::query("PRAGMA page_count")
                .fetch_one(store.pool())
                .await
                .unwrap()
                .try_get(0)
                .unwrap();
            let size: i64 = sqlx::query("PRAGMA page_size")
                .fetch_one(store.pool())
                .await
                .unwrap()
                .try_get(0)
                .unwrap();
            pages * size
        }
        Some(_) => {
            sqlx::query("VACUUM ANALYZE")
                .execute(store.pool())
                .await
                .unwrap();
            sqlx::query(
                "SELECT CAST(SUM(pg_total_relation_size(c.oid)) AS BIGINT) FROM pg_class c \
                 JOIN pg_namespace n ON n.oid = c.relnamespace \
                 WHERE n.nspname = current_schema() AND c.relkind = 'r'",
            )
            .fetch_one(store.pool())
            .await
            .unwrap()
            .try_get(0)
            .unwrap()
        }
    };
    let mut table_bytes = serde_json::Map::new();
    if url.is_none() {
        for t in [
            "check_results",
            "check_buckets",
            "status_events",
            "services",
        ] {
            let sql = sqlx::AssertSqlSafe(format!(
                "SELECT CAST(SUM(pgsize) AS BIGINT) FROM dbstat WHERE name = '{t}' OR name IN \
                 (SELECT name FROM sqlite_master WHERE tbl_name = '{t}' AND type = 'index')"
            ));
            if let Ok(r) = sqlx::query(sql).fetch_one(store.pool()).await {
                let v: Option<i64> = r.try_get(0).unwrap_or(None);
                table_bytes.insert(t.into(), v.into());
            }
        }
    }

    // 4. Reads.
    let avail = RetentionSettings::default().cutoffs(now).into();
    let to = BucketWidth::Hour.align(now) + HOUR_MS;
    let from30 = to - 30 * DAY_MS;
    let one = ids[ids.len() / 2];
    let reps = 200;
    let baseline = time(reps, || async {
        let _: i64 = sqlx::query("SELECT COUNT(*) FROM services")
            .fetch_one(store.pool())
            .await
            .unwrap()
            .try_get(0)
            .unwrap();
    })
    .await;
    let one_30d = time(reps, || async {
        let s = store.check_summary(one, from30, to, avail).await.unwrap();
        assert!(s.checks > 0);
    })
    .await;
    let all_30d = time(20, || async {
        let all = store.check_counts_all(from30, to, avail).await.unwrap();
        assert_eq!(all.len(), ids.len());
    })
    .await;
    let day_to = BucketWidth::Day.align(now) + DAY_MS;
    let strip_90 = time(reps, || async {
        let h = store
            .check_history(one, BucketWidth::Day, day_to - 90 * DAY_MS, day_to)
            .await
            .unwrap();
        assert_eq!(h.len(), 90);
    })
    .await;
    let q_to = BucketWidth::FifteenMinutes.align(now) + 15 * MINUTE_MS;
    let strip_24h = time(reps, || async {
        let h = store
            .check_history(one, BucketWidth::FifteenMinutes, q_to - DAY_MS, q_to)
            .await
            .unwrap();
        assert_eq!(h.len(), 96);
    })
    .await;
    // The dashboard's strips: every service's last 24 hours by hour in one call, against the
    // same strip of one service (what the dashboard asked per row before).
    let h_to = to;
    let strip_1h_one = time(reps, || async {
        let h = store
            .check_history(one, BucketWidth::Hour, h_to - DAY_MS, h_to)
            .await
            .unwrap();
        assert_eq!(h.len(), 24);
    })
    .await;
    let strips_1h_all = time(20, || async {
        let all = store
            .check_counts_history_all(&ids, BucketWidth::Hour, h_to - DAY_MS, h_to)
            .await
            .unwrap();
        assert_eq!(all.len(), ids.len());
    })
    .await;
    // Sanity: the rollup agrees with the raw rows over the last day.
    let s = store
        .check_summary(one, to - DAY_MS, to, avail)
        .await
        .unwrap();

    let service_hours = (services * days * 24) as f64;
    let r = |t: &Timing| {
        serde_json::json!({
            "median_ms": (t.median_us / 10.0).round() / 100.0,
            "p95_ms": (t.p95_us / 10.0).round() / 100.0,
            "ratio_to_baseline": ((t.median_us / baseline.median_us) * 10.0).round() / 10.0,
        })
    };
    let out = serde_json::json!({
        "backend": backend,
        "services": services,
        "days": days,
        "raw_results_ingested": ingested,
        "ingest_insert_results_per_s": (ingested as f64 / insert_secs).round(),
        "ingest_rollup_results_per_s": (ingested as f64 / rollup_secs).round(),
        "ingest_total_results_per_s": (ingested as f64 / (insert_secs + rollup_secs)).round(),
        "guarded_record_results_per_s": (guarded_n as f64 / guarded_secs).round(),
        "guarded_rollup_results_per_s": (guarded_n as f64 / guarded_rollup_secs).round(),
        "older_buckets_written": older_buckets,
        "older_buckets_secs": (older_secs * 10.0).round() / 10.0,
        "retention_deleted_raw": deleted.raw_checks,
        "db_bytes": bytes,
        "bytes_per_service_hour": (bytes as f64 / service_hours).round(),
        "table_bytes": table_bytes,
        "baseline_count_ms": (baseline.median_us / 10.0).round() / 100.0,
        "uptime_30d_one_service": r(&one_30d),
        "uptime_30d_all_services": r(&all_30d),
        "strip_90d_by_day_one_service": r(&strip_90),
        "strip_24h_by_15m_one_service": r(&strip_24h),
        "strip_24h_by_hour_one_service": r(&strip_1h_one),
        "strips_24h_by_hour_all_services": r(&strips_1h_all),
        "strips_all_vs_one_per_service": ((strips_1h_all.median_us
            / (strip_1h_one.median_us * ids.len() as f64))
            * 1000.0)
            .round()
            / 1000.0,
        "last_day_checks_one_service": s.checks,
    });
    println!("{}", serde_json::to_string_pretty(&out).unwrap());
    store.close().await;
    if let Some(u) = url {
        opsdeck_store::testing::drop_postgres(&u).await;
    }
}
