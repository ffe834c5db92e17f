//! Scheduled checks: every enabled service is tested on its interval, on exactly one instance.
//!
//! Each tick lists due, unleased services, shuffles them (so instances sharing a PostgreSQL
//! database spread the work instead of racing for the same rows), and claims each with the
//! store's compare-and-set lease. The winner runs the check and, in one transaction, stores the
//! result and moves the service to its next slot — only if it still holds the lease. An instance
//! that dies mid-check leaves the service due with an expiring lease; after the lease expires
//! another instance claims it.

use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use opsdeck_core::{ConnectionReport, Error, ServiceReport, Status};
use opsdeck_store::{Claim, now_ms};
use rand::seq::SliceRandom;
use tokio::sync::{Semaphore, watch};
use tokio::task::JoinSet;

use crate::runtime::result_row;
use crate::state::AppState;

fn ms(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

/// Runs until `stop` flips to true, then waits for running checks and releases leases.
pub async fn run(state: AppState, mut stop: watch::Receiver<bool>) {
    let concurrency = state.settings.check_concurrency.max(1);
    let sem = Arc::new(Semaphore::new(concurrency));
    let running: Arc<Mutex<HashSet<i64>>> = Arc::default();
    let mut tasks = JoinSet::new();
    tracing::info!(
        instance = %state.instance,
        interval_secs = state.settings.check_interval.as_secs(),
        concurrency,
        "scheduler started"
    );
    loop {
        tokio::select! {
            _ = stop.changed() => break,
            () = tokio::time::sleep(state.settings.scheduler_tick) => {}
        }
        while tasks.try_join_next().is_some() {}
        if let Err(e) = tick(&state, &sem, &running, &mut tasks).await {
            tracing::warn!(error = %e, "scheduler tick failed; retrying next tick");
        }
    }
    // Running checks are bounded by the check timeout, so this wait is too.
    while tasks.join_next().await.is_some() {}
    match state.store.release_leases(&state.instance).await {
        Ok(n) if n > 0 => tracing::info!(released = n, "released leases"),
        Ok(_) => {}
        Err(e) => tracing::warn!(error = %e, "could not release leases; they expire on their own"),
    }
}

async fn tick(
    state: &AppState,
    sem: &Arc<Semaphore>,
    running: &Arc<Mutex<HashSet<i64>>>,
    tasks: &mut JoinSet<()>,
) -> Result<(), opsdeck_store::StoreError> {
    let free = sem.available_permits();
    if free == 0 {
        return Ok(());
    }
    let now = now_ms();
    let limit = i64::try_from(free.saturating_mul(4).max(8)).unwrap_or(64);
    let mut due = state.store.due_services(now, limit).await?;
    due.shuffle(&mut rand::rng());
    for claim in due {
        let Ok(permit) = sem.clone().try_acquire_owned() else {
            break;
        };
        if running
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .contains(&claim.service_id)
        {
            continue;
        }
        if !state
            .store
            .claim(
                claim.service_id,
                &state.instance,
                now,
                ms(state.settings.lease),
            )
            .await?
        {
            continue;
        }
        running
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(claim.service_id);
        let state = state.clone();
        let running = running.clone();
        tasks.spawn(async move {
            let id = claim.service_id;
            run_claimed(&state, claim).await;
            running
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .remove(&id);
            drop(permit);
        });
    }
    Ok(())
}

async fn run_claimed(state: &AppState, claim: Claim) {
    let store = &state.store;
    let rec = match store.get_service_by_id(claim.service_id).await {
        Ok(Some(rec)) if rec.enabled => rec,
        Ok(_) => {
            // Deleted or disabled since it was listed: nothing to check.
            let _ = store.release_lease(claim.service_id, &state.instance).await;
            return;
        }
        Err(e) => {
            tracing::warn!(service = %claim.name, error = %e, "cannot load a claimed service");
            let _ = store.release_lease(claim.service_id, &state.instance).await;
            return;
        }
    };
    let report = match state.runtime.test(store, &rec).await {
        Ok(r) => r,
        // A stored config that no longer builds (e.g. a provider was compiled out) is a failed
        // check with a reason, not a silent skip.
        Err(e) => ServiceReport::new(
            &rec.name,
            &rec.provider,
            ConnectionReport::from_error(&Error::invalid_config(e.to_string()), Duration::ZERO),
        ),
    };
    let interval = rec
        .interval_secs
        .map_or(ms(state.settings.check_interval), |s| {
            s.saturating_mul(1000)
        });
    let now = now_ms();
    // Keep the cadence (due + interval) unless we fell behind, then restart from now: no drift,
    // and no burst of catch-up checks after downtime.
    let next = if claim.due_at.saturating_add(interval) > now {
        claim.due_at + interval
    } else {
        now.saturating_add(interval)
    };
    let row = result_row(rec.id, &report, &state.instance);
    match store.complete(&state.instance, next, &row).await {
        Ok(true) => {}
        Ok(false) => {
            tracing::warn!(service = %rec.name, "lease expired before the check finished; result dropped");
            return;
        }
        Err(e) => {
            tracing::warn!(service = %rec.name, error = %e, "could not store a check result");
            return;
        }
    }
    tracing::debug!(service = %rec.name, status = %report.report.status, "scheduled check");
    if report.report.status == Status::Connected {
        collect_metrics(state, &rec).await;
    }
    state.snapshot.mark_changed();
}

/// Collects and stores a service's metrics (for `/metrics`); failures are logged only, the
/// connection status already says what is wrong.
pub async fn collect_metrics(state: &AppState, rec: &opsdeck_store::ServiceRecord) {
    match state.runtime.collect(&state.store, rec).await {
        Ok(m) if m.error.is_none() => {
            let value = serde_json::to_value(&m.metrics).unwrap_or_default();
            if let Err(e) = state.store.save_metrics(rec.id, now_ms(), &value).await {
                tracing::warn!(service = %rec.name, error = %e, "could not store metrics");
            }
        }
        Ok(m) => {
            if let Some(err) = m.error {
                tracing::debug!(service = %rec.name, failure = %err.failure, "metrics collection failed");
            }
        }
        Err(e) => tracing::debug!(service = %rec.name, error = %e, "metrics collection failed"),
    }
}
