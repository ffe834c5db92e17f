//! Store tests against both backends: CRUD with optimistic concurrency, the scheduler's batched
//! claims, shares and lanes, results guarded against deleted and changed services, tokens, key
//! rotation and wrong-key errors, file modes, hostile text, and no plaintext at rest.

// Tests may panic on unexpected values; that is how they fail.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use opsdeck_core::{FailureKind, Status};
use opsdeck_store::testing::{drop_postgres, postgres_url};
use opsdeck_store::*;
use secrecy::{ExposeSecret, SecretString};
use std::collections::{BTreeMap, BTreeSet};

/// Runs `$name(Option<url>)` on SQLite and on PostgreSQL (skipped with a notice when it is down
/// outside CI).
macro_rules! on_both {
    ($($name:ident),* $(,)?) => {$(
        mod $name {
            #[tokio::test]
            async fn sqlite() {
                super::$name(None).await
            }
            #[tokio::test]
            async fn postgres() {
                let Some(url) = opsdeck_store::testing::postgres_url(concat!(stringify!($name), "::postgres")).await else {
                    return;
                };
                super::$name(Some(url.clone())).await;
                opsdeck_store::testing::drop_postgres(&url).await;
            }
        }
    )*};
}

on_both!(
    exercise,
    guarded_results,
    batched_claims_lanes_and_shares,
    concurrent_claims_stay_bounded,
    hostile_text_round_trips,
    provisioning_upsert_race,
    missing_key_check,
    fingerprint_tracks_changes
);

fn data(token: &str) -> ServiceData {
    let mut secrets = BTreeMap::new();
    secrets.insert("token".to_owned(), SecretString::from(token.to_owned()));
    let mut config = serde_json::Map::new();
    config.insert("base_url".into(), "http://x".into());
    ServiceData {
        provider: "github".into(),
        config,
        secrets,
        tags: vec!["a".into()],
        enabled: true,
        interval_secs: None,
        provisioned: false,
    }
}

fn opts(dir: &tempfile::TempDir, url: &Option<String>) -> StoreOptions {
    StoreOptions {
        database_url: url.clone(),
        data_dir: dir.path().to_owned(),
        secret_key: None,
    }
}

/// Inserts a failed result with a chosen id: a lower id "committing" after a higher one.
async fn insert_result_with_id(store: &Store, id: i64, service_id: i64, at: i64) {
    sqlx::query(
        "INSERT INTO check_results (id, service_id, checked_at, status, latency_ms, message) \
         VALUES ($1, $2, $3, 'failed', 1, 'late')",
    )
    .bind(id)
    .bind(service_id)
    .bind(at)
    .execute(store.pool())
    .await
    .unwrap();
}

fn result(service_id: i64, version: Option<i64>, at: i64) -> NewCheckResult {
    NewCheckResult {
        service_id,
        config_version: version,
        checked_at: at,
        status: Status::Connected,
        failure: None,
        latency_ms: 5,
        message: "ok".into(),
        identity: Some("me".into()),
        instance: Some("a".into()),
        hint: None,
        details: None,
    }
}

