//! Shared application state handed to every handler and background task.

use std::ops::Deref;
use std::sync::Arc;

use opsdeck_core::clock::SharedClock;
use opsdeck_store::Store;

use crate::auth::{AuthThrottle, Tokens};
use crate::checks::Checks;
use crate::settings::Settings;
use crate::snapshot::Snapshot;

/// Everything a handler needs; cheap to clone.
#[derive(Clone, Debug)]
pub struct AppState(Arc<Inner>);

/// The contents of [`AppState`].
#[derive(Debug)]
pub struct Inner {
    /// The database.
    pub store: Store,
    /// The check pipeline: built services, locks, the global limit, the results hook.
    pub checks: Checks,
    /// Known API tokens.
    pub tokens: Arc<Tokens>,
    /// Failed-authentication throttle per source address.
    pub throttle: Arc<AuthThrottle>,
    /// Pre-rendered status, service list and Prometheus views.
    pub snapshot: Snapshot,
    /// This process's id in leases and results.
    pub instance: String,
    /// Settings in force.
    pub settings: Settings,
    /// Wall-clock time.
    pub clock: SharedClock,
    /// Held while a `POST /test-all` runs: one run at a time per instance.
    pub test_all: Arc<tokio::sync::Mutex<()>>,
    /// The monitoring loop's in-memory views (its `/metrics` families).
    pub monitor: Arc<crate::monitoring::Monitor>,
    /// Services whose results this instance's incidents loop is claiming or handling.
    pub incidents_in_flight: Arc<crate::incidents::InFlight>,
}

impl AppState {
    /// Wraps the parts.
    pub fn new(inner: Inner) -> Self {
        AppState(Arc::new(inner))
    }

    /// Waits until the views include every write made so far (a write handler calls this
    /// before it answers, so the client's next read shows its change).
    pub async fn refresh_views(&self) {
        self.snapshot.refresh().await;
    }
}

impl Deref for AppState {
    type Target = Inner;
    fn deref(&self) -> &Inner {
        &self.0
    }
}
