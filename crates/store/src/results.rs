//! Check results (the history the dashboard and the history features read) and the last
//! collected provider metrics per service.
//!
//! A result is stored only while its service exists and still has the config the check ran
//! with: a result of a service deleted mid-check, or of a config replaced mid-check, is dropped
//! (and the caller is told which), never stored as the latest.

use opsdeck_core::{FailureKind, MetricProblem, Status};
use serde_json::Value;
use sqlx::Row;
use sqlx::any::AnyRow;

use crate::Store;
use crate::db::{db_text, db_text_opt, is_foreign_key_violation};
use crate::error::{Result, StoreError};

/// One check outcome to store.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewCheckResult {
    /// Service id.
    pub service_id: i64,
    /// The service's config version the check ran with; the result is dropped if the stored
    /// version differs. `None`: store it whatever the version (read back: always `None`).
    pub config_version: Option<i64>,
    /// Unix ms.
    pub checked_at: i64,
    /// Outcome.
    pub status: Status,
    /// Failure kind, `None` when connected.
    pub failure: Option<FailureKind>,
    /// Latency of the check.
    pub latency_ms: i64,
    /// Human message.
    pub message: String,
    /// Account the credentials belong to.
    pub identity: Option<String>,
    /// The opsdeckd instance that ran it.
    pub instance: Option<String>,
    /// What to do about a failure, apart from the message.
    pub hint: Option<String>,
    /// The report's details (core's `ReportDetails` as JSON); `None` when empty. Stored up to
    /// [`MAX_DETAILS_BYTES`]; larger details are dropped with a warning. Read back by
    /// [`Store::results_for`] only: the status views and the latest-result lists leave them out
    /// so the dashboard's hot path reads no JSON.
    pub details: Option<Value>,
}

/// The largest details document kept with a result (serialized JSON).
pub const MAX_DETAILS_BYTES: usize = 32 * 1024;

/// A stored check outcome.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CheckResult {
    /// Row id (monotonic per database).
    pub id: i64,
    /// The stored fields.
    pub result: NewCheckResult,
}

/// What became of a result handed to the store.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RecordOutcome {
    /// Stored; it is now the service's latest result.
    Stored {
        /// Row id.
        result_id: i64,
        /// The status of the result it replaced as the latest, if there was one.
        previous_status: Option<Status>,
    },
    /// The service no longer exists: nothing stored.
    ServiceDeleted,
    /// The service's config changed while the check ran: nothing stored.
    ConfigChanged,
    /// Scheduled checks only: another instance took the lease over (it expired).
    LeaseLost,
}

/// The last collection of a service's provider metrics.
#[derive(Clone, Debug, PartialEq)]
pub struct SavedMetrics {
    /// Unix ms.
    pub collected_at: i64,
    /// The samples (core's `Metric` list as JSON).
    pub metrics: Value,
    /// Notes about completeness.
    pub notes: Vec<String>,
    /// The sections that failed while the others were collected.
    pub problems: Vec<MetricProblem>,
}

/// One collection to save with [`Store::save_collection`](crate::Store::save_collection).
#[derive(Clone, Copy, Debug)]
pub struct Collection<'a> {
    /// Unix ms.
    pub collected_at: i64,
    /// The samples (a JSON array of core's `Metric`).
    pub metrics: &'a Value,
    /// Notes about completeness.
    pub notes: &'a [String],
    /// The sections that failed while the others were collected.
    pub problems: &'a [MetricProblem],
    /// The samples' Prometheus text.
    pub prometheus: &'a str,
}

pub(crate) const COLUMNS: &str = "r.id, r.service_id, r.checked_at, r.status, r.failure, r.latency_ms, r.message, r.identity, r.instance";

/// Parses a stored status. An unknown word (a newer opsdeck wrote it) reads as `unknown` with a
/// warning rather than failing every view that lists results.
pub(crate) fn parse_status(s: &str) -> Status {
    serde_json::from_value(Value::String(s.to_owned())).unwrap_or_else(|_| {
        tracing::warn!(status = s, "unknown stored status; read as unknown");
        Status::Unknown
    })
}

/// Parses a stored failure kind; an unknown one reads as `provider_error` with a warning.
pub(crate) fn parse_failure(s: Option<String>) -> Option<FailureKind> {
    s.map(|s| {
        serde_json::from_value(Value::String(s.clone())).unwrap_or_else(|_| {
            tracing::warn!(failure = %s, "unknown stored failure kind; read as provider_error");
            FailureKind::ProviderError
        })
    })
}

/// Parses the result columns starting at `at` (in [`COLUMNS`] order).
pub(crate) fn parse_at(row: &AnyRow, at: usize) -> Result<CheckResult> {
    let status: String = row.try_get(at + 3)?;
    Ok(CheckResult {
        id: row.try_get(at)?,
        result: NewCheckResult {
            service_id: row.try_get(at + 1)?,
            config_version: None,
            checked_at: row.try_get(at + 2)?,
            status: parse_status(&status),
            failure: parse_failure(row.try_get(at + 4)?),
            latency_ms: row.try_get(at + 5)?,
            message: row.try_get(at + 6)?,
            identity: row.try_get(at + 7)?,
            instance: row.try_get(at + 8)?,
            hint: None,
            details: None,
        },
    })
}

