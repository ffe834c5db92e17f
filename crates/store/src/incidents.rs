//! Incidents (issue 12): what `opsdeck_monitor::incident` computes, persisted — the incident
//! row, its services and its timeline — plus what the server's grouping loop keeps between
//! results: its cursor over `check_results`, the flap-control state per service, and the vendor
//! status that was current when a check failed.
//!
//! Updates are read-modify-write guarded by a `version` column: [`Store::update_incident`]
//! answers `false` when someone else changed the incident meanwhile, and the caller reloads and
//! re-applies its change.

use opsdeck_core::{FailureKind, Status};
use opsdeck_monitor::incident::{
    Incident, IncidentService, IncidentState, TimelineEntry, TimelineKind,
};
use opsdeck_monitor::rollup::RollupCursor;
use opsdeck_monitor::statuspage::VendorStatus;
use serde::de::DeserializeOwned;
use serde_json::{Map, Value};
use sqlx::Row;
use sqlx::any::AnyRow;

use crate::Store;
use crate::db::{db_text, db_text_opt};
use crate::error::{Result, StoreError};
use crate::results::{parse_failure, parse_status};

/// An incident with the version its next update must name.
#[derive(Clone, Debug, PartialEq)]
pub struct StoredIncident {
    /// The incident.
    pub incident: Incident,
    /// Optimistic-concurrency version.
    pub version: i64,
}

/// A stored check result with what grouping needs of its service.
#[derive(Clone, Debug, PartialEq)]
pub struct ResultForIncidents {
    /// `check_results` row id.
    pub result_id: i64,
    /// Service id.
    pub service_id: i64,
    /// Service name.
    pub service: String,
    /// Provider id.
    pub provider: String,
    /// The service's non-secret config (its `base_url` gives the host).
    pub config: Map<String, Value>,
    /// Outcome.
    pub status: Status,
    /// Failure kind.
    pub failure: Option<FailureKind>,
    /// Message.
    pub message: String,
    /// Unix ms.
    pub checked_at: i64,
}

const CURSOR_KEY: &str = "incidents_cursor";
/// A result id jumped over stays expected this long (an insert still committing on PostgreSQL,
/// where ids are taken at insert and rows seen at commit), then is given up.
const RESULTS_SETTLE_MS: i64 = 5 * 60 * 1000;
/// Largest id jump whose ids are kept as expected (a bigger one is a sequence gap).
const RESULTS_MAX_JUMP: i64 = 1_000;
/// Most expected ids kept.
const RESULTS_MAX_PENDING: usize = 10_000;

/// The cursor is the last id as a number (how it was first stored, and while nothing is
/// pending), or the rollup's JSON cursor with the ids still expected.
fn parse_results_cursor(text: &str) -> Result<RollupCursor> {
    if let Ok(last_id) = text.trim().parse::<i64>() {
        return Ok(RollupCursor {
            last_id,
            pending: Vec::new(),
        });
    }
    serde_json::from_str(text).map_err(|_| StoreError::corrupt("incidents cursor", text))
}

fn results_cursor_text(c: &RollupCursor) -> String {
    if c.pending.is_empty() {
        c.last_id.to_string()
    } else {
        serde_json::to_string(c).unwrap_or_else(|_| c.last_id.to_string())
    }
}

fn word<T: serde::Serialize>(v: &T) -> String {
    match serde_json::to_value(v) {
        Ok(Value::String(s)) => s,
        _ => String::new(),
    }
}

fn parse_word<T: DeserializeOwned>(what: &str, s: String) -> Result<T> {
    serde_json::from_value(Value::String(s.clone())).map_err(|_| StoreError::corrupt(what, s))
}

fn id_list(ids: &[i64]) -> String {
    ids.iter().map(i64::to_string).collect::<Vec<_>>().join(",")
}

const INCIDENT_COLUMNS: &str = "id, title, state, cause, class, opened_at, acknowledged_at, \
                                resolved_at, vendor_status, version";

fn parse_incident(row: &AnyRow) -> Result<StoredIncident> {
    let vendor: Option<String> = row.try_get(8)?;
    let vendor_status = match vendor {
        Some(text) => Some(
            serde_json::from_str::<VendorStatus>(&text)
                .map_err(|e| StoreError::corrupt("incident vendor status", e))?,
        ),
        None => None,
    };
    Ok(StoredIncident {
        incident: Incident {
            id: row.try_get(0)?,
            title: row.try_get(1)?,
            state: parse_word("incident state", row.try_get(2)?)?,
            cause: parse_word("incident cause", row.try_get(3)?)?,
            class: parse_word("incident class", row.try_get(4)?)?,
            services: Vec::new(),
            opened_at_ms: row.try_get(5)?,
            acknowledged_at_ms: row.try_get(6)?,
            resolved_at_ms: row.try_get(7)?,
            vendor_status,
            timeline: Vec::new(),
        },
        version: row.try_get(9)?,
    })
}