async fn exercise(url: Option<String>) {
    let dir = tempfile::tempdir().unwrap();
    let opts = opts(&dir, &url);
    let mut store = Store::open(opts.clone()).await.unwrap();
    let rec = store
        .create_service("gh", &data("sekrit-plaintext"))
        .await
        .unwrap();
    assert_eq!(rec.version, 1);
    assert!(matches!(
        store.create_service("gh", &data("x")).await,
        Err(StoreError::AlreadyExists { .. })
    ));
    let got = store.get_service("gh").await.unwrap();
    assert_eq!(
        store.decrypt_secrets(&got).unwrap()["token"].expose_secret(),
        "sekrit-plaintext"
    );
    let up = store
        .update_service("gh", Some(1), &data("new"))
        .await
        .unwrap();
    assert_eq!(up.version, 2);
    let e = store
        .update_service("gh", Some(1), &data("new"))
        .await
        .unwrap_err();
    assert!(
        matches!(
            e,
            StoreError::StaleVersion {
                expected: 1,
                current: 2
            }
        ),
        "{e}"
    );
    // scheduler
    let now = now_ms() + 10;
    let req = |owner, now, limit| ClaimRequest {
        owner,
        now,
        lease_ms: 1000,
        limit,
        lane: Lane::Fast,
        slow_ms: 5000,
        share: Share::ALL,
    };
    let claimed = store.claim_due(&req("a", now, 10)).await.unwrap();
    assert_eq!(claimed.len(), 1);
    assert_eq!(claimed[0].record.name, "gh");
    let id = claimed[0].record.id;
    assert!(
        store
            .claim_due(&req("b", now, 10))
            .await
            .unwrap()
            .is_empty()
    );
    let res = result(id, Some(2), now);
    assert_eq!(
        store.complete("b", now + 1000, &res).await.unwrap(),
        RecordOutcome::LeaseLost
    );
    assert!(matches!(
        store.complete("a", now + 1000, &res).await.unwrap(),
        RecordOutcome::Stored {
            previous_status: None,
            ..
        }
    ));
    let latest = store.latest_results().await.unwrap();
    assert_eq!(latest.len(), 1);
    assert_eq!(latest[0].result.status, Status::Connected);
    assert!(
        store
            .claim_due(&req("a", now, 10))
            .await
            .unwrap()
            .is_empty()
    );
    // lease expiry takeover
    assert!(store.claim(id, "a", now + 1000, 100).await.unwrap());
    assert!(store.claim(id, "b", now + 1200, 100).await.unwrap());
    // tokens
    let t = store.bootstrap_admin().await.unwrap().unwrap();
    assert!(store.bootstrap_admin().await.unwrap().is_none());
    let hashes = store.token_hashes().await.unwrap();
    assert_eq!(hashes[0].1, hash_token(t.expose_secret()));
    // rotation
    let newkey = SecretKey::generate("new").unwrap();
    let hexkey = newkey.to_hex().expose_secret().to_owned();
    store.rotate_key(newkey).await.unwrap();
    let got = store.get_service("gh").await.unwrap();
    assert_eq!(
        store.decrypt_secrets(&got).unwrap()["token"].expose_secret(),
        "new"
    );
    store.close().await;
    drop(store);
    // wrong key (the old key file) now fails clearly
    let e = Store::open(opts.clone()).await.unwrap_err().to_string();
    assert!(e.contains("does not match"), "{e}");
    let s2 = Store::open(StoreOptions {
        secret_key: Some(hexkey.into()),
        ..opts.clone()
    })
    .await
    .unwrap();
    assert_eq!(s2.list_services().await.unwrap().len(), 1);
    s2.delete_service("gh").await.unwrap();
    assert!(s2.latest_results().await.unwrap().is_empty());
    s2.close().await;
    if url.is_none() {
        let bytes = std::fs::read(dir.path().join("opsdeck.db")).unwrap();
        let wal = std::fs::read(dir.path().join("opsdeck.db-wal")).unwrap_or_default();
        let hay = [bytes, wal].concat();
        assert!(!hay.windows(16).any(|w| w == b"sekrit-plaintext"));
    }
}