fn parse_row(row: &AnyRow) -> Result<CheckResult> {
    parse_at(row, 0)
}

/// Inserts a result if its service exists with the expected version, and makes it the latest.
pub(crate) async fn insert(
    conn: &mut sqlx::AnyConnection,
    r: &NewCheckResult,
) -> Result<RecordOutcome> {
    let previous: Option<String> = sqlx::query(
        "SELECT r.status FROM schedule c JOIN check_results r ON r.id = c.last_result_id \
         WHERE c.service_id = $1",
    )
    .bind(r.service_id)
    .fetch_optional(&mut *conn)
    .await?
    .map(|row| row.try_get(0))
    .transpose()?;
    let row = sqlx::query(
        "INSERT INTO check_results (service_id, checked_at, status, failure, latency_ms, message, \
         identity, instance, hint, details) \
         SELECT $1, $2, $3, $4, $5, $6, $7, $8, $10, $11 FROM services \
         WHERE id = $1 AND ($9 < 0 OR version = $9) \
         RETURNING id",
    )
    .bind(r.service_id)
    .bind(r.checked_at)
    .bind(r.status.as_str())
    .bind(r.failure.map(FailureKind::as_str))
    .bind(r.latency_ms)
    .bind(db_text(&r.message))
    .bind(db_text_opt(r.identity.as_deref()))
    .bind(db_text_opt(r.instance.as_deref()))
    .bind(r.config_version.unwrap_or(-1))
    .bind(db_text_opt(r.hint.as_deref()))
    .bind(details_text(r.service_id, r.details.as_ref()))
    .fetch_optional(&mut *conn)
    .await?;
    let Some(row) = row else {
        return missing_reason(conn, r.service_id).await;
    };
    let id: i64 = row.try_get(0)?;
    sqlx::query("UPDATE schedule SET last_result_id = $1 WHERE service_id = $2")
        .bind(id)
        .bind(r.service_id)
        .execute(&mut *conn)
        .await?;
    Ok(RecordOutcome::Stored {
        result_id: id,
        previous_status: previous.as_deref().map(parse_status),
    })
}

/// The details as stored: JSON text, or nothing when absent, empty or too large.
fn details_text(service_id: i64, details: Option<&Value>) -> Option<String> {
    let details =
        details.filter(|d| !d.is_null() && d.as_object().is_none_or(|o| !o.is_empty()))?;
    let text = db_text(&details.to_string());
    if text.len() > MAX_DETAILS_BYTES {
        tracing::warn!(
            service_id,
            bytes = text.len(),
            "check details larger than {MAX_DETAILS_BYTES} bytes; stored without them"
        );
        return None;
    }
    Some(text)
}

/// Why a guarded write matched no service row.
pub(crate) async fn missing_reason(
    conn: &mut sqlx::AnyConnection,
    service_id: i64,
) -> Result<RecordOutcome> {
    let exists = sqlx::query("SELECT 1 FROM services WHERE id = $1")
        .bind(service_id)
        .fetch_optional(&mut *conn)
        .await?
        .is_some();
    Ok(if exists {
        RecordOutcome::ConfigChanged
    } else {
        RecordOutcome::ServiceDeleted
    })
}

impl Store {
    /// Stores a result outside the scheduler (manual test, test-all) — unless its service was
    /// deleted or changed meanwhile (see [`RecordOutcome`]).
    pub async fn record_result(&self, r: &NewCheckResult) -> Result<RecordOutcome> {
        Ok(self
            .record_results(std::slice::from_ref(r))
            .await?
            .pop()
            .unwrap_or(RecordOutcome::ServiceDeleted))
    }

    /// Stores many results in one transaction (test-all: one commit instead of one per
    /// service). A deleted or changed service skips its own result only.
    pub async fn record_results(&self, results: &[NewCheckResult]) -> Result<Vec<RecordOutcome>> {
        // A service deleted by a concurrent transaction after our statement began fails the
        // reference check on PostgreSQL and aborts the transaction; the retry then sees it gone.
        let mut attempt = 0;
        loop {
            attempt += 1;
            match self.try_record_results(results).await {
                Err(StoreError::Database(e)) if is_foreign_key_violation(&e) && attempt < 4 => {
                    tracing::debug!("a service was deleted while its result was stored; retrying");
                }
                other => return other,
            }
        }
    }

    async fn try_record_results(&self, results: &[NewCheckResult]) -> Result<Vec<RecordOutcome>> {
        let mut tx = self.begin_write().await?;
        let mut out = Vec::with_capacity(results.len());
        for r in results {
            out.push(insert(&mut tx, r).await?);
        }
        tx.commit().await?;
        Ok(out)
    }

    /// The latest result of every service that has one.
    pub async fn latest_results(&self) -> Result<Vec<CheckResult>> {
        let sql = sqlx::AssertSqlSafe(format!(
            "SELECT {COLUMNS} FROM schedule s JOIN check_results r ON r.id = s.last_result_id"
        ));
        let rows = sqlx::query(sql).fetch_all(&self.pool).await?;
        rows.iter().map(parse_row).collect()
    }

