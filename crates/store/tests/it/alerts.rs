//! Alerts: channels with sealed write-only secrets, definitions with versions, the evaluation
//! transaction (cursor, state, history, outbox together) and the outbox lease.

use super::*;
use serde_json::json;

on_both!(
    channels_and_configs,
    evaluation_commits_state_history_and_outbox_together,
    outbox_lease_and_finish,
    results_cursor_waits_for_late_commits
);

fn channel() -> ChannelData {
    let mut secrets = BTreeMap::new();
    secrets.insert(
        "url".to_owned(),
        SecretString::from("https://hooks.example.com/T0K3N".to_owned()),
    );
    secrets.insert(
        "secret".to_owned(),
        SecretString::from("signing-secret-0123456789".to_owned()),
    );
    let mut config = serde_json::Map::new();
    config.insert("kind".into(), "webhook".into());
    ChannelData {
        kind: "webhook".into(),
        config,
        secrets,
        provisioned: false,
    }
}

async fn channels_and_configs(url: Option<String>) {
    let dir = tempfile::tempdir().unwrap();
    let mut store = Store::open(opts(&dir, &url)).await.unwrap();
    let c = store.create_channel("ops-hook", &channel()).await.unwrap();
    assert_eq!(c.version, 1);
    assert_eq!(
        c.secret_fields().collect::<Vec<_>>(),
        ["secret", "url"],
        "names only"
    );
    assert!(matches!(
        store.create_channel("ops-hook", &channel()).await,
        Err(StoreError::AlreadyExists { .. })
    ));
    // No plaintext at rest.
    let raw: String = sqlx::query_scalar("SELECT secrets FROM alert_channels")
        .fetch_one(store.pool())
        .await
        .unwrap();
    assert!(!raw.contains("T0K3N") && !raw.contains("signing-secret"));
    let open = store.decrypt_channel_secrets(&c).unwrap();
    assert_eq!(
        open["url"].expose_secret(),
        "https://hooks.example.com/T0K3N"
    );
    assert!(matches!(
        store.update_channel("ops-hook", Some(7), &channel()).await,
        Err(StoreError::StaleVersion { current: 1, .. })
    ));
    let c2 = store
        .update_channel("ops-hook", Some(1), &channel())
        .await
        .unwrap();
    assert_eq!(c2.version, 2);
    // A key rotation re-seals channel secrets too.
    store
        .rotate_key(SecretKey::parse(&"ab".repeat(32), "test").unwrap())
        .await
        .unwrap();
    let c3 = store.find_channel("ops-hook").await.unwrap().unwrap();
    assert_eq!(
        store.decrypt_channel_secrets(&c3).unwrap()["secret"].expose_secret(),
        "signing-secret-0123456789"
    );
    store.delete_channel("ops-hook").await.unwrap();
    assert!(store.list_channels().await.unwrap().is_empty());

    let body = json!({"condition": "status", "services": ["*"], "channels": []});
    let r = store
        .create_alert_config(ConfigKind::Alert, "down", &body, true)
        .await
        .unwrap();
    assert!(r.provisioned);
    assert_eq!(r.body, body);
    let r = store
        .update_alert_config(ConfigKind::Alert, "down", Some(1), &json!({"x": 1}), false)
        .await
        .unwrap();
    assert_eq!((r.version, r.provisioned), (2, false));
    assert!(
        store
            .list_alert_configs(ConfigKind::Budget)
            .await
            .unwrap()
            .is_empty()
    );
    store
        .delete_alert_config(ConfigKind::Alert, "down")
        .await
        .unwrap();
    assert!(matches!(
        store.delete_alert_config(ConfigKind::Alert, "down").await,
        Err(StoreError::NotFound { .. })
    ));
    store.close().await;
}