/// Results of a deleted service, or of a config replaced mid-check, are dropped and say why;
/// the others in the same batch are stored; a PATCH releases the old config's lease.
async fn guarded_results(url: Option<String>) {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(opts(&dir, &url)).await.unwrap();
    let a = store.create_service("a", &data("t")).await.unwrap();
    let b = store.create_service("b", &data("t")).await.unwrap();
    let c = store.create_service("c", &data("t")).await.unwrap();
    let now = now_ms();
    store.delete_service("b").await.unwrap();
    store.update_service("c", None, &data("t2")).await.unwrap();
    let out = store
        .record_results(&[
            result(a.id, Some(a.version), now),
            result(b.id, Some(b.version), now),
            result(c.id, Some(c.version), now),
        ])
        .await
        .unwrap();
    assert!(matches!(out[0], RecordOutcome::Stored { .. }), "{out:?}");
    assert_eq!(out[1], RecordOutcome::ServiceDeleted);
    assert_eq!(out[2], RecordOutcome::ConfigChanged);
    // The next result of `a` knows what it replaces.
    let mut failed = result(a.id, None, now + 1);
    failed.status = Status::Failed;
    failed.failure = Some(FailureKind::InvalidCredentials);
    assert!(matches!(
        store.record_result(&failed).await.unwrap(),
        RecordOutcome::Stored {
            previous_status: Some(Status::Connected),
            ..
        }
    ));
    let latest = store.latest_results().await.unwrap();
    assert_eq!(latest.len(), 1);
    assert_eq!(
        latest[0].result.failure,
        Some(FailureKind::InvalidCredentials)
    );

    // A scheduled check of the old config after a PATCH: the lease is gone and the result is
    // not stored, even when this same instance claimed the service again meanwhile.
    let req = ClaimRequest {
        owner: "me",
        now: now_ms() + 5,
        lease_ms: 60_000,
        limit: 10,
        lane: Lane::Fast,
        slow_ms: 1_000_000,
        share: Share::ALL,
    };
    let claimed = store.claim_due(&req).await.unwrap();
    let c_claim = claimed.iter().find(|x| x.record.name == "c").unwrap();
    let old_version = c_claim.record.version;
    let patched = store.update_service("c", None, &data("t3")).await.unwrap();
    let again = store
        .claim_due(&ClaimRequest {
            now: now_ms() + 10,
            ..req
        })
        .await
        .unwrap();
    assert!(
        again.iter().any(|x| x.record.name == "c"),
        "PATCH released the lease"
    );
    assert_eq!(
        store
            .complete("me", now + 60_000, &result(c.id, Some(old_version), now))
            .await
            .unwrap(),
        RecordOutcome::ConfigChanged
    );
    // ...and the new claim still holds its lease and slot: the new config's result lands.
    assert!(matches!(
        store
            .complete(
                "me",
                now + 60_000,
                &result(c.id, Some(patched.version), now)
            )
            .await
            .unwrap(),
        RecordOutcome::Stored { .. }
    ));
    // Deleted mid-check (`a` is still leased to "me" from the first claim).
    assert!(claimed.iter().any(|x| x.record.name == "a"));
    store.delete_service("a").await.unwrap();
    assert_eq!(
        store
            .complete("me", now + 60_000, &result(a.id, Some(a.version), now))
            .await
            .unwrap(),
        RecordOutcome::ServiceDeleted
    );
    // Metrics of a deleted service are dropped too.
    assert!(
        !store
            .save_metrics(a.id, None, now, &serde_json::json!([]), &[], "")
            .await
            .unwrap()
    );
    assert!(
        store
            .save_metrics(
                c.id,
                Some(patched.version),
                now,
                &serde_json::json!([{"name": "x"}]),
                &["partial".into()],
                "x 1\n"
            )
            .await
            .unwrap()
    );
    let m = store.latest_metrics(c.id).await.unwrap().unwrap();
    assert_eq!(m.collected_at, now);
    assert_eq!(m.notes, vec!["partial".to_owned()]);
    assert!(m.problems.is_empty());
    // A partial collection keeps the failed sections beside the samples (issue 14).
    let problems = [opsdeck_core::MetricProblem::new(
        "charges",
        opsdeck_core::FailureKind::ProviderError,
        "HTTP 500 on /v1/charges",
    )];
    assert!(
        store
            .save_collection(
                c.id,
                Some(patched.version),
                &opsdeck_store::Collection {
                    collected_at: now + 1,
                    metrics: &serde_json::json!([{"name": "x"}]),
                    notes: &[],
                    problems: &problems,
                    prometheus: "x 1\n",
                }
            )
            .await
            .unwrap()
    );
    let m = store.latest_metrics(c.id).await.unwrap().unwrap();
    assert_eq!(m.collected_at, now + 1);
    assert_eq!(m.problems, problems.to_vec());
    store.close().await;
}