    /// A service's results, newest first, with their hints and details.
    pub async fn results_for(&self, service_id: i64, limit: i64) -> Result<Vec<CheckResult>> {
        let sql = sqlx::AssertSqlSafe(format!(
            "SELECT {COLUMNS}, r.hint, r.details FROM check_results r WHERE r.service_id = $1 \
             ORDER BY r.checked_at DESC, r.id DESC LIMIT $2"
        ));
        let rows = sqlx::query(sql)
            .bind(service_id)
            .bind(limit)
            .fetch_all(&self.pool)
            .await?;
        rows.iter()
            .map(|row| {
                let mut r = parse_row(row)?;
                r.result.hint = row.try_get(9)?;
                let details: Option<String> = row.try_get(10)?;
                // A details document that no longer parses is shown as none, not as an error
                // that hides the whole history.
                r.result.details = details.and_then(|d| match serde_json::from_str(&d) {
                    Ok(v) => Some(v),
                    Err(e) => {
                        tracing::warn!(service_id, error = %e, "stored check details unreadable");
                        None
                    }
                });
                Ok(r)
            })
            .collect()
    }

    /// Saves a service's latest collected metrics: the samples (a JSON array), the collection's
    /// notes and their Prometheus text, rendered once here rather than on every scrape.
    /// Returns `false` (nothing saved) when the service was deleted, or its config changed from
    /// `config_version`, while collecting.
    pub async fn save_metrics(
        &self,
        service_id: i64,
        config_version: Option<i64>,
        collected_at: i64,
        metrics: &Value,
        notes: &[String],
        prometheus: &str,
    ) -> Result<bool> {
        let collection = Collection {
            collected_at,
            metrics,
            notes,
            problems: &[],
            prometheus,
        };
        self.save_collection(service_id, config_version, &collection)
            .await
    }

    /// [`save_metrics`](Self::save_metrics) with the sections that failed while the others
    /// were collected (saved with them, returned by [`latest_metrics`](Self::latest_metrics)).
    pub async fn save_collection(
        &self,
        service_id: i64,
        config_version: Option<i64>,
        c: &Collection<'_>,
    ) -> Result<bool> {
        let notes = Value::Array(c.notes.iter().map(|n| Value::String(db_text(n))).collect());
        let problems: Vec<MetricProblem> = c
            .problems
            .iter()
            .map(|p| MetricProblem::new(db_text(&p.section), p.failure, db_text(&p.message)))
            .collect();
        let problems = serde_json::to_string(&problems).unwrap_or_else(|_| "[]".to_owned());
        let r = sqlx::query(
            "INSERT INTO service_metrics (service_id, collected_at, metrics, notes, prometheus, problems) \
             SELECT $1, $2, $3, $4, $5, $7 FROM services WHERE id = $1 AND ($6 < 0 OR version = $6) \
             ON CONFLICT (service_id) DO UPDATE SET collected_at = excluded.collected_at, \
             metrics = excluded.metrics, notes = excluded.notes, prometheus = excluded.prometheus, \
             problems = excluded.problems",
        )
        .bind(service_id)
        .bind(c.collected_at)
        .bind(c.metrics.to_string())
        .bind(notes.to_string())
        .bind(db_text(c.prometheus))
        .bind(config_version.unwrap_or(-1))
        .bind(problems)
        .execute(&self.pool)
        .await;
        match r {
            Ok(r) => Ok(r.rows_affected() > 0),
            Err(e) if is_foreign_key_violation(&e) => Ok(false),
            Err(e) => Err(e.into()),
        }
    }

    /// The last saved metrics of a service, if any were collected.
    pub async fn latest_metrics(&self, service_id: i64) -> Result<Option<SavedMetrics>> {
        let row = sqlx::query(
            "SELECT collected_at, metrics, notes, problems FROM service_metrics WHERE service_id = $1",
        )
        .bind(service_id)
        .fetch_optional(&self.pool)
        .await?;
        let Some(row) = row else {
            return Ok(None);
        };
        let text: String = row.try_get(1)?;
        let metrics =
            serde_json::from_str(&text).map_err(|e| StoreError::corrupt("service metrics", e))?;
        let notes: Option<String> = row.try_get(2)?;
        let notes = notes
            .and_then(|n| serde_json::from_str::<Vec<String>>(&n).ok())
            .unwrap_or_default();
        // A list a newer opsdeck wrote (an unknown failure kind) reads as none, with a warning.
        let problems: Option<String> = row.try_get(3)?;
        let problems = match problems {
            None => Vec::new(),
            Some(p) => serde_json::from_str::<Vec<MetricProblem>>(&p).unwrap_or_else(|e| {
                tracing::warn!(error = %e, "unreadable stored metric problems; read as none");
                Vec::new()
            }),
        };
        Ok(Some(SavedMetrics {
            collected_at: row.try_get(0)?,
            metrics,
            notes,
            problems,
        }))
    }
}
