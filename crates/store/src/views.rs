//! Narrow reads for the server's pre-rendered views: one row per service with its latest result
//! and its last metrics' Prometheus text (no config, no secrets), and a one-row fingerprint that
//! tells cheaply whether anything a view shows changed since the last look.

use serde_json::Value;
use sqlx::Row;

use crate::Store;
use crate::error::{Result, StoreError};
use crate::results::{CheckResult, parse_at};

/// What the status and Prometheus views need of a service.
#[derive(Clone, Debug)]
pub struct StatusRow {
    /// Service id.
    pub service_id: i64,
    /// Name.
    pub name: String,
    /// Provider id.
    pub provider: String,
    /// Tags.
    pub tags: Vec<String>,
    /// Whether scheduled checks run.
    pub enabled: bool,
    /// Per-service interval (seconds), `None` = the server default.
    pub interval_secs: Option<i64>,
    /// Config version.
    pub version: i64,
    /// The latest result.
    pub last: Option<CheckResult>,
    /// The last collected metrics.
    pub metrics: Option<MetricsRow>,
}

/// The last collected metrics as the views use them.
#[derive(Clone, Debug)]
pub struct MetricsRow {
    /// Unix ms.
    pub collected_at: i64,
    /// Prometheus text rendered when they were saved; `None` for rows saved before that
    /// existed (then `legacy_metrics` holds the samples).
    pub prometheus: Option<String>,
    /// The samples, only when `prometheus` is `None`.
    pub legacy_metrics: Option<Value>,
}

/// A cheap summary of what the views show. Any create, update or delete of a service changes
/// `services`; any new latest result or metrics collection changes `results`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct Fingerprint {
    /// Count, and sums of ids and update times, of the services.
    pub services: (i64, i64, i64),
    /// Sums of latest-result ids and metrics collection times, and the metrics count.
    pub results: (i64, i64, i64),
}

impl Store {
    /// Every service with its latest result and last metrics, ordered by name.
    pub async fn status_rows(&self) -> Result<Vec<StatusRow>> {
        let sql = sqlx::AssertSqlSafe(format!(
            "SELECT s.id, s.name, s.provider, s.tags, s.enabled, s.interval_secs, s.version, \
             {}, m.collected_at, m.prometheus, \
             CASE WHEN m.prometheus IS NULL THEN m.metrics ELSE NULL END \
             FROM services s LEFT JOIN schedule c ON c.service_id = s.id \
             LEFT JOIN check_results r ON r.id = c.last_result_id \
             LEFT JOIN service_metrics m ON m.service_id = s.id \
             ORDER BY s.name",
            crate::results::COLUMNS
        ));
        let rows = sqlx::query(sql).fetch_all(&self.pool).await?;
        rows.iter()
            .map(|row| {
                let name: String = row.try_get(1)?;
                let tags_text: String = row.try_get(3)?;
                let tags: Vec<String> = serde_json::from_str(&tags_text)
                    .map_err(|e| StoreError::corrupt(format!("tags of service {name:?}"), e))?;
                let result_id: Option<i64> = row.try_get(7)?;
                let last = match result_id {
                    Some(_) => Some(parse_at(row, 7)?),
                    None => None,
                };
                let collected_at: Option<i64> = row.try_get(16)?;
                let metrics = match collected_at {
                    Some(collected_at) => {
                        let legacy: Option<String> = row.try_get(18)?;
                        Some(MetricsRow {
                            collected_at,
                            prometheus: row.try_get(17)?,
                            legacy_metrics: legacy.and_then(|t| serde_json::from_str(&t).ok()),
                        })
                    }
                    None => None,
                };
                Ok(StatusRow {
                    service_id: row.try_get(0)?,
                    provider: row.try_get(2)?,
                    tags,
                    enabled: row.try_get::<i64, _>(4)? != 0,
                    interval_secs: row.try_get(5)?,
                    version: row.try_get(6)?,
                    last,
                    metrics,
                    name,
                })
            })
            .collect()
    }

    /// The views' fingerprint: one small aggregate query, no row data.
    pub async fn fingerprint(&self) -> Result<Fingerprint> {
        let row = sqlx::query(
            "SELECT COUNT(*), CAST(COALESCE(SUM(s.id), 0) AS BIGINT), \
             CAST(COALESCE(SUM(s.updated_at), 0) AS BIGINT), \
             CAST(COALESCE(SUM(c.last_result_id), 0) AS BIGINT), \
             CAST(COALESCE(SUM(m.collected_at), 0) AS BIGINT), COUNT(m.service_id) \
             FROM services s LEFT JOIN schedule c ON c.service_id = s.id \
             LEFT JOIN service_metrics m ON m.service_id = s.id",
        )
        .fetch_one(&self.pool)
        .await?;
        Ok(Fingerprint {
            services: (row.try_get(0)?, row.try_get(1)?, row.try_get(2)?),
            results: (row.try_get(3)?, row.try_get(4)?, row.try_get(5)?),
        })
    }
}