/// Claims come in batches bounded by the caller's limit, most overdue first; slow services
/// (last check timed out or took long) are a separate lane; instances take their share by id
/// and anybody takes what is overdue past the grace period.
async fn batched_claims_lanes_and_shares(url: Option<String>) {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(opts(&dir, &url)).await.unwrap();
    let mut ids = Vec::new();
    for i in 0..10 {
        ids.push(
            store
                .create_service(&format!("s{i}"), &data("t"))
                .await
                .unwrap(),
        );
    }
    // s0 and s1 are slow: one timed out, one took 9 s.
    let now = now_ms();
    let mut timed_out = result(ids[0].id, None, now);
    timed_out.status = Status::Failed;
    timed_out.failure = Some(FailureKind::Timeout);
    let mut slow = result(ids[1].id, None, now);
    slow.latency_ms = 9_000;
    store.record_results(&[timed_out, slow]).await.unwrap();
    let base = ClaimRequest {
        owner: "x",
        now: now_ms() + 5,
        lease_ms: 60_000,
        limit: 3,
        lane: Lane::Fast,
        slow_ms: 5_000,
        share: Share::ALL,
    };
    let fast = store.claim_due(&base).await.unwrap();
    assert_eq!(fast.len(), 3, "bounded by the limit");
    assert!(
        fast.iter()
            .all(|c| c.record.name != "s0" && c.record.name != "s1")
    );
    let slow = store
        .claim_due(&ClaimRequest {
            lane: Lane::Slow,
            limit: 10,
            ..base
        })
        .await
        .unwrap();
    let names: BTreeSet<String> = slow.iter().map(|c| c.record.name.clone()).collect();
    assert_eq!(names, BTreeSet::from(["s0".to_owned(), "s1".to_owned()]));
    // Two instances: each takes only its share of what is not overdue past the grace.
    let share = |index| Share {
        index,
        of: 2,
        grace_ms: 60_000,
    };
    let a = store
        .claim_due(&ClaimRequest {
            owner: "a",
            limit: 100,
            share: share(0),
            ..base
        })
        .await
        .unwrap();
    let b = store
        .claim_due(&ClaimRequest {
            owner: "b",
            limit: 100,
            share: share(1),
            ..base
        })
        .await
        .unwrap();
    assert_eq!(a.len() + b.len(), 5, "the 5 fast services left");
    assert!(a.iter().all(|c| c.record.id % 2 == 0));
    assert!(b.iter().all(|c| c.record.id % 2 == 1));
    // Heartbeats: two live instances, ordered.
    let now = now_ms();
    let h1 = store
        .scheduler_heartbeat("i1", now, 5_000, 100)
        .await
        .unwrap();
    let h2 = store
        .scheduler_heartbeat("i2", now, 5_000, 100)
        .await
        .unwrap();
    if store.backend() == Backend::Postgres {
        assert_eq!((h1.of, h2.of), (1, 2));
        assert_eq!(h2.index, 1);
        let h1 = store
            .scheduler_heartbeat("i1", now, 5_000, 100)
            .await
            .unwrap();
        assert_eq!((h1.index, h1.of), (0, 2));
        store.release_leases("i2").await.unwrap();
        let h1 = store
            .scheduler_heartbeat("i1", now, 5_000, 100)
            .await
            .unwrap();
        assert_eq!(h1.of, 1, "a stopped instance leaves");
    } else {
        assert_eq!(h1, Share::ALL, "SQLite runs one instance");
    }
    store.close().await;
}

/// The same hostile strings go in and come out alike on both backends (PostgreSQL refuses NUL
/// in TEXT; the store turns it into U+FFFD everywhere).
/// Six instances claiming at once from 60 due services: no claim holds more than its limit,
/// no service is claimed twice, and together they claim every one.
async fn concurrent_claims_stay_bounded(url: Option<String>) {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(opts(&dir, &url)).await.unwrap();
    for i in 0..60 {
        store
            .create_service(&format!("s{i:02}"), &data("t"))
            .await
            .unwrap();
    }
    let now = now_ms() + 5;
    let owners = ["o0", "o1", "o2", "o3", "o4", "o5"];
    let mut seen: BTreeSet<i64> = BTreeSet::new();
    for _round in 0..20 {
        let mut set = tokio::task::JoinSet::new();
        for owner in owners {
            let store = store.clone();
            set.spawn(async move {
                store
                    .claim_due(&ClaimRequest {
                        owner,
                        now,
                        lease_ms: 60_000,
                        limit: 4,
                        lane: Lane::Fast,
                        slow_ms: 5_000,
                        share: Share::ALL,
                    })
                    .await
                    .unwrap()
            });
        }
        let got = set.join_all().await;
        if got.iter().all(Vec::is_empty) {
            break;
        }
        for claim in got {
            assert!(
                claim.len() <= 4,
                "a claim of {} over a limit of 4",
                claim.len()
            );
            for c in claim {
                assert!(seen.insert(c.record.id), "{} claimed twice", c.record.name);
            }
        }
    }
    assert_eq!(seen.len(), 60, "every due service claimed once");
    store.close().await;
}