async fn evaluation_commits_state_history_and_outbox_together(url: Option<String>) {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(opts(&dir, &url)).await.unwrap();
    let svc = store.create_service("gh", &data("t")).await.unwrap();
    store
        .record_result(&result(svc.id, None, 1_000))
        .await
        .unwrap();

    // First evaluation: no cursor yet.
    let (mut tx, cursor) = store.begin_alert_eval("results").await.unwrap();
    assert_eq!(cursor, None);
    let rows = tx.results_after(0, 100).await.unwrap();
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].service, "gh");
    assert_eq!(rows[0].tags, ["a"]);
    tx.put_state("down", svc.id, &json!({"firing": true}), true, 5)
        .await
        .unwrap();
    let h = tx
        .add_history(&NewHistory {
            at: 5,
            event: "alert.firing".into(),
            rule: "down".into(),
            service: Some("gh".into()),
            provider: Some("github".into()),
            message: "failed".into(),
            notified: true,
            suppressed: None,
            detail: None,
        })
        .await
        .unwrap();
    tx.enqueue(
        &NewOutbox {
            delivery: "d-1".into(),
            channel: "ops-hook".into(),
            notification: json!({"type": "test"}),
            history_id: Some(h),
        },
        5,
    )
    .await
    .unwrap();
    tx.set_cursor("results", rows[0].result.id).await.unwrap();
    // Rolled back: nothing of it exists.
    tx.rollback().await.unwrap();
    assert!(store.outbox(10).await.unwrap().is_empty());
    assert!(store.alert_states().await.unwrap().is_empty());

    let (mut tx, cursor) = store.begin_alert_eval("results").await.unwrap();
    assert_eq!(cursor, None);
    tx.put_state("down", svc.id, &json!({"firing": true}), true, 5)
        .await
        .unwrap();
    tx.enqueue(
        &NewOutbox {
            delivery: "d-1".into(),
            channel: "ops-hook".into(),
            notification: json!({"type": "test"}),
            history_id: None,
        },
        5,
    )
    .await
    .unwrap();
    tx.add_rate_limit(svc.id, 10, &json!({"remaining": 5}), 0)
        .await
        .unwrap();
    assert_eq!(tx.rate_limits(svc.id, 0).await.unwrap().len(), 1);
    tx.put_budget_state("ai", &json!({"month": null}), 5)
        .await
        .unwrap();
    tx.set_cursor("results", 1).await.unwrap();
    tx.commit().await.unwrap();
    let (tx, cursor) = store.begin_alert_eval("results").await.unwrap();
    assert_eq!(cursor, Some(1));
    tx.rollback().await.unwrap();
    let states = store.alert_states().await.unwrap();
    assert_eq!(states.len(), 1);
    assert!(states[0].firing);
    assert_eq!(states[0].service, "gh");
    assert_eq!(store.outbox(10).await.unwrap().len(), 1);
    assert!(store.budget_states().await.unwrap().contains_key("ai"));
    store.close().await;
}

