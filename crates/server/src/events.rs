//! The results hook: every check result and metrics collection the server stores is announced
//! here, once, after it is stored — whoever asked for it (scheduler, `POST …/test`,
//! `POST /test-all`, `POST …/metrics`). Monitoring, alerts and incidents subscribe with
//! [`crate::checks::Checks::subscribe`].
//!
//! Delivery is a `tokio::sync::broadcast` channel: publishing never waits for a subscriber. A
//! subscriber that falls more than [`CHANNEL_CAPACITY`] events behind gets
//! `RecvError::Lagged(n)` and must catch up from the store (the events are also rows there:
//! `result_id` is the `check_results` row). Nothing is announced for a result that was not
//! stored (its service was deleted or changed while it was being checked).

use std::sync::Arc;

use chrono::{DateTime, Utc};
use opsdeck_core::{ConnectionReport, Metric, Status};

/// How many events a subscriber may fall behind before it lags.
pub const CHANNEL_CAPACITY: usize = 4096;

/// Who asked for a check.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum CheckSource {
    /// The scheduler, on the service's interval.
    Scheduled,
    /// An API call: `POST /services/{name}/test`, `POST /test-all`, `POST /services/{name}/metrics`.
    Requested,
}

/// One announcement. Payloads sit behind an `Arc`, so every subscriber shares one copy.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub enum CheckEvent {
    /// A check result was stored and is now the service's latest.
    ResultRecorded(Arc<ResultRecorded>),
    /// A metrics collection was stored and is now the service's latest.
    MetricsRecorded(Arc<MetricsRecorded>),
}

/// A stored check result.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct ResultRecorded {
    /// The service's database id (stable across renames, which do not exist, and across config
    /// changes).
    pub service_id: i64,
    /// Service name.
    pub service: String,
    /// Provider id.
    pub provider: String,
    /// The service's tags when it was checked.
    pub tags: Vec<String>,
    /// The report as stored (status, failure, latency, message, identity, time, details).
    pub report: ConnectionReport,
    /// Status of the result this one replaced as the latest; `None` for the first result.
    /// A status change is `previous_status != Some(report.status)`.
    pub previous_status: Option<Status>,
    /// Who asked for the check.
    pub source: CheckSource,
    /// The `check_results` row id.
    pub result_id: i64,
}

/// A stored metrics collection.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct MetricsRecorded {
    /// The service's database id.
    pub service_id: i64,
    /// Service name.
    pub service: String,
    /// Provider id.
    pub provider: String,
    /// When the collection finished.
    pub collected_at: DateTime<Utc>,
    /// The samples.
    pub metrics: Vec<Metric>,
    /// The collection's notes: what is partial or approximate, and why (the `notes` of the
    /// API's metrics answer).
    pub notes: Vec<String>,
    /// The sections that failed while the others were collected (the `problems` of the API's
    /// metrics answer).
    pub problems: Vec<opsdeck_core::MetricProblem>,
    /// Who asked for the collection.
    pub source: CheckSource,
}