async fn hostile_text_round_trips(url: Option<String>) {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(opts(&dir, &url)).await.unwrap();
    let hostile = [
        "nul\u{0}inside",
        "\u{0}",
        "bell\u{7}esc\u{1b}[31m",
        "rtl \u{202e}txet",
        "emoji 🦀 and \u{FFFF}",
        "line\nbreak\r\ttab",
        "'; DROP TABLE services; --",
    ];
    let mut d = data("t");
    d.tags = hostile.iter().map(|s| (*s).to_owned()).collect();
    d.config
        .insert("team".into(), serde_json::Value::String(hostile.join("|")));
    let rec = store.create_service("hostile", &d).await.unwrap();
    let back = store.get_service("hostile").await.unwrap();
    let clean = |s: &str| s.replace('\u{0}', "\u{FFFD}");
    assert_eq!(
        back.tags,
        hostile.iter().map(|s| clean(s)).collect::<Vec<_>>()
    );
    // JSON escapes NUL inside config, so it survives as is.
    assert_eq!(
        back.config["team"],
        serde_json::Value::String(hostile.join("|"))
    );
    for (i, h) in hostile.iter().enumerate() {
        let mut r = result(rec.id, None, 1_000 + i as i64);
        r.message = (*h).to_owned();
        r.identity = Some((*h).to_owned());
        assert!(matches!(
            store.record_result(&r).await.unwrap(),
            RecordOutcome::Stored { .. }
        ));
        let got = store.results_for(rec.id, 1).await.unwrap();
        assert_eq!(got[0].result.message, clean(h));
        assert_eq!(got[0].result.identity.as_deref(), Some(clean(h).as_str()));
        let (t, _) = store.create_token(h, Role::Read).await.unwrap();
        assert_eq!(t.name, clean(h));
    }
    // Looking a hostile name up is a miss, not an error.
    assert!(
        store
            .find_service("nul\u{0}inside")
            .await
            .unwrap()
            .is_none()
    );
    assert!(matches!(
        store.delete_service("\u{0}").await,
        Err(StoreError::NotFound { .. })
    ));
    store.close().await;
}

/// Two instances provisioning the same service at once: one creates it, the other finds it,
/// neither fails.
async fn provisioning_upsert_race(url: Option<String>) {
    let Some(url) = url else {
        // One instance per SQLite directory: there is no race to test.
        return;
    };
    let (d1, d2) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let key = Some(SecretString::from("11".repeat(32)));
    let url = Some(url);
    let o1 = StoreOptions {
        secret_key: key.clone(),
        ..opts(&d1, &url)
    };
    let o2 = StoreOptions {
        secret_key: key,
        ..opts(&d2, &url)
    };
    let (s1, s2) = tokio::join!(Store::open(o1), Store::open(o2));
    let (s1, s2) = (s1.unwrap(), s2.unwrap());
    for round in 0..5 {
        let name = format!("p{round}");
        let d = data("t");
        let (a, b) = tokio::join!(
            s1.create_service_if_absent(&name, &d),
            s2.create_service_if_absent(&name, &d)
        );
        let (a, b) = (a.unwrap(), b.unwrap());
        assert!(a.is_some() ^ b.is_some(), "exactly one creates {name}");
    }
    assert_eq!(s1.list_services().await.unwrap().len(), 5);
    s1.close().await;
    s2.close().await;
}

