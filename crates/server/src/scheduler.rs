//! Scheduled checks: every enabled service is tested on its interval, on exactly one instance,
//! through the one check pipeline ([`crate::checks`]).
//!
//! Each tick (jittered ±20 %, so instances sharing a database do not tick in lockstep):
//!
//! 1. the instance announces itself and learns its **share** of the due work (its index among
//!    the live instances; see `opsdeck_store::Share`);
//! 2. it takes as many **global check permits** as are free right now, and claims at most that
//!    many due services in one batched statement — so it never claims work it cannot start,
//!    and instances with free capacity take what a busy or dead one leaves overdue;
//! 3. claims come in two **lanes**: services whose last check was quick (or that were never
//!    checked) first, then *slow* ones — last check timed out or took at least half the check
//!    timeout — which may hold at most half of the permits at once.
//!
//! The lanes are the fairness guarantee: with any number of services whose vendor hangs, at
//! least half the permits stay for the others, so a healthy service is checked at least once
//! per 1.5 × its interval as long as the healthy services' own load fits in those permits
//! (latency × count / interval ≤ concurrency / 2), from its second check on (a service is
//! known slow only after one slow check). `cargo xtask bench` measures it with 48 hanging and
//! 5 healthy services.
//!
//! The winner of a claim runs the check and, in one transaction, stores the result and moves
//! the service to its next slot — only while it holds the lease and the service still has the
//! config the check ran with (a PATCH releases the lease; the old config's result is dropped).
//! An instance that dies mid-check leaves the service due with an expiring lease; after the
//! lease expires another instance claims it.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use opsdeck_core::Status;
use opsdeck_store::{ClaimRequest, Claimed, Lane, RecordOutcome};
use rand::Rng;
use tokio::sync::{OwnedSemaphorePermit, watch};
use tokio::task::JoinSet;

use crate::checks::{Record, ServiceMeta};
use crate::events::CheckSource;
use crate::state::AppState;

fn ms(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

/// Runs until `stop` flips to true, then waits for running checks and releases leases.
pub async fn run(state: AppState, mut stop: watch::Receiver<bool>) {
    let concurrency = state.checks.options().concurrency.max(1);
    let slow_inflight = Arc::new(AtomicUsize::new(0));
    let mut tasks = JoinSet::new();
    tracing::info!(
        instance = %state.instance,
        interval_secs = state.settings.check_interval.as_secs(),
        concurrency,
        "scheduler started"
    );
    loop {
        let tick = state.settings.scheduler_tick;
        let jittered = tick.mul_f64(rand::rng().random_range(0.8..1.2));
        tokio::select! {
            _ = stop.changed() => break,
            () = tokio::time::sleep(jittered) => {}
        }
        while tasks.try_join_next().is_some() {}
        if let Err(e) = tick_once(&state, &slow_inflight, &mut tasks).await {
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

/// One scheduler round (public for tests that drive the scheduler step by step).
pub async fn tick_once(
    state: &AppState,
    slow_inflight: &Arc<AtomicUsize>,
    tasks: &mut JoinSet<()>,
) -> Result<(), opsdeck_store::StoreError> {
    let concurrency = state.checks.options().concurrency.max(1);
    let slow_cap = (concurrency / 2).max(1);
    let tick = ms(state.settings.scheduler_tick);
    let now = state.clock.now_ms();
    let share = state
        .store
        .scheduler_heartbeat(
            &state.instance,
            now,
            (tick * 5).max(5_000),
            (tick * 3).max(1_000),
        )
        .await?;
    // Only what can start now is claimed.
    let mut permits: Vec<OwnedSemaphorePermit> = Vec::new();
    while permits.len() < concurrency {
        match state.checks.permits().clone().try_acquire_owned() {
            Ok(p) => permits.push(p),
            Err(_) => break,
        }
    }
    if permits.is_empty() {
        return Ok(());
    }
    let slow_ms = ms(state.checks.options().timeout) / 2;
    let request = |lane, limit: usize| ClaimRequest {
        owner: &state.instance,
        now,
        lease_ms: ms(state.settings.lease),
        limit: i64::try_from(limit).unwrap_or(0),
        lane,
        slow_ms,
        share,
    };
    let fast = state
        .store
        .claim_due(&request(Lane::Fast, permits.len()))
        .await?;
    for claimed in fast {
        let Some(permit) = permits.pop() else { break };
        let state = state.clone();
        tasks.spawn(async move { run_claimed(&state, claimed, permit).await });
    }
    let room = slow_cap.saturating_sub(slow_inflight.load(Ordering::SeqCst));
    let limit = room.min(permits.len());
    if limit > 0 {
        let slow = state.store.claim_due(&request(Lane::Slow, limit)).await?;
        for claimed in slow {
            let Some(permit) = permits.pop() else { break };
            let state = state.clone();
            let inflight = slow_inflight.clone();
            inflight.fetch_add(1, Ordering::SeqCst);
            tasks.spawn(async move {
                run_claimed(&state, claimed, permit).await;
                inflight.fetch_sub(1, Ordering::SeqCst);
            });
        }
    }
    Ok(())
}

async fn run_claimed(state: &AppState, claimed: Claimed, permit: OwnedSemaphorePermit) {
    let rec = claimed.record;
    if !rec.enabled {
        // Disabled between the claim and now: nothing to check.
        let _ = state.store.release_lease(rec.id, &state.instance).await;
        return;
    }
    let checked = state.checks.test_holding(&rec).await;
    let interval = rec
        .interval_secs
        .map_or(ms(state.settings.check_interval), |s| {
            s.saturating_mul(1000)
        });
    let now = state.clock.now_ms();
    // Keep the cadence (due + interval) unless this check ran more than half an interval
    // late, then restart from now: no drift, no burst of catch-up checks after downtime, and
    // never two checks of a service within half an interval (a late takeover by another
    // instance is followed by a full interval, not by the old slot moments later).
    let cadence = claimed.due_at.saturating_add(interval);
    let next = if cadence >= now.saturating_add(interval / 2) {
        cadence
    } else {
        now.saturating_add(interval)
    };
    let outcome = state
        .checks
        .record(
            std::slice::from_ref(&checked),
            Record::Scheduled {
                owner: &state.instance,
                next_check_at: next,
            },
        )
        .await;
    match outcome.as_deref() {
        Ok([RecordOutcome::Stored { .. }]) => {}
        // Deleted, changed or taken over: logged by record(); nothing more to do.
        Ok(_) => return,
        Err(e) => {
            tracing::warn!(service = %rec.name, error = %e, "could not store a check result");
            return;
        }
    }
    tracing::debug!(service = %rec.name, status = %checked.report.status, "scheduled check");
    if checked.report.status == Status::Connected {
        let (m, at) = state.checks.collect(&rec, Some(permit)).await;
        match &m.error {
            None => {
                if let Err(e) = state
                    .checks
                    .record_metrics(&ServiceMeta::from(&rec), &m, at, CheckSource::Scheduled)
                    .await
                {
                    tracing::warn!(service = %rec.name, error = %e, "could not store metrics");
                }
            }
            // The connection status already says what is wrong.
            Some(err) => {
                tracing::debug!(service = %rec.name, failure = %err.failure, "metrics collection failed")
            }
        }
    }
    state.snapshot.request();
}