async fn outbox_lease_and_finish(url: Option<String>) {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(opts(&dir, &url)).await.unwrap();
    let (mut tx, _) = store.begin_alert_eval("results").await.unwrap();
    for d in ["d-1", "d-2"] {
        tx.enqueue(
            &NewOutbox {
                delivery: d.into(),
                channel: "c".into(),
                notification: json!({"type": "test"}),
                history_id: None,
            },
            100,
        )
        .await
        .unwrap();
    }
    tx.commit().await.unwrap();
    let a = store.claim_outbox("a", 100, 1_000, 1).await.unwrap();
    assert_eq!(a.len(), 1);
    assert_eq!(a[0].attempts, 1);
    // Leased rows are not claimed again by another instance while the lease holds.
    let b = store.claim_outbox("b", 100, 5_000, 10).await.unwrap();
    assert_eq!(b.len(), 1);
    assert_ne!(b[0].delivery, a[0].delivery);
    assert!(
        store
            .claim_outbox("c", 500, 1_000, 10)
            .await
            .unwrap()
            .is_empty()
    );
    // A retry: due again later, same delivery id.
    assert!(
        store
            .finish_outbox(
                a[0].id,
                "a",
                &AttemptResult::Retry {
                    at: 2_000,
                    error: "500".into()
                },
                200
            )
            .await
            .unwrap()
    );
    assert!(
        store
            .claim_outbox("a", 1_500, 1_000, 10)
            .await
            .unwrap()
            .is_empty()
    );
    let again = store.claim_outbox("a", 2_000, 1_000, 10).await.unwrap();
    assert_eq!(again.len(), 1);
    assert_eq!(again[0].delivery, a[0].delivery);
    assert_eq!(again[0].attempts, 2);
    assert_eq!(again[0].last_error.as_deref(), Some("500"));
    for (r, owner) in [(&again[0], "a"), (&b[0], "b")] {
        assert!(
            store
                .finish_outbox(r.id, owner, &AttemptResult::Delivered, 2_001)
                .await
                .unwrap()
        );
    }
    // An instance that dies mid-send loses its lease; another takes the row over and the late
    // report of the first is refused.
    let (mut tx, _) = store.begin_alert_eval("results").await.unwrap();
    tx.enqueue(
        &NewOutbox {
            delivery: "d-3".into(),
            channel: "c".into(),
            notification: json!({"type": "test"}),
            history_id: None,
        },
        3_000,
    )
    .await
    .unwrap();
    tx.commit().await.unwrap();
    let x = store.claim_outbox("x", 3_000, 100, 10).await.unwrap();
    assert_eq!(x.len(), 1);
    let y = store.claim_outbox("y", 3_200, 100, 10).await.unwrap();
    assert_eq!((y.len(), y[0].attempts), (1, 2));
    assert!(
        !store
            .finish_outbox(x[0].id, "x", &AttemptResult::Delivered, 3_201)
            .await
            .unwrap()
    );
    assert!(
        store
            .finish_outbox(
                y[0].id,
                "y",
                &AttemptResult::GaveUp {
                    error: "410".into()
                },
                3_201
            )
            .await
            .unwrap()
    );
    let rows = store.outbox(10).await.unwrap();
    assert_eq!(
        rows.iter().map(|r| r.state).collect::<Vec<_>>(),
        [
            OutboxState::GaveUp,
            OutboxState::Delivered,
            OutboxState::Delivered
        ]
    );
    assert_eq!(store.next_outbox_due().await.unwrap(), None);
    assert!(
        store
            .claim_outbox("a", 9_000, 1_000, 10)
            .await
            .unwrap()
            .is_empty()
    );
    store.close().await;
}

/// The evaluator's results cursor keeps the ids it jumped over: a lower id that commits after a
/// higher one (concurrent checks on PostgreSQL) is still judged, once.
async fn results_cursor_waits_for_late_commits(url: Option<String>) {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(opts(&dir, &url)).await.unwrap();
    let svc = store.create_service("gh", &data("t")).await.unwrap();
    let RecordOutcome::Stored { result_id, .. } =
        store.record_result(&result(svc.id, None, 1)).await.unwrap()
    else {
        panic!("not stored");
    };
    // One evaluation pass as the server runs it: read, advance over what was read, save.
    let pass = || {
        let store = store.clone();
        async move {
            let (mut tx, cursor) = store.begin_alert_eval("results").await.unwrap();
            let mut position = tx
                .results_cursor("results", cursor.unwrap_or_default())
                .await
                .unwrap();
            let rows = tx.results_after_cursor(&position, 100).await.unwrap();
            for r in &rows {
                position.advance(r.result.id, 0, 1_000);
            }
            tx.set_results_cursor("results", &position).await.unwrap();
            tx.commit().await.unwrap();
            rows.iter().map(|r| r.result.id).collect::<Vec<i64>>()
        }
    };
    assert_eq!(pass().await, [result_id]);
    assert!(!store.results_pending("results").await.unwrap());
    // result_id + 2 commits first; + 1 is still in flight.
    super::insert_result_with_id(&store, result_id + 2, svc.id, result_id + 2).await;
    assert!(store.results_pending("results").await.unwrap());
    assert_eq!(pass().await, [result_id + 2]);
    assert!(
        !store.results_pending("results").await.unwrap(),
        "+1 not there yet"
    );
    super::insert_result_with_id(&store, result_id + 1, svc.id, result_id + 1).await;
    assert!(
        store.results_pending("results").await.unwrap(),
        "the late commit is seen"
    );
    assert_eq!(pass().await, [result_id + 1]);
    assert!(!store.results_pending("results").await.unwrap());
    assert!(pass().await.is_empty(), "judged once");
    store.close().await;
}