/// A lost `meta.key_check` with stored secrets: a key that does not open them is refused; the
/// right key is accepted and the check recorded again.
async fn missing_key_check(url: Option<String>) {
    let dir = tempfile::tempdir().unwrap();
    let key = "22".repeat(32);
    let o = StoreOptions {
        secret_key: Some(SecretString::from(key.clone())),
        ..opts(&dir, &url)
    };
    let store = Store::open(o.clone()).await.unwrap();
    store.create_service("s", &data("sekrit")).await.unwrap();
    store.meta_delete("key_check").await.unwrap();
    store.close().await;
    drop(store);
    let wrong = StoreOptions {
        secret_key: Some(SecretString::from("33".repeat(32))),
        ..o.clone()
    };
    let e = Store::open(wrong).await.unwrap_err();
    assert!(matches!(e, StoreError::KeyCheckMissing { .. }), "{e}");
    let store = Store::open(o.clone()).await.unwrap();
    assert!(store.meta("key_check").await.unwrap().is_some());
    store.close().await;
}

/// The fingerprint moves with every change the views show, and only then.
async fn fingerprint_tracks_changes(url: Option<String>) {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(opts(&dir, &url)).await.unwrap();
    let f0 = store.fingerprint().await.unwrap();
    assert_eq!(f0, store.fingerprint().await.unwrap());
    let s = store.create_service("s", &data("t")).await.unwrap();
    let f1 = store.fingerprint().await.unwrap();
    assert_ne!(f0.services, f1.services);
    store.record_result(&result(s.id, None, 1)).await.unwrap();
    let f2 = store.fingerprint().await.unwrap();
    assert_eq!(f1.services, f2.services);
    assert_ne!(f1.results, f2.results);
    store
        .save_metrics(s.id, None, 5, &serde_json::json!([]), &[], "")
        .await
        .unwrap();
    let f3 = store.fingerprint().await.unwrap();
    assert_ne!(f2.results, f3.results);
    let rows = store.status_rows().await.unwrap();
    assert_eq!(rows.len(), 1);
    assert_eq!(
        rows[0].last.as_ref().unwrap().result.status,
        Status::Connected
    );
    assert_eq!(rows[0].metrics.as_ref().unwrap().collected_at, 5);
    store.delete_service("s").await.unwrap();
    assert_ne!(store.fingerprint().await.unwrap(), f3);
    store.close().await;
}

/// The SQLite and PostgreSQL migration sets produce the same tables and columns.
#[tokio::test]
async fn migrations_match() {
    let Some(url) = postgres_url("migrations_match").await else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let lite = Store::open(opts(&dir, &None)).await.unwrap();
    let pg_dir = tempfile::tempdir().unwrap();
    let pg_url = Some(url.clone());
    let pg = Store::open(StoreOptions {
        secret_key: Some(SecretString::from("44".repeat(32))),
        ..opts(&pg_dir, &pg_url)
    })
    .await
    .unwrap();
    use sqlx::Row;
    let mut sqlite_cols = BTreeSet::new();
    let tables = sqlx::query(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' \
         AND name <> '_sqlx_migrations'",
    )
    .fetch_all(lite.pool())
    .await
    .unwrap();
    for t in tables {
        let table: String = t.try_get(0).unwrap();
        let sql = sqlx::AssertSqlSafe(format!(
            "SELECT name, \"notnull\" FROM pragma_table_info('{table}')"
        ));
        for c in sqlx::query(sql).fetch_all(lite.pool()).await.unwrap() {
            let name: String = c.try_get(0).unwrap();
            let not_null: i64 = c.try_get(1).unwrap();
            sqlite_cols.insert((table.clone(), name, not_null != 0));
        }
    }
    let mut pg_cols = BTreeSet::new();
    for c in sqlx::query(
        "SELECT table_name::text, column_name::text, is_nullable::text FROM information_schema.columns \
         WHERE table_schema = current_schema() AND table_name <> '_sqlx_migrations'",
    )
    .fetch_all(pg.pool())
    .await
    .unwrap()
    {
        let table: String = c.try_get(0).unwrap();
        let name: String = c.try_get(1).unwrap();
        let nullable: String = c.try_get(2).unwrap();
        pg_cols.insert((table, name, nullable == "NO"));
    }
    // SQLite reports a primary key column as nullable; PostgreSQL as NOT NULL. Compare the
    // nullability of non-key columns and the names of all.
    let names = |s: &BTreeSet<(String, String, bool)>| {
        s.iter()
            .map(|(t, c, _)| (t.clone(), c.clone()))
            .collect::<BTreeSet<_>>()
    };
    assert_eq!(names(&sqlite_cols), names(&pg_cols));
    assert!(names(&sqlite_cols).contains(&("scheduler_instances".into(), "seen_at".into())));
    for (t, c, nn) in &sqlite_cols {
        if *nn {
            assert!(
                pg_cols.contains(&(t.clone(), c.clone(), true)),
                "{t}.{c} NOT NULL on SQLite only"
            );
        }
    }
    lite.close().await;
    pg.close().await;
    drop_postgres(&url).await;
}

