//! Store tests against both backends: CRUD with optimistic concurrency, the scheduler lease
//! compare-and-set, tokens, key rotation and wrong-key errors, and no plaintext at rest.

// Tests may panic on unexpected values; that is how they fail.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use opsdeck_store::*;
use secrecy::{ExposeSecret, SecretString};
use sqlx::migrate::MigrateDatabase;
use std::collections::BTreeMap;

async fn pg_url() -> String {
    sqlx::any::install_default_drivers();
    let url = format!(
        "postgres://postgres@127.0.0.1:5432/opsdeck_t_{:016x}",
        rand::random::<u64>()
    );
    sqlx::Any::create_database(&url).await.unwrap();
    url
}

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

async fn exercise(url: Option<String>) {
    let dir = tempfile::tempdir().unwrap();
    let opts = StoreOptions {
        database_url: url.clone(),
        data_dir: dir.path().to_owned(),
        secret_key: None,
    };
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
    let due = store.due_services(now, 10).await.unwrap();
    assert_eq!(due.len(), 1);
    assert!(
        store
            .claim(due[0].service_id, "a", now, 1000)
            .await
            .unwrap()
    );
    assert!(
        !store
            .claim(due[0].service_id, "b", now, 1000)
            .await
            .unwrap()
    );
    let res = NewCheckResult {
        service_id: due[0].service_id,
        checked_at: now,
        status: "connected".into(),
        failure: None,
        latency_ms: 5,
        message: "ok".into(),
        identity: Some("me".into()),
        instance: Some("a".into()),
    };
    assert!(!store.complete("b", now + 1000, &res).await.unwrap());
    assert!(store.complete("a", now + 1000, &res).await.unwrap());
    assert_eq!(store.latest_results().await.unwrap().len(), 1);
    assert!(store.due_services(now, 10).await.unwrap().is_empty());
    // lease expiry takeover
    assert!(
        store
            .claim(due[0].service_id, "a", now + 1000, 100)
            .await
            .unwrap()
    );
    assert!(
        store
            .claim(due[0].service_id, "b", now + 1200, 100)
            .await
            .unwrap()
    );
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
    if let Some(url) = &url {
        let _ = sqlx::Any::force_drop_database(url).await;
    }
    if url.is_none() {
        let bytes = std::fs::read(dir.path().join("opsdeck.db")).unwrap();
        let wal = std::fs::read(dir.path().join("opsdeck.db-wal")).unwrap_or_default();
        let hay = [bytes, wal].concat();
        assert!(!hay.windows(16).any(|w| w == b"sekrit-plaintext"));
    }
}

#[tokio::test]
async fn sqlite() {
    exercise(None).await
}
#[tokio::test]
async fn postgres() {
    exercise(Some(pg_url().await)).await
}