async fn write_children(conn: &mut sqlx::AnyConnection, inc: &Incident) -> Result<()> {
    sqlx::query("DELETE FROM incident_services WHERE incident_id = $1")
        .bind(inc.id)
        .execute(&mut *conn)
        .await?;
    sqlx::query("DELETE FROM incident_timeline WHERE incident_id = $1")
        .bind(inc.id)
        .execute(&mut *conn)
        .await?;
    for s in &inc.services {
        sqlx::query(
            "INSERT INTO incident_services (incident_id, service, provider, provider_name, host, \
             failure, failed_at, recovered_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        )
        .bind(inc.id)
        .bind(db_text(&s.service))
        .bind(db_text(&s.provider))
        .bind(db_text(&s.provider_name))
        .bind(db_text_opt(s.host.as_deref()))
        .bind(s.failure.map(FailureKind::as_str))
        .bind(s.failed_at_ms)
        .bind(s.recovered_at_ms)
        .execute(&mut *conn)
        .await?;
    }
    for (seq, e) in inc.timeline.iter().enumerate() {
        sqlx::query(
            "INSERT INTO incident_timeline (incident_id, seq, at, kind, text) \
             VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(inc.id)
        .bind(i64::try_from(seq).unwrap_or(i64::MAX))
        .bind(e.at_ms)
        .bind(word(&e.kind))
        .bind(db_text(&e.text))
        .execute(&mut *conn)
        .await?;
    }
    Ok(())
}

fn vendor_text(inc: &Incident) -> Option<String> {
    inc.vendor_status
        .as_ref()
        .and_then(|v| serde_json::to_string(v).ok())
        .map(|s| db_text(&s))
}

impl Store {
    /// Stores a new incident; returns it with the id the database assigned (and version 1).
    pub async fn create_incident(&self, inc: &Incident) -> Result<StoredIncident> {
        let mut tx = self.begin_write().await?;
        let row = sqlx::query(
            "INSERT INTO incidents (title, state, cause, class, opened_at, acknowledged_at, \
             resolved_at, vendor_status, version) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 1) \
             RETURNING id",
        )
        .bind(db_text(&inc.title))
        .bind(word(&inc.state))
        .bind(inc.cause.as_str())
        .bind(word(&inc.class))
        .bind(inc.opened_at_ms)
        .bind(inc.acknowledged_at_ms)
        .bind(inc.resolved_at_ms)
        .bind(vendor_text(inc))
        .fetch_one(&mut *tx)
        .await?;
        let mut stored = inc.clone();
        stored.id = row.try_get(0)?;
        write_children(&mut tx, &stored).await?;
        tx.commit().await?;
        Ok(StoredIncident {
            incident: stored,
            version: 1,
        })
    }

    /// Replaces an incident's fields, services and timeline, if it is still at `version`.
    /// `Ok(false)`: it changed meanwhile (or is gone); reload and re-apply.
    pub async fn update_incident(&self, inc: &Incident, version: i64) -> Result<bool> {
        let mut tx = self.begin_write().await?;
        let r = sqlx::query(
            "UPDATE incidents SET title = $1, state = $2, cause = $3, class = $4, opened_at = $5, \
             acknowledged_at = $6, resolved_at = $7, vendor_status = $8, version = version + 1 \
             WHERE id = $9 AND version = $10",
        )
        .bind(db_text(&inc.title))
        .bind(word(&inc.state))
        .bind(inc.cause.as_str())
        .bind(word(&inc.class))
        .bind(inc.opened_at_ms)
        .bind(inc.acknowledged_at_ms)
        .bind(inc.resolved_at_ms)
        .bind(vendor_text(inc))
        .bind(inc.id)
        .bind(version)
        .execute(&mut *tx)
        .await?;
        if r.rows_affected() == 0 {
            tx.rollback().await?;
            return Ok(false);
        }
        write_children(&mut tx, inc).await?;
        tx.commit().await?;
        Ok(true)
    }

    async fn with_children(&self, mut list: Vec<StoredIncident>) -> Result<Vec<StoredIncident>> {
        if list.is_empty() {
            return Ok(list);
        }
        let ids: Vec<i64> = list.iter().map(|s| s.incident.id).collect();
        let ids = id_list(&ids);
        let sql = sqlx::AssertSqlSafe(format!(
            "SELECT incident_id, service, provider, provider_name, host, failure, failed_at, \
             recovered_at FROM incident_services WHERE incident_id IN ({ids}) \
             ORDER BY incident_id, failed_at, service"
        ));
        for row in sqlx::query(sql).fetch_all(&self.pool).await? {
            let id: i64 = row.try_get(0)?;
            let service = IncidentService {
                service: row.try_get(1)?,
                provider: row.try_get(2)?,
                provider_name: row.try_get(3)?,
                host: row.try_get(4)?,
                failure: parse_failure(row.try_get(5)?),
                failed_at_ms: row.try_get(6)?,
                recovered_at_ms: row.try_get(7)?,
            };
            if let Some(s) = list.iter_mut().find(|s| s.incident.id == id) {
                s.incident.services.push(service);
            }
        }
        let sql = sqlx::AssertSqlSafe(format!(
            "SELECT incident_id, at, kind, text FROM incident_timeline \
             WHERE incident_id IN ({ids}) ORDER BY incident_id, seq"
        ));
        for row in sqlx::query(sql).fetch_all(&self.pool).await? {
            let id: i64 = row.try_get(0)?;
            let kind: TimelineKind = parse_word("timeline kind", row.try_get(2)?)?;
            let entry = TimelineEntry {
                at_ms: row.try_get(1)?,
                kind,
                text: row.try_get(3)?,
            };
            if let Some(s) = list.iter_mut().find(|s| s.incident.id == id) {
                s.incident.timeline.push(entry);
            }
        }
        Ok(list)
    }

    /// One incident with its services and timeline.
    pub async fn incident(&self, id: i64) -> Result<Option<StoredIncident>> {
        let sql = sqlx::AssertSqlSafe(format!(
            "SELECT {INCIDENT_COLUMNS} FROM incidents WHERE id = $1"
        ));
        let Some(row) = sqlx::query(sql).bind(id).fetch_optional(&self.pool).await? else {
            return Ok(None);
        };
        Ok(self.with_children(vec![parse_incident(&row)?]).await?.pop())
    }

    /// Incidents that are open or acknowledged, oldest first.
    pub async fn unresolved_incidents(&self) -> Result<Vec<StoredIncident>> {
        let sql = sqlx::AssertSqlSafe(format!(
            "SELECT {INCIDENT_COLUMNS} FROM incidents WHERE state <> 'resolved' ORDER BY opened_at, id"
        ));
        let rows = sqlx::query(sql).fetch_all(&self.pool).await?;
        let list = rows
            .iter()
            .map(parse_incident)
            .collect::<Result<Vec<_>>>()?;
        self.with_children(list).await
    }

    /// Incidents in `state` (any when `None`) opened at or after `since_ms`, unresolved ones
    /// first, then newest first; at most `limit`.
    pub async fn list_incidents(
        &self,
        state: Option<IncidentState>,
        since_ms: Option<i64>,
        limit: i64,
    ) -> Result<Vec<Incident>> {
        let sql = sqlx::AssertSqlSafe(format!(
            "SELECT {INCIDENT_COLUMNS} FROM incidents WHERE ($1 = '' OR state = $1) \
             AND opened_at >= $2 \
             ORDER BY CASE WHEN state = 'resolved' THEN 1 ELSE 0 END, opened_at DESC, id DESC \
             LIMIT $3"
        ));
        let rows = sqlx::query(sql)
            .bind(state.map(|s| word(&s)).unwrap_or_default())
            .bind(since_ms.unwrap_or(i64::MIN))
            .bind(limit)
            .fetch_all(&self.pool)
            .await?;
        let list = rows
            .iter()
            .map(parse_incident)
            .collect::<Result<Vec<_>>>()?;
        Ok(self
            .with_children(list)
            .await?
            .into_iter()
            .map(|s| s.incident)
            .collect())
    }

    /// Incidents involving `service` opened at or after `since_ms` (for MTTA / MTTR).
    pub async fn incidents_of_service(
        &self,
        service: &str,
        since_ms: i64,
    ) -> Result<Vec<Incident>> {
        let sql = sqlx::AssertSqlSafe(format!(
            "SELECT {INCIDENT_COLUMNS} FROM incidents WHERE opened_at >= $2 AND id IN \
             (SELECT incident_id FROM incident_services WHERE service = $1) ORDER BY opened_at"
        ));
        let rows = sqlx::query(sql)
            .bind(db_text(service))
            .bind(since_ms)
            .fetch_all(&self.pool)
            .await?;
        let list = rows
            .iter()
            .map(parse_incident)
            .collect::<Result<Vec<_>>>()?;
        Ok(self
            .with_children(list)
            .await?
            .into_iter()
            .map(|s| s.incident)
            .collect())
    }

    /// The unresolved incident `service` is in, as (id, title): what a notification about the
    /// service names.
    pub async fn open_incident_of(&self, service: &str) -> Result<Option<(i64, String)>> {
        let row = sqlx::query(
            "SELECT i.id, i.title FROM incidents i JOIN incident_services s ON s.incident_id = i.id \
             WHERE s.service = $1 AND i.state <> 'resolved' ORDER BY i.opened_at DESC, i.id DESC \
             LIMIT 1",
        )
        .bind(db_text(service))
        .fetch_optional(&self.pool)
        .await?;
        row.map(|r| Ok((r.try_get(0)?, r.try_get(1)?))).transpose()
    }

    /// Every service in an unresolved incident, with that incident's id and title.
    pub async fn open_incidents_by_service(&self) -> Result<Vec<(String, i64, String)>> {
        let rows = sqlx::query(
            "SELECT s.service, i.id, i.title FROM incidents i \
             JOIN incident_services s ON s.incident_id = i.id \
             WHERE i.state <> 'resolved' ORDER BY i.opened_at, i.id",
        )
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| Ok((r.try_get(0)?, r.try_get(1)?, r.try_get(2)?)))
            .collect()
    }

    /// The grouping loop's flap-control state of a service (JSON), if it has one.
    pub async fn incident_watch(&self, service_id: i64) -> Result<Option<Value>> {
        let row = sqlx::query("SELECT state FROM incident_watch WHERE service_id = $1")
            .bind(service_id)
            .fetch_optional(&self.pool)
            .await?;
        match row {
            Some(r) => {
                let text: String = r.try_get(0)?;
                Ok(Some(serde_json::from_str(&text).map_err(|e| {
                    StoreError::corrupt("incident watch state", e)
                })?))
            }
            None => Ok(None),
        }
    }

    /// Saves a service's flap-control state (ignored when the service is gone).
    pub async fn set_incident_watch(&self, service_id: i64, state: &Value) -> Result<()> {
        let r = sqlx::query(
            "INSERT INTO incident_watch (service_id, state, updated_at) \
             SELECT $1, $2, $3 FROM services WHERE id = $1 \
             ON CONFLICT (service_id) DO UPDATE SET state = excluded.state, \
             updated_at = excluded.updated_at",
        )
        .bind(service_id)
        .bind(state.to_string())
        .bind(self.now())
        .execute(&self.pool)
        .await;
        crate::db::unless_service_gone(r)
    }

    /// Claims the next check results for the grouping loop, in id order, and moves the cursor
    /// past them. The first call starts at the newest result (an upgrade does not replay old
    /// history). With several instances each result is claimed by one of them. An id the
    /// cursor jumps over (a lower id committing after a higher one, as concurrent inserts do
    /// on PostgreSQL) is claimed when it appears, up to five minutes later.
    pub async fn claim_results_for_incidents(&self, limit: i64) -> Result<Vec<ResultForIncidents>> {
        let mut tx = self.begin_write().await?;
        let current = crate::meta_value(&mut *tx, CURSOR_KEY).await?;
        let Some(current) = current else {
            let max: Option<i64> = sqlx::query("SELECT MAX(id) FROM check_results")
                .fetch_one(&mut *tx)
                .await?
                .try_get(0)?;
            sqlx::query(
                "INSERT INTO meta (key, value) VALUES ($1, $2) ON CONFLICT (key) DO NOTHING",
            )
            .bind(CURSOR_KEY)
            .bind(max.unwrap_or(0).to_string())
            .execute(&mut *tx)
            .await?;
            tx.commit().await?;
            return Ok(Vec::new());
        };
        let mut cursor = parse_results_cursor(&current)?;
        let sql = sqlx::AssertSqlSafe(format!(
            "SELECT r.id, r.service_id, s.name, s.provider, s.config, r.status, r.failure, \
             r.message, r.checked_at FROM check_results r JOIN services s ON s.id = r.service_id \
             WHERE {} ORDER BY r.id LIMIT $1",
            crate::history::uncovered(&cursor, "r.id")
        ));
        let rows = sqlx::query(sql).bind(limit).fetch_all(&mut *tx).await?;
        let now = self.now();
        let mut out = Vec::with_capacity(rows.len());
        for row in &rows {
            let config: String = row.try_get(4)?;
            let status: String = row.try_get(5)?;
            let r = ResultForIncidents {
                result_id: row.try_get(0)?,
                service_id: row.try_get(1)?,
                service: row.try_get(2)?,
                provider: row.try_get(3)?,
                config: serde_json::from_str(&config).unwrap_or_default(),
                status: parse_status(&status),
                failure: parse_failure(row.try_get(6)?),
                message: row.try_get(7)?,
                checked_at: row.try_get(8)?,
            };
            if cursor.advance(r.result_id, now, RESULTS_MAX_JUMP) {
                out.push(r);
            }
        }
        let abandoned = cursor.settle(now, RESULTS_SETTLE_MS, RESULTS_MAX_PENDING);
        if !abandoned.is_empty() {
            tracing::debug!(ids = ?abandoned, "incidents: result ids that never committed given up");
        }
        let next = results_cursor_text(&cursor);
        if next != current {
            let r = sqlx::query("UPDATE meta SET value = $1 WHERE key = $2 AND value = $3")
                .bind(&next)
                .bind(CURSOR_KEY)
                .bind(&current)
                .execute(&mut *tx)
                .await?;
            if r.rows_affected() == 0 {
                // Another instance claimed them first.
                tx.rollback().await?;
                return Ok(Vec::new());
            }
        }
        tx.commit().await?;
        Ok(out)
    }

    /// Whether the incidents loop has claimed `service`'s newest result: `None` before the
    /// loop's first start (no cursor), `Some(true)` too when the service has no result.
    pub async fn incidents_claimed_latest(&self, service: &str) -> Result<Option<bool>> {
        let Some(text) = crate::meta_value(&self.pool, CURSOR_KEY).await? else {
            return Ok(None);
        };
        let cursor = parse_results_cursor(&text)?;
        let latest: Option<i64> = sqlx::query(
            "SELECT MAX(r.id) FROM check_results r JOIN services s ON s.id = r.service_id \
             WHERE s.name = $1",
        )
        .bind(db_text(service))
        .fetch_one(&self.pool)
        .await?
        .try_get(0)?;
        Ok(Some(latest.is_none_or(|id| cursor.covers(id))))
    }

    /// Records what the vendor's status page said when a check failed.
    pub async fn save_result_vendor_status(
        &self,
        result_id: i64,
        service_id: i64,
        status: &VendorStatus,
    ) -> Result<()> {
        let text =
            serde_json::to_string(status).map_err(|e| StoreError::corrupt("vendor status", e))?;
        let r = sqlx::query(
            "INSERT INTO result_vendor_status (result_id, service_id, vendor_status) \
             VALUES ($1, $2, $3) ON CONFLICT (result_id) DO NOTHING",
        )
        .bind(result_id)
        .bind(service_id)
        .bind(db_text(&text))
        .execute(&self.pool)
        .await;
        crate::db::unless_service_gone(r)
    }

    /// The vendor status stored with a check result, if the check failed during a vendor
    /// problem.
    pub async fn result_vendor_status(&self, result_id: i64) -> Result<Option<VendorStatus>> {
        let row =
            sqlx::query("SELECT vendor_status FROM result_vendor_status WHERE result_id = $1")
                .bind(result_id)
                .fetch_optional(&self.pool)
                .await?;
        match row {
            Some(r) => {
                let text: String = r.try_get(0)?;
                Ok(Some(
                    serde_json::from_str(&text)
                        .map_err(|e| StoreError::corrupt("vendor status", e))?,
                ))
            }
            None => Ok(None),
        }
    }

    /// The latest result of a service, with the vendor status stored with it (if any): what
    /// the service page shows as the report's `details.vendor_status`.
    pub async fn latest_vendor_status(&self, service_id: i64) -> Result<Option<VendorStatus>> {
        let row = sqlx::query(
            "SELECT v.vendor_status FROM schedule s \
             JOIN result_vendor_status v ON v.result_id = s.last_result_id \
             WHERE s.service_id = $1",
        )
        .bind(service_id)
        .fetch_optional(&self.pool)
        .await?;
        match row {
            Some(r) => {
                let text: String = r.try_get(0)?;
                Ok(Some(
                    serde_json::from_str(&text)
                        .map_err(|e| StoreError::corrupt("vendor status", e))?,
                ))
            }
            None => Ok(None),
        }
    }
}