on_both!(file_modes_and_pending_key);

/// Data directory 0700, database and lock 0600 (SQLite), a world-readable key file fixed; a stray
/// `secret.key.new` that does not match the database is never renamed over the key.
async fn file_modes_and_pending_key(url: Option<String>) {
    use std::os::unix::fs::PermissionsExt;
    let sqlite = url.is_none();
    let dir = tempfile::tempdir().unwrap();
    let data_dir = dir.path().join("data");
    std::fs::create_dir(&data_dir).unwrap();
    std::fs::set_permissions(&data_dir, std::fs::Permissions::from_mode(0o755)).unwrap();
    let o = StoreOptions {
        database_url: url,
        data_dir: data_dir.clone(),
        secret_key: None,
    };
    let store = Store::open(o.clone()).await.unwrap();
    store.create_service("s", &data("t")).await.unwrap();
    store.close().await;
    drop(store);
    let mode = |p: &std::path::Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&data_dir), 0o700);
    let files: &[&str] = if sqlite {
        &["opsdeck.db", "opsdeckd.lock", "secret.key"]
    } else {
        &["secret.key"]
    };
    for f in files {
        assert_eq!(mode(&data_dir.join(f)), 0o600, "{f}");
    }
    // Loosened by hand: fixed at the next start.
    let key = data_dir.join("secret.key");
    std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o644)).unwrap();
    if sqlite {
        std::fs::set_permissions(
            data_dir.join("opsdeck.db"),
            std::fs::Permissions::from_mode(0o666),
        )
        .unwrap();
    }
    let good_key = std::fs::read_to_string(&key).unwrap();
    // A stray pending key that does not open the database, and a wrong current key.
    let stray = SecretKey::generate("stray").unwrap();
    opsdeck_store::crypto::write_key_file(&data_dir.join("secret.key.new"), &stray).unwrap();
    let store = Store::open(o.clone()).await.unwrap();
    assert_eq!(mode(&key), 0o600);
    if sqlite {
        assert_eq!(mode(&data_dir.join("opsdeck.db")), 0o600);
    }
    store.close().await;
    drop(store);
    std::fs::remove_file(&key).unwrap();
    opsdeck_store::crypto::write_key_file(&key, &SecretKey::generate("wrong").unwrap()).unwrap();
    let e = Store::open(o.clone()).await.unwrap_err().to_string();
    assert!(e.contains("does not match"), "{e}");
    assert!(
        data_dir.join("secret.key.new").exists(),
        "the unverified key was not used"
    );
    assert_ne!(std::fs::read_to_string(&key).unwrap(), good_key);
    assert_eq!(
        std::fs::read_to_string(data_dir.join("secret.key.new"))
            .unwrap()
            .trim(),
        stray.to_hex().expose_secret()
    );
    // The right pending key (an interrupted rotation) is renamed into place.
    std::fs::remove_file(data_dir.join("secret.key.new")).unwrap();
    std::fs::write(data_dir.join("secret.key.new"), &good_key).unwrap();
    let store = Store::open(o).await.unwrap();
    assert_eq!(std::fs::read_to_string(&key).unwrap(), good_key);
    store.close().await;
}

mod alerts;
mod history;
mod incidents;
