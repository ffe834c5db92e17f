//! Check results (the history the dashboard and the history features read) and the last
//! collected provider metrics per service.

use serde_json::Value;
use sqlx::Row;
use sqlx::any::AnyRow;

use crate::Store;
use crate::error::{Result, StoreError};

/// One check outcome to store.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewCheckResult {
    /// Service id.
    pub service_id: i64,
    /// Unix ms.
    pub checked_at: i64,
    /// `connected` | `failed` | `unknown`.
    pub status: String,
    /// Failure kind, `None` when connected.
    pub failure: Option<String>,
    /// Latency of the check.
    pub latency_ms: i64,
    /// Human message.
    pub message: String,
    /// Account the credentials belong to.
    pub identity: Option<String>,
    /// The opsdeckd instance that ran it.
    pub instance: Option<String>,
}

/// A stored check outcome.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CheckResult {
    /// Row id (monotonic per database).
    pub id: i64,
    /// The stored fields.
    pub result: NewCheckResult,
}

const COLUMNS: &str = "r.id, r.service_id, r.checked_at, r.status, r.failure, r.latency_ms, r.message, r.identity, r.instance";

fn parse_row(row: &AnyRow) -> Result<CheckResult> {
    Ok(CheckResult {
        id: row.try_get(0)?,
        result: NewCheckResult {
            service_id: row.try_get(1)?,
            checked_at: row.try_get(2)?,
            status: row.try_get(3)?,
            failure: row.try_get(4)?,
            latency_ms: row.try_get(5)?,
            message: row.try_get(6)?,
            identity: row.try_get(7)?,
            instance: row.try_get(8)?,
        },
    })
}

pub(crate) async fn insert(conn: &mut sqlx::AnyConnection, r: &NewCheckResult) -> Result<i64> {
    let row = sqlx::query(
        "INSERT INTO check_results (service_id, checked_at, status, failure, latency_ms, message, \
         identity, instance) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING id",
    )
    .bind(r.service_id)
    .bind(r.checked_at)
    .bind(r.status.clone())
    .bind(r.failure.clone())
    .bind(r.latency_ms)
    .bind(r.message.clone())
    .bind(r.identity.clone())
    .bind(r.instance.clone())
    .fetch_one(&mut *conn)
    .await?;
    let id: i64 = row.try_get(0)?;
    sqlx::query("UPDATE schedule SET last_result_id = $1 WHERE service_id = $2")
        .bind(id)
        .bind(r.service_id)
        .execute(&mut *conn)
        .await?;
    Ok(id)
}

impl Store {
    /// Stores a result outside the scheduler (manual test, test-all).
    pub async fn insert_result(&self, r: &NewCheckResult) -> Result<i64> {
        let mut tx = self.pool.begin().await?;
        let id = insert(&mut tx, r).await?;
        tx.commit().await?;
        Ok(id)
    }

    /// Stores many results in one transaction (test-all: one commit instead of one per service).
    pub async fn insert_results(&self, results: &[NewCheckResult]) -> Result<()> {
        let mut tx = self.pool.begin().await?;
        for r in results {
            insert(&mut tx, r).await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// The latest result of every service that has one.
    pub async fn latest_results(&self) -> Result<Vec<CheckResult>> {
        let sql = sqlx::AssertSqlSafe(format!(
            "SELECT {COLUMNS} FROM schedule s JOIN check_results r ON r.id = s.last_result_id"
        ));
        let rows = sqlx::query(sql).fetch_all(&self.pool).await?;
        rows.iter().map(parse_row).collect()
    }

    /// A service's results, newest first.
    pub async fn results_for(&self, service_id: i64, limit: i64) -> Result<Vec<CheckResult>> {
        let sql = sqlx::AssertSqlSafe(format!(
            "SELECT {COLUMNS} FROM check_results r WHERE r.service_id = $1 \
             ORDER BY r.checked_at DESC, r.id DESC LIMIT $2"
        ));
        let rows = sqlx::query(sql)
            .bind(service_id)
            .bind(limit)
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(parse_row).collect()
    }

    /// Saves the latest collected provider metrics (a JSON array) of a service.
    pub async fn save_metrics(
        &self,
        service_id: i64,
        collected_at: i64,
        metrics: &Value,
    ) -> Result<()> {
        sqlx::query(
            "INSERT INTO service_metrics (service_id, collected_at, metrics) VALUES ($1, $2, $3) \
             ON CONFLICT (service_id) DO UPDATE SET collected_at = excluded.collected_at, \
             metrics = excluded.metrics",
        )
        .bind(service_id)
        .bind(collected_at)
        .bind(metrics.to_string())
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// The latest metrics of every service: (service id, collected at, JSON array).
    pub async fn all_metrics(&self) -> Result<Vec<(i64, i64, Value)>> {
        let rows = sqlx::query("SELECT service_id, collected_at, metrics FROM service_metrics")
            .fetch_all(&self.pool)
            .await?;
        rows.iter()
            .map(|r| {
                let text: String = r.try_get(2)?;
                let v = serde_json::from_str(&text)
                    .map_err(|e| StoreError::corrupt("service metrics", e))?;
                Ok((r.try_get(0)?, r.try_get(1)?, v))
            })
            .collect()
    }
}
