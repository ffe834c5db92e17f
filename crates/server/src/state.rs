//! Shared application state handed to every handler and background task.

use std::ops::Deref;
use std::sync::Arc;

use opsdeck_store::Store;

use crate::auth::Tokens;
use crate::runtime::Runtime;
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
    /// Built services and check locks.
    pub runtime: Runtime,
    /// Known API tokens.
    pub tokens: Arc<Tokens>,
    /// Pre-rendered status and Prometheus views.
    pub snapshot: Snapshot,
    /// This process's id in leases and results.
    pub instance: String,
    /// Settings in force.
    pub settings: Settings,
}

impl AppState {
    /// Wraps the parts.
    pub fn new(inner: Inner) -> Self {
        AppState(Arc::new(inner))
    }

    /// Rebuilds the status views now, logging (not failing) on error: the write that triggered
    /// it has already succeeded.
    pub async fn refresh_views(&self) {
        if let Err(e) = self.snapshot.rebuild(&self.store).await {
            tracing::warn!(error = %e, "could not rebuild the status view");
        }
    }
}

impl Deref for AppState {
    type Target = Inner;
    fn deref(&self) -> &Inner {
        &self.0
    }
}
